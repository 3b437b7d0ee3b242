//! 3D-printer jobs in the meter report: the store's `jobs` rows (inserted
//! directly into an SQLite file on disk) become the workbook's "Jobs" and
//! "Utilisation" sheets and the CSV companion files, read back with calamine
//! and the csv crate. No network.

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, FixedOffset, NaiveDate};
use printscout_engine::config::Config;
use printscout_engine::export::{
    CsvPart, Format, JobSource, Machine, MeterReport, Progress, StoredJob, jobs_csv_headers,
    jobs_section, utilisation_csv_headers, write_report, xlsx_bytes,
};
use printscout_engine::store::Store;
use printscout_engine::uplink::email::build_report_email;
use rusqlite::params;

const HOUR: i64 = 3_600_000;
const HOSTILE: &str = "=cmd|' /C calc'!A0";

/// The report's zone: a fixed UTC+01:00, so days start at 23:00 UTC.
fn tz() -> FixedOffset {
    FixedOffset::east_opt(3600).expect("a valid offset")
}

/// Milliseconds of an RFC 3339 time.
fn ms(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s)
        .expect("test times are RFC 3339")
        .timestamp_millis()
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test times are RFC 3339")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test dates parse")
}

fn open_store(dir: &Path) -> Store {
    Store::open(&dir.join("printscout.db")).expect("the store opens")
}

/// A device row as the collector would leave it.
fn add_device(store: &Store, name: &str, protocol: &str, kind: &str, serial: &str) -> i64 {
    store
        .connection()
        .execute(
            "INSERT INTO devices (identity_key, protocol, name, model, serial, device_kind, first_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![
                format!("sn:test:{serial}"),
                protocol,
                name,
                format!("{name} model"),
                serial,
                kind
            ],
        )
        .expect("the device is inserted");
    store.connection().last_insert_rowid()
}

/// One job as the collector stores it (times in ms).
struct Job<'a> {
    key: &'a str,
    name: Option<&'a str>,
    start: Option<&'a str>,
    end: Option<&'a str>,
    duration_s: Option<i64>,
    result: Option<&'a str>,
    material: Option<&'a str>,
    synthesised: bool,
}

impl<'a> Job<'a> {
    fn new(key: &'a str, start: &'a str, end: &'a str, result: &'a str) -> Self {
        Job {
            key,
            name: Some(key),
            start: Some(start),
            end: Some(end),
            duration_s: None,
            result: Some(result),
            material: None,
            synthesised: false,
        }
    }
}

fn add_job(store: &Store, device: i64, j: &Job<'_>) {
    store
        .connection()
        .execute(
            "INSERT INTO jobs (device_id, job_key, name, started_at, ended_at, duration_s, result,
                               material, synthesised)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                device,
                j.key,
                j.name,
                j.start.map(ms),
                j.end.map(ms),
                j.duration_s,
                j.result,
                j.material,
                i64::from(j.synthesised)
            ],
        )
        .expect("the job is inserted");
}

fn report(store: &Store, from: &str, to: &str) -> MeterReport {
    store
        .meter_report(Some(ms(from)), Some(ms(to)), &tz(), &mut |_, _| {})
        .expect("the report is built")
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).expect("the CSV file reads");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 byte-order mark");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| {
            r.expect("the CSV parses back")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes)).expect("the workbook opens")
}

fn names_of(report: &MeterReport) -> Vec<(i64, Option<&str>)> {
    report
        .jobs
        .iter()
        .map(|j| (j.device_id, j.name.as_deref()))
        .collect()
}

