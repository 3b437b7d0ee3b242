//! The meter report as plain data: what the store hands to the CSV and Excel
//! writers. Times are already in the zone the reader wants (the caller picks
//! local time); usage is already computed and never negative.
//!
//! 3D printers add [`MeterReport::jobs`] and [`MeterReport::utilisation`]
//! (built by [`super::jobs_section`]); both are empty for a fleet without
//! 3D printers, and then nothing about jobs is written at all
//! ([`MeterReport::has_jobs`]).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};

/// Everything one export contains.
#[derive(Clone, Debug, Default)]
pub struct MeterReport {
    /// When the report was made.
    pub generated_at: Option<DateTime<FixedOffset>>,
    /// Start of the period (inclusive); `None` = from the first reading.
    pub from: Option<DateTime<FixedOffset>>,
    /// End of the period (exclusive); `None` = up to now.
    pub to: Option<DateTime<FixedOffset>>,
    /// Counter keys in column order (`total` first, then the others by name).
    pub counter_keys: Vec<String>,
    /// One row per device.
    pub devices: Vec<DeviceRow>,
    /// Current supply levels, one row per supply of every device.
    pub supplies: Vec<SupplyRow>,
    /// Events in the period, oldest first.
    pub events: Vec<EventRow>,
    /// 3D-printer jobs in the period, per machine (in device order), oldest
    /// first. Empty without 3D printers.
    pub jobs: Vec<JobRow>,
    /// 3D-printer use per machine per local day of the period. Empty without
    /// 3D printers.
    pub utilisation: Vec<UtilisationRow>,
}

impl MeterReport {
    /// Whether the report covers 3D printers: then the workbook has the
    /// sheets "Jobs" and "Utilisation" and a CSV export writes the two
    /// companion files (each with its header even when it has no rows).
    /// Without 3D printers neither exists, so such a report is exactly what
    /// it was before 3D printers were supported.
    pub fn has_jobs(&self) -> bool {
        !self.jobs.is_empty() || !self.utilisation.is_empty()
    }
}

/// Where a job record came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JobSource {
    /// Read from the printer's own job history.
    #[default]
    PrinterHistory,
    /// Built by PrintScout from the state changes it saw between polls.
    StateChanges,
}

impl JobSource {
    /// In words, as the report shows it: `printer history` or
    /// `from state changes`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobSource::PrinterHistory => "printer history",
            JobSource::StateChanges => "from state changes",
        }
    }
}

/// One 3D-printer job in the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobRow {
    /// Store id of the machine.
    pub device_id: i64,
    /// Machine name as in [`DeviceRow::name`].
    pub device_name: Option<String>,
    /// Machine model.
    pub model: Option<String>,
    /// Machine serial.
    pub serial: Option<String>,
    /// Job or file name (from the user's file: untrusted text).
    pub name: Option<String>,
    /// When it started (derived from the end and duration when the printer
    /// gave no start).
    pub started_at: Option<DateTime<FixedOffset>>,
    /// When it ended; `None` while it runs (see [`JobRow::running`]) or when
    /// the printer did not say.
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// Still printing when the report was made (no end recorded).
    pub running: bool,
    /// Seconds of printing: the printer's figure, else end − start; for a
    /// running job, the time up to the report's end.
    pub duration_s: Option<i64>,
    /// `completed`, `cancelled`, `failed`, `interrupted`, `running`, or the
    /// printer's own word.
    pub result: Option<String>,
    /// Material used, with its unit.
    pub material: Option<String>,
    /// Where the record came from.
    pub source: JobSource,
    /// Idle seconds since the previous job on this machine ended (0 when
    /// they overlap); `None` for the machine's first known job.
    pub gap_before_s: Option<i64>,
}

