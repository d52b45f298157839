//! A JWT bearer connection's private key is checked when the connection is created: a key that
//! cannot sign RS256 (an ECDSA key, a certificate) is a 400 naming `private_key_pem`, before any
//! sign-in is tried.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn a_key_that_cannot_sign_rs256_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let ec = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["jwt.example".to_string()])
        .unwrap()
        .self_signed(&ec)
        .unwrap();
    for pem in [ec.serialize_pem(), cert.pem()] {
        let (s, e) = t
            .key
            .post(
                "/v1/connections",
                json!({ "label": "jwt", "owner_email": "ops@acme.test", "environment": { "kind": "production" },
                        "auth": { "method": "jwt_bearer", "client_id": "x", "username": "u@x.test", "private_key_pem": pem } }),
            )
            .await;
        assert_eq!((s, e["field"].as_str()), (400, Some("private_key_pem")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("RSA private key"), "{e}");
        let body_line = pem.lines().nth(1).unwrap();
        assert!(!e.to_string().contains(body_line), "the key is never echoed: {e}");
    }
}
