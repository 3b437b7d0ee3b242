//! PrusaLink against the fixture server (no runnable PrusaLink exists): the
//! responses are written from PROTOCOLS.md §5 (Prusa-Link-Web's OpenAPI
//! shapes and the published capture), and the fixture checks HTTP Digest for
//! real (it recomputes the MD5 response from the password it holds).

use std::time::{Duration, Instant};

use printscout_engine::printer::fab::{FabOptions, FabState, FabTarget, read_fab};
use printscout_engine::printer::model::Reading;
use printscout_engine::secret::Secret;
use printscout_testkit::fab_fixture::{Access, FabFixture};
use printscout_testkit::logs::{capture_logs, logs_text};
use serde_json::json;

const PASSWORD: &str = "Pw-SENTINEL-4417";

fn digest(qop: bool) -> Access {
    Access::Digest {
        user: "maker".into(),
        password: PASSWORD.into(),
        qop,
    }
}

fn options(key: &str) -> FabOptions {
    FabOptions {
        key: Some(Secret::new(key)),
        timeout: Duration::from_secs(5),
        ..FabOptions::default()
    }
}

fn target(f: &FabFixture) -> FabTarget {
    FabTarget::parse(&format!("prusalink://127.0.0.1:{}", f.port())).expect("a target")
}

/// A printing MK4 as the published capture shows it, with its job, info and version.
fn printing_mk4(f: &FabFixture) {
    f.set_json(
        "/api/v1/status",
        200,
        &json!({
            "storage": {"path": "/usb/", "name": "usb", "read_only": false},
            "job": {"id": 4, "progress": 37.00, "time_remaining": 3120, "time_printing": 1858},
            "printer": {"state": "PRINTING", "temp_bed": 60.1, "target_bed": 60.0,
                        "temp_nozzle": 199.0, "target_nozzle": 200.0, "axis_z": 2.4,
                        "flow": 100, "speed": 100, "fan_hotend": 3100, "fan_print": 5200}
        }),
    );
    f.set_json(
        "/api/v1/job",
        200,
        &json!({
            "id": 4, "state": "PRINTING", "progress": 37.0, "time_remaining": 3120,
            "time_printing": 1858,
            "file": {"refs": {"download": "/usb/BENCHY~1.BGC"}, "name": "BENCHY~1.BGC",
                     "display_name": "benchy_0.4n_0.2mm_PLA_MK4_1h2m.bgcode",
                     "path": "/usb", "size": 1254911, "m_timestamp": 1700000000,
                     "meta": {"filament used [g]": 12.0, "filament used [mm]": 4021.5,
                              "filament_type": "PLA"}}
        }),
    );
    f.set_json(
        "/api/v1/info",
        200,
        &json!({"mmu": false, "name": "MK4 left", "location": "Lab 2", "farm_mode": false,
                "nozzle_diameter": 0.4, "min_extrusion_temp": 170,
                "serial": "10589-3742441632105", "sd_ready": false, "active_camera": false,
                "hostname": "prusa-mk4", "port": "", "network_error_chime": false}),
    );
    f.set_json(
        "/api/version",
        200,
        &json!({"api": "2.0.0", "server": "2.1.2", "nozzle_diameter": 0.4,
                "text": "PrusaLink", "hostname": "prusa-mk4", "firmware": "6.1.3+7898",
                "capabilities": {"upload-by-put": true}}),
    );
}

async fn read(f: &FabFixture, key: &str) -> Reading {
    read_fab(&target(f), &options(key))
        .await
        .expect("the printer is read")
}

