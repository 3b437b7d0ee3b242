//! OctoPrint over its REST API (`X-Api-Key`): one status poll ([`read`]) and
//! one history poll ([`history`]), mapped into the shared 3D model.
//!
//! A status poll asks, in order:
//! - `/api/system/info` (admin keys: the server version and the printer's
//!   firmware in one answer); refused (403/401) or absent (404, OctoPrint
//!   before 1.5) → `/api/version` instead, and the firmware is skipped. A
//!   refusal of `/api/version` too is a wrong key: [`FabError::Rejected`];
//! - `/api/printer?exclude=sd`: the state flags, `state.text`, `state.error`
//!   and the temperatures. 409 means the printer is not connected (or dropped
//!   after an error): `/api/job` then says why in words (`Offline`,
//!   `Offline after error`, its `error`);
//! - `/api/job` only while a job is under way (name, progress, elapsed,
//!   remaining). So an idle printer costs two requests, a printing one three.
//!
//! A history poll is one `/api/files?recursive=true`: core OctoPrint keeps no
//! job list, only per-file statistics. Each file's `prints.last` (the server
//! sends `prints`, its documentation says `print`: both are accepted) becomes
//! one [`JobRecord`] keyed `octoprint:<origin>/<path>:<last.date>`; folders are
//! walked, and their own `prints` (an aggregate of their children's) are
//! skipped so no print is counted twice. Two prints of the same file between
//! two history polls show as one (the last).
//!
//! Invariants: the flags decide the state, the printer's words are kept in
//! `state_text`, and an unknown text with no flags is kept and mapped to
//! `maintenance`; nothing a printer sends can panic this module (every field
//! is read leniently from a [`serde_json::Value`]; only a body that is not
//! JSON, or has no state / file list at all, is [`FabError::BadResponse`]);
//! the API key travels only in the sensitive header set by [`Http`].

use super::json::{number, seconds, text};
use serde_json::Value;

use super::http::Http;
use super::{
    CurrentJob, FabError, FabOptions, FabState, FabStatus, FabTarget, History, JobRecord,
    Temperature, build_reading,
};
use crate::printer::model::{Identity, Reading};

/// The header OctoPrint reads the key from (lower case: HTTP/2-safe and
/// what `HeaderName::from_static` requires).
const KEY_HEADER: &str = "x-api-key";
/// What the key is called in errors.
const WHAT: &str = "API key";
/// Deepest folder nesting walked in the file list.
const MAX_FOLDER_DEPTH: usize = 32;

/// Reads identity and status (one status poll: two or three requests with an
/// admin key, one more with a key that may not read `/api/system/info`).
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let mut http = session(target, options)?;
    let identity = read_identity(&mut http).await?;
    let status = read_status(&mut http).await?;
    Ok(build_reading(target, identity, status, http.stats))
}

/// Reads the printer's job history: the last print of every file, newest first.
pub async fn history(target: &FabTarget, options: &FabOptions) -> Result<History, FabError> {
    let mut http = session(target, options)?;
    let path = "api/files?recursive=true";
    let body: Value = http.get_json(path, WHAT).await?;
    let jobs = jobs_from_files(&body).ok_or_else(|| FabError::BadResponse {
        target: http.target().to_owned(),
        message: "the answer to /api/files has no \"files\" list".into(),
    })?;
    Ok(History {
        jobs,
        stats: http.stats,
    })
}

fn session(target: &FabTarget, options: &FabOptions) -> Result<Http, FabError> {
    let key = options.key.as_ref().ok_or_else(|| FabError::NeedsKey {
        target: target.url(),
        what: WHAT.into(),
    })?;
    Http::new(target, options.timeout, Some((KEY_HEADER, key)))
}

