//! `printscout read octoprint://… | moonraker://… | prusalink://…` end to end:
//! the built binary against a tiny stub printer on loopback (a thread in this
//! test answering the documented JSON and recording the headers it got).
//!
//! What is checked: where the key comes from (`--key-env`, the file secret
//! store, none) and that it reaches the printer only as `X-Api-Key` and is
//! never printed; the stable codes (`fab_needs_key`, `fab_rejected`,
//! `fab_connect_failed`) and exit statuses (1 for a printer that cannot be
//! read, 2 for a bad address or option); the human summary and `--json`
//! reading; `--history` as a table, and the note for printers that keep none.
//!
//! Keys contain `SENTIN`, so a leak is a substring search away. Every run has
//! its own HOME, data directory and a session bus that does not exist, so the
//! user's keychain is never touched.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use printscout_testkit::cmd::{output_with_stdin, shown};

const KEY: &str = "SENTINEL-octo-key-51f2";
const FILE_STORE: &str = "[secrets]\nstore = \"file\"\n";

/// One request the stub printer got.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    /// Header names in lower case, values as sent.
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Route = fn(&Seen) -> (u16, String);

/// A stub printer: HTTP/1.1 on 127.0.0.1, one answer per connection, every
/// request recorded. The accept thread ends with the test process.
struct Stub {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    fn start(route: Route) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub printer");
        let port = listener.local_addr().expect("its address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || answer(stream, route, &log));
            }
        });
        Stub { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("the request log").clone()
    }
}

fn answer(stream: TcpStream, route: Route, log: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
        }
    }
    let request = Seen { path, headers };
    let (status, body) = route(&request);
    log.lock().expect("the request log").push(request);
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = &stream;
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body.as_bytes());
    let _ = out.flush();
}

