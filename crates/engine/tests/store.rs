//! The store on disk (real SQLite in a temporary directory): identity,
//! address moves and swaps, meter sanity, conditions and events, the outbox,
//! and the meter report read back cell by cell from the Excel file.

use std::collections::BTreeMap;

use chrono::{FixedOffset, TimeZone};
use printscout_engine::events::EventKind;
use printscout_engine::export::{Format, write_report};
use printscout_engine::printer::{Reading, Supply, SupplyState};
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store};

const HOUR: i64 = 3_600_000;
/// 2026-11-02 08:00 UTC.
const T0: i64 = 1_793_606_400_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Store::open_in(&dir.path().join("data")).expect("open store");
    (dir, s)
}

fn cred(name: &str) -> Credential {
    Credential::community(name, Version::V2c, format!("secret-{name}"))
}

fn reading(serial: &str, mac: &str, total: i64) -> Reading {
    let mut r = Reading {
        is_printer: true,
        device_kind: "printer".into(),
        ..Reading::default()
    };
    r.identity.vendor = Some("HP".into());
    r.identity.model = Some("LaserJet M404".into());
    r.identity.serial = (!serial.is_empty()).then(|| serial.to_string());
    r.identity.mac = (!mac.is_empty()).then(|| mac.to_string());
    r.identity.hostname = Some(format!("prn-{serial}"));
    r.identity.location = Some("2nd floor".into());
    r.counters = BTreeMap::from([("total".to_string(), total), ("mono".to_string(), total)]);
    r.status.overall = "ok".into();
    r.status.device = Some("running".into());
    r.status.printer = Some("idle".into());
    r.supplies = vec![toner("Black Toner", 80.0)];
    r
}

fn toner(name: &str, percent: f64) -> Supply {
    Supply {
        index: Some(1),
        description: name.into(),
        kind: Some("toner".into()),
        color: Some("black".into()),
        class: Some("supplyThatIsConsumed".into()),
        unit: Some("percent".into()),
        level: Some(percent as i64),
        max: Some(100),
        percent: Some(percent),
        state: if percent <= 0.0 {
            SupplyState::Empty
        } else {
            SupplyState::Percent(percent)
        },
        remaining_pages: None,
        source: None,
    }
}

fn poll(device: Option<i64>, address: &str, at: i64, r: Reading) -> PollResult {
    PollResult {
        device_id: device,
        address: address.into(),
        kind: PollKind::Meters,
        at,
        outcome: PollOutcome::Read {
            reading: Box::new(r),
            credential: Some(cred("office")),
        },
    }
}

fn failed(device: i64, address: &str, at: i64) -> PollResult {
    PollResult {
        device_id: Some(device),
        address: address.into(),
        kind: PollKind::Status,
        at,
        outcome: PollOutcome::Failed {
            error: "no answer".into(),
        },
    }
}

fn kinds(events: &[printscout_engine::events::Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn a_printer_that_changes_address_stays_one_device_and_the_move_is_recorded() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let a = s
        .record(
            &poll(
                None,
                "10.0.0.5:161",
                T0,
                reading("CN123", "00:11:22:33:44:55", 100),
            ),
            &rules,
        )
        .expect("record");
    assert!(a.created);
    assert_eq!(kinds(&a.events), [EventKind::NewDevice]);
    let id = a.device_id.expect("device");
    // DHCP gave it another address; rediscovery finds it there.
    let b = s
        .record(
            &poll(
                None,
                "10.0.0.77:161",
                T0 + HOUR,
                reading("CN123", "00:11:22:33:44:55", 150),
            ),
            &rules,
        )
        .expect("record");
    assert_eq!(b.device_id, Some(id));
    assert!(!b.created);
    assert!(kinds(&b.events).contains(&EventKind::AddressChanged));
    let devices = s.devices(false).expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].address.as_deref(), Some("10.0.0.77:161"));
    let addrs: Vec<String> = s
        .addresses(id)
        .expect("addresses")
        .into_iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(addrs, ["10.0.0.77:161", "10.0.0.5:161"]);
}

