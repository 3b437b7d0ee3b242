//! PrusaLink (Prusa MK4/MK3.9/MK3.5/XL/MINI/Core One firmware, and the
//! Raspberry-Pi PrusaLink for the MK3): one status poll over HTTP.
//!
//! What it asks (PROTOCOLS.md §5): `GET /api/v1/status` (state, temperatures,
//! `job{id, progress, time_remaining, time_printing}`), `GET /api/v1/job` when
//! the status names a job (the file name; **204 = no job**, not an error),
//! `GET /api/v1/info` (serial, name, location, hostname) and `GET /api/version`
//! (firmware, under `firmware` or, on some firmwares, only `server`).
//! PrusaLink keeps no job history: jobs are synthesised from status polls
//! (`fab::history`), keyed by the printer's `job.id` put in
//! [`CurrentJob::id`].
//!
//! Authentication: the first request goes without credentials. A `Digest`
//! challenge is answered with HTTP Digest (RFC 7616/2617/2069 through the
//! `digest_auth` crate; user from the target URL, else the options, else
//! `maker`; the password is the key), and the same challenge signs the
//! following requests (`nc` counts up). A 401 **without** a Digest challenge
//! means older firmware: the key goes as `X-Api-Key`. A 401 after a digest
//! (not `stale`) or after the key is [`FabError::Rejected`], never offline.
//!
//! State mapping (the printer's word is kept in `state_text`):
//! `IDLE`, `READY` → idle; `PRINTING` → printing; `PAUSED` → paused;
//! `FINISHED` → finished; `STOPPED` (a job was stopped, the printer is free)
//! → idle; `ERROR` → error; `ATTENTION` (a person must act at the printer:
//! filament run-out, crash, a question on the screen) → maintenance;
//! `BUSY` → printing when the status names a job (preparing or finishing it),
//! else maintenance (calibrating, loading filament, a menu action). Any other
//! word is shown as idle, kept verbatim, with a note in the reading.
//!
//! Invariants: the password never leaves this module except hashed inside a
//! digest (or, only when the printer asks for no digest, as `X-Api-Key`);
//! it is in no error, log or `Debug` output. Odd JSON (missing fields, wrong
//! types) gives a partial reading; only an answer without `printer.state`
//! (or not JSON at all) is [`FabError::BadResponse`]. Nothing panics on a
//! printer's answer.

use super::json::{number, seconds, text};
use reqwest::header::{AUTHORIZATION, HeaderName, WWW_AUTHENTICATE};
use serde_json::Value;

use super::http::{Answer, Http};
use super::{CurrentJob, FabError, FabOptions, FabState, FabStatus, FabTarget, Temperature};
use crate::printer::model::{Identity, Reading};
use crate::secret::Secret;

/// The digest user when neither the target nor the options name one.
pub const DEFAULT_USER: &str = "maker";

const STATUS: &str = "api/v1/status";
const JOB: &str = "api/v1/job";
const INFO: &str = "api/v1/info";
const VERSION: &str = "api/version";

/// How this read authenticates, learnt from the printer's first answer.
enum Mode {
    /// Nothing sent yet (or the printer asked for nothing).
    Plain,
    /// HTTP Digest with this challenge (its `nc` counts our requests).
    Digest(Box<digest_auth::WwwAuthenticateHeader>),
    /// `X-Api-Key` (older firmware).
    ApiKey,
}

/// Credentials and the mode for one read. No `Debug`: it holds the password.
struct Auth<'a> {
    user: String,
    key: &'a Secret,
    mode: Mode,
    what: String,
}

impl Auth<'_> {
    /// `GET path`, authenticating as the printer asks.
    async fn get(&mut self, http: &mut Http, path: &str) -> Result<Answer, FabError> {
        let uri = format!("/{}", path.trim_start_matches('/'));
        let mut stale_retried = false;
        // Plain → (Digest | ApiKey) → at most one stale renewal: 3 tries at most.
        for _ in 0..3 {
            let header: Option<(HeaderName, String)> = match &mut self.mode {
                Mode::Plain => None,
                Mode::Digest(prompt) => {
                    let context =
                        digest_auth::AuthContext::new(self.user.as_str(), self.key.expose(), &uri);
                    let answer = prompt
                        .respond(&context)
                        .map_err(|e| FabError::BadResponse {
                            target: http.target().to_owned(),
                            message: format!("cannot answer the printer's digest challenge: {e}"),
                        })?;
                    Some((AUTHORIZATION, answer.to_header_string()))
                }
                Mode::ApiKey => Some((
                    HeaderName::from_static("x-api-key"),
                    self.key.expose().to_owned(),
                )),
            };
            let answer = http
                .get_with(path, header.as_ref().map(|(n, v)| (n.clone(), v.as_str())))
                .await?;
            if answer.status != 401 {
                return Ok(answer);
            }
            let challenge = digest_challenge(&answer);
            match (&self.mode, challenge) {
                (Mode::Plain, Some(text)) => {
                    self.mode = Mode::Digest(Box::new(parse(http, &text)?))
                }
                (Mode::Plain, None) => self.mode = Mode::ApiKey,
                (Mode::Digest(_), Some(text)) if !stale_retried => {
                    let prompt = parse(http, &text)?;
                    if !prompt.stale {
                        return Err(self.rejected(http));
                    }
                    // Our nonce expired mid-read: answer the fresh one once.
                    stale_retried = true;
                    self.mode = Mode::Digest(Box::new(prompt));
                }
                _ => return Err(self.rejected(http)),
            }
        }
        Err(self.rejected(http))
    }

    fn rejected(&self, http: &Http) -> FabError {
        FabError::Rejected {
            target: http.target().to_owned(),
            what: self.what.clone(),
            status: Some(401),
        }
    }
}

