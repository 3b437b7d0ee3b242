//! `printscout run`, `devices`, `history` and `export` end to end: real
//! net-snmp `snmpd` agents on loopback addresses (each test its own /24 and
//! port), a real SQLite data directory, the service as a child process
//! stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use printscout_testkit::cmd::shown as text;
use printscout_testkit::service::Service;
use printscout_testkit::{Snmpd, free_udp_port, recordings_dir};

fn printscout(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(args)
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("none.toml"))
        .env_remove("PRINTSCOUT_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout")
}

fn at(net: &str, host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(format!("{net}.{host}").parse().expect("address"), port)
}

fn agent(recording: &str, addrs: &[SocketAddr]) -> Snmpd {
    Snmpd::start(&recordings_dir().join(recording), "public", addrs)
}

/// A data directory with a configuration that polls `port` and, when given,
/// rediscovers `networks` by sweep only (no broadcast or DNS-SD outside a
/// namespace).
fn data_dir(port: u16, networks: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let nets = networks
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        dir.path().join("none.toml"),
        format!(
            "[snmp]\nport = {port}\ntimeout = \"500ms\"\nretries = 0\n\n\
             [discovery]\nnetworks = [{nets}]\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n"
        ),
    )
    .expect("write config");
    dir
}

fn add(data: &Path, addr: SocketAddr) {
    let out = printscout(data, &["devices", "add", &addr.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
}

fn devices(data: &Path) -> Vec<serde_json::Value> {
    let out = printscout(data, &["devices", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&out)))
}

/// `printscout run` over `data` with `extra` arguments; stderr in `<data>/service.err`.
fn start_service(data: &Path, extra: &[&str]) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_printscout"));
    command
        .args(["run", "--catch-up-window", "1s", "--api-port", "0"])
        .args(extra)
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("none.toml"))
        .stdout(Stdio::piped());
    Service::spawn(command, &data.join("service.err"))
}

fn wait_until(what: &str, service: &Service, done: impl FnMut() -> bool) {
    service.wait_until(what, Duration::from_secs(30), done);
}

