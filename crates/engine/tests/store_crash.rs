//! The store under `kill -9`: a writer process records a burst of poll
//! results (meter readings, status changes, failed polls, the events they
//! raise) and announces each reading and event on stdout only after
//! `Store::record` returned Ok; it is killed with SIGKILL at a random moment
//! (50–800 ms after it was started, so sometimes during open and migration,
//! mostly mid-burst), and the database is then checked for consistency and
//! for every announced row. The next writer carries on from the crashed file,
//! so each series of rounds also proves that a crashed database keeps working.
//!
//! No network: the readings are synthetic. The writer is this test binary run
//! again with [`WRITER_ENV`] set to the database path. The random delays come
//! from a seed printed at the start; `PRINTSCOUT_CRASH_SEED=<n>` replays one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use printscout_engine::printer::model::{Identity, Status};
use printscout_engine::printer::{Reading, Supply, SupplyState};
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store, now_ms};

/// Set (to the database path) in the writer child.
const WRITER_ENV: &str = "PRINTSCOUT_CRASH_WRITER";
/// Replays a run's random delays.
const SEED_ENV: &str = "PRINTSCOUT_CRASH_SEED";
/// The test, by name, so the child runs only it.
const TEST_NAME: &str =
    "kill_9_during_a_burst_of_writes_leaves_a_consistent_database_and_loses_no_committed_reading";

/// Kill rounds in all.
const ROUNDS: usize = 25;
/// Rounds on one database before starting a fresh one (so kills also land
/// during creation and the first migration).
const ROUNDS_PER_DATABASE: usize = 5;
/// Devices the writer keeps polling.
const DEVICES: usize = 20;
/// The writer stops by itself after this, should nobody kill it.
const WRITER_LIFETIME: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Synthetic readings

fn serial(i: usize) -> String {
    format!("CRASH{i:04}")
}

fn address(i: usize) -> String {
    format!("127.0.0.1:{}", 16100 + i)
}

fn credential() -> Credential {
    Credential::community("public", Version::V2c, "public")
}

fn toner(percent: i64) -> Supply {
    Supply {
        index: Some(1),
        description: "Black Toner".into(),
        kind: Some("toner".into()),
        color: Some("black".into()),
        class: Some("supplyThatIsConsumed".into()),
        unit: Some("percent".into()),
        level: Some(percent),
        max: Some(100),
        percent: Some(percent as f64),
        state: SupplyState::Percent(percent as f64),
        remaining_pages: None,
        source: None,
    }
}

fn waste() -> Supply {
    Supply {
        index: Some(2),
        description: "Waste Toner Box".into(),
        kind: Some("wasteToner".into()),
        color: None,
        class: Some("receptacleThatIsFilled".into()),
        unit: Some("percent".into()),
        level: Some(-3),
        max: Some(100),
        percent: None,
        state: SupplyState::SomeRemaining,
        remaining_pages: None,
        source: None,
    }
}

/// A full read of device `i` with page count `total` (mono and colour split
/// so both only ever grow), toner falling with use and refilled at 0, and a
/// paper jam when `jammed`.
fn full_read(i: usize, total: i64, jammed: bool) -> Reading {
    let mut r = status_read(i, jammed);
    r.is_printer = true;
    r.device_kind = "mfp".into();
    r.identity.vendor = Some("Kyocera".into());
    r.identity.model = Some("ECOSYS M5526cdw".into());
    r.identity.serial = Some(serial(i));
    r.identity.hostname = Some(format!("crash-{i}"));
    r.identity.location = Some("lab".into());
    r.counters = BTreeMap::from([
        ("total".to_string(), total),
        ("mono".to_string(), total * 2 / 3),
        ("color".to_string(), total - total * 2 / 3),
    ]);
    r.supplies = vec![toner(100 - (total / 37) % 101), waste()];
    r
}

