//! The peers start, answer real SNMP requests (checked with net-snmp's own clients) and
//! stop by PID.

use std::path::PathBuf;
use std::time::Duration;

use printscout_testkit::{
    Snmpd, Snmpsim, V3User, free_udp_port, loopback_farm, netsnmp, recordings_dir,
    snmprec_to_snmpd_overrides, stage_recordings, v2c_get_answers,
};

const SERIAL_OID: &str = ".1.3.6.1.2.1.43.5.1.1.17.1";
const MONO_SERIAL: &str = "STRING: \"VNBZZ00421\"";

fn recording(stem: &str) -> PathBuf {
    recordings_dir().join(format!("{stem}.snmprec"))
}

#[test]
fn snmpsim_serves_a_recording_by_community() {
    let sim = Snmpsim::start(&recordings_dir());
    let value = netsnmp::get_v2c(sim.addr, "mono-laser", SERIAL_OID).expect("snmpget");
    assert_eq!(value, MONO_SERIAL);
    let value =
        netsnmp::get_v2c(sim.addr, "colour-mfp", ".1.3.6.1.2.1.43.10.2.1.4.1.1").expect("snmpget");
    assert_eq!(value, "Counter32: 182340");
}

#[test]
fn snmpsim_serves_snmpv3_by_context_and_refuses_a_wrong_key() {
    let users = [
        V3User::auth_priv("ps-sha-aes", "SHA", "auth-key-1234", "AES", "priv-key-1234"),
        V3User::auth_priv(
            "ps-sha256-aes256",
            "SHA256",
            "auth-key-5678",
            "AES256",
            "priv-key-5678",
        ),
        V3User::auth("ps-md5", "MD5", "auth-key-9012"),
    ];
    let sim = Snmpsim::start_with_v3(&recordings_dir(), &users);
    for user in &users {
        let value = netsnmp::get_v3(sim.addr, user, "v3-printer", SERIAL_OID)
            .unwrap_or_else(|e| panic!("{}: {e}", user.user));
        assert_eq!(value, MONO_SERIAL, "{}", user.user);
    }
    let mut wrong = users[0].clone();
    wrong.priv_key = Some("not-the-key-0".into());
    let result = netsnmp::get_v3(sim.addr, &wrong, "v3-printer", SERIAL_OID);
    assert!(result.is_err(), "a wrong privacy key must fail: {result:?}");
}

#[test]
fn snmpsim_answers_the_empty_v3_context_from_self_snmprec() {
    let v3 = recording("v3-printer");
    let staged = stage_recordings(&[&v3], Some(&v3));
    let sim = Snmpsim::start(staged.path());
    let builtin = V3User::auth_priv("simulator", "MD5", "auctoritas", "DES", "privatus");
    let value = netsnmp::get_v3(sim.addr, &builtin, "", SERIAL_OID).expect("snmpget -v3");
    assert_eq!(value, MONO_SERIAL);
}

#[test]
fn snmpd_serves_a_recording_converted_to_overrides() {
    let snmpd = Snmpd::start_on_free_port(&recording("mono-laser"), "public");
    assert_eq!(
        netsnmp::get_v2c(snmpd.addr(), "public", SERIAL_OID).expect("snmpget"),
        MONO_SERIAL
    );
    assert_eq!(
        netsnmp::get_v2c(snmpd.addr(), "public", ".1.3.6.1.2.1.1.3.0").expect("snmpget"),
        "Timeticks: (8640123) 1 day, 0:00:01.23"
    );
    assert_eq!(
        netsnmp::get_v2c(snmpd.addr(), "public", ".1.3.6.1.2.1.43.11.1.1.9.1.1").expect("snmpget"),
        "INTEGER: 5400"
    );
    // ipAdEntAddr and ipAdEntNetMask are IpAddress: override cannot serve them.
    assert_eq!(snmpd.skipped(), 2);
    assert!(
        !v2c_get_answers(snmpd.addr(), "wrong-community", Duration::from_millis(500)),
        "snmpd must not answer another community"
    );
}