#[test]
fn jobs_are_listed_per_machine_oldest_first_with_the_idle_gap_before_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let office = add_device(&store, "Office MFP", "snmp", "mfp", "SNMP1");
    let mk4 = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    let x1 = add_device(&store, "X1C", "bambu", "3d_printer", "X1C-1");
    // Inserted out of order; one job of the MK4 ended before the period.
    add_job(
        &store,
        x1,
        &Job::new(
            "x1-b",
            "2026-03-02T13:00:00+01:00",
            "2026-03-02T14:00:00+01:00",
            "completed",
        ),
    );
    add_job(
        &store,
        mk4,
        &Job::new(
            "mk4-b",
            "2026-03-02T12:00:00+01:00",
            "2026-03-02T15:30:00+01:00",
            "cancelled",
        ),
    );
    add_job(
        &store,
        mk4,
        &Job::new(
            "mk4-a",
            "2026-03-02T08:00:00+01:00",
            "2026-03-02T11:15:00+01:00",
            "completed",
        ),
    );
    add_job(
        &store,
        mk4,
        &Job::new(
            "mk4-before",
            "2026-03-01T20:00:00+01:00",
            "2026-03-01T22:00:00+01:00",
            "completed",
        ),
    );
    add_job(
        &store,
        x1,
        &Job {
            synthesised: true,
            material: Some("PLA 12.5 g"),
            duration_s: Some(1_800),
            ..Job::new(
                "x1-a",
                "2026-03-02T09:00:00+01:00",
                "2026-03-02T10:00:00+01:00",
                "completed",
            )
        },
    );

    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    assert_eq!(
        names_of(&r),
        [
            (mk4, Some("mk4-a")),
            (mk4, Some("mk4-b")),
            (x1, Some("x1-a")),
            (x1, Some("x1-b")),
        ],
        "per machine in device order, oldest first; the job before the period is not listed"
    );
    assert!(r.jobs.iter().all(|j| j.device_id != office));
    let gaps: Vec<Option<i64>> = r.jobs.iter().map(|j| j.gap_before_s).collect();
    // 22:00 the day before → 08:00 is 10 h; 11:15 → 12:00 is 45 min; X1C's
    // first known job has no gap; 10:00 → 13:00 is 3 h.
    assert_eq!(gaps, [Some(36_000), Some(2_700), None, Some(10_800)]);

    let first = &r.jobs[0];
    assert_eq!(first.device_name.as_deref(), Some("MK4"));
    assert_eq!(first.model.as_deref(), Some("MK4 model"));
    assert_eq!(first.serial.as_deref(), Some("MK4-1"));
    assert_eq!(first.started_at, Some(at("2026-03-02T08:00:00+01:00")));
    assert_eq!(first.ended_at, Some(at("2026-03-02T11:15:00+01:00")));
    assert_eq!(first.duration_s, Some(3 * 3600 + 900), "end − start");
    assert_eq!(first.result.as_deref(), Some("completed"));
    assert_eq!(first.source, JobSource::PrinterHistory);
    let x1a = &r.jobs[2];
    assert_eq!(x1a.duration_s, Some(1_800), "the printer's own figure wins");
    assert_eq!(x1a.source, JobSource::StateChanges);
    assert_eq!(x1a.material.as_deref(), Some("PLA 12.5 g"));

    // The workbook: the Jobs sheet, times as dates, durations as Excel times.
    let mut wb = open(xlsx_bytes(&r, &mut no_progress()).expect("built"));
    assert_eq!(
        wb.sheet_names(),
        ["Meters", "Supplies", "Events", "Jobs", "Utilisation"]
    );
    let jobs = wb.worksheet_range("Jobs").expect("the Jobs sheet");
    let header: Vec<String> = (0..12)
        .map(|c| {
            jobs.get_value((0, c))
                .map(|d| d.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        header,
        [
            "Device ID",
            "Machine",
            "Model",
            "Serial",
            "Job",
            "Start",
            "End",
            "Duration",
            "Result",
            "Material",
            "Recorded from",
            "Gap before"
        ]
    );
    assert_eq!(jobs.get_value((1, 1)), Some(&Data::String("MK4".into())));
    match jobs.get_value((1, 5)) {
        Some(Data::DateTime(d)) => assert_eq!(d.to_ymd_hms_milli(), (2026, 3, 2, 8, 0, 0, 0)),
        other => panic!("the start is a date cell, got {other:?}"),
    }
    match jobs.get_value((1, 7)) {
        Some(Data::DateTime(d)) => {
            assert!(
                (d.as_f64() - (3.25 / 24.0)).abs() < 1e-9,
                "3:15:00 as a time"
            )
        }
        other => panic!("the duration is a time cell, got {other:?}"),
    }
    assert_eq!(
        jobs.get_value((3, 10)),
        Some(&Data::String("from state changes".into()))
    );
    assert!(
        matches!(jobs.get_value((3, 11)), None | Some(Data::Empty)),
        "no gap before a machine's first job"
    );
}

#[test]
fn a_job_over_midnight_is_split_across_the_two_days() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "Voron", "moonraker", "3d_printer", "V24");
    add_job(
        &store,
        p,
        &Job::new(
            "night",
            "2026-03-02T22:00:00+01:00",
            "2026-03-03T02:30:00+01:00",
            "completed",
        ),
    );
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-04T00:00:00+01:00",
    );
    assert_eq!(r.jobs.len(), 1);
    assert_eq!(r.utilisation.len(), 2);
    let (d1, d2) = (&r.utilisation[0], &r.utilisation[1]);
    assert_eq!(d1.date, date("2026-03-02"));
    assert_eq!(d2.date, date("2026-03-03"));
    assert_eq!((d1.printing_s, d2.printing_s), (2 * 3600, 2 * 3600 + 1800));
    assert_eq!(
        (d1.jobs_started, d2.jobs_started),
        (1, 0),
        "started on day one"
    );
    assert_eq!((d1.completed, d2.completed), (0, 1), "completed on day two");
    assert_eq!((d1.period_s, d2.period_s), (86_400, 86_400));
}