/// One machine's use over one local day (the part of it inside the period).
#[derive(Clone, Debug, PartialEq)]
pub struct UtilisationRow {
    /// The local day.
    pub date: NaiveDate,
    /// Store id of the machine.
    pub device_id: i64,
    /// Machine name as in [`DeviceRow::name`].
    pub device_name: Option<String>,
    /// Machine model.
    pub model: Option<String>,
    /// Machine serial.
    pub serial: Option<String>,
    /// Seconds of this day inside the report's period (86,400 for a whole
    /// day; 82,800 or 90,000 on a daylight-saving change; less on the
    /// period's first and last day).
    pub period_s: i64,
    /// Seconds printing (job start to end, clipped to the day; jobs that
    /// overlap are counted once).
    pub printing_s: i64,
    /// Jobs that started this day.
    pub jobs_started: u32,
    /// Jobs that ended this day as completed.
    pub completed: u32,
    /// Jobs that ended this day as failed, cancelled or interrupted.
    pub failed_or_cancelled: u32,
    /// Idle stretches between two jobs that fall (partly) in this day.
    pub gaps: u32,
    /// Seconds of those stretches within this day.
    pub gaps_total_s: i64,
    /// The longest of them within this day, in seconds.
    pub gaps_longest_s: i64,
}

impl UtilisationRow {
    /// Printing time as a share of [`UtilisationRow::period_s`] (0.0–1.0).
    pub fn utilisation(&self) -> f64 {
        if self.period_s <= 0 {
            0.0
        } else {
            self.printing_s as f64 / self.period_s as f64
        }
    }
}

/// One device in the meter report.
#[derive(Clone, Debug, Default)]
pub struct DeviceRow {
    /// Store id of the device.
    pub device_id: i64,
    /// Name the user gave, else the device's host name.
    pub name: Option<String>,
    /// Maker.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Current address.
    pub address: Option<String>,
    /// Location (user's, else sysLocation).
    pub location: Option<String>,
    /// First meter reading in the period.
    pub first_reading_at: Option<DateTime<FixedOffset>>,
    /// Last meter reading in the period.
    pub last_reading_at: Option<DateTime<FixedOffset>>,
    /// Per counter key: value at both ends and the usage between.
    pub counters: BTreeMap<String, CounterSpan>,
    /// Current supplies in one line, e.g. `Black Toner 45%, Drum 80%`.
    pub supplies_summary: String,
    /// Things the reader must know (a counter that went backwards, no reading
    /// in the period), in words.
    pub notes: Vec<String>,
}

/// One counter over the period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSpan {
    /// Value at the first reading in the period.
    pub first: Option<i64>,
    /// Value at the last reading in the period.
    pub last: Option<i64>,
    /// Pages between them: the sum of forward steps only (a drop counts 0).
    pub usage: Option<i64>,
}

/// One supply's latest level.
#[derive(Clone, Debug, Default)]
pub struct SupplyRow {
    /// Store id of the device.
    pub device_id: i64,
    /// Device name as in [`DeviceRow::name`].
    pub device_name: Option<String>,
    /// Device serial.
    pub serial: Option<String>,
    /// Supply description.
    pub description: String,
    /// Kind (`toner`, `opc`, …).
    pub kind: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Percentage when it is a real one.
    pub percent: Option<f64>,
    /// Raw level (sentinels kept).
    pub level: Option<i64>,
    /// Raw maximum.
    pub max: Option<i64>,
    /// `percent`, `low`, `empty`, `unknown`, … (the reading's state name).
    pub state: String,
    /// When it was read.
    pub read_at: Option<DateTime<FixedOffset>>,
}

/// One event.
#[derive(Clone, Debug, Default)]
pub struct EventRow {
    /// When it happened.
    pub at: Option<DateTime<FixedOffset>>,
    /// Store id of the device, when it is about one.
    pub device_id: Option<i64>,
    /// Device name.
    pub device_name: Option<String>,
    /// Device serial.
    pub serial: Option<String>,
    /// Event kind (`printer_error`, `supply_low`, `offline`, …).
    pub kind: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// What happened, in words.
    pub message: String,
}
