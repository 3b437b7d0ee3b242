//! The Excel meter report: a workbook with three sheets, "Meters" (the CSV's
//! columns with readable headers), "Supplies" and "Events".
//!
//! Invariants: every text is written with `write_string` (a string cell, never
//! a formula), cut to Excel's 32,767-character cell limit; times are real
//! Excel datetimes in the naive local time of the given `DateTime`
//! (`yyyy-mm-dd hh:mm`), except outside Excel's years 1900–9999 where they
//! are RFC 3339 text; counters are numbers with `#,##0`; `None` is an empty
//! cell; each sheet has a bold, filled, frozen header row and an autofilter,
//! even with no data rows. A sheet with more rows than Excel allows shows the
//! first ones and a last row saying how many were left out.
//!
//! A report that covers 3D printers ([`MeterReport::has_jobs`]) adds the
//! sheets "Jobs" (one row per job; durations as Excel times `[h]:mm:ss`) and
//! "Utilisation" (one row per machine per local day; the day as a date,
//! times `[h]:mm`, utilisation `0.0%`); without 3D printers they are absent.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use rust_xlsxwriter::{
    ColNum, Color, DocProperties, Format, FormatBorder, RowNum, Workbook, Worksheet, XlsxError,
};

use super::{
    DEVICE_COLUMNS, DeviceRow, EventRow, ExportError, JobRow, MeterReport, Progress, SupplyRow,
    Ticker, UtilisationRow, report_title, rfc3339,
};

/// Excel's rows per sheet, header included.
const EXCEL_ROWS: usize = 1_048_576;
/// Excel's characters (UTF-16 units) per cell.
const EXCEL_CELL_CHARS: usize = 32_767;
/// Column width limits, in characters.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 60;
/// Width of a `yyyy-mm-dd hh:mm` column.
const DATETIME_WIDTH: usize = 17;
/// Width of a `[h]:mm:ss` column.
const DURATION_WIDTH: usize = 10;
/// Seconds per day: Excel times are fractions of a day.
const DAY_S: f64 = 86_400.0;

/// Render the meter report as an `.xlsx` workbook in memory. `progress`
/// counts data rows over all sheets.
pub fn xlsx_bytes(
    report: &MeterReport,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, ExportError> {
    let mut total = report.devices.len() + report.supplies.len() + report.events.len();
    if report.has_jobs() {
        total += report.jobs.len() + report.utilisation.len();
    }
    let mut ticker = Ticker::new(total, progress);
    let bytes =
        build(report, &mut ticker).map_err(|source| ExportError::Xlsx { path: None, source })?;
    ticker.finish();
    Ok(bytes)
}

fn build(report: &MeterReport, ticker: &mut Ticker<'_>) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new();
    let mut wb = Workbook::new();
    let mut props = DocProperties::new().set_title(report_title(report));
    if let Some(at) = &report.generated_at {
        // A fixed creation time makes the same report give the same bytes.
        props = props.set_creation_datetime(&at.with_timezone(&Utc));
    }
    wb.set_properties(&props);
    wb.push_worksheet(meters_sheet(report, &styles, ticker)?);
    wb.push_worksheet(supplies_sheet(&report.supplies, &styles, ticker)?);
    wb.push_worksheet(events_sheet(&report.events, &styles, ticker)?);
    if report.has_jobs() {
        wb.push_worksheet(jobs_sheet(&report.jobs, &styles, ticker)?);
        wb.push_worksheet(utilisation_sheet(&report.utilisation, &styles, ticker)?);
    }
    wb.save_to_buffer()
}

/// The cell formats shared by the sheets.
struct Styles {
    header: Format,
    usage_header: Format,
    datetime: Format,
    count: Format,
    usage: Format,
    percent: Format,
    date: Format,
    duration: Format,
    hours: Format,
    share: Format,
}

impl Styles {
    fn new() -> Self {
        let header = Format::new()
            .set_bold()
            .set_background_color(Color::RGB(0xD9E1F2))
            .set_border_bottom(FormatBorder::Thin);
        let usage_fill = Color::RGB(0xE2EFDA);
        Styles {
            usage_header: header.clone().set_background_color(Color::RGB(0xC6E0B4)),
            header,
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            count: Format::new().set_num_format("#,##0"),
            usage: Format::new()
                .set_num_format("#,##0")
                .set_bold()
                .set_background_color(usage_fill),
            percent: Format::new().set_num_format("0%"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            duration: Format::new().set_num_format("[h]:mm:ss"),
            hours: Format::new().set_num_format("[h]:mm"),
            share: Format::new().set_num_format("0.0%"),
        }
    }
}

/// Text as Excel can hold it: at most 32,767 UTF-16 units, cut at a
/// character boundary.
fn cell_text(s: &str) -> Cow<'_, str> {
    if s.len() <= EXCEL_CELL_CHARS {
        // UTF-16 units never outnumber UTF-8 bytes.
        return Cow::Borrowed(s);
    }
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > EXCEL_CELL_CHARS {
            return Cow::Owned(s[..i].to_owned());
        }
    }
    Cow::Borrowed(s)
}