#[test]
fn a_running_job_is_shown_as_running_and_counted_up_to_the_reports_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    add_job(
        &store,
        p,
        &Job {
            end: None,
            ..Job::new(
                "benchy",
                "2026-03-02T20:00:00+01:00",
                "unused",
                "in_progress",
            )
        },
    );
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    let job = &r.jobs[0];
    assert!(job.running);
    assert_eq!(job.result.as_deref(), Some("running"));
    assert_eq!(job.ended_at, None);
    assert_eq!(job.duration_s, Some(4 * 3600), "20:00 to the report's end");
    assert_eq!(r.utilisation.len(), 1);
    assert_eq!(r.utilisation[0].printing_s, 4 * 3600);
    assert_eq!(
        r.utilisation[0].completed + r.utilisation[0].failed_or_cancelled,
        0
    );

    // CSV: an empty end, the word running.
    let out = dir.path().join("march.csv");
    write_report(&r, Format::Csv, &out, &mut no_progress()).expect("exported");
    let rows = csv_rows(&dir.path().join("march-jobs.csv"));
    assert_eq!(rows[0], jobs_csv_headers());
    assert_eq!(rows[1][5], "2026-03-02T20:00:00+01:00");
    assert_eq!(rows[1][6], "", "no end while it runs");
    assert_eq!(rows[1][7], "14400");
    assert_eq!(rows[1][8], "running");
    assert_eq!(rows[1][10], "printer history");
}

#[test]
fn a_job_still_marked_running_stops_counting_where_the_next_job_on_that_machine_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    add_job(
        &store,
        p,
        &Job {
            end: None,
            result: None,
            ..Job::new("stale", "2026-03-02T08:00:00+01:00", "unused", "")
        },
    );
    add_job(
        &store,
        p,
        &Job::new(
            "next",
            "2026-03-02T10:00:00+01:00",
            "2026-03-02T11:00:00+01:00",
            "completed",
        ),
    );
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    assert_eq!(r.jobs[0].duration_s, Some(2 * 3600));
    assert_eq!(r.jobs[1].gap_before_s, Some(0));
    assert_eq!(r.utilisation[0].printing_s, 3 * 3600);
}

