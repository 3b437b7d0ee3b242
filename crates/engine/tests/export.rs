//! The meter-report writers, checked cell by cell: the CSV is parsed back
//! with the csv crate, the workbook is read back with calamine. No network.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use printscout_engine::export::{
    CounterSpan, DeviceRow, EventRow, ExportError, Format, MeterReport, Progress, SupplyRow,
    csv_headers, write_csv, write_report, xlsx_bytes,
};

const ECOSYS: &str = "Kyocera ÉCOSYS — 3ème étage";
const INJECTION: &str = "=HYPERLINK(\"http://x\")";
const BACKWARDS: &str = "counter total went backwards on 2026-11-10 (118,000 after 120,000)";

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test times are RFC 3339")
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test naive times parse")
}

fn span(first: i64, last: i64, usage: i64) -> CounterSpan {
    CounterSpan {
        first: Some(first),
        last: Some(last),
        usage: Some(usage),
    }
}

/// Three devices: a colour MFP with total/color/mono counters, a mono
/// printer whose total went backwards (and whose location is a formula), and
/// one with no reading in the period.
fn sample_report() -> MeterReport {
    let mfp = DeviceRow {
        device_id: 1,
        name: Some(ECOSYS.to_owned()),
        vendor: Some("Kyocera".to_owned()),
        model: Some("ECOSYS M5526cdw".to_owned()),
        serial: Some("VCF8Z12345".to_owned()),
        address: Some("10.1.2.30".to_owned()),
        location: Some("3ème étage, salle B".to_owned()),
        first_reading_at: Some(at("2026-11-01T08:00:00+01:00")),
        last_reading_at: Some(at("2026-11-21T14:00:00+01:00")),
        counters: BTreeMap::from([
            ("total".to_owned(), span(1_234_567, 1_240_000, 5_433)),
            ("color".to_owned(), span(400_000, 401_500, 1_500)),
            ("mono".to_owned(), span(834_567, 838_500, 3_933)),
        ]),
        supplies_summary: "Black Toner 45%, Cyan Toner 80%, Waste Toner Box ok".to_owned(),
        notes: vec![],
    };
    let mono = DeviceRow {
        device_id: 2,
        name: Some("hp-lj-m404".to_owned()),
        vendor: Some("HP".to_owned()),
        model: Some("LaserJet M404dn".to_owned()),
        serial: Some("PHBBL01234".to_owned()),
        address: Some("10.1.2.31".to_owned()),
        location: Some(INJECTION.to_owned()),
        first_reading_at: Some(at("2026-11-01T09:30:15-05:00")),
        last_reading_at: Some(at("2026-11-20T23:59:59-05:00")),
        counters: BTreeMap::from([
            ("total".to_owned(), span(120_000, 119_500, 1_500)),
            ("mono".to_owned(), span(120_000, 119_500, 1_500)),
        ]),
        supplies_summary: "Black Toner 10%".to_owned(),
        notes: vec![BACKWARDS.to_owned(), "-5 pages on mono".to_owned()],
    };
    let silent = DeviceRow {
        device_id: 3,
        name: Some("Brother HL-L2350DW".to_owned()),
        notes: vec!["no reading in the period".to_owned()],
        ..DeviceRow::default()
    };
    MeterReport {
        generated_at: Some(at("2026-12-01T06:00:00+01:00")),
        from: Some(at("2026-11-01T00:00:00+01:00")),
        to: Some(at("2026-12-01T00:00:00+01:00")),
        counter_keys: vec!["total".to_owned(), "color".to_owned(), "mono".to_owned()],
        devices: vec![mfp, mono, silent],
        supplies: vec![
            SupplyRow {
                device_id: 1,
                device_name: Some(ECOSYS.to_owned()),
                serial: Some("VCF8Z12345".to_owned()),
                description: "Black Toner".to_owned(),
                kind: Some("toner".to_owned()),
                color: Some("black".to_owned()),
                percent: Some(45.0),
                level: Some(4_500),
                max: Some(10_000),
                state: "percent".to_owned(),
                read_at: Some(at("2026-11-21T14:00:00+01:00")),
            },
            SupplyRow {
                device_id: 1,
                device_name: Some(ECOSYS.to_owned()),
                serial: Some("VCF8Z12345".to_owned()),
                description: "Waste Toner Box".to_owned(),
                kind: Some("wasteToner".to_owned()),
                color: None,
                percent: None,
                level: Some(-3),
                max: Some(-2),
                state: "some remaining".to_owned(),
                read_at: Some(at("2026-11-21T14:00:00+01:00")),
            },
            SupplyRow {
                device_id: 2,
                device_name: Some("hp-lj-m404".to_owned()),
                serial: Some("PHBBL01234".to_owned()),
                description: "Black Toner".to_owned(),
                kind: Some("toner".to_owned()),
                color: Some("black".to_owned()),
                percent: Some(10.0),
                level: Some(10),
                max: Some(100),
                state: "low".to_owned(),
                read_at: Some(at("2026-11-20T23:59:59-05:00")),
            },
        ],
        events: vec![
            EventRow {
                at: Some(at("2026-11-05T10:15:00+01:00")),
                device_id: None,
                device_name: None,
                serial: None,
                kind: "new_device".to_owned(),
                severity: "info".to_owned(),
                message: "new device found at 10.1.2.31".to_owned(),
            },
            EventRow {
                at: Some(at("2026-11-10T03:00:00-05:00")),
                device_id: Some(2),
                device_name: Some("hp-lj-m404".to_owned()),
                serial: Some("PHBBL01234".to_owned()),
                kind: "counter_drop".to_owned(),
                severity: "warning".to_owned(),
                message: BACKWARDS.to_owned(),
            },
            EventRow {
                at: Some(at("2026-11-20T23:00:00-05:00")),
                device_id: Some(2),
                device_name: Some("hp-lj-m404".to_owned()),
                serial: Some("PHBBL01234".to_owned()),
                kind: "supply_low".to_owned(),
                severity: "warning".to_owned(),
                message: "Black Toner 10%".to_owned(),
            },
        ],
        ..MeterReport::default()
    }
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

// ---------------------------------------------------------------- CSV ----

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    rdr.records()
        .map(|r| {
            r.expect("the CSV parses back")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn report_csv(report: &MeterReport) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(report, &mut out, &mut no_progress()).expect("the CSV is written");
    out
}

#[test]
fn the_csv_has_every_header_and_every_cell_as_expected() {
    let report = sample_report();
    let bytes = report_csv(&report);
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a UTF-8 byte-order mark, for Excel"
    );
    let text = std::str::from_utf8(&bytes).expect("the CSV is UTF-8");
    assert!(text.contains("\r\n"), "RFC 4180 line ends");

    let expected: Vec<Vec<&str>> = vec![
        vec![
            "device_id",
            "name",
            "vendor",
            "model",
            "serial",
            "address",
            "location",
            "first_reading",
            "last_reading",
            "total_first",
            "total_last",
            "total_usage",
            "color_first",
            "color_last",
            "color_usage",
            "mono_first",
            "mono_last",
            "mono_usage",
            "supplies",
            "notes",
        ],
        vec![
            "1",
            ECOSYS,
            "Kyocera",
            "ECOSYS M5526cdw",
            "VCF8Z12345",
            "10.1.2.30",
            "3ème étage, salle B",
            "2026-11-01T08:00:00+01:00",
            "2026-11-21T14:00:00+01:00",
            "1234567",
            "1240000",
            "5433",
            "400000",
            "401500",
            "1500",
            "834567",
            "838500",
            "3933",
            "Black Toner 45%, Cyan Toner 80%, Waste Toner Box ok",
            "",
        ],
        vec![
            "2",
            "hp-lj-m404",
            "HP",
            "LaserJet M404dn",
            "PHBBL01234",
            "10.1.2.31",
            "'=HYPERLINK(\"http://x\")",
            "2026-11-01T09:30:15-05:00",
            "2026-11-20T23:59:59-05:00",
            "120000",
            "119500",
            "1500",
            "",
            "",
            "",
            "120000",
            "119500",
            "1500",
            "Black Toner 10%",
            "counter total went backwards on 2026-11-10 (118,000 after 120,000); -5 pages on mono",
        ],
        vec![
            "3",
            "Brother HL-L2350DW",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "no reading in the period",
        ],
    ];
    let rows = csv_rows(&bytes);
    assert_eq!(
        rows.len(),
        expected.len(),
        "a header and one row per device"
    );
    for (r, (got, want)) in rows.iter().zip(&expected).enumerate() {
        assert_eq!(got.len(), want.len(), "row {r} has every column");
        for (c, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "CSV row {r} column {c} ({})", expected[0][c]);
        }
    }
    assert_eq!(
        csv_headers(&report),
        expected[0]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_csv_cell_that_looks_like_a_formula_is_prefixed_with_a_quote_but_numbers_are_not() {
    let mut report = sample_report();
    report.devices[0].name = Some("+cmd|' /C calc'!A0".to_owned());
    report.devices[0].model = Some("@SUM(1+1)".to_owned());
    report.devices[0].serial = Some("-2+3".to_owned());
    report.devices[0].address = Some("\t=1".to_owned());
    report.devices[0].notes = vec!["=1+1".to_owned(), "second".to_owned()];
    report.devices[0]
        .counters
        .insert("total".to_owned(), span(-5, 7, 12));
    let rows = csv_rows(&report_csv(&report));
    let row = &rows[1];
    assert_eq!(row[1], "'+cmd|' /C calc'!A0");
    assert_eq!(row[3], "'@SUM(1+1)");
    assert_eq!(row[4], "'-2+3");
    assert_eq!(row[5], "'\t=1");
    assert_eq!(row[6], "3ème étage, salle B", "harmless text is untouched");
    assert_eq!(row[9], "-5", "a number is never prefixed");
    assert_eq!(row[19], "'=1+1; second");
    assert_eq!(rows[2][6], "'=HYPERLINK(\"http://x\")");
}

#[test]
fn an_empty_report_gives_a_csv_with_only_its_header() {
    let report = MeterReport {
        counter_keys: vec!["total".to_owned()],
        ..MeterReport::default()
    };
    let rows = csv_rows(&report_csv(&report));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), 9 + 3 + 2);
    assert_eq!(rows[0][9], "total_first");
}

