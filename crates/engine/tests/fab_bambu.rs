//! Bambu Lab LAN mode (`printer::fab::bambu`) against a **real** MQTT broker:
//! Debian's mosquitto with TLS and password auth on 127.0.0.1, started per test
//! by `printscout_testkit::mosquitto` (installed by `scripts/peers/mosquitto.sh
//! install`), with a "printer" client on the broker that answers `pushall` and
//! `get_version` with our own report JSON shaped like PROTOCOLS.md §6.
//!
//! Covered: an X1 full report; P1 deltas merged (a missing field is unchanged);
//! a CN-only certificate verified against the serial; a certificate for another
//! serial and a missing CA refused (`fab_tls_failed`); a wrong access code
//! rejected, never offline, never shown; a silent printer timing out within the
//! timeout; junk reports never panicking; and the figures of a status poll.
//!
//! Everything talks to 127.0.0.1 only.

use std::time::{Duration, Instant};

use printscout_engine::printer::fab::{FabError, FabOptions, FabState, FabTarget, read_fab};
use printscout_engine::printer::model::Reading;
use printscout_engine::secret::Secret;
use printscout_testkit::logs::{capture_logs, logs_text};
use printscout_testkit::mosquitto::{BambuBroker, BambuBrokerOptions, PrinterScript};

const X1_SERIAL: &str = "00M09A391800123";
const P1_SERIAL: &str = "01S00C371400456";
const SENTINEL_CODE: &str = "SENTINEL-bambu-7731";

fn options(broker: &BambuBroker, code: &str, timeout: Duration) -> FabOptions {
    FabOptions {
        key: Some(Secret::new(code)),
        timeout,
        extra_roots_pem: vec![broker.ca_pem().as_bytes().to_vec()],
        ..FabOptions::default()
    }
}

async fn read(broker: &BambuBroker, options: &FabOptions) -> Result<Reading, FabError> {
    let target = FabTarget::parse(&broker.url()).expect("the broker's URL parses");
    read_fab(&target, options).await
}

fn start(serial: &str, script: PrinterScript) -> BambuBroker {
    BambuBroker::start(BambuBrokerOptions::new(serial, script))
}

#[tokio::test]
async fn an_x1_full_report_reads_as_a_printing_job_with_its_identity() {
    let broker = start(X1_SERIAL, PrinterScript::x1_full(X1_SERIAL));
    let reading = read(
        &broker,
        &options(&broker, "12345678", Duration::from_secs(5)),
    )
    .await
    .expect("the X1 is read");

    let fab = reading.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Printing);
    assert_eq!(fab.state_text, "RUNNING");
    let job = fab.job.as_ref().expect("a current job");
    assert_eq!(job.name.as_deref(), Some("bracket_v3"));
    assert_eq!(job.progress_percent, Some(42.0));
    assert_eq!(job.remaining_s, Some(37 * 60));
    assert_eq!(job.started_at, Some(1_767_225_600));
    assert_eq!(job.id.as_deref(), Some("98764"));
    let temp = |name: &str| {
        fab.temperatures
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no {name} temperature in {:?}", fab.temperatures))
    };
    assert_eq!(
        (temp("nozzle").actual, temp("nozzle").target),
        (Some(219.8), Some(220.0))
    );
    assert_eq!(
        (temp("bed").actual, temp("bed").target),
        (Some(55.1), Some(55.0))
    );
    assert_eq!(temp("chamber").actual, Some(31.5));
    assert!(fab.errors.is_empty(), "{:?}", fab.errors);

    assert_eq!(reading.identity.vendor.as_deref(), Some("Bambu Lab"));
    assert_eq!(reading.identity.model.as_deref(), Some("X1 Carbon"));
    assert_eq!(reading.identity.serial.as_deref(), Some(X1_SERIAL));
    assert_eq!(reading.identity.firmware.as_deref(), Some("01.08.02.00"));
    assert_eq!(reading.protocol.as_deref(), Some("bambu"));
    assert_eq!(reading.status.overall, "ok");

    let seen = broker.requests_seen();
    assert!(
        seen.iter().any(|r| r.contains("\"pushall\"")),
        "pushall was sent: {seen:?}"
    );
    assert!(
        seen.iter().any(|r| r.contains("\"get_version\"")),
        "get_version was sent: {seen:?}"
    );
}

