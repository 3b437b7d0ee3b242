//! The CSV meter report: one row per device, columns as [`super::csv_headers`].
//!
//! Invariants: UTF-8 with a byte-order mark; RFC 4180 quoting and CRLF line
//! ends; times RFC 3339 to the second with their own offset; `None` is an
//! empty cell; numbers are plain digits and never prefixed; every text cell
//! that a spreadsheet would take for a formula is prefixed with `'` (OWASP
//! CSV injection: names and sysLocation come from the network).

use std::borrow::Cow;
use std::io::Write;

use ::csv::{Terminator, WriterBuilder};

use super::{DeviceRow, ExportError, MeterReport, Progress, Ticker, csv_headers, rfc3339};

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

/// Write the meter report as CSV to `w` (byte-order mark, header row, one row
/// per device) and flush it. `progress` counts device rows.
pub fn write_csv<W: Write>(
    report: &MeterReport,
    mut w: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ExportError> {
    let csv_err = |source| ExportError::Csv { path: None, source };
    let mut ticker = Ticker::new(report.devices.len(), progress);
    w.write_all(UTF8_BOM)
        .map_err(|e| csv_err(::csv::Error::from(e)))?;
    let mut wtr = WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .from_writer(w);
    wtr.write_record(csv_headers(report)).map_err(csv_err)?;
    for d in &report.devices {
        wtr.write_record(device_record(report, d))
            .map_err(csv_err)?;
        ticker.row();
    }
    wtr.flush().map_err(|e| csv_err(::csv::Error::from(e)))?;
    ticker.finish();
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
