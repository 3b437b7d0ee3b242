//! 3D-printer jobs in the meter report: turns the stored `jobs` rows of each
//! machine into the report's job list (with the idle gap before each job) and
//! its utilisation per machine per local day.
//!
//! Owns: how a stored job is placed in time, which jobs a period shows, and
//! the per-day arithmetic (printing time, jobs started / completed / failed,
//! gaps between jobs).
//!
//! Invariants:
//! - A job's interval is start → end. A missing start is the end minus the
//!   duration; a finished job without an end ends at start + duration (or at
//!   its start when the duration is unknown too). A job with neither start
//!   nor end cannot be placed and is left out.
//! - A job with no end whose result is empty or `in_progress` is running: it
//!   counts up to the report's end (the period's end, or now when that is
//!   earlier), but never past the start of a later job on the same machine
//!   (a later job proves the record stale).
//! - A job is listed when it overlaps `[from, to)`; days are the local days
//!   (in the given zone, daylight-saving aware) of the period, each clipped
//!   to the period, so per day printing + gaps never exceed the day's time in
//!   the period. Overlapping jobs of one machine count once.
//! - Nothing here panics on any stored value (negative or huge numbers,
//!   times out of range, end before start).

use std::collections::BTreeMap;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone};

use super::{JobRow, JobSource, UtilisationRow};
use crate::printer::fab::normalise_result;

/// Longest run of days the utilisation lists for one machine (ten years):
/// only reached by an open period over garbage start times.
const MAX_DAYS: u64 = 3_660;

/// One row of the store's `jobs` table, times in ms since the epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredJob {
    /// Store id of the machine.
    pub device_id: i64,
    /// The job's key, unique per machine (orders jobs that start together).
    pub job_key: String,
    /// Job or file name.
    pub name: Option<String>,
    /// Start (ms), when known.
    pub started_at: Option<i64>,
    /// End (ms); `None` while it runs.
    pub ended_at: Option<i64>,
    /// Seconds of printing, when known.
    pub duration_s: Option<i64>,
    /// The result word (see [`normalise_result`]).
    pub result: Option<String>,
    /// Material used, with its unit.
    pub material: Option<String>,
    /// Built from state changes rather than read from the printer's history.
    pub synthesised: bool,
}

/// A machine the jobs section covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// Store id.
    pub device_id: i64,
    /// Display name.
    pub name: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
}

/// A stored job placed in time.
struct Placed<'a> {
    job: &'a StoredJob,
    start: i64,
    /// The end the record gives (or start + duration); `None` while running
    /// or when neither is known.
    end: Option<i64>,
    /// The end used for time sums: `end`, or for a running job where it is
    /// counted up to.
    until: i64,
    running: bool,
    result: Option<String>,
}

/// What a result counts as in the utilisation.
fn outcome(result: Option<&str>) -> Option<bool> {
    match result {
        Some("completed") => Some(true),
        Some("failed" | "cancelled" | "interrupted") => Some(false),
        _ => None,
    }
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

fn ms_to_s(ms: i64) -> i64 {
    ms.saturating_add(500).div_euclid(1000)
}

/// The first instant of a local day (midnight, or the first hour that
/// exists where a daylight-saving change skips midnight).
fn day_start<Tz: TimeZone>(tz: &Tz, d: NaiveDate) -> Option<i64> {
    (0..4)
        .filter_map(|h| d.and_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp_millis())
}

fn local_date<Tz: TimeZone>(tz: &Tz, ms: i64) -> Option<NaiveDate> {
    tz.timestamp_millis_opt(ms)
        .earliest()
        .map(|t| t.naive_local().date())
}

/// Place a machine's jobs in time, oldest first; `report_end` is where a
/// running job is counted up to.
fn place<'a>(jobs: &[&'a StoredJob], report_end: i64) -> Vec<Placed<'a>> {
    let mut placed: Vec<Placed<'a>> = jobs
        .iter()
        .filter_map(|&job| {
            let dur_ms = job
                .duration_s
                .filter(|d| *d >= 0)
                .map(|d| d.saturating_mul(1000));
            let result = job
                .result
                .as_deref()
                .map(normalise_result)
                .filter(|r| !r.is_empty());
            let running =
                job.ended_at.is_none() && matches!(result.as_deref(), None | Some("in_progress"));
            let start = job
                .started_at
                .or_else(|| job.ended_at.map(|e| e.saturating_sub(dur_ms.unwrap_or(0))))?;
            let end = if running {
                None
            } else {
                job.ended_at
                    .or_else(|| dur_ms.map(|d| start.saturating_add(d)))
                    .map(|e| e.max(start))
            };
            Some(Placed {
                job,
                start,
                end,
                until: end.unwrap_or(start),
                running,
                result,
            })
        })
        .collect();
    placed.sort_by(|a, b| (a.start, &a.job.job_key).cmp(&(b.start, &b.job.job_key)));
    for i in 0..placed.len() {
        if placed[i].running {
            let next = placed.get(i + 1).map_or(i64::MAX, |n| n.start);
            placed[i].until = report_end.min(next).max(placed[i].start);
        }
    }
    placed
}