#[tokio::test]
async fn p1_deltas_are_merged_and_a_field_missing_from_a_delta_stays_unchanged() {
    let broker = start(P1_SERIAL, PrinterScript::p1_deltas(P1_SERIAL));
    let reading = read(
        &broker,
        &options(&broker, "12345678", Duration::from_secs(5)),
    )
    .await
    .expect("the P1 is read");
    let fab = reading.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Paused);
    assert_eq!(fab.state_text, "PAUSE");
    let job = fab.job.as_ref().expect("a current job");
    // From the first delta (the second does not carry them).
    assert_eq!(job.name.as_deref(), Some("gear_plate"));
    assert_eq!(job.progress_percent, Some(63.0));
    // From the second delta.
    assert_eq!(job.remaining_s, Some(12 * 60));
    let nozzle = fab
        .temperatures
        .iter()
        .find(|t| t.name == "nozzle")
        .expect("nozzle");
    assert_eq!((nozzle.actual, nozzle.target), (Some(201.5), Some(0.0)));
    assert_eq!(fab.errors, vec!["HMS_0700_2000_0002_0001".to_owned()]);
    assert_eq!(reading.status.overall, "warning");
    assert_eq!(reading.identity.model.as_deref(), Some("P1P"));
    assert_eq!(reading.identity.firmware.as_deref(), Some("01.07.00.00"));
}

#[tokio::test]
async fn a_certificate_with_the_serial_in_its_cn_only_is_verified_against_the_serial() {
    let broker = BambuBroker::start(BambuBrokerOptions {
        san: false,
        ..BambuBrokerOptions::new(P1_SERIAL, PrinterScript::p1_deltas(P1_SERIAL))
    });
    let reading = read(
        &broker,
        &options(&broker, "12345678", Duration::from_secs(5)),
    )
    .await
    .expect("a CN-only certificate for the right serial is accepted");
    assert_eq!(
        reading.fab.as_ref().map(|f| f.state),
        Some(FabState::Paused)
    );
}

#[tokio::test]
async fn a_certificate_for_another_serial_is_refused_naming_the_expected_serial() {
    for san in [false, true] {
        let broker = BambuBroker::start(BambuBrokerOptions {
            san,
            cert_name: Some("01P00A000000999".into()),
            ..BambuBrokerOptions::new(P1_SERIAL, PrinterScript::p1_deltas(P1_SERIAL))
        });
        let e = read(
            &broker,
            &options(&broker, "12345678", Duration::from_secs(5)),
        )
        .await
        .expect_err("a certificate for another printer is refused");
        assert_eq!(e.code(), "fab_tls_failed", "san={san}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(P1_SERIAL),
            "names the serial expected: {text}"
        );
        assert!(
            text.contains("01P00A000000999"),
            "names the one presented: {text}"
        );
        assert!(
            broker.requests_seen().is_empty(),
            "nothing was sent before the certificate was accepted"
        );
    }
}

#[tokio::test]
async fn without_the_printers_ca_the_certificate_is_not_trusted() {
    let broker = start(X1_SERIAL, PrinterScript::x1_full(X1_SERIAL));
    let options = FabOptions {
        extra_roots_pem: Vec::new(),
        ..options(&broker, "12345678", Duration::from_secs(5))
    };
    let e = read(&broker, &options)
        .await
        .expect_err("an untrusted certificate is refused");
    assert_eq!(e.code(), "fab_tls_failed", "{e}");
    assert!(e.to_string().contains("CA"), "{e}");
    assert!(e.printer_answered(), "a TLS failure is not offline");
}

