//! The `printscout` binary end to end, against snmpsim on loopback: output
//! shapes, exit codes, and that no secret reaches stdout or stderr even with
//! every log turned on.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use printscout_testkit::{SilentUdpPort, Snmpsim, V3User, recordings_dir};

fn printscout(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_printscout"));
    c.args(args)
        .env_remove("PRINTSCOUT_AUTH_PASS")
        .env_remove("PRINTSCOUT_PRIV_PASS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(std::process::Stdio::null());
    c.output().expect("run printscout")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn read_json_prints_exactly_one_object_in_the_scoring_shape() {
    let sim = Snmpsim::start(&recordings_dir());
    let out = printscout(
        &[
            "read",
            &sim.addr.to_string(),
            "--community",
            "colour-mfp",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(v["is_printer"], true);
    assert_eq!(v["identity"]["serial"], "AA2JZZ00042");
    assert_eq!(v["counters"]["total"], 182340);
    assert_eq!(v["status"]["device"], "running");
    assert_eq!(v["credential"], "community #1");
    let s = &v["supplies"][8];
    assert_eq!(
        (s["index"].as_i64(), s["level"].as_i64(), s["max"].as_i64()),
        (Some(9), Some(-3), Some(-2))
    );
    assert!(s["percent"].is_null(), "no invented percentage for -3");
    assert!(v["trays"].is_array() && v["alerts"].is_array() && v["console"].is_array());
}

#[test]
fn the_summary_says_what_the_device_is_and_how_it_is_doing() {
    let sim = Snmpsim::start(&recordings_dir());
    let out = printscout(&["read", &sim.addr.to_string(), "-c", "alerts-errors"], &[]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("Lexmark CS421dn"), "{stdout}");
    assert!(stdout.contains("status: ERROR"), "{stdout}");
    assert!(
        stdout.contains("paper jam") && stdout.contains("door open"),
        "{stdout}"
    );
    assert!(
        stdout.contains("critical alert: Paper jam in tray 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Black Cartridge") && stdout.contains("EMPTY"),
        "{stdout}"
    );
}

#[test]
fn an_unreachable_host_exits_1_with_a_clear_message_in_time() {
    let held = SilentUdpPort::new();
    let target = held.addr().to_string();
    let t0 = Instant::now();
    let out = printscout(
        &["read", &target, "--timeout", "300ms", "--retries", "1"],
        &[],
    );
    let took = t0.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("no answer from") && stderr.contains("'public'"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(printscout(&["read"], &[]).status.code(), Some(2));
    assert_eq!(
        printscout(&["read", "127.0.0.1", "--version", "4"], &[])
            .status
            .code(),
        Some(2)
    );
    let out = printscout(
        &[
            "read",
            "127.0.0.1",
            "--v3-user",
            "u",
            "--auth-proto",
            "sha1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("PRINTSCOUT_AUTH_PASS"),
        "says where the passphrase goes"
    );
}

#[test]
fn no_secret_reaches_stdout_or_stderr_even_with_trace_logging() {
    let sim = Snmpsim::start_with_v3(
        &recordings_dir(),
        &[V3User::auth_priv(
            "secure",
            "SHA",
            "right-auth-key",
            "AES",
            "right-priv-key",
        )],
    );
    let addr = sim.addr.to_string();
    let trace = [("PRINTSCOUT_LOG", "trace")];
    // A wrong community (silence) and a right one.
    for community in ["wrong-community-s3cret", "mono-laser"] {
        let out = printscout(
            &[
                "read",
                &addr,
                "-c",
                "decoy-s3cret",
                "-c",
                community,
                "--timeout",
                "300ms",
                "--retries",
                "0",
            ],
            &trace,
        );
        let (o, e) = text(&out);
        assert!(
            !o.contains("s3cret") && !e.contains("s3cret"),
            "community leaked:\n{o}\n{e}"
        );
    }
    // SNMPv3: right keys, then a wrong privacy key.
    for (auth, privacy, ok) in [
        ("right-auth-key", "right-priv-key", true),
        ("right-auth-key", "wrong-priv-s3cret", false),
    ] {
        let out = printscout(
            &[
                "read",
                &addr,
                "--v3-user",
                "secure",
                "--auth-proto",
                "sha1",
                "--priv-proto",
                "aes128",
                "--context",
                "mono-laser",
                "--timeout",
                "1s",
                "--retries",
                "0",
                "--json",
            ],
            &[
                ("PRINTSCOUT_AUTH_PASS", auth),
                ("PRINTSCOUT_PRIV_PASS", privacy),
                trace[0],
            ],
        );
        let (o, e) = text(&out);
        assert_eq!(out.status.success(), ok, "{o}\n{e}");
        for secret in ["right-auth-key", "right-priv-key", "s3cret"] {
            assert!(
                !o.contains(secret) && !e.contains(secret),
                "{secret} leaked:\n{o}\n{e}"
            );
        }
        if !ok {
            assert!(e.contains("authentication failed"), "{e}");
        }
    }
}

#[test]
fn a_recording_can_be_read_offline() {
    let path = recordings_dir().join("brother-blob.snmprec");
    let out = printscout(
        &[
            "read",
            "--recording",
            path.to_str().expect("utf-8 path"),
            "--json",
        ],
        &[],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["counters"]["total"], 8754);
}

#[test]
fn a_host_name_is_resolved() {
    let sim = Snmpsim::start(&recordings_dir());
    let target = format!("localhost:{}", sim.port());
    let out = printscout(&["read", &target, "-c", "mono-laser", "--json"], &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["identity"]["serial"], "VNBZZ00421");
}

#[test]
fn a_name_that_does_not_resolve_is_a_usage_error_that_says_so() {
    // In a network namespace of its own (only a loopback that is down), so the
    // lookup cannot send a DNS query anywhere.
    let out = Command::new("unshare")
        .args([
            "--net",
            env!("CARGO_BIN_EXE_printscout"),
            "read",
            "no-such-printer.invalid",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run printscout under unshare --net");
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("cannot resolve host name 'no-such-printer.invalid'"),
        "{:?}",
        text(&out)
    );
}