#[test]
fn two_printers_that_swap_addresses_are_not_merged() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let one = s
        .record(
            &poll(
                None,
                "10.0.0.5:161",
                T0,
                reading("SERIAL-ONE", "00:11:22:33:44:01", 100),
            ),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    let two = s
        .record(
            &poll(
                None,
                "10.0.0.6:161",
                T0,
                reading("SERIAL-TWO", "00:11:22:33:44:02", 900),
            ),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    // They swap. Polling "one" at its old address finds "two" there.
    let r = s
        .record(
            &poll(
                Some(one),
                "10.0.0.5:161",
                T0 + HOUR,
                reading("SERIAL-TWO", "00:11:22:33:44:02", 950),
            ),
            &rules,
        )
        .expect("record");
    assert_eq!(
        r.device_id,
        Some(two),
        "the reading is filed under the device that answered"
    );
    assert!(kinds(&r.events).contains(&EventKind::DeviceDisplaced));
    let by_id = |s: &Store, id| s.device(id).expect("device").expect("exists");
    assert_eq!(by_id(&s, two).address.as_deref(), Some("10.0.0.5:161"));
    // "One" is tried at the address "two" left, and answers there.
    assert_eq!(by_id(&s, one).address.as_deref(), Some("10.0.0.6:161"));
    let r = s
        .record(
            &poll(
                Some(one),
                "10.0.0.6:161",
                T0 + HOUR,
                reading("SERIAL-ONE", "00:11:22:33:44:01", 130),
            ),
            &rules,
        )
        .expect("record");
    assert_eq!(r.device_id, Some(one));
    let devices = s.devices(false).expect("devices");
    assert_eq!(devices.len(), 2);
    assert_eq!(
        by_id(&s, one)
            .counters
            .get("total")
            .and_then(|v| v.as_i64()),
        Some(130)
    );
    assert_eq!(
        by_id(&s, two)
            .counters
            .get("total")
            .and_then(|v| v.as_i64()),
        Some(950)
    );
}

#[test]
fn a_device_first_known_by_mac_keeps_its_history_when_its_serial_appears() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(
                None,
                "10.0.0.5:161",
                T0,
                reading("", "00:11:22:33:44:55", 100),
            ),
            &rules,
        )
        .expect("record")
        .device_id;
    let later = s
        .record(
            &poll(
                None,
                "10.0.0.9:161",
                T0 + HOUR,
                reading("CN999", "00:11:22:33:44:55", 120),
            ),
            &rules,
        )
        .expect("record");
    assert_eq!(later.device_id, id);
    assert_eq!(s.devices(false).expect("devices").len(), 1);
    assert!(
        s.devices(false).expect("devices")[0]
            .identity_key
            .starts_with("sn:")
    );
}

#[test]
fn a_counter_that_goes_backwards_is_kept_flagged_and_never_makes_usage_negative() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let mut drops = 0;
    let mut id = None;
    for (i, total) in [1000, 1500, 200, 300].into_iter().enumerate() {
        let r = s
            .record(
                &poll(
                    id,
                    "10.0.0.5:161",
                    T0 + i as i64 * HOUR,
                    reading("CN1", "", total),
                ),
                &rules,
            )
            .expect("record");
        id = r.device_id;
        drops += r
            .events
            .iter()
            .filter(|e| e.kind == EventKind::CounterDrop)
            .count();
    }
    assert_eq!(drops, 1, "one event for one drop");
    let id = id.expect("device");
    let h = s.readings(id, None, None).expect("readings");
    assert_eq!(h.len(), 4);
    assert_eq!(h[2].counters["total"], 200, "the reading is kept as read");
    assert_eq!(h[2].regressed, ["mono", "total"]);
    let utc = FixedOffset::east_opt(0).expect("utc");
    let report = s
        .meter_report(None, None, &utc, &mut |_, _| {})
        .expect("report");
    let span = report.devices[0].counters["total"];
    assert_eq!(
        (span.first, span.last, span.usage),
        (Some(1000), Some(300), Some(600))
    );
    assert!(
        report.devices[0]
            .notes
            .iter()
            .any(|n| n.contains("went backwards"))
    );
}

#[test]
fn a_counter32_that_wraps_is_not_a_drop() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let top = (1_i64 << 32) - 100;
    let a = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", top)),
            &rules,
        )
        .expect("record");
    let b = s
        .record(
            &poll(
                a.device_id,
                "10.0.0.5:161",
                T0 + HOUR,
                reading("CN1", "", 50),
            ),
            &rules,
        )
        .expect("record");
    assert!(!kinds(&b.events).contains(&EventKind::CounterDrop));
    let utc = FixedOffset::east_opt(0).expect("utc");
    let report = s
        .meter_report(None, None, &utc, &mut |_, _| {})
        .expect("report");
    assert_eq!(report.devices[0].counters["total"].usage, Some(150));
}

#[test]
fn unchanged_counters_and_supplies_are_stored_once() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let mut id = None;
    for i in 0..5 {
        id = s
            .record(
                &poll(id, "10.0.0.5:161", T0 + i * HOUR, reading("CN1", "", 100)),
                &rules,
            )
            .expect("record")
            .device_id;
    }
    let (rows, stored): (i64, i64) = s
        .connection()
        .query_row(
            "SELECT count(*), count(counters) FROM meter_readings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!((rows, stored), (5, 1));
    // Carried forward when read back.
    let h = s.readings(id.expect("id"), None, None).expect("readings");
    assert!(h.iter().all(|p| p.counters["total"] == 100));
}

