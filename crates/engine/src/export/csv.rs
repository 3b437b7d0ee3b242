//! The CSV meter report: one row per device, columns as [`super::csv_headers`].
//!
//! Invariants: UTF-8 with a byte-order mark; RFC 4180 quoting and CRLF line
//! ends; times RFC 3339 to the second with their own offset; `None` is an
//! empty cell; numbers are plain digits and never prefixed; every text cell
//! that a spreadsheet would take for a formula is prefixed with `'` (OWASP
//! CSV injection: names and sysLocation come from the network).
//!
//! The 3D-printer companion files ([`super::CsvPart`]) follow the same rules:
//! jobs with durations in whole seconds, utilisation with hours to two
//! decimals and the percentage to one; job names come from users' files and
//! are guarded like any other text.

use std::borrow::Cow;
use std::io::Write;

use ::csv::{Terminator, WriterBuilder};

use super::{
    CsvPart, DeviceRow, ExportError, JobRow, MeterReport, Progress, Ticker, UtilisationRow,
    csv_headers, rfc3339,
};

/// Excel opens a CSV file in the machine's ANSI code page (Windows-1252 in
/// western Europe) unless the file starts with a UTF-8 byte-order mark, so
/// "ÉCOSYS — 3ème étage" would show as mojibake. LibreOffice, Google Sheets,
/// Python's `utf-8-sig` and the csv crate's reader all skip the mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Prefix `'` to text a spreadsheet would evaluate: a first character of
/// `=`, `+`, `-`, `@`, tab, CR (OWASP) or NUL (OWASP ASVS 1.2.10).
pub(crate) fn guard(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\0') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

fn opt_text(v: Option<&str>) -> String {
    v.map(|s| guard(s).into_owned()).unwrap_or_default()
}

fn opt_num(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn device_record(report: &MeterReport, d: &DeviceRow) -> Vec<String> {
    let mut r = Vec::with_capacity(11 + 3 * report.counter_keys.len());
    r.push(d.device_id.to_string());
    r.push(opt_text(d.name.as_deref()));
    r.push(opt_text(d.vendor.as_deref()));
    r.push(opt_text(d.model.as_deref()));
    r.push(opt_text(d.serial.as_deref()));
    r.push(opt_text(d.address.as_deref()));
    r.push(opt_text(d.location.as_deref()));
    r.push(d.first_reading_at.as_ref().map(rfc3339).unwrap_or_default());
    r.push(d.last_reading_at.as_ref().map(rfc3339).unwrap_or_default());
    for key in &report.counter_keys {
        let span = d.counters.get(key).copied().unwrap_or_default();
        r.push(opt_num(span.first));
        r.push(opt_num(span.last));
        r.push(opt_num(span.usage));
    }
    r.push(guard(&d.supplies_summary).into_owned());
    r.push(guard(&d.notes.join("; ")).into_owned());
    r
}

/// The jobs companion file's column names, in order.
pub fn jobs_csv_headers() -> Vec<String> {
    [
        "device_id",
        "machine",
        "model",
        "serial",
        "job",
        "start",
        "end",
        "duration_s",
        "result",
        "material",
        "recorded_from",
        "gap_before_s",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect()
}

/// The utilisation companion file's column names, in order.
pub fn utilisation_csv_headers() -> Vec<String> {
    [
        "date",
        "device_id",
        "machine",
        "model",
        "serial",
        "hours_in_period",
        "printing_hours",
        "utilisation_percent",
        "jobs_started",
        "completed",
        "failed_or_cancelled",
        "gaps",
        "gaps_total_hours",
        "gaps_longest_hours",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect()
}

fn hours(seconds: i64) -> String {
    format!("{:.2}", seconds as f64 / 3600.0)
}

fn job_record(j: &JobRow) -> Vec<String> {
    vec![
        j.device_id.to_string(),
        opt_text(j.device_name.as_deref()),
        opt_text(j.model.as_deref()),
        opt_text(j.serial.as_deref()),
        opt_text(j.name.as_deref()),
        j.started_at.as_ref().map(rfc3339).unwrap_or_default(),
        j.ended_at.as_ref().map(rfc3339).unwrap_or_default(),
        opt_num(j.duration_s),
        opt_text(j.result.as_deref()),
        opt_text(j.material.as_deref()),
        j.source.as_str().to_owned(),
        opt_num(j.gap_before_s),
    ]
}

fn utilisation_record(u: &UtilisationRow) -> Vec<String> {
    vec![
        u.date.format("%Y-%m-%d").to_string(),
        u.device_id.to_string(),
        opt_text(u.device_name.as_deref()),
        opt_text(u.model.as_deref()),
        opt_text(u.serial.as_deref()),
        hours(u.period_s),
        hours(u.printing_s),
        format!("{:.1}", u.utilisation() * 100.0),
        u.jobs_started.to_string(),
        u.completed.to_string(),
        u.failed_or_cancelled.to_string(),
        u.gaps.to_string(),
        hours(u.gaps_total_s),
        hours(u.gaps_longest_s),
    ]
}

/// Write the meter report as CSV to `w` (byte-order mark, header row, one row
/// per device) and flush it. `progress` counts device rows.
pub fn write_csv<W: Write>(
    report: &MeterReport,
    w: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ExportError> {
    write_csv_part(report, CsvPart::Meters, w, progress)
}

/// Write one file of a CSV export to `w` (byte-order mark, header row, its
/// rows) and flush it: [`CsvPart::Meters`] is [`write_csv`]; the jobs and
/// utilisation parts have their header even when the report has no such
/// rows. `progress` counts this part's rows.
pub fn write_csv_part<W: Write>(
    report: &MeterReport,
    part: CsvPart,
    w: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ExportError> {
    let mut ticker = Ticker::new(part.rows(report), progress);
    write_part(report, part, w, &mut ticker)?;
    ticker.finish();
    Ok(())
}

/// [`write_csv_part`] counting rows on a ticker shared with other parts.
pub(crate) fn write_part<W: Write>(
    report: &MeterReport,
    part: CsvPart,
    mut w: W,
    ticker: &mut Ticker<'_>,
) -> Result<(), ExportError> {
    let csv_err = |source| ExportError::Csv { path: None, source };
    w.write_all(UTF8_BOM)
        .map_err(|e| csv_err(::csv::Error::from(e)))?;
    let mut wtr = WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .from_writer(w);
    match part {
        CsvPart::Meters => {
            wtr.write_record(csv_headers(report)).map_err(csv_err)?;
            for d in &report.devices {
                wtr.write_record(device_record(report, d))
                    .map_err(csv_err)?;
                ticker.row();
            }
        }
        CsvPart::Jobs => {
            wtr.write_record(jobs_csv_headers()).map_err(csv_err)?;
            for j in &report.jobs {
                wtr.write_record(job_record(j)).map_err(csv_err)?;
                ticker.row();
            }
        }
        CsvPart::Utilisation => {
            wtr.write_record(utilisation_csv_headers())
                .map_err(csv_err)?;
            for u in &report.utilisation {
                wtr.write_record(utilisation_record(u)).map_err(csv_err)?;
                ticker.row();
            }
        }
    }
    wtr.flush().map_err(|e| csv_err(::csv::Error::from(e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::guard;

    #[test]
    fn text_that_looks_like_a_formula_is_prefixed_and_other_text_is_not() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\0x"] {
            assert_eq!(guard(bad), format!("'{bad}"));
        }
        for ok in ["", "HP", "3ème étage", " =x", "x=1", "'quoted"] {
            assert_eq!(guard(ok), ok);
        }
    }
}
