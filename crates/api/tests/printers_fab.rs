//! The API's printers by URL, end to end: the real server on 127.0.0.1:0 over
//! the real collector (SQLite in a temp data directory, the poller reading
//! keys from the same 0600 file secret store as the API), asked by reqwest
//! with the token. The 3D printer is the PrusaLink fixture server
//! (`printscout_testkit::fab_fixture`: no runnable PrusaLink exists; it checks
//! HTTP Digest for real), the IPP printer CUPS's `ippeveprinter`.
//!
//! Invariants of this file:
//! - network: packets go only to 127.0.0.1 (the API, the fixture, ippeveprinter);
//!   broadcast, DNS-SD and local queues are off, no SNMP printer is configured;
//! - every test starts its own fixture, collector and server and stops them;
//! - the 3D printer's key is a sentinel searched for in every answer, the
//!   OpenAPI document and every log line of the process.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use printscout_api::routes;
use printscout_api::server::{Running, ServeOptions, serve};
use printscout_api::state::{ApiContext, AppState};
use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, CollectorHandle, Settings, poller_from};
use printscout_engine::config::Config;
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{FileStore, SecretStore};
use printscout_engine::store::Store;
use printscout_testkit::fab_fixture::{Access, FabFixture};
use printscout_testkit::logs::{capture_logs, logs_text};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The PrusaLink password (the "key") the fixture checks; searched for everywhere.
const KEY: &str = "Key-SENTINEL-8be1c2";

struct Api {
    _dir: tempfile::TempDir,
    running: Option<Running>,
    collector: Option<CollectorHandle>,
    ctx: AppState,
    client: reqwest::Client,
    base: String,
    token: String,
    /// Every answer body seen, for the secret check.
    seen: std::sync::Mutex<Vec<String>>,
}

fn config_text() -> String {
    "[schedule]\nstatus_every = \"1h\"\nmeters_every = \"1h\"\n\n\
     [snmp]\ntimeout = \"300ms\"\nretries = 0\n\n\
     [discovery]\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n\n\
     [api]\nport = 0\n\n\
     [secrets]\nstore = \"file\"\n"
        .to_owned()
}

