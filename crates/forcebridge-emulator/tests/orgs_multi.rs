//! Several orgs in one emulator: each with its own id, users, data and limits, reached through
//! its My Domain host or path prefix, signed in through the production or sandbox login host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{App, V, password_grant};
use forcebridge_emulator::EmulatorConfig;
use serde_json::{Value, json};

/// Starts an emulator with two production orgs; returns clients of both.
async fn two_orgs() -> (App, App, Value) {
    let a = common::spawn_with(EmulatorConfig {
        orgs: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let info = a.handle.connection_info();
    let second = info["orgs"][1].clone();
    let c = a.handle.config().clone();
    // The second org's user signs in at the same production login host.
    let (status, token) = password_grant(
        &a.client,
        &a.handle.token_url(),
        second["username"].as_str().unwrap(),
        &c,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["instance_url"], second["instance_url"], "{token}");
    let b = a.at(
        token["instance_url"].as_str().unwrap(),
        token["access_token"].as_str().unwrap(),
    );
    (a, b, second)
}

/// A client that resolves `names` to the emulator's own address.
fn resolving_client(app: &App, names: &[&str]) -> reqwest::Client {
    let addr: std::net::SocketAddr = app
        .base
        .trim_start_matches("http://")
        .replace("localhost", "127.0.0.1")
        .parse()
        .unwrap();
    let mut builder = reqwest::Client::builder();
    for name in names {
        builder = builder.resolve(name, addr);
    }
    builder.build().unwrap()
}

fn port(app: &App) -> String {
    app.base.rsplit(':').next().unwrap().to_string()
}

#[tokio::test]
async fn the_ready_line_keeps_its_keys_and_lists_every_org() {
    let (a, _b, second) = two_orgs().await;
    let info = a.handle.connection_info();
    assert_eq!(info["instance_url"], json!(a.base));
    assert_eq!(info["username"], json!(a.handle.config().username));
    let orgs = info["orgs"].as_array().unwrap();
    assert_eq!(orgs.len(), 2);
    assert_eq!(orgs[0]["name"], json!("org1"));
    assert_eq!(orgs[0]["instance_url"], json!(a.base));
    assert_eq!(second["name"], json!("org2"));
    assert_eq!(second["environment"], json!("production"));
    assert_eq!(second["instance_url"], json!(format!("{}/orgs/org2", a.base)));
    assert_eq!(
        second["my_domain_url"],
        json!(format!("http://org2.my.localhost:{}", port(&a)))
    );
    assert_ne!(orgs[0]["org_id"], second["org_id"]);
    assert_ne!(orgs[0]["username"], second["username"]);
    // The real-time APIs: one Pub/Sub endpoint for every org, a CometD URL per org.
    assert_eq!(info["pubsub_endpoint"], json!(a.handle.pubsub_endpoint()));
    assert_eq!(info["cometd_url"], json!(format!("{}/cometd/66.0", a.base)));
    assert_eq!(orgs[0]["cometd_url"], info["cometd_url"]);
    assert_eq!(
        second["cometd_url"],
        json!(format!("{}/orgs/org2/cometd/66.0", a.base))
    );
}

#[tokio::test]
async fn two_orgs_never_see_each_others_records() {
    let (a, b, _) = two_orgs().await;
    let id_a = a.create("Account", json!({"Name": "Only in one"})).await;
    let id_b = b.create("Account", json!({"Name": "Only in two"})).await;
    assert_ne!(id_a, id_b, "record ids are unique across orgs");
    let (_, qa) = a.query("SELECT Name FROM Account").await;
    let (_, qb) = b.query("SELECT Name FROM Account").await;
    assert_eq!(qa["totalSize"], json!(1), "{qa}");
    assert_eq!(qa["records"][0]["Name"], json!("Only in one"));
    assert_eq!(qb["totalSize"], json!(1), "{qb}");
    assert_eq!(qb["records"][0]["Name"], json!("Only in two"));
    let (status, _) = b.get(&format!("sobjects/Account/{id_a}")).await;
    assert_eq!(status, 404);
    // One org's token at the other's instance URL is an invalid session there.
    let crossed = a.at(&b.base, a.token.as_deref().unwrap());
    let (status, body) = crossed.query("SELECT Name FROM Account").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body[0]["errorCode"], json!("INVALID_SESSION_ID"));
    // Each org has its own organization id and counts its own API usage.
    let (_, org_a) = a.query("SELECT Id FROM Organization").await;
    let (_, org_b) = b.query("SELECT Id FROM Organization").await;
    assert_ne!(org_a["records"][0]["Id"], org_b["records"][0]["Id"]);
    let (_, usage_a) = a.get("/__emulator/usage").await;
    let (_, usage_b) = b.get("/__emulator/usage").await;
    assert_ne!(usage_a, usage_b, "each org counts its own calls");
    // The control API of one org seeds that org alone.
    let (status, _) = b
        .post("/__emulator/records/Contact", json!([{"LastName": "Seeded"}]))
        .await;
    assert!(status < 300, "{status}");
    let (_, qa) = a.query("SELECT Id FROM Contact").await;
    let (_, qb) = b.query("SELECT Id FROM Contact").await;
    assert_eq!(
        (qa["totalSize"].clone(), qb["totalSize"].clone()),
        (json!(0), json!(1))
    );
}

#[tokio::test]
async fn a_my_domain_host_serves_its_org_and_signs_in_only_its_users() {
    let (a, b, second) = two_orgs().await;
    b.create("Account", json!({"Name": "Mine"})).await;
    let port = port(&a);
    let client = resolving_client(&a, &["org2.my.localhost"]);
    let my_domain = format!("http://org2.my.localhost:{port}");
    assert_eq!(second["my_domain_url"], json!(my_domain));
    let c = a.handle.config().clone();
    // Its own user signs in there, and gets the My Domain back as instance URL.
    let (status, token) = password_grant(
        &client,
        &format!("{my_domain}/services/oauth2/token"),
        second["username"].as_str().unwrap(),
        &c,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["instance_url"], json!(my_domain));
    assert!(token["id"].as_str().unwrap().starts_with(&my_domain), "{token}");
    // Another org's user does not exist there.
    let (status, refused) = password_grant(
        &client,
        &format!("{my_domain}/services/oauth2/token"),
        &c.username,
        &c,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], json!("invalid_grant"));
    // Its data is there.
    let resp = client
        .get(format!("{my_domain}/services/data/{V}/query"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .query(&[("q", "SELECT Name FROM Account")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["records"][0]["Name"], json!("Mine"));
    // An org that does not exist answers NOT_FOUND.
    let client = resolving_client(&a, &["nobody.my.localhost"]);
    let resp = client
        .get(format!("http://nobody.my.localhost:{port}/services/data"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_sandbox_signs_in_only_through_the_sandbox_login_host() {
    let a = common::spawn().await;
    let (status, created) = a
        .post(
            "/__emulator/orgs",
            json!({"name": "acme", "environment": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["environment"], json!("sandbox"));
    assert_eq!(created["login_url"], json!(format!("{}/sandbox", a.base)));
    let (status, again) = a.post("/__emulator/orgs", json!({"name": "acme"})).await;
    assert_eq!(status, 409, "{again}");
    let (status, bad) = a.post("/__emulator/orgs", json!({"name": "Not Valid"})).await;
    assert_eq!(status, 400, "{bad}");
    let (status, list) = a.get("/__emulator/orgs").await;
    assert_eq!(status, 200);
    assert_eq!(list["orgs"].as_array().unwrap().len(), 2);

    let c = a.handle.config().clone();
    let user = created["username"].as_str().unwrap();
    // The production login host does not know a sandbox user.
    let (status, refused) = password_grant(&a.client, &a.handle.token_url(), user, &c).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error_description"], json!("authentication failure"));
    // The sandbox login host (path form) does, and answers the org's instance URL.
    let (status, token) = password_grant(&a.client, created["token_url"].as_str().unwrap(), user, &c).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["instance_url"], created["instance_url"]);
    // ...and not the production org's administrator.
    let (status, _) =
        password_grant(&a.client, created["token_url"].as_str().unwrap(), &c.username, &c).await;
    assert_eq!(status, 400);
    // Through the host form `test.<domain>`, the answer is the sandbox's My Domain there.
    let port = port(&a);
    let client = resolving_client(&a, &["test.localhost"]);
    let (status, token) = password_grant(
        &client,
        &format!("http://test.localhost:{port}/services/oauth2/token"),
        user,
        &c,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        token["instance_url"],
        json!(format!("http://acme.sandbox.my.localhost:{port}"))
    );
    // SOAP login at the sandbox login host hands out the sandbox's server URL.
    let envelope = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n1="urn:partner.soap.sforce.com"><env:Body><n1:login><n1:username>{user}</n1:username><n1:password>{}{}</n1:password></n1:login></env:Body></env:Envelope>"#,
        c.password, c.security_token
    );
    let resp = a
        .client
        .post(format!("{}/sandbox/services/Soap/u/66.0", a.base))
        .header("content-type", "text/xml")
        .header("SOAPAction", "login")
        .body(envelope.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(&format!("{}/orgs/acme/services/Soap/u/", a.base)),
        "{text}"
    );
    let resp = a
        .client
        .post(format!("{}/services/Soap/u/66.0", a.base))
        .header("content-type", "text/xml")
        .header("SOAPAction", "login")
        .body(envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.text().await.unwrap().contains("INVALID_LOGIN"));
}

#[tokio::test]
async fn a_session_at_the_bare_host_reaches_its_own_org() {
    let (a, b, _) = two_orgs().await;
    b.create("Account", json!({"Name": "Two"})).await;
    // Like a Salesforce instance host, the bare host serves each session's own org.
    let via_bare = a.at(&a.base, b.token.as_deref().unwrap());
    let (status, body) = via_bare.query("SELECT Name FROM Account").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Name"], json!("Two"));
    let (_, mine) = a.query("SELECT Name FROM Account").await;
    assert_eq!(mine["totalSize"], json!(0));
}

#[tokio::test]
async fn each_org_keeps_its_own_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.json");
    let config = EmulatorConfig {
        orgs: 2,
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    };
    let (a, b, second) = {
        let a = common::spawn_with(config.clone()).await;
        let second = a.handle.connection_info()["orgs"][1].clone();
        let (_, token) = password_grant(
            &a.client,
            &a.handle.token_url(),
            second["username"].as_str().unwrap(),
            a.handle.config(),
        )
        .await;
        let b = a.at(
            token["instance_url"].as_str().unwrap(),
            token["access_token"].as_str().unwrap(),
        );
        (a, b, second)
    };
    a.create("Account", json!({"Name": "Kept in one"})).await;
    b.create("Account", json!({"Name": "Kept in two"})).await;
    // An org made through the control API comes back too.
    let (status, _) = a
        .post(
            "/__emulator/orgs",
            json!({"name": "later", "environment": "sandbox"}),
        )
        .await;
    assert_eq!(status, 201);
    drop(b);
    a.stop().await;
    assert!(file.exists());
    assert!(dir.path().join("org.json.org2").exists(), "the second org's file");
    let listed = std::fs::read_to_string(dir.path().join("org.json.orgs")).unwrap();
    assert!(listed.contains("\"later\""), "the list of orgs: {listed}");

    let a = common::spawn_with(config).await;
    let (_, token) = password_grant(
        &a.client,
        &a.handle.token_url(),
        second["username"].as_str().unwrap(),
        a.handle.config(),
    )
    .await;
    let b = a.at(
        token["instance_url"].as_str().unwrap(),
        token["access_token"].as_str().unwrap(),
    );
    let (_, one) = a.query("SELECT Name FROM Account").await;
    let (_, two) = b.query("SELECT Name FROM Account").await;
    assert_eq!(one["records"][0]["Name"], json!("Kept in one"), "{one}");
    assert_eq!(one["totalSize"], json!(1));
    assert_eq!(two["records"][0]["Name"], json!("Kept in two"), "{two}");
    assert_eq!(two["totalSize"], json!(1));
    let (_, list) = a.get("/__emulator/orgs").await;
    let names: Vec<&str> = list["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["org1", "org2", "later"]);
    assert_eq!(list["orgs"][2]["environment"], json!("sandbox"));
}

#[tokio::test]
async fn the_consent_page_at_the_production_login_host_signs_in_any_production_orgs_user() {
    let (a, _b, second) = two_orgs().await;
    let c = a.handle.config().clone();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callback = "http://localhost/callback";
    let params = [
        ("response_type", "code"),
        ("client_id", c.client_id.as_str()),
        ("redirect_uri", callback),
        ("state", "s1"),
    ];
    let authorize = format!("{}/services/oauth2/authorize", a.handle.base_url());
    let page = no_redirects.get(&authorize).query(&params).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The second org's administrator signs in on the one production login page.
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.extend([
        ("username", second["username"].as_str().unwrap()),
        ("password", c.password.as_str()),
        ("action", "allow"),
    ]);
    let resp = no_redirects.post(&authorize).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap_or_default());
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let token: Value = no_redirects
        .post(a.handle.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("redirect_uri", callback),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The code and the session are the second org's.
    assert_eq!(token["instance_url"], second["instance_url"], "{token}");
    assert!(
        token["id"]
            .as_str()
            .unwrap()
            .contains(second["org_id"].as_str().unwrap()),
        "{token}"
    );
}
