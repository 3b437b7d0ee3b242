//! Ultimaker S-series (S3/S5/S7/S8, UM3/UM3E) over its printer API, `/api/v1`
//! on HTTP 80: one status poll and one history poll. Reads need no key.
//!
//! What it asks (PROTOCOLS.md §7): status poll = `GET /api/v1/system` (guid →
//! [`Identity::uuid`], name, hostname, firmware, variant → model, uptime),
//! `GET /api/v1/printer` (`status`, hotend and bed temperatures) and
//! `GET /api/v1/print_job` (**404 = no job**, an idle printer, not an error);
//! history poll = `GET /api/v1/history/print_jobs?offset=0&count=50`, each job
//! keyed `ultimaker:<uuid>`.
//!
//! State mapping (the printer's words kept in `state_text`: its `status`, and
//! the job's `state` after a colon when they differ, `printing: wait_cleanup`):
//! printer `error` → error; `maintenance`, `booting` → maintenance; otherwise
//! the job's state decides when there is one: `printing`, `pre_print`
//! (heating, levelling), `post_print` (cooling), `resuming`, `aborting`,
//! `sent_to_printer` → printing; `pausing`, `paused` → paused;
//! `wait_cleanup`, `finished`, `aborted` → finished (the plate must be
//! cleared); `wait_user_action` → maintenance (a person must act). With no
//! job (or `none`, `queued`, an unknown job state) the printer's `status`
//! decides: `idle` → idle, `printing` → printing. An unknown `status` word is
//! shown as idle, kept verbatim, with a note in the reading.
//!
//! Times: Ultimaker's datetimes are naive (`2020-10-25T19:20:16`, printer
//! local time, no zone). They are **taken as UTC**; a printer whose clock is
//! set to another zone is off by that offset. A datetime with a zone or `Z`
//! is honoured.
//!
//! Invariants: odd JSON (missing fields, wrong types, huge numbers) gives a
//! partial reading or skips one history entry; only a `/api/v1/printer`
//! without a `status` string, or an answer that is not JSON, is
//! [`FabError::BadResponse`]. Nothing panics on a printer's answer.

use super::json::{number, seconds, text};
use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

use super::http::Http;
use super::{
    CurrentJob, FabError, FabOptions, FabState, FabStatus, FabTarget, History, JobRecord,
    Temperature, normalise_result,
};
use crate::printer::model::{Identity, Reading};

const SYSTEM: &str = "api/v1/system";
const PRINTER: &str = "api/v1/printer";
const PRINT_JOB: &str = "api/v1/print_job";
/// The history page asked for (the newest 50 jobs).
pub const HISTORY: &str = "api/v1/history/print_jobs?offset=0&count=50";

/// Reads identity and status (one status poll).
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let mut http = Http::new(target, options.timeout, None)?;
    let what = target.protocol.secret_name();
    let mut notes = Vec::new();

    let mut identity = Identity {
        vendor: Some("Ultimaker".into()),
        ..Identity::default()
    };
    let answer = http.get(SYSTEM).await?;
    match answer.status {
        200 => match http.parse::<Value>(&answer.body, SYSTEM) {
            Ok(v) => apply_system(&mut identity, &v),
            Err(e) => notes.push(e.to_string()),
        },
        401 | 403 => http.expect_ok(&answer, SYSTEM, what)?,
        s => notes.push(format!("/{SYSTEM} answered HTTP {s}: identity is partial")),
    }

    let printer: Value = http.get_json(PRINTER, what).await?;
    let word = printer
        .get("status")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| FabError::BadResponse {
            target: http.target().to_owned(),
            message: format!("the answer to /{PRINTER} has no status"),
        })?;

    let answer = http.get(PRINT_JOB).await?;
    let job_json = match answer.status {
        // No job: an idle printer, by design.
        404 | 204 => None,
        200 => match http.parse::<Value>(&answer.body, PRINT_JOB) {
            Ok(v) if v.is_object() => Some(v),
            Ok(_) => {
                notes.push(format!("/{PRINT_JOB} is not an object; job unknown"));
                None
            }
            Err(e) => {
                notes.push(e.to_string());
                None
            }
        },
        _ => {
            http.expect_ok(&answer, PRINT_JOB, what)?;
            None
        }
    };
    let job_state = job_json
        .as_ref()
        .and_then(|j| text(j.get("state")))
        .filter(|s| !s.eq_ignore_ascii_case("none"));
    let job = job_json.as_ref().map(current_job);

    let (state, known) = state_of(&word, job_state.as_deref());
    if !known {
        notes.push(format!(
            "Ultimaker status {word:?} is not one this version knows; shown as idle"
        ));
    }
    let state_text = match &job_state {
        Some(js) if !js.eq_ignore_ascii_case(&word) => format!("{word}: {js}"),
        _ => word.clone(),
    };
    let status = FabStatus {
        state,
        state_text,
        job,
        temperatures: temperatures(&printer),
        errors: Vec::new(),
    };
    let mut reading = super::build_reading(target, identity, status, http.stats.clone());
    reading.notes.extend(notes);
    Ok(reading)
}

