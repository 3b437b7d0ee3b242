//! The OctoPrint reader (`printer::fab::octoprint`) against a **real**
//! OctoPrint 1.11.8 with its Virtual Printer (started by
//! `printscout_testkit::octoprint`, installed by `scripts/peers/octoprint.sh
//! install`), plus a tiny junk server of our own for answers no real
//! OctoPrint sends.
//!
//! Tests that only read share one OctoPrint while they overlap
//! ([`shared_idle`]: a `Weak` in a static, so the last user's `Drop` still
//! stops it by PID); tests that print or disconnect start their own. Every
//! packet goes to 127.0.0.1.
//!
//! Figures: `cargo test -p printscout-engine --test fab_octoprint
//! status_and_history_poll_figures_on_a_real_print -- --nocapture`.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use printscout_engine::printer::fab::{
    self, FabError, FabOptions, FabState, FabTarget, History, octoprint,
};
use printscout_engine::printer::model::Reading;
use printscout_engine::secret::Secret;
use printscout_testkit::octoprint::{OctoPrint, short_gcode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One OctoPrint shared by the read-only tests that run at the same time.
fn shared_idle() -> Arc<OctoPrint> {
    static SHARED: Mutex<Weak<OctoPrint>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(peer) = slot.upgrade() {
        return peer;
    }
    let peer = Arc::new(OctoPrint::start());
    *slot = Arc::downgrade(&peer);
    peer
}

fn target(peer: &OctoPrint) -> FabTarget {
    FabTarget::parse(&peer.url()).expect("the peer's URL parses")
}

fn options(key: &str) -> FabOptions {
    FabOptions {
        key: Some(Secret::new(key)),
        ..FabOptions::default()
    }
}

async fn read(peer: &OctoPrint, key: &str) -> Reading {
    fab::read_fab(&target(peer), &options(key))
        .await
        .expect("a status poll of a running OctoPrint")
}

async fn history(peer: &OctoPrint) -> History {
    fab::read_history(&target(peer), &options(peer.api_key()))
        .await
        .expect("a history poll")
        .expect("OctoPrint keeps a history")
}

/// Polls status until `done` says so (every 100 ms, up to `limit`).
async fn poll_until(
    peer: &OctoPrint,
    limit: Duration,
    what: &str,
    done: impl Fn(&Reading) -> bool,
) -> Reading {
    let deadline = Instant::now() + limit;
    loop {
        let reading = read(peer, peer.api_key()).await;
        if done(&reading) {
            return reading;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {limit:?}; last status {:?}\n{}",
            reading.fab,
            peer.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state(reading: &Reading) -> FabState {
    reading.fab.as_ref().expect("a 3D status").state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_idle_status_come_from_a_real_octoprint_in_two_requests() {
    let peer = shared_idle();
    // Right after connecting, OctoPrint has no temperature yet (its first
    // M105 answer comes within seconds).
    let r = poll_until(&peer, Duration::from_secs(15), "temperatures", |r| {
        r.fab.as_ref().is_some_and(|f| !f.temperatures.is_empty())
    })
    .await;
    assert_eq!(r.device_kind, "3d_printer");
    assert_eq!(r.protocol.as_deref(), Some("octoprint"));
    assert_eq!(r.identity.model.as_deref(), Some("OctoPrint"));
    assert_eq!(r.identity.description.as_deref(), Some("OctoPrint 1.11.8"));
    assert_eq!(r.identity.firmware.as_deref(), Some("Virtual Marlin 1.0"));
    let fab = r.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Idle);
    assert_eq!(fab.state_text, "Operational");
    assert!(fab.errors.is_empty(), "{:?}", fab.errors);
    let names: Vec<&str> = fab.temperatures.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["tool0", "bed"]);
    assert!(fab.temperatures.iter().all(|t| t.actual.is_some()));
    assert_eq!(r.status.overall, "ok");
    assert_eq!(r.status.printer.as_deref(), Some("idle"));
    assert_eq!(r.stats.requests, 2, "system/info + printer");
    assert!(r.stats.bytes_received.unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_system_rights_still_reads_the_status_but_no_firmware() {
    let peer = shared_idle();
    let r = read(&peer, peer.viewer_key()).await;
    assert_eq!(r.identity.firmware, None);
    assert_eq!(r.identity.description.as_deref(), Some("OctoPrint 1.11.8"));
    assert_eq!(state(&r), FabState::Idle);
    assert_eq!(r.stats.requests, 3, "system/info (403), version, printer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_rejected_not_offline_and_never_shown() {
    const SENTINEL: &str = "SENTINELWRONGKEY7f3a9c";
    printscout_testkit::logs::capture_logs();
    let peer = shared_idle();
    let t = target(&peer);
    let o = options(SENTINEL);
    let e = fab::read_fab(&t, &o).await.expect_err("a wrong key");
    assert_eq!(e.code(), "fab_rejected", "{e}");
    assert!(e.printer_answered(), "rejected is not offline");
    assert!(
        matches!(
            e,
            FabError::Rejected {
                status: Some(403),
                ..
            }
        ),
        "{e:?}"
    );
    let h = fab::read_history(&t, &o).await.expect_err("a wrong key");
    assert_eq!(h.code(), "fab_rejected", "{h}");
    for text in [
        e.to_string(),
        format!("{e:?}"),
        h.to_string(),
        format!("{h:?}"),
        format!("{o:?}"),
        printscout_testkit::logs::logs_text(),
    ] {
        assert!(!text.contains(SENTINEL), "the key leaked: {text}");
    }
    assert!(e.to_string().contains("API key"), "{e}");
    // No key at all: said so before anything is sent.
    let e = fab::read_fab(&t, &FabOptions::default())
        .await
        .expect_err("no key");
    assert_eq!(e.code(), "fab_needs_key");
    let e = octoprint::read(&t, &FabOptions::default())
        .await
        .expect_err("no key");
    assert_eq!(e.code(), "fab_needs_key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_print_is_seen_printing_then_in_history_as_completed_and_a_cancel_as_failed() {
    let peer = OctoPrint::start();
    assert!(history(&peer).await.jobs.is_empty(), "a fresh OctoPrint");
    peer.upload_and_print("parts/cube.gcode", &short_gcode(4));
    let r = poll_until(
        &peer,
        Duration::from_secs(20),
        "printing with progress",
        |r| {
            r.fab.as_ref().is_some_and(|f| {
                f.state == FabState::Printing
                    && f.job.as_ref().and_then(|j| j.progress_percent).is_some()
            })
        },
    )
    .await;
    let fab = r.fab.as_ref().expect("a 3D status");
    assert!(fab.state_text.starts_with("Printing"), "{}", fab.state_text);
    let job = fab.job.as_ref().expect("a current job");
    assert_eq!(job.name.as_deref(), Some("cube.gcode"));
    let progress = job.progress_percent.expect("progress");
    assert!((0.0..=100.0).contains(&progress), "{progress}");
    assert_eq!(r.stats.requests, 3, "system/info + printer + job");
    let done = poll_until(&peer, Duration::from_secs(30), "idle again", |r| {
        state(r) == FabState::Idle
    })
    .await;
    assert_eq!(done.fab.as_ref().map(|f| f.job.is_none()), Some(true));

    // OctoPrint analyses an upload in the background and pauses that while
    // printing: the filament estimate comes a little after the print.
    let deadline = Instant::now() + Duration::from_secs(20);
    let h = loop {
        let h = history(&peer).await;
        if h.jobs.first().is_some_and(|j| j.material.is_some()) || Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(h.stats.requests, 1);
    assert_eq!(h.jobs.len(), 1, "{:?}", h.jobs);
    let job = &h.jobs[0];
    assert!(
        job.key.starts_with("octoprint:local/parts/cube.gcode:"),
        "{}",
        job.key
    );
    assert_eq!(job.name.as_deref(), Some("cube.gcode"));
    assert_eq!(job.result, "completed");
    assert!(!job.synthesised);
    let (started, ended) = (
        job.started_at.expect("a start"),
        job.ended_at.expect("an end"),
    );
    let duration = job.duration_s.expect("a duration");
    assert!((2..=30).contains(&duration), "{duration}");
    assert_eq!(ended - started, i64::try_from(duration).expect("small"));
    let now = chrono_now();
    assert!((now - 120..=now + 5).contains(&ended), "{ended} vs {now}");
    assert_eq!(job.material.as_deref(), Some("16.0 mm (estimate)"));
    // The same poll again gives the same key (the store upserts by it).
    assert_eq!(history(&peer).await.jobs[0].key, job.key);

    // A cancelled print is logged by OctoPrint as a failure.
    peer.upload_and_print("long.gcode", &short_gcode(30));
    poll_until(&peer, Duration::from_secs(20), "printing", |r| {
        state(r) == FabState::Printing
    })
    .await;
    peer.cancel();
    poll_until(&peer, Duration::from_secs(30), "idle after cancel", |r| {
        state(r) == FabState::Idle
    })
    .await;
    let h = history(&peer).await;
    assert_eq!(h.jobs.len(), 2, "{:?}", h.jobs);
    let long = h
        .jobs
        .iter()
        .find(|j| j.name.as_deref() == Some("long.gcode"))
        .expect("the cancelled print");
    assert_eq!(long.result, "failed");
    assert_eq!(
        h.jobs[0].name.as_deref(),
        Some("long.gcode"),
        "newest first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_printer_reads_offline_not_as_an_error_of_ours() {
    let peer = OctoPrint::start();
    peer.disconnect();
    let r = read(&peer, peer.api_key()).await;
    let fab = r.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Offline);
    assert_eq!(fab.state_text, "Offline");
    assert!(fab.errors.is_empty(), "{:?}", fab.errors);
    assert_eq!(r.status.overall, "warning");
    assert_eq!(r.identity.description.as_deref(), Some("OctoPrint 1.11.8"));
    assert_eq!(r.stats.requests, 3, "system/info + printer (409) + job");
    // History still reads (the files are on OctoPrint's host).
    assert!(history(&peer).await.jobs.is_empty());
    peer.connect();
    let r = read(&peer, peer.api_key()).await;
    assert_eq!(state(&r), FabState::Idle);
}

#[tokio::test]
async fn a_port_where_nothing_listens_is_connect_failed() {
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let t = FabTarget::parse(&format!("octoprint://127.0.0.1:{port}")).expect("parse");
    let e = fab::read_fab(&t, &options("ANYKEY"))
        .await
        .expect_err("nothing listens");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
    assert!(!e.printer_answered());
    let e = fab::read_history(&t, &options("ANYKEY"))
        .await
        .expect_err("nothing listens");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
}

/// A tiny HTTP server answering each path (query ignored) from `routes`;
/// anything else 404.
async fn junk_server(routes: Vec<(&'static str, u16, Vec<u8>)>) -> FabTarget {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the junk server");
    let port = listener.local_addr().expect("addr").port();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let target = text.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/");
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map(|(_, s, b)| (*s, b.clone()))
                    .unwrap_or((404, b"{\"error\":\"not found\"}".to_vec()));
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    FabTarget::parse(&format!("octoprint://127.0.0.1:{port}")).expect("parse")
}

#[tokio::test]
async fn junk_json_from_a_tiny_server_is_a_bad_response_not_a_panic() {
    let o = options("ANYKEY");
    // Not JSON at all.
    let t = junk_server(vec![
        ("/api/system/info", 200, b"{not json".to_vec()),
        ("/api/files", 200, vec![0xff, 0xfe, 0x00, b'{']),
    ])
    .await;
    let e = fab::read_fab(&t, &o).await.expect_err("junk");
    assert_eq!(e.code(), "fab_bad_response", "{e}");
    let e = fab::read_history(&t, &o).await.expect_err("junk");
    assert_eq!(e.code(), "fab_bad_response", "{e}");

    // JSON, but not OctoPrint's shapes.
    let t = junk_server(vec![
        (
            "/api/system/info",
            200,
            br#"{"systeminfo": [1, 2]}"#.to_vec(),
        ),
        (
            "/api/version",
            200,
            br#"{"text": 7, "server": "9.9"}"#.to_vec(),
        ),
        ("/api/printer", 200, br#""just a string""#.to_vec()),
        ("/api/files", 200, br#"{"files": "none"}"#.to_vec()),
    ])
    .await;
    let e = fab::read_fab(&t, &o).await.expect_err("no state");
    assert_eq!(e.code(), "fab_bad_response", "{e}");
    let e = fab::read_history(&t, &o).await.expect_err("no files");
    assert_eq!(e.code(), "fab_bad_response", "{e}");

    // Odd but readable: unknown words are kept, odd fields skipped.
    let t = junk_server(vec![
        ("/api/system/info", 403, br#"{"error":"no"}"#.to_vec()),
        ("/api/version", 200, br#"{"server": "2.0.0"}"#.to_vec()),
        (
            "/api/printer",
            200,
            br#"{"state": {"text": "Warp drive engaged", "flags": 42, "error": null},
                 "temperature": {"tool0": [1], "bed": {"actual": "hot", "target": null}}}"#
                .to_vec(),
        ),
        (
            "/api/files",
            200,
            br#"{"files": [7, null, {"type": "folder", "children": {"a": 1}},
                 {"path": "x.gcode", "prints": {"last": {"date": "soon", "success": true}}},
                 {"path": "y.gcode", "prints": {"last": {"date": 1795000000, "printTime": null,
                  "success": null}}}]}"#
                .to_vec(),
        ),
    ])
    .await;
    let r = fab::read_fab(&t, &o).await.expect("odd but readable");
    let fab = r.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Maintenance);
    assert_eq!(fab.state_text, "Warp drive engaged");
    assert!(fab.temperatures.is_empty(), "{:?}", fab.temperatures);
    assert_eq!(r.identity.description.as_deref(), Some("OctoPrint 2.0.0"));
    let h = fab::read_history(&t, &o)
        .await
        .expect("odd but readable")
        .expect("a history");
    assert_eq!(h.jobs.len(), 1, "{:?}", h.jobs);
    assert_eq!(h.jobs[0].result, "unknown");
    assert_eq!(h.jobs[0].started_at, None);

    // A 500 is an HTTP status error, from a printer that is there.
    let t = junk_server(vec![("/api/system/info", 500, b"oops".to_vec())]).await;
    let e = fab::read_fab(&t, &o).await.expect_err("500");
    assert_eq!(e.code(), "fab_http_status", "{e}");
    assert!(e.printer_answered());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_history_poll_figures_on_a_real_print() {
    let peer = OctoPrint::start();
    println!(
        "OctoPrint 1.11.8 started and Operational in {} ms",
        peer.startup().as_millis()
    );
    let figure = |what: &str, requests: u32, ms: u64, sent: Option<u64>, received: Option<u64>| {
        println!(
            "{what:<34} {requests} requests  {ms:>4} ms  {:>5} B sent  {:>6} B received",
            sent.unwrap_or(0),
            received.unwrap_or(0)
        );
    };
    let idle = read(&peer, peer.api_key()).await;
    let s = &idle.stats;
    figure(
        "status poll, idle",
        s.requests,
        s.elapsed_ms,
        s.bytes_sent,
        s.bytes_received,
    );
    let viewer = read(&peer, peer.viewer_key()).await;
    let s = &viewer.stats;
    figure(
        "status poll, idle, non-admin key",
        s.requests,
        s.elapsed_ms,
        s.bytes_sent,
        s.bytes_received,
    );

    peer.upload_and_print("figures/bench.gcode", &short_gcode(4));
    let printing = poll_until(&peer, Duration::from_secs(20), "printing", |r| {
        state(r) == FabState::Printing
    })
    .await;
    let s = &printing.stats;
    figure(
        "status poll, printing",
        s.requests,
        s.elapsed_ms,
        s.bytes_sent,
        s.bytes_received,
    );
    poll_until(&peer, Duration::from_secs(30), "idle again", |r| {
        state(r) == FabState::Idle
    })
    .await;
    let h = history(&peer).await;
    assert_eq!(h.jobs.len(), 1);
    let s = &h.stats;
    figure(
        "history poll, 1 file with a print",
        s.requests,
        s.elapsed_ms,
        s.bytes_sent,
        s.bytes_received,
    );

    // Repeat for a steadier figure: the median of 20 polls each.
    let mut status_ms = Vec::new();
    let mut history_ms = Vec::new();
    for _ in 0..20 {
        status_ms.push(read(&peer, peer.api_key()).await.stats.elapsed_ms);
        history_ms.push(history(&peer).await.stats.elapsed_ms);
    }
    status_ms.sort_unstable();
    history_ms.sort_unstable();
    println!(
        "median of 20: status poll (idle) {} ms, history poll {} ms",
        status_ms[10], history_ms[10]
    );
    for r in [&idle, &printing] {
        assert!(r.stats.requests <= 3);
        assert!(r.stats.elapsed_ms < 1_000, "{:?}", r.stats);
        assert!(
            r.stats.bytes_received.unwrap_or(u64::MAX) < 8_192,
            "{:?}",
            r.stats
        );
    }
    assert!(h.stats.elapsed_ms < 1_000, "{:?}", h.stats);
    assert!(
        h.stats.bytes_received.unwrap_or(u64::MAX) < 8_192,
        "{:?}",
        h.stats
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