#[tokio::test]
async fn a_wrong_access_code_is_rejected_not_offline_and_never_shown() {
    capture_logs();
    let broker = start(X1_SERIAL, PrinterScript::x1_full(X1_SERIAL));
    let options = options(&broker, SENTINEL_CODE, Duration::from_secs(5));
    let e = read(&broker, &options)
        .await
        .expect_err("a wrong access code is refused");
    assert_eq!(e.code(), "fab_rejected", "{e}");
    assert!(matches!(&e, FabError::Rejected { what, .. } if what == "LAN access code"));
    assert!(e.printer_answered());
    assert!(e.to_string().contains("LAN access code"), "{e}");
    for text in [
        e.to_string(),
        format!("{e:?}"),
        format!("{options:?}"),
        logs_text(),
    ] {
        assert!(!text.contains(SENTINEL_CODE), "the code leaked: {text}");
    }
    assert!(
        broker.requests_seen().is_empty(),
        "no request got through with a wrong code"
    );
}

#[tokio::test]
async fn a_printer_that_never_answers_pushall_times_out_within_the_timeout() {
    let broker = start(X1_SERIAL, PrinterScript::silent());
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let e = read(&broker, &options(&broker, "12345678", timeout))
        .await
        .expect_err("no report, no reading");
    let took = started.elapsed();
    assert_eq!(e.code(), "fab_timeout", "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(500),
        "took {took:?}"
    );
    assert!(
        broker.requests_seen().iter().any(|r| r.contains("pushall")),
        "the request reached the printer"
    );
}

