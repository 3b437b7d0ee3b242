//! The IPP reader against a real `ippeveprinter` on loopback (started by the
//! testkit with a private D-Bus and an avahi that cannot reach any network),
//! and against small TCP servers in this file that answer what real printers
//! sometimes do: junk behind HTTP 200, 401, nothing at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use printscout_engine::printer::ipp::{IppOptions, completed_jobs, read_ipp};
use printscout_engine::printer::{Reading, SupplyState};
use printscout_testkit::ippeve::{IppEveOptions, IppEvePrinter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn alert_keywords(r: &printscout_engine::printer::Reading) -> Vec<(String, String)> {
    r.alerts
        .iter()
        .map(|a| {
            (
                a.code_name.clone().unwrap_or_default(),
                a.severity.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_default_ippeveprinter_reads_as_an_idle_printer_with_identity_and_supplies() {
    let p = IppEvePrinter::start();
    let r = read_ipp(&p.url(), &IppOptions::default())
        .await
        .expect("ippeveprinter answers");
    assert_eq!(r.target, p.url());
    assert_eq!(r.protocol.as_deref(), Some("ipp"));
    assert!(r.is_printer);
    assert_eq!(r.identity.vendor.as_deref(), Some("ACME"));
    assert_eq!(r.identity.model.as_deref(), Some("LaserWriter IPP"));
    let uuid = r
        .identity
        .uuid
        .clone()
        .expect("ippeveprinter sends printer-uuid");
    assert_eq!(uuid.len(), 36, "a bare lower-case UUID: {uuid}");
    assert_eq!(r.identity.hostname.as_deref(), Some("PrintScoutTest"));
    assert_eq!(r.status.printer.as_deref(), Some("idle"));
    assert_eq!(r.status.device.as_deref(), Some("running"));
    assert_eq!(r.status.overall, "ok");
    assert!(r.alerts.is_empty(), "reasons = none: {:?}", r.alerts);
    assert_eq!(r.console, vec!["Idle."]);
    // The built-in printer-supply: a waste tank and a black toner.
    let toner = r
        .supplies
        .iter()
        .find(|s| s.kind.as_deref() == Some("toner"))
        .expect("a toner supply");
    assert_eq!(toner.color.as_deref(), Some("black"));
    assert_eq!(toner.class.as_deref(), Some("supplyThatIsConsumed"));
    let waste = r
        .supplies
        .iter()
        .find(|s| s.kind.as_deref() == Some("wasteToner"))
        .expect("a waste toner supply");
    assert_eq!(waste.class.as_deref(), Some("receptacleThatIsFilled"));
    assert_eq!(r.stats.requests, 1);
    assert!(r.stats.bytes_received.unwrap_or(0) > 500);
    assert!(
        r.counters.is_empty(),
        "no counters without an attribute file"
    );
}

/// Reads until `done` holds (ippeveprinter applies a form post or starts a
/// job a moment after it answered; on a loaded machine that moment grows), at
/// most 10 s; returns the last reading either way.
async fn read_until(url: &str, done: impl Fn(&Reading) -> bool) -> Reading {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = read_ipp(url, &IppOptions::default())
            .await
            .expect("answers");
        if done(&r) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has_reason(r: &Reading, keyword: &str) -> bool {
    alert_keywords(r).iter().any(|(kw, _)| kw == keyword)
}

#[tokio::test]
async fn supply_and_media_forms_show_as_reasons_with_their_report_severity() {
    let p = IppEvePrinter::start();
    p.set_supplies(&[95, 3]);
    let r = read_until(&p.url(), |r| has_reason(r, "toner-low-report")).await;
    let reasons = alert_keywords(&r);
    assert!(
        reasons.contains(&("toner-low-report".into(), "other".into())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("marker-waste-almost-full-report".into(), "other".into())),
        "{reasons:?}"
    );
    assert!(r.status.errors.is_empty(), "reports set no error bit");
    assert_eq!(r.status.overall, "ok", "reports are information");
    let toner = r
        .supplies
        .iter()
        .find(|s| s.kind.as_deref() == Some("toner"))
        .expect("toner");
    assert_eq!(toner.state, SupplyState::Percent(3.0));

    p.set_supplies(&[100, 0]);
    p.set_media_level(0, 0);
    let r = read_until(&p.url(), |r| {
        has_reason(r, "toner-empty-report") && has_reason(r, "media-empty-report")
    })
    .await;
    let reasons = alert_keywords(&r);
    for k in [
        "toner-empty-report",
        "marker-waste-full-report",
        "media-empty-report",
    ] {
        assert!(reasons.iter().any(|(kw, _)| kw == k), "{k} in {reasons:?}");
    }
    let toner = r
        .supplies
        .iter()
        .find(|s| s.kind.as_deref() == Some("toner"))
        .expect("toner");
    assert_eq!(toner.state, SupplyState::Empty);
    let waste = r
        .supplies
        .iter()
        .find(|s| s.kind.as_deref() == Some("wasteToner"))
        .expect("waste");
    assert_eq!(waste.state, SupplyState::Full);
}

const ATTRIBUTES: &str = r##"
ATTR textWithoutLanguage printer-make-and-model "Kyocera ECOSYS M2540dn"
ATTR textWithoutLanguage printer-device-id "MFG:Kyocera;MDL:ECOSYS M2540dn;SN:FROMDEVICEID;CMD:PWG,URF;"
ATTR textWithoutLanguage printer-serial-number "VCF9Z12345"
ATTR textWithoutLanguage printer-firmware-string-version "2S0_2F00.009.003"
ATTR name marker-names "Black Toner","Cyan Toner","Waste Toner Box"
ATTR keyword marker-types toner,toner,waste-toner
ATTR name marker-colors "#000000","#00FFFF","none"
ATTR integer marker-levels 64,-2,25
ATTR integer marker-low-levels 10,10,0
ATTR integer marker-high-levels 100,100,90
ATTR integer printer-impressions-completed 48213
ATTR collection printer-impressions-completed-col { MEMBER integer monochrome 40000 MEMBER integer full-color 8213 }
ATTR integer printer-media-sheets-completed 30120
ATTR integer printer-pages-completed 48213
"##;

#[tokio::test]
async fn an_attribute_file_gives_counters_serial_firmware_and_marker_supplies() {
    let p = IppEvePrinter::start_with(IppEveOptions {
        attributes: Some(ATTRIBUTES.into()),
        ..IppEveOptions::default()
    });
    let r = read_ipp(&p.url(), &IppOptions::default())
        .await
        .expect("answers");
    let id = &r.identity;
    assert_eq!(id.vendor.as_deref(), Some("Kyocera"));
    assert_eq!(id.model.as_deref(), Some("ECOSYS M2540dn"));
    assert_eq!(id.serial.as_deref(), Some("VCF9Z12345"));
    assert_eq!(
        id.serial_source.as_deref(),
        Some("ipp:printer-serial-number")
    );
    assert_eq!(id.firmware.as_deref(), Some("2S0_2F00.009.003"));
    assert_eq!(r.counters.get("total"), Some(&48213));
    assert_eq!(r.counters.get("mono"), Some(&40000));
    assert_eq!(r.counters.get("color"), Some(&8213));
    assert_eq!(r.counters.get("sheets"), Some(&30120));
    assert_eq!(r.counters.get("pages"), Some(&48213));
    assert_eq!(r.supplies.len(), 3, "{:?}", r.supplies);
    let s = &r.supplies;
    assert_eq!(s[0].color.as_deref(), Some("black"));
    assert_eq!(s[0].state, SupplyState::Percent(64.0));
    assert_eq!(s[1].color.as_deref(), Some("cyan"));
    assert_eq!(
        s[1].state,
        SupplyState::Unknown,
        "-2 is unknown, never empty"
    );
    assert_eq!(s[1].percent, None);
    assert_eq!(s[2].kind.as_deref(), Some("wasteToner"));
    assert_eq!(s[2].class.as_deref(), Some("receptacleThatIsFilled"));
}

#[tokio::test]
async fn a_printer_with_a_job_is_printing_and_get_jobs_answers() {
    let p = IppEvePrinter::start();
    p.print_job("quarterly report");
    let r = read_until(&p.url(), |r| {
        r.status.printer.as_deref() == Some("printing")
    })
    .await;
    assert_eq!(r.status.printer.as_deref(), Some("printing"));
    assert_eq!(r.status.overall, "ok");
    // Nothing has completed yet (a job takes ~15 s here): an empty list, not an error.
    let jobs = completed_jobs(&p.url(), &IppOptions::default())
        .await
        .expect("Get-Jobs answers");
    assert!(
        jobs.iter()
            .all(|j| j.state.as_deref() != Some("processing"))
    );
}

#[tokio::test]
async fn ipps_with_the_printers_self_signed_certificate_is_refused_with_a_way_to_trust_it() {
    let p = IppEvePrinter::start();
    let e = read_ipp(&p.ipps_url(), &IppOptions::default())
        .await
        .expect_err("a self-signed certificate is not trusted");
    assert_eq!(e.code(), "ipp_tls_failed", "{e}");
    assert!(e.to_string().contains("trust store"), "{e}");
    // ippeveprinter kept its key in the test's temp dir, not /etc/cups/ssl.
    let keys = std::fs::read_dir(p.dir().join("ssl"))
        .expect("the ssl dir")
        .count();
    assert!(keys > 0, "the key and certificate are in the temp dir");
}

#[tokio::test]
async fn a_port_where_nothing_listens_is_ipp_connect_failed() {
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let e = read_ipp(
        &format!("ipp://127.0.0.1:{port}/ipp/print"),
        &IppOptions::default(),
    )
    .await
    .expect_err("nothing listens");
    assert_eq!(e.code(), "ipp_connect_failed", "{e}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

/// A one-shot-per-connection TCP server on loopback that answers every
/// request with `answer` (or nothing, if `None`).
async fn fake_server(answer: Option<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = s.write_all(&a).await;
                        let _ = s.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    port
}

fn http_200(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

#[tokio::test]
async fn junk_behind_http_200_is_ipp_bad_response_and_never_a_panic() {
    let mut bodies: Vec<Vec<u8>> = vec![
        b"<html>hello</html>".to_vec(),
        vec![],
        vec![2, 0, 0, 0, 0, 0, 0, 1],
        // A text-with-language value whose inner length runs past it.
        vec![
            2, 0, 0, 0, 0, 0, 0, 1, 0x04, 0x35, 0, 1, b'x', 0, 6, 0, 2, b'e', b'n', 0xff, 0xff, 3,
        ],
    ];
    let mut seed: u32 = 7;
    for len in [16usize, 64, 300, 2000] {
        let mut v = vec![2, 0, 0, 0, 0, 0, 0, 1, 0x04];
        for _ in 0..len {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.push((seed >> 16) as u8);
        }
        bodies.push(v);
    }
    for body in bodies {
        let port = fake_server(Some(http_200(&body))).await;
        let e = read_ipp(
            &format!("ipp://127.0.0.1:{port}/ipp/print"),
            &IppOptions::default(),
        )
        .await
        .expect_err("junk is not a reading");
        assert_eq!(e.code(), "ipp_bad_response", "{e}");
    }
    // Not HTTP at all.
    let port = fake_server(Some(b"\x00\x01garbage\r\n\r\n".to_vec())).await;
    let e = read_ipp(&format!("ipp://127.0.0.1:{port}/"), &IppOptions::default())
        .await
        .expect_err("not HTTP");
    assert_eq!(e.code(), "ipp_bad_response", "{e}");
}

#[tokio::test]
async fn http_401_and_403_are_rejected_not_offline() {
    for status in ["401 Unauthorized", "403 Forbidden"] {
        let answer = format!(
            "HTTP/1.1 {status}\r\nWWW-Authenticate: Basic realm=\"printer\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let port = fake_server(Some(answer.into_bytes())).await;
        let e = read_ipp(
            &format!("ipp://127.0.0.1:{port}/ipp/print"),
            &IppOptions::default(),
        )
        .await
        .expect_err("rejected");
        assert_eq!(e.code(), "ipp_not_authorized", "{e}");
        assert!(e.to_string().contains("rejected"), "{e}");
    }
}

#[tokio::test]
async fn a_printer_that_never_answers_is_ipp_timeout_within_the_limit() {
    let port = fake_server(None).await;
    let started = Instant::now();
    let e = read_ipp(
        &format!("ipp://127.0.0.1:{port}/ipp/print"),
        &IppOptions {
            timeout: Duration::from_millis(400),
            ..IppOptions::default()
        },
    )
    .await
    .expect_err("no answer");
    assert_eq!(e.code(), "ipp_timeout", "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A TCP relay on loopback that counts the bytes each way, to measure what a
/// poll costs on the wire (HTTP headers included).
async fn counting_relay(to: u16) -> (u16, Arc<AtomicU64>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let up = Arc::new(AtomicU64::new(0));
    let down = Arc::new(AtomicU64::new(0));
    let (u, d) = (up.clone(), down.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (u, d) = (u.clone(), d.clone());
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let a = async {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        u.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = sw.shutdown().await;
                };
                let b = async {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        d.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = cw.shutdown().await;
                };
                tokio::join!(a, b);
            });
        }
    });
    (port, up, down)
}

#[tokio::test]
async fn a_status_poll_is_one_round_trip_of_a_few_kilobytes_well_under_a_second() {
    let p = IppEvePrinter::start_with(IppEveOptions {
        attributes: Some(ATTRIBUTES.into()),
        ..IppEveOptions::default()
    });
    let (port, up, down) = counting_relay(p.port()).await;
    let url = format!("ipp://127.0.0.1:{port}/ipp/print");
    let options = IppOptions::default();
    // One to warm up (first connection, TLS-free), then the measured polls.
    read_ipp(&url, &options).await.expect("answers");
    up.store(0, Ordering::Relaxed);
    down.store(0, Ordering::Relaxed);
    let polls = 20u32;
    let mut times = Vec::new();
    let mut body = (0, 0);
    for _ in 0..polls {
        let t = Instant::now();
        let r = read_ipp(&url, &options).await.expect("answers");
        times.push(t.elapsed());
        body = (
            r.stats.bytes_sent.unwrap_or(0),
            r.stats.bytes_received.unwrap_or(0),
        );
        assert_eq!(r.stats.requests, 1);
    }
    // Let the relay count the last bytes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    let sent = up.load(Ordering::Relaxed) / u64::from(polls);
    let received = down.load(Ordering::Relaxed) / u64::from(polls);
    println!(
        "IPP status poll (Get-Printer-Attributes, {} attributes requested) against ippeveprinter on loopback, new connection each: \
         median {:.1} ms, max {:.1} ms; IPP bodies {} B sent / {} B received; on the wire (HTTP included) {} B sent / {} B received",
        printscout_engine::printer::ipp::REQUESTED_ATTRIBUTES.len(),
        median.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
        body.0,
        body.1,
        sent,
        received
    );
    // The peer's figure: CUPS's own ipptool asking the same printer for its
    // attributes (a process per poll, as a monitoring script would run it).
    if let Ok(out) = std::process::Command::new("ipptool")
        .arg("--version")
        .output()
        && out.status.success()
    {
        // The same request as ours: the same attributes, status successful-ok.
        let dir = tempfile::tempdir().expect("temp dir");
        let test = dir.path().join("gpa.test");
        std::fs::write(
            &test,
            format!(
                "{{\n OPERATION Get-Printer-Attributes\n GROUP operation-attributes-tag\n                  ATTR charset attributes-charset utf-8\n                  ATTR naturalLanguage attributes-natural-language en\n                  ATTR uri printer-uri $uri\n ATTR name requesting-user-name printscout\n                  ATTR keyword requested-attributes {}\n STATUS successful-ok\n}}\n",
                printscout_engine::printer::ipp::REQUESTED_ATTRIBUTES.join(",")
            ),
        )
        .expect("write the ipptool test");
        let test = test.display().to_string();
        let mut peer = Vec::new();
        for _ in 0..polls {
            let t = Instant::now();
            let ok = std::process::Command::new("ipptool")
                .args(["-q", &p.url(), &test])
                .status()
                .is_ok_and(|s| s.success());
            peer.push(t.elapsed());
            assert!(ok, "ipptool reads the printer");
        }
        peer.sort();
        println!(
            "peer: ipptool (CUPS 2.4), the same Get-Printer-Attributes against the same printer, a process per poll: median {:.1} ms, max {:.1} ms",
            peer[peer.len() / 2].as_secs_f64() * 1000.0,
            peer[peer.len() - 1].as_secs_f64() * 1000.0
        );
    }
    assert!(median < Duration::from_secs(1));
    assert!(sent + received < 8 * 1024, "a few kilobytes per poll");
}

#[tokio::test]
async fn an_ipp_error_status_is_ipp_status_with_its_code() {
    // client-error-not-found, no attributes.
    let body = [2, 0, 0x04, 0x06, 0, 0, 0, 1, 0x03];
    let port = fake_server(Some(http_200(&body))).await;
    let e = read_ipp(
        &format!("ipp://127.0.0.1:{port}/ipp/print"),
        &IppOptions::default(),
    )
    .await
    .expect_err("an IPP error");
    assert_eq!(e.code(), "ipp_status", "{e}");
    assert!(e.to_string().contains("client-error-not-found"), "{e}");
}

#[tokio::test]
async fn a_printer_that_only_speaks_ipp_1_1_is_asked_again_in_1_1() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 8192];
                // Read the headers and the first bytes of the IPP body.
                let start = loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n")
                        && got.len() >= i + 6
                    {
                        break i + 4;
                    }
                };
                let answer: Vec<u8> = if got[start] == 2 {
                    // server-error-version-not-supported
                    vec![2, 0, 0x05, 0x03, 0, 0, 0, 1, 0x03]
                } else {
                    // successful-ok with printer-state idle.
                    let mut v = vec![1, 1, 0, 0, 0, 0, 0, 1, 0x04, 0x23, 0, 13];
                    v.extend_from_slice(b"printer-state");
                    v.extend_from_slice(&[0, 4, 0, 0, 0, 3, 0x03]);
                    v
                };
                let _ = s.write_all(&http_200(&answer)).await;
                let _ = s.shutdown().await;
            });
        }
    });
    let r = read_ipp(
        &format!("ipp://127.0.0.1:{port}/ipp/print"),
        &IppOptions::default(),
    )
    .await
    .expect("read over IPP 1.1");
    assert_eq!(r.status.printer.as_deref(), Some("idle"));
    assert_eq!(r.stats.requests, 2);
    assert!(
        r.notes.iter().any(|n| n.contains("IPP 1.1")),
        "{:?}",
        r.notes
    );
}

#[tokio::test]
async fn ipps_reads_a_self_signed_printer_once_its_own_certificate_is_trusted() {
    let p = IppEvePrinter::start();
    // Let ippeveprinter make its certificate (on the first TLS connection).
    let _ = read_ipp(&p.ipps_url(), &IppOptions::default()).await;
    let cert = std::fs::read_dir(p.dir().join("ssl"))
        .expect("the ssl dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "crt"))
        .expect("the printer's certificate");
    let pem = std::fs::read(&cert).expect("read the certificate");
    let options = IppOptions {
        extra_roots: vec![reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")],
        ..IppOptions::default()
    };
    let r = read_ipp(&p.ipps_url(), &options)
        .await
        .expect("trusted: the printer reads over TLS");
    assert_eq!(r.protocol.as_deref(), Some("ipps"));
    assert!(r.identity.uuid.is_some());
}