#[test]
fn the_service_polls_the_devices_added_beside_it_and_stops_cleanly_on_sigterm() {
    let port = free_udp_port();
    let net = "127.0.81";
    let _mono = agent("mono-laser.snmprec", &[at(net, 10, port)]);
    let _colour = agent("colour-mfp.snmprec", &[at(net, 11, port)]);
    let dir = data_dir(port, &[]);
    let data = dir.path();
    add(data, at(net, 10, port));
    let service = start_service(
        data,
        &[
            "--status-every",
            "1s",
            "--meters-every",
            "2s",
            "--report-every",
            "2s",
        ],
    );
    // Added while the service runs: it notices without a restart.
    add(data, at(net, 11, port));
    wait_until("a second full read of both devices", &service, || {
        let out = printscout(data, &["history", "AA2JZZ00042", "--json"]);
        let mono = printscout(data, &["history", "VNBZZ00421", "--json"]);
        [out, mono].iter().all(|o| {
            serde_json::from_slice::<serde_json::Value>(&o.stdout)
                .ok()
                .and_then(|h| h["readings"].as_array().map(|r| r.len() >= 3))
                .unwrap_or(false)
        })
    });
    let list = devices(data);
    assert_eq!(list.len(), 2, "{list:#?}");
    for d in &list {
        assert_eq!(d["status"], "ok", "{d:#?}");
        assert_eq!(d["credential_name"], "public");
        assert!(
            d.get("credential").is_none(),
            "the credential itself is never shown"
        );
    }
    // Exports work while the service writes.
    let out_file = data.join("meters.xlsx");
    let out = printscout(
        data,
        &[
            "export",
            "--format",
            "xlsx",
            "--out",
            out_file.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(&out_file).expect("xlsx").starts_with(b"PK"));
    let csv_file = data.join("meters.csv");
    let out = printscout(
        data,
        &[
            "export",
            "--format",
            "csv",
            "--out",
            csv_file.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(&csv_file).expect("csv");
    assert!(
        csv.contains("VNBZZ00421") && csv.contains(",48213,48213,0,"),
        "{csv}"
    );
    wait_until(
        "the scheduled report in the data directory",
        &service,
        || {
            std::fs::read_dir(data.join("reports")).is_ok_and(|d| {
                let names: Vec<String> = d
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.iter().any(|n| n.ends_with(".xlsx"))
                    && names.iter().any(|n| n.ends_with(".csv"))
            })
        },
    );
    let status = service.stop();
    assert!(status.success(), "exit status {status:?}");
    let logs: Vec<_> = std::fs::read_dir(data.join("logs"))
        .expect("log directory")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(logs.len(), 1, "one log file");
    let log = std::fs::read_to_string(logs[0].path()).expect("log");
    assert!(
        log.contains("collector running") && log.contains("stopped"),
        "{log}"
    );
    assert!(!log.contains("public\""), "no community value in the log");
    // The database is consistent after the stop.
    let store = printscout_engine::store::Store::open_in(data).expect("open the database");
    let check: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
}

#[test]
fn a_printer_that_moves_to_another_address_is_followed_by_rediscovery() {
    let port = free_udp_port();
    let net = "127.0.82";
    let dir = data_dir(port, &["127.0.82.0/24"]);
    let data = dir.path();
    {
        let _before = agent("mono-laser.snmprec", &[at(net, 10, port)]);
        add(data, at(net, 10, port));
    }
    // DHCP gave it another address.
    let _after = agent("mono-laser.snmprec", &[at(net, 20, port)]);
    let service = start_service(data, &["--status-every", "2s", "--rediscover-every", "1h"]);
    let moved = at(net, 20, port).to_string();
    wait_until("the device at its new address", &service, || {
        devices(data).iter().any(|d| d["address"] == moved.as_str())
    });
    assert!(service.stop().success());
    let list = devices(data);
    assert_eq!(list.len(), 1, "one device, not two: {list:#?}");
    let out = printscout(data, &["history", "VNBZZ00421", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let addrs: Vec<&str> = h["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|a| a[0].as_str())
        .collect();
    assert_eq!(addrs, [moved.as_str(), &at(net, 10, port).to_string()]);
    assert!(
        h["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "address_changed"),
        "{h:#?}"
    );
}

#[test]
fn two_printers_that_swap_addresses_stay_two_printers() {
    let port = free_udp_port();
    let net = "127.0.83";
    let dir = data_dir(port, &[]);
    let data = dir.path();
    {
        let _a = agent("mono-laser.snmprec", &[at(net, 10, port)]);
        let _b = agent("colour-mfp.snmprec", &[at(net, 11, port)]);
        add(data, at(net, 10, port));
        add(data, at(net, 11, port));
    }
    let _a = agent("mono-laser.snmprec", &[at(net, 11, port)]);
    let _b = agent("colour-mfp.snmprec", &[at(net, 10, port)]);
    let service = start_service(data, &["--status-every", "1s", "--meters-every", "2s"]);
    let (ten, eleven) = (at(net, 10, port).to_string(), at(net, 11, port).to_string());
    wait_until("both printers at their new addresses", &service, || {
        let list = devices(data);
        list.iter()
            .any(|d| d["serial"] == "VNBZZ00421" && d["address"] == eleven.as_str())
            && list
                .iter()
                .any(|d| d["serial"] == "AA2JZZ00042" && d["address"] == ten.as_str())
    });
    assert!(service.stop().success());
    assert_eq!(devices(data).len(), 2);
}

#[test]
fn a_printer_that_stops_answering_is_offline_after_three_polls_and_back_when_it_answers() {
    let port = free_udp_port();
    let net = "127.0.84";
    let dir = data_dir(port, &[]);
    let data = dir.path();
    let addr = at(net, 10, port);
    let agent_once = agent("mono-laser.snmprec", &[addr]);
    add(data, addr);
    drop(agent_once);
    let service = start_service(data, &["--status-every", "1s", "--meters-every", "1h"]);
    wait_until("the device offline", &service, || {
        devices(data)[0]["offline"] == true
    });
    let _again = agent("mono-laser.snmprec", &[addr]);
    wait_until("the device back", &service, || {
        devices(data)[0]["offline"] == false
    });
    assert!(service.stop().success());
    let out = printscout(data, &["history", "VNBZZ00421", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let kinds: Vec<&str> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "offline").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"back"), "{kinds:?}");
}

#[test]
fn a_configuration_with_an_unknown_key_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("none.toml"),
        "[schedule]\nstatus_evry = \"5m\"\n",
    )
    .expect("write");
    let out = printscout(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("status_evry"),
        "{}",
        text(&out)
    );
}

#[test]
fn removing_a_device_keeps_its_history_out_of_the_list() {
    let port = free_udp_port();
    let net = "127.0.85";
    let _mono = agent("mono-laser.snmprec", &[at(net, 10, port)]);
    let dir = data_dir(port, &[]);
    let data = dir.path();
    add(data, at(net, 10, port));
    let out = printscout(data, &["devices", "remove", "VNBZZ00421"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(devices(data).is_empty());
    let out = printscout(data, &["devices", "--all", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["removed"], true);
    // A device that does not answer is not added without --anyway.
    let out = printscout(
        data,
        &[
            "devices",
            "add",
            &at(net, 99, port).to_string(),
            "--timeout",
            "200ms",
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--anyway"));
}

#[test]
fn the_service_serves_the_api_on_loopback_and_says_where() {
    let dir = data_dir(free_udp_port(), &[]);
    let mut svc = start_service(dir.path(), &[]);
    wait_until("api.json", &svc, || dir.path().join("api.json").is_file());
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("api.json")).expect("api.json"))
            .expect("api.json is JSON");
    let url = info["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token_file = info["token_file"].as_str().expect("token_file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(token_file)
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the token file is readable by its owner only"
        );
    }
    // The first line on stdout names the URL (and where the token is, never the token).
    let mut first = String::new();
    let stdout = svc.stdout().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first)
        .expect("read stdout");
    assert!(first.contains(&url), "{first}");
    let token = std::fs::read_to_string(token_file).expect("token");
    assert!(!first.contains(token.trim()), "the token is never printed");
    let health = Command::new("curl")
        .args(["-s", &format!("{url}api/v1/health")])
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&health.stdout).contains("\"ok\""),
        "{}",
        String::from_utf8_lossy(&health.stdout)
    );
    assert!(svc.stop().success());
}

#[test]
fn a_taken_api_port_stops_the_service_with_a_message_instead_of_moving_elsewhere() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a squatter");
    let port = squatter.local_addr().expect("port").port();
    let dir = data_dir(free_udp_port(), &[]);
    let out = printscout(dir.path(), &["run", "--api-port", &port.to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("port {port}")) && err.contains("already in use"),
        "{}",
        text(&out)
    );
    squatter.set_nonblocking(true).expect("nonblocking");
    assert!(
        squatter.accept().is_err(),
        "nothing connected to the squatter"
    );
}