#[test]
fn utilisation_per_day_counts_printing_hours_results_and_the_gaps_between_jobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "X1C", "bambu", "3d_printer", "X1C-1");
    for (key, start, end, result) in [
        ("a", "08:00", "10:00", "completed"),
        ("b", "10:30", "12:00", "failed"),
        ("c", "13:00", "17:00", "cancelled"),
        ("d", "17:00", "18:00", "Aborted_by_gremlin"),
    ] {
        let (s, e) = (
            format!("2026-03-02T{start}:00+01:00"),
            format!("2026-03-02T{end}:00+01:00"),
        );
        add_job(&store, p, &Job::new(key, &s, &e, result));
    }
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-04T00:00:00+01:00",
    );
    assert_eq!(
        r.utilisation.len(),
        2,
        "every day of the period, idle ones too"
    );
    let day = &r.utilisation[0];
    assert_eq!(day.date, date("2026-03-02"));
    assert_eq!(day.device_name.as_deref(), Some("X1C"));
    assert_eq!(day.printing_s, 8 * 3600 + 1800);
    assert_eq!(day.jobs_started, 4);
    assert_eq!(day.completed, 1);
    assert_eq!(
        day.failed_or_cancelled, 2,
        "the printer's own word counts as neither"
    );
    assert_eq!(day.gaps, 2, "c and d touch: no gap between them");
    assert_eq!(day.gaps_total_s, 1800 + 3600);
    assert_eq!(day.gaps_longest_s, 3600);
    assert!((day.utilisation() - 8.5 / 24.0).abs() < 1e-9);
    assert_eq!(
        r.jobs[3].result.as_deref(),
        Some("Aborted_by_gremlin"),
        "kept and shown"
    );
    let idle = &r.utilisation[1];
    assert_eq!(
        (idle.date, idle.printing_s, idle.jobs_started, idle.gaps),
        (date("2026-03-03"), 0, 0, 0),
        "no job after the last one: trailing idle time is no gap"
    );

    // CSV companion: hours to two decimals, percentage to one.
    let out = dir.path().join("report.csv");
    let mut seen = Vec::new();
    write_report(&r, Format::Csv, &out, &mut |p| seen.push(p)).expect("exported");
    let rows = csv_rows(&dir.path().join("report-utilisation.csv"));
    assert_eq!(rows[0], utilisation_csv_headers());
    assert_eq!(
        rows[1],
        [
            "2026-03-02",
            &p.to_string(),
            "X1C",
            "X1C model",
            "X1C-1",
            "24.00",
            "8.50",
            "35.4",
            "4",
            "1",
            "2",
            "2",
            "1.50",
            "1.00"
        ]
    );
    let last = seen.last().expect("progress was reported");
    assert_eq!(
        (last.done, last.total),
        (1 + 4 + 2, 1 + 4 + 2),
        "progress counts the rows of all three files"
    );

    // Workbook: the day as a date, the share as a percentage.
    let mut wb = open(xlsx_bytes(&r, &mut no_progress()).expect("built"));
    let u = wb
        .worksheet_range("Utilisation")
        .expect("the Utilisation sheet");
    match u.get_value((1, 0)) {
        Some(Data::DateTime(d)) => {
            assert_eq!(d.to_ymd_hms_milli(), (2026, 3, 2, 0, 0, 0, 0))
        }
        other => panic!("the day is a date cell, got {other:?}"),
    }
    match u.get_value((1, 7)) {
        Some(Data::Float(f)) => assert!((f - 8.5 / 24.0).abs() < 1e-9),
        other => panic!("utilisation is a number, got {other:?}"),
    }
}

#[test]
fn a_period_that_does_not_start_at_midnight_gives_partial_days_and_a_share_of_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    add_job(
        &store,
        p,
        &Job::new(
            "a",
            "2026-03-02T05:00:00+01:00",
            "2026-03-02T09:00:00+01:00",
            "completed",
        ),
    );
    // The daily e-mailed report: 06:00 to 06:00.
    let r = report(
        &store,
        "2026-03-02T06:00:00+01:00",
        "2026-03-03T06:00:00+01:00",
    );
    assert_eq!(r.jobs.len(), 1, "a job running into the period is listed");
    let days: Vec<(NaiveDate, i64, i64, u32)> = r
        .utilisation
        .iter()
        .map(|u| (u.date, u.period_s, u.printing_s, u.jobs_started))
        .collect();
    assert_eq!(
        days,
        [
            (date("2026-03-02"), 18 * 3600, 3 * 3600, 0),
            (date("2026-03-03"), 6 * 3600, 0, 0)
        ]
    );
}