/// OctoPrint 1.11 printing `tiny.gcode`, as its REST API answers a
/// non-admin key (403 for `/api/system/info`); every route refuses a wrong
/// or missing key with 403, as OctoPrint does.
fn octoprint(r: &Seen) -> (u16, String) {
    if r.header("x-api-key") != Some(KEY) {
        return (
            403,
            r#"{"error":"You don't have the permission to access the requested resource."}"#.into(),
        );
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let body = match path {
        "api/system/info" => return (403, r#"{"error":"Forbidden"}"#.into()),
        "api/version" => r#"{"api":"0.1","server":"1.11.8","text":"OctoPrint 1.11.8"}"#,
        "api/printer" => {
            r#"{"sd":{"ready":false},"state":{"error":"","text":"Printing","flags":{"cancelling":false,"closedOrError":false,"error":false,"finishing":false,"operational":true,"paused":false,"pausing":false,"printing":true,"ready":false,"resuming":false,"sdReady":false}},"temperature":{"bed":{"actual":60.1,"offset":0,"target":60.0},"tool0":{"actual":199.0,"offset":0,"target":200.0}}}"#
        }
        "api/job" => {
            r#"{"job":{"file":{"name":"tiny.gcode","origin":"local","size":106},"user":"admin"},"progress":{"completion":51.88,"filepos":55,"printTime":754,"printTimeLeft":700},"state":"Printing"}"#
        }
        "api/files" => {
            r#"{"files":[{"name":"tiny.gcode","display":"tiny.gcode","path":"tiny.gcode","origin":"local","type":"machinecode","typePath":["machinecode","gcode"],"size":106,"date":1795268000,"prints":{"failure":0,"last":{"date":1795268872.0,"printTime":6.04,"success":true},"success":1}}],"free":1000000,"total":2000000}"#
        }
        _ => return (404, r#"{"error":"Not found"}"#.into()),
    };
    (200, body.into())
}

/// Moonraker with Klipper ready and printing `cube.gcode`; no key asked
/// (a trusted client), two jobs in its history.
fn moonraker(r: &Seen) -> (u16, String) {
    let path = r.path.split('?').next().unwrap_or_default();
    let body = match path {
        "server/info" => {
            r#"{"result":{"klippy_connected":true,"klippy_state":"ready","components":["history"],"failed_components":[],"warnings":[],"moonraker_version":"v0.9.3-1","api_version":[1,5,0],"api_version_string":"1.5.0"}}"#
        }
        "printer/info" => {
            r#"{"result":{"state":"ready","state_message":"Printer is ready","hostname":"voron","software_version":"v0.12.0-1","cpu_info":"4 core ARMv7","klipper_path":"/home/pi/klipper","python_path":"/home/pi/klippy-env/bin/python","log_file":"/tmp/klippy.log","config_file":"/home/pi/printer.cfg"}}"#
        }
        "printer/objects/query" => {
            r#"{"result":{"eventtime":5.2,"status":{"print_stats":{"filename":"cube.gcode","total_duration":130.0,"print_duration":120.5,"filament_used":345.6,"state":"printing","message":"","info":{"total_layer":null,"current_layer":null}},"virtual_sdcard":{"file_path":"/home/pi/gcodes/cube.gcode","progress":0.25,"is_active":true,"file_position":100,"file_size":400},"display_status":{"progress":0.25,"message":null},"webhooks":{"state":"ready","state_message":"Printer is ready"},"extruder":{"temperature":210.1,"target":210.0},"heater_bed":{"temperature":60.0,"target":60.0}}}}"#
        }
        "server/history/list" => {
            r#"{"result":{"count":2,"jobs":[{"job_id":"000002","user":"_TRUSTED_USER_","filename":"cube.gcode","exists":true,"status":"in_progress","start_time":1795268000.0,"end_time":null,"print_duration":120.5,"total_duration":130.0,"filament_used":345.6,"metadata":{},"auxiliary_data":[]},{"job_id":"000001","user":"_TRUSTED_USER_","filename":"benchy.gcode","exists":true,"status":"completed","start_time":1795260000.0,"end_time":1795263600.0,"print_duration":3500.0,"total_duration":3600.0,"filament_used":1520.3,"metadata":{},"auxiliary_data":[]}]}}"#
        }
        _ => {
            return (
                404,
                r#"{"error":{"code":404,"message":"Not Found"}}"#.into(),
            );
        }
    };
    (200, body.into())
}

/// Runs `printscout ARGS` with a private HOME, a file secret store in `dir`,
/// no session bus, extra environment, and stdin (none: not a terminal).
fn printscout(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let cfg = dir.join("printscout.toml");
    std::fs::write(&cfg, FILE_STORE).expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_printscout"));
    command
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.join("no-bus").display()),
        )
        .env_remove("PRINTSCOUT_LOG")
        .env_remove("PRINTSCOUT_CONFIG")
        .env_remove("PRINTSCOUT_DATA_DIR");
    for (k, v) in env {
        command.env(k, v);
    }
    output_with_stdin(command, stdin)
}

fn assert_no_key(o: &Output) {
    let all = shown(o);
    assert!(!all.contains("SENTIN"), "a key was printed:\n{all}");
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", shown(o)))
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn a_key_from_key_env_reaches_the_printer_as_x_api_key_and_is_never_printed() {
    let stub = Stub::start(octoprint);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("octoprint://127.0.0.1:{}", stub.port);
    let env = [("PS_TEST_OCTO_KEY", KEY)];

    let o = printscout(
        dir.path(),
        &["read", &url, "--key-env", "PS_TEST_OCTO_KEY", "--json"],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let seen = stub.seen();
    assert!(!seen.is_empty(), "the printer was asked");
    for r in &seen {
        assert_eq!(r.header("x-api-key"), Some(KEY), "{r:?}");
        assert!(
            !r.path.contains("SENTIN"),
            "the key is never in a URL: {r:?}"
        );
    }
    let v = json(&o);
    assert_eq!(v["target"], url.as_str());
    assert_eq!(v["protocol"], "octoprint");
    assert_eq!(v["device_kind"], "3d_printer");
    assert_eq!(v["fab"]["state"], "printing");
    assert_eq!(v["fab"]["state_text"], "Printing");
    assert_eq!(v["fab"]["job"]["name"], "tiny.gcode");
    assert!(
        v["stats"]["requests"].as_u64().is_some_and(|n| n >= 2),
        "{v}"
    );
    assert!(v["stats"]["bytes_received"].as_u64().is_some(), "{v}");
    eprintln!(
        "octoprint status poll: {} requests, {} ms, {} bytes sent, {} received",
        v["stats"]["requests"],
        v["stats"]["elapsed_ms"],
        v["stats"]["bytes_sent"],
        v["stats"]["bytes_received"]
    );

    // The summary a person reads: the state with the printer's words, the
    // job with progress, the temperatures.
    let o = printscout(
        dir.path(),
        &["read", &url, "--key-env", "PS_TEST_OCTO_KEY"],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("a 3D printer"), "{out}");
    assert!(
        out.contains("printing (the printer says \"Printing\")"),
        "{out}"
    );
    assert!(out.contains("job: tiny.gcode · 51.9%"), "{out}");
    assert!(out.contains("12m 34s printed"), "{out}");
    assert!(out.contains("tool0 199.0/200.0 °C"), "{out}");
    eprintln!("{out}");

    // One history poll: OctoPrint's per-file statistics, with the key too.
    let o = printscout(
        dir.path(),
        &[
            "read",
            &url,
            "--key-env",
            "PS_TEST_OCTO_KEY",
            "--history",
            "--json",
        ],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let v = json(&o);
    assert_eq!(v["kept_by_printer"], true);
    let jobs = v["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{v}");
    assert_eq!(jobs[0]["name"], "tiny.gcode");
    assert_eq!(jobs[0]["result"], "completed");
    eprintln!(
        "octoprint history poll: {} requests, {} ms, {} bytes sent, {} received",
        v["stats"]["requests"],
        v["stats"]["elapsed_ms"],
        v["stats"]["bytes_sent"],
        v["stats"]["bytes_received"]
    );
    assert!(
        stub.seen()
            .iter()
            .all(|r| r.header("x-api-key") == Some(KEY))
    );
}

#[test]
fn an_unset_key_env_variable_fails_naming_the_variable() {
    let stub = Stub::start(octoprint);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("octoprint://127.0.0.1:{}", stub.port);
    for env in [vec![], vec![("PS_TEST_NO_SUCH_KEY", "")]] {
        let o = printscout(
            dir.path(),
            &["read", &url, "--key-env", "PS_TEST_NO_SUCH_KEY", "--json"],
            &env,
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("PS_TEST_NO_SUCH_KEY"), "{err}");
        assert!(err.contains("not set or is empty"), "{err}");
    }
    assert!(stub.seen().is_empty(), "nothing was sent without the key");
}

#[test]
fn a_key_kept_in_the_file_secret_store_is_used_when_no_key_env_is_given() {
    let stub = Stub::start(octoprint);
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    // Stored under the address as a user may write it; read under another
    // spelling of the same printer.
    let name = format!("printer-key:octoprint://127.0.0.1:{}/", stub.port);
    let o = printscout(d, &["secret", "set", &name], &[], Some(&format!("{KEY}\n")));
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let canonical = format!("printer-key:octoprint://127.0.0.1:{}", stub.port);
    assert!(shown(&o).contains(&canonical), "{}", shown(&o));

    let url = format!("OctoPrint://127.0.0.1:{}", stub.port);
    let o = printscout(d, &["read", &url, "--json"], &[], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let seen = stub.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|r| r.header("x-api-key") == Some(KEY)),
        "{seen:?}"
    );
    assert_eq!(json(&o)["fab"]["state"], "printing");

    // --key-env comes first: a wrong key there is used (and rejected), not
    // the stored one.
    let o = printscout(
        d,
        &["read", &url, "--key-env", "PS_TEST_WRONG", "--json"],
        &[("PS_TEST_WRONG", "SENTINEL-wrong")],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    assert_no_key(&o);
    assert_eq!(json(&o)["code"], "fab_rejected");
}

#[test]
fn a_wrong_api_key_is_rejected_not_offline() {
    let stub = Stub::start(octoprint);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("octoprint://127.0.0.1:{}", stub.port);
    let o = printscout(
        dir.path(),
        &["read", &url, "--key-env", "PS_TEST_KEY", "--json"],
        &[("PS_TEST_KEY", "SENTINEL-not-the-key")],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    assert_no_key(&o);
    let v = json(&o);
    assert_eq!(v["code"], "fab_rejected", "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("rejected")),
        "{v}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "printscout secret set printer-key:octoprint://127.0.0.1:{}",
            stub.port
        )),
        "{err}"
    );
}

#[test]
fn an_octoprint_without_a_key_fails_with_fab_needs_key_and_says_how_to_give_one() {
    let stub = Stub::start(octoprint);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("octoprint://127.0.0.1:{}", stub.port);
    let o = printscout(dir.path(), &["read", &url, "--json"], &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    let v = json(&o);
    assert_eq!(v["code"], "fab_needs_key", "{v}");
    assert_eq!(v["target"], url.as_str());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--key-env"), "{err}");
    assert!(err.contains("API key"), "{err}");
    assert!(
        err.contains(&format!(
            "printscout secret set printer-key:octoprint://127.0.0.1:{}",
            stub.port
        )),
        "{err}"
    );
    assert!(stub.seen().is_empty(), "nothing is sent without a key");
}

#[test]
fn a_moonraker_needs_no_key_and_its_history_is_a_table_of_jobs() {
    let stub = Stub::start(moonraker);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("moonraker://127.0.0.1:{}", stub.port);
    let o = printscout(dir.path(), &["read", &url, "--json"], &[], None);
    assert!(o.status.success(), "{}", shown(&o));
    let v = json(&o);
    assert_eq!(v["protocol"], "moonraker");
    assert_eq!(v["fab"]["state"], "printing");
    assert_eq!(v["fab"]["job"]["name"], "cube.gcode");
    assert!(stub.seen().iter().all(|r| r.header("x-api-key").is_none()));
    eprintln!(
        "moonraker status poll: {} requests, {} ms, {} bytes sent, {} received",
        v["stats"]["requests"],
        v["stats"]["elapsed_ms"],
        v["stats"]["bytes_sent"],
        v["stats"]["bytes_received"]
    );

    let o = printscout(
        dir.path(),
        &["read", &url, "--history", "--json"],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", shown(&o));
    let v = json(&o);
    assert_eq!(v["kept_by_printer"], true);
    let jobs = v["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 2, "{v}");
    assert_eq!(jobs[1]["result"], "completed");
    assert_eq!(jobs[1]["name"], "benchy.gcode");
    eprintln!(
        "moonraker history poll: {} requests, {} ms, {} bytes sent, {} received",
        v["stats"]["requests"],
        v["stats"]["elapsed_ms"],
        v["stats"]["bytes_sent"],
        v["stats"]["bytes_received"]
    );

    let o = printscout(dir.path(), &["read", &url, "--history"], &[], None);
    assert!(o.status.success(), "{}", shown(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 job(s) in the printer's history"), "{out}");
    let benchy = out
        .lines()
        .find(|l| l.contains("benchy.gcode"))
        .unwrap_or_else(|| panic!("no benchy row in\n{out}"));
    assert!(
        benchy.contains("completed") && benchy.contains("58m 20s"),
        "{out}"
    );
    eprintln!("{out}");
}

#[test]
fn the_history_of_a_printer_that_keeps_none_says_it_is_built_from_state_changes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("prusalink://127.0.0.1:{}", closed_port());
    let env = [("PS_TEST_PRUSA", "SENTINEL-prusa-pw")];
    let args = [
        "read",
        url.as_str(),
        "--key-env",
        "PS_TEST_PRUSA",
        "--history",
    ];
    let o = printscout(dir.path(), &args, &env, None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_key(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("keep no job history") && out.contains("state changes"),
        "{out}"
    );

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let o = printscout(dir.path(), &with_json, &env, None);
    assert!(o.status.success(), "{}", shown(&o));
    let v = json(&o);
    assert_eq!(v["kept_by_printer"], false);
    assert_eq!(v["jobs"], serde_json::json!([]));
}

#[test]
fn a_refused_connection_is_fab_connect_failed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("octoprint://127.0.0.1:{}", closed_port());
    let o = printscout(
        dir.path(),
        &["read", &url, "--key-env", "PS_TEST_KEY", "--json"],
        &[("PS_TEST_KEY", KEY)],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    assert_no_key(&o);
    assert_eq!(json(&o)["code"], "fab_connect_failed");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn a_bad_address_or_option_is_bad_usage_and_never_echoes_a_key() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (url, why) in [
        ("octoprint://127.0.0.1:9/api/job", "path"),
        ("bambu://127.0.0.1", "serial"),
        ("octoprint://admin:SENTINEL-in-url@127.0.0.1:9", "--key-env"),
    ] {
        let o = printscout(dir.path(), &["read", url, "--json"], &[], None);
        assert_eq!(o.status.code(), Some(2), "{url}: {}", shown(&o));
        assert_no_key(&o);
        assert!(o.stdout.is_empty(), "{url}: {}", shown(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{url}: {err}");
    }
    let o = printscout(dir.path(), &["read", "127.0.0.1:9", "--history"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    assert!(shown(&o).contains("job history"), "{}", shown(&o));

    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    let ca = not_pem.display().to_string();
    let o = printscout(
        dir.path(),
        &["read", "moonraker://127.0.0.1:9", "--ca-file", &ca],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    assert!(shown(&o).contains("PEM"), "{}", shown(&o));
}

#[test]
fn odd_json_from_a_printer_is_a_bad_response_not_a_crash() {
    fn junk(r: &Seen) -> (u16, String) {
        match r.path.split('?').next().unwrap_or_default() {
            "server/info" => (
                200,
                r#"{"result":{"klippy_state":["not","a","word"],"moonraker_version":7}}"#.into(),
            ),
            "printer/objects/query" => (200, "\u{0}\u{1}not json at all".into()),
            _ => (200, r#"[1,2,{"result":null}"#.into()),
        }
    }
    let stub = Stub::start(junk);
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("moonraker://127.0.0.1:{}", stub.port);
    for extra in [&[][..], &["--history"][..]] {
        let mut args = vec!["read", url.as_str(), "--json"];
        args.extend_from_slice(extra);
        let o = printscout(dir.path(), &args, &[], None);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", shown(&o));
        let v = json(&o);
        if o.status.code() == Some(1) {
            assert!(
                v["code"].as_str().is_some_and(|c| c.starts_with("fab_")),
                "{v}"
            );
        }
        assert!(!shown(&o).contains("panicked"), "{}", shown(&o));
    }
}
