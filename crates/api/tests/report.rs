//! `POST /api/v1/report/send` end to end: the real server on 127.0.0.1:0
//! over the real collector (SQLite in a temp data directory, a 0600 file
//! secret store) and a real SMTP server (aiosmtpd on its own 127.0.0.x
//! address). Packets go only to loopback.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use printscout_api::routes;
use printscout_api::server::{Running, ServeOptions, serve};
use printscout_api::state::ApiContext;
use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, CollectorHandle, Settings, poller_from};
use printscout_engine::config::Config;
use printscout_engine::secrets::FileStore;
use printscout_engine::store::Store;
use printscout_testkit::smtp::{SmtpPeer, SmtpPeerOptions};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

struct Api {
    _dir: tempfile::TempDir,
    running: Option<Running>,
    collector: Option<CollectorHandle>,
    client: reqwest::Client,
    base: String,
    token: String,
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600 the config");
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
        let ctx = ApiContext::new(handle.control(), data.clone(), config_file, config, secrets)
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
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Api {
            _dir: dir,
            running: Some(running),
            collector: Some(handle),
            client,
            base,
            token,
        }
    }

    async fn send(&self, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/report/send", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the API answers");
        let status = r.status();
        let v = r.json().await.expect("a JSON answer");
        (status, v)
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

fn email_section(url: &str, extra: &str) -> String {
    format!(
        "[email]\nsmtp_url = \"{url}\"\nfrom = \"printscout@site.test\"\n\
         to = [\"a@example.test\", \"b@example.test\"]\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_report_send_delivers_and_says_who_it_went_to() {
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(IpAddr::V4(Ipv4Addr::new(
        127, 0, 0, 91,
    ))));
    let api = Api::start(&email_section(&peer.url("smtp"), "")).await;
    let (status, v) = api.send(json!({"period_s": 3600})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["code"], "sent");
    assert_eq!(v["recipients"], json!(["a@example.test", "b@example.test"]));
    assert_eq!(v["sent"]["summary"]["devices"], 0);
    assert!(
        v["sent"]["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("PrintScout report ")),
        "{v}"
    );
    let got = peer.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpt_tos, vec!["a@example.test", "b@example.test"]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_answers_its_code_and_a_send_that_cannot_start_is_an_error() {
    let port = TcpListener::bind("127.0.0.92:0")
        .and_then(|l| l.local_addr())
        .expect("bind a port")
        .port();
    let api = Api::start(&email_section(&format!("smtp://127.0.0.92:{port}"), "")).await;
    let (status, v) = api.send(json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["code"], "smtp_connect_failed", "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("connection refused")),
        "{v}"
    );
    let (status, v) = api.send(json!({"period_s": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_period");
    api.stop().await;

    let api = Api::start(&email_section(
        &format!("smtp://127.0.0.92:{port}"),
        "user = \"mailer\"\n",
    ))
    .await;
    let (status, v) = api.send(json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "smtp_password_missing", "{v}");
    api.stop().await;

    let api = Api::start("").await;
    let (status, v) = api.send(json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "email_not_configured", "{v}");
    api.stop().await;
}