#[test]
fn a_hostile_job_name_is_neutralised_in_csv_and_kept_as_text_in_the_workbook() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    add_job(
        &store,
        p,
        &Job {
            name: Some(HOSTILE),
            material: Some("@SUM(1+1)"),
            ..Job::new(
                "evil",
                "2026-03-02T08:00:00+01:00",
                "2026-03-02T09:00:00+01:00",
                "completed",
            )
        },
    );
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    let out = dir.path().join("r.csv");
    write_report(&r, Format::Csv, &out, &mut no_progress()).expect("exported");
    let rows = csv_rows(&CsvPart::Jobs.path_for(&out));
    assert_eq!(rows[1][4], format!("'{HOSTILE}"));
    assert_eq!(rows[1][9], "'@SUM(1+1)");

    let xlsx = dir.path().join("r.xlsx");
    write_report(&r, Format::Xlsx, &xlsx, &mut no_progress()).expect("exported");
    let mut wb = open(std::fs::read(&xlsx).expect("the workbook reads"));
    let jobs = wb.worksheet_range("Jobs").expect("the Jobs sheet");
    assert_eq!(jobs.get_value((1, 4)), Some(&Data::String(HOSTILE.into())));
    let formulas = wb.worksheet_formula("Jobs").expect("formulas read");
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell of the Jobs sheet is a formula"
    );
}

#[test]
fn a_report_without_3d_printers_writes_no_job_files_and_no_job_sheets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    add_device(&store, "Office MFP", "snmp", "mfp", "SNMP1");
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    assert!(!r.has_jobs());
    assert_eq!(CsvPart::parts_of(&r), [CsvPart::Meters]);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");
    let out = out_dir.join("r.csv");
    write_report(&r, Format::Csv, &out, &mut no_progress()).expect("exported");
    let files: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["r.csv"], "no companion files, no temporary left");
    let wb = open(xlsx_bytes(&r, &mut no_progress()).expect("built"));
    assert_eq!(wb.sheet_names(), ["Meters", "Supplies", "Events"]);
}

#[test]
fn a_3d_printer_without_jobs_in_the_period_still_gets_headers_and_idle_days() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    assert!(r.jobs.is_empty());
    assert_eq!(r.utilisation.len(), 1);
    assert_eq!(r.utilisation[0].printing_s, 0);
    let out = dir.path().join("r.csv");
    write_report(&r, Format::Csv, &out, &mut no_progress()).expect("exported");
    assert_eq!(
        csv_rows(&dir.path().join("r-jobs.csv")),
        [jobs_csv_headers()]
    );
    assert_eq!(csv_rows(&dir.path().join("r-utilisation.csv")).len(), 2);
    let mut wb = open(xlsx_bytes(&r, &mut no_progress()).expect("built"));
    let jobs = wb.worksheet_range("Jobs").expect("the Jobs sheet");
    assert_eq!(jobs.get_value((0, 4)), Some(&Data::String("Job".into())));
    assert_eq!(jobs.height(), 1, "headers only");
}

#[test]
fn a_removed_3d_printer_appears_only_with_jobs_in_the_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let gone = add_device(&store, "Old MK3", "prusalink", "3d_printer", "MK3-1");
    add_job(
        &store,
        gone,
        &Job::new(
            "old",
            "2026-01-02T08:00:00+01:00",
            "2026-01-02T09:00:00+01:00",
            "completed",
        ),
    );
    store
        .connection()
        .execute("UPDATE devices SET removed_at = 1 WHERE id = ?1", [gone])
        .expect("removed");
    let r = report(
        &store,
        "2026-03-02T00:00:00+01:00",
        "2026-03-03T00:00:00+01:00",
    );
    assert!(!r.has_jobs(), "{:?}", r.utilisation);
    let r = report(
        &store,
        "2026-01-02T00:00:00+01:00",
        "2026-01-03T00:00:00+01:00",
    );
    assert_eq!(r.jobs.len(), 1);
    assert_eq!(r.utilisation.len(), 1);
}

