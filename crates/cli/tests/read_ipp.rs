//! `printscout read ipp://…` end to end against a real `ippeveprinter` on
//! loopback: the same summary and JSON as an SNMP read, exit codes, and no
//! password echoed from a URL.

use std::process::{Command, Output};

use printscout_testkit::ippeve::IppEvePrinter;

fn printscout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printscout"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run printscout")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn read_ipp_json_prints_one_reading_of_the_printer() {
    let p = IppEvePrinter::start();
    p.set_supplies(&[95, 3]);
    // ippeveprinter applies the form a moment after answering it: read until it shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (out, stdout, stderr) = loop {
        let out = printscout(&["read", &p.url(), "--json"]);
        let (stdout, stderr) = text(&out);
        if stdout.contains("toner-low-report") || std::time::Instant::now() > deadline {
            break (out, stdout, stderr);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["target"], p.url().as_str());
    assert_eq!(v["protocol"], "ipp");
    assert_eq!(v["is_printer"], true);
    assert_eq!(v["identity"]["vendor"], "ACME");
    assert_eq!(v["identity"]["model"], "LaserWriter IPP");
    assert!(v["identity"]["uuid"].is_string());
    assert_eq!(v["status"]["printer"], "idle");
    let reasons: Vec<&str> = v["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["code_name"].as_str())
        .collect();
    assert!(reasons.contains(&"toner-low-report"), "{reasons:?}");
    assert!(v["supplies"].as_array().is_some_and(|s| s.len() == 2));
    assert_eq!(v["stats"]["requests"], 1);
}

#[test]
fn read_ipp_summary_names_the_printer_its_status_and_supplies() {
    let p = IppEvePrinter::start();
    let out = printscout(&["read", &p.url()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("ACME LaserWriter IPP"), "{stdout}");
    assert!(stdout.contains("status: OK"), "{stdout}");
    assert!(stdout.contains("Black Toner"), "{stdout}");
}

#[test]
fn read_ipp_of_a_closed_port_exits_1_with_a_stable_code() {
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let url = format!("ipp://127.0.0.1:{port}/ipp/print");
    let out = printscout(&["read", &url, "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["code"], "ipp_connect_failed");
    assert!(stderr.contains("connection refused"), "{stderr}");
}

#[test]
fn read_ipp_with_a_password_in_the_url_is_bad_usage_and_never_echoes_it() {
    let out = printscout(&["read", "ipp://admin:s3cr3t-pw@127.0.0.1:9/ipp/print"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stdout.contains("s3cr3t-pw") && !stderr.contains("s3cr3t-pw"));
}

#[test]
fn read_ipps_trusts_a_self_signed_printer_given_its_certificate_with_ca_file() {
    let p = IppEvePrinter::start();
    let refused = printscout(&["read", &p.ipps_url(), "--json"]);
    assert_eq!(refused.status.code(), Some(1), "{:?}", text(&refused));
    assert!(
        text(&refused).0.contains("ipp_tls_failed"),
        "{:?}",
        text(&refused)
    );
    let cert = std::fs::read_dir(p.dir().join("ssl"))
        .expect("the ssl dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "crt"))
        .expect("the printer's certificate");
    let out = printscout(&[
        "read",
        &p.ipps_url(),
        "--json",
        "--ca-file",
        &cert.display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["protocol"], "ipps");
}

#[test]
fn read_ipp_history_lists_a_job_the_printer_completed() {
    let p = IppEvePrinter::start();
    p.print_job("quarterly report");
    // ippeveprinter takes about 15 s to "print" it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let jobs = loop {
        let out = printscout(&["read", &p.url(), "--history", "--json"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        if !jobs.is_empty() {
            break jobs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never completed"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(jobs[0]["name"], "quarterly report");
    assert_eq!(jobs[0]["state"], "completed");
    let out = printscout(&["read", &p.url(), "--history"]);
    assert!(
        text(&out).0.contains("quarterly report"),
        "{:?}",
        text(&out)
    );
}
