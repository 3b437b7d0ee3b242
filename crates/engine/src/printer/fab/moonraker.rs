//! Moonraker (the HTTP API in front of Klipper, port 7125): one status poll
//! ([`read`]) and one history poll ([`history`]).
//!
//! What a status poll asks, in order (at most four GETs, each answer a few
//! hundred bytes to about a kilobyte):
//! 1. `/server/info` — always; `klippy_state` (`ready`, `startup`, `shutdown`,
//!    `error`, `disconnected`) and `moonraker_version`. A 401/403 here is a
//!    rejected key, a 404 means "not a Moonraker".
//! 2. `/printer/info` — only while Klippy is connected (every `/printer/*`
//!    route is 404 while it is not): `state_message` (Klipper's own words for a
//!    shutdown or error), `hostname`, `software_version` (Klipper's version).
//! 3. `/printer/objects/query?print_stats&virtual_sdcard&display_status&webhooks&extruder=…&heater_bed=…`
//!    — only when Klippy is `ready`: job state, file, durations, filament,
//!    progress, temperatures.
//! 4. `/machine/system_info` — always: the host's MAC address (of the
//!    interface holding the target's address, else the first interface with a
//!    routable address) and CPU serial where the host has one (a Raspberry Pi);
//!    Moonraker has no printer serial. A failure here costs the identity
//!    fields, never the status.
//!
//! State mapping (the printer's word is kept in `state_text`):
//! - Klippy not ready: `disconnected` → offline; `shutdown`, `error` → error
//!   (with `state_message` as the error); `startup` → maintenance; any other
//!   word → offline, kept. A 404 on `/printer/*` means Klipper went away between
//!   two requests: offline, not a protocol error.
//! - Klippy ready, `print_stats.state`: `standby` → idle, `printing` → printing,
//!   `paused` → paused, `complete` → finished, `error` → error (with
//!   `print_stats.message`), `cancelled` → idle; any other word is kept, with
//!   printing when the virtual SD card is active, else idle.
//!
//! History: `/server/history/list?limit=50&order=desc`; each job is a
//! [`JobRecord`] keyed `moonraker:<job_id>`, its `status` through
//! [`normalise_result`] (unknown words kept), `filament_used` as `"1234.5 mm"`.
//!
//! Invariants: every value from the printer is read leniently (a field of the
//! wrong type is a missing field, never a panic; Python's `NaN`/`Infinity`
//! become null); an answer that is not Moonraker's `{"result": …}` envelope is
//! [`FabError::BadResponse`]; 401/403 anywhere is [`FabError::Rejected`]; the
//! key travels only in the sensitive `X-Api-Key` header and never appears in
//! errors or logs.

use serde_json::{Map, Value};

use super::http::{Answer, Http};
use super::{
    CurrentJob, FabError, FabOptions, FabState, FabStatus, FabTarget, History, JobRecord,
    Temperature, build_reading, normalise_result,
};
use crate::printer::model::{Identity, Reading};

/// The key header Moonraker reads (header names are sent lower case).
const KEY_HEADER: &str = "x-api-key";
/// What the secret is called in errors.
const KEY_WHAT: &str = "API key";
/// The one status query: job, progress, Klipper's own state, temperatures.
pub const STATUS_QUERY: &str = "printer/objects/query?print_stats&virtual_sdcard&display_status&webhooks&extruder=temperature,target&heater_bed=temperature,target";
/// The history query: the 50 newest jobs.
pub const HISTORY_QUERY: &str = "server/history/list?limit=50&order=desc";