/// The `Digest …` challenge among the answer's `WWW-Authenticate` headers,
/// without its scheme word.
fn digest_challenge(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("digest"))
        .map(|v| v[6..].trim().to_owned())
}

fn parse(http: &Http, text: &str) -> Result<digest_auth::WwwAuthenticateHeader, FabError> {
    digest_auth::parse(text).map_err(|e| FabError::BadResponse {
        target: http.target().to_owned(),
        message: format!("the printer's digest challenge cannot be used: {e}"),
    })
}

/// Reads identity and status (one status poll).
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let key = options.key.as_ref().ok_or_else(|| FabError::NeedsKey {
        target: target.url(),
        what: target.protocol.secret_name().into(),
    })?;
    let mut auth = Auth {
        user: target
            .user
            .clone()
            .or_else(|| options.user.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_USER.to_owned()),
        key,
        mode: Mode::Plain,
        what: target.protocol.secret_name().to_owned(),
    };
    let mut http = Http::new(target, options.timeout, None)?;
    let mut notes = Vec::new();

    let answer = auth.get(&mut http, STATUS).await?;
    http.expect_ok(&answer, STATUS, &auth.what)?;
    let status_json: Value = http.parse(&answer.body, STATUS)?;
    let (mut status, has_job) = status_from(&status_json).ok_or_else(|| FabError::BadResponse {
        target: http.target().to_owned(),
        message: "the answer to /api/v1/status has no printer.state".into(),
    })?;
    if state_of(&status.state_text, has_job).is_none() {
        notes.push(format!(
            "PrusaLink state {:?} is not one this version knows; shown as idle",
            status.state_text
        ));
    }

    if has_job {
        let answer = auth.get(&mut http, JOB).await?;
        match answer.status {
            // No job after all (it ended between the two requests).
            204 | 404 => {}
            200 => match http.parse::<Value>(&answer.body, JOB) {
                Ok(v) => {
                    if let Some(job) = status.job.as_mut() {
                        merge_job(job, &v);
                    }
                }
                Err(e) => notes.push(e.to_string()),
            },
            _ => {
                http.expect_ok(&answer, JOB, &auth.what)?;
            }
        }
    }

    let mut identity = Identity {
        vendor: Some("Prusa Research".into()),
        ..Identity::default()
    };
    for (path, apply) in [
        (INFO, apply_info as fn(&mut Identity, &Value)),
        (VERSION, apply_version),
    ] {
        let answer = auth.get(&mut http, path).await?;
        match answer.status {
            200 => match http.parse::<Value>(&answer.body, path) {
                Ok(v) => apply(&mut identity, &v),
                Err(e) => notes.push(e.to_string()),
            },
            401 | 403 => http.expect_ok(&answer, path, &auth.what)?,
            s => notes.push(format!("/{path} answered HTTP {s}: identity is partial")),
        }
    }

    let mut reading = super::build_reading(target, identity, status, http.stats.clone());
    reading.notes.extend(notes);
    Ok(reading)
}

/// The common state for a PrusaLink `printer.state` word; `None` when unknown.
pub fn state_of(word: &str, has_job: bool) -> Option<FabState> {
    Some(match word.trim().to_ascii_uppercase().as_str() {
        "IDLE" | "READY" | "STOPPED" => FabState::Idle,
        "PRINTING" => FabState::Printing,
        "PAUSED" => FabState::Paused,
        "FINISHED" => FabState::Finished,
        "ERROR" => FabState::Error,
        "ATTENTION" => FabState::Maintenance,
        "BUSY" if has_job => FabState::Printing,
        "BUSY" => FabState::Maintenance,
        _ => return None,
    })
}

/// The status from `/api/v1/status`, and whether it names a job; `None`
/// without a `printer.state` string.
fn status_from(v: &Value) -> Option<(FabStatus, bool)> {
    let printer = v.get("printer")?;
    let word = printer.get("state")?.as_str()?.trim().to_owned();
    let job = v.get("job").filter(|j| j.is_object()).map(|j| CurrentJob {
        id: j.get("id").and_then(id_text),
        name: None,
        progress_percent: number(j.get("progress")).map(|p| p.clamp(0.0, 100.0)),
        elapsed_s: seconds(j.get("time_printing")),
        remaining_s: seconds(j.get("time_remaining")),
        started_at: None,
        material: None,
    });
    let has_job = job.is_some();
    let mut temperatures = Vec::new();
    for (name, actual, target) in [
        ("nozzle", "temp_nozzle", "target_nozzle"),
        ("bed", "temp_bed", "target_bed"),
    ] {
        let (a, t) = (number(printer.get(actual)), number(printer.get(target)));
        if a.is_some() || t.is_some() {
            temperatures.push(Temperature {
                name: name.into(),
                actual: a,
                target: t,
            });
        }
    }
    let mut errors = Vec::new();
    // `status_printer{ok, message}`: the printer's own complaint, if any.
    if let Some(sp) = printer.get("status_printer")
        && sp.get("ok").and_then(Value::as_bool) == Some(false)
    {
        let message = sp
            .get("message")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or("the printer reports a problem");
        errors.push(message.to_owned());
    }
    let state = state_of(&word, has_job).unwrap_or(FabState::Idle);
    Some((
        FabStatus {
            state,
            state_text: word,
            job,
            temperatures,
            errors,
        },
        has_job,
    ))
}