impl Api {
    async fn start() -> Api {
        capture_logs();
        let dir = tempfile::tempdir().expect("a temp data dir");
        let data = dir.path().to_path_buf();
        let config_file = data.join("printscout.toml");
        std::fs::write(&config_file, config_text()).expect("write the config");
        std::fs::set_permissions(&config_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the config");
        let config = Config::load(&config_file).expect("the test config is valid");
        let store = Store::open_in(&data).expect("open the store");
        let mut settings = Settings::from_config(&config, &data);
        settings.catch_up_window = Duration::from_secs(1);
        let secrets: Arc<dyn SecretStore> = Arc::new(FileStore::new(data.join("secrets.json")));
        // As `printscout run` does: the poller reads printers' keys from the
        // same store the API writes them to.
        let poller = poller_from(&config)
            .expect("a poller")
            .with_secrets(secrets.clone());
        let handle = collector::start(settings, store, Arc::new(poller), Arc::new(SystemClock));
        let ctx = ApiContext::new(handle.control(), data.clone(), config_file, config, secrets)
            .expect("the API context opens the store");
        let (router, _doc) = routes::api(ctx.clone());
        let running = serve(
            ServeOptions {
                port: 0,
                data_dir: data.clone(),
                ui_dir: None,
            },
            router,
        )
        .await
        .expect("the API starts on a free loopback port");
        let base = format!("http://127.0.0.1:{}", running.port());
        let token = running.token().expose().to_owned();
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        Api {
            _dir: dir,
            running: Some(running),
            collector: Some(handle),
            ctx,
            client,
            base,
            token,
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Status and JSON body (Null when not JSON); every body is kept.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .timeout(Duration::from_secs(20));
        if method != Method::GET {
            r = r.header(CONTENT_TYPE, "application/json");
            r = r.body(serde_json::to_vec(&body.unwrap_or(json!({}))).expect("JSON body"));
        }
        let response = r
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response.text().await.expect("a response body");
        self.seen.lock().expect("seen").push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Asserts that no answer so far held the key.
    fn assert_key_never_answered(&self) {
        for body in self.seen.lock().expect("seen").iter() {
            assert!(!body.contains(KEY), "an answer holds the key: {body}");
        }
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

/// Polls `f` every 100 ms until it returns `Some`, for at most `within`.
async fn eventually<T>(what: &str, within: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

/// A PrusaLink fixture that wants HTTP Digest with [`KEY`] as the password.
fn prusalink() -> FabFixture {
    FabFixture::start(Access::Digest {
        user: "maker".into(),
        password: KEY.into(),
        qop: true,
    })
}

fn url_of(f: &FabFixture) -> String {
    format!("prusalink://127.0.0.1:{}", f.port())
}

/// The MK4 printing job `id` at `progress` percent (PROTOCOLS.md §5 shapes).
fn printing(f: &FabFixture, id: u32, name: &str, progress: f64) {
    f.set_json(
        "/api/v1/status",
        200,
        &json!({
            "job": {"id": id, "progress": progress, "time_remaining": 3120, "time_printing": 1858},
            "printer": {"state": "PRINTING", "temp_bed": 60.1, "target_bed": 60.0,
                        "temp_nozzle": 199.0, "target_nozzle": 200.0}
        }),
    );
    f.set_json(
        "/api/v1/job",
        200,
        &json!({
            "id": id, "state": "PRINTING", "progress": progress, "time_remaining": 3120,
            "time_printing": 1858,
            "file": {"name": "JOB.BGC", "display_name": name, "path": "/usb",
                     "meta": {"filament used [g]": 12.0, "filament_type": "PLA"}}
        }),
    );
    f.set_json(
        "/api/v1/info",
        200,
        &json!({"name": "MK4 left", "serial": "10589-3742441632105", "hostname": "prusa-mk4"}),
    );
    f.set_json(
        "/api/version",
        200,
        &json!({"api": "2.0.0", "server": "2.1.2", "text": "PrusaLink", "firmware": "6.1.3+7898"}),
    );
}

/// The MK4 done with job `id`: FINISHED, the job at 100 %.
fn finished(f: &FabFixture, id: u32, name: &str) {
    f.set_json(
        "/api/v1/status",
        200,
        &json!({
            "job": {"id": id, "progress": 100.0, "time_remaining": 0, "time_printing": 4980},
            "printer": {"state": "FINISHED", "temp_bed": 40.0, "target_bed": 0.0,
                        "temp_nozzle": 60.0, "target_nozzle": 0.0}
        }),
    );
    f.set_json(
        "/api/v1/job",
        200,
        &json!({"id": id, "state": "FINISHED", "progress": 100.0, "time_printing": 4980,
                "file": {"display_name": name}}),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3d_printer_added_by_url_with_a_key_keeps_it_in_the_secret_store_and_never_answers_it() {
    let f = prusalink();
    printing(&f, 4, "benchy_0.4n_0.2mm_PLA_MK4.bgcode", 37.0);
    let api = Api::start().await;
    let url = url_of(&f);
    let key_name = format!("printer-key:prusalink://127.0.0.1:{}", f.port());

    // Test: the reading with its state, nothing stored.
    let (status, test) = api
        .post("/api/v1/printers/test", json!({"address": url, "key": KEY}))
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["ok"], json!(true), "{test}");
    assert_eq!(test["reading"]["fab"]["state"], "printing");
    assert_eq!(test["reading"]["device_kind"], "3d_printer");
    assert_eq!(
        api.ctx.secrets.get(&key_name).expect("the store answers"),
        None,
        "a test read stores no key"
    );

    // Save: added by its URL, the key kept under the printer-key name.
    let (status, added) = api
        .post(
            "/api/v1/printers",
            json!({"address": url, "key": KEY, "name": "MK4 left"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let id = added["printer"]["id"].as_i64().expect("an id");
    assert_eq!(added["printer"]["protocol"], "prusalink");
    assert_eq!(added["printer"]["address"], json!(url));
    assert_eq!(added["key_set"], json!(true));
    let fab = &added["printer"]["fab"];
    assert_eq!(fab["state"], "printing", "{added}");
    assert_eq!(fab["state_text"], "PRINTING");
    assert_eq!(fab["job"]["progress_percent"], json!(37.0));
    assert_eq!(fab["job"]["name"], "benchy_0.4n_0.2mm_PLA_MK4.bgcode");
    assert_eq!(fab["job"]["remaining_s"], json!(3120));
    assert!(
        fab["temperatures"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["name"] == "nozzle" && t["actual"] == json!(199.0))),
        "{fab}"
    );
    let kept = api
        .ctx
        .secrets
        .get(&key_name)
        .expect("the store answers")
        .expect("the key is kept");
    assert_eq!(kept.expose(), KEY);

    // The list and the page carry the protocol and the state.
    let list = api.get_ok("/api/v1/printers").await;
    let entry = list
        .as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == json!(id)))
        .expect("the printer is listed");
    assert_eq!(entry["protocol"], "prusalink");
    assert_eq!(entry["fab"]["state"], "printing");
    assert_eq!(entry["fab"]["job"]["progress_percent"], json!(37.0));
    let one = api.get_ok(&format!("/api/v1/printers/{id}")).await;
    assert_eq!(one["printer"]["fab"]["state"], "printing");

    // The collector reads it with the kept key (a poll through the API).
    f.clear_seen();
    printing(&f, 4, "benchy_0.4n_0.2mm_PLA_MK4.bgcode", 52.0);
    let (status, _) = api
        .post(&format!("/api/v1/printers/{id}/poll"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually(
        "the poll with the kept key",
        Duration::from_secs(15),
        async || {
            let one = api.get_ok(&format!("/api/v1/printers/{id}")).await;
            (one["printer"]["fab"]["job"]["progress_percent"] == json!(52.0)).then_some(())
        },
    )
    .await;
    assert_eq!(f.digest_refused(), 0, "the poller's digest was right");

    // Never in an answer, the OpenAPI document or a log line.
    api.get_ok("/api/v1/openapi.json").await;
    api.assert_key_never_answered();
    assert!(!logs_text().contains(KEY), "the key is in the logs");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_as_rejected_in_words_and_not_kept() {
    let f = prusalink();
    printing(&f, 4, "benchy.bgcode", 10.0);
    let api = Api::start().await;
    let url = url_of(&f);
    let (status, body) = api
        .post(
            "/api/v1/printers",
            json!({"address": url, "key": "not-the-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "fab_rejected");
    assert!(message(&body).contains("rejected"), "{body}");
    let (_, test) = api
        .post(
            "/api/v1/printers/test",
            json!({"address": url, "key": "not-the-key"}),
        )
        .await;
    assert_eq!(test["ok"], json!(false));
    assert_eq!(test["error"]["code"], "fab_rejected");
    // Without any key: it needs one, said in words.
    let (status, body) = api.post("/api/v1/printers", json!({"address": url})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "fab_needs_key");
    let name = format!("printer-key:prusalink://127.0.0.1:{}", f.port());
    assert_eq!(api.ctx.secrets.get(&name).expect("the store answers"), None);
    assert_eq!(api.get_ok("/api/v1/printers").await, json!([]));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_route_lists_a_printers_jobs_newest_first() {
    let f = prusalink();
    printing(&f, 4, "first.bgcode", 37.0);
    let api = Api::start().await;
    let (status, added) = api
        .post(
            "/api/v1/printers",
            json!({"address": url_of(&f), "key": KEY}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let id = added["printer"]["id"].as_i64().expect("an id");
    let jobs_path = format!("/api/v1/printers/{id}/jobs");

    // Seen printing at the first read: one running job.
    let jobs = api.get_ok(&jobs_path).await;
    assert_eq!(jobs["id"], json!(id));
    let list = jobs["jobs"].as_array().expect("jobs");
    assert_eq!(list.len(), 1, "{jobs}");
    assert_eq!(list[0]["name"], "first.bgcode");
    assert_eq!(list[0]["running"], json!(true));
    assert_eq!(list[0]["synthesised"], json!(true));
    assert!(list[0]["ended_at"].is_null());

    // It finishes, then a second job starts: two jobs, the new one first.
    let poll = async |what: &str, done: &dyn Fn(&Value) -> bool| {
        let (status, _) = api
            .post(&format!("/api/v1/printers/{id}/poll"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        eventually(what, Duration::from_secs(15), async || {
            let jobs = api.get_ok(&jobs_path).await;
            done(&jobs).then_some(jobs)
        })
        .await
    };
    finished(&f, 4, "first.bgcode");
    poll("the first job completed", &|j| {
        j["jobs"][0]["result"] == "completed"
    })
    .await;
    printing(&f, 5, "second.bgcode", 3.0);
    let jobs = poll("the second job", &|j| {
        j["jobs"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let list = jobs["jobs"].as_array().expect("jobs");
    assert_eq!(list[0]["name"], "second.bgcode", "{jobs}");
    assert_eq!(list[0]["running"], json!(true));
    assert_eq!(list[1]["name"], "first.bgcode");
    assert_eq!(list[1]["result"], "completed");
    assert_eq!(list[1]["running"], json!(false));
    assert!(
        list[1]["started_at"].is_string() && list[1]["ended_at"].is_string(),
        "{jobs}"
    );
    assert!(list[1]["duration_s"].is_i64(), "{jobs}");

    // limit: the newest only; out of range is a 400 in words; no printer is a 404.
    let one = api.get_ok(&format!("{jobs_path}?limit=1")).await;
    assert_eq!(one["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["jobs"][0]["name"], "second.bgcode");
    let (status, body) = api
        .call(Method::GET, &format!("{jobs_path}?limit=0"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("limit"), "{body}");
    let (status, _) = api
        .call(Method::GET, "/api/v1/printers/999999/jobs", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_printer_url_is_refused_with_422_in_words_and_never_echoes_a_password() {
    let api = Api::start().await;
    let cases: [(&str, &str); 5] = [
        ("foo://127.0.0.1", "octoprint://"),
        ("bambu://127.0.0.1", "serial"),
        ("prusalink://127.0.0.1/some/path", "path"),
        ("octoprint://", "host"),
        ("ipp://", "host"),
    ];
    for (address, words) in cases {
        for path in ["/api/v1/printers", "/api/v1/printers/test"] {
            let (status, body) = api.post(path, json!({"address": address})).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {address}: {body}"
            );
            assert_eq!(code(&body), "bad_url", "{address}: {body}");
            assert!(
                message(&body).contains(words),
                "{address}: the message should say {words:?}: {body}"
            );
        }
    }
    // A password in the URL is refused without showing it.
    let (status, body) = api
        .post(
            "/api/v1/printers",
            json!({"address": format!("octoprint://maker:{KEY}@127.0.0.1:5000")}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("key field"), "{body}");
    // A key where none is used, a credential with a URL: refused in words.
    let (status, body) = api
        .post(
            "/api/v1/printers",
            json!({"address": "127.0.0.1:1", "key": "k"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "key_not_used");
    let (status, body) = api
        .post(
            "/api/v1/printers",
            json!({"address": "octoprint://127.0.0.1:1", "credential": {"community": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "credential_not_used");
    api.assert_key_never_answered();
    assert!(!logs_text().contains(KEY), "the key is in the logs");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipp_printer_is_added_by_its_url_and_listed_over_ipp() {
    let printer = printscout_testkit::ippeve::IppEvePrinter::start();
    let api = Api::start().await;
    let (status, added) = api
        .post("/api/v1/printers", json!({"address": printer.url()}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["printer"]["protocol"], "ipp");
    assert!(added["printer"]["fab"].is_null());
    assert!(added["key_set"].is_null());
    assert!(
        added["printer"]["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("ipp://127.0.0.1:")),
        "{added}"
    );
    let (status, body) = api
        .post(
            "/api/v1/printers",
            json!({"address": printer.url(), "key": "k"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "key_not_used");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_kept_by_hand_is_used_when_none_is_given() {
    let f = prusalink();
    printing(&f, 4, "benchy.bgcode", 10.0);
    let api = Api::start().await;
    // As `printscout secret set printer-key:… --stdin` keeps it (any spelling
    // of the address names the same key).
    api.ctx
        .secrets
        .set(
            &format!("printer-key:PrusaLink://127.0.0.1:{}/", f.port()),
            &Secret::new(KEY),
        )
        .expect("keep the key");
    let (status, added) = api
        .post("/api/v1/printers", json!({"address": url_of(&f)}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["key_set"], json!(true));
    assert_eq!(added["printer"]["fab"]["state"], "printing");
    api.assert_key_never_answered();
    api.stop().await;
}