#[test]
fn a_device_is_offline_after_three_failed_polls_and_back_on_the_next_answer() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 100)),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    let mut raised = Vec::new();
    for i in 1..=5 {
        let r = s
            .record(&failed(id, "10.0.0.5:161", T0 + i * 300_000), &rules)
            .expect("record");
        raised.extend(kinds(&r.events));
    }
    assert_eq!(
        raised,
        [EventKind::Offline],
        "one event, at the third failure"
    );
    assert!(s.device(id).expect("device").expect("exists").offline);
    let r = s
        .record(
            &poll(Some(id), "10.0.0.5:161", T0 + HOUR, reading("CN1", "", 110)),
            &rules,
        )
        .expect("record");
    assert_eq!(kinds(&r.events), [EventKind::Back]);
    assert!(!s.device(id).expect("device").expect("exists").offline);
}

#[test]
fn one_lost_packet_raises_no_offline_event() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 100)),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    for i in 0..10 {
        let f = s
            .record(&failed(id, "10.0.0.5:161", T0 + i * 600_000), &rules)
            .expect("record");
        assert!(f.events.is_empty());
        let ok = s
            .record(
                &poll(
                    Some(id),
                    "10.0.0.5:161",
                    T0 + i * 600_000 + 300_000,
                    reading("CN1", "", 100),
                ),
                &rules,
            )
            .expect("record");
        assert!(ok.events.is_empty(), "{:?}", ok.events);
    }
}

#[test]
fn printer_errors_are_raised_once_and_cleared_once() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 100)),
            &rules,
        )
        .expect("record")
        .device_id;
    let mut jam = reading("CN1", "", 100);
    jam.status.errors = vec!["jammed".into()];
    jam.status.overall = "error".into();
    let mut status = |r: Reading, at| {
        let p = PollResult {
            kind: PollKind::Status,
            ..poll(id, "10.0.0.5:161", at, r)
        };
        kinds(&s.record(&p, &rules).expect("record").events)
    };
    assert_eq!(status(jam.clone(), T0 + 1), [EventKind::PrinterError]);
    assert_eq!(status(jam, T0 + 2), []);
    assert_eq!(
        status(reading("CN1", "", 100), T0 + 3),
        [EventKind::ErrorCleared]
    );
}

#[test]
fn a_supply_going_low_then_empty_then_replaced_raises_three_events() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let mut id = None;
    let mut seen = Vec::new();
    for (i, pct) in [50.0, 15.0, 10.0, 0.0, 100.0].into_iter().enumerate() {
        let mut r = reading("CN1", "", 100 + i as i64);
        r.supplies = vec![toner("Black Toner", pct)];
        let rec = s
            .record(&poll(id, "10.0.0.5:161", T0 + i as i64 * HOUR, r), &rules)
            .expect("record");
        id = rec.device_id;
        seen.extend(
            kinds(&rec.events)
                .into_iter()
                .filter(|k| *k != EventKind::NewDevice),
        );
    }
    assert_eq!(
        seen,
        [
            EventKind::SupplyLow,
            EventKind::SupplyEmpty,
            EventKind::SupplyOk
        ]
    );
}

#[test]
fn a_removed_device_is_not_brought_back_by_rediscovery_but_is_by_adding_it() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 100)),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    assert!(s.remove_device(id, T0 + 1).expect("remove"));
    let again = s
        .record(
            &poll(None, "10.0.0.5:161", T0 + HOUR, reading("CN1", "", 120)),
            &rules,
        )
        .expect("record");
    assert!(again.ignored_removed);
    assert!(s.devices(false).expect("devices").is_empty());
    let added = s
        .add_device(
            "10.0.0.5:161",
            None,
            Some((reading("CN1", "", 130), cred("office"))),
            (Some("Front desk"), None),
            &rules,
        )
        .expect("add");
    assert_eq!(added.device_id, Some(id));
    let d = &s.devices(false).expect("devices")[0];
    assert_eq!(d.name.as_deref(), Some("Front desk"));
}

#[test]
fn the_credential_that_worked_is_remembered_by_name_and_never_shown() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let id = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 100)),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("id");
    let d = s.device(id).expect("device").expect("exists");
    assert_eq!(d.credential.as_ref().map(|c| c.name()), Some("office"));
    let shown = format!("{d:?} {}", serde_json::to_string(&d).expect("json"));
    assert!(!shown.contains("secret-office"), "{shown}");
    assert!(shown.contains("office"));
}

