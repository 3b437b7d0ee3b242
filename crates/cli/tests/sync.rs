//! `printscout sync` end to end: the HTTPS upload receiver from testkit on
//! loopback, a real data directory, `sync --now` in its own process while no
//! service runs, then through a running `printscout run` (its loopback API).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use printscout_engine::store::Store;
use printscout_testkit::cmd::{output_with_stdin, shown as text};
use printscout_testkit::service::Service;
use printscout_testkit::upload_server::{Mode, UploadServer};

const TOKEN: &str = "sync-sentinel-token-51c2";

fn printscout(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_printscout"));
    c.args(args)
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("printscout.toml"))
        .env_remove("PRINTSCOUT_LOG");
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        c.env_remove(var);
    }
    output_with_stdin(c, stdin)
}

/// A data directory whose configuration uploads to `server` (its test CA
/// trusted) and keeps secrets in a 0600 file, with the token stored.
fn data_dir(server: &UploadServer) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("printscout.toml"),
        format!(
            "[secrets]\nstore = \"file\"\n\n[proxy]\nmode = \"none\"\n\n[upload]\nurl = \"{}\"\nca_file = \"{}\"\n",
            server.url(),
            server.ca_file().expect("https").display()
        ),
    )
    .expect("write config");
    let o = printscout(
        dir.path(),
        &["secret", "set", "upload-token", "--stdin"],
        Some(TOKEN),
    );
    assert!(o.status.success(), "{}", text(&o));
    dir
}

fn enqueue(dir: &Path, kind: &str, n: usize) -> Vec<i64> {
    let mut s = Store::open_in(dir).expect("store");
    (0..n)
        .map(|i| {
            s.enqueue(kind, 1_700_000_000_000 + i as i64, r#"{"n":1}"#, 1000)
                .expect("enqueue")
        })
        .collect()
}

fn queued(dir: &Path) -> i64 {
    Store::open_in(dir)
        .and_then(|s| s.outbox_summary())
        .map(|s| s.queued)
        .expect("summary")
}

/// `printscout run` over `dir`, once it has written `api.json`.
fn start_service(dir: &Path) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_printscout"));
    command
        .args(["run", "--api-port", "0"])
        .env("PRINTSCOUT_DATA_DIR", dir)
        .env("PRINTSCOUT_CONFIG", dir.join("printscout.toml"))
        .env("PRINTSCOUT_LOG", "info")
        .stdout(Stdio::null());
    let service = Service::spawn(command, &dir.join("service.err"));
    service.wait_until("api.json", Duration::from_secs(30), || {
        dir.join("api.json").is_file()
    });
    service
}

#[test]
fn sync_says_what_is_queued_and_why_it_failed_without_showing_the_token() {
    let server = UploadServer::start_https("127.0.0.131", TOKEN);
    let dir = data_dir(&server);
    enqueue(dir.path(), "meters", 7);

    server.set_mode(Mode::retry_after(503, 30));
    let o = printscout(dir.path(), &["sync", "--now"], None);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("503") && out.contains("[server_error]"),
        "{out}"
    );
    assert!(out.contains("7 items (meters 7)"), "{out}");
    assert!(out.contains("waits for the server's answer"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
    assert_eq!(queued(dir.path()), 7, "nothing leaves before a 2xx");

    server.set_mode(Mode::Unauthorized);
    let o = printscout(dir.path(), &["sync", "--now"], None);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("refused the site token"), "{out}");
    assert!(out.contains("[token_rejected]"), "{out}");

    server.set_mode(Mode::Normal);
    let o = printscout(dir.path(), &["sync", "--now", "--json"], None);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["now"]["by"], "here");
    assert_eq!(v["now"]["sent"]["items"], 7);
    assert_eq!(v["outbox"]["queued"], 0);
    assert_eq!(v["proxy"]["in_use"]["path"], "direct");
    // The batch refused with 503 and 401 went again under the same key.
    let keys = server.keys_applied();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = keys.keys().next().expect("a key").clone();
    assert!(
        server
            .uploads()
            .iter()
            .all(|r| r.idempotency_key() == Some(key.as_str())),
        "every attempt carried the same Idempotency-Key"
    );
    let files = walk(dir.path());
    for (path, bytes) in files {
        if path.ends_with("secrets.json") {
            continue;
        }
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the token is in {}",
            path.display()
        );
    }
}

#[test]
fn sync_now_asks_the_running_service_which_uploads_everything_once() {
    let server = UploadServer::start_https("127.0.0.132", TOKEN);
    let dir = data_dir(&server);
    let first = enqueue(dir.path(), "status", 5);
    let service = start_service(dir.path());
    // The service's first round starts at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    while queued(dir.path()) > 0 {
        assert!(Instant::now() < deadline, "the service did not upload");
        std::thread::sleep(Duration::from_millis(100));
    }
    let more = enqueue(dir.path(), "event", 3);
    let o = printscout(dir.path(), &["sync", "--now"], None);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("done by the running service"), "{out}");
    assert!(out.contains("Queue        empty"), "{out}");
    drop(service);

    let applied = server.applied();
    for seq in first.iter().chain(&more) {
        let n = applied
            .iter()
            .filter(|((_, s), _)| s == seq)
            .map(|(_, n)| *n)
            .sum::<u32>();
        assert_eq!(n, 1, "seq {seq} applied {n} times: {applied:?}");
    }
    let o = printscout(dir.path(), &["sync", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v["state"]["last_success"].is_i64(), "{v}");
    assert!(v["state"]["failure"].is_null(), "{v}");
}

fn walk(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}