#[tokio::test]
async fn a_printing_mk4_is_read_through_a_digest_the_fixture_verified() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    let r = read(&f, PASSWORD).await;
    let fab = r.fab.as_ref().expect("a 3D status");
    assert_eq!(fab.state, FabState::Printing);
    assert_eq!(fab.state_text, "PRINTING");
    let job = fab.job.as_ref().expect("a job");
    assert_eq!(job.id.as_deref(), Some("4"));
    assert_eq!(
        job.name.as_deref(),
        Some("benchy_0.4n_0.2mm_PLA_MK4_1h2m.bgcode")
    );
    assert_eq!(job.progress_percent, Some(37.0));
    assert_eq!((job.elapsed_s, job.remaining_s), (Some(1858), Some(3120)));
    assert_eq!(job.material.as_deref(), Some("PLA 4.4 g"));
    let nozzle = fab
        .temperatures
        .iter()
        .find(|t| t.name == "nozzle")
        .expect("nozzle");
    assert_eq!((nozzle.actual, nozzle.target), (Some(199.0), Some(200.0)));
    assert_eq!(r.identity.serial.as_deref(), Some("10589-3742441632105"));
    assert_eq!(r.identity.firmware.as_deref(), Some("6.1.3+7898"));
    assert_eq!(r.identity.hostname.as_deref(), Some("prusa-mk4"));
    assert_eq!(r.identity.vendor.as_deref(), Some("Prusa Research"));
    assert_eq!(r.protocol.as_deref(), Some("prusalink"));
    assert_eq!(r.status.overall, "ok");

    let seen = f.seen();
    assert_eq!(f.digest_refused(), 0);
    assert_eq!((seen[0].status, seen[0].had_digest), (401, false));
    assert!(
        seen[1..].iter().all(|s| s.had_digest && s.status == 200),
        "{seen:?}"
    );
    assert!(seen.iter().all(|s| !s.had_api_key), "{seen:?}");
    assert_eq!(r.stats.requests as usize, f.requests());
    assert_eq!(r.stats.requests, 5, "challenge, status, job, info, version");
    assert!(r.stats.bytes_received.unwrap_or(0) > 500);
}

#[tokio::test]
async fn the_rfc_2069_digest_without_qop_that_buddy_firmware_sends_is_answered_too() {
    let f = FabFixture::start(digest(false));
    printing_mk4(&f);
    let r = read(&f, PASSWORD).await;
    assert_eq!(r.fab.expect("status").state, FabState::Printing);
    assert_eq!(f.digest_refused(), 0);
}

#[tokio::test]
async fn the_digest_user_comes_from_the_address_or_the_options() {
    let f = FabFixture::start(Access::Digest {
        user: "operator".into(),
        password: PASSWORD.into(),
        qop: true,
    });
    printing_mk4(&f);
    let t =
        FabTarget::parse(&format!("prusalink://operator@127.0.0.1:{}", f.port())).expect("target");
    read_fab(&t, &options(PASSWORD))
        .await
        .expect("user from the address");
    let o = FabOptions {
        user: Some("operator".into()),
        ..options(PASSWORD)
    };
    read_fab(&target(&f), &o)
        .await
        .expect("user from the options");
    let e = read_fab(&target(&f), &options(PASSWORD))
        .await
        .expect_err("maker is not the user here");
    assert_eq!(e.code(), "fab_rejected");
}

#[tokio::test]
async fn a_nonce_that_expires_mid_read_is_renewed_once_not_taken_for_a_wrong_password() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    f.expire_nonces_after(1);
    let r = read(&f, PASSWORD).await;
    assert_eq!(r.fab.expect("status").state, FabState::Printing);
    let statuses: Vec<(u16, bool)> = f.seen().iter().map(|s| (s.status, s.had_digest)).collect();
    assert_eq!(
        statuses,
        [
            (401, false),
            (200, true),
            (401, true),
            (200, true),
            (200, true),
            (200, true)
        ]
    );
    assert_eq!(f.digest_refused(), 0);
}