#[test]
fn the_emailed_report_carries_the_job_and_utilisation_csv_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    let from = chrono::Local::now().timestamp_millis() - 48 * HOUR;
    let to = from + 24 * HOUR;
    store
        .connection()
        .execute(
            "INSERT INTO jobs (device_id, job_key, name, started_at, ended_at, result)
             VALUES (?1, 'k', ?2, ?3, ?4, 'completed')",
            params![p, HOSTILE, from + HOUR, from + 2 * HOUR],
        )
        .expect("the job is inserted");
    let email = build_report_email(&store, &Config::default(), (from, to)).expect("built");
    let names: Vec<&str> = email.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[2].ends_with("-jobs.csv") && names[3].ends_with("-utilisation.csv"));
    assert!(names[2].starts_with(names[1].trim_end_matches(".csv")));
    let jobs = String::from_utf8(email.attachments[2].bytes.clone()).expect("UTF-8");
    assert!(jobs.contains(&format!("'{HOSTILE}")), "guarded: {jobs}");
    assert!(email.body.contains(names[2]), "the body names the files");

    // Without 3D printers: the two attachments as before.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    add_device(&store, "Office MFP", "snmp", "mfp", "SNMP1");
    let email = build_report_email(&store, &Config::default(), (from, to)).expect("built");
    assert_eq!(email.attachments.len(), 2);
}

#[test]
fn junk_in_the_jobs_table_never_panics_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path());
    let p = add_device(&store, "MK4", "prusalink", "3d_printer", "MK4-1");
    let c = store.connection();
    let insert = |key: &str,
                  start: &dyn rusqlite::ToSql,
                  end: &dyn rusqlite::ToSql,
                  dur: &dyn rusqlite::ToSql,
                  result: &dyn rusqlite::ToSql| {
        c.execute(
            "INSERT INTO jobs (device_id, job_key, name, started_at, ended_at, duration_s, result, synthesised)
             VALUES (?1, ?2, X'FF00FE', ?3, ?4, ?5, ?6, 'yes')",
            params![p, key, start, end, dur, result],
        )
        .expect("inserted");
    };
    let t = ms("2026-03-02T08:00:00+01:00");
    let null = rusqlite::types::Null;
    insert("text-times", &"soon", &"later", &"long", &42);
    insert("no-times", &null, &null, &null, &null);
    insert("end-before-start", &t, &(t - HOUR), &-5, &"completed");
    insert("huge", &i64::MAX, &i64::MIN, &i64::MAX, &"completed");
    insert("tiny", &i64::MIN, &null, &i64::MAX, &null);
    insert(
        "real",
        &(t as f64 + 0.5),
        &(t as f64 + 3.6e6),
        &1.5e300,
        &"",
    );
    insert("only-end", &null, &(t + 2 * HOUR), &1800, &"failed");
    insert(
        "numeric-text",
        &t.to_string(),
        &(t + HOUR).to_string(),
        &"60",
        &"done",
    );
    for (from, to) in [
        (Some(t - 24 * HOUR), Some(t + 24 * HOUR)),
        (None, None),
        (None, Some(t)),
        (Some(t), None),
        (Some(t + HOUR), Some(t)),
    ] {
        let r = store
            .meter_report(from, to, &tz(), &mut |_, _| {})
            .expect("the report is built");
        xlsx_bytes(&r, &mut no_progress()).expect("the workbook is built");
        let out = dir.path().join("junk.csv");
        write_report(&r, Format::Csv, &out, &mut no_progress()).expect("the CSV is written");
    }

    // The pure function over extreme values and zones.
    let machines = [Machine {
        device_id: 1,
        name: Some("m".into()),
        ..Machine::default()
    }];
    let jobs: Vec<StoredJob> = [
        (Some(i64::MIN), Some(i64::MAX)),
        (Some(i64::MAX), None),
        (None, Some(i64::MIN)),
        (Some(0), Some(1)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (s, e))| StoredJob {
        device_id: 1,
        job_key: i.to_string(),
        started_at: s,
        ended_at: e,
        duration_s: Some(i64::MIN),
        ..StoredJob::default()
    })
    .collect();
    for now in [0, i64::MAX, i64::MIN, t] {
        let (rows, days) = jobs_section(&machines, &jobs, None, None, now, &chrono::Utc);
        assert!(days.len() <= 3_661, "the day list is bounded");
        let _ = rows;
    }
}