// --------------------------------------------------------------- XLSX ----

/// What one workbook cell should hold.
#[derive(Debug)]
enum Want {
    S(&'static str),
    Owned(String),
    N(f64),
    D(&'static str),
    E,
}
use Want::{D, E, N, S};

fn excel_serial(t: NaiveDateTime) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("the Excel epoch is a date");
    (t - epoch).num_milliseconds() as f64 / 86_400_000.0
}

fn check_cell(sheet: &str, row: u32, col: u32, got: &Data, want: &Want) {
    let here = format!("{sheet} row {row} column {col}: got {got:?}, want {want:?}");
    match (want, got) {
        (S(s), Data::String(g)) => assert_eq!(g, s, "{here}"),
        (Want::Owned(s), Data::String(g)) => assert_eq!(g, s, "{here}"),
        (N(n), Data::Float(g)) => assert_eq!(g, n, "{here}"),
        (D(t), Data::DateTime(g)) => {
            assert!(g.is_datetime(), "{here}: a date and time");
            let diff = (g.as_f64() - excel_serial(naive(t))).abs();
            assert!(diff < 1e-6, "{here}: serial off by {diff} days");
        }
        (E, Data::Empty) => {}
        _ => panic!("{here}"),
    }
}

fn check_sheet(wb: &mut Xlsx<Cursor<Vec<u8>>>, sheet: &str, want: &[Vec<Want>]) {
    let range = wb.worksheet_range(sheet).expect("the sheet reads back");
    let (rows, cols) = (want.len() as u32, want[0].len() as u32);
    if let Some((end_row, end_col)) = range.end() {
        assert!(
            end_row < rows && end_col < cols,
            "{sheet}: nothing beyond the expected cells (end {end_row},{end_col})"
        );
    }
    for (r, wrow) in want.iter().enumerate() {
        assert_eq!(
            wrow.len() as u32,
            cols,
            "{sheet}: test rows are rectangular"
        );
        for (c, w) in wrow.iter().enumerate() {
            let (r, c) = (r as u32, c as u32);
            let got = range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
            check_cell(sheet, r, c, &got, w);
        }
    }
}

fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes)).expect("the workbook opens")
}

