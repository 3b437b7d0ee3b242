//! `printscout scan` end to end on loopback, against real net-snmp `snmpd`
//! agents on addresses of 127.0.0.0/8 (every test uses its own /24 and its own
//! port so they can run in parallel). Broadcast, gateway and DNS-SD need a
//! network of their own: they are tested in `netns_lab.rs`.

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use printscout_testkit::cmd::shown as text;
use printscout_testkit::{Snmpd, free_udp_port, recordings_dir};

fn printscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run printscout")
}

fn at(net: &str, host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(format!("{net}.{host}").parse().expect("address"), port)
}

fn agent(recording: &str, community: &str, addrs: &[SocketAddr]) -> Snmpd {
    Snmpd::start(&recordings_dir().join(recording), community, addrs)
}

fn json(o: &Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON array ({e}):\n{}", text(o)))
}

fn device<'a>(all: &'a [serde_json::Value], address: &str) -> &'a serde_json::Value {
    all.iter()
        .find(|d| d["address"] == address)
        .unwrap_or_else(|| panic!("no device at {address} in {all:#?}"))
}

#[test]
fn a_sweep_finds_every_printer_with_the_credential_that_answered_and_classifies_the_rest() {
    let port = free_udp_port();
    let net = "127.0.61";
    let _mono = agent("mono-laser.snmprec", "public", &[at(net, 10, port)]);
    let _colour = agent("colour-mfp.snmprec", "back0ffice", &[at(net, 20, port)]);
    let _server = agent(
        "windows-print-server.snmprec",
        "public",
        &[at(net, 30, port)],
    );
    let out = printscout(&[
        "scan",
        &format!("{net}.0/24"),
        "--port",
        &port.to_string(),
        "-c",
        "public",
        "-c",
        "back0ffice",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let all = json(&out);
    assert_eq!(all.len(), 3, "three responders, nothing else: {all:#?}");
    let mono = device(&all, "127.0.61.10");
    assert_eq!(mono["is_printer"], true);
    assert_eq!(mono["identity"]["serial"], "VNBZZ00421");
    assert_eq!(mono["identity"]["model"], "LaserJet Pro M404dn");
    assert_eq!(mono["credential"], "public");
    assert_eq!(mono["found_by"], serde_json::json!(["sweep"]));
    assert_eq!(mono["reading"]["counters"]["total"], 48213);
    let colour = device(&all, "127.0.61.20");
    assert_eq!(
        colour["credential"], "community #2",
        "only the second community works there"
    );
    assert_eq!(colour["identity"]["serial"], "AA2JZZ00042");
    let server = device(&all, "127.0.61.30");
    assert_eq!(server["is_printer"], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("back0ffice"),
        "a community value reached the output"
    );
}

#[test]
fn the_table_lists_printers_and_all_adds_the_other_devices() {
    let port = free_udp_port();
    let net = "127.0.62";
    let _mono = agent("mono-laser.snmprec", "public", &[at(net, 10, port)]);
    let _server = agent(
        "windows-print-server.snmprec",
        "public",
        &[at(net, 11, port)],
    );
    let range = format!("{net}.5-{net}.15");
    let out = printscout(&["scan", &range, "--port", &port.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("ADDRESS"), "{table}");
    assert!(
        table.contains("127.0.62.10") && table.contains("VNBZZ00421"),
        "{table}"
    );
    assert!(
        !table.contains("127.0.62.11"),
        "a print server is not a printer: {table}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 printer and 1 other device found"),
        "{stderr}"
    );
    let all = printscout(&["scan", &range, "--port", &port.to_string(), "--all"]);
    let table = String::from_utf8_lossy(&all.stdout);
    assert!(
        table.contains("127.0.62.11") && table.contains("not a printer"),
        "{table}"
    );
}

#[test]
fn a_device_answering_at_two_addresses_is_reported_once_with_both() {
    let port = free_udp_port();
    let net = "127.0.63";
    let _twice = agent(
        "mono-laser.snmprec",
        "public",
        &[at(net, 7, port), at(net, 8, port)],
    );
    let out = printscout(&[
        "scan",
        &format!("{net}.1-20"),
        &format!("{net}.8"),
        "--port",
        &port.to_string(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let all = json(&out);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        all[0]["addresses"],
        serde_json::json!(["127.0.63.7", "127.0.63.8"])
    );
    assert_eq!(all[0]["address"], "127.0.63.7");
    assert_eq!(all[0]["found_by"], serde_json::json!(["sweep", "manual"]));
}

#[test]
fn a_single_address_or_host_name_is_a_target_found_by_hand() {
    let port = free_udp_port();
    let _mono = agent("mono-laser.snmprec", "public", &[at("127.0.0", 1, port)]);
    for target in ["127.0.0.1", "localhost"] {
        let out = printscout(&["scan", target, "--port", &port.to_string(), "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let all = json(&out);
        assert_eq!(all.len(), 1, "{target}: {all:#?}");
        assert_eq!(all[0]["found_by"], serde_json::json!(["manual"]));
        assert_eq!(all[0]["identity"]["serial"], "VNBZZ00421");
    }
    let silent = printscout(&["scan", "127.0.0.9", "--port", &port.to_string(), "--json"]);
    assert!(silent.status.success(), "{}", text(&silent));
    assert!(json(&silent).is_empty());
    let stderr = String::from_utf8_lossy(&silent.stderr);
    assert!(stderr.contains("127.0.0.9 did not answer SNMP"), "{stderr}");
}

#[test]
fn bad_targets_and_options_are_refused_with_the_bad_part_named() {
    let cases: [(&[&str], &str); 8] = [
        (&["scan", "10.0.0.0/33"], "'10.0.0.0/33'"),
        (&["scan", "10.0.5.0/2x"], "'2x'"),
        (&["scan", "10.0.0.50-10.0.0.10"], "comes before"),
        (&["scan", "10.0.0.1-999"], "'999'"),
        (&["scan", "10.0.0.0/15"], "add --yes"),
        (&["scan", "8.8.8.0/24"], "--allow-public"),
        (
            &["scan", "--broadcast", "-i", "no-such-if0"],
            "'no-such-if0'",
        ),
        (&["scan", "--gateway", "10.0.0.0/24"], "--gateway lists"),
    ];
    for (args, needle) in cases {
        let out = printscout(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
    }
}

#[test]
fn ctrl_c_ends_the_scan_cleanly_with_what_was_found_so_far() {
    let port = free_udp_port();
    let _mono = agent("mono-laser.snmprec", "public", &[at("127.0.64", 3, port)]);
    // 4,094 addresses at 100 packets/s would take 40 s.
    let child = Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args([
            "scan",
            "127.0.64.0/20",
            "--port",
            &port.to_string(),
            "--rate",
            "100",
            "--concurrency",
            "8",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start printscout");
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("printscout ends");
    assert!(started.elapsed() < Duration::from_secs(10), "it stopped");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let all = json(&out);
    assert_eq!(
        all.len(),
        1,
        "the printer found before Ctrl-C is kept: {all:#?}"
    );
    assert_eq!(all[0]["identity"]["serial"], "VNBZZ00421");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn a_reply_is_only_accepted_from_the_address_that_was_asked() {
    // A relay on 127.0.65.1 passes requests to a real agent and sends the agent's
    // answer back from 127.0.65.2: a scan of 127.0.65.1 must not take it.
    let port = free_udp_port();
    let agent_addr = at("127.0.65", 9, port);
    let _mono = agent("mono-laser.snmprec", "public", &[agent_addr]);
    let listen = std::net::UdpSocket::bind(at("127.0.65", 1, port)).expect("bind relay");
    let wrong = std::net::UdpSocket::bind(at("127.0.65", 2, 0)).expect("bind wrong source");
    let upstream = std::net::UdpSocket::bind(at("127.0.65", 3, 0)).expect("bind upstream");
    upstream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    listen
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let relay = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            let mut relayed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = listen.recv_from(&mut buf) else {
                    continue;
                };
                if upstream.send_to(&buf[..n], agent_addr).is_err() {
                    continue;
                }
                if let Ok((m, _)) = upstream.recv_from(&mut buf) {
                    let _ = wrong.send_to(&buf[..m], from);
                    relayed += 1;
                }
            }
            relayed
        })
    };
    let out = printscout(&["scan", "127.0.65.1", "--port", &port.to_string(), "--json"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let relayed = relay.join().expect("relay thread");
    assert!(relayed > 0, "the relay never answered");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        json(&out).is_empty(),
        "a reply from 127.0.65.2 was taken as 127.0.65.1's: {}",
        text(&out)
    );
}