/// How many of `rows` data rows fit under a header in a sheet of
/// `sheet_rows` rows, and how many are left out. When some are left out, the
/// last row that fits is kept for a line saying so.
fn rows_that_fit(rows: usize, sheet_rows: usize) -> (usize, usize) {
    let room = sheet_rows.saturating_sub(1);
    if rows <= room {
        (rows, 0)
    } else {
        let shown = room.saturating_sub(1);
        (shown, rows - shown)
    }
}

/// A worksheet being filled, keeping track of column widths.
struct Sheet {
    ws: Worksheet,
    widths: Vec<usize>,
}

impl Sheet {
    fn new(name: &str, headers: &[(String, &Format)]) -> Result<Self, XlsxError> {
        let mut s = Sheet {
            ws: Worksheet::new(),
            widths: vec![MIN_WIDTH; headers.len()],
        };
        s.ws.set_name(name)?;
        for (col, (text, format)) in headers.iter().enumerate() {
            s.text(0, col, text, Some(format))?;
        }
        Ok(s)
    }

    fn fit(&mut self, col: usize, chars: usize) {
        if let Some(w) = self.widths.get_mut(col) {
            *w = (*w).max(chars.saturating_add(2).min(MAX_WIDTH));
        }
    }

    fn text(
        &mut self,
        row: RowNum,
        col: usize,
        text: &str,
        format: Option<&Format>,
    ) -> Result<(), XlsxError> {
        let text = cell_text(text);
        self.fit(col, text.chars().count());
        let c = col_num(col)?;
        match format {
            Some(f) => self.ws.write_string_with_format(row, c, text, f)?,
            None => self.ws.write_string(row, c, text)?,
        };
        Ok(())
    }

    fn opt_text(&mut self, row: RowNum, col: usize, text: Option<&str>) -> Result<(), XlsxError> {
        match text {
            Some(t) => self.text(row, col, t, None),
            None => Ok(()),
        }
    }

