//! `GET /api/v1/proxy` and `POST /api/v1/proxy/test` end to end: the real
//! server on 127.0.0.1:0 over the real collector (SQLite in a temp data
//! directory, a 0600 file secret store), a tinyproxy from Debian with Basic
//! authentication, and an HTTP server written here standing in for the
//! upload server.
//!
//! Invariants of this file:
//! - network: packets go only to 127.0.0.1 — the API, our server, our
//!   tinyproxy. The connectivity test also tries the proxies of the
//!   environment and of the desktop session, so every test runs in a child
//!   of this binary whose environment has no proxy variable and no session
//!   bus (`in_clean_child`); the parent only checks the child passed;
//! - the proxy password and the site token contain `SENTINEL`, and no answer
//!   may contain it.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use printscout_api::routes;
use printscout_api::server::{Running, ServeOptions, serve};
use printscout_api::state::ApiContext;
use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, CollectorHandle, Settings, poller_from};
use printscout_engine::config::Config;
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{FileStore, PROXY_PASSWORD, SecretStore, UPLOAD_TOKEN};
use printscout_engine::store::Store;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SENTINEL: &str = "SENTINEL-api-proxy-41c7";
const USER: &str = "lab";
/// Set in the child process.
const CHILD: &str = "PRINTSCOUT_PROXY_TEST_CHILD";

/// Runs the test `name` again in a child of this binary with no proxy
/// variable and no session bus; `true` when called in that child (run the
/// body), `false` in the parent (the child passed; return).
fn in_clean_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for var in printscout_engine::uplink::proxy::ENV_NAMES
        .iter()
        .chain(&["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"])
    {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("the child test runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name} in a clean child:\n{text}"
    );
    false
}

// ---------------------------------------------------------------------------
// Peers

/// tinyproxy in the foreground, `BasicAuth lab PASSWORD`, stopped by its
/// PID on drop.
struct Tinyproxy {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start(password: &str) -> Tinyproxy {
        let dir = tempfile::tempdir().expect("a temp dir for tinyproxy");
        let port = free_port();
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 50\nAllow 127.0.0.1\nBasicAuth {USER} {password}\nDisableViaHeader Yes\n",
                dir.path().join("tinyproxy.log").display()
            ),
        )
        .expect("write tinyproxy.conf");
        let mut child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy runs (apt-get install tinyproxy)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tinyproxy exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The upload server's stand-in: 200 with `Authorization: Bearer <token>`,
/// else 401. Records the Authorization header of each request.
struct Upload {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Option<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upload {
    async fn start(token: &str) -> Upload {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("its address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let expected = format!("Bearer {token}");
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let log = log.clone();
                let expected = expected.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let auth = text.lines().find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("authorization")
                            .then(|| v.trim().to_string())
                    });
                    let status = if auth.as_deref() == Some(expected.as_str()) {
                        "200 OK"
                    } else {
                        "401 Unauthorized"
                    };
                    if let Ok(mut l) = log.lock() {
                        l.push(auth);
                    }
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                                .as_bytes(),
                        )
                        .await;
                    let _ = s.shutdown().await;
                });
            }
        });
        Upload { addr, seen, task }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/batches", self.addr)
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// The service

struct Api {
    _dir: tempfile::TempDir,
    running: Option<Running>,
    collector: Option<CollectorHandle>,
    secrets: Arc<FileStore>,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// The collector and the API with `extra` appended to a configuration
    /// that polls nothing.
    async fn start(extra: &str) -> Api {
        let dir = tempfile::tempdir().expect("a temp data dir");
        let data = dir.path().to_path_buf();
        let config_file = data.join("printscout.toml");
        std::fs::write(
            &config_file,
            format!(
                "[discovery]\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n\n\
                 [api]\nport = 0\n\n[secrets]\nstore = \"file\"\n\n{extra}"
            ),
        )
        .expect("write the config");
        set_private(&config_file);
        let config = Config::load(&config_file).expect("the test config is valid");
        let store = Store::open_in(&data).expect("open the store");
        let settings = Settings::from_config(&config, &data);
        let poller = poller_from(&config).expect("a poller");
        let handle = collector::start(settings, store, Arc::new(poller), Arc::new(SystemClock));
        let secrets = Arc::new(FileStore::new(data.join("secrets.json")));
        let ctx = ApiContext::new(
            handle.control(),
            data.clone(),
            config_file,
            config,
            secrets.clone(),
        )
        .expect("the API context opens the store");
        let (router, _doc) = routes::api(ctx);
        let running = serve(
            ServeOptions {
                port: 0,
                data_dir: data,
                ui_dir: None,
            },
            router,
        )
        .await
        .expect("the API starts");
        let base = format!("http://127.0.0.1:{}", running.port());
        let token = running.token().expose().to_owned();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        Api {
            _dir: dir,
            running: Some(running),
            collector: Some(handle),
            secrets,
            client,
            base,
            token,
        }
    }

    fn set_secret(&self, name: &str, value: &str) {
        self.secrets
            .set(name, &Secret::new(value))
            .expect("the file store keeps it");
    }

