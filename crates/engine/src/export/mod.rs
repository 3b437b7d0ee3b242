//! The meter-report writers: turn a [`MeterReport`] (plain data the store
//! hands over, see [`model`]) into a CSV file or a formatted Excel workbook.
//!
//! Owns: the column layout of both formats, the CSV formula-injection guard,
//! the Excel sheets and their formatting, and the atomic file write.
//!
//! Invariants:
//! - [`write_report`] never leaves a half-written file at its destination and
//!   never destroys an existing file there unless the new one is complete: it
//!   writes to a temporary file in the same directory, syncs it, then renames
//!   it over the destination.
//! - CSV text cells that a spreadsheet would read as a formula (first
//!   character `=`, `+`, `-`, `@`, tab, CR or NUL) are prefixed with `'`;
//!   numbers never are. In the workbook every text is a string cell, never a
//!   formula, so it is written as it is.
//! - Both formats have the same columns in the same order
//!   ([`csv_headers`]); a report with no rows still has its headers (and the
//!   workbook its three sheets).
//! - 3D-printer jobs ([`MeterReport::has_jobs`]) add the workbook sheets
//!   "Jobs" and "Utilisation" and, for CSV, two companion files next to the
//!   report ([`CsvPart`]: `<stem>-jobs.csv`, `<stem>-utilisation.csv`), each
//!   with its header even without rows. A report without 3D printers gets
//!   neither: its workbook and CSV are byte for byte what they were before.
//!   [`write_report`] writes every file of a CSV export atomically and
//!   renames the companions into place before the main file; on an error no
//!   file at the destination changes.
//! - Nothing here panics on any input; errors name the file when there is one.

mod csv;
mod jobs;
pub mod model;
mod xlsx;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat};

pub use self::csv::{jobs_csv_headers, utilisation_csv_headers, write_csv, write_csv_part};
pub use self::jobs::{Machine, StoredJob, jobs_section};
pub use self::xlsx::xlsx_bytes;
pub use model::*;

/// The file formats a meter report can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values, UTF-8 with a byte-order mark, one row per device.
    Csv,
    /// An Excel workbook with three sheets: Meters, Supplies, Events (and
    /// Jobs, Utilisation when the report covers 3D printers).
    Xlsx,
}

