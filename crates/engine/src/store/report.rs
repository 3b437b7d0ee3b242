//! Reading the time series back: a device's history (counters and supplies
//! at each read, carried forward where the store kept only changes) and the
//! meter report that dealers bill from.
//!
//! Invariants: a NULL counters/supplies column means "same as the read
//! before" and is carried forward per key; a key missing from a read keeps its
//! last known value (a partial read is never zero); usage is the sum of
//! forward steps between consecutive reads in the period ([`crate::events::step`]),
//! so a counter that went backwards never makes usage negative.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, TimeZone};
use rusqlite::params;
use serde::Serialize;

use super::{DeviceRecord, Store, StoreError};
use crate::events::step;
use crate::export::{
    CounterSpan, DeviceRow, EventRow, JobRow, Machine, MeterReport, StoredJob, SupplyRow,
    UtilisationRow, jobs_section,
};

/// A stored integer however SQLite typed it (a REAL or numeric TEXT is
/// accepted, anything else is unknown).
fn loose_int(v: rusqlite::types::ValueRef<'_>) -> Option<i64> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) if f.is_finite() => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A stored text however SQLite typed it (numbers as digits).
fn loose_text(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    }
}

/// Counters and supplies at one full read.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryPoint {
    /// Meter reading id.
    pub reading_id: i64,
    /// When (ms since epoch).
    pub at: i64,
    /// Every counter known at that read (carried forward).
    pub counters: BTreeMap<String, i64>,
    /// Supplies at that read (short keys: d description, k kind, c colour,
    /// l level, m max, p percent, s state, r receptacle).
    pub supplies: serde_json::Value,
    /// Counters that went backwards at this read.
    pub regressed: Vec<String>,
}

/// A change of status.
#[derive(Clone, Debug, Serialize)]
pub struct StatusChange {
    /// When (ms).
    pub at: i64,
    /// `ok`, `warning`, `error`, `unknown`.
    pub status: String,
    /// Device and printer status, errors and alerts.
    pub detail: serde_json::Value,
}

/// A device's history.
#[derive(Clone, Debug, Serialize)]
pub struct History {
    /// The device.
    pub device: DeviceRecord,
    /// Addresses it has had: (address, first seen, last seen), newest first.
    pub addresses: Vec<(String, i64, i64)>,
    /// Full reads, oldest first.
    pub readings: Vec<HistoryPoint>,
    /// Status changes, oldest first.
    pub status: Vec<StatusChange>,
    /// Events, newest first.
    pub events: Vec<crate::events::Event>,
}

struct Row {
    id: i64,
    at: i64,
    counters: Option<BTreeMap<String, i64>>,
    supplies: Option<serde_json::Value>,
    regressed: Vec<String>,
}