fn meters_headers() -> Vec<Want> {
    [
        "Device ID",
        "Name",
        "Vendor",
        "Model",
        "Serial",
        "Address",
        "Location",
        "First reading",
        "Last reading",
        "total — first",
        "total — last",
        "total — usage",
        "color — first",
        "color — last",
        "color — usage",
        "mono — first",
        "mono — last",
        "mono — usage",
        "Supplies",
        "Notes",
    ]
    .into_iter()
    .map(S)
    .collect()
}

fn supplies_headers() -> Vec<Want> {
    [
        "Device ID",
        "Device",
        "Serial",
        "Supply",
        "Kind",
        "Colour",
        "Percent",
        "Level",
        "Max",
        "State",
        "Read at",
    ]
    .into_iter()
    .map(S)
    .collect()
}

fn events_headers() -> Vec<Want> {
    [
        "Time",
        "Device ID",
        "Device",
        "Serial",
        "Kind",
        "Severity",
        "Message",
    ]
    .into_iter()
    .map(S)
    .collect()
}

#[test]
fn the_workbook_has_three_sheets_with_every_cell_as_expected() {
    let report = sample_report();
    let mut wb = open(xlsx_bytes(&report, &mut no_progress()).expect("the workbook is built"));
    assert_eq!(wb.sheet_names(), ["Meters", "Supplies", "Events"]);

    let meters = vec![
        meters_headers(),
        vec![
            N(1.0),
            S(ECOSYS),
            S("Kyocera"),
            S("ECOSYS M5526cdw"),
            S("VCF8Z12345"),
            S("10.1.2.30"),
            S("3ème étage, salle B"),
            D("2026-11-01 08:00:00"),
            D("2026-11-21 14:00:00"),
            N(1_234_567.0),
            N(1_240_000.0),
            N(5_433.0),
            N(400_000.0),
            N(401_500.0),
            N(1_500.0),
            N(834_567.0),
            N(838_500.0),
            N(3_933.0),
            S("Black Toner 45%, Cyan Toner 80%, Waste Toner Box ok"),
            E,
        ],
        vec![
            N(2.0),
            S("hp-lj-m404"),
            S("HP"),
            S("LaserJet M404dn"),
            S("PHBBL01234"),
            S("10.1.2.31"),
            S(INJECTION),
            D("2026-11-01 09:30:15"),
            D("2026-11-20 23:59:59"),
            N(120_000.0),
            N(119_500.0),
            N(1_500.0),
            E,
            E,
            E,
            N(120_000.0),
            N(119_500.0),
            N(1_500.0),
            S("Black Toner 10%"),
            Want::Owned(format!("{BACKWARDS}; -5 pages on mono")),
        ],
        vec![
            N(3.0),
            S("Brother HL-L2350DW"),
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            S("no reading in the period"),
        ],
    ];
    check_sheet(&mut wb, "Meters", &meters);

    let supplies = vec![
        supplies_headers(),
        vec![
            N(1.0),
            S(ECOSYS),
            S("VCF8Z12345"),
            S("Black Toner"),
            S("toner"),
            S("black"),
            N(0.45),
            N(4_500.0),
            N(10_000.0),
            S("percent"),
            D("2026-11-21 14:00:00"),
        ],
        vec![
            N(1.0),
            S(ECOSYS),
            S("VCF8Z12345"),
            S("Waste Toner Box"),
            S("wasteToner"),
            E,
            E,
            N(-3.0),
            N(-2.0),
            S("some remaining"),
            D("2026-11-21 14:00:00"),
        ],
        vec![
            N(2.0),
            S("hp-lj-m404"),
            S("PHBBL01234"),
            S("Black Toner"),
            S("toner"),
            S("black"),
            N(0.10),
            N(10.0),
            N(100.0),
            S("low"),
            D("2026-11-20 23:59:59"),
        ],
    ];
    check_sheet(&mut wb, "Supplies", &supplies);

    let events = vec![
        events_headers(),
        vec![
            D("2026-11-05 10:15:00"),
            E,
            E,
            E,
            S("new_device"),
            S("info"),
            S("new device found at 10.1.2.31"),
        ],
        vec![
            D("2026-11-10 03:00:00"),
            N(2.0),
            S("hp-lj-m404"),
            S("PHBBL01234"),
            S("counter_drop"),
            S("warning"),
            S(BACKWARDS),
        ],
        vec![
            D("2026-11-20 23:00:00"),
            N(2.0),
            S("hp-lj-m404"),
            S("PHBBL01234"),
            S("supply_low"),
            S("warning"),
            S("Black Toner 10%"),
        ],
    ];
    check_sheet(&mut wb, "Events", &events);

    let props = wb.workbook_properties().expect("the properties read back");
    assert_eq!(
        props.title.as_deref(),
        Some("PrintScout meter report, 2026-11-01 00:00 to 2026-12-01 00:00")
    );
}