/// What a status poll carries: the MAC and the status.
fn status_read(i: usize, jammed: bool) -> Reading {
    Reading {
        target: address(i),
        credential: Some("public".into()),
        identity: Identity {
            mac: Some(format!("00:17:c8:00:10:{i:02x}")),
            ..Identity::default()
        },
        status: Status {
            device: Some(if jammed { "down" } else { "running" }.into()),
            printer: Some("idle".into()),
            errors: if jammed {
                vec!["jammed".into()]
            } else {
                vec![]
            },
            error_state_hex: None,
            overall: if jammed { "error" } else { "ok" }.into(),
        },
        ..Reading::default()
    }
}

fn poll(device_id: Option<i64>, i: usize, kind: PollKind, reading: Reading) -> PollResult {
    PollResult {
        device_id,
        address: address(i),
        kind,
        at: now_ms(),
        outcome: PollOutcome::Read {
            reading: Box::new(reading),
            credential: Some(credential()),
        },
    }
}

// ---------------------------------------------------------------------------
// The writer (child)

/// Announces a committed row; stops the writer when nobody listens any more.
fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

fn announce_recorded(r: &printscout_engine::store::Recorded) {
    if let Some(id) = r.reading_id {
        announce(&format!("committed {id}"));
    }
    for e in &r.events {
        announce(&format!("event {}", e.id));
    }
}

/// Opens the store, finds or creates the devices (carrying on from their
/// last counters), then records until killed.
fn writer(db: &Path) {
    let started = Instant::now();
    // libtest has written "test <name> ... " without a line end: end it, so
    // the first announcement is a line of its own.
    announce("");
    let rules = Rules::default();
    let mut store = Store::open(db).expect("the writer opens the database");
    let mut devices: Vec<(i64, i64, bool)> = Vec::with_capacity(DEVICES); // (id, total, jammed)
    for i in 0..DEVICES {
        let known = store
            .find_device(&serial(i))
            .expect("look the device up")
            .and_then(|d| d.counters.get("total").and_then(|v| v.as_i64()));
        let total = known.map_or(10_000 * (i as i64 + 1), |t| t + 1);
        let rec = store
            .record(
                &poll(None, i, PollKind::Meters, full_read(i, total, false)),
                &rules,
            )
            .expect("record the first reading of a device");
        announce_recorded(&rec);
        let id = rec.device_id.expect("a full read files under a device");
        devices.push((id, total, false));
    }
    announce("ready");
    let mut n: u64 = 0;
    while started.elapsed() < WRITER_LIFETIME {
        n += 1;
        let i = (n as usize * 7) % DEVICES;
        let (id, total, jammed) = devices[i];
        if n.is_multiple_of(41) {
            // Three lost polls in a row: the third takes it offline.
            for _ in 0..3 {
                let rec = store
                    .record(
                        &PollResult {
                            device_id: Some(id),
                            address: address(i),
                            kind: PollKind::Status,
                            at: now_ms(),
                            outcome: PollOutcome::Failed {
                                error: "no answer in 3 s".into(),
                            },
                        },
                        &rules,
                    )
                    .expect("record a failed poll");
                announce_recorded(&rec);
            }
        } else if n.is_multiple_of(13) {
            // A status poll that jams or clears the printer.
            let rec = store
                .record(
                    &poll(Some(id), i, PollKind::Status, status_read(i, !jammed)),
                    &rules,
                )
                .expect("record a status poll");
            announce_recorded(&rec);
            devices[i].2 = !jammed;
        } else {
            let total = total + 1 + (n % 50) as i64;
            let rec = store
                .record(
                    &poll(Some(id), i, PollKind::Meters, full_read(i, total, jammed)),
                    &rules,
                )
                .expect("record a meter reading");
            announce_recorded(&rec);
            devices[i].1 = total;
        }
    }
}

// ---------------------------------------------------------------------------
// The checks (parent)

/// A small LCG: enough to vary the kill moment, replayable from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Reads a pipe to the end, keeping only complete lines (a line cut by the
/// kill was never announced).
fn complete_lines(pipe: impl Read + Send + 'static) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut lines = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => lines.push(line.trim_end().to_string()),
                Ok(_) => break,
            }
        }
        lines
    })
}

