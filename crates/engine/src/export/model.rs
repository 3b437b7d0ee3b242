//! The meter report as plain data: what the store hands to the CSV and Excel
//! writers. Times are already in the zone the reader wants (the caller picks
//! local time); usage is already computed and never negative.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

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