#[test]
fn a_formula_in_device_data_is_a_plain_string_cell_in_the_workbook() {
    let mut wb = open(xlsx_bytes(&sample_report(), &mut no_progress()).expect("built"));
    let values = wb.worksheet_range("Meters").expect("values");
    assert_eq!(
        values.get_value((2, 6)),
        Some(&Data::String(INJECTION.to_owned()))
    );
    for sheet in ["Meters", "Supplies", "Events"] {
        let formulas = wb.worksheet_formula(sheet).expect("formulas");
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{sheet} holds no formula"
        );
    }
}

#[test]
fn an_empty_report_still_yields_three_sheets_with_their_headers() {
    let report = MeterReport {
        counter_keys: vec!["total".to_owned(), "color".to_owned(), "mono".to_owned()],
        ..MeterReport::default()
    };
    let mut wb = open(xlsx_bytes(&report, &mut no_progress()).expect("built"));
    assert_eq!(wb.sheet_names(), ["Meters", "Supplies", "Events"]);
    check_sheet(&mut wb, "Meters", &[meters_headers()]);
    check_sheet(&mut wb, "Supplies", &[supplies_headers()]);
    check_sheet(&mut wb, "Events", &[events_headers()]);
    let props = wb.workbook_properties().expect("properties");
    assert_eq!(
        props.title.as_deref(),
        Some("PrintScout meter report, all readings")
    );
}

