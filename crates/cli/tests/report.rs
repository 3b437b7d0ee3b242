//! `printscout report` end to end: the binary sends the report to a real SMTP
//! server (aiosmtpd on its own 127.0.0.x address) given only by flags,
//! reports a failure in words with a non-zero exit, and without
//! `--send-now` sends nothing and shows how the last send went.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use printscout_testkit::cmd::shown as text;
use printscout_testkit::smtp::{SmtpPeer, SmtpPeerOptions};

fn printscout(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(args)
        .env("PRINTSCOUT_DATA_DIR", data)
        .env("PRINTSCOUT_CONFIG", data.join("printscout-test.toml"))
        .env_remove("PRINTSCOUT_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run printscout")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("printscout-test.toml"), "").expect("write config");
    dir
}

#[test]
fn report_send_now_delivers_to_the_flags_recipients_and_plain_report_only_shows_the_state() {
    let peer = SmtpPeer::start(&SmtpPeerOptions::plain(IpAddr::V4(Ipv4Addr::new(
        127, 0, 0, 81,
    ))));
    let dir = data_dir();
    let url = peer.url("smtp");
    let out = printscout(
        dir.path(),
        &[
            "report",
            "--send-now",
            "--smtp-url",
            &url,
            "--report-to",
            "a@example.test",
            "--report-to",
            "b@example.test",
            "--report-from",
            "printscout@site.test",
            "--period",
            "12h",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["code"], "sent");
    assert_eq!(
        v["recipients"],
        serde_json::json!(["a@example.test", "b@example.test"])
    );
    let sent = &v["sent"];
    assert_eq!(
        sent["to"].as_i64().unwrap_or(0) - sent["from"].as_i64().unwrap_or(0),
        12 * 3_600_000
    );

    let got = peer.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpt_tos, vec!["a@example.test", "b@example.test"]);
    assert_eq!(got[0].mail_from, "printscout@site.test");
    let raw = String::from_utf8_lossy(&got[0].raw);
    assert!(raw.contains("Subject: PrintScout report "), "{raw}");
    assert!(raw.contains("0 printers"), "{raw}");
    assert!(raw.contains("printscout-meters-"), "{raw}");

    // Without --send-now: nothing is sent, the last send is shown.
    let shown = printscout(
        dir.path(),
        &[
            "report",
            "--smtp-url",
            &url,
            "--report-to",
            "a@example.test",
            "--json",
        ],
    );
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    let s = json(&shown);
    assert_eq!(s["configured"], true);
    assert!(s["last_email"].as_i64().is_some(), "{s}");
    assert!(s["last_error"].is_null(), "{s}");
    let words = printscout(dir.path(), &["report"]);
    assert_eq!(words.status.code(), Some(0), "{}", text(&words));
    assert!(
        String::from_utf8_lossy(&words.stdout).contains("Nothing was sent"),
        "{}",
        text(&words)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        peer.messages().len(),
        1,
        "report without --send-now sent something"
    );
}

#[test]
fn a_failed_send_exits_1_with_the_reason_and_is_remembered() {
    let dir = data_dir();
    let closed = printscout_testkit::ClosedTcpPort::on([127, 0, 0, 82].into());
    let port = closed.port();
    let url = format!("smtp://127.0.0.82:{port}");
    let out = printscout(
        dir.path(),
        &[
            "report",
            "--send-now",
            "--smtp-url",
            &url,
            "--report-to",
            "a@example.test",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("smtp_connect_failed"), "{}", text(&out));
    assert!(err.contains("connection refused"), "{}", text(&out));

    let shown = printscout(dir.path(), &["report", "--json"]);
    let s = json(&shown);
    assert!(
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("smtp_connect_failed")),
        "{s}"
    );

    // Not configured at all: a usage error, in words.
    let out = printscout(dir.path(), &["report", "--send-now", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], "email_not_configured");
}
