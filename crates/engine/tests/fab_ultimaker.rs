//! Ultimaker S-series against the fixture server (no runnable Ultimaker
//! exists): responses written from PROTOCOLS.md §7 (Cura's
//! `PrinterSystemStatus` fields, the community clients' enums, and the
//! published UM3E history capture's shape).

use std::time::{Duration, Instant};

use printscout_engine::printer::fab::{FabOptions, FabState, FabTarget, read_fab, read_history};
use printscout_engine::printer::model::Reading;
use printscout_testkit::fab_fixture::{Access, FabFixture};
use serde_json::{Value, json};

const HISTORY: &str = "/api/v1/history/print_jobs?offset=0&count=50";

fn target(f: &FabFixture) -> FabTarget {
    FabTarget::parse(&format!("ultimaker://127.0.0.1:{}", f.port())).expect("a target")
}

fn options() -> FabOptions {
    FabOptions {
        timeout: Duration::from_secs(5),
        ..FabOptions::default()
    }
}

fn printer(status: &str) -> Value {
    json!({
        "status": status,
        "bed": {"temperature": {"current": 60.2, "target": 60.0}, "type": "glass",
                "pre_heat": {"active": false}},
        "heads": [{
            "position": {"x": 10.0, "y": 20.0, "z": 3.2},
            "fan": 0.0,
            "extruders": [
                {"hotend": {"id": "AA 0.4", "temperature": {"current": 210.3, "target": 210.0}},
                 "active_material": {"guid": "506c9f0d-e3aa-4bd4-b2d2-23e2425b1aa9", "length_remaining": -1}},
                {"hotend": {"id": "BB 0.4", "temperature": {"current": 100.1, "target": 0.0}}}
            ]
        }],
        "led": {"brightness": 100.0, "hue": 0.0, "saturation": 0.0}
    })
}

fn print_job(state: &str) -> Value {
    json!({
        "time_elapsed": 1800, "time_total": 7200,
        "datetime_started": "2024-03-01T10:00:00", "datetime_finished": "",
        "datetime_cleaned": "", "source": "WEB_API", "source_user": "cura",
        "source_application": "Cura", "name": "UMS5_bracket",
        "uuid": "2B6E7AB5-9A5F-4C6B-9D1E-6A1B2C3D4E5F", "reprint_original_uuid": "",
        "state": state, "result": "", "progress": 0.25, "pause_source": ""
    })
}

/// An S5 printing a bracket.
fn printing_s5(f: &FabFixture) {
    f.set_json(
        "/api/v1/system",
        200,
        &json!({
            "guid": "A1B2C3D4-0000-4000-8000-00000000ABCD", "name": "S5-lab",
            "hostname": "ultimakersystem-ccbdd3", "firmware": "8.3.0.20230515",
            "variant": "Ultimaker S5", "hardware": {"typeid": 9051, "revision": 0},
            "uptime": 86400, "country": "NL", "language": "en", "platform": "Linux"
        }),
    );
    f.set_json("/api/v1/printer", 200, &printer("printing"));
    f.set_json("/api/v1/print_job", 200, &print_job("printing"));
}

async fn read(f: &FabFixture) -> Reading {
    read_fab(&target(f), &options())
        .await
        .expect("the printer is read")
}

