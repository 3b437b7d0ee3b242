//! The store on disk with printers beyond SNMP: IPP and SNMP readings of one
//! printer kept as one device, 3D jobs synthesised from state changes between
//! polls, native job histories upserted by key, and finished jobs queued once
//! for the upload.

use printscout_engine::printer::Reading;
use printscout_engine::printer::fab::{
    CurrentJob, FabState, FabStatus, FabTarget, JobRecord, build_reading,
};
use printscout_engine::printer::model::{Identity, ReadStats};
use printscout_engine::snmp::{Credential, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store};

/// 2026-11-02 08:00 UTC.
const T0: i64 = 1_793_606_400_000;
const MIN: i64 = 60_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Store::open_in(&dir.path().join("data")).expect("open store");
    (dir, s)
}

fn office(serial: &str, protocol: Option<&str>, uuid: Option<&str>) -> Reading {
    let mut r = Reading {
        is_printer: true,
        device_kind: "printer".into(),
        protocol: protocol.map(str::to_owned),
        ..Reading::default()
    };
    r.identity.vendor = Some(
        if protocol.is_some() {
            "Hewlett-Packard"
        } else {
            "HP"
        }
        .into(),
    );
    r.identity.model = Some("LaserJet M404".into());
    r.identity.serial = Some(serial.into());
    r.identity.uuid = uuid.map(str::to_owned);
    r.status.overall = "ok".into();
    r.counters.insert("total".into(), 1000);
    r
}

fn poll(device: Option<i64>, address: &str, at: i64, r: Reading, snmp: bool) -> PollResult {
    PollResult {
        device_id: device,
        address: address.into(),
        kind: PollKind::Meters,
        at,
        outcome: PollOutcome::Read {
            reading: Box::new(r),
            credential: snmp.then(|| Credential::community("office", Version::V2c, "s3cret")),
        },
    }
}

fn prusa(state: FabState, job: Option<(&str, &str, f64, u64)>) -> Reading {
    let target = FabTarget::parse("prusalink://127.0.0.1:8080").expect("target");
    let identity = Identity {
        vendor: Some("Prusa Research".into()),
        model: Some("MK4".into()),
        serial: Some("CZPX4720X004XK12345".into()),
        ..Identity::default()
    };
    let status = FabStatus {
        state,
        state_text: format!("{state:?}").to_uppercase(),
        job: job.map(|(id, name, progress, elapsed)| CurrentJob {
            id: Some(id.into()),
            name: Some(name.into()),
            progress_percent: Some(progress),
            elapsed_s: Some(elapsed),
            ..CurrentJob::default()
        }),
        temperatures: vec![],
        errors: vec![],
    };
    build_reading(&target, identity, status, ReadStats::default())
}

fn status_poll(device: Option<i64>, at: i64, r: Reading) -> PollResult {
    PollResult {
        device_id: device,
        address: "prusalink://127.0.0.1:8080".into(),
        kind: PollKind::Status,
        at,
        outcome: PollOutcome::Read {
            reading: Box::new(r),
            credential: None,
        },
    }
}

/// `(key, name, started_at, ended_at, result, synthesised)` of a stored job.
type JobRow = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
    i64,
);

fn jobs(s: &Store) -> Vec<JobRow> {
    let mut st = s
        .connection()
        .prepare(
            "SELECT job_key, name, started_at, ended_at, result, synthesised FROM jobs ORDER BY id",
        )
        .expect("prepare");
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn outbox_jobs(s: &Store) -> Vec<serde_json::Value> {
    let mut st = s
        .connection()
        .prepare("SELECT payload FROM outbox WHERE kind = 'job' ORDER BY id")
        .expect("prepare");
    st.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|p| serde_json::from_str(&p.expect("row")).expect("json"))
        .collect()
}

#[test]
fn an_ipp_reading_of_a_printer_monitored_over_snmp_merges_into_that_device() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let snmp = s
        .record(
            &poll(
                None,
                "127.0.0.1:161",
                T0,
                office("CNB1234567", None, None),
                true,
            ),
            &rules,
        )
        .expect("snmp");
    // The IPP make-and-model spells the maker differently: the serial still matches.
    let ipp = s
        .record(
            &poll(
                None,
                "ipp://127.0.0.1:631/ipp/print",
                T0 + MIN,
                office("cnb1234567", Some("ipp"), Some("4e2f-uuid")),
                false,
            ),
            &rules,
        )
        .expect("ipp");
    assert!(ipp.merged);
    assert_eq!(ipp.device_id, snmp.device_id);
    let all = s.devices(false).expect("devices");
    assert_eq!(all.len(), 1, "one printer, one device");
    assert_eq!(all[0].protocol, "snmp", "SNMP stays in charge");
    assert_eq!(all[0].address.as_deref(), Some("127.0.0.1:161"));
    let addresses = s.addresses(all[0].id).expect("addresses");
    assert!(
        addresses.iter().any(|a| a.0.starts_with("ipp://")),
        "{addresses:?}"
    );
    // Later IPP readings find it by uuid alone.
    let mut by_uuid = office("", Some("ipp"), Some("4e2f-uuid"));
    by_uuid.identity.serial = None;
    let again = s
        .record(
            &poll(
                None,
                "ipp://127.0.0.1:631/ipp/print",
                T0 + 2 * MIN,
                by_uuid,
                false,
            ),
            &rules,
        )
        .expect("ipp again");
    assert_eq!(again.device_id, snmp.device_id);
}