/// Adds what `/api/v1/job` says (file name, times, material) to the job.
fn merge_job(job: &mut CurrentJob, v: &Value) {
    if job.id.is_none() {
        job.id = v.get("id").and_then(id_text);
    }
    let file = v.get("file");
    job.name = file
        .and_then(|f| text(f.get("display_name")).or_else(|| text(f.get("name"))))
        .or_else(|| job.name.take());
    if job.progress_percent.is_none() {
        job.progress_percent = number(v.get("progress")).map(|p| p.clamp(0.0, 100.0));
    }
    if job.elapsed_s.is_none() {
        job.elapsed_s = seconds(v.get("time_printing"));
    }
    if job.remaining_s.is_none() {
        job.remaining_s = seconds(v.get("time_remaining"));
    }
    // The file's own figure for the whole job, scaled by progress: an estimate
    // of what has been used so far (exact once the job is complete).
    let meta = file.and_then(|f| f.get("meta"));
    let grams = meta.and_then(|m| number(m.get("filament used [g]")));
    let mm = meta.and_then(|m| number(m.get("filament used [mm]")));
    let kind = meta.and_then(|m| text(m.get("filament_type")));
    let share = job.progress_percent.unwrap_or(0.0) / 100.0;
    let amount = match (grams, mm) {
        (Some(g), _) if g >= 0.0 => Some(format!("{:.1} g", g * share)),
        (None, Some(m)) if m >= 0.0 => Some(format!("{:.0} mm", m * share)),
        _ => None,
    };
    if let Some(amount) = amount {
        job.material = Some(match kind {
            Some(k) => format!("{k} {amount}"),
            None => amount,
        });
    }
}

fn apply_info(identity: &mut Identity, v: &Value) {
    identity.serial = text(v.get("serial"));
    if identity.serial.is_some() {
        identity.serial_source = Some("prusalink /api/v1/info serial".into());
    }
    identity.info = text(v.get("name"));
    identity.location = text(v.get("location"));
    identity.hostname = text(v.get("hostname")).or(identity.hostname.take());
}

fn apply_version(identity: &mut Identity, v: &Value) {
    // Field names differ between firmwares: `firmware`, else `server`.
    identity.firmware = text(v.get("firmware")).or_else(|| text(v.get("server")));
    identity.description = text(v.get("text"));
    if identity.hostname.is_none() {
        identity.hostname = text(v.get("hostname"));
    }
}

/// A job id: a number or a string.
fn id_text(v: &Value) -> Option<String> {
    text(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn busy_is_printing_with_a_job_and_maintenance_without() {
        assert_eq!(state_of("BUSY", true), Some(FabState::Printing));
        assert_eq!(state_of("BUSY", false), Some(FabState::Maintenance));
        assert_eq!(state_of("STOPPED", false), Some(FabState::Idle));
        assert_eq!(state_of("attention", false), Some(FabState::Maintenance));
        assert_eq!(state_of("WARMING_UP", false), None);
    }

    #[test]
    fn wrong_types_and_huge_numbers_leave_fields_unknown() {
        let v = json!({"printer": {"state": "PRINTING", "temp_nozzle": "hot", "target_bed": 1e300},
                       "job": {"id": [1], "progress": -5, "time_remaining": 1e200, "time_printing": "12"}});
        let (s, has_job) = status_from(&v).expect("a state");
        assert!(has_job);
        let job = s.job.expect("job");
        assert_eq!(job.id, None);
        assert_eq!(job.progress_percent, Some(0.0));
        assert_eq!((job.remaining_s, job.elapsed_s), (None, Some(12)));
        assert_eq!(s.temperatures.len(), 1);
        assert_eq!(s.temperatures[0].target, Some(1e300));
    }

    #[test]
    fn material_is_the_files_figure_scaled_by_progress() {
        let mut job = CurrentJob {
            progress_percent: Some(50.0),
            ..CurrentJob::default()
        };
        merge_job(
            &mut job,
            &json!({"file": {"name": "A.BGC", "display_name": "a.bgcode",
                              "meta": {"filament used [g]": 20.0, "filament_type": "PETG"}}}),
        );
        assert_eq!(job.name.as_deref(), Some("a.bgcode"));
        assert_eq!(job.material.as_deref(), Some("PETG 10.0 g"));
    }
}