// -------------------------------------------------------- write_report ----

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("the test directory lists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn writing_into_a_missing_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("a test directory");
    let out = dir.path().join("no-such-dir").join("report.xlsx");
    let err = write_report(&sample_report(), Format::Xlsx, &out, &mut no_progress())
        .expect_err("the directory does not exist");
    match &err {
        ExportError::Io { path, .. } => assert_eq!(path, &out),
        other => panic!("an I/O error, not {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&out.display().to_string()),
        "the message names the file: {message}"
    );
}

#[test]
fn an_existing_file_survives_a_failed_export_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().expect("a test directory");
    let out = dir.path().join("report.xlsx");
    std::fs::write(&out, b"last month's report").expect("the old report is written");
    // More columns than Excel allows (16,384) make the workbook fail midway.
    let mut report = sample_report();
    report.counter_keys = (0..6_000).map(|i| format!("k{i}")).collect();
    let err = write_report(&report, Format::Xlsx, &out, &mut no_progress())
        .expect_err("too many columns for Excel");
    assert!(
        matches!(&err, ExportError::Xlsx { path: Some(p), .. } if p == &out),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&out.display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&out).expect("the old report is still there"),
        b"last month's report"
    );
    assert_eq!(leftovers(dir.path()), ["report.xlsx"]);
}