    /// A whole number; `None` is an empty cell, filled when `format` says so.
    fn int(
        &mut self,
        row: RowNum,
        col: usize,
        n: Option<i64>,
        format: Option<&Format>,
    ) -> Result<(), XlsxError> {
        let c = col_num(col)?;
        match (n, format) {
            (Some(n), _) => {
                let digits = n.unsigned_abs().to_string().len() + usize::from(n < 0);
                // Room for the thousands separators of `#,##0`.
                self.fit(col, digits + digits.saturating_sub(1) / 3);
                // Counters are far below 2^53, where f64 is exact.
                let v = n as f64;
                match format {
                    Some(f) => self.ws.write_number_with_format(row, c, v, f)?,
                    None => self.ws.write_number(row, c, v)?,
                };
            }
            (None, Some(f)) => {
                self.ws.write_blank(row, c, f)?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn datetime(
        &mut self,
        row: RowNum,
        col: usize,
        at: Option<&DateTime<FixedOffset>>,
        format: &Format,
    ) -> Result<(), XlsxError> {
        let Some(at) = at else { return Ok(()) };
        let local = at.naive_local();
        if (1900..=9999).contains(&local.year()) {
            self.fit(col, DATETIME_WIDTH);
            self.ws
                .write_datetime_with_format(row, col_num(col)?, local, format)?;
            Ok(())
        } else {
            self.text(row, col, &rfc3339(at), None)
        }
    }

    /// Seconds as an Excel time (a fraction of a day) in `format`; `None`
    /// is an empty cell.
    fn duration(
        &mut self,
        row: RowNum,
        col: usize,
        seconds: Option<i64>,
        format: &Format,
    ) -> Result<(), XlsxError> {
        let Some(s) = seconds else { return Ok(()) };
        let hours_digits = (s.unsigned_abs() / 3600).to_string().len();
        self.fit(col, DURATION_WIDTH.max(hours_digits + 6));
        self.ws
            .write_number_with_format(row, col_num(col)?, s as f64 / DAY_S, format)?;
        Ok(())
    }

    /// The last row of a sheet that could not show every row.
    fn left_out(&mut self, row: RowNum, hidden: usize, what: &str) -> Result<(), XlsxError> {
        let note =
            format!("… {hidden} more {what} not shown: Excel allows {EXCEL_ROWS} rows per sheet");
        self.ws.write_string(row, 0, note)?;
        Ok(())
    }

    /// Column widths, frozen panes, autofilter over `last_row`.
    fn finish(mut self, last_row: RowNum, freeze_cols: ColNum) -> Result<Worksheet, XlsxError> {
        for (col, w) in self.widths.iter().enumerate() {
            let width = *w as f64;
            self.ws.set_column_width(col_num(col)?, width)?;
        }
        let last_col = col_num(self.widths.len().saturating_sub(1))?;
        self.ws.set_freeze_panes(1, freeze_cols)?;
        self.ws.autofilter(0, 0, last_row, last_col)?;
        Ok(self.ws)
    }
}

fn col_num(col: usize) -> Result<ColNum, XlsxError> {
    ColNum::try_from(col).map_err(|_| XlsxError::RowColumnLimitError)
}

/// Data row `i` (0-based) sits under the header.
fn row_num(i: usize) -> Result<RowNum, XlsxError> {
    RowNum::try_from(i + 1).map_err(|_| XlsxError::RowColumnLimitError)
}

fn meters_sheet(
    report: &MeterReport,
    st: &Styles,
    ticker: &mut Ticker<'_>,
) -> Result<Worksheet, XlsxError> {
    let mut headers: Vec<(String, &Format)> = DEVICE_COLUMNS
        .iter()
        .map(|(_, h)| ((*h).to_owned(), &st.header))
        .collect();
    for key in &report.counter_keys {
        headers.push((format!("{key} — first"), &st.header));
        headers.push((format!("{key} — last"), &st.header));
        headers.push((format!("{key} — usage"), &st.usage_header));
    }
    headers.push(("Supplies".to_owned(), &st.header));
    headers.push(("Notes".to_owned(), &st.header));
    let mut s = Sheet::new("Meters", &headers)?;

    let (shown, hidden) = rows_that_fit(report.devices.len(), EXCEL_ROWS);
    for (i, d) in report.devices.iter().take(shown).enumerate() {
        device_row(&mut s, row_num(i)?, report, d, st)?;
        ticker.row();
    }
    if hidden > 0 {
        s.left_out(row_num(shown)?, hidden, "devices")?;
    }
    s.finish(row_num(shown + usize::from(hidden > 0))? - 1, 2)
}

fn device_row(
    s: &mut Sheet,
    row: RowNum,
    report: &MeterReport,
    d: &DeviceRow,
    st: &Styles,
) -> Result<(), XlsxError> {
    s.int(row, 0, Some(d.device_id), None)?;
    s.opt_text(row, 1, d.name.as_deref())?;
    s.opt_text(row, 2, d.vendor.as_deref())?;
    s.opt_text(row, 3, d.model.as_deref())?;
    s.opt_text(row, 4, d.serial.as_deref())?;
    s.opt_text(row, 5, d.address.as_deref())?;
    s.opt_text(row, 6, d.location.as_deref())?;
    s.datetime(row, 7, d.first_reading_at.as_ref(), &st.datetime)?;
    s.datetime(row, 8, d.last_reading_at.as_ref(), &st.datetime)?;
    let mut col = DEVICE_COLUMNS.len();
    for key in &report.counter_keys {
        let span = d.counters.get(key).copied().unwrap_or_default();
        s.int(row, col, span.first, Some(&st.count))?;
        s.int(row, col + 1, span.last, Some(&st.count))?;
        s.int(row, col + 2, span.usage, Some(&st.usage))?;
        col += 3;
    }
    s.text(row, col, &d.supplies_summary, None)?;
    s.text(row, col + 1, &d.notes.join("; "), None)?;
    Ok(())
}

fn supplies_sheet(
    supplies: &[SupplyRow],
    st: &Styles,
    ticker: &mut Ticker<'_>,
) -> Result<Worksheet, XlsxError> {
    let headers: Vec<(String, &Format)> = [
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
    .iter()
    .map(|h| ((*h).to_owned(), &st.header))
    .collect();
    let mut s = Sheet::new("Supplies", &headers)?;
    let (shown, hidden) = rows_that_fit(supplies.len(), EXCEL_ROWS);
    for (i, sup) in supplies.iter().take(shown).enumerate() {
        let row = row_num(i)?;
        s.int(row, 0, Some(sup.device_id), None)?;
        s.opt_text(row, 1, sup.device_name.as_deref())?;
        s.opt_text(row, 2, sup.serial.as_deref())?;
        s.text(row, 3, &sup.description, None)?;
        s.opt_text(row, 4, sup.kind.as_deref())?;
        s.opt_text(row, 5, sup.color.as_deref())?;
        if let Some(p) = sup.percent.filter(|p| p.is_finite()) {
            s.ws.write_number_with_format(row, 6, p / 100.0, &st.percent)?;
        }
        s.int(row, 7, sup.level, None)?;
        s.int(row, 8, sup.max, None)?;
        s.text(row, 9, &sup.state, None)?;
        s.datetime(row, 10, sup.read_at.as_ref(), &st.datetime)?;
        ticker.row();
    }
    if hidden > 0 {
        s.left_out(row_num(shown)?, hidden, "supplies")?;
    }
    s.finish(row_num(shown + usize::from(hidden > 0))? - 1, 2)
}

fn events_sheet(
    events: &[EventRow],
    st: &Styles,
    ticker: &mut Ticker<'_>,
) -> Result<Worksheet, XlsxError> {
    let headers: Vec<(String, &Format)> = [
        "Time",
        "Device ID",
        "Device",
        "Serial",
        "Kind",
        "Severity",
        "Message",
    ]
    .iter()
    .map(|h| ((*h).to_owned(), &st.header))
    .collect();
    let mut s = Sheet::new("Events", &headers)?;
    let (shown, hidden) = rows_that_fit(events.len(), EXCEL_ROWS);
    for (i, e) in events.iter().take(shown).enumerate() {
        let row = row_num(i)?;
        s.datetime(row, 0, e.at.as_ref(), &st.datetime)?;
        s.int(row, 1, e.device_id, None)?;
        s.opt_text(row, 2, e.device_name.as_deref())?;
        s.opt_text(row, 3, e.serial.as_deref())?;
        s.text(row, 4, &e.kind, None)?;
        s.text(row, 5, &e.severity, None)?;
        s.text(row, 6, &e.message, None)?;
        ticker.row();
    }
    if hidden > 0 {
        s.left_out(row_num(shown)?, hidden, "events")?;
    }
    s.finish(row_num(shown + usize::from(hidden > 0))? - 1, 0)
}

fn jobs_sheet(
    jobs: &[JobRow],
    st: &Styles,
    ticker: &mut Ticker<'_>,
) -> Result<Worksheet, XlsxError> {
    let headers: Vec<(String, &Format)> = [
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
        "Gap before",
    ]
    .iter()
    .map(|h| ((*h).to_owned(), &st.header))
    .collect();
    let mut s = Sheet::new("Jobs", &headers)?;
    let (shown, hidden) = rows_that_fit(jobs.len(), EXCEL_ROWS);
    for (i, j) in jobs.iter().take(shown).enumerate() {
        let row = row_num(i)?;
        s.int(row, 0, Some(j.device_id), None)?;
        s.opt_text(row, 1, j.device_name.as_deref())?;
        s.opt_text(row, 2, j.model.as_deref())?;
        s.opt_text(row, 3, j.serial.as_deref())?;
        s.opt_text(row, 4, j.name.as_deref())?;
        s.datetime(row, 5, j.started_at.as_ref(), &st.datetime)?;
        s.datetime(row, 6, j.ended_at.as_ref(), &st.datetime)?;
        s.duration(row, 7, j.duration_s, &st.duration)?;
        s.opt_text(row, 8, j.result.as_deref())?;
        s.opt_text(row, 9, j.material.as_deref())?;
        s.text(row, 10, j.source.as_str(), None)?;
        s.duration(row, 11, j.gap_before_s, &st.duration)?;
        ticker.row();
    }
    if hidden > 0 {
        s.left_out(row_num(shown)?, hidden, "jobs")?;
    }
    s.finish(row_num(shown + usize::from(hidden > 0))? - 1, 2)
}

fn utilisation_sheet(
    days: &[UtilisationRow],
    st: &Styles,
    ticker: &mut Ticker<'_>,
) -> Result<Worksheet, XlsxError> {
    let headers: Vec<(String, &Format)> = [
        ("Date", &st.header),
        ("Device ID", &st.header),
        ("Machine", &st.header),
        ("Model", &st.header),
        ("Serial", &st.header),
        ("Time in period", &st.header),
        ("Printing", &st.usage_header),
        ("Utilisation", &st.usage_header),
        ("Jobs started", &st.header),
        ("Completed", &st.header),
        ("Failed or cancelled", &st.header),
        ("Gaps", &st.header),
        ("Gaps total", &st.header),
        ("Longest gap", &st.header),
    ]
    .iter()
    .map(|(h, f)| ((*h).to_owned(), *f))
    .collect();
    let mut s = Sheet::new("Utilisation", &headers)?;
    let (shown, hidden) = rows_that_fit(days.len(), EXCEL_ROWS);
    for (i, u) in days.iter().take(shown).enumerate() {
        let row = row_num(i)?;
        if (1900..=9999).contains(&u.date.year()) {
            s.fit(0, "yyyy-mm-dd".len());
            s.ws.write_datetime_with_format(row, 0, u.date, &st.date)?;
        } else {
            s.text(row, 0, &u.date.to_string(), None)?;
        }
        s.int(row, 1, Some(u.device_id), None)?;
        s.opt_text(row, 2, u.device_name.as_deref())?;
        s.opt_text(row, 3, u.model.as_deref())?;
        s.opt_text(row, 4, u.serial.as_deref())?;
        s.duration(row, 5, Some(u.period_s), &st.hours)?;
        s.duration(row, 6, Some(u.printing_s), &st.hours)?;
        s.ws.write_number_with_format(row, 7, u.utilisation(), &st.share)?;
        s.int(row, 8, Some(i64::from(u.jobs_started)), None)?;
        s.int(row, 9, Some(i64::from(u.completed)), None)?;
        s.int(row, 10, Some(i64::from(u.failed_or_cancelled)), None)?;
        s.int(row, 11, Some(i64::from(u.gaps)), None)?;
        s.duration(row, 12, Some(u.gaps_total_s), &st.hours)?;
        s.duration(row, 13, Some(u.gaps_longest_s), &st.hours)?;
        ticker.row();
    }
    if hidden > 0 {
        s.left_out(row_num(shown)?, hidden, "days")?;
    }
    s.finish(row_num(shown + usize::from(hidden > 0))? - 1, 3)
}

#[cfg(test)]
mod tests {
    use super::{EXCEL_CELL_CHARS, cell_text, rows_that_fit};

    #[test]
    fn rows_beyond_the_sheet_limit_leave_room_for_a_line_saying_so() {
        assert_eq!(rows_that_fit(0, 10), (0, 0));
        assert_eq!(rows_that_fit(9, 10), (9, 0));
        assert_eq!(rows_that_fit(10, 10), (8, 2));
        assert_eq!(rows_that_fit(1000, 10), (8, 992));
    }

    #[test]
    fn text_longer_than_a_cell_holds_is_cut_at_a_character_boundary() {
        let short = "é".repeat(100);
        assert_eq!(cell_text(&short), short);
        // "😀" is two UTF-16 units: 16,383 of them fit, the next would overflow.
        let long = "😀".repeat(20_000);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), EXCEL_CELL_CHARS / 2);
        assert!(cut.encode_utf16().count() <= EXCEL_CELL_CHARS);
    }
}