fn spawn_writer(db: &Path) -> Child {
    let exe = std::env::current_exe().expect("this test binary");
    Command::new(exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer")
}

fn ids(lines: &[String], prefix: &str) -> BTreeSet<i64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|id| id.parse().expect("an announced id is a number"))
        .collect()
}

fn column(store: &Store, sql: &str) -> Vec<i64> {
    let conn = store.connection();
    let mut st = conn.prepare(sql).expect("prepare a check query");
    st.query_map([], |r| r.get::<_, i64>(0))
        .expect("run a check query")
        .collect::<Result<_, _>>()
        .expect("read a check query")
}

/// What a check found, for the log.
struct Found {
    /// Every reading id in the database.
    readings: BTreeSet<i64>,
    events: usize,
    devices: usize,
}

/// Opens the (crashed) database and checks it is consistent and holds every
/// announced reading and event.
fn check(db: &Path, committed: &BTreeSet<i64>, events: &BTreeSet<i64>) -> Found {
    let store = Store::open(db).expect("a crashed database opens");
    let conn = store.connection();

    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .expect("prepare integrity_check")
        .query_map([], |r| r.get(0))
        .expect("run integrity_check")
        .collect::<Result<_, _>>()
        .expect("read integrity_check");
    assert_eq!(integrity, ["ok"], "integrity_check of {}", db.display());

    let mut fk = conn
        .prepare("PRAGMA foreign_key_check")
        .expect("prepare foreign_key_check");
    let mut rows = fk.query([]).expect("run foreign_key_check");
    let mut violations = Vec::new();
    while let Some(row) = rows.next().expect("read foreign_key_check") {
        violations.push(
            row.get::<_, String>(0)
                .expect("foreign_key_check names a table"),
        );
    }
    assert!(
        violations.is_empty(),
        "foreign key violations in {violations:?}"
    );

    // Every announced reading is there, and every reading went out with its
    // outbox row in the same transaction (and no row without a reading).
    let readings: BTreeSet<i64> = column(&store, "SELECT id FROM meter_readings")
        .into_iter()
        .collect();
    let missing: Vec<_> = committed.difference(&readings).collect();
    assert!(
        missing.is_empty(),
        "committed readings lost after kill -9: {missing:?}"
    );
    let queued = column(
        &store,
        "SELECT json_extract(payload, '$.reading_id') FROM outbox WHERE kind = 'meters'",
    );
    let queued_set: BTreeSet<i64> = queued.iter().copied().collect();
    assert_eq!(queued.len(), queued_set.len(), "a reading queued twice");
    assert_eq!(
        queued_set, readings,
        "meter_readings and the outbox disagree"
    );

    let stored_events: BTreeSet<i64> = column(&store, "SELECT id FROM events")
        .into_iter()
        .collect();
    let lost: Vec<_> = events.difference(&stored_events).collect();
    assert!(lost.is_empty(), "committed events lost: {lost:?}");
    let queued_events: BTreeSet<i64> = column(
        &store,
        "SELECT json_extract(payload, '$.id') FROM outbox WHERE kind = 'event'",
    )
    .into_iter()
    .collect();
    assert_eq!(
        queued_events, stored_events,
        "events and the outbox disagree"
    );

    // The readers work, and each device row agrees with its last reading
    // (they are written in the same transaction).
    let devices = store.devices(true).expect("list devices");
    let mut seen = 0;
    for d in &devices {
        let points = store
            .readings(d.id, None, None)
            .expect("readings of a crashed database");
        seen += points.len();
        if let Some(last) = points.last() {
            let on_device: BTreeMap<String, i64> = d
                .counters
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect();
            assert_eq!(
                on_device, last.counters,
                "device {} row and its last reading {} disagree",
                d.id, last.reading_id
            );
        }
        store
            .history(d.id, None, None)
            .expect("history of a crashed database");
    }
    assert_eq!(seen, readings.len(), "readings() lost or invented a row");
    let report = store
        .meter_report(None, None, &chrono::Utc, &mut |_, _| {})
        .expect("meter report of a crashed database");
    assert_eq!(report.devices.len(), devices.len());
    for row in &report.devices {
        for (key, span) in &row.counters {
            assert!(
                span.usage.is_none_or(|u| u >= 0),
                "negative usage of {key} on device {}",
                row.device_id
            );
        }
    }
    Found {
        readings,
        events: stored_events.len(),
        devices: devices.len(),
    }
}