impl Format {
    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// The text given was neither `csv` nor `xlsx`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}: expected csv or xlsx")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("csv") {
            Ok(Format::Csv)
        } else if t.eq_ignore_ascii_case("xlsx") {
            Ok(Format::Xlsx)
        } else {
            Err(UnknownFormat(s.to_owned()))
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Creating, writing or renaming the file failed.
    #[error("cannot write the report {}: {source}", path.display())]
    Io {
        /// The file the report was meant for.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The Excel writer refused the workbook.
    #[error("cannot build the Excel workbook{}: {source}", for_file(.path.as_deref()))]
    Xlsx {
        /// The file the workbook was meant for, when there is one.
        path: Option<PathBuf>,
        /// What the writer said.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    /// The CSV writer failed (in memory or on a writer that is not a file).
    #[error("cannot write the CSV report{}: {source}", for_file(.path.as_deref()))]
    Csv {
        /// The file the CSV was meant for, when there is one.
        path: Option<PathBuf>,
        /// What the writer said.
        #[source]
        source: ::csv::Error,
    },
}

fn for_file(path: Option<&Path>) -> String {
    path.map(|p| format!(" {}", p.display()))
        .unwrap_or_default()
}

impl ExportError {
    /// Attach the destination file to an error made without one; an I/O
    /// failure inside the CSV writer becomes [`ExportError::Io`].
    fn at(self, out: &Path) -> Self {
        match self {
            ExportError::Csv { source, .. } if !source.is_io_error() => ExportError::Csv {
                path: Some(out.to_path_buf()),
                source,
            },
            ExportError::Csv { source, .. } => ExportError::Io {
                path: out.to_path_buf(),
                source: match source.into_kind() {
                    ::csv::ErrorKind::Io(e) => e,
                    // Not reached: `is_io_error` said it is the I/O kind.
                    kind => std::io::Error::other(format!("{kind:?}")),
                },
            },
            ExportError::Xlsx { source, .. } => ExportError::Xlsx {
                path: Some(out.to_path_buf()),
                source,
            },
            io @ ExportError::Io { .. } => io,
        }
    }
}

/// One file of a CSV export. The meter report is one row per device; when
/// the report covers 3D printers ([`MeterReport::has_jobs`]) two companion
/// files carry the jobs and the utilisation, named after the report's file
/// (`november.csv` → `november-jobs.csv`, `november-utilisation.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CsvPart {
    /// The meter report itself: one row per device ([`csv_headers`]).
    Meters,
    /// One row per 3D-printer job ([`jobs_csv_headers`]).
    Jobs,
    /// One row per 3D printer per local day ([`utilisation_csv_headers`]).
    Utilisation,
}

impl CsvPart {
    /// What is added to the report file's stem: `""`, `-jobs`,
    /// `-utilisation`.
    pub fn suffix(self) -> &'static str {
        match self {
            CsvPart::Meters => "",
            CsvPart::Jobs => "-jobs",
            CsvPart::Utilisation => "-utilisation",
        }
    }

    /// The files a CSV export of `report` consists of: the meter report,
    /// then the jobs and utilisation when it covers 3D printers.
    pub fn parts_of(report: &MeterReport) -> Vec<CsvPart> {
        if report.has_jobs() {
            vec![CsvPart::Meters, CsvPart::Jobs, CsvPart::Utilisation]
        } else {
            vec![CsvPart::Meters]
        }
    }

    /// The file name of this part for a report named `stem` (no extension):
    /// `printscout-meters-2026-11-21` → `printscout-meters-2026-11-21-jobs.csv`.
    pub fn file_name(self, stem: &str) -> String {
        format!("{stem}{}.csv", self.suffix())
    }

    /// Where this part goes when the report itself goes to `out`: `out` for
    /// the meters, else `<stem of out>-jobs.csv` / `-utilisation.csv` in the
    /// same directory.
    pub fn path_for(self, out: &Path) -> PathBuf {
        if self == CsvPart::Meters {
            return out.to_path_buf();
        }
        let mut name = out.file_stem().unwrap_or_default().to_os_string();
        name.push(self.suffix());
        name.push(".csv");
        out.with_file_name(name)
    }

    /// Rows this part has (header not counted).
    pub(crate) fn rows(self, report: &MeterReport) -> usize {
        match self {
            CsvPart::Meters => report.devices.len(),
            CsvPart::Jobs => report.jobs.len(),
            CsvPart::Utilisation => report.utilisation.len(),
        }
    }
}

/// How far an export is: rows written so far out of all rows in all sheets
/// (header rows not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Progress {
    /// Rows written so far.
    pub done: usize,
    /// Rows to write in all.
    pub total: usize,
}

/// Calls the progress callback at the start, about every 1 % and at the end,
/// so a huge export does not call it once per row. The last call always has
/// `done == total`.
pub(crate) struct Ticker<'a> {
    progress: &'a mut dyn FnMut(Progress),
    done: usize,
    total: usize,
    step: usize,
}

impl<'a> Ticker<'a> {
    pub(crate) fn new(total: usize, progress: &'a mut dyn FnMut(Progress)) -> Self {
        progress(Progress { done: 0, total });
        Ticker {
            progress,
            done: 0,
            total,
            step: (total / 100).max(1),
        }
    }

    /// One more row written.
    pub(crate) fn row(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(self.step) || self.done == self.total {
            (self.progress)(Progress {
                done: self.done,
                total: self.total,
            });
        }
    }

    /// Everything written: make sure the last report says so (also for an
    /// empty report, whose only report so far was 0 of 0).
    pub(crate) fn finish(self) {
        if self.done != self.total || self.total == 0 {
            (self.progress)(Progress {
                done: self.total,
                total: self.total,
            });
        }
    }
}

/// The CSV column names, in order: the fixed device columns, then
/// `K_first, K_last, K_usage` for every key in `report.counter_keys`, then
/// `supplies` and `notes`.
pub fn csv_headers(report: &MeterReport) -> Vec<String> {
    let mut headers: Vec<String> = DEVICE_COLUMNS
        .iter()
        .map(|(csv, _)| (*csv).to_owned())
        .collect();
    for key in &report.counter_keys {
        for end in ["first", "last", "usage"] {
            headers.push(csv::guard(&format!("{key}_{end}")).into_owned());
        }
    }
    headers.push("supplies".to_owned());
    headers.push("notes".to_owned());
    headers
}