#[tokio::test]
async fn every_prusalink_state_maps_to_the_common_vocabulary_and_keeps_its_word() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    let cases = [
        ("IDLE", false, FabState::Idle),
        ("READY", false, FabState::Idle),
        ("BUSY", false, FabState::Maintenance),
        ("BUSY", true, FabState::Printing),
        ("PRINTING", true, FabState::Printing),
        ("PAUSED", true, FabState::Paused),
        ("FINISHED", true, FabState::Finished),
        ("STOPPED", true, FabState::Idle),
        ("ERROR", false, FabState::Error),
        ("ATTENTION", true, FabState::Maintenance),
        ("WARMING_UP", false, FabState::Idle),
    ];
    for (word, with_job, want) in cases {
        let mut body = json!({"printer": {"state": word, "temp_bed": 21.0, "temp_nozzle": 22.0}});
        if with_job {
            body["job"] = json!({"id": 9, "progress": 100, "time_printing": 60});
        }
        f.set_json("/api/v1/status", 200, &body);
        let r = read(&f, PASSWORD).await;
        let fab = r.fab.as_ref().expect("status");
        assert_eq!(fab.state, want, "{word} with job {with_job}");
        assert_eq!(fab.state_text, word);
        assert_eq!(r.status.printer.as_deref(), Some(want.as_str()));
        if word == "WARMING_UP" {
            assert!(
                r.notes.iter().any(|n| n.contains("WARMING_UP")),
                "{:?}",
                r.notes
            );
        }
    }
}

#[tokio::test]
async fn an_error_with_the_printers_message_becomes_a_critical_alert() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    f.set_json(
        "/api/v1/status",
        200,
        &json!({"printer": {"state": "ERROR",
            "status_printer": {"ok": false, "message": "Heatbed thermal runaway"},
            "status_connect": {"ok": true, "message": "OK"}}}),
    );
    let r = read(&f, PASSWORD).await;
    assert_eq!(r.status.overall, "error");
    assert_eq!(
        r.alerts[0].description.as_deref(),
        Some("Heatbed thermal runaway")
    );
    assert_eq!(r.alerts[0].severity.as_deref(), Some("critical"));
}