    async fn call(&self, post: Option<Value>, path: &str) -> (StatusCode, String) {
        let url = format!("{}{path}", self.base);
        let request = match &post {
            Some(body) => self
                .client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string()),
            None => self.client.get(url),
        };
        let response = request
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .send()
            .await
            .expect("the API answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        if let Some(c) = self.collector.take() {
            c.shutdown().await;
        }
    }
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn path_named<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["paths"]
        .as_array()
        .and_then(|p| p.iter().find(|r| r["path"] == name))
        .unwrap_or_else(|| panic!("no {name} path in {body:#}"))
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn the_proxy_report_names_the_manual_proxy_and_holds_no_secret() {
    if !in_clean_child("the_proxy_report_names_the_manual_proxy_and_holds_no_secret") {
        return;
    }
    let proxy = Tinyproxy::start(SENTINEL);
    let upload = Upload::start("unused").await;
    let api = Api::start(&format!(
        "[upload]\nurl = \"{}\"\n\n[proxy]\nmode = \"manual\"\nurl = \"{}\"\nuser = \"{USER}\"\n",
        upload.url(),
        proxy.url()
    ))
    .await;
    api.set_secret(PROXY_PASSWORD, SENTINEL);
    api.set_secret(UPLOAD_TOKEN, &format!("{SENTINEL}-token"));

    let (status, text) = api.call(None, "/api/v1/proxy").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains(SENTINEL), "a secret in the report: {text}");
    let body = json_of(&text);
    assert_eq!(body["mode"], "manual");
    assert_eq!(body["target"], upload.url());
    assert_eq!(body["in_use"]["path"], "manual");
    assert_eq!(
        body["in_use"]["url"],
        format!("http://***@127.0.0.1:{}", proxy.port)
    );
    assert_eq!(body["manual"]["configured"], true);
    assert_eq!(body["manual"]["user"], USER);
    assert_eq!(body["manual"]["password_set"], true);
    assert_eq!(body["environment"]["variables"], json!([]));
    assert_eq!(
        body["system"]["available"], false,
        "no session bus in the child"
    );
    assert!(upload.seen().is_empty(), "GET /proxy sends no packet");

    let (_, doc) = api.call(None, "/api/v1/openapi.json").await;
    let doc = json_of(&doc);
    assert!(doc["paths"]["/api/v1/proxy"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/proxy/test"]["post"].is_object());
    api.stop().await;
}

#[tokio::test]
async fn the_connectivity_test_reports_each_path_with_a_stable_code() {
    if !in_clean_child("the_connectivity_test_reports_each_path_with_a_stable_code") {
        return;
    }
    let token = format!("{SENTINEL}-token");
    let proxy = Tinyproxy::start(SENTINEL);
    let upload = Upload::start(&token).await;
    let api = Api::start(&format!(
        "[upload]\nurl = \"{}\"\n\n[proxy]\nmode = \"manual\"\nurl = \"{}\"\nuser = \"{USER}\"\n",
        upload.url(),
        proxy.url()
    ))
    .await;
    api.set_secret(PROXY_PASSWORD, SENTINEL);
    api.set_secret(UPLOAD_TOKEN, &token);

    // The upload server, directly and through the manual proxy.
    let (status, text) = api.call(Some(json!({})), "/api/v1/proxy/test").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains(SENTINEL), "a secret in the result: {text}");
    let body = json_of(&text);
    assert_eq!(body["target"], upload.url());
    assert_eq!(body["paths"].as_array().map(Vec::len), Some(2), "{body:#}");
    for name in ["direct", "manual"] {
        let p = path_named(&body, name);
        assert_eq!(
            (p["code"].as_str(), p["status"].as_u64()),
            (Some("ok"), Some(200)),
            "{p:#}"
        );
        assert_eq!(p["token_sent"], true);
    }
    assert_eq!(
        path_named(&body, "manual")["proxy"],
        format!("http://***@127.0.0.1:{}", proxy.port)
    );

    // A wrong proxy password and a refused token.
    api.set_secret(PROXY_PASSWORD, "wrong-password");
    api.set_secret(UPLOAD_TOKEN, &format!("{SENTINEL}-old"));
    let (_, text) = api.call(Some(json!({})), "/api/v1/proxy/test").await;
    assert!(!text.contains(SENTINEL), "{text}");
    let body = json_of(&text);
    assert_eq!(
        path_named(&body, "direct")["code"],
        "token_rejected",
        "{body:#}"
    );
    assert_eq!(
        path_named(&body, "manual")["code"],
        "proxy_auth_failed",
        "{body:#}"
    );

    // Another address: tested, but the site token is not sent to it.
    let other = Upload::start("whatever").await;
    let (status, text) = api
        .call(Some(json!({"url": other.url()})), "/api/v1/proxy/test")
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body = json_of(&text);
    assert_eq!(body["target"], other.url());
    let direct = path_named(&body, "direct");
    assert_eq!(
        (direct["code"].as_str(), direct["token_sent"].as_bool()),
        (Some("ok"), Some(false))
    );
    assert!(
        other.seen().iter().all(Option::is_none),
        "no Authorization to {}",
        other.url()
    );
    api.stop().await;
}

#[tokio::test]
async fn a_test_with_nothing_to_test_or_a_bad_address_is_refused_with_a_code() {
    if !in_clean_child("a_test_with_nothing_to_test_or_a_bad_address_is_refused_with_a_code") {
        return;
    }
    let api = Api::start("").await;
    let cases = [
        (json!({}), "no_upload_url"),
        (json!({"url": "  "}), "no_upload_url"),
        (json!({"url": "ftp://127.0.0.1/"}), "invalid_url"),
        (json!({"url": "not an address"}), "invalid_url"),
        (
            json!({"url": format!("http://{USER}:{SENTINEL}@127.0.0.1:9/")}),
            "invalid_url",
        ),
        (json!({"address": "http://127.0.0.1:9/"}), "invalid_body"),
    ];
    for (body, code) in cases {
        let (status, text) = api.call(Some(body.clone()), "/api/v1/proxy/test").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {text}");
        assert_eq!(json_of(&text)["error"]["code"], code, "{body}: {text}");
        assert!(!text.contains(SENTINEL), "{text}");
    }
    let (status, text) = api.call(None, "/api/v1/proxy").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body = json_of(&text);
    assert_eq!(body["target"], Value::Null);
    assert_eq!(body["in_use"]["path"], "direct", "{body:#}");
    api.stop().await;
}