#[test]
fn a_printer_first_added_over_ipp_is_taken_over_by_snmp_when_snmp_answers() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let ipp = s
        .add_printer_url(
            "ipp",
            "ipp://127.0.0.1:631/ipp/print",
            Some(office("CNB7654321", Some("ipp"), Some("u-1"))),
            (Some("Front desk"), None),
            &rules,
        )
        .expect("ipp");
    let id = ipp.device_id.expect("id");
    assert_eq!(s.device(id).expect("get").expect("device").protocol, "ipp");
    let snmp = s
        .record(
            &poll(
                None,
                "127.0.0.1:161",
                T0,
                office("CNB7654321", None, None),
                true,
            ),
            &rules,
        )
        .expect("snmp");
    assert_eq!(snmp.device_id, Some(id), "the same device");
    let d = s.device(id).expect("get").expect("device");
    assert_eq!(
        (d.protocol.as_str(), d.address.as_deref()),
        ("snmp", Some("127.0.0.1:161"))
    );
    assert_eq!(
        d.name.as_deref(),
        Some("Front desk"),
        "the user's name stays"
    );
    assert_eq!(s.devices(false).expect("devices").len(), 1);
}

#[test]
fn a_3d_job_seen_over_status_polls_is_stored_once_and_queued_once_when_it_ends() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let first = s
        .record(&status_poll(None, T0, prusa(FabState::Idle, None)), &rules)
        .expect("idle");
    let id = first.device_id;
    let d = s.device(id.expect("id")).expect("get").expect("device");
    assert_eq!(
        (d.protocol.as_str(), d.device_kind.as_deref()),
        ("prusalink", Some("3d_printer"))
    );
    let steps = [
        (
            5,
            prusa(FabState::Printing, Some(("7", "benchy.gcode", 10.0, 240))),
        ),
        (
            10,
            prusa(FabState::Printing, Some(("7", "benchy.gcode", 60.0, 540))),
        ),
        (
            15,
            prusa(FabState::Finished, Some(("7", "benchy.gcode", 100.0, 800))),
        ),
        (
            20,
            prusa(FabState::Finished, Some(("7", "benchy.gcode", 100.0, 800))),
        ),
        (25, prusa(FabState::Idle, None)),
    ];
    for (minutes, r) in steps {
        s.record(&status_poll(id, T0 + minutes * MIN, r), &rules)
            .expect("poll");
    }
    let stored = jobs(&s);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (key, name, start, end, result, synthesised) = &stored[0];
    assert!(key.starts_with("syn:7:"), "{key}");
    assert_eq!(name.as_deref(), Some("benchy.gcode"));
    let started = T0 + 5 * MIN - 240_000;
    assert_eq!((*start, *end), (Some(started), Some(started + 800_000)));
    assert_eq!((result.as_str(), *synthesised), ("completed", 1));
    let queued = outbox_jobs(&s);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["result"], "completed");
    assert_eq!(queued[0]["name"], "benchy.gcode");
    // The printer's state changes are status changes like any printer's.
    let changes: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM status_changes", [], |r| r.get(0))
        .expect("count");
    assert!(changes >= 3, "{changes}");
}

#[test]
fn a_native_history_is_upserted_by_key_and_a_second_identical_poll_changes_nothing() {
    let (_d, mut s) = store();
    let rules = Rules::default();
    let mut r = prusa(FabState::Idle, None);
    r.protocol = Some("moonraker".into());
    r.target = "moonraker://127.0.0.1:7125".into();
    let job = |key: &str, result: &str, end: Option<i64>| JobRecord {
        key: key.into(),
        name: Some(format!("{key}.gcode")),
        started_at: Some(T0 / 1000),
        ended_at: end,
        duration_s: Some(600),
        result: result.into(),
        material: Some("1520.3 mm".into()),
        synthesised: false,
    };
    r.jobs = vec![
        job("moonraker:000001", "completed", Some(T0 / 1000 + 700)),
        job("moonraker:000002", "in_progress", None),
    ];
    let mut p = status_poll(None, T0, r.clone());
    p.kind = PollKind::Meters;
    p.address = "moonraker://127.0.0.1:7125".into();
    let rec = s.record(&p, &rules).expect("history");
    assert_eq!(rec.jobs, 2);
    let mut again = status_poll(rec.device_id, T0 + 60 * MIN, r.clone());
    again.kind = PollKind::Meters;
    again.address = p.address.clone();
    assert_eq!(s.record(&again, &rules).expect("again").jobs, 0);
    // The running one ends: updated in place, queued then.
    r.jobs[1] = job("moonraker:000002", "cancelled", Some(T0 / 1000 + 900));
    let mut ended = status_poll(rec.device_id, T0 + 120 * MIN, r);
    ended.kind = PollKind::Meters;
    ended.address = p.address.clone();
    assert_eq!(s.record(&ended, &rules).expect("ended").jobs, 1);
    let stored = jobs(&s);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].4, "cancelled");
    assert_eq!(stored[1].5, 0, "from the printer, not synthesised");
    let queued: Vec<String> = outbox_jobs(&s)
        .iter()
        .map(|j| {
            format!(
                "{}={}",
                j["job_key"].as_str().unwrap_or(""),
                j["result"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        queued,
        ["moonraker:000001=completed", "moonraker:000002=cancelled"]
    );
}