#[test]
fn a_successful_export_replaces_the_old_file_and_progress_reaches_the_total() {
    let dir = tempfile::tempdir().expect("a test directory");
    let report = sample_report();
    for (format, name, rows) in [
        (Format::Csv, "report.csv", 3),
        (Format::Xlsx, "report.xlsx", 9),
    ] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"old").expect("the old report is written");
        let mut seen = Vec::new();
        write_report(&report, format, &out, &mut |p| seen.push(p)).expect("the export succeeds");
        let last = seen.last().copied().expect("progress was reported");
        assert_eq!(
            last,
            Progress {
                done: rows,
                total: rows
            },
            "{format}"
        );
        assert!(
            seen.windows(2)
                .all(|w| w[0].done <= w[1].done && w[1].total == rows),
            "{format}: progress only moves forward: {seen:?}"
        );
        let bytes = std::fs::read(&out).expect("the new report reads");
        match format {
            Format::Csv => assert_eq!(bytes, report_csv(&report)),
            Format::Xlsx => {
                let mut wb = open(bytes);
                assert_eq!(wb.sheet_names(), ["Meters", "Supplies", "Events"]);
                let meters = wb.worksheet_range("Meters").expect("Meters");
                assert_eq!(
                    meters.get_value((1, 1)),
                    Some(&Data::String(ECOSYS.to_owned()))
                );
            }
        }
    }
    let mut names = leftovers(dir.path());
    names.sort();
    assert_eq!(
        names,
        ["report.csv", "report.xlsx"],
        "no temporary file is left"
    );
}

#[test]
fn an_empty_report_reports_progress_zero_of_zero() {
    let dir = tempfile::tempdir().expect("a test directory");
    let out = dir.path().join("empty.csv");
    let mut seen = Vec::new();
    write_report(&MeterReport::default(), Format::Csv, &out, &mut |p| {
        seen.push(p)
    })
    .expect("the export succeeds");
    assert_eq!(seen.last(), Some(&Progress { done: 0, total: 0 }));
}

#[test]
fn non_ascii_names_survive_both_formats() {
    let report = sample_report();
    let rows = csv_rows(&report_csv(&report));
    assert_eq!(rows[1][1], ECOSYS);
    let mut wb = open(xlsx_bytes(&report, &mut no_progress()).expect("built"));
    for (sheet, cell) in [("Meters", (1, 1)), ("Supplies", (1, 1))] {
        let range = wb.worksheet_range(sheet).expect("the sheet reads");
        assert_eq!(
            range.get_value(cell),
            Some(&Data::String(ECOSYS.to_owned())),
            "{sheet}"
        );
    }
}

#[test]
fn formats_parse_in_any_case_and_print_as_their_extension() {
    assert_eq!("csv".parse::<Format>(), Ok(Format::Csv));
    assert_eq!("XLSX".parse::<Format>(), Ok(Format::Xlsx));
    assert_eq!("Xlsx".parse::<Format>(), Ok(Format::Xlsx));
    assert!("pdf".parse::<Format>().is_err());
    assert_eq!(Format::Csv.to_string(), "csv");
    assert_eq!(Format::Xlsx.to_string(), "xlsx");
}
