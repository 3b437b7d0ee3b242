//! The service monitoring printers beyond SNMP end to end: a real
//! `ippeveprinter` added by its IPP URL and polled by `printscout run` (toner
//! emptied through its web form raises the event at the next status poll), and
//! a PrusaLink fixture (no runnable peer exists) scripted through a print that
//! the service turns into one synthesised job, with
//! a real SQLite data directory and the service as a child process stopped
//! with SIGTERM.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use printscout_testkit::cmd::shown as text;
use printscout_testkit::ippeve::IppEvePrinter;
use printscout_testkit::service::Service;

fn printscout(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(args)
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("config.toml"))
        .env_remove("PRINTSCOUT_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout")
}

/// A data directory whose configuration polls status every second and
/// rediscovers nothing.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[schedule]\nstatus_every = \"1s\"\n\n\
         [discovery]\nnetworks = []\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n\n\
         [secrets]\nstore = \"file\"\n",
    )
    .expect("write config");
    dir
}

fn devices(data: &Path) -> Vec<serde_json::Value> {
    let out = printscout(data, &["devices", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&out)))
}

/// `printscout run` over `data`; stderr in `<data>/service.err`.
fn start_service(data: &Path) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_printscout"));
    command
        .args(["run", "--catch-up-window", "1s", "--api-port", "0"])
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("config.toml"))
        .stdout(Stdio::null());
    Service::spawn(command, &data.join("service.err"))
}

fn wait_until(what: &str, service: &Service, done: impl FnMut() -> bool) {
    service.wait_until(what, Duration::from_secs(30), done);
}