async fn read_identity(http: &mut Http) -> Result<Identity, FabError> {
    let path = "api/system/info";
    let answer = http.get(path).await?;
    match answer.status {
        200 => {
            let body: Value = http.parse(&answer.body, path)?;
            if let Some(identity) = identity_from_system_info(&body) {
                return Ok(identity);
            }
        }
        // Not an admin key (or a wrong one: /api/version tells), or an
        // OctoPrint older than the system info API.
        401 | 403 | 404 => {}
        _ => http.expect_ok(&answer, path, WHAT)?,
    }
    let body: Value = http.get_json("api/version", WHAT).await?;
    Ok(identity_from_version(&body))
}

/// Identity from `/api/system/info` (`octoprint.version`, `printer.firmware`);
/// `None` when it does not name the server's version.
fn identity_from_system_info(body: &Value) -> Option<Identity> {
    let info = body.get("systeminfo")?;
    let version = text(info.get("octoprint.version"))?;
    Some(Identity {
        model: Some("OctoPrint".into()),
        firmware: text(info.get("printer.firmware")),
        description: Some(format!("OctoPrint {version}")),
        ..Identity::default()
    })
}

/// Identity from `/api/version` (`text`, else `server`); no firmware.
fn identity_from_version(body: &Value) -> Identity {
    let description = text(body.get("text"))
        .or_else(|| text(body.get("server")).map(|version| format!("OctoPrint {version}")));
    Identity {
        model: Some("OctoPrint".into()),
        description,
        ..Identity::default()
    }
}

async fn read_status(http: &mut Http) -> Result<FabStatus, FabError> {
    let path = "api/printer?exclude=sd";
    let answer = http.get(path).await?;
    match answer.status {
        200 => {
            let body: Value = http.parse(&answer.body, path)?;
            let mut status = status_from_printer(&body).ok_or_else(|| FabError::BadResponse {
                target: http.target().to_owned(),
                message: "the answer to /api/printer has no \"state\"".into(),
            })?;
            if status.state.in_job() {
                let body: Value = http.get_json("api/job", WHAT).await?;
                status.job = job_from(&body);
            }
            Ok(status)
        }
        // "Printer is not operational": disconnected, connecting, or dropped
        // after an error. /api/job still answers, with the state in words.
        409 => {
            let body: Value = http.get_json("api/job", WHAT).await?;
            Ok(status_when_not_operational(&body))
        }
        _ => {
            http.expect_ok(&answer, path, WHAT)?;
            Err(FabError::HttpStatus {
                target: http.target().to_owned(),
                status: answer.status,
                path: "/api/printer".into(),
            })
        }
    }
}

/// The status from `/api/printer`; `None` when it has no `state` object.
fn status_from_printer(body: &Value) -> Option<FabStatus> {
    let state = body.get("state").filter(|s| s.is_object())?;
    let state_text = text(state.get("text")).unwrap_or_default();
    let error = text(state.get("error"));
    let mapped = state_from_flags(state.get("flags"), error.is_some())
        .unwrap_or_else(|| state_from_text(&state_text, error.is_some()));
    let mut errors: Vec<String> = error.into_iter().collect();
    if mapped == FabState::Error && errors.is_empty() && !state_text.is_empty() {
        errors.push(state_text.clone());
    }
    Some(FabStatus {
        state: mapped,
        state_text,
        job: None,
        temperatures: temperatures_from(body.get("temperature")),
        errors,
    })
}

/// The status when `/api/printer` says 409, from `/api/job`'s `state` and `error`.
fn status_when_not_operational(body: &Value) -> FabStatus {
    let state_text = text(body.get("state")).unwrap_or_else(|| "Offline".into());
    let error = text(body.get("error"));
    let mut state = state_from_text(&state_text, error.is_some());
    if state.in_job() || state == FabState::Idle {
        // 409 means not operational, whatever the words: never "printing".
        state = FabState::Offline;
    }
    let mut errors: Vec<String> = error.into_iter().collect();
    if state == FabState::Error && errors.is_empty() {
        errors.push(state_text.clone());
    }
    FabStatus {
        state,
        state_text,
        job: None,
        temperatures: Vec::new(),
        errors,
    }
}