#[tokio::test]
async fn a_printing_s5_is_read_with_identity_temperatures_and_its_job() {
    let f = FabFixture::start(Access::Open);
    printing_s5(&f);
    let r = read(&f).await;
    let fab = r.fab.as_ref().expect("a 3D status");
    assert_eq!(
        (fab.state, fab.state_text.as_str()),
        (FabState::Printing, "printing")
    );
    let job = fab.job.as_ref().expect("job");
    assert_eq!(
        job.id.as_deref(),
        Some("2B6E7AB5-9A5F-4C6B-9D1E-6A1B2C3D4E5F")
    );
    assert_eq!(job.name.as_deref(), Some("UMS5_bracket"));
    assert_eq!(job.progress_percent, Some(25.0));
    assert_eq!((job.elapsed_s, job.remaining_s), (Some(1800), Some(5400)));
    assert_eq!(
        job.started_at,
        Some(1_709_287_200),
        "naive time taken as UTC"
    );
    let names: Vec<&str> = fab.temperatures.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["extruder0", "extruder1", "bed"]);
    assert_eq!(fab.temperatures[0].actual, Some(210.3));
    assert_eq!(r.identity.model.as_deref(), Some("Ultimaker S5"));
    assert_eq!(r.identity.firmware.as_deref(), Some("8.3.0.20230515"));
    assert_eq!(
        r.identity.uuid.as_deref(),
        Some("a1b2c3d4-0000-4000-8000-00000000abcd")
    );
    assert_eq!(
        r.identity.hostname.as_deref(),
        Some("ultimakersystem-ccbdd3")
    );
    assert_eq!(r.identity.uptime_seconds, Some(86400));
    assert_eq!(r.protocol.as_deref(), Some("ultimaker"));
    assert_eq!(r.stats.requests, 3);
    assert_eq!(r.stats.requests as usize, f.requests());
}