/// Reads the printer's job history (one history poll): the newest 50 jobs.
pub async fn history(target: &FabTarget, options: &FabOptions) -> Result<History, FabError> {
    let mut http = Http::new(target, options.timeout, None)?;
    let list: Value = http
        .get_json(HISTORY, target.protocol.secret_name())
        .await?;
    let Value::Array(items) = list else {
        return Err(FabError::BadResponse {
            target: http.target().to_owned(),
            message: "the answer to /api/v1/history/print_jobs is not a list".into(),
        });
    };
    let jobs = items.iter().filter_map(job_record).collect();
    Ok(History {
        jobs,
        stats: http.stats.clone(),
    })
}

/// The common state for the printer's `status` and the job's `state`, and
/// whether the printer's word was known.
pub fn state_of(status: &str, job_state: Option<&str>) -> (FabState, bool) {
    let status = status.trim().to_ascii_lowercase();
    match status.as_str() {
        "error" => return (FabState::Error, true),
        "maintenance" | "booting" => return (FabState::Maintenance, true),
        _ => {}
    }
    let from_job = job_state.and_then(|js| {
        Some(match js.trim().to_ascii_lowercase().as_str() {
            "printing" | "pre_print" | "post_print" | "resuming" | "aborting"
            | "sent_to_printer" => FabState::Printing,
            "pausing" | "paused" => FabState::Paused,
            "wait_cleanup" | "finished" | "aborted" => FabState::Finished,
            "wait_user_action" => FabState::Maintenance,
            _ => return None,
        })
    });
    match (status.as_str(), from_job) {
        ("idle" | "printing", Some(s)) => (s, true),
        ("idle", None) => (FabState::Idle, true),
        ("printing", None) => (FabState::Printing, true),
        (_, Some(s)) => (s, false),
        (_, None) => (FabState::Idle, false),
    }
}

fn apply_system(identity: &mut Identity, v: &Value) {
    identity.uuid = text(v.get("guid")).map(|g| g.to_ascii_lowercase());
    identity.info = text(v.get("name"));
    identity.hostname = text(v.get("hostname"));
    identity.firmware = text(v.get("firmware"));
    identity.model = text(v.get("variant"));
    identity.uptime_seconds = seconds(v.get("uptime"));
    if let Some(hw) = v.get("hardware") {
        let typeid = text(hw.get("typeid"));
        let revision = text(hw.get("revision"));
        if typeid.is_some() || revision.is_some() {
            identity.description = Some(format!(
                "Ultimaker hardware type {} revision {}",
                typeid.as_deref().unwrap_or("?"),
                revision.as_deref().unwrap_or("?")
            ));
        }
    }
}

fn current_job(j: &Value) -> CurrentJob {
    let elapsed = seconds(j.get("time_elapsed"));
    let total = seconds(j.get("time_total"));
    CurrentJob {
        id: text(j.get("uuid")),
        name: text(j.get("name")),
        progress_percent: number(j.get("progress")).map(|p| (p * 100.0).clamp(0.0, 100.0)),
        elapsed_s: elapsed,
        remaining_s: match (total, elapsed) {
            (Some(t), Some(e)) => Some(t.saturating_sub(e)),
            _ => None,
        },
        started_at: text(j.get("datetime_started")).and_then(|d| unix_time(&d)),
        material: None,
    }
}

