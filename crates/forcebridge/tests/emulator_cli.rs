//! `forcebridge emulator` as a subprocess: the one JSON line it prints, HTTPS trusted through the
//! printed `ca_file`, a clean stop on SIGTERM, and a `--state` file that survives a restart and a
//! `kill -9` in the middle of writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A running `forcebridge emulator` and the JSON line it printed.
struct Running {
    child: Child,
    info: Value,
    stdout: BufReader<std::process::ChildStdout>,
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .arg("emulator")
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("forcebridge starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the ready line");
    let info: Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    Running { child, info, stdout }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.info["instance_url"].as_str().expect("instance_url")
        )
    }

    /// SIGTERM, then wait: the process must exit 0 and print nothing more on stdout.
    fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "{exit:?}");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("read rest");
        assert_eq!(rest, "", "nothing but the one line on stdout");
    }

    /// `kill -9`.
    fn crash(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(info: &Value) -> reqwest::Client {
    let mut b = reqwest::Client::builder();
    if let Some(ca) = info["ca_file"].as_str() {
        let pem = std::fs::read(ca).expect("ca_file readable");
        b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("PEM")]);
    }
    b.build().expect("client")
}

async fn token(info: &Value) -> String {
    let password = format!(
        "{}{}",
        info["password"].as_str().unwrap(),
        info["security_token"].as_str().unwrap()
    );
    let resp = client(info)
        .post(info["token_url"].as_str().unwrap())
        .form(&[
            ("grant_type", "password"),
            ("client_id", info["client_id"].as_str().unwrap()),
            ("client_secret", info["client_secret"].as_str().unwrap()),
            ("username", info["username"].as_str().unwrap()),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn prints_one_line_and_serves_https_with_the_printed_ca() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    let em = spawn(&["--tls", "--tls-dir", tls_dir.to_str().unwrap()]);
    for key in [
        "instance_url",
        "login_url",
        "token_url",
        "client_id",
        "client_secret",
        "username",
        "password",
        "security_token",
        "ca_file",
    ] {
        assert!(em.info[key].is_string(), "{key} missing in {}", em.info);
    }
    assert_eq!(em.info["ca_file"], tls_dir.join("ca.pem").display().to_string());
    assert!(
        em.info["instance_url"]
            .as_str()
            .unwrap()
            .starts_with("https://localhost:")
    );
    runtime().block_on(async {
        let t = token(&em.info).await;
        let resp = client(&em.info)
            .get(em.url("/services/data/v66.0/limits"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("sforce-limit-info"));
    });
    em.terminate();
}

async fn create_account(info: &Value, url: &str, token: &str, name: &str) -> Option<String> {
    let resp = client(info)
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "Name": name }))
        .send()
        .await
        .ok()?;
    if resp.status() != 201 {
        return None;
    }
    let body: Value = resp.json().await.ok()?;
    body["id"].as_str().map(str::to_string)
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let state_arg = state.to_str().unwrap();
    let em = spawn(&["--state", state_arg]);
    let (token, id) = runtime().block_on(async {
        let t = token(&em.info).await;
        let id = create_account(
            &em.info,
            &em.url("/services/data/v66.0/sobjects/Account"),
            &t,
            "Kept",
        )
        .await;
        (t, id.expect("created through REST"))
    });
    em.terminate();

    let em = spawn(&["--state", state_arg]);
    runtime().block_on(async {
        let resp = client(&em.info)
            .get(em.url(&format!("/services/data/v66.0/sobjects/Account/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "the old session and the record are both back");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["Name"], "Kept");
    });
    em.terminate();
}

fn count_accounts(state: &Path) -> usize {
    let bytes = std::fs::read(state).expect("state file exists");
    let v: Value = serde_json::from_slice(&bytes).expect("the state file is always complete JSON");
    v["org"]["data"]["Account"]
        .as_object()
        .map_or(0, serde_json::Map::len)
}

#[test]
fn state_file_always_loads_after_kill_9_during_writes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let state_arg = state.to_str().unwrap();
    let mut last = 0;
    for round in 0..3 {
        let em = spawn(&["--state", state_arg]);
        let url = em.url("/services/data/v66.0/sobjects/Account");
        runtime().block_on(async {
            let t = token(&em.info).await;
            // Writes in flight from several tasks when the process dies.
            let mut tasks = Vec::new();
            for w in 0..4 {
                let (info, url, t) = (em.info.clone(), url.clone(), t.clone());
                tasks.push(tokio::spawn(async move {
                    for i in 0..1000 {
                        if create_account(&info, &url, &t, &format!("r{round}w{w}i{i}"))
                            .await
                            .is_none()
                        {
                            break;
                        }
                    }
                }));
            }
            // Let the persister write at least once, then kill mid-stream.
            let mut waited = 0;
            while (!state.exists() || count_accounts(&state) <= last) && waited < 200 {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                waited += 1;
            }
            let pid = em.child.id();
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            for t in tasks {
                let _ = t.await;
            }
        });
        em.crash();
        let now = count_accounts(&state);
        assert!(
            now > last,
            "round {round}: writes before the crash were saved ({now} > {last})"
        );
        last = now;
    }
    // And the emulator itself loads it.
    let em = spawn(&["--state", state_arg]);
    assert!(em.info["instance_url"].is_string());
    em.terminate();
}

/// `--orgs 2 --hostnames ...`: the ready line lists both orgs, and a client that reaches the
/// emulator by Salesforce's own host names (as a hosts entry would make it) signs in at
/// `login.salesforce.com` and is sent to the org's `*.my.salesforce.com` My Domain, over TLS the
/// printed CA covers.
#[test]
fn several_orgs_behind_real_host_names() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let em = spawn(&[
        "--orgs",
        "2",
        "--hostnames",
        "login.salesforce.com,test.salesforce.com,*.my.salesforce.com",
    ]);
    let orgs = em.info["orgs"].as_array().expect("orgs").clone();
    assert_eq!(orgs.len(), 2, "{}", em.info);
    assert_eq!(orgs[0]["instance_url"], em.info["instance_url"]);
    assert_eq!(orgs[1]["name"], json!("org2"));
    let base = em.info["instance_url"].as_str().unwrap();
    assert!(base.starts_with("https://localhost:"), "{base}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let pem = std::fs::read(em.info["ca_file"].as_str().unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .resolve("login.salesforce.com", addr)
        .resolve("org2.my.salesforce.com", addr)
        .build()
        .unwrap();
    let second = &orgs[1];
    runtime().block_on(async {
        let password = format!(
            "{}{}",
            second["password"].as_str().unwrap(),
            second["security_token"].as_str().unwrap()
        );
        let resp = client
            .post(format!(
                "https://login.salesforce.com:{port}/services/oauth2/token"
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", second["client_id"].as_str().unwrap()),
                ("client_secret", second["client_secret"].as_str().unwrap()),
                ("username", second["username"].as_str().unwrap()),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let token: Value = resp.json().await.unwrap();
        let instance = format!("https://org2.my.salesforce.com:{port}");
        assert_eq!(token["instance_url"], json!(instance));
        let resp = client
            .get(format!("{instance}/services/data/v66.0/limits"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });
    em.terminate();
}