impl Store {
    fn meter_rows(&self, device_id: i64, to: Option<i64>) -> Result<Vec<Row>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, at, counters, supplies, regressed FROM meter_readings
             WHERE device_id = ?1 AND at < ?2 ORDER BY at, id",
        )?;
        let rows = st.query_map(params![device_id, to.unwrap_or(i64::MAX)], |r| {
            Ok(Row {
                id: r.get(0)?,
                at: r.get(1)?,
                counters: r
                    .get::<_, Option<String>>(2)?
                    .and_then(|t| serde_json::from_str(&t).ok()),
                supplies: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|t| serde_json::from_str(&t).ok()),
                regressed: r
                    .get::<_, Option<String>>(4)?
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Full reads of a device in `[from, to)` (ms), with carried-forward values.
    pub fn readings(
        &self,
        device_id: i64,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<HistoryPoint>, StoreError> {
        let mut counters = BTreeMap::new();
        let mut supplies = serde_json::Value::Array(vec![]);
        let mut out = Vec::new();
        for row in self.meter_rows(device_id, to)? {
            if let Some(c) = row.counters {
                counters.extend(c);
            }
            if let Some(s) = row.supplies {
                supplies = s;
            }
            if from.is_none_or(|f| row.at >= f) {
                out.push(HistoryPoint {
                    reading_id: row.id,
                    at: row.at,
                    counters: counters.clone(),
                    supplies: supplies.clone(),
                    regressed: row.regressed,
                });
            }
        }
        Ok(out)
    }

    /// Everything known about one device's past.
    pub fn history(
        &self,
        device_id: i64,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<History, StoreError> {
        let device = self
            .device(device_id)?
            .ok_or_else(|| StoreError::NoDevice(device_id.to_string()))?;
        let mut st = self.conn.prepare(
            "SELECT at, status, detail FROM status_changes WHERE device_id = ?1 AND at >= ?2 AND at < ?3 ORDER BY at, id",
        )?;
        let status = st
            .query_map(
                params![device_id, from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |r| {
                    Ok(StatusChange {
                        at: r.get(0)?,
                        status: r.get(1)?,
                        detail: r
                            .get::<_, String>(2)
                            .ok()
                            .and_then(|t| serde_json::from_str(&t).ok())
                            .unwrap_or_default(),
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        Ok(History {
            addresses: self.addresses(device_id)?,
            readings: self.readings(device_id, from, to)?,
            status,
            events: self.device_events(device_id, 200)?,
            device,
        })
    }

    /// The meter report for `[from, to)` (ms; `None` = open), times shown in
    /// `tz`. `progress(done, total)` is called once per device.
    pub fn meter_report<Tz: TimeZone>(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        tz: &Tz,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<MeterReport, StoreError> {
        let show = |ms: i64| -> Option<DateTime<FixedOffset>> {
            tz.timestamp_millis_opt(ms)
                .single()
                .map(|d| d.fixed_offset())
        };
        let devices = self.devices(true)?;
        let total = devices.len();
        let mut keys = BTreeSet::new();
        let mut rows = Vec::new();
        let mut supplies = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            progress(i, total);
            let mut row = DeviceRow {
                device_id: d.id,
                name: Some(d.display_name()),
                vendor: d.vendor.clone(),
                model: d.model.clone(),
                serial: d.serial.clone(),
                address: d.address.clone(),
                location: d.shown_location(),
                ..DeviceRow::default()
            };
            let mut carried: BTreeMap<String, i64> = BTreeMap::new();
            let mut latest_supplies: Option<(i64, serde_json::Value)> = None;
            let mut prev_in_period: Option<BTreeMap<String, i64>> = None;
            let mut spans: BTreeMap<String, CounterSpan> = BTreeMap::new();
            for r in self.meter_rows(d.id, to)? {
                if let Some(c) = r.counters {
                    carried.extend(c);
                }
                if let Some(s) = r.supplies {
                    latest_supplies = Some((r.at, s));
                }
                if from.is_some_and(|f| r.at < f) {
                    continue;
                }
                if row.first_reading_at.is_none() {
                    row.first_reading_at = show(r.at);
                }
                row.last_reading_at = show(r.at);
                for k in &r.regressed {
                    let (before, after) = (
                        prev_in_period.as_ref().and_then(|p| p.get(k)).copied(),
                        carried.get(k).copied(),
                    );
                    row.notes.push(format!(
                        "counter {k} went backwards on {}{}; usage counts only forward steps",
                        show(r.at)
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default(),
                        match (before, after) {
                            (Some(b), Some(a)) => format!(" (from {b} to {a})"),
                            _ => String::new(),
                        }
                    ));
                }
                for (k, &v) in &carried {
                    let span = spans.entry(k.clone()).or_default();
                    if span.first.is_none() {
                        span.first = Some(v);
                        span.usage = Some(0);
                    } else if let Some(prev) = prev_in_period.as_ref().and_then(|p| p.get(k)) {
                        span.usage = Some(span.usage.unwrap_or(0) + step(*prev, v).pages());
                    }
                    span.last = Some(v);
                }
                prev_in_period = Some(carried.clone());
            }
            if row.first_reading_at.is_none() {
                row.notes.push("no reading in this period".into());
            }
            if d.removed {
                row.notes.push("removed from monitoring".into());
            }
            keys.extend(spans.keys().cloned());
            row.counters = spans;
            if let Some((at, serde_json::Value::Array(list))) = latest_supplies {
                let mut summary = Vec::new();
                for s in list {
                    let text = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    let num = |k: &str| s.get(k).and_then(serde_json::Value::as_i64);
                    let percent = s.get("p").and_then(serde_json::Value::as_f64);
                    let description = text("d").unwrap_or_default();
                    let state = text("s").unwrap_or_else(|| "unknown".into());
                    summary.push(match percent {
                        Some(p) => format!("{description} {p:.0}%"),
                        None => format!("{description} {}", state.replace('_', " ")),
                    });
                    supplies.push(SupplyRow {
                        device_id: d.id,
                        device_name: row.name.clone(),
                        serial: d.serial.clone(),
                        description,
                        kind: text("k"),
                        color: text("c"),
                        percent,
                        level: num("l"),
                        max: num("m"),
                        state,
                        read_at: show(at),
                    });
                }
                row.supplies_summary = summary.join(", ");
            }
            // Removed devices with nothing in the period are left out.
            if !(d.removed && row.first_reading_at.is_none()) {
                rows.push(row);
            }
        }
        progress(total, total);
        let mut counter_keys: Vec<String> = keys.into_iter().collect();
        if let Some(i) = counter_keys.iter().position(|k| k == "total") {
            let t = counter_keys.remove(i);
            counter_keys.insert(0, t);
        }
        let names: BTreeMap<i64, (String, Option<String>)> = devices
            .iter()
            .map(|d| (d.id, (d.display_name(), d.serial.clone())))
            .collect();
        let mut st = self.conn.prepare(
            "SELECT at, device_id, kind, severity, message FROM events WHERE at >= ?1 AND at < ?2 ORDER BY at, id",
        )?;
        let events = st
            .query_map(
                params![from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |r| {
                    let device_id: Option<i64> = r.get(1)?;
                    let (device_name, serial) = device_id
                        .and_then(|id| names.get(&id).cloned())
                        .map(|(n, s)| (Some(n), s))
                        .unwrap_or((None, None));
                    Ok(EventRow {
                        at: show(r.get(0)?),
                        device_id,
                        device_name,
                        serial,
                        kind: r.get(2)?,
                        severity: r.get(3)?,
                        message: r.get(4)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        let now = super::now_ms();
        let (jobs, utilisation) = self.jobs_report(&devices, from, to, now, tz)?;
        Ok(MeterReport {
            generated_at: show(now),
            from: from.and_then(show),
            to: to.and_then(show),
            counter_keys,
            devices: rows,
            supplies,
            events,
            jobs,
            utilisation,
        })
    }

    /// The 3D-printer part of the meter report for `[from, to)` (ms), made
    /// at `now`: the jobs of every 3D printer (`device_kind = '3d_printer'`
    /// or a 3D-printer protocol) and of any other device that has jobs, and
    /// their utilisation per local day in `tz` (see
    /// [`crate::export::jobs_section`]). A removed machine appears only with
    /// jobs in the period. Both lists are empty without 3D printers.
    pub fn jobs_report<Tz: TimeZone>(
        &self,
        devices: &[DeviceRecord],
        from: Option<i64>,
        to: Option<i64>,
        now: i64,
        tz: &Tz,
    ) -> Result<(Vec<JobRow>, Vec<UtilisationRow>), StoreError> {
        let mut st = self.conn.prepare(
            "SELECT device_id, job_key, name, started_at, ended_at, duration_s, result, material,
                    synthesised
             FROM jobs WHERE started_at IS NULL OR started_at < ?1
             ORDER BY device_id, started_at, job_key",
        )?;
        let stored: Vec<StoredJob> = st
            .query_map(params![to.unwrap_or(i64::MAX)], stored_job)?
            .collect::<Result<_, _>>()?;
        let with_jobs: BTreeSet<i64> = stored.iter().map(|j| j.device_id).collect();
        let is_fab = DeviceRecord::is_3d_printer;
        let machines: Vec<Machine> = devices
            .iter()
            .filter(|d| (is_fab(d) && !d.removed) || with_jobs.contains(&d.id))
            .map(|d| Machine {
                device_id: d.id,
                name: Some(d.display_name()),
                model: d.model.clone(),
                serial: d.serial.clone(),
            })
            .collect();
        if machines.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (jobs, mut utilisation) = jobs_section(&machines, &stored, from, to, now, tz);
        // Removed machines, and other devices, only with jobs in the period.
        let listed: BTreeSet<i64> = jobs.iter().map(|j| j.device_id).collect();
        let kept: BTreeSet<i64> = devices
            .iter()
            .filter(|d| (is_fab(d) && !d.removed) || listed.contains(&d.id))
            .map(|d| d.id)
            .collect();
        utilisation.retain(|u| kept.contains(&u.device_id));
        Ok((jobs, utilisation))
    }

    /// A device's latest `limit` jobs, newest first (by start, else end).
    pub fn device_jobs(&self, device_id: i64, limit: u32) -> Result<Vec<StoredJob>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT device_id, job_key, name, started_at, ended_at, duration_s, result, material,
                    synthesised
             FROM jobs WHERE device_id = ?1
             ORDER BY coalesce(started_at, ended_at, 0) DESC, id DESC LIMIT ?2",
        )?;
        let jobs = st
            .query_map(params![device_id, i64::from(limit)], stored_job)?
            .collect::<Result<_, _>>()?;
        Ok(jobs)
    }
}

/// One `jobs` row (columns as both queries above select them), read loosely:
/// a value of an odd type is "not known", never an error.
fn stored_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredJob> {
    Ok(StoredJob {
        device_id: r.get(0)?,
        job_key: loose_text(r.get_ref(1)?).unwrap_or_default(),
        name: loose_text(r.get_ref(2)?),
        started_at: loose_int(r.get_ref(3)?),
        ended_at: loose_int(r.get_ref(4)?),
        duration_s: loose_int(r.get_ref(5)?),
        result: loose_text(r.get_ref(6)?),
        material: loose_text(r.get_ref(7)?),
        synthesised: loose_int(r.get_ref(8)?).is_some_and(|n| n != 0),
    })
}