#[test]
fn snmpd_serves_only_the_recording_not_the_host() {
    let file = recording("mono-laser");
    let snmpd = Snmpd::start_on_free_port(&file, "public");
    let walked: Vec<String> = netsnmp::walk_v2c(snmpd.addr(), "public", ".1")
        .expect("snmpwalk")
        .into_iter()
        .map(|v| v.oid)
        .collect();
    let text = std::fs::read_to_string(&file).expect("read recording");
    let (overrides, _) = snmprec_to_snmpd_overrides(&text);
    let expected: Vec<String> = overrides
        .lines()
        .filter_map(|l| l.strip_prefix("override "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        walked, expected,
        "snmpd served something beyond the recording"
    );
}

#[test]
fn snmpd_and_snmpsim_serve_the_same_values_for_every_recording() {
    let sim = Snmpsim::start(&recordings_dir());
    for stem in stems() {
        let snmpd = Snmpd::start_on_free_port(&recording(&stem), "public");
        let from_snmpd = netsnmp::walk_v2c(snmpd.addr(), "public", ".1.3.6.1").expect("walk snmpd");
        let from_sim = netsnmp::walk_v2c(sim.addr, &stem, ".1.3.6.1").expect("walk snmpsim");
        let served_by_sim: Vec<_> = from_sim
            .iter()
            .filter(|v| !v.value.starts_with("IpAddress:") && !v.value.starts_with("Counter64:"))
            .cloned()
            .collect();
        assert_eq!(
            from_snmpd, served_by_sim,
            "{stem}: snmpd and snmpsim differ"
        );
        assert_eq!(
            from_sim.len() - served_by_sim.len(),
            snmpd.skipped(),
            "{stem}: only IpAddress and Counter64 records may be skipped"
        );
    }
}

#[test]
fn snmpd_listens_on_many_loopback_addresses() {
    let port = free_udp_port();
    let farm = loopback_farm(50, port);
    let snmpd = Snmpd::start(&recording("brother-blob"), "public", &farm);
    for addr in [farm[0], farm[17], farm[49]] {
        let value =
            netsnmp::get_v2c(addr, "public", ".1.3.6.1.2.1.1.2.0").expect("snmpget on farm");
        assert_eq!(value, "OID: .1.3.6.1.4.1.2435.2.3.9.1", "{addr}");
    }
    assert_eq!(snmpd.addrs.len(), 50);
}

/// Run by hand: `cargo test -p printscout-testkit -- --ignored --nocapture thousand`.
#[test]
#[ignore = "benchmark set-up check: 1,000 addresses, run by hand"]
fn snmpd_starts_on_a_thousand_loopback_addresses() {
    let port = free_udp_port();
    let farm = loopback_farm(1000, port);
    let snmpd = Snmpd::start(&recording("mono-laser"), "public", &farm);
    println!(
        "snmpd on 1,000 addresses answered after {:?}",
        snmpd.startup_time()
    );
    for addr in [farm[0], farm[500], farm[999]] {
        assert_eq!(
            netsnmp::get_v2c(addr, "public", SERIAL_OID).expect("snmpget"),
            MONO_SERIAL
        );
    }
}

#[test]
fn dropping_a_peer_stops_its_process() {
    let snmpd = Snmpd::start_on_free_port(&recording("mono-laser"), "public");
    let pid = snmpd.pid();
    let status = PathBuf::from(format!("/proc/{pid}/status"));
    assert!(status.exists());
    drop(snmpd);
    assert!(
        !status.exists(),
        "snmpd pid {pid} is still there (or a zombie)"
    );

    let sim = Snmpsim::start(&recordings_dir());
    let pid = sim.pid();
    drop(sim);
    assert!(!PathBuf::from(format!("/proc/{pid}/status")).exists());
}

fn stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(recordings_dir())
        .expect("read tests/recordings")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "snmprec"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    stems.sort();
    stems
}
