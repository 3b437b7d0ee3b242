//! The scheduler under tokio's paused clock (hours of schedule in a second):
//! polls are spread over the interval, a device never has two polls at once,
//! a sleep or a pause is caught up once, and a dead printer delays no one.
//! The poller is a stand-in that answers after a delay (the scheduling is
//! under test here; SNMP polling is tested against real agents elsewhere);
//! the store is real SQLite on disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use printscout_engine::collector::clock::{Clock, TestClock};
use printscout_engine::collector::poller::{BoxFuture, PollTarget, Poller};
use printscout_engine::collector::{self, Settings};
use printscout_engine::printer::Reading;
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store};

const MIN: i64 = 60_000;
/// 2026-11-02 08:00 UTC.
const T0: i64 = 1_793_606_400_000;

#[derive(Clone, Copy, Debug)]
struct Call {
    device: i64,
    kind: PollKind,
    start: i64,
}

struct FakePoller {
    clock: Arc<TestClock>,
    calls: Mutex<Vec<Call>>,
    busy: Mutex<HashSet<i64>>,
    overlapped: AtomicBool,
    slow: HashMap<i64, Duration>,
}

fn reading(device: i64) -> Reading {
    let mut r = Reading {
        is_printer: true,
        ..Reading::default()
    };
    r.identity.vendor = Some("HP".into());
    r.identity.serial = Some(format!("SERIAL{device:05}"));
    r.counters = BTreeMap::from([("total".to_string(), 1000)]);
    r.status.overall = "ok".into();
    r
}

fn cred() -> Credential {
    Credential::community("office", Version::V2c, "office")
}

impl Poller for FakePoller {
    fn poll<'a>(&'a self, t: &'a PollTarget) -> BoxFuture<'a, (String, PollOutcome)> {
        Box::pin(async move {
            let start = self.clock.now_ms();
            if !self.busy.lock().expect("lock").insert(t.device_id) {
                self.overlapped.store(true, Ordering::SeqCst);
            }
            self.calls.lock().expect("lock").push(Call {
                device: t.device_id,
                kind: t.kind,
                start,
            });
            let delay = self
                .slow
                .get(&t.device_id)
                .copied()
                .unwrap_or(Duration::from_millis(300));
            tokio::time::sleep(delay).await;
            self.busy.lock().expect("lock").remove(&t.device_id);
            (
                t.address.clone().unwrap_or_default(),
                PollOutcome::Read {
                    reading: Box::new(reading(t.device_id)),
                    credential: Some(cred()),
                },
            )
        })
    }
}

struct Lab {
    _dir: tempfile::TempDir,
    clock: Arc<TestClock>,
    poller: Arc<FakePoller>,
    handle: collector::CollectorHandle,
}

/// `n` devices, last read 10 minutes before the start (status is due, meters
/// not); the devices in `lost` have no known address.
fn lab(n: i64, slow: HashMap<i64, Duration>, lost: &[i64]) -> Lab {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open_in(dir.path()).expect("store");
    for id in 1..=n {
        let rec = store
            .record(
                &PollResult {
                    device_id: None,
                    address: format!("127.0.0.{id}:161"),
                    kind: PollKind::Meters,
                    at: T0 - 10 * MIN,
                    outcome: PollOutcome::Read {
                        reading: Box::new(reading(id)),
                        credential: Some(cred()),
                    },
                },
                &Rules::default(),
            )
            .expect("seed");
        assert_eq!(rec.device_id, Some(id));
    }
    for id in lost {
        store
            .connection()
            .execute("UPDATE devices SET address = NULL WHERE id = ?1", [id])
            .expect("lose the device");
    }
    let clock = Arc::new(TestClock::new(T0));
    let poller = Arc::new(FakePoller {
        clock: clock.clone(),
        calls: Mutex::new(Vec::new()),
        busy: Mutex::new(HashSet::new()),
        overlapped: AtomicBool::new(false),
        slow,
    });
    let settings = Settings {
        status_every: Duration::from_secs(300),
        meters_every: Duration::from_secs(3600),
        catch_up_window: Duration::from_secs(60),
        concurrency: 16,
        ..Settings::default()
    };
    let handle = collector::start(settings, store, poller.clone(), clock.clone());
    Lab {
        _dir: dir,
        clock,
        poller,
        handle,
    }
}