/// The fixed device columns before the counters: CSV name, workbook header.
pub(crate) const DEVICE_COLUMNS: [(&str, &str); 9] = [
    ("device_id", "Device ID"),
    ("name", "Name"),
    ("vendor", "Vendor"),
    ("model", "Model"),
    ("serial", "Serial"),
    ("address", "Address"),
    ("location", "Location"),
    ("first_reading", "First reading"),
    ("last_reading", "Last reading"),
];

/// A title for the report and its period, e.g.
/// `PrintScout meter report, 2026-11-01 00:00 to 2026-12-01 00:00` (times as
/// given, to the minute). Used as the workbook's title property; meant for
/// e-mail subjects too.
pub fn report_title(report: &MeterReport) -> String {
    let t = |d: &DateTime<FixedOffset>| d.format("%Y-%m-%d %H:%M").to_string();
    let period = match (&report.from, &report.to) {
        (Some(from), Some(to)) => format!("{} to {}", t(from), t(to)),
        (Some(from), None) => format!("from {}", t(from)),
        (None, Some(to)) => format!("up to {}", t(to)),
        (None, None) => "all readings".to_owned(),
    };
    format!("PrintScout meter report, {period}")
}

/// RFC 3339 to the second with the offset as given
/// (`2026-11-21T14:00:00+01:00`).
pub(crate) fn rfc3339(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Write `report` to `out` in `format`, atomically: the report goes to a
/// temporary file in the same directory, which is synced and renamed over
/// `out` only once complete. On any error `out` is untouched (an existing
/// file there survives) and the temporary file is removed. An existing
/// file's permissions are kept.
///
/// A CSV export of a report that covers 3D printers also writes the
/// companion files [`CsvPart::path_for`] names, the same way; they are all
/// complete before any is renamed into place, and the main file is renamed
/// last. Without 3D printers no companion file is written (nor removed).
pub fn write_report(
    report: &MeterReport,
    format: Format,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ExportError> {
    match format {
        Format::Csv => {
            let parts = CsvPart::parts_of(report);
            let total = parts.iter().map(|p| p.rows(report)).sum();
            let mut ticker = Ticker::new(total, progress);
            let mut staged = Vec::with_capacity(parts.len());
            for part in parts {
                let path = part.path_for(out);
                let tmp = stage(&path, |file| {
                    let mut w = std::io::BufWriter::new(file);
                    csv::write_part(report, part, &mut w, &mut ticker).map_err(|e| e.at(&path))?;
                    w.flush().map_err(|source| ExportError::Io {
                        path: path.clone(),
                        source,
                    })
                })?;
                staged.push((tmp, path));
            }
            // The companions first: the main file appearing means all are there.
            staged.rotate_left(1);
            for (tmp, path) in staged {
                commit(tmp, &path)?;
            }
            ticker.finish();
            Ok(())
        }
        Format::Xlsx => {
            let bytes = xlsx_bytes(report, progress).map_err(|e| e.at(out))?;
            let tmp = stage(out, |mut file| {
                file.write_all(&bytes).map_err(|source| ExportError::Io {
                    path: out.to_path_buf(),
                    source,
                })
            })?;
            commit(tmp, out)
        }
    }
}

/// A complete, synced temporary file in `out`'s directory, with `out`'s
/// permissions when it exists, filled by `fill`.
fn stage(
    out: &Path,
    fill: impl FnOnce(&std::fs::File) -> Result<(), ExportError>,
) -> Result<tempfile::NamedTempFile, ExportError> {
    let io_err = |source| ExportError::Io {
        path: out.to_path_buf(),
        source,
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".printscout-export-").suffix(".tmp");
    #[cfg(unix)]
    let default_mode = {
        use std::os::unix::fs::PermissionsExt;
        // As `File::create` would: 0o666 less the umask (tempfile's default is 0o600).
        std::fs::Permissions::from_mode(0o666)
    };
    #[cfg(unix)]
    builder.permissions(default_mode);
    let tmp = builder.tempfile_in(dir).map_err(io_err)?;
    fill(tmp.as_file())?;
    if let Ok(meta) = std::fs::metadata(out) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    Ok(tmp)
}

/// Rename a staged file over `out` and make the rename durable.
fn commit(tmp: tempfile::NamedTempFile, out: &Path) -> Result<(), ExportError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tmp.persist(out).map_err(|e| ExportError::Io {
        path: out.to_path_buf(),
        source: e.error,
    })?;
    // Make the rename itself durable. Best effort: the report is complete
    // and in place already; a directory that cannot be opened or synced
    // (some platforms and file systems) is not a failed export.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