#[tokio::test]
async fn every_ultimaker_status_and_job_state_maps_to_the_common_vocabulary_and_keeps_its_words() {
    let f = FabFixture::start(Access::Open);
    printing_s5(&f);
    let cases: [(&str, Option<&str>, FabState, &str); 16] = [
        ("idle", None, FabState::Idle, "idle"),
        ("printing", Some("printing"), FabState::Printing, "printing"),
        (
            "printing",
            Some("pre_print"),
            FabState::Printing,
            "printing: pre_print",
        ),
        (
            "printing",
            Some("post_print"),
            FabState::Printing,
            "printing: post_print",
        ),
        (
            "printing",
            Some("pausing"),
            FabState::Paused,
            "printing: pausing",
        ),
        (
            "printing",
            Some("paused"),
            FabState::Paused,
            "printing: paused",
        ),
        (
            "printing",
            Some("resuming"),
            FabState::Printing,
            "printing: resuming",
        ),
        (
            "printing",
            Some("wait_cleanup"),
            FabState::Finished,
            "printing: wait_cleanup",
        ),
        (
            "idle",
            Some("wait_cleanup"),
            FabState::Finished,
            "idle: wait_cleanup",
        ),
        (
            "printing",
            Some("wait_user_action"),
            FabState::Maintenance,
            "printing: wait_user_action",
        ),
        (
            "printing",
            Some("teleporting"),
            FabState::Printing,
            "printing: teleporting",
        ),
        (
            "error",
            Some("printing"),
            FabState::Error,
            "error: printing",
        ),
        ("maintenance", None, FabState::Maintenance, "maintenance"),
        ("booting", None, FabState::Maintenance, "booting"),
        ("idle", Some("none"), FabState::Idle, "idle"),
        ("levitating", None, FabState::Idle, "levitating"),
    ];
    for (status, job_state, want, words) in cases {
        f.set_json("/api/v1/printer", 200, &printer(status));
        match job_state {
            Some(s) => f.set_json("/api/v1/print_job", 200, &print_job(s)),
            None => f.set_route("/api/v1/print_job", 404, r#"{"message":"Not found"}"#),
        }
        let r = read(&f).await;
        let fab = r.fab.as_ref().expect("status");
        assert_eq!(fab.state, want, "{status} / {job_state:?}");
        assert_eq!(fab.state_text, words);
        if status == "levitating" {
            assert!(
                r.notes.iter().any(|n| n.contains("levitating")),
                "{:?}",
                r.notes
            );
        }
    }
}

#[tokio::test]
async fn no_current_job_answered_404_is_an_idle_printer_not_an_error() {
    let f = FabFixture::start(Access::Open);
    printing_s5(&f);
    f.set_json("/api/v1/printer", 200, &printer("idle"));
    f.remove_route("/api/v1/print_job"); // the fixture answers 404
    let r = read(&f).await;
    let fab = r.fab.as_ref().expect("status");
    assert_eq!((fab.state, fab.job.as_ref()), (FabState::Idle, None));
    assert_eq!(r.status.overall, "ok");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[tokio::test]
async fn history_jobs_are_keyed_by_uuid_with_normalised_results_and_times_taken_as_utc() {
    let f = FabFixture::start(Access::Open);
    f.set_json(
        HISTORY,
        200,
        &json!([
            {"datetime_started": "2020-10-25T19:20:16", "datetime_finished": "2020-10-26T02:24:39",
             "name": "UM3E_mascarilla_original", "result": "Finished", "time_elapsed": 25360.40,
             "uuid": "e4a03b8d-bbc2-446f-83ea-ab0c602f2f30"},
            {"datetime_started": "2020-10-24T08:00:00", "datetime_finished": "2020-10-24T08:30:00",
             "name": "calibration cube", "result": "Aborted", "time_elapsed": 1790,
             "uuid": "0f6bd1b2-6e40-4b7d-9f1b-1f3f2c0d9a10"},
            {"datetime_started": "2020-10-23T08:00:00", "name": "gremlin",
             "result": "Eaten_by_gremlin", "time_elapsed": 60,
             "uuid": "7a1c8c0e-1d7e-4a63-9b0f-0b8f0f0f0f0f"},
            {"datetime_started": "2020-10-22T08:00:00", "datetime_finished": "2020-10-22T09:00:00",
             "name": "broke", "result": "Failed", "time_elapsed": 3600,
             "uuid": "11111111-2222-3333-4444-555555555555"}
        ]),
    );
    let h = read_history(&target(&f), &options())
        .await
        .expect("history")
        .expect("Ultimaker keeps history");
    assert_eq!(h.jobs.len(), 4);
    let j = &h.jobs[0];
    assert_eq!(j.key, "ultimaker:e4a03b8d-bbc2-446f-83ea-ab0c602f2f30");
    assert_eq!(j.name.as_deref(), Some("UM3E_mascarilla_original"));
    assert_eq!(j.started_at, Some(1_603_653_616));
    assert_eq!(j.ended_at, Some(1_603_679_079));
    assert_eq!(
        (j.duration_s, j.result.as_str()),
        (Some(25360), "completed")
    );
    assert!(!j.synthesised);
    assert_eq!(h.jobs[1].result, "cancelled");
    assert_eq!(
        h.jobs[2].result, "Eaten_by_gremlin",
        "unknown results are kept"
    );
    assert_eq!(h.jobs[2].ended_at, Some(1_603_440_060), "start + elapsed");
    assert_eq!(h.jobs[3].result, "failed");
    assert_eq!(h.stats.requests, 1);
}

#[tokio::test]
async fn junk_and_odd_json_give_a_bad_response_or_a_partial_reading_never_a_panic() {
    let f = FabFixture::start(Access::Open);
    printing_s5(&f);
    for junk in [
        "<html/>",
        "",
        "[]",
        r#"{"status": 3}"#,
        r#"{"bed": {}}"#,
        "{\"status\": \"idle\"",
    ] {
        f.set_route("/api/v1/printer", 200, junk);
        let e = read_fab(&target(&f), &options()).await.expect_err(junk);
        assert_eq!(e.code(), "fab_bad_response", "{junk}: {e}");
    }
    // Odd parts: a partial reading.
    f.set_route(
        "/api/v1/printer",
        200,
        r#"{"status": "printing", "heads": {"not": "a list"}, "bed": {"temperature": {"current": "warm", "target": 1e308}}}"#,
    );
    f.set_route(
        "/api/v1/system",
        200,
        r#"{"guid": 12, "variant": ["S5"], "uptime": -4, "hardware": "x"}"#,
    );
    f.set_route(
        "/api/v1/print_job",
        200,
        r#"{"state": 5, "progress": 7.5, "time_elapsed": 1e30, "time_total": "soon", "datetime_started": "not a date", "uuid": null}"#,
    );
    let r = read(&f).await;
    let fab = r.fab.as_ref().expect("status");
    assert_eq!(fab.state, FabState::Printing);
    let job = fab.job.as_ref().expect("job");
    assert_eq!(job.progress_percent, Some(100.0));
    assert_eq!(
        (job.elapsed_s, job.remaining_s, job.started_at),
        (None, None, None)
    );
    assert_eq!(r.identity.model, None);
    assert_eq!(r.identity.uptime_seconds, None);
    assert_eq!(fab.temperatures.len(), 1);
    // A job list that is not JSON: a partial reading, said in a note.
    f.set_route("/api/v1/print_job", 200, "garbage");
    let r = read(&f).await;
    assert!(
        r.notes.iter().any(|n| n.contains("print_job")),
        "{:?}",
        r.notes
    );
    // History: not a list → bad response; junk entries → skipped.
    f.set_json(HISTORY, 200, &json!({"jobs": []}));
    let e = read_history(&target(&f), &options())
        .await
        .expect_err("not a list");
    assert_eq!(e.code(), "fab_bad_response");
    f.set_json(
        HISTORY,
        200,
        &json!([1, "x", null, {}, {"uuid": "abc", "time_elapsed": -1, "result": 7,
                                   "datetime_started": 20201025}]),
    );
    let h = read_history(&target(&f), &options())
        .await
        .expect("history")
        .expect("some");
    assert_eq!(h.jobs.len(), 1);
    assert_eq!(h.jobs[0].key, "ultimaker:abc");
    assert_eq!(h.jobs[0].duration_s, None);
}

#[tokio::test]
async fn a_refusal_is_rejected_not_offline_and_a_missing_printer_is_connect_failed() {
    let f = FabFixture::start(Access::ApiKey("nobody-has-this".into()));
    printing_s5(&f);
    let e = read_fab(&target(&f), &options()).await.expect_err("401");
    assert_eq!(e.code(), "fab_rejected");
    assert!(e.printer_answered());
    drop(f);

    let closed = printscout_testkit::ClosedTcpPort::new();
    let port = closed.port();
    let t = FabTarget::parse(&format!("ultimaker://127.0.0.1:{port}")).expect("target");
    let e = read_fab(&t, &options()).await.expect_err("nothing there");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
    let e = read_history(&t, &options())
        .await
        .expect_err("nothing there");
    assert_eq!(e.code(), "fab_connect_failed", "{e}");
}

#[tokio::test]
async fn figures_a_status_poll_and_a_history_poll_cost_time_and_bytes() {
    let f = FabFixture::start(Access::Open);
    printing_s5(&f);
    // A full history page: 50 jobs shaped like the published capture.
    let jobs: Vec<Value> = (0..50)
        .map(|i| {
            json!({"datetime_started": "2020-10-25T19:20:16", "datetime_finished": "2020-10-26T02:24:39",
                   "name": format!("UM3E_job_{i:02}"), "result": "Finished", "time_elapsed": 25360.40,
                   "uuid": format!("e4a03b8d-bbc2-446f-83ea-ab0c602f2f{i:02}")})
        })
        .collect();
    f.set_json(HISTORY, 200, &Value::Array(jobs));
    let polls = 20u32;
    for (label, history) in [("status", false), ("history (50 jobs)", true)] {
        let (mut sent, mut received, mut requests) = (0u64, 0u64, 0u32);
        let mut worst = Duration::ZERO;
        let started = Instant::now();
        for _ in 0..polls {
            let t0 = Instant::now();
            let stats = if history {
                let h = read_history(&target(&f), &options())
                    .await
                    .expect("history")
                    .expect("some");
                assert_eq!(h.jobs.len(), 50);
                h.stats
            } else {
                read(&f).await.stats
            };
            worst = worst.max(t0.elapsed());
            sent += stats.bytes_sent.unwrap_or(0);
            received += stats.bytes_received.unwrap_or(0);
            requests += stats.requests;
        }
        let mean = started.elapsed() / polls;
        println!(
            "FIGURE ultimaker {label} poll (loopback fixture): {:.1} ms mean, {:.1} ms worst, {} requests, {} B sent, {} B received per poll",
            mean.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3,
            requests / polls,
            sent / u64::from(polls),
            received / u64::from(polls)
        );
        assert!(worst < Duration::from_secs(1), "{worst:?}");
    }
}