impl Lab {
    fn calls(&self) -> Vec<Call> {
        self.poller.calls.lock().expect("lock").clone()
    }
}

async fn run_for(d: Duration) {
    // Step so the scheduler's loop sees time pass as a running machine would.
    let step = Duration::from_millis(500);
    let mut left = d;
    while !left.is_zero() {
        let s = step.min(left);
        tokio::time::sleep(s).await;
        left -= s;
    }
}

#[tokio::test(start_paused = true)]
async fn polls_are_spread_over_the_interval_and_never_overlap() {
    let lab = lab(60, HashMap::new(), &[]);
    run_for(Duration::from_secs(3 * 3600)).await;
    let calls = lab.calls();
    assert!(
        !lab.poller.overlapped.load(Ordering::SeqCst),
        "two polls of one device at once"
    );
    // Every device: about 3 full reads (one per hour) and a status poll every 5 minutes.
    for id in 1..=60 {
        let mine: Vec<&Call> = calls.iter().filter(|c| c.device == id).collect();
        let meters = mine.iter().filter(|c| c.kind == PollKind::Meters).count();
        assert!(
            (2..=4).contains(&meters),
            "device {id}: {meters} full reads in 3 h"
        );
        assert!(
            (30..=42).contains(&mine.len()),
            "device {id}: {} polls in 3 h: {:?}",
            mine.len(),
            mine.iter()
                .map(|c| (c.kind, (c.start - T0) / 1000))
                .collect::<Vec<_>>()
        );
    }
    // Spread: after the first ten minutes, no minute holds more than twice its share.
    let mut per_minute: BTreeMap<i64, usize> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.start >= T0 + 10 * MIN) {
        *per_minute.entry((c.start - T0) / MIN).or_default() += 1;
    }
    let mean = per_minute.values().sum::<usize>() as f64 / per_minute.len() as f64;
    let max = *per_minute.values().max().expect("polls") as f64;
    assert!(
        max <= 2.5 * mean,
        "bursty: max {max} per minute against a mean of {mean:.1}"
    );
    lab.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn after_a_sleep_every_device_is_caught_up_once_not_once_per_missed_slot() {
    let lab = lab(30, HashMap::new(), &[]);
    run_for(Duration::from_secs(20 * 60)).await;
    let before = lab.calls().len();
    // The laptop sleeps three hours: 36 status slots and 3 meter slots missed.
    lab.clock.jump(Duration::from_secs(3 * 3600));
    let woke = lab.clock.now_ms();
    run_for(Duration::from_secs(2 * 60)).await;
    let after: Vec<Call> = lab.calls()[before..].to_vec();
    for id in 1..=30 {
        let mine: Vec<&Call> = after.iter().filter(|c| c.device == id).collect();
        let meters = mine.iter().filter(|c| c.kind == PollKind::Meters).count();
        assert_eq!(meters, 1, "device {id}: {meters} full reads after waking");
        assert!(
            mine.len() <= 2,
            "device {id}: {} polls in 2 minutes after waking",
            mine.len()
        );
        assert!(
            mine.iter()
                .all(|c| c.start >= woke && c.start <= woke + 61_000)
        );
    }
    lab.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_pause_is_caught_up_once_when_monitoring_resumes() {
    let lab = lab(20, HashMap::new(), &[]);
    run_for(Duration::from_secs(10 * 60)).await;
    lab.handle.pause();
    run_for(Duration::from_secs(2)).await;
    let paused_at = lab.calls().len();
    run_for(Duration::from_secs(2 * 3600)).await;
    assert_eq!(lab.calls().len(), paused_at, "nothing polled while paused");
    assert_eq!(lab.handle.status().state, "paused");
    lab.handle.resume();
    run_for(Duration::from_secs(2 * 60)).await;
    let after: Vec<Call> = lab.calls()[paused_at..].to_vec();
    for id in 1..=20 {
        let meters = after
            .iter()
            .filter(|c| c.device == id && c.kind == PollKind::Meters)
            .count();
        assert_eq!(meters, 1, "device {id}");
    }
    lab.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_printer_that_hangs_delays_no_other_printer() {
    // Device 1 takes 20 minutes to answer (four status intervals). The others
    // keep their grid: a status poll every 5 minutes, except the one within
    // half an interval after a full read.
    // Device 40's whereabouts are unknown: it is not polled, and waiting for
    // it must not turn the scheduler into a busy loop (that would stall the
    // paused clock and hang this test).
    let lab = lab(
        40,
        HashMap::from([(1, Duration::from_secs(20 * 60))]),
        &[40],
    );
    run_for(Duration::from_secs(3600)).await;
    let calls = lab.calls();
    assert!(!lab.poller.overlapped.load(Ordering::SeqCst));
    assert!(
        calls.iter().all(|c| c.device != 40),
        "a device without an address was polled"
    );
    let hung = calls.iter().filter(|c| c.device == 1).count();
    assert!(
        hung <= 4,
        "the hung device was polled {hung} times in an hour"
    );
    for id in 2..40 {
        let mut starts: Vec<i64> = calls
            .iter()
            .filter(|c| c.device == id)
            .map(|c| c.start)
            .collect();
        starts.sort();
        let gaps = starts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        assert!(
            gaps <= 5 * MIN * 3 / 2 + 2_000,
            "device {id}: a gap of {} s between polls",
            gaps / 1000
        );
        assert!(
            starts.len() >= 11,
            "device {id}: {} polls in an hour",
            starts.len()
        );
    }
    lab.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn new_settings_take_effect_without_a_restart() {
    let lab = lab(10, HashMap::new(), &[]);
    run_for(Duration::from_secs(10 * 60)).await;
    let before = lab.calls().len();
    lab.handle.reconfigure(
        Settings {
            status_every: Duration::from_secs(60),
            meters_every: Duration::from_secs(3600),
            catch_up_window: Duration::from_secs(10),
            concurrency: 16,
            ..Settings::default()
        },
        lab.poller.clone(),
    );
    run_for(Duration::from_secs(10 * 60)).await;
    let after: Vec<Call> = lab.calls()[before..].to_vec();
    for id in 1..=10 {
        let n = after.iter().filter(|c| c.device == id).count();
        // A status poll a minute now, against two in 10 minutes before.
        assert!(
            (8..=12).contains(&n),
            "device {id}: {n} polls in 10 minutes"
        );
    }
    assert!(!lab.poller.overlapped.load(Ordering::SeqCst));
    lab.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_device_added_through_the_collectors_own_connection_is_polled_at_once() {
    let lab = lab(3, HashMap::new(), &[]);
    run_for(Duration::from_secs(60)).await;
    let added = lab
        .handle
        .with_store(|s| {
            s.record(
                &PollResult {
                    device_id: None,
                    address: "127.0.0.99:161".into(),
                    kind: PollKind::Meters,
                    at: lab.clock.now_ms(),
                    outcome: PollOutcome::Read {
                        reading: Box::new(reading(99)),
                        credential: Some(cred()),
                    },
                },
                &Rules::default(),
            )
        })
        .expect("store")
        .expect("recorded")
        .device_id
        .expect("a device");
    // The API writes through the collector's connection, which does not move
    // PRAGMA data_version: it says so, and the scheduler re-reads its list.
    lab.handle.devices_changed();
    run_for(Duration::from_secs(6 * 60)).await;
    assert!(
        lab.calls().iter().any(|c| c.device == added),
        "the new device was never polled"
    );
    assert_eq!(lab.handle.status().devices, 4);
    lab.handle.shutdown().await;
}