/// The state from `state.flags`; `None` when there are no flags to go by.
fn state_from_flags(flags: Option<&Value>, has_error: bool) -> Option<FabState> {
    let flags = flags?.as_object()?;
    let flag = |name: &str| flags.get(name).and_then(Value::as_bool);
    let on = |name: &str| flag(name) == Some(true);
    let state = if on("error") || (on("closedOrError") && has_error) {
        FabState::Error
    } else if on("paused") || on("pausing") {
        FabState::Paused
    } else if on("printing") || on("cancelling") || on("finishing") || on("resuming") {
        FabState::Printing
    } else if on("closedOrError") {
        FabState::Offline
    } else if on("operational") || on("ready") {
        FabState::Idle
    } else if flag("operational") == Some(false) {
        FabState::Offline
    } else {
        return None;
    };
    Some(state)
}

/// The state from OctoPrint's words (`getStateString`), for answers without flags.
fn state_from_text(text: &str, has_error: bool) -> FabState {
    let lower = text.trim().to_ascii_lowercase();
    if has_error || lower.contains("error") {
        FabState::Error
    } else if lower.starts_with("paus") {
        FabState::Paused
    } else if [
        "printing",
        "starting",
        "sending",
        "cancelling",
        "finishing",
        "resuming",
    ]
    .iter()
    .any(|w| lower.starts_with(w))
    {
        FabState::Printing
    } else if lower.starts_with("operational") {
        FabState::Idle
    } else if ["offline", "closed", "connecting", "opening", "detecting"]
        .iter()
        .any(|w| lower.starts_with(w))
    {
        FabState::Offline
    } else {
        FabState::Maintenance
    }
}