#[test]
fn an_ipp_printer_added_by_its_url_is_polled_over_ipp_and_its_toner_running_out_is_an_event() {
    let printer = IppEvePrinter::start();
    let data = data_dir();
    let url = printer.url();
    let out = printscout(data.path(), &["devices", "add", &url, "--name", "IPP only"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(ipp)"), "{}", text(&out));
    let list = devices(data.path());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["protocol"], "ipp");
    assert_eq!(list[0]["address"], url.as_str());
    assert_eq!(list[0]["status"], "ok", "{list:?}");
    let service = start_service(data.path());
    // Toner empty through the printer's own web form: the next status poll sees it.
    printer.set_supplies(&[100, 0]);
    wait_until("a supply_empty event from a status poll", &service, || {
        let store = printscout_engine::store::Store::open_in(data.path()).expect("open store");
        store
            .events_since(0, 100)
            .expect("events")
            .iter()
            .any(|e| e.kind.as_str() == "supply_empty")
    });
    assert!(service.stop().success());
    let d = &devices(data.path())[0];
    assert_eq!(d["protocol"], "ipp", "still polled over IPP: {d}");
    assert_eq!(d["failures"], 0, "{d}");
}

#[test]
fn a_3d_printer_url_that_nobody_answers_is_refused_unless_added_anyway() {
    let data = data_dir();
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let url = format!("moonraker://127.0.0.1:{port}");
    let out = printscout(data.path(), &["devices", "add", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not added"), "{}", text(&out));
    let out = printscout(data.path(), &["devices", "add", &url, "--anyway"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = devices(data.path());
    assert_eq!(list[0]["protocol"], "moonraker");
    assert_eq!(list[0]["address"], url.as_str());
}

#[test]
fn a_key_given_by_environment_variable_is_kept_in_the_secret_store_never_in_the_database() {
    let data = data_dir();
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let url = format!("octoprint://127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(["devices", "add", &url, "--anyway", "--key-env", "OCTO_KEY"])
        .env("PRINTSCOUT_DATA_DIR", data.path())
        .env("PRINTSCOUT_CONFIG", data.path().join("config.toml"))
        .env("OCTO_KEY", "SENTINEL-OCTO-KEY-123")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("SENTINEL"), "{}", text(&out));
    let secrets = std::fs::read_to_string(data.path().join("secrets.json")).expect("secrets file");
    assert!(secrets.contains("SENTINEL-OCTO-KEY-123"));
    assert!(secrets.contains(&format!("printer-key:octoprint://127.0.0.1:{port}")));
    for entry in std::fs::read_dir(data.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n != "secrets.json") && path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert!(
                !String::from_utf8_lossy(&bytes).contains("SENTINEL-OCTO-KEY"),
                "{} holds the key",
                path.display()
            );
        }
    }
    let out = printscout(
        data.path(),
        &[
            "devices",
            "add",
            &url,
            "--anyway",
            "--key-env",
            "NO_SUCH_VAR_42",
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("NO_SUCH_VAR_42"), "{}", text(&out));
}

/// The PrusaLink fixture in a given state: `job` is `(id, progress, printing s)`.
fn prusa_state(
    f: &printscout_testkit::fab_fixture::FabFixture,
    state: &str,
    job: Option<(u32, f64, u64)>,
) {
    let mut status = serde_json::json!({
        "printer": {"state": state, "temp_bed": 60.0, "target_bed": 60.0,
                    "temp_nozzle": 210.0, "target_nozzle": 210.0}
    });
    match job {
        Some((id, progress, printing)) => {
            status["job"] = serde_json::json!({"id": id, "progress": progress,
                "time_remaining": 600, "time_printing": printing});
            f.set_json(
                "/api/v1/job",
                200,
                &serde_json::json!({"id": id, "state": state, "progress": progress,
                    "time_printing": printing,
                    "file": {"name": "BRACKE~1.BGC", "display_name": "bracket_v3.bgcode",
                             "meta": {"filament used [g]": 12.0, "filament_type": "PETG"}}}),
            );
        }
        None => f.set_route("/api/v1/job", 204, ""),
    }
    f.set_json("/api/v1/status", 200, &status);
}

#[test]
fn a_prusalink_job_seen_by_the_service_becomes_one_job_in_the_store_and_the_export() {
    use printscout_testkit::fab_fixture::{Access, FabFixture};
    let f = FabFixture::start(Access::Digest {
        user: "maker".into(),
        password: "printer-pass-77".into(),
        qop: true,
    });
    f.set_json(
        "/api/v1/info",
        200,
        &serde_json::json!({"name": "MK4 left", "serial": "10589-3742441632105", "hostname": "prusa-mk4"}),
    );
    f.set_json(
        "/api/version",
        200,
        &serde_json::json!({"api": "2.0.0", "server": "2.1.2", "text": "PrusaLink", "firmware": "6.1.3"}),
    );
    prusa_state(&f, "IDLE", None);
    let data = data_dir();
    let url = format!("prusalink://127.0.0.1:{}", f.port());
    let out = Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(["devices", "add", &url, "--key-env", "PRUSA_PASS"])
        .env("PRINTSCOUT_DATA_DIR", data.path())
        .env("PRINTSCOUT_CONFIG", data.path().join("config.toml"))
        .env("PRUSA_PASS", "printer-pass-77")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout");
    assert!(out.status.success(), "{}", text(&out));
    let d = &devices(data.path())[0];
    assert_eq!(d["protocol"], "prusalink");
    assert_eq!(d["serial"], "10589-3742441632105");
    let service = start_service(data.path());
    let jobs = |data: &Path| -> Vec<(String, String)> {
        let store = printscout_engine::store::Store::open_in(data).expect("open store");
        let mut st = store
            .connection()
            .prepare("SELECT coalesce(name, ''), result FROM jobs ORDER BY id")
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    prusa_state(&f, "PRINTING", Some((12, 20.0, 300)));
    wait_until("the running job", &service, || {
        jobs(data.path()) == [("bracket_v3.bgcode".to_string(), "in_progress".to_string())]
    });
    prusa_state(&f, "FINISHED", Some((12, 100.0, 1500)));
    wait_until("the finished job", &service, || {
        jobs(data.path()) == [("bracket_v3.bgcode".to_string(), "completed".to_string())]
    });
    // Sitting on "finished", then idle: still one job.
    std::thread::sleep(Duration::from_millis(2500));
    prusa_state(&f, "IDLE", None);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(service.stop().success());
    assert_eq!(jobs(data.path()).len(), 1, "{:?}", jobs(data.path()));
    let out = printscout(
        data.path(),
        &[
            "export",
            "--format",
            "csv",
            "--out",
            &data.path().join("r.csv").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let jobs_csv = std::fs::read_to_string(data.path().join("r-jobs.csv")).expect("jobs csv");
    assert!(jobs_csv.contains("bracket_v3.bgcode"), "{jobs_csv}");
    assert!(jobs_csv.contains("completed"), "{jobs_csv}");
    let log = std::fs::read_to_string(data.path().join("service.err")).unwrap_or_default();
    assert!(
        !log.contains("printer-pass-77"),
        "the password is in the log"
    );
}

#[test]
fn a_self_signed_ipps_printer_added_with_its_certificate_is_trusted_by_the_service_too() {
    let printer = IppEvePrinter::start();
    let data = data_dir();
    let url = printer.ipps_url();
    let refused = printscout(data.path(), &["devices", "add", &url]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let cert = std::fs::read_dir(printer.dir().join("ssl"))
        .expect("the ssl dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "crt"))
        .expect("the printer's certificate");
    let out = printscout(
        data.path(),
        &[
            "devices",
            "add",
            &url,
            "--ca-file",
            &cert.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        data.path()
            .join("trust")
            .read_dir()
            .expect("trust dir")
            .count()
            == 1
    );
    let first = devices(data.path())[0]["last_status"]
        .as_i64()
        .expect("polled once");
    let service = start_service(data.path());
    wait_until("a status poll over TLS", &service, || {
        let d = &devices(data.path())[0];
        d["last_status"].as_i64().is_some_and(|t| t > first) && d["failures"] == 0
    });
    assert!(service.stop().success());
    assert_eq!(devices(data.path())[0]["protocol"], "ipps");
}

#[test]
fn a_3d_printer_that_rejects_its_key_is_rejected_in_words_and_never_offline() {
    use printscout_testkit::fab_fixture::{Access, FabFixture};
    let digest = |password: &str| Access::Digest {
        user: "maker".into(),
        password: password.into(),
        qop: true,
    };
    let f = FabFixture::start(digest("right-pass-1"));
    f.set_json(
        "/api/v1/info",
        200,
        &serde_json::json!({"serial": "10589-000000001"}),
    );
    f.set_json(
        "/api/version",
        200,
        &serde_json::json!({"api": "2.0.0", "server": "2.1.2"}),
    );
    prusa_state(&f, "IDLE", None);
    let data = data_dir();
    let url = format!("prusalink://127.0.0.1:{}", f.port());
    let out = Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(["devices", "add", &url, "--key-env", "PRUSA_PASS"])
        .env("PRINTSCOUT_DATA_DIR", data.path())
        .env("PRINTSCOUT_CONFIG", data.path().join("config.toml"))
        .env("PRUSA_PASS", "right-pass-1")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout");
    assert!(out.status.success(), "{}", text(&out));
    // Someone changes the printer's password: every poll from now on is refused.
    f.set_access(digest("changed-pass-2"));
    let service = start_service(data.path());
    wait_until("the rejection to be recorded", &service, || {
        devices(data.path())[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("rejected"))
    });
    // Well past offline_after (3) polls at 1 s.
    std::thread::sleep(Duration::from_millis(4500));
    assert!(service.stop().success());
    let d = &devices(data.path())[0];
    assert_eq!(d["offline"], false, "{d}");
    assert_eq!(d["failures"], 0, "{d}");
    assert!(
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("rejected")),
        "{d}"
    );
    let store = printscout_engine::store::Store::open_in(data.path()).expect("open store");
    let events = store.events_since(0, 100).expect("events");
    assert!(
        events.iter().all(|e| e.kind.as_str() != "offline"),
        "{events:?}"
    );
}