/// One history entry as a [`JobRecord`]; `None` for an entry that names
/// nothing (no uuid, no name and no start).
fn job_record(item: &Value) -> Option<JobRecord> {
    if !item.is_object() {
        return None;
    }
    let uuid = text(item.get("uuid"));
    let name = text(item.get("name"));
    let started_text = text(item.get("datetime_started"));
    let started_at = started_text.as_deref().and_then(unix_time);
    let duration_s = seconds(item.get("time_elapsed"));
    let raw_result = text(item.get("result"));
    let mut ended_at = text(item.get("datetime_finished")).and_then(|d| unix_time(&d));
    if ended_at.is_none()
        && raw_result.is_some()
        && let (Some(s), Some(d)) = (started_at, duration_s)
    {
        ended_at = i64::try_from(d).ok().and_then(|d| s.checked_add(d));
    }
    let result = match &raw_result {
        Some(r) => normalise_result(r),
        None if ended_at.is_none() => "in_progress".to_owned(),
        None => "unknown".to_owned(),
    };
    let key = match (&uuid, &name, &started_text) {
        (Some(u), _, _) => format!("ultimaker:{}", u.to_ascii_lowercase()),
        (None, None, None) => return None,
        (None, n, s) => format!(
            "ultimaker:{}:{}",
            n.as_deref().unwrap_or(""),
            s.as_deref().unwrap_or("")
        ),
    };
    Some(JobRecord {
        key,
        name,
        started_at,
        ended_at,
        duration_s,
        result,
        material: None,
        synthesised: false,
    })
}

fn temperatures(printer: &Value) -> Vec<Temperature> {
    let mut out = Vec::new();
    let heads = printer
        .get("heads")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut n = 0usize;
    for head in heads {
        let extruders = head
            .get("extruders")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for extruder in extruders {
            let t = extruder.get("hotend").and_then(|h| h.get("temperature"));
            out.push(Temperature {
                name: format!("extruder{n}"),
                actual: t.and_then(|t| number(t.get("current"))),
                target: t.and_then(|t| number(t.get("target"))),
            });
            n += 1;
        }
    }
    if let Some(t) = printer.get("bed").and_then(|b| b.get("temperature")) {
        let (actual, target) = (number(t.get("current")), number(t.get("target")));
        if actual.is_some() || target.is_some() {
            out.push(Temperature {
                name: "bed".into(),
                actual,
                target,
            });
        }
    }
    out
}

/// Unix seconds from an Ultimaker datetime: naive ones are taken as UTC.
pub fn unix_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .map(|n| n.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn naive_datetimes_are_taken_as_utc_and_zoned_ones_honoured() {
        assert_eq!(unix_time("2020-10-25T19:20:16"), Some(1_603_653_616));
        assert_eq!(unix_time("2020-10-25T19:20:16.5"), Some(1_603_653_616));
        assert_eq!(unix_time("2020-10-25T21:20:16+02:00"), Some(1_603_653_616));
        assert_eq!(unix_time("yesterday"), None);
    }

    #[test]
    fn the_job_state_decides_while_the_printer_prints() {
        assert_eq!(
            state_of("printing", Some("wait_cleanup")),
            (FabState::Finished, true)
        );
        assert_eq!(
            state_of("printing", Some("pre_print")),
            (FabState::Printing, true)
        );
        assert_eq!(state_of("idle", None), (FabState::Idle, true));
        assert_eq!(state_of("error", Some("printing")), (FabState::Error, true));
        assert_eq!(state_of("levitating", None), (FabState::Idle, false));
    }

    #[test]
    fn a_history_entry_without_uuid_is_keyed_by_name_and_start_and_an_empty_one_skipped() {
        let r = job_record(&json!({"name": "x", "datetime_started": "2021-01-01T00:00:00"}))
            .expect("a record");
        assert_eq!(r.key, "ultimaker:x:2021-01-01T00:00:00");
        assert_eq!(r.result, "in_progress");
        assert!(job_record(&json!({"result": "Finished"})).is_none());
        assert!(job_record(&json!(42)).is_none());
    }
}
