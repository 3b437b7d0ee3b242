//! Moonraker status and history polls (`printer::fab::moonraker`).
//!
//! Against the **real** Moonraker 0.11.0 without Klipper
//! (`printscout_testkit::moonraker`, installed by `scripts/peers/moonraker.sh
//! install`): identity and the offline state in Klipper's words, the (empty)
//! history, API keys required, missing and wrong (rejected, never offline, never
//! shown), and the figures of a status and a history poll.
//!
//! Against a tiny fixture server written here (our own JSON, shaped like
//! Moonraker's documented and captured answers): a ready printer printing,
//! paused, complete, cancelled, shut down; history results normalised with
//! unknown words kept; junk answers (bad response, never a panic).
//!
//! Everything talks to 127.0.0.1 only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use printscout_engine::printer::fab::{
    self, FabError, FabOptions, FabState, FabStatus, FabTarget, History,
};
use printscout_engine::printer::model::Reading;
use printscout_engine::secret::Secret;
use printscout_testkit::logs::{capture_logs, logs_text};
use printscout_testkit::moonraker::{Moonraker, MoonrakerAccess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SENTINEL_KEY: &str = "SENTINEL-moonraker-key-5f2c9e";

fn options(key: Option<&str>) -> FabOptions {
    FabOptions {
        key: key.map(Secret::new),
        timeout: Duration::from_secs(5),
        ..FabOptions::default()
    }
}

fn target(url: &str) -> FabTarget {
    FabTarget::parse(url).expect("a moonraker:// URL")
}

async fn read(url: &str, key: Option<&str>) -> Result<Reading, FabError> {
    fab::read_fab(&target(url), &options(key)).await
}

async fn history(url: &str, key: Option<&str>) -> Result<History, FabError> {
    fab::read_history(&target(url), &options(key))
        .await
        .map(|h| h.expect("Moonraker keeps a history"))
}

fn fab_status(reading: &Reading) -> &FabStatus {
    reading
        .fab
        .as_ref()
        .expect("a 3D-printer reading has a fab status")
}

// ---------------------------------------------------------------- real Moonraker

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moonraker_without_klipper_reads_as_offline_in_klippers_words() {
    let peer = Moonraker::start(MoonrakerAccess::Trusted);
    let reading = read(&peer.url(), None).await.expect("Moonraker answers");
    let status = fab_status(&reading);
    assert_eq!(status.state, FabState::Offline, "{status:?}");
    assert!(status.state_text.contains("disconnected"), "{status:?}");
    assert!(status.job.is_none());
    assert_eq!(reading.status.printer.as_deref(), Some("offline"));
    assert_eq!(reading.status.overall, "warning");
    assert_eq!(reading.device_kind, "3d_printer");
    assert_eq!(reading.protocol.as_deref(), Some("moonraker"));
    let description = reading.identity.description.as_deref().unwrap_or_default();
    assert!(
        description.starts_with("Moonraker 0.11.0 (API 1.5.0)"),
        "{description}"
    );
    // Klipper is down: no /printer/info, so no Klipper version or hostname.
    assert_eq!(reading.identity.firmware, None);
    if let Some(mac) = &reading.identity.mac {
        assert_eq!(mac.len(), 17, "{mac}");
    }
    // /server/info and /machine/system_info only: /printer/* is not asked while
    // Klipper is disconnected.
    assert_eq!(reading.stats.requests, 2, "{:?}", reading.stats);
    let log = peer.log();
    assert!(!log.contains("GET /printer/"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_moonraker_without_jobs_is_empty() {
    let peer = Moonraker::start(MoonrakerAccess::Trusted);
    let h = history(&peer.url(), None).await.expect("history answers");
    assert!(h.jobs.is_empty(), "{:?}", h.jobs);
    assert_eq!(h.stats.requests, 1);
    assert!(h.stats.bytes_received.unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moonraker_that_needs_a_key_rejects_a_missing_key_rather_than_seeming_offline() {
    let peer = Moonraker::start(MoonrakerAccess::ApiKey);
    let e = read(&peer.url(), None).await.expect_err("no key");
    assert_eq!(e.code(), "fab_rejected", "{e}");
    assert!(e.printer_answered());
    assert!(e.to_string().contains("API key"), "{e}");
    let e = history(&peer.url(), None).await.expect_err("no key");
    assert_eq!(e.code(), "fab_rejected", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_rejected_and_never_shown_in_errors_or_logs() {
    capture_logs();
    let peer = Moonraker::start(MoonrakerAccess::ApiKey);
    let e = read(&peer.url(), Some(SENTINEL_KEY))
        .await
        .expect_err("wrong key");
    assert_eq!(e.code(), "fab_rejected", "{e}");
    let e2 = history(&peer.url(), Some(SENTINEL_KEY))
        .await
        .expect_err("wrong key");
    assert_eq!(e2.code(), "fab_rejected", "{e2}");
    for shown in [e.to_string(), format!("{e:?}"), format!("{e2:?}")] {
        assert!(!shown.contains(SENTINEL_KEY), "{shown}");
    }
    let logs = logs_text();
    assert!(
        logs.contains(&peer.port().to_string()),
        "the capture sees the HTTP client's trace lines"
    );
    assert!(!logs.contains(SENTINEL_KEY), "the key reached our logs");
    assert!(
        !peer.log().contains(SENTINEL_KEY),
        "Moonraker logged the key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_api_key_reads_a_moonraker_that_needs_one() {
    let peer = Moonraker::start(MoonrakerAccess::ApiKey);
    let key = peer.api_key.clone().expect("key mode has a key");
    let reading = read(&peer.url(), Some(&key)).await.expect("the key works");
    assert_eq!(fab_status(&reading).state, FabState::Offline);
    let h = history(&peer.url(), Some(&key))
        .await
        .expect("the key works");
    assert!(h.jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_rejected_even_where_the_address_is_trusted() {
    let peer = Moonraker::start(MoonrakerAccess::Trusted);
    let e = read(&peer.url(), Some(SENTINEL_KEY))
        .await
        .expect_err("Moonraker checks a key it is given");
    assert_eq!(e.code(), "fab_rejected", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_poll_and_a_history_poll_cost_little_time_and_few_bytes() {
    let peer = Moonraker::start(MoonrakerAccess::Trusted);
    let url = peer.url();
    // One poll to warm up Moonraker, then the figures over ten polls each.
    read(&url, None).await.expect("status");
    let mut status_ms = Vec::new();
    let mut status_bytes = (0, 0, 0);
    let mut status_exchange_ms = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = read(&url, None).await.expect("status");
        status_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        status_exchange_ms.push(r.stats.elapsed_ms as f64);
        status_bytes = (
            r.stats.requests,
            r.stats.bytes_sent.unwrap_or(0),
            r.stats.bytes_received.unwrap_or(0),
        );
    }
    let mut history_ms = Vec::new();
    let mut history_bytes = (0, 0, 0);
    let mut history_exchange_ms = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let h = history(&url, None).await.expect("history");
        history_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        history_exchange_ms.push(h.stats.elapsed_ms as f64);
        history_bytes = (
            h.stats.requests,
            h.stats.bytes_sent.unwrap_or(0),
            h.stats.bytes_received.unwrap_or(0),
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (s_med, h_med) = (median(&mut status_ms), median(&mut history_ms));
    let (s_ex, h_ex) = (
        median(&mut status_exchange_ms),
        median(&mut history_exchange_ms),
    );
    println!(
        "moonraker figures (real Moonraker 0.11.0, no Klipper, loopback): status poll median \
         {s_med:.1} ms (max {:.1}; {s_ex:.0} ms of it in the exchanges, stats.elapsed_ms), {} requests, {} B sent, {} B received; history poll median \
         {h_med:.1} ms (max {:.1}; {h_ex:.0} ms in the exchange), {} request, {} B sent, {} B received",
        status_ms[status_ms.len() - 1],
        status_bytes.0,
        status_bytes.1,
        status_bytes.2,
        history_ms[history_ms.len() - 1],
        history_bytes.0,
        history_bytes.1,
        history_bytes.2,
    );
    // Echo's budget: about a second and a few kilobytes per poll.
    assert!(s_med < 1000.0 && h_med < 1000.0, "{s_med} {h_med}");
    assert!(status_bytes.2 < 8 * 1024 && history_bytes.2 < 8 * 1024);
}

// ---------------------------------------------------------------- fixture server

/// A tiny HTTP/1.1 server on 127.0.0.1: each request's path-and-query is
/// looked up in `routes` (else its path alone; else 404 in Moonraker's error
/// shape); every connection is closed after one answer. Requests are recorded.
struct Fixture {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const NOT_FOUND: &str = r#"{"error":{"code":404,"message":"Not Found"}}"#;

async fn fixture(routes: &[(&str, u16, &str)]) -> Fixture {
    let routes: Arc<HashMap<String, (u16, String)>> = Arc::new(
        routes
            .iter()
            .map(|(p, s, b)| ((*p).to_owned(), (*s, (*b).to_owned())))
            .collect(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let keyed = head.to_ascii_lowercase().contains("\r\nx-api-key:");
                seen.lock()
                    .expect("lock")
                    .push(format!("{target}{}", if keyed { " +key" } else { "" }));
                let path = target.split('?').next().unwrap_or("/");
                let (status, body) = routes
                    .get(&target)
                    .or_else(|| routes.get(path))
                    .cloned()
                    .unwrap_or((404, NOT_FOUND.to_owned()));
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=UTF-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Fixture {
        url: format!("moonraker://{addr}"),
        seen,
        task,
    }
}

fn server_info(klippy_state: &str) -> String {
    format!(
        r#"{{"result":{{"klippy_connected":{},"klippy_state":"{klippy_state}","components":["database","history","machine"],"failed_components":[],"registered_directories":["config","logs","gcodes"],"warnings":[],"websocket_count":1,"moonraker_version":"v0.9.3-12-gabcdef0","missing_klippy_requirements":[],"api_version":[1,5,0],"api_version_string":"1.5.0"}}}}"#,
        klippy_state != "disconnected"
    )
}

fn printer_info(state: &str, message: &str) -> String {
    format!(
        r#"{{"result":{{"state":"{state}","state_message":"{message}","hostname":"voron24","klipper_path":"/home/pi/klipper","python_path":"/home/pi/klippy-env/bin/python","process_id":812,"user_id":1000,"group_id":1000,"log_file":"/home/pi/printer_data/logs/klippy.log","config_file":"/home/pi/printer_data/config/printer.cfg","software_version":"v0.12.0-302-g87ac69363","cpu_info":"4 core ARMv7 Processor rev 4 (v7l)"}}}}"#
    )
}

const SYSTEM_INFO: &str = r#"{"result":{"system_info":{"python":{"version":[3,11,2,"final",0],"version_string":"3.11.2"},"cpu_info":{"cpu_count":4,"bits":"32bit","processor":"armv7l","cpu_desc":"ARMv7 Processor rev 4 (v7l)","serial_number":"10000000b4c2e91f","hardware_desc":"BCM2835","model":"Raspberry Pi 3 Model B Rev 1.2","total_memory":944268,"memory_units":"kB"},"sd_info":{},"distribution":{"name":"Debian GNU/Linux 12 (bookworm)","id":"debian","version":"12"},"virtualization":{"virt_type":"none","virt_identifier":"none"},"network":{"eth0":{"mac_address":"B8:27:EB:00:00:01","ip_addresses":[{"family":"ipv4","address":"10.9.8.7","is_link_local":false}]},"wlan0":{"mac_address":"b8:27:eb:00:00:02","ip_addresses":[{"family":"ipv6","address":"fe80::1","is_link_local":true}]}},"canbus":{},"provider":"systemd_dbus","available_services":["klipper","moonraker"],"service_state":{},"instance_ids":{"moonraker":"moonraker","klipper":"klipper"}}}}"#;

fn objects(print_state: &str, filename: &str, progress: f64, duration: f64) -> String {
    format!(
        r#"{{"result":{{"eventtime":5821.39,"status":{{"print_stats":{{"filename":"{filename}","total_duration":{},"print_duration":{duration},"filament_used":1234.5678,"state":"{print_state}","message":"","info":{{"total_layer":120,"current_layer":40}}}},"virtual_sdcard":{{"file_path":"/home/pi/printer_data/gcodes/{filename}","progress":{progress},"is_active":{},"file_position":12345,"file_size":98765}},"display_status":{{"progress":{progress},"message":null}},"webhooks":{{"state":"ready","state_message":"Printer is ready"}},"extruder":{{"temperature":214.97,"target":215.0}},"heater_bed":{{"temperature":59.8,"target":60.0}}}}}}}}"#,
        duration + 30.0,
        print_state == "printing"
    )
}

async fn ready_printer(objects_body: &str) -> Fixture {
    fixture(&[
        ("/server/info", 200, &server_info("ready")),
        (
            "/printer/info",
            200,
            &printer_info("ready", "Printer is ready"),
        ),
        ("/printer/objects/query", 200, objects_body),
        ("/machine/system_info", 200, SYSTEM_INFO),
    ])
    .await
}

#[tokio::test]
async fn a_ready_printer_printing_reads_its_job_progress_and_temperatures() {
    let f = ready_printer(&objects("printing", "benchy_0.2mm_PLA.gcode", 0.25, 600.0)).await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Printing, "printing")
    );
    let job = s.job.as_ref().expect("a job");
    assert_eq!(job.name.as_deref(), Some("benchy_0.2mm_PLA.gcode"));
    assert_eq!(job.progress_percent, Some(25.0));
    assert_eq!(job.elapsed_s, Some(600));
    assert_eq!(job.remaining_s, Some(1800));
    assert_eq!(job.material.as_deref(), Some("1234.6 mm"));
    let temps: Vec<_> = s
        .temperatures
        .iter()
        .map(|t| (t.name.as_str(), t.actual, t.target))
        .collect();
    assert_eq!(
        temps,
        [
            ("extruder", Some(214.97), Some(215.0)),
            ("bed", Some(59.8), Some(60.0))
        ]
    );
    assert!(s.errors.is_empty());
    assert_eq!(r.status.overall, "ok");
    // Identity: Klipper's version and hostname, the MAC of the interface with a
    // routable address, the host CPU serial.
    let id = &r.identity;
    assert_eq!(
        id.firmware.as_deref(),
        Some("Klipper v0.12.0-302-g87ac69363")
    );
    assert_eq!(id.hostname.as_deref(), Some("voron24"));
    assert_eq!(id.mac.as_deref(), Some("b8:27:eb:00:00:01"));
    assert_eq!(id.serial.as_deref(), Some("10000000b4c2e91f"));
    assert!(
        id.description.as_deref().is_some_and(
            |d| d.contains("Moonraker v0.9.3-12-gabcdef0") && d.contains("Debian GNU/Linux 12")
        ),
        "{:?}",
        id.description
    );
    assert_eq!(r.stats.requests, 4);
    let seen = f.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [
            "/server/info",
            "/printer/info",
            "/printer/objects/query?print_stats&virtual_sdcard&display_status&webhooks&extruder=temperature,target&heater_bed=temperature,target",
            "/machine/system_info"
        ]
    );
}

#[tokio::test]
async fn a_paused_print_reads_paused() {
    let f = ready_printer(&objects("paused", "pause.gcode", 0.5, 100.0)).await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Paused, "paused")
    );
    assert_eq!(s.job.as_ref().and_then(|j| j.progress_percent), Some(50.0));
    assert!(s.state.in_job());
}

#[tokio::test]
async fn a_complete_print_reads_finished_with_its_file_kept() {
    let f = ready_printer(&objects("complete", "done.gcode", 1.0, 3600.0)).await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Finished, "complete")
    );
    let job = s.job.as_ref().expect("the finished job is kept");
    assert_eq!(job.name.as_deref(), Some("done.gcode"));
    assert_eq!(
        (job.progress_percent, job.remaining_s),
        (Some(100.0), Some(0))
    );
    assert_eq!(r.status.printer.as_deref(), Some("finished"));
}

#[tokio::test]
async fn a_cancelled_print_is_idle_with_the_word_kept_and_standby_has_no_job() {
    let f = ready_printer(&objects("cancelled", "nope.gcode", 0.1, 10.0)).await;
    let s = fab_status(&read(&f.url, None).await.expect("read")).clone();
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Idle, "cancelled")
    );
    let f = ready_printer(&objects("standby", "", 0.0, 0.0)).await;
    let s = fab_status(&read(&f.url, None).await.expect("read")).clone();
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Idle, "standby")
    );
    assert!(s.job.is_none());
}

#[tokio::test]
async fn an_unknown_print_state_is_kept_and_shown() {
    let f = ready_printer(
        &objects("printing", "x.gcode", 0.3, 60.0)
            .replace(r#""state":"printing""#, r#""state":"purging_nozzle""#),
    )
    .await;
    let s = fab_status(&read(&f.url, None).await.expect("read")).clone();
    // The SD card is still active: printing, in the printer's own word.
    assert_eq!(
        (s.state, s.state_text.as_str()),
        (FabState::Printing, "purging_nozzle")
    );
}

#[tokio::test]
async fn a_print_error_is_an_error_with_klippers_message() {
    let body = objects("error", "fail.gcode", 0.7, 700.0).replace(
        r#""message":"""#,
        r#""message":"Move out of range: 260.000 10.000 0.300 [1000.000]""#,
    );
    let f = ready_printer(&body).await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(s.state, FabState::Error);
    assert_eq!(
        s.errors,
        ["Move out of range: 260.000 10.000 0.300 [1000.000]"]
    );
    assert_eq!(r.status.overall, "error");
    assert_eq!(
        r.alerts[0].description.as_deref(),
        Some("Move out of range: 260.000 10.000 0.300 [1000.000]")
    );
}

#[tokio::test]
async fn a_klipper_shutdown_is_an_error_in_klippers_words_without_asking_for_objects() {
    let message = "MCU 'mcu' shutdown: Timer too close\nThis often indicates the host computer is overloaded.";
    let f = fixture(&[
        ("/server/info", 200, &server_info("shutdown")),
        (
            "/printer/info",
            200,
            &printer_info("shutdown", &message.replace('\n', "\\n")),
        ),
        ("/machine/system_info", 200, SYSTEM_INFO),
    ])
    .await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(s.state, FabState::Error);
    assert!(s.state_text.contains("shutdown"), "{}", s.state_text);
    assert_eq!(s.errors, [message]);
    assert_eq!(r.identity.hostname.as_deref(), Some("voron24"));
    assert_eq!(r.stats.requests, 3);
}

#[tokio::test]
async fn klipper_starting_up_is_maintenance() {
    let f = fixture(&[
        ("/server/info", 200, &server_info("startup")),
        (
            "/printer/info",
            200,
            &printer_info("startup", "Printer is not ready"),
        ),
    ])
    .await;
    let s = fab_status(&read(&f.url, None).await.expect("read")).clone();
    assert_eq!(s.state, FabState::Maintenance);
    assert!(s.errors.is_empty());
}

#[tokio::test]
async fn a_404_on_printer_routes_means_klipper_went_away_not_a_broken_printer() {
    // /server/info still says ready, but Klipper is gone: /printer/* are 404.
    let f = fixture(&[
        ("/server/info", 200, &server_info("ready")),
        ("/machine/system_info", 200, SYSTEM_INFO),
    ])
    .await;
    let r = read(&f.url, None).await.expect("read");
    let s = fab_status(&r);
    assert_eq!(s.state, FabState::Offline);
    assert!(s.state_text.contains("disconnected"), "{}", s.state_text);
    // The identity that does not need Klipper is still read.
    assert_eq!(r.identity.mac.as_deref(), Some("b8:27:eb:00:00:01"));
}

#[tokio::test]
async fn the_key_travels_in_x_api_key_on_every_request() {
    let f = ready_printer(&objects("standby", "", 0.0, 0.0)).await;
    read(&f.url, Some(SENTINEL_KEY)).await.expect("read");
    let seen = f.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.ends_with(" +key")), "{seen:?}");
}

#[tokio::test]
async fn a_403_is_rejected_and_a_404_on_server_info_is_not_a_moonraker() {
    let f = fixture(&[(
        "/server/info",
        403,
        r#"{"error":{"code":403,"message":"Forbidden"}}"#,
    )])
    .await;
    let e = read(&f.url, None).await.expect_err("403");
    assert_eq!(e.code(), "fab_rejected");
    let f = fixture(&[]).await;
    let e = read(&f.url, None).await.expect_err("404");
    assert_eq!(e.code(), "fab_http_status", "{e}");
    assert!(e.printer_answered());
}

const HISTORY: &str = r#"{"result":{"count":5,"jobs":[
 {"job_id":"00000A","user":"_TRUSTED_USER_","filename":"now.gcode","status":"in_progress","start_time":1795300000.25,"end_time":null,"print_duration":120.4,"total_duration":130.0,"filament_used":88.0,"metadata":{"size":1000},"auxiliary_data":[],"exists":true},
 {"job_id":"000009","user":"_TRUSTED_USER_","filename":"weird.gcode","status":"exploded_gently","start_time":1795290000.0,"end_time":1795290100.0,"print_duration":90.0,"total_duration":100.0,"filament_used":10.0,"metadata":{},"auxiliary_data":[],"exists":false},
 {"job_id":"000008","user":"_TRUSTED_USER_","filename":"shut.gcode","status":"klippy_shutdown","start_time":1795280000.0,"end_time":1795280500.9,"print_duration":450.2,"total_duration":500.9,"filament_used":321.04,"metadata":{},"auxiliary_data":[],"exists":true},
 {"job_id":"000007","user":"_TRUSTED_USER_","filename":"pause.gcode","status":"cancelled","start_time":1795269069.5374475,"end_time":1795269071.7880352,"print_duration":0.0,"total_duration":2.2,"filament_used":0.0,"metadata":{},"auxiliary_data":[],"exists":true},
 {"job_id":"000006","user":"_TRUSTED_USER_","filename":"benchy.gcode","status":"completed","start_time":1795200000.9,"end_time":1795203600.1,"print_duration":3500.6,"total_duration":3599.2,"filament_used":1234.5,"metadata":{"filament_weight_total":3.7},"auxiliary_data":[],"exists":true}
]}}"#;

#[tokio::test]
async fn history_results_are_normalised_and_unknown_ones_kept() {
    let f = fixture(&[("/server/history/list", 200, HISTORY)]).await;
    let h = history(&f.url, None).await.expect("history");
    let rows: Vec<_> = h
        .jobs
        .iter()
        .map(|j| (j.key.as_str(), j.result.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("moonraker:00000A", "in_progress"),
            ("moonraker:000009", "exploded_gently"),
            ("moonraker:000008", "failed"),
            ("moonraker:000007", "cancelled"),
            ("moonraker:000006", "completed"),
        ]
    );
    let done = &h.jobs[4];
    assert_eq!(done.name.as_deref(), Some("benchy.gcode"));
    assert_eq!(done.started_at, Some(1_795_200_000));
    assert_eq!(done.ended_at, Some(1_795_203_600));
    assert_eq!(done.duration_s, Some(3501));
    assert_eq!(done.material.as_deref(), Some("1234.5 mm"));
    assert!(!done.synthesised);
    assert_eq!(h.jobs[0].ended_at, None, "a running job has no end yet");
    assert_eq!(h.jobs[2].material.as_deref(), Some("321.0 mm"));
    let seen = f.seen.lock().expect("lock").clone();
    assert_eq!(seen, ["/server/history/list?limit=50&order=desc"]);
}

#[tokio::test]
async fn junk_answers_are_bad_responses_never_panics() {
    let junk = [
        "<html><body>502 Bad Gateway</body></html>",
        "",
        "[1,2,3]",
        r#"{"result":5}"#,
        r#"{"jobs":[]}"#,
        r#"{"result":{"klippy_state":"ready""#,
        "\u{0}\u{1}\u{2}garbage",
    ];
    for body in junk {
        let f = fixture(&[
            ("/server/info", 200, body),
            ("/server/history/list", 200, body),
        ])
        .await;
        let e = read(&f.url, None).await.expect_err(body);
        assert_eq!(e.code(), "fab_bad_response", "{body:?}: {e}");
        let e = history(&f.url, None).await.expect_err(body);
        assert_eq!(e.code(), "fab_bad_response", "{body:?}: {e}");
    }
    let f = fixture(&[("/server/history/list", 200, r#"{"result":{"jobs":7}}"#)]).await;
    let e = history(&f.url, None).await.expect_err("jobs not a list");
    assert_eq!(e.code(), "fab_bad_response", "{e}");
}

#[tokio::test]
async fn odd_values_inside_good_answers_are_read_as_missing_not_fatal() {
    // Wrong types, Python's NaN, negative and huge numbers, no status at all.
    let odd_objects = r#"{"result":{"status":{"print_stats":{"state":"printing","filename":7,"print_duration":-5,"filament_used":NaN},"virtual_sdcard":{"progress":"lots","is_active":"yes"},"display_status":{"progress":1e308},"webhooks":[],"extruder":{"temperature":NaN,"target":"hot"},"heater_bed":null}}}"#;
    let f = fixture(&[
        ("/server/info", 200, &server_info("ready")),
        ("/printer/info", 200, r#"{"result":{"state":17,"hostname":["x"]}}"#),
        ("/printer/objects/query", 200, odd_objects),
        ("/machine/system_info", 200, r#"{"result":{"system_info":{"network":{"eth0":{"mac_address":"not-a-mac"}},"cpu_info":{"serial_number":null}}}}"#),
    ])
    .await;
    let r = read(&f.url, None).await.expect("odd but readable");
    let s = fab_status(&r);
    // printer/info's state is not a word: /server/info's "ready" stands.
    assert_eq!(s.state_text, "printing");
    assert_eq!(s.temperatures.len(), 1);
    assert_eq!(s.temperatures[0].actual, None);
    // A file name that is not a string: no job to name, the state still read.
    assert_eq!(s.state, FabState::Printing);
    assert!(s.job.is_none());
    assert_eq!(
        (r.identity.mac.as_deref(), r.identity.hostname.as_deref()),
        (None, None)
    );

    let odd_history = r#"{"result":{"jobs":[5,"x",{"job_id":12,"status":null,"start_time":-1,"end_time":"soon","print_duration":1e300,"filament_used":-3},{}]}}"#;
    let f = fixture(&[("/server/history/list", 200, odd_history)]).await;
    let h = history(&f.url, None).await.expect("odd but readable");
    assert_eq!(h.jobs.len(), 2, "{:?}", h.jobs);
    let j = &h.jobs[0];
    assert_eq!(
        (j.key.as_str(), j.result.as_str()),
        ("moonraker:12", "unknown")
    );
    assert_eq!(
        (
            j.started_at,
            j.ended_at,
            j.duration_s,
            j.material.as_deref()
        ),
        (None, None, None, None)
    );
    assert_eq!(h.jobs[1].key, "moonraker::");
}