#[test]
fn kill_9_during_a_burst_of_writes_leaves_a_consistent_database_and_loses_no_committed_reading() {
    if let Some(db) = std::env::var_os(WRITER_ENV) {
        writer(Path::new(&db));
        return;
    }
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("seed {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut db = PathBuf::new();
    let mut committed = BTreeSet::new();
    let mut events = BTreeSet::new();
    let mut stored = BTreeSet::new();
    let mut announced_in_all = 0;
    for round in 0..ROUNDS {
        if round.is_multiple_of(ROUNDS_PER_DATABASE) {
            db = dir
                .path()
                .join(format!("db{}", round / ROUNDS_PER_DATABASE))
                .join("printscout.db");
            std::fs::create_dir_all(db.parent().expect("a parent"))
                .expect("create a database directory");
            committed.clear();
            events.clear();
            stored.clear();
        }
        // The first writer on a fresh file is sometimes killed while it
        // creates the database and migrates it; the others mid-burst.
        let delay = Duration::from_millis(
            if round.is_multiple_of(ROUNDS_PER_DATABASE) && rng.below(2) == 0 {
                5 + rng.below(46)
            } else {
                50 + rng.below(751)
            },
        );
        let mut child = spawn_writer(&db);
        let out = complete_lines(child.stdout.take().expect("piped stdout"));
        let err = complete_lines(child.stderr.take().expect("piped stderr"));
        std::thread::sleep(delay);
        let early = child.try_wait().expect("poll the writer");
        if early.is_none() {
            child.kill().expect("SIGKILL the writer");
        }
        let status = child.wait().expect("reap the writer");
        let lines = out.join().expect("the stdout reader");
        let errors = err.join().expect("the stderr reader");
        assert!(
            early.is_none() && status.signal() == Some(9),
            "round {round}: the writer ended before it was killed ({status:?}):\n{}\n{}",
            lines.join("\n"),
            errors.join("\n")
        );
        let new = ids(&lines, "committed ");
        announced_in_all += new.len();
        committed.extend(new.iter().copied());
        events.extend(ids(&lines, "event "));
        let found = check(&db, &committed, &events);
        // At most one reading was committed and not announced: the one in
        // flight when the kill came between its commit and its announcement.
        let unannounced: Vec<_> = found
            .readings
            .difference(&stored)
            .filter(|id| !committed.contains(id))
            .collect();
        assert!(
            unannounced.len() <= 1,
            "round {round}: readings nobody acknowledged: {unannounced:?}"
        );
        println!(
            "round {round:2}: killed after {:3} ms, {:4} readings announced ({}), database has {} readings, {} events, {} devices",
            delay.as_millis(),
            new.len(),
            if lines.iter().any(|l| l == "ready") {
                "mid-burst"
            } else if new.is_empty() {
                "before its first commit"
            } else {
                "during setup"
            },
            found.readings.len(),
            found.events,
            found.devices
        );
        stored = found.readings;
    }
    assert!(
        announced_in_all > 0,
        "no writer committed anything in {ROUNDS} rounds: the test tested nothing"
    );

    // The last crashed database takes new writes in this process too.
    let mut store = Store::open(&db).expect("reopen the last crashed database");
    let rules = Rules::default();
    let total = store
        .find_device(&serial(3))
        .expect("look a device up")
        .and_then(|d| d.counters.get("total").and_then(|v| v.as_i64()))
        .map_or(1, |t| t + 100);
    let rec = store
        .record(
            &poll(None, 3, PollKind::Meters, full_read(3, total, false)),
            &rules,
        )
        .expect("a crashed database takes a new reading");
    let id = rec.reading_id.expect("a full read makes a reading");
    drop(store);
    committed.insert(id);
    check(&db, &committed, &events);
}