#[test]
fn the_outbox_keeps_at_most_its_bound_and_counts_what_it_dropped() {
    let (_d, mut s) = store();
    let rules = Rules {
        outbox_max: 5,
        ..Rules::default()
    };
    let mut id = None;
    for i in 0..10 {
        id = s
            .record(
                &poll(
                    id,
                    "10.0.0.5:161",
                    T0 + i * HOUR,
                    reading("CN1", "", 100 + i),
                ),
                &rules,
            )
            .expect("record")
            .device_id;
    }
    let (queued, dropped) = s.outbox_stats().expect("stats");
    assert!(queued <= 5, "{queued}");
    assert!(dropped >= 5, "{dropped}");
}

#[test]
fn the_meter_report_of_a_seeded_database_reads_back_cell_by_cell_from_excel() {
    use calamine::{Data, Reader, Xlsx};
    let (dir, mut s) = store();
    let rules = Rules::default();
    let a = s
        .record(
            &poll(None, "10.0.0.5:161", T0, reading("CN1", "", 1000)),
            &rules,
        )
        .expect("record")
        .device_id;
    s.record(
        &poll(a, "10.0.0.5:161", T0 + 24 * HOUR, reading("CN1", "", 1400)),
        &rules,
    )
    .expect("record");
    s.record(
        &poll(a, "10.0.0.5:161", T0 + 48 * HOUR, reading("CN1", "", 1450)),
        &rules,
    )
    .expect("record");
    // Outside the period: before and after.
    s.record(
        &poll(
            a,
            "10.0.0.5:161",
            T0 + 30 * 24 * HOUR,
            reading("CN1", "", 9000),
        ),
        &rules,
    )
    .expect("record");
    let utc = FixedOffset::east_opt(0).expect("utc");
    let report = s
        .meter_report(Some(T0), Some(T0 + 7 * 24 * HOUR), &utc, &mut |_, _| {})
        .expect("report");
    let out = dir.path().join("report.xlsx");
    write_report(&report, Format::Xlsx, &out, &mut |_| {}).expect("write");
    let mut book: Xlsx<_> = calamine::open_workbook(&out).expect("open workbook");
    assert_eq!(book.sheet_names(), ["Meters", "Supplies", "Events"]);
    let meters = book.worksheet_range("Meters").expect("sheet");
    let header: Vec<String> = meters
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let row: Vec<&Data> = meters.rows().nth(1).expect("row").iter().collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    assert_eq!(row[col("Serial")], &Data::String("CN1".into()));
    assert_eq!(row[col("Address")], &Data::String("10.0.0.5:161".into()));
    assert_eq!(row[col("Location")], &Data::String("2nd floor".into()));
    assert_eq!(row[col("total — first")], &Data::Float(1000.0));
    assert_eq!(row[col("total — last")], &Data::Float(1450.0));
    assert_eq!(row[col("total — usage")], &Data::Float(450.0));
    let first = match row[col("First reading")] {
        Data::DateTime(d) => d.as_f64(),
        other => panic!("not a datetime: {other:?}"),
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("excel epoch");
    let want = (utc
        .timestamp_millis_opt(T0)
        .single()
        .expect("time")
        .naive_local()
        - epoch)
        .num_milliseconds() as f64
        / 86_400_000.0;
    assert!((first - want).abs() < 1e-6, "{first} vs {want}");
    let supplies = book.worksheet_range("Supplies").expect("sheet");
    let srow: Vec<String> = supplies
        .rows()
        .nth(1)
        .expect("row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(srow.contains(&"Black Toner".to_string()), "{srow:?}");
    let events = book.worksheet_range("Events").expect("sheet");
    let erow: Vec<String> = events
        .rows()
        .nth(1)
        .expect("row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(erow.iter().any(|c| c == "new_device"), "{erow:?}");
}

#[test]
fn a_changed_credential_profile_reaches_the_devices_that_remember_it() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let a = s
        .record(
            &poll(
                None,
                "127.0.0.1:161",
                1_000,
                reading("A1", "02:00:00:00:00:01", 10),
            ),
            &rules,
        )
        .expect("record")
        .device_id
        .expect("device");
    let rotated = Credential::community("office", Version::V2c, "rotated");
    assert_eq!(
        s.update_profile("office", Some(&rotated)).expect("update"),
        1
    );
    let now = s.device(a).expect("read").expect("device").credential;
    assert_eq!(
        now.as_ref()
            .map(|c| format!("{}:{}", c.name(), stored_secret(c))),
        Some("office:rotated".to_string())
    );
    assert_eq!(s.update_profile("elsewhere", None).expect("update"), 0);
    // A removed profile is forgotten: the next poll tries the configured list.
    assert_eq!(s.update_profile("office", None).expect("update"), 1);
    assert!(
        s.device(a)
            .expect("read")
            .expect("device")
            .credential
            .is_none()
    );
}

fn stored_secret(c: &Credential) -> String {
    match c {
        Credential::Community { community, .. } => community.expose().to_string(),
        Credential::V3 { .. } => String::new(),
    }
}