/// Reads identity and status (one status poll; see the module doc).
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let mut http = session(target, options)?;
    let info = result_object(&mut http, "server/info").await?;
    let klippy_state = text(&info, "klippy_state").unwrap_or_else(|| "unknown".into());

    // /printer/* exists only while Klippy is connected.
    let printer_info = if klippy_state == "disconnected" {
        None
    } else {
        optional_printer_object(&mut http, "printer/info").await?
    };
    // Klipper's word now: /printer/info is fresher than /server/info.
    let word = match &printer_info {
        Some(pi) => text(pi, "state").unwrap_or_else(|| klippy_state.clone()),
        None if klippy_state == "ready" => "disconnected".to_owned(),
        None => klippy_state.clone(),
    };
    let status = if word == "ready" {
        match optional_printer_object(&mut http, STATUS_QUERY).await? {
            Some(query) => status_when_ready(&query),
            None => klipper_down("disconnected", None),
        }
    } else {
        let message = printer_info
            .as_ref()
            .and_then(|pi| text(pi, "state_message"));
        klipper_down(&word, message)
    };
    // Identity extras: a failure here (other than a rejected key) loses only them.
    let system = match result_object(&mut http, "machine/system_info").await {
        Ok(v) => v.get("system_info").and_then(Value::as_object).cloned(),
        Err(e @ FabError::Rejected { .. }) => return Err(e),
        Err(e) => {
            tracing::debug!(target = %http.target(), error = %e, "moonraker: no system info");
            None
        }
    };
    let identity = identity(target, &info, printer_info.as_ref(), system.as_ref());
    Ok(build_reading(target, identity, status, http.stats))
}

/// Reads the printer's job history (the 50 newest jobs, newest first).
pub async fn history(target: &FabTarget, options: &FabOptions) -> Result<History, FabError> {
    let mut http = session(target, options)?;
    let result = result_object(&mut http, HISTORY_QUERY).await?;
    let jobs = match result.get("jobs") {
        Some(Value::Array(jobs)) => jobs
            .iter()
            .filter_map(Value::as_object)
            .map(job_record)
            .collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            return Err(FabError::BadResponse {
                target: http.target().to_owned(),
                message: "the answer to /server/history/list has no list of jobs".into(),
            });
        }
    };
    Ok(History {
        jobs,
        stats: http.stats,
    })
}

fn session(target: &FabTarget, options: &FabOptions) -> Result<Http, FabError> {
    Http::new(
        target,
        options.timeout,
        options.key.as_ref().map(|k| (KEY_HEADER, k)),
    )
}

/// `GET path`, 200 expected, body `{"result": {…}}`: the object.
async fn result_object(http: &mut Http, path: &str) -> Result<Map<String, Value>, FabError> {
    let answer = http.get(path).await?;
    http.expect_ok(&answer, path, KEY_WHAT)?;
    envelope(http, &answer, path)
}

/// Like [`result_object`] for `/printer/*`: a 404 means Klippy is not
/// connected (`None`), not an error.
async fn optional_printer_object(
    http: &mut Http,
    path: &str,
) -> Result<Option<Map<String, Value>>, FabError> {
    let answer = http.get(path).await?;
    if answer.status == 404 {
        return Ok(None);
    }
    http.expect_ok(&answer, path, KEY_WHAT)?;
    envelope(http, &answer, path).map(Some)
}

/// The object under `result`, or what was wrong in words.
fn envelope(http: &Http, answer: &Answer, path: &str) -> Result<Map<String, Value>, FabError> {
    let bad = |why: String| FabError::BadResponse {
        target: http.target().to_owned(),
        message: format!("the answer to /{} {why}", path.trim_start_matches('/')),
    };
    let value: Value = match serde_json::from_slice(&answer.body) {
        Ok(v) => v,
        Err(first) => serde_json::from_slice(&python_json_to_json(&answer.body))
            .map_err(|_| bad(format!("is not JSON ({first})")))?,
    };
    match value {
        Value::Object(mut top) => match top.remove("result") {
            Some(Value::Object(result)) => Ok(result),
            Some(_) => Err(bad("has a `result` that is not an object".into())),
            None => Err(bad("is not Moonraker's {\"result\": …} answer".into())),
        },
        _ => Err(bad("is not a JSON object".into())),
    }
}