#[tokio::test]
async fn junk_reports_never_panic_and_a_printer_sending_only_junk_is_a_bad_response() {
    let junk = vec![
        "not json {".to_owned(),
        "[1, 2, 3]".to_owned(),
        "\u{0}\u{1}\u{2}".to_owned(),
        r#"{"print": {"gcode_state": "IDLE", "bed_temper": 1e999}}"#.to_owned(),
        r#"{"print": "RUNNING"}"#.to_owned(),
        format!("{}1{}", "[".repeat(200), "]".repeat(200)),
    ];
    let broker = start(
        X1_SERIAL,
        PrinterScript {
            on_pushall: junk.clone(),
            on_get_version: Some(r#"{"info": {"command": "get_version", "module": "x"}}"#.into()),
        },
    );
    let e = read(
        &broker,
        &options(&broker, "12345678", Duration::from_millis(1500)),
    )
    .await
    .expect_err("junk is no reading");
    assert_eq!(e.code(), "fab_bad_response", "{e}");
    drop(broker);

    // Junk, then a report with odd types: read, odd values kept or skipped.
    let mut script = PrinterScript {
        on_pushall: junk,
        on_get_version: None,
    };
    script.on_pushall.push(
        r#"{"print": {"gcode_state": "SPINNING", "mc_percent": "lots", "mc_remaining_time": -3,
            "nozzle_temper": "hot", "bed_temper": 1e300, "print_error": "0x0500C010",
            "hms": [{"attr": "x"}, 7], "subtask_name": 12}}"#
            .to_owned(),
    );
    let broker = start(X1_SERIAL, script);
    let reading = read(
        &broker,
        &options(&broker, "12345678", Duration::from_secs(3)),
    )
    .await
    .expect("the usable report is read");
    let fab = reading.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state_text, "SPINNING", "an unknown word is kept");
    assert_eq!(fab.state, FabState::Maintenance);
    assert_eq!(fab.errors[0], "print_error 0500C010 (0500_C010)");
    assert_eq!(fab.errors.len(), 3, "{:?}", fab.errors);
    assert_eq!(
        reading.identity.firmware, None,
        "no version answer, no firmware"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_connection_failure_not_a_timeout() {
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let target = FabTarget::parse(&format!("bambu://{P1_SERIAL}@127.0.0.1:{port}")).expect("url");
    let options = FabOptions {
        key: Some(Secret::new("12345678")),
        timeout: Duration::from_secs(2),
        ..FabOptions::default()
    };
    let e = read_fab(&target, &options).await.expect_err("no broker");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
    assert!(!e.printer_answered());
}

#[tokio::test]
async fn the_figures_of_a_status_poll_are_counted_and_printed() {
    let broker = start(X1_SERIAL, PrinterScript::x1_full(X1_SERIAL));
    let options = options(&broker, "12345678", Duration::from_secs(5));
    let mut times = Vec::new();
    for _ in 0..5 {
        let r = read(&broker, &options).await.expect("read");
        let s = &r.stats;
        let sent = s.bytes_sent.expect("bytes sent are counted");
        let received = s.bytes_received.expect("bytes received are counted");
        assert!(
            sent > 200 && received > 2_000,
            "sent {sent} received {received}"
        );
        assert_eq!(s.requests, 4, "CONNECT, SUBSCRIBE, get_version, pushall");
        eprintln!(
            "bambu status poll (X1 full report, TLS 1.2, mosquitto on loopback): {} ms, {} B sent, {} B received, {} MQTT packets sent; {}",
            s.elapsed_ms,
            sent,
            received,
            s.requests,
            r.notes.join("; ")
        );
        times.push(s.elapsed_ms);
    }
    times.sort_unstable();
    eprintln!("bambu status poll: median {} ms of 5", times[2]);
    assert!(
        times[2] < 1_000,
        "a status poll takes about a second at most"
    );
}

/// A TLS server with a certificate for [`P1_SERIAL`] (the testkit's CA) that
/// reads the client's first bytes (its CONNECT) and answers them with
/// `answer`, then closes: a broker speaking garbage MQTT.
async fn garbage_broker(answer: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = printscout_testkit::upload_server::TestCa::new(&[P1_SERIAL]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let pem = ca.ca_pem().to_owned();
    tokio::spawn(async move {
        let _ca = ca;
        if let Ok((tcp, _)) = listener.accept().await
            && let Ok(mut tls) = acceptor.accept(tcp).await
        {
            let mut first = [0u8; 512];
            let _ = tls.read(&mut first).await;
            let _ = tls.write_all(&answer).await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tls.shutdown().await;
        }
    });
    (port, pem)
}

#[tokio::test]
async fn a_broker_speaking_garbage_mqtt_is_a_bad_response_never_a_panic() {
    let connack_ok = vec![0x20, 0x02, 0x00, 0x00];
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
        vec![0x20, 0x02, 0x00, 0x09],
        vec![0x20, 0x05, 0x00, 0x00],
        [connack_ok.clone(), vec![0x30, 0xFF, 0xFF, 0xFF, 0x7F]].concat(),
        [connack_ok.clone(), vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]].concat(),
        [connack_ok.clone(), vec![0x30, 0x04, 0x00, 0x09, 0xC3, 0x28]].concat(),
        [connack_ok.clone(), vec![0x90, 0x03, 0x00, 0x01, 0x80]].concat(),
        [connack_ok.clone(), vec![0xE0, 0x00]].concat(),
    ];
    // And some noise, the same each run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 3, 7, 40, 300] {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) as u8
            })
            .collect();
        cases.push(noise.clone());
        cases.push([connack_ok.clone(), noise].concat());
    }
    for answer in cases {
        let (port, pem) = garbage_broker(answer.clone()).await;
        let target =
            FabTarget::parse(&format!("bambu://{P1_SERIAL}@127.0.0.1:{port}")).expect("url");
        let options = FabOptions {
            key: Some(Secret::new("12345678")),
            timeout: Duration::from_secs(2),
            extra_roots_pem: vec![pem.into_bytes()],
            ..FabOptions::default()
        };
        let e = read_fab(&target, &options)
            .await
            .expect_err("garbage is no reading");
        assert!(
            matches!(e.code(), "fab_bad_response" | "fab_rejected"),
            "{answer:02X?}: {e}"
        );
    }
}
