//! The store on a full disk: recording fails with an error that says the
//! disk is full, never a panic; every reading acknowledged before is still
//! there (with its outbox row) after the database is reopened, the file
//! passes `PRAGMA integrity_check`, and once there is room again the same
//! database takes new readings.
//!
//! The disk is a 512 KiB tmpfs mounted in a private mount namespace: this test
//! binary runs itself again under `unshare -m` (or `unshare -r -m` when not
//! root) with [`CHILD_ENV`] set, and the child mounts, fills and checks. Two
//! ways to fill it: the write-ahead log grows until it no longer fits (the
//! default checkpoint threshold, 4 MB, is larger than the disk), and, with
//! checkpoints every few pages, the database file itself grows until it
//! does not. Where namespaces or mounts are not permitted the test prints
//! `skipped: <why>` and passes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use printscout_engine::printer::model::{Identity, Status};
use printscout_engine::printer::{Reading, Supply, SupplyState};
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store, now_ms};

/// Set (to a directory to mount on) in the child.
const CHILD_ENV: &str = "PRINTSCOUT_FULL_DISK_CHILD";
/// The child's first line: the namespace was made and the test binary runs.
const STARTED: &str = "full-disk child started";
/// The test, by name, so the child runs only it.
const TEST_NAME: &str = "a_full_disk_is_a_clear_error_and_loses_nothing_committed";
/// Devices the readings rotate over.
const DEVICES: usize = 5;
/// Consecutive failed writes after which the disk counts as full.
const FAILURES_TO_STOP: usize = 5;
/// The disk never filling within this many writes is a failure of the test.
const MAX_WRITES: usize = 50_000;

fn address(i: usize) -> String {
    format!("127.0.0.1:{}", 16200 + i)
}

fn credential() -> Credential {
    Credential::community("public", Version::V2c, "public")
}

/// A full read of device `i` at page count `total`.
fn full_read(i: usize, total: i64) -> Reading {
    let percent = 100 - (total / 11) % 101;
    Reading {
        target: address(i),
        credential: Some("public".into()),
        is_printer: true,
        device_kind: "printer".into(),
        identity: Identity {
            vendor: Some("Brother".into()),
            model: Some("HL-L2350DW".into()),
            serial: Some(format!("FULL{i:04}")),
            mac: Some(format!("00:80:77:00:20:{i:02x}")),
            hostname: Some(format!("full-{i}")),
            ..Identity::default()
        },
        counters: BTreeMap::from([("total".to_string(), total), ("mono".to_string(), total)]),
        supplies: vec![Supply {
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
        }],
        status: Status {
            device: Some("running".into()),
            printer: Some("idle".into()),
            overall: "ok".into(),
            ..Status::default()
        },
        ..Reading::default()
    }
}