/// Python's `json.dumps` writes `NaN`, `Infinity` and `-Infinity` (Moonraker
/// without msgspec does): those become `null`; strings are left alone.
fn python_json_to_json(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_string {
            out.push(b);
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let word = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        if let Some(word) = word {
            out.extend_from_slice(b"null");
            i += word.len();
            continue;
        }
        if b == b'"' {
            in_string = true;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The status while Klippy is not ready (or went away): its own word kept.
fn klipper_down(word: &str, message: Option<String>) -> FabStatus {
    let state = match word {
        "shutdown" | "error" => FabState::Error,
        "startup" => FabState::Maintenance,
        _ => FabState::Offline,
    };
    let message = message.filter(|m| !m.trim().is_empty());
    let errors = match (state, message) {
        (FabState::Error, Some(m)) => vec![m],
        (FabState::Error, None) => vec![format!("Klipper reports {word}")],
        _ => Vec::new(),
    };
    FabStatus {
        state,
        state_text: format!("Klipper: {word}"),
        job: None,
        temperatures: Vec::new(),
        errors,
    }
}

/// The status from the objects query while Klippy is ready.
fn status_when_ready(result: &Map<String, Value>) -> FabStatus {
    let empty = Map::new();
    let objects = result
        .get("status")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let object = |name: &str| {
        objects
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or(&empty)
    };
    let print_stats = object("print_stats");
    let sdcard = object("virtual_sdcard");
    let display = object("display_status");
    let webhooks = object("webhooks");

    // Klipper may have shut down since /server/info: webhooks says so.
    if let Some(wh) = text(webhooks, "state")
        && matches!(wh.as_str(), "shutdown" | "error" | "startup")
    {
        return FabStatus {
            temperatures: temperatures(objects),
            ..klipper_down(&wh, text(webhooks, "state_message"))
        };
    }

    let word = text(print_stats, "state").unwrap_or_else(|| "unknown".into());
    let state = match word.as_str() {
        "standby" | "cancelled" => FabState::Idle,
        "printing" => FabState::Printing,
        "paused" => FabState::Paused,
        "complete" => FabState::Finished,
        "error" => FabState::Error,
        _ if sdcard.get("is_active").and_then(Value::as_bool) == Some(true) => FabState::Printing,
        _ => FabState::Idle,
    };
    let mut errors = Vec::new();
    if let Some(m) = text(print_stats, "message").filter(|m| !m.trim().is_empty())
        && state == FabState::Error
    {
        errors.push(m);
    }
    if state == FabState::Error && errors.is_empty() {
        errors.push("the print stopped with an error".into());
    }
    let filename = text(print_stats, "filename").filter(|f| !f.is_empty());
    let job = filename.filter(|_| word != "standby").map(|name| {
        let fraction = number(display, "progress")
            .or_else(|| number(sdcard, "progress"))
            .filter(|p| (0.0..=1.0).contains(p));
        let printed =
            number(print_stats, "print_duration").or_else(|| number(print_stats, "total_duration"));
        let remaining = match (fraction, printed) {
            (_, _) if state == FabState::Finished => Some(0.0),
            (Some(p), Some(t)) if p > 0.0 && t > 0.0 => Some(t * (1.0 - p) / p),
            _ => None,
        };
        CurrentJob {
            id: None,
            name: Some(name),
            progress_percent: fraction.map(|p| (p * 1000.0).round() / 10.0),
            elapsed_s: printed.and_then(seconds),
            remaining_s: remaining.and_then(seconds),
            started_at: None,
            material: number(print_stats, "filament_used").and_then(millimetres),
        }
    });
    FabStatus {
        state,
        state_text: word,
        job,
        temperatures: temperatures(objects),
        errors,
    }
}

fn temperatures(objects: &Map<String, Value>) -> Vec<Temperature> {
    [("extruder", "extruder"), ("heater_bed", "bed")]
        .into_iter()
        .filter_map(|(object, name)| {
            let o = objects.get(object)?.as_object()?;
            Some(Temperature {
                name: name.into(),
                actual: number(o, "temperature"),
                target: number(o, "target"),
            })
        })
        .collect()
}

fn identity(
    target: &FabTarget,
    info: &Map<String, Value>,
    printer_info: Option<&Map<String, Value>>,
    system: Option<&Map<String, Value>>,
) -> Identity {
    let known = |v: Option<String>| v.filter(|s| !s.trim().is_empty() && s != "?");
    let klipper = printer_info.and_then(|p| known(text(p, "software_version")));
    let moonraker = known(text(info, "moonraker_version"));
    let api = known(text(info, "api_version_string"));
    let distro = system
        .and_then(|s| s.get("distribution")?.as_object())
        .and_then(|d| known(text(d, "name")));
    let mut description = match (&moonraker, &api) {
        (Some(m), Some(a)) => format!("Moonraker {m} (API {a})"),
        (Some(m), None) => format!("Moonraker {m}"),
        _ => "Moonraker".to_owned(),
    };
    if let Some(k) = &klipper {
        description.push_str(&format!(", Klipper {k}"));
    }
    if let Some(d) = &distro {
        description.push_str(&format!(", on {d}"));
    }
    let serial = system
        .and_then(|s| s.get("cpu_info")?.as_object())
        .and_then(|c| known(text(c, "serial_number")));
    Identity {
        firmware: klipper.map(|k| format!("Klipper {k}")),
        hostname: printer_info.and_then(|p| known(text(p, "hostname"))),
        mac: system.and_then(|s| host_mac(target, s)),
        serial_source: serial
            .as_ref()
            .map(|_| "moonraker:/machine/system_info cpu_info.serial_number (host CPU)".into()),
        serial,
        description: Some(description),
        ..Identity::default()
    }
}

/// The MAC of the interface holding the target's address; else of the first
/// interface (by name) with a routable address; else of the first with a MAC.
fn host_mac(target: &FabTarget, system: &Map<String, Value>) -> Option<String> {
    let network = system.get("network")?.as_object()?;
    let mut with_mac: Vec<(&Map<String, Value>, String)> = network
        .iter()
        .filter(|(name, _)| name.as_str() != "lo")
        .filter_map(|(_, i)| {
            let i = i.as_object()?;
            let mac = normalise_mac(&text(i, "mac_address")?)?;
            Some((i, mac))
        })
        .collect();
    let addresses = |i: &Map<String, Value>| -> Vec<(String, bool)> {
        i.get("ip_addresses")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_object)
                    .filter_map(|a| {
                        let link_local = a.get("is_link_local").and_then(Value::as_bool);
                        Some((text(a, "address")?, link_local.unwrap_or(false)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let host = target.host.to_ascii_lowercase();
    if let Some((_, mac)) = with_mac.iter().find(|(i, _)| {
        addresses(i)
            .iter()
            .any(|(a, _)| a.eq_ignore_ascii_case(&host))
    }) {
        return Some(mac.clone());
    }
    if let Some(pos) = with_mac
        .iter()
        .position(|(i, _)| addresses(i).iter().any(|(_, link_local)| !link_local))
    {
        return Some(with_mac.swap_remove(pos).1);
    }
    with_mac.into_iter().next().map(|(_, mac)| mac)
}

/// `aa:bb:cc:dd:ee:ff`, lower case; `None` for anything else or all zeros.
fn normalise_mac(raw: &str) -> Option<String> {
    let parts: Vec<&str> = raw.trim().split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    let mac = raw.trim().replace('-', ":").to_ascii_lowercase();
    (ok && mac != "00:00:00:00:00:00").then_some(mac)
}

/// One history entry as a [`JobRecord`].
fn job_record(job: &Map<String, Value>) -> JobRecord {
    let name = text(job, "filename").filter(|f| !f.is_empty());
    let started_at = number(job, "start_time").and_then(unix_seconds);
    let id = match job.get("job_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let key = match id {
        Some(id) => format!("moonraker:{id}"),
        None => format!(
            "moonraker:{}:{}",
            name.as_deref().unwrap_or(""),
            started_at.map(|s| s.to_string()).unwrap_or_default()
        ),
    };
    let result = match text(job, "status") {
        Some(s) if !s.trim().is_empty() => normalise_result(&s),
        _ => "unknown".into(),
    };
    JobRecord {
        key,
        name,
        started_at,
        ended_at: number(job, "end_time").and_then(unix_seconds),
        duration_s: number(job, "print_duration").and_then(seconds),
        result,
        material: number(job, "filament_used").and_then(millimetres),
        synthesised: false,
    }
}

/// A string field; anything else (a number, a list, null) is missing.
fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key)?.as_str().map(str::to_owned)
}

/// A finite number field (a number written as a string counts); else missing.
fn number(o: &Map<String, Value>, key: &str) -> Option<f64> {
    super::json::number(o.get(key))
}

/// Whole seconds from a non-negative duration.
fn seconds(v: f64) -> Option<u64> {
    (0.0..1e15).contains(&v).then_some(v.round() as u64)
}

/// Unix seconds from Moonraker's float timestamps (0 and below mean "none").
fn unix_seconds(v: f64) -> Option<i64> {
    (v > 0.0 && v < 1e13).then_some(v.floor() as i64)
}

/// Filament in Klipper's unit, millimetres: `"1234.5 mm"`.
fn millimetres(v: f64) -> Option<String> {
    (v.is_finite() && v >= 0.0).then(|| format!("{v:.1} mm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn python_nan_and_infinity_become_null_but_strings_are_untouched() {
        let raw = br#"{"a":NaN,"b":-Infinity,"c":"NaN \" Infinity","d":[Infinity,1]}"#;
        let v: Value = serde_json::from_slice(&python_json_to_json(raw)).expect("json");
        assert_eq!(v["a"], Value::Null);
        assert_eq!(v["b"], Value::Null);
        assert_eq!(v["c"], "NaN \" Infinity");
        assert_eq!(v["d"][0], Value::Null);
    }

    #[test]
    fn a_history_job_without_an_id_gets_a_key_from_its_name_and_start() {
        let j = job_record(&obj(serde_json::json!({
            "filename": "a.gcode", "start_time": 1700000000.7, "status": "weird_new_status"
        })));
        assert_eq!(j.key, "moonraker:a.gcode:1700000000");
        assert_eq!(j.result, "weird_new_status");
        assert_eq!(j.ended_at, None);
    }

    #[test]
    fn odd_numbers_never_panic_and_are_missing() {
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(f64::MAX), None);
        assert_eq!(unix_seconds(0.0), None);
        assert_eq!(millimetres(1234.54), Some("1234.5 mm".into()));
        assert_eq!(
            normalise_mac("02-FC-00-00-00-01").as_deref(),
            Some("02:fc:00:00:00:01")
        );
        assert_eq!(normalise_mac("00:00:00:00:00:00"), None);
        assert_eq!(normalise_mac("junk"), None);
    }

    #[test]
    fn the_mac_is_the_one_of_the_interface_holding_the_target_address() {
        let system = obj(serde_json::json!({"network": {
            "eth0": {"mac_address": "02:00:00:00:00:01",
                     "ip_addresses": [{"family": "ipv4", "address": "10.0.0.5", "is_link_local": false}]},
            "wlan0": {"mac_address": "02:00:00:00:00:02",
                      "ip_addresses": [{"family": "ipv4", "address": "192.168.1.9", "is_link_local": false}]}
        }}));
        let t = FabTarget::parse("moonraker://192.168.1.9").expect("parse");
        assert_eq!(host_mac(&t, &system).as_deref(), Some("02:00:00:00:00:02"));
        let t = FabTarget::parse("moonraker://voron.local").expect("parse");
        assert_eq!(host_mac(&t, &system).as_deref(), Some("02:00:00:00:00:01"));
    }
}