/// Build the report's jobs and utilisation from the stored jobs of
/// `machines` (in the order given; jobs of other machines are ignored) for
/// the period `[from, to)` (ms, `None` = open; an open start begins at the
/// first job shown), `now` being when the report is made, days and times in
/// `tz`. Pass every job of those machines that started before `to` (earlier
/// ones give the gap before the first job of the period).
pub fn jobs_section<Tz: TimeZone>(
    machines: &[Machine],
    jobs: &[StoredJob],
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
    tz: &Tz,
) -> (Vec<JobRow>, Vec<UtilisationRow>) {
    let show = |ms: i64| -> Option<DateTime<FixedOffset>> {
        tz.timestamp_millis_opt(ms)
            .single()
            .map(|d| d.fixed_offset())
    };
    let report_end = to.map_or(now, |t| t.min(now));
    let upper = to.unwrap_or(i64::MAX);
    let mut by_machine: BTreeMap<i64, Vec<&StoredJob>> = BTreeMap::new();
    for j in jobs {
        by_machine.entry(j.device_id).or_default().push(j);
    }

    let mut rows = Vec::new();
    let mut per_machine = Vec::new();
    for m in machines {
        let mine = by_machine.get(&m.device_id).map_or(&[][..], Vec::as_slice);
        let placed = place(mine, report_end);
        let mut prev_until: Option<i64> = None;
        for p in &placed {
            let gap = prev_until.map(|u| ms_to_s(p.start.saturating_sub(u).max(0)));
            prev_until = Some(prev_until.map_or(p.until, |u| u.max(p.until)));
            let shown = p.start < upper && from.is_none_or(|f| p.until > f || p.start >= f);
            if !shown {
                continue;
            }
            rows.push(JobRow {
                device_id: m.device_id,
                device_name: m.name.clone(),
                model: m.model.clone(),
                serial: m.serial.clone(),
                name: p.job.name.clone(),
                started_at: show(p.start),
                ended_at: p.end.and_then(show),
                running: p.running,
                duration_s: p
                    .job
                    .duration_s
                    .or_else(|| (p.running || p.end.is_some()).then(|| ms_to_s(p.until - p.start))),
                result: if p.running {
                    Some("running".to_owned())
                } else {
                    p.result.clone()
                },
                material: p.job.material.clone(),
                source: if p.job.synthesised {
                    JobSource::StateChanges
                } else {
                    JobSource::PrinterHistory
                },
                gap_before_s: gap,
            });
        }
        per_machine.push((m, placed));
    }

    // The period the days cover: an open start begins at the first job shown.
    let first_shown = rows
        .iter()
        .filter_map(|r| r.started_at.map(|t| t.timestamp_millis()))
        .min();
    let Some(period_start) = from.or(first_shown) else {
        return (rows, Vec::new());
    };
    let period_end = report_end;
    let (Some(first_day), Some(last_day)) = (
        local_date(tz, period_start),
        local_date(tz, period_end.saturating_sub(1)),
    ) else {
        return (rows, Vec::new());
    };
    if period_end <= period_start {
        return (rows, Vec::new());
    }
    let first_day = first_day.max(
        last_day
            .checked_sub_days(Days::new(MAX_DAYS))
            .unwrap_or(first_day),
    );

    let mut utilisation = Vec::new();
    for (m, placed) in per_machine {
        let placed: Vec<&Placed<'_>> = placed.iter().filter(|p| p.start < upper).collect();
        // Printing intervals, merged so overlapping jobs count once.
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for p in &placed {
            if p.until <= p.start {
                continue;
            }
            match merged.last_mut() {
                Some(last) if p.start <= last.1 => last.1 = last.1.max(p.until),
                _ => merged.push((p.start, p.until)),
            }
        }
        let gaps: Vec<(i64, i64)> = merged.windows(2).map(|w| (w[0].1, w[1].0)).collect();
        let mut day = first_day;
        while day <= last_day {
            let next = day.succ_opt();
            let (Some(ds), Some(de)) = (day_start(tz, day), next.and_then(|n| day_start(tz, n)))
            else {
                break;
            };
            let window = (ds.max(period_start), de.min(period_end));
            if window.1 > window.0 {
                let in_window = |t: i64| t >= window.0 && t < window.1;
                let mut row = UtilisationRow {
                    date: day,
                    device_id: m.device_id,
                    device_name: m.name.clone(),
                    model: m.model.clone(),
                    serial: m.serial.clone(),
                    period_s: ms_to_s(window.1 - window.0),
                    printing_s: ms_to_s(merged.iter().map(|&iv| overlap(iv, window)).sum()),
                    jobs_started: 0,
                    completed: 0,
                    failed_or_cancelled: 0,
                    gaps: 0,
                    gaps_total_s: 0,
                    gaps_longest_s: 0,
                };
                for p in &placed {
                    if in_window(p.start) {
                        row.jobs_started += 1;
                    }
                    if !p.running && in_window(p.end.unwrap_or(p.start)) {
                        match outcome(p.result.as_deref()) {
                            Some(true) => row.completed += 1,
                            Some(false) => row.failed_or_cancelled += 1,
                            None => {}
                        }
                    }
                }
                let mut total = 0;
                for &g in &gaps {
                    let o = overlap(g, window);
                    if o > 0 {
                        row.gaps += 1;
                        total += o;
                        row.gaps_longest_s = row.gaps_longest_s.max(ms_to_s(o));
                    }
                }
                row.gaps_total_s = ms_to_s(total);
                utilisation.push(row);
            }
            match next {
                Some(n) => day = n,
                None => break,
            }
        }
    }
    (rows, utilisation)
}