fn poll(device_id: Option<i64>, i: usize, total: i64) -> PollResult {
    PollResult {
        device_id,
        address: address(i),
        kind: PollKind::Meters,
        at: now_ms(),
        outcome: PollOutcome::Read {
            reading: Box::new(full_read(i, total)),
            credential: Some(credential()),
        },
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn column(store: &Store, sql: &str) -> BTreeSet<i64> {
    let conn = store.connection();
    let mut st = conn.prepare(sql).expect("prepare a check query");
    st.query_map([], |r| r.get::<_, i64>(0))
        .expect("run a check query")
        .collect::<Result<_, _>>()
        .expect("read a check query")
}

/// Reopens the database and checks it: intact, every acknowledged reading
/// there with its outbox row, the readers working.
fn check(db: &Path, acknowledged: &BTreeSet<i64>, what: &str) {
    let store = Store::open(db).unwrap_or_else(|e| panic!("{what}: reopening failed: {e}"));
    let integrity: Vec<String> = store
        .connection()
        .prepare("PRAGMA integrity_check")
        .expect("prepare integrity_check")
        .query_map([], |r| r.get(0))
        .expect("run integrity_check")
        .collect::<Result<_, _>>()
        .expect("read integrity_check");
    assert_eq!(integrity, ["ok"], "{what}: integrity_check");
    let readings = column(&store, "SELECT id FROM meter_readings");
    let lost: Vec<_> = acknowledged.difference(&readings).collect();
    assert!(
        lost.is_empty(),
        "{what}: acknowledged readings lost: {lost:?}"
    );
    let queued = column(
        &store,
        "SELECT json_extract(payload, '$.reading_id') FROM outbox WHERE kind = 'meters'",
    );
    assert_eq!(
        queued, readings,
        "{what}: meter_readings and the outbox disagree"
    );
    for d in store.devices(true).expect("list devices") {
        store
            .readings(d.id, None, None)
            .unwrap_or_else(|e| panic!("{what}: readings of device {}: {e}", d.id));
    }
    store
        .meter_report(None, None, &chrono::Utc, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{what}: meter report: {e}"));
}

/// Mounts a fresh 512 KiB tmpfs at `mnt`; `false` (after printing why)
/// when mounting is not permitted.
fn mount_small_disk(mnt: &Path) -> bool {
    std::fs::create_dir_all(mnt).expect("create the mount point");
    match run(
        "mount",
        &["-t", "tmpfs", "-o", "size=512k", "tmpfs", path_str(mnt)],
    ) {
        Ok(()) => true,
        Err(e) => {
            println!("skipped: cannot mount a tmpfs: {e}");
            false
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// Gives the tmpfs room; `false` (after printing why) where remounting is
/// not permitted (in a user namespace, for one).
fn grow(what: &str, mnt: &Path) -> bool {
    match run("mount", &["-o", "remount,size=8m", path_str(mnt)]) {
        Ok(()) => true,
        Err(e) => {
            println!("{what}: the disk cannot grow here, writing again is not checked: {e}");
            false
        }
    }
}

/// Asserts that an error says the disk is full.
fn says_full(what: &str, e: &str) {
    let lower = e.to_lowercase();
    assert!(
        lower.contains("full") || lower.contains("disk"),
        "{what}: the error does not say the disk is full: {e}"
    );
}

/// Fills a fresh 512 KiB tmpfs at `mnt` with readings until the store
/// refuses them, checks what is left, gives the disk room and writes again.
/// `checkpoint_every` pages (None: SQLite's default, larger than the disk)
/// decides whether the log or the database file hits the wall;
/// `close_while_full` whether the writer closes and reopens on the full disk
/// or carries on with the connection that hit it (as the service does).
fn fill(mnt: &Path, checkpoint_every: Option<u32>, close_while_full: bool) {
    let what = format!(
        "{}, {}",
        match checkpoint_every {
            None => "log fills",
            Some(_) => "file fills",
        },
        if close_while_full {
            "closed while full"
        } else {
            "kept open"
        }
    );
    if !mount_small_disk(mnt) {
        return;
    }
    let rules = Rules::default();
    let mut store = Store::open_in(&mnt.join("data")).expect("open a store on the small disk");
    if let Some(pages) = checkpoint_every {
        store
            .connection()
            .pragma_update(None, "wal_autocheckpoint", pages)
            .expect("set wal_autocheckpoint");
    }
    let db = store.path().to_path_buf();

    let mut acknowledged = BTreeSet::new();
    let mut ids: Vec<Option<i64>> = vec![None; DEVICES];
    let mut totals = [1_000i64; DEVICES];
    let mut errors = Vec::new();
    let mut failures_in_a_row = 0;
    let mut writes = 0;
    while failures_in_a_row < FAILURES_TO_STOP {
        writes += 1;
        assert!(
            writes <= MAX_WRITES,
            "{what}: {MAX_WRITES} writes and the 512 KiB disk is not full"
        );
        let i = writes % DEVICES;
        let total = totals[i] + 3;
        match store.record(&poll(ids[i], i, total), &rules) {
            Ok(rec) => {
                failures_in_a_row = 0;
                ids[i] = rec.device_id;
                totals[i] = total;
                acknowledged.insert(rec.reading_id.expect("a full read makes a reading"));
            }
            Err(e) => {
                failures_in_a_row += 1;
                errors.push(e.to_string());
            }
        }
    }
    println!(
        "{what}: {} readings acknowledged in {writes} writes, {} refused; the first error: {}",
        acknowledged.len(),
        errors.len(),
        errors.first().map_or("", String::as_str)
    );
    for e in &errors {
        says_full(&what, e);
    }
    // Readable through the connection that hit the wall, and through a
    // second one (the CLI beside the service) while the disk is full.
    for id in ids.iter().flatten() {
        store
            .readings(*id, None, None)
            .expect("read through the connection that hit the wall");
    }
    check(
        &db,
        &acknowledged,
        &format!("{what}, disk full, beside the writer"),
    );
    if close_while_full {
        drop(store);
        check(&db, &acknowledged, &format!("{what}, disk full, reopened"));
        if !grow(&what, mnt) {
            return;
        }
        store = Store::open(&db).expect("reopen after the disk grew");
    } else if !grow(&what, mnt) {
        return;
    }
    // Room again: the same database carries on.
    for (i, id) in ids.iter().enumerate() {
        let total = totals[i] + 3;
        let rec = store
            .record(&poll(*id, i, total), &rules)
            .unwrap_or_else(|e| panic!("{what}: recording once there is room again: {e}"));
        acknowledged.insert(rec.reading_id.expect("a full read makes a reading"));
    }
    drop(store);
    check(&db, &acknowledged, &format!("{what}, after the disk grew"));
    println!("{what}: ok (intact, and writable again once the disk grew)");
}

/// A disk already full when the store is opened: a clear error, then a
/// working store once there is room.
fn full_before_open(mnt: &Path) {
    let what = "full before open";
    if !mount_small_disk(mnt) {
        return;
    }
    let ballast = mnt.join("ballast");
    let mut file = std::fs::File::create(&ballast).expect("create the ballast file");
    while file.write_all(&[0u8; 4096]).is_ok() {}
    drop(file);
    match Store::open_in(&mnt.join("data")) {
        Ok(_) => panic!("{what}: a store opened on a disk with no room"),
        Err(e) => {
            println!("{what}: the first error: {e}");
            says_full(what, &e.to_string());
        }
    }
    std::fs::remove_file(&ballast).expect("remove the ballast");
    let mut store = Store::open_in(&mnt.join("data")).expect("open once there is room");
    let rec = store
        .record(&poll(None, 0, 1_000), &Rules::default())
        .expect("record once there is room");
    let acknowledged = BTreeSet::from([rec.reading_id.expect("a full read makes a reading")]);
    let db = store.path().to_path_buf();
    drop(store);
    check(&db, &acknowledged, what);
    println!("{what}: ok");
}

/// In the private mount namespace.
fn child(dir: &Path) {
    println!("{STARTED}");
    fill(&dir.join("log-open"), None, false);
    fill(&dir.join("log-closed"), None, true);
    fill(&dir.join("file-open"), Some(4), false);
    fill(&dir.join("file-closed"), Some(4), true);
    full_before_open(&dir.join("before-open"));
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing_committed() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = std::env::current_exe().expect("this test binary");
    let mut why_not = Vec::new();
    // As root a mount namespace is enough; otherwise try a user namespace.
    for unshare in [&["-m"][..], &["-r", "-m"][..]] {
        let out = match Command::new("unshare")
            .args(unshare)
            .arg(&exe)
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                println!("skipped: cannot run unshare (util-linux): {e}");
                return;
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stdout.contains(STARTED) {
            why_not.push(format!("unshare {}: {}", unshare.join(" "), stderr.trim()));
            continue;
        }
        for line in stdout.lines().filter(|l| {
            ["skipped:", "log fills", "file fills", "full before open"]
                .iter()
                .any(|p| l.starts_with(p))
        }) {
            println!("{line}");
        }
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the full-disk child failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        return;
    }
    println!(
        "skipped: no private mount namespace here ({})",
        why_not.join("; ")
    );
}