/// Temperatures from `temperature` (`tool0`, `bed`, `chamber`, …): tools
/// first, then the bed, the chamber and anything else by name.
fn temperatures_from(value: Option<&Value>) -> Vec<Temperature> {
    let Some(map) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out: Vec<Temperature> = map
        .iter()
        .filter(|(_, v)| v.is_object())
        .map(|(name, v)| Temperature {
            name: name.clone(),
            actual: number(v.get("actual")),
            target: number(v.get("target")),
        })
        .filter(|t| t.actual.is_some() || t.target.is_some())
        .collect();
    let rank = |name: &str| {
        if name.starts_with("tool") {
            0
        } else if name == "bed" {
            1
        } else if name == "chamber" {
            2
        } else {
            3
        }
    };
    out.sort_by(|a, b| {
        rank(&a.name)
            .cmp(&rank(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// The current job from `/api/job`; `None` when it names no file and no progress.
fn job_from(body: &Value) -> Option<CurrentJob> {
    let file = body.get("job").and_then(|j| j.get("file"));
    let name = file.and_then(|f| text(f.get("display")).or_else(|| text(f.get("name"))));
    let progress = body.get("progress");
    let progress_percent =
        number(progress.and_then(|p| p.get("completion"))).map(|c| c.clamp(0.0, 100.0));
    if name.is_none() && progress_percent.is_none() {
        return None;
    }
    Some(CurrentJob {
        name,
        progress_percent,
        elapsed_s: seconds(progress.and_then(|p| p.get("printTime"))),
        remaining_s: seconds(progress.and_then(|p| p.get("printTimeLeft"))),
        ..CurrentJob::default()
    })
}

/// Every file's last print from `/api/files?recursive=true`, newest first;
/// `None` when the answer has no `files` list.
fn jobs_from_files(body: &Value) -> Option<Vec<JobRecord>> {
    let files = body.get("files")?.as_array()?;
    let mut jobs = Vec::new();
    walk(files, 0, &mut jobs);
    jobs.sort_by(|a, b| b.ended_at.cmp(&a.ended_at).then_with(|| a.key.cmp(&b.key)));
    Some(jobs)
}

fn walk(entries: &[Value], depth: usize, jobs: &mut Vec<JobRecord>) {
    if depth > MAX_FOLDER_DEPTH {
        return;
    }
    for entry in entries {
        let children = entry.get("children").and_then(Value::as_array);
        let is_folder = text(entry.get("type")).as_deref() == Some("folder");
        if is_folder || children.is_some() {
            // A folder's own `prints` aggregate its children's: skip them.
            if let Some(children) = children {
                walk(children, depth + 1, jobs);
            }
            continue;
        }
        if let Some(job) = last_print_of(entry) {
            jobs.push(job);
        }
    }
}

/// One file's `prints.last` (or `print.last`) as a job record.
fn last_print_of(file: &Value) -> Option<JobRecord> {
    let prints = file
        .get("prints")
        .filter(|p| p.is_object())
        .or_else(|| file.get("print"))?;
    let last = prints.get("last").filter(|l| l.is_object())?;
    let date = number(last.get("date")).filter(|d| *d > 0.0)?;
    // Unix seconds fit an i64 for any date a printer could send; `as`
    // saturates on absurd ones instead of panicking.
    let ended_at = date.floor() as i64;
    let path = text(file.get("path")).or_else(|| text(file.get("name")))?;
    let origin = text(file.get("origin")).unwrap_or_else(|| "local".into());
    let name = text(file.get("display"))
        .or_else(|| text(file.get("name")))
        .or_else(|| Some(path.clone()));
    let duration_s = seconds(last.get("printTime"));
    let started_at = duration_s
        .and_then(|d| i64::try_from(d).ok())
        .map(|d| ended_at.saturating_sub(d));
    let result = match last.get("success") {
        Some(Value::Bool(true)) => "completed".to_owned(),
        Some(Value::Bool(false)) => "failed".to_owned(),
        Some(Value::String(s)) => super::normalise_result(s),
        Some(other) if !other.is_null() => other.to_string(),
        _ => "unknown".to_owned(),
    };
    Some(JobRecord {
        key: format!("octoprint:{origin}/{path}:{ended_at}"),
        name,
        started_at,
        ended_at: Some(ended_at),
        duration_s,
        result,
        material: filament_estimate(file),
        synthesised: false,
    })
}

/// The file's `gcodeAnalysis.filament` lengths summed over its tools, as an
/// estimate in millimetres (what the slicer's G-code would use in full).
fn filament_estimate(file: &Value) -> Option<String> {
    let tools = file
        .get("gcodeAnalysis")
        .and_then(|a| a.get("filament"))
        .and_then(Value::as_object)?;
    let lengths: Vec<f64> = tools
        .values()
        .filter_map(|t| number(t.get("length")))
        .filter(|l| *l > 0.0)
        .collect();
    if lengths.is_empty() {
        return None;
    }
    let total: f64 = lengths.iter().sum();
    Some(format!("{total:.1} mm (estimate)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printing_flags_win_over_the_words() {
        let body = json!({"state": {"text": "Druckt", "error": "", "flags": {
            "operational": true, "printing": true, "paused": false, "ready": false}},
            "temperature": {"bed": {"actual": 60.1, "target": 60.0},
                            "tool0": {"actual": 210.5, "target": 210.0}}});
        let status = status_from_printer(&body).expect("a state");
        assert_eq!(status.state, FabState::Printing);
        assert_eq!(status.state_text, "Druckt");
        assert_eq!(status.temperatures[0].name, "tool0");
        assert_eq!(status.temperatures[1].target, Some(60.0));
        assert!(status.errors.is_empty());
    }

    #[test]
    fn an_error_flag_is_an_error_with_its_message() {
        let body = json!({"state": {"text": "Offline after error",
            "error": "Thermal runaway", "flags": {"closedOrError": true, "error": false}}});
        let status = status_from_printer(&body).expect("a state");
        assert_eq!(status.state, FabState::Error);
        assert_eq!(status.errors, vec!["Thermal runaway".to_owned()]);
    }

    #[test]
    fn unknown_words_without_flags_are_kept_and_shown_as_maintenance() {
        let body = json!({"state": {"text": "Calibrating the flux capacitor"}});
        let status = status_from_printer(&body).expect("a state");
        assert_eq!(status.state, FabState::Maintenance);
        assert_eq!(status.state_text, "Calibrating the flux capacitor");
    }

    #[test]
    fn not_operational_is_offline_unless_an_error_is_named() {
        let s = status_when_not_operational(&json!({"state": "Offline"}));
        assert_eq!(
            (s.state, s.state_text.as_str()),
            (FabState::Offline, "Offline")
        );
        let s = status_when_not_operational(
            &json!({"state": "Offline after error", "error": "No more candidates"}),
        );
        assert_eq!(s.state, FabState::Error);
        assert_eq!(s.errors, vec!["No more candidates".to_owned()]);
        let s = status_when_not_operational(&json!({"state": "Printing"}));
        assert_eq!(s.state, FabState::Offline);
    }

    #[test]
    fn files_in_folders_give_one_job_each_and_folder_aggregates_are_skipped() {
        let last = json!({"date": 1_795_268_872.4, "printTime": 6.04, "success": true});
        let body = json!({"files": [
            {"type": "folder", "path": "parts", "prints": {"last": last, "success": 1},
             "children": [
                {"type": "machinecode", "origin": "local", "path": "parts/a.gcode",
                 "name": "a.gcode", "display": "a.gcode", "prints": {"last": last},
                 "gcodeAnalysis": {"filament": {"tool0": {"length": 1234.5},
                                                "tool1": {"length": null}}}}]},
            {"type": "machinecode", "origin": "local", "path": "b.gcode", "name": "b.gcode",
             "print": {"last": {"date": 1_795_000_000, "printTime": 100, "success": false}}},
            {"type": "machinecode", "origin": "local", "path": "never.gcode",
             "prints": {"success": 0, "failure": 0}}
        ]});
        let jobs = jobs_from_files(&body).expect("a list");
        assert_eq!(jobs.len(), 2, "{jobs:?}");
        assert_eq!(jobs[0].key, "octoprint:local/parts/a.gcode:1795268872");
        assert_eq!(jobs[0].result, "completed");
        assert_eq!(jobs[0].duration_s, Some(6));
        assert_eq!(jobs[0].started_at, Some(1_795_268_866));
        assert_eq!(jobs[0].material.as_deref(), Some("1234.5 mm (estimate)"));
        assert_eq!(jobs[1].key, "octoprint:local/b.gcode:1795000000");
        assert_eq!(jobs[1].result, "failed");
        assert_eq!(jobs[1].material, None);
        assert!(!jobs[1].synthesised);
    }

    #[test]
    fn odd_shapes_never_panic_and_give_what_can_be_read() {
        for body in [
            json!(null),
            json!([1, 2]),
            json!({"state": []}),
            json!({"state": {"flags": "yes", "text": 5}, "temperature": [1]}),
            json!({"state": {"flags": {"printing": "true"}},
                   "temperature": {"tool0": {"actual": "hot"}, "history": []}}),
        ] {
            let _ = status_from_printer(&body);
            let _ = status_when_not_operational(&body);
            let _ = job_from(&body);
            let _ = jobs_from_files(&body);
        }
        let odd = json!({"files": [
            {"children": "no"}, {"prints": {"last": {"date": -1}}}, 7,
            {"path": "x.gcode", "prints": {"last": {"date": 1e300, "printTime": -5,
             "success": "Aborted_by_gremlin"}}}]});
        let jobs = jobs_from_files(&odd).expect("a list");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].result, "Aborted_by_gremlin");
        assert_eq!(jobs[0].duration_s, None);
        let job = job_from(&json!({"job": {"file": {"name": "x.gcode"}},
            "progress": {"completion": 180.0, "printTime": 1e30, "printTimeLeft": -3}}))
        .expect("a job");
        assert_eq!(job.progress_percent, Some(100.0));
        assert_eq!(job.remaining_s, None);
    }
}