#[tokio::test]
async fn no_current_job_answered_204_is_an_idle_printer_not_an_error() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    // The status still names the stopped job; /api/v1/job has none any more.
    f.set_json(
        "/api/v1/status",
        200,
        &json!({"job": {"id": 5, "progress": 12.0, "time_printing": 300},
                "printer": {"state": "STOPPED"}}),
    );
    f.set_route("/api/v1/job", 204, "");
    let r = read(&f, PASSWORD).await;
    let fab = r.fab.as_ref().expect("status");
    assert_eq!(
        (fab.state, fab.state_text.as_str()),
        (FabState::Idle, "STOPPED")
    );
    let job = fab.job.as_ref().expect("the status's job");
    assert_eq!((job.id.as_deref(), job.name.as_deref()), (Some("5"), None));

    // An idle printer without a job is not asked for one.
    f.set_json(
        "/api/v1/status",
        200,
        &json!({"printer": {"state": "IDLE"}}),
    );
    f.clear_seen();
    let r = read(&f, PASSWORD).await;
    assert_eq!(r.fab.expect("status").job, None);
    assert!(f.seen().iter().all(|s| s.path != "/api/v1/job"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_the_fixture_and_rejected_not_offline_without_showing_it() {
    capture_logs();
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    let wrong = "WRONG-SENTINEL-9921";
    let o = options(wrong);
    let e = read_fab(&target(&f), &o)
        .await
        .expect_err("a wrong password");
    assert_eq!(e.code(), "fab_rejected");
    assert!(e.printer_answered());
    assert!(f.digest_refused() >= 1, "the fixture checked the digest");
    let shown = format!("{e} {e:?} {o:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(shown.contains("password"), "{shown}");
    let logs = logs_text();
    assert!(!logs.contains(wrong) && !logs.contains(PASSWORD));
}

#[tokio::test]
async fn older_firmware_without_digest_gets_the_key_as_x_api_key_and_a_wrong_key_is_rejected() {
    capture_logs();
    let key = "KEY-SENTINEL-5150";
    let f = FabFixture::start(Access::ApiKey(key.into()));
    printing_mk4(&f);
    let r = read(&f, key).await;
    assert_eq!(r.fab.expect("status").state, FabState::Printing);
    let seen = f.seen();
    assert_eq!((seen[0].status, seen[0].had_api_key), (401, false));
    assert!(seen[1..].iter().all(|s| s.had_api_key && s.status == 200));

    let e = read_fab(&target(&f), &options("not-the-key"))
        .await
        .expect_err("a wrong key");
    assert_eq!(e.code(), "fab_rejected");
    assert!(!format!("{e} {e:?}").contains("not-the-key"));
    assert!(!logs_text().contains(key));
}

#[tokio::test]
async fn the_firmware_is_taken_from_server_when_the_version_has_no_firmware_field() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    f.set_json(
        "/api/version",
        200,
        &json!({"api": "0.1", "server": "0.7.2", "text": "PrusaLink 0.7.2"}),
    );
    let r = read(&f, PASSWORD).await;
    assert_eq!(r.identity.firmware.as_deref(), Some("0.7.2"));
    assert_eq!(r.identity.description.as_deref(), Some("PrusaLink 0.7.2"));
}

#[tokio::test]
async fn junk_and_odd_json_give_a_bad_response_or_a_partial_reading_never_a_panic() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    for junk in [
        "<html>Prusa</html>",
        "[]",
        "{}",
        r#"{"printer": {"state": 7}}"#,
        r#"{"printer": "PRINTING"}"#,
        r#"{"printer": {"state": "IDLE", "temp_bed": 1e999}}"#,
        "",
    ] {
        f.set_route("/api/v1/status", 200, junk);
        let e = read_fab(&target(&f), &options(PASSWORD))
            .await
            .expect_err(junk);
        assert_eq!(e.code(), "fab_bad_response", "{junk}: {e}");
    }
    // Wrong types and absurd numbers in the parts: a partial reading.
    f.set_route(
        "/api/v1/status",
        200,
        r#"{"printer": {"state": "PRINTING", "temp_nozzle": "hot", "target_nozzle": null,
            "temp_bed": 18446744073709551616000, "status_printer": {"ok": "no"}},
            "job": {"id": {"x": 1}, "progress": 250, "time_remaining": -7,
                    "time_printing": 99999999999999999999999}}"#,
    );
    f.set_route("/api/v1/job", 200, r#"{"file": ["not", "an", "object"]}"#);
    f.set_route("/api/v1/info", 200, "serial=123");
    f.set_json("/api/version", 200, &json!([1, 2, 3]));
    let r = read(&f, PASSWORD).await;
    let fab = r.fab.as_ref().expect("status");
    assert_eq!(fab.state, FabState::Printing);
    let job = fab.job.as_ref().expect("job");
    assert_eq!(job.progress_percent, Some(100.0));
    assert_eq!(
        (job.id.as_ref(), job.remaining_s, job.elapsed_s),
        (None, None, None)
    );
    assert_eq!(r.identity.serial, None);
    assert!(
        r.notes.iter().any(|n| n.contains("/api/v1/info")),
        "{:?}",
        r.notes
    );
    // A status path that is missing altogether is an HTTP status error.
    f.remove_route("/api/v1/status");
    let e = read_fab(&target(&f), &options(PASSWORD))
        .await
        .expect_err("404");
    assert_eq!(e.code(), "fab_http_status");
}

#[tokio::test]
async fn a_printer_that_is_not_there_is_connect_failed() {
    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let t = FabTarget::parse(&format!("prusalink://127.0.0.1:{port}")).expect("target");
    let e = read_fab(&t, &options(PASSWORD))
        .await
        .expect_err("nothing listens");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
    assert!(!e.printer_answered());
}

#[tokio::test]
async fn figures_a_status_poll_costs_time_and_bytes() {
    let f = FabFixture::start(digest(true));
    printing_mk4(&f);
    let polls = 20u32;
    let mut worst = Duration::ZERO;
    let (mut sent, mut received, mut requests) = (0u64, 0u64, 0u32);
    let started = Instant::now();
    for _ in 0..polls {
        let t0 = Instant::now();
        let r = read(&f, PASSWORD).await;
        worst = worst.max(t0.elapsed());
        sent += r.stats.bytes_sent.unwrap_or(0);
        received += r.stats.bytes_received.unwrap_or(0);
        requests += r.stats.requests;
    }
    let mean = started.elapsed() / polls;
    println!(
        "FIGURE prusalink status poll (digest, printing, loopback fixture): {:.1} ms mean, {:.1} ms worst, {} requests, {} B sent, {} B received per poll",
        mean.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        requests / polls,
        sent / u64::from(polls),
        received / u64::from(polls)
    );
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    assert!(received / u64::from(polls) < 8_000);
}
