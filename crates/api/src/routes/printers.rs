//! `/api/v1/printers`: the list with each printer's latest reading in brief,
//! one printer in full with its history for charts, adding (after reading it
//! once), a "test" read that stores nothing, editing the labels, removing,
//! asking for a poll now, and a 3D printer's jobs.
//!
//! A printer is added by address (SNMP) or by URL: `ipp://`, `ipps://` (IPP)
//! or a 3D printer's `octoprint://`, `moonraker://`, `prusalink://`,
//! `bambu://`, `ultimaker://`. A 3D printer's list entry and page carry its
//! `protocol` and its `fab` part (state, the printer's own words, current
//! job, temperatures, errors).
//!
//! Invariants:
//! - a credential given here is used for the read and stored with the device
//!   (in the database, which is 0600) — it is never echoed: answers name the
//!   credential only;
//! - a 3D printer's `key` (API key, access code, password) is write-only: it
//!   is used for the read, kept only in the secret store under
//!   `printer-key:<scheme>://<host>:<port>` (and only once the printer is
//!   added — a test read stores nothing), and never appears in an answer, an
//!   error or a log line; answers say `key_set` at most;
//! - a URL with a password in it is refused without echoing it;
//! - the list is answered from the devices table plus a per-device summary
//!   cached by the time of its last full read, so 1,000 printers cost one
//!   query, not 1,000 parsed readings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use printscout_engine::config::CredentialConfig;
use printscout_engine::printer::fab::{FabOptions, FabStatus, FabTarget, read_fab};
use printscout_engine::printer::read_device;
use printscout_engine::secret::Secret;
use printscout_engine::secrets::printer_key_name_of;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions};
use printscout_engine::store::{DeviceRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::events::EventItem;
use super::time;
use crate::error::{ApiError, Json, Path, Query};
use crate::state::{AppState, Summary, store_error};

/// One supply as a bar in the list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SupplyBar {
    /// What the printer calls it ("Black Toner Cartridge").
    pub name: String,
    /// `toner`, `ink`, `opc` (drum), `fuser`, `wasteToner`…
    pub kind: Option<String>,
    /// Its colour ("black", "cyan"…), when it has one.
    pub color: Option<String>,
    /// Percent left (0–100), when the printer says.
    pub percent: Option<f64>,
    /// `percent`, `ok`, `low`, `empty`, `unknown`, `not_applicable`…
    pub state: Option<String>,
}

/// A printer in the list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PrinterSummary {
    /// Its id (stable).
    pub id: i64,
    /// The name to show: the user's, else the printer's host name, else model.
    pub display_name: String,
    /// The user's name for it, if set.
    pub name: Option<String>,
    /// The user's location, else the printer's own sysLocation.
    pub location: Option<String>,
    /// Maker.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// MAC address.
    pub mac: Option<String>,
    /// Where it answers now (`host:port`; for IPP and 3D printers, its URL).
    pub address: Option<String>,
    /// The host name it was added by, re-resolved before each poll.
    pub added_as: Option<String>,
    /// `ok`, `warning`, `error`, `unknown`, or `offline` after failed polls.
    #[schema(example = "ok")]
    pub status: String,
    /// Whether it is offline.
    pub offline: bool,
    /// Why the last poll failed, if it did.
    pub last_error: Option<String>,
    /// Last answer (RFC 3339).
    pub last_seen: Option<String>,
    /// Last full read (RFC 3339).
    pub last_read: Option<String>,
    /// The name of the credential that works for it (never the secret).
    pub credential: Option<String>,
    /// Total pages (the printer's total counter), from the latest read.
    pub total_pages: Option<i64>,
    /// Supplies with their levels, from the latest read.
    pub supplies: Vec<SupplyBar>,
    /// Conditions open now (errors, alerts, low supplies).
    pub open_alerts: usize,
    /// How it is read: `snmp`, `ipp`, `ipps`, or a 3D printer's protocol
    /// (`octoprint`, `moonraker`, `prusalink`, `bambu`, `ultimaker`).
    #[schema(example = "snmp")]
    pub protocol: String,
    /// A 3D printer's state now, from its latest read (absent for other printers).
    pub fab: Option<FabView>,
}

/// A 3D printer's state at its latest read.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FabView {
    /// `idle`, `printing`, `paused`, `finished`, `error`, `offline` or
    /// `maintenance` (a word the engine does not know is passed on as it is).
    #[schema(example = "printing")]
    pub state: String,
    /// The printer's own words for it (`Operational`, `PRINTING`, `wait_cleanup`…).
    pub state_text: Option<String>,
    /// The current (or just finished) job.
    pub job: Option<FabJobView>,
    /// Temperatures.
    pub temperatures: Vec<TemperatureView>,
    /// Errors the printer reports now, in its words.
    pub errors: Vec<String>,
}

/// The job on a 3D printer now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FabJobView {
    /// The printer's id for it, when it has one.
    pub id: Option<String>,
    /// File or job name.
    pub name: Option<String>,
    /// 0–100.
    pub progress_percent: Option<f64>,
    /// Seconds printed so far.
    pub elapsed_s: Option<u64>,
    /// Seconds left, as the printer estimates.
    pub remaining_s: Option<u64>,
    /// When it started (RFC 3339), when the printer says.
    pub started_at: Option<String>,
    /// Material used so far, in the printer's words (`1234 mm`, `PLA 12.3 g`).
    pub material: Option<String>,
}

/// One temperature sensor of a 3D printer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TemperatureView {
    /// `tool0`, `bed`, `nozzle`, `chamber`…
    pub name: String,
    /// °C now.
    pub actual: Option<f64>,
    /// °C asked for (0 = off).
    pub target: Option<f64>,
}

/// A 3D printer's jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterJobs {
    /// The printer.
    pub id: i64,
    /// The jobs, newest first (by start).
    pub jobs: Vec<JobItem>,
}

/// One job of a 3D printer.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobItem {
    /// The job's key, unique per printer (the printer's own job id where it
    /// has one, else one built from its name and start).
    pub key: String,
    /// Job or file name.
    pub name: Option<String>,
    /// Start (RFC 3339).
    pub started_at: Option<String>,
    /// End (RFC 3339); absent while it runs.
    pub ended_at: Option<String>,
    /// Seconds of printing.
    pub duration_s: Option<i64>,
    /// `completed`, `cancelled`, `failed`, `interrupted`, `in_progress`, or
    /// the printer's own word.
    #[schema(example = "completed")]
    pub result: Option<String>,
    /// Material used, with its unit.
    pub material: Option<String>,
    /// Built from state changes between polls, not read from the printer's history.
    pub synthesised: bool,
    /// Whether it is still under way (no end yet).
    pub running: bool,
}

/// How many jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// At most this many, newest first (1–1000; default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// An open condition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alert {
    /// What it is, in words.
    pub message: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// Since when (RFC 3339).
    pub since: Option<String>,
}

/// One printer in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterDetail {
    /// The summary, as in the list.
    pub printer: PrinterSummary,
    /// Firmware version.
    pub firmware: Option<String>,
    /// Its sysObjectID.
    pub sys_object_id: Option<String>,
    /// When it was first seen (RFC 3339).
    pub first_seen: Option<String>,
    /// Every counter of the latest read (carried forward).
    pub counters: HashMap<String, i64>,
    /// The latest full reading as read (see docs/reading.md).
    #[schema(value_type = Option<Object>)]
    pub reading: Option<serde_json::Value>,
    /// Conditions open now.
    pub alerts: Vec<Alert>,
    /// The latest events, newest first.
    pub events: Vec<EventItem>,
    /// Addresses it has had, newest first.
    pub addresses: Vec<AddressSpan>,
    /// For a 3D printer: whether a key is kept for it in the secret store
    /// (never the key). Absent for other printers.
    pub key_set: Option<bool>,
}

/// An address a printer had.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressSpan {
    /// `host:port`.
    pub address: String,
    /// First seen there (RFC 3339).
    pub first_seen: Option<String>,
    /// Last seen there (RFC 3339).
    pub last_seen: Option<String>,
}

/// A credential for a request: a configured profile by name, or one given
/// here (write-only: never returned).
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// A configured credential profile, by name.
    pub profile: Option<String>,
    /// `1`, `2c` (default) or `3`, for a credential given here.
    pub version: Option<String>,
    /// The community (v1, v2c).
    #[schema(value_type = Option<String>, format = Password)]
    pub community: Option<Secret>,
    /// The USM user (v3).
    pub user: Option<String>,
    /// `md5`, `sha`, `sha224`, `sha256`, `sha384`, `sha512` (v3).
    pub auth_protocol: Option<String>,
    /// The authentication passphrase (v3).
    #[schema(value_type = Option<String>, format = Password)]
    pub auth_passphrase: Option<Secret>,
    /// `des`, `aes`, `aes192`, `aes256` (v3).
    pub privacy_protocol: Option<String>,
    /// The privacy passphrase (v3).
    #[schema(value_type = Option<String>, format = Password)]
    pub privacy_passphrase: Option<Secret>,
    /// SNMP context (v3), or community indexing (v1/v2c).
    pub context: Option<String>,
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialInput")
            .field("profile", &self.profile)
            .field("version", &self.version)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Add a printer by address or host name (SNMP), or by its URL (IPP, 3D printers).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPrinter {
    /// `host`, `host:port`, an IPv4 or IPv6 address, or a host name (SNMP);
    /// or a printer URL: `ipp://host[:port]/path`, `ipps://…`,
    /// `octoprint://host[:port]`, `moonraker://…`, `prusalink://[user@]host`,
    /// `bambu://SERIAL@host`, `ultimaker://host`.
    #[schema(example = "192.168.1.20")]
    pub address: String,
    /// The SNMP credential; default: the configured profiles in order.
    /// Not for URLs.
    pub credential: Option<CredentialInput>,
    /// A 3D printer's API key, access code or password (write-only: kept in
    /// the secret store, never returned). Default: the key already kept for
    /// that printer, if any.
    #[schema(value_type = Option<String>, format = Password)]
    pub key: Option<Secret>,
    /// A name for it.
    pub name: Option<String>,
    /// Where it is.
    pub location: Option<String>,
    /// Add it even if it does not answer now (it will be tried on schedule).
    #[serde(default)]
    pub anyway: bool,
}

/// Read a printer once, storing nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestPrinter {
    /// `host`, `host:port` or a host name (SNMP), or a printer URL (see
    /// [`AddPrinter::address`]).
    pub address: String,
    /// The SNMP credential; default: the configured profiles in order.
    pub credential: Option<CredentialInput>,
    /// A 3D printer's key for this read (write-only; not stored). Default:
    /// the key kept for that printer, if any.
    #[schema(value_type = Option<String>, format = Password)]
    pub key: Option<Secret>,
}

/// What a test read found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether the printer answered.
    pub ok: bool,
    /// The address asked.
    pub address: Option<String>,
    /// The credential that worked (its name).
    pub credential: Option<String>,
    /// How long the read took.
    pub elapsed_ms: u64,
    /// The reading (see docs/reading.md), when it answered.
    #[schema(value_type = Option<Object>)]
    pub reading: Option<serde_json::Value>,
    /// Why not, when it did not.
    pub error: Option<crate::error::ErrorDetail>,
}

/// Change a printer's labels: a string sets, `""` clears, absent leaves it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPrinter {
    /// A name for it.
    pub name: Option<String>,
    /// Where it is.
    pub location: Option<String>,
}

/// A period for history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// From (YYYY-MM-DD or RFC 3339); default: 30 days ago.
    pub from: Option<String>,
    /// To (YYYY-MM-DD, inclusive, or RFC 3339); default: now.
    pub to: Option<String>,
}

/// A printer's counters and supplies over time, for charts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrinterHistory {
    /// The printer.
    pub id: i64,
    /// Counters at each full read, oldest first.
    pub counters: Vec<CounterPoint>,
    /// Supply levels at each full read, oldest first.
    pub supplies: Vec<SupplyPoint>,
    /// Status changes, oldest first.
    pub status: Vec<StatusPoint>,
}

/// Counters at one read.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterPoint {
    /// When (RFC 3339).
    pub at: Option<String>,
    /// Counter name → value.
    pub counters: HashMap<String, i64>,
    /// Counters that went backwards at this read.
    pub regressed: Vec<String>,
}

/// Supply levels at one read.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyPoint {
    /// When (RFC 3339).
    pub at: Option<String>,
    /// The supplies.
    pub supplies: Vec<SupplyBar>,
}

/// A status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusPoint {
    /// When (RFC 3339).
    pub at: Option<String>,
    /// `ok`, `warning`, `error`, `unknown`.
    pub status: String,
    /// The printer's words (device and printer status, errors, alerts).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Every monitored printer with its latest reading in brief.
#[utoipa::path(
    get,
    path = "/api/v1/printers",
    tag = "printers",
    responses((status = 200, description = "the printers, by id", body = Vec<PrinterSummary>))
)]
pub async fn list(State(ctx): State<AppState>) -> Result<axum::response::Response, ApiError> {
    use std::sync::atomic::Ordering;
    let json = |body| {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    };
    if ctx.list_rebuilding.load(Ordering::Acquire)
        && let Ok(cache) = ctx.list_cache.lock()
        && let Some((_, body)) = cache.as_ref()
    {
        return Ok(json(body.clone()));
    }
    let c = ctx.clone();
    let body = ctx
        .read(move |store| {
            // The encoded list is kept until the database changes: polls
            // commit a few times a second, the UI asks every few seconds.
            let version = store.data_version().map_err(store_error)?;
            if let Ok(cache) = c.list_cache.lock()
                && let Some((v, body)) = cache.as_ref()
                && *v == version
            {
                return Ok(body.clone());
            }
            c.list_rebuilding.store(true, Ordering::Release);
            let rebuilt = (|| {
                let devices = store.devices(false).map_err(store_error)?;
                let alerts = open_alert_counts(store)?;
                let out = {
                    let mut cache = c
                        .summaries
                        .lock()
                        .map_err(|_| ApiError::internal("the cache is unavailable"))?;
                    let mut out = Vec::with_capacity(devices.len());
                    for d in &devices {
                        let summary = summary_of(store, &mut cache, d)?;
                        out.push(summarise(
                            d,
                            &summary,
                            alerts.get(&d.id).copied().unwrap_or(0),
                            fab_of(store, d)?,
                        ));
                    }
                    out
                };
                let body = axum::body::Bytes::from(
                    serde_json::to_vec(&out).map_err(|e| ApiError::internal(e.to_string()))?,
                );
                if let Ok(mut cache) = c.list_cache.lock() {
                    *cache = Some((version, body.clone()));
                }
                Ok(body)
            })();
            c.list_rebuilding.store(false, Ordering::Release);
            rebuilt
        })
        .await?;
    Ok(json(body))
}

/// Adds a printer: reads it once (refusing one that does not answer unless
/// `anyway`), then monitors it.
#[utoipa::path(
    post,
    path = "/api/v1/printers",
    tag = "printers",
    request_body = AddPrinter,
    responses(
        (status = 201, description = "added (or already known: then updated)", body = PrinterDetail),
        (status = 400, description = "bad address or credential", body = crate::error::ErrorBody),
        (status = 422, description = "the printer did not answer or refused the key (see `anyway`; codes `no_answer`, `fab_rejected`, `fab_needs_key`, `ipp_…`), or the URL is not one PrintScout reads (`bad_url`)", body = crate::error::ErrorBody),
        (status = 503, description = "the key could not be kept in the secret store (`secret_store_failed`)", body = crate::error::ErrorBody)
    )
)]
pub async fn add(
    State(ctx): State<AppState>,
    Json(req): Json<AddPrinter>,
) -> Result<(StatusCode, Json<PrinterDetail>), ApiError> {
    if let Some(target) = url_target(&req.address)? {
        return add_url(ctx, req, target).await;
    }
    if req.key.is_some() {
        return Err(key_not_used());
    }
    let config = ctx.config()?;
    let creds = credentials(&config, req.credential.as_ref())?;
    let addr = resolve(&req.address, config.snmp.port).await?;
    let added_as = printscout_engine::discovery::targets::host_name(&req.address);
    let found = match read_once(addr, &creds, config.snmp.timeout).await {
        Ok((reading, cred)) => Some((reading, cred)),
        Err(_) if req.anyway => None,
        Err(e) => return Err(refused("no_answer", e.to_string())),
    };
    let unread = found.is_none();
    let rules = printscout_engine::collector::rules_from(&config);
    let name = req.name.filter(|s| !s.trim().is_empty());
    let location = req.location.filter(|s| !s.trim().is_empty());
    let single = (creds.len() == 1).then(|| creds[0].clone());
    let (id, events) = ctx
        .write(move |store| {
            let rec = store
                .add_device(
                    &addr.to_string(),
                    added_as.as_deref(),
                    found,
                    (name.as_deref(), location.as_deref()),
                    &rules,
                )
                .map_err(store_error)?;
            let id = rec
                .device_id
                .ok_or_else(|| ApiError::internal("the printer was not stored"))?;
            if unread && let Some(c) = &single {
                store.set_credential(id, c).map_err(store_error)?;
            }
            Ok((id, rec.events))
        })
        .await?;
    ctx.collector.publish(events);
    let detail = detail_of(&ctx, id).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Reads a printer once and returns the reading or the error; stores nothing.
#[utoipa::path(
    post,
    path = "/api/v1/printers/test",
    tag = "printers",
    request_body = TestPrinter,
    responses(
        (status = 200, description = "the reading, or why there is none (`ok: false`)", body = TestResult),
        (status = 400, description = "bad address or credential", body = crate::error::ErrorBody),
        (status = 422, description = "the URL is not one PrintScout reads (`bad_url`), or a key or credential that does not fit the address", body = crate::error::ErrorBody)
    )
)]
pub async fn test(
    State(ctx): State<AppState>,
    Json(req): Json<TestPrinter>,
) -> Result<Json<TestResult>, ApiError> {
    if let Some(target) = url_target(&req.address)? {
        if req.credential.is_some() {
            return Err(credential_not_used());
        }
        if req.key.is_some() && matches!(target, UrlTarget::Ipp(..)) {
            return Err(ipp_takes_no_key());
        }
        let key = key_for(&ctx, &target, req.key);
        let started = Instant::now();
        let (reading, error) = match read_url(&target, key).await {
            Ok(r) => (serde_json::to_value(&r).ok(), None),
            Err(e) => (None, Some(e.into())),
        };
        return Ok(Json(TestResult {
            ok: error.is_none(),
            address: Some(target.url()),
            credential: None,
            elapsed_ms: elapsed(started),
            reading,
            error,
        }));
    }
    if req.key.is_some() {
        return Err(key_not_used());
    }
    let config = ctx.config()?;
    let creds = credentials(&config, req.credential.as_ref())?;
    let started = Instant::now();
    let addr = match resolve(&req.address, config.snmp.port).await {
        Ok(a) => a,
        Err(e) => {
            return Ok(Json(TestResult {
                ok: false,
                address: None,
                credential: None,
                elapsed_ms: elapsed(started),
                reading: None,
                error: Some(e.body().error),
            }));
        }
    };
    Ok(Json(
        match read_once(addr, &creds, config.snmp.timeout).await {
            Ok((reading, cred)) => TestResult {
                ok: true,
                address: Some(addr.to_string()),
                credential: Some(cred.name().to_string()),
                elapsed_ms: elapsed(started),
                reading: serde_json::to_value(&reading).ok(),
                error: None,
            },
            Err(e) => TestResult {
                ok: false,
                address: Some(addr.to_string()),
                credential: None,
                elapsed_ms: elapsed(started),
                reading: None,
                error: Some(crate::error::ErrorDetail {
                    code: read_error_code(&e).into(),
                    message: e.to_string(),
                }),
            },
        },
    ))
}

/// One printer with its latest reading, open alerts and recent events.
#[utoipa::path(
    get,
    path = "/api/v1/printers/{id}",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id")),
    responses(
        (status = 200, description = "the printer", body = PrinterDetail),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn one(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PrinterDetail>, ApiError> {
    Ok(Json(detail_of(&ctx, id).await?))
}

/// Sets or clears a printer's name and location.
#[utoipa::path(
    patch,
    path = "/api/v1/printers/{id}",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id")),
    request_body = EditPrinter,
    responses(
        (status = 200, description = "the printer after the change", body = PrinterDetail),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn edit(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
    Json(req): Json<EditPrinter>,
) -> Result<Json<PrinterDetail>, ApiError> {
    for (key, v) in [("name", &req.name), ("location", &req.location)] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(ApiError::unprocessable(format!(
                "{key} is longer than 200 characters"
            )));
        }
    }
    ctx.write(move |store| {
        exists(store, id)?;
        store
            .set_labels(id, req.name.as_deref(), req.location.as_deref())
            .map_err(store_error)
    })
    .await?;
    Ok(Json(detail_of(&ctx, id).await?))
}

/// Stops monitoring a printer; its history stays in reports.
#[utoipa::path(
    delete,
    path = "/api/v1/printers/{id}",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id")),
    responses(
        (status = 204, description = "removed"),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn remove(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    ctx.write(move |store| {
        exists(store, id)?;
        store
            .remove_device(id, printscout_engine::store::now_ms())
            .map_err(store_error)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A printer's counters, supplies and status over a period, for charts.
#[utoipa::path(
    get,
    path = "/api/v1/printers/{id}/history",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id"), Period),
    responses(
        (status = 200, description = "the history, oldest first", body = PrinterHistory),
        (status = 400, description = "a bad date", body = crate::error::ErrorBody),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn history(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
    Query(period): Query<Period>,
) -> Result<Json<PrinterHistory>, ApiError> {
    let now = printscout_engine::store::now_ms();
    let (from, to) = super::period(period.from.as_deref(), period.to.as_deref())?;
    let to = to.unwrap_or(now + 1);
    let from = from.unwrap_or(to - 30 * 86_400_000);
    let h = ctx
        .read(move |store| {
            exists(store, id)?;
            store.history(id, Some(from), Some(to)).map_err(store_error)
        })
        .await?;
    Ok(Json(PrinterHistory {
        id,
        counters: h
            .readings
            .iter()
            .map(|p| CounterPoint {
                at: time(Some(p.at)),
                counters: p.counters.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                regressed: p.regressed.clone(),
            })
            .collect(),
        supplies: h
            .readings
            .iter()
            .map(|p| SupplyPoint {
                at: time(Some(p.at)),
                supplies: stored_supplies(&p.supplies),
            })
            .collect(),
        status: h
            .status
            .into_iter()
            .map(|s| StatusPoint {
                at: time(Some(s.at)),
                status: s.status,
                detail: s.detail,
            })
            .collect(),
    }))
}

/// Reads a printer in full as soon as it is free.
#[utoipa::path(
    post,
    path = "/api/v1/printers/{id}/poll",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id")),
    responses(
        (status = 202, description = "queued; watch the event stream or the printer"),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn poll(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    ctx.read(move |store| exists(store, id)).await?;
    ctx.collector.poll_now(id);
    Ok(StatusCode::ACCEPTED)
}

/// 404 unless a (not removed) device `id` exists.
fn exists(store: &Store, id: i64) -> Result<DeviceRecord, ApiError> {
    store
        .device(id)
        .map_err(store_error)?
        .filter(|d| !d.removed)
        .ok_or_else(|| ApiError::not_found(format!("no printer {id}")))
}

async fn detail_of(ctx: &AppState, id: i64) -> Result<PrinterDetail, ApiError> {
    let c = ctx.clone();
    ctx.read(move |store| {
        let d = exists(store, id)?;
        let reading = store.latest_reading(id).map_err(store_error)?;
        let alerts: Vec<Alert> = store
            .open_alerts(id)
            .map_err(store_error)?
            .into_iter()
            .map(|(severity, message, since)| Alert {
                message,
                severity,
                since: time(Some(since)),
            })
            .collect();
        let events = store
            .device_events(id, 50)
            .map_err(store_error)?
            .into_iter()
            .map(EventItem::from)
            .collect();
        let addresses = store
            .addresses(id)
            .map_err(store_error)?
            .into_iter()
            .map(|(address, first, last)| AddressSpan {
                address,
                first_seen: time(Some(first)),
                last_seen: time(Some(last)),
            })
            .collect();
        let summary = {
            let mut cache = c
                .summaries
                .lock()
                .map_err(|_| ApiError::internal("the cache is unavailable"))?;
            summary_of(store, &mut cache, &d)?
        };
        let fab = if d.is_3d_printer() {
            reading.as_ref().and_then(fab_view)
        } else {
            None
        };
        let key_set = match FabTarget::parse(d.address.as_deref().unwrap_or_default()) {
            Ok(t) if d.is_3d_printer() => {
                Some(c.secrets.is_set(&printer_key_name_of(&t)).unwrap_or(false))
            }
            _ => None,
        };
        let mut printer = summarise(&d, &summary, alerts.len(), fab);
        printer.open_alerts = alerts.len();
        Ok(PrinterDetail {
            printer,
            firmware: d.firmware.clone(),
            sys_object_id: d.sys_object_id.clone(),
            first_seen: time(Some(d.first_seen)),
            counters: d
                .counters
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect(),
            reading,
            alerts,
            events,
            addresses,
            key_set,
        })
    })
    .await
}

fn summarise(
    d: &DeviceRecord,
    s: &Summary,
    open_alerts: usize,
    fab: Option<FabView>,
) -> PrinterSummary {
    PrinterSummary {
        id: d.id,
        display_name: d.display_name(),
        name: d.name.clone().filter(|n| !n.is_empty()),
        location: d.shown_location(),
        vendor: d.vendor.clone(),
        model: d.model.clone(),
        serial: d.serial.clone(),
        mac: d.mac.clone(),
        address: d.address.clone(),
        added_as: d.added_as.clone(),
        status: if d.offline {
            "offline".into()
        } else {
            d.status.clone().unwrap_or_else(|| "unknown".into())
        },
        offline: d.offline,
        last_error: d.last_error.clone(),
        last_seen: time(d.last_seen),
        last_read: time(d.last_meters),
        credential: d.credential_name.clone(),
        total_pages: d
            .counters
            .get("total")
            .and_then(|v| v.as_i64())
            .or(s.total_pages),
        supplies: s.supplies.clone(),
        open_alerts,
        protocol: d.protocol.clone(),
        fab,
    }
}

/// The cached summary of a device's latest full read, refreshed when a newer
/// read exists.
fn summary_of(
    store: &Store,
    cache: &mut crate::state::SummaryCache,
    d: &DeviceRecord,
) -> Result<Arc<Summary>, ApiError> {
    if let Some((at, s)) = cache.get(&d.id)
        && *at == d.last_meters
    {
        return Ok(s.clone());
    }
    let reading = store.latest_reading(d.id).map_err(store_error)?;
    let s = Arc::new(Summary {
        supplies: reading
            .as_ref()
            .and_then(|r| r.get("supplies"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(read_supply).collect())
            .unwrap_or_default(),
        total_pages: reading
            .as_ref()
            .and_then(|r| r.pointer("/counters/total"))
            .and_then(|v| v.as_i64()),
    });
    cache.insert(d.id, (d.last_meters, s.clone()));
    Ok(s)
}

/// A supply from a reading (long field names).
fn read_supply(v: &serde_json::Value) -> SupplyBar {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    SupplyBar {
        name: s("description").unwrap_or_default(),
        kind: s("kind"),
        color: s("color"),
        percent: v.get("percent").and_then(|x| x.as_f64()),
        // A reading keeps the state as `{"state": "percent", "value": 62.0}`.
        state: v
            .get("state")
            .map(|x| x.get("state").unwrap_or(x))
            .and_then(|x| x.as_str())
            .map(str::to_string),
    }
}

/// Supplies as the history stores them (short keys, see `store::report`).
fn stored_supplies(v: &serde_json::Value) -> Vec<SupplyBar> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let s = |k: &str| x.get(k).and_then(|y| y.as_str()).map(str::to_string);
                    SupplyBar {
                        name: s("d").unwrap_or_default(),
                        kind: s("k"),
                        color: s("c"),
                        percent: x.get("p").and_then(|y| y.as_f64()),
                        state: s("s"),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn open_alert_counts(store: &Store) -> Result<HashMap<i64, usize>, ApiError> {
    let mut st = store
        .connection()
        .prepare_cached(
            "SELECT device_id, count(*) FROM alerts WHERE cleared_at IS NULL GROUP BY device_id",
        )
        .map_err(|e| store_error(e.into()))?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(|e| store_error(e.into()))?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, n) = row.map_err(|e| store_error(e.into()))?;
        out.insert(id, usize::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// The credentials a request asks for: a profile, one given inline, or the
/// configured list.
pub(crate) fn credentials(
    config: &printscout_engine::config::Config,
    input: Option<&CredentialInput>,
) -> Result<Vec<Credential>, ApiError> {
    let configured = || {
        config
            .effective_credentials()
            .map_err(|e| ApiError::internal(e.to_string()))
    };
    let Some(input) = input else {
        return configured();
    };
    if let Some(profile) = &input.profile {
        let inline = input.version.is_some()
            || input.community.is_some()
            || input.user.is_some()
            || input.auth_passphrase.is_some()
            || input.privacy_passphrase.is_some();
        if inline {
            return Err(ApiError::bad_request(
                "give either a credential profile or a credential, not both",
            ));
        }
        return configured()?
            .into_iter()
            .find(|c| c.name() == profile)
            .map(|c| vec![c])
            .ok_or_else(|| {
                ApiError::unprocessable(format!("there is no credential profile '{profile}'"))
            });
    }
    let version = input.version.clone().unwrap_or_else(|| "2c".into());
    let name = match (&version[..], &input.user) {
        ("3", Some(u)) => format!("v3 user {u}"),
        _ => format!("v{version} community"),
    };
    let cfg = CredentialConfig {
        name,
        version,
        community: input.community.clone(),
        user: input.user.clone(),
        auth_protocol: input.auth_protocol.clone(),
        auth_passphrase: input.auth_passphrase.clone(),
        privacy_protocol: input.privacy_protocol.clone(),
        privacy_passphrase: input.privacy_passphrase.clone(),
        context: input.context.clone(),
    };
    cfg.to_credential()
        .map(|c| vec![c])
        .map_err(|e| ApiError::unprocessable(format!("the credential is not valid: {e}")))
}

async fn read_once(
    addr: SocketAddr,
    creds: &[Credential],
    timeout: Duration,
) -> Result<(printscout_engine::printer::Reading, Credential), printscout_engine::printer::ReadError>
{
    let transport = SnmpTransport::new(0);
    let options = SnmpOptions {
        timeout,
        retries: 1,
        ..SnmpOptions::default()
    };
    let reading = read_device(&transport, addr, creds, &options).await?;
    let cred = creds
        .iter()
        .find(|c| Some(c.name()) == reading.credential.as_deref())
        .or(creds.first())
        .cloned()
        .ok_or(printscout_engine::printer::ReadError::NoCredentials)?;
    Ok((reading, cred))
}

fn read_error_code(e: &printscout_engine::printer::ReadError) -> &'static str {
    use printscout_engine::printer::ReadError;
    match e {
        ReadError::NoAnswer { .. } => "no_answer",
        ReadError::Auth { .. } => "credential_rejected",
        ReadError::Snmp { .. } => "snmp_error",
        ReadError::NoCredentials => "no_credentials",
    }
}

fn elapsed(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `host`, `host:port`, `[v6]:port` or a name → one socket address.
pub(crate) async fn resolve(target: &str, default_port: u16) -> Result<SocketAddr, ApiError> {
    let t = target.trim();
    if t.is_empty() || t.len() > 260 || t.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(ApiError::bad_request(format!(
            "'{t}' is not an address or host name"
        )));
    }
    let addr = printscout_engine::discovery::targets::resolve_one(t, default_port)
        .await
        .map_err(|e| refused("name_unresolved", e.to_string()))?;
    if addr.port() == 0 {
        return Err(ApiError::bad_request(format!(
            "'{t}': port 0 is not a port"
        )));
    }
    Ok(addr)
}

/// 422 with a specific code.
fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

// ---------------------------------------------------------------------------
// Printers by URL: IPP and 3D printers

/// A printer given by its URL.
enum UrlTarget {
    /// IPP: the protocol (`ipp`, `ipps`) and the printer URI.
    Ipp(&'static str, String),
    /// A 3D printer.
    Fab(FabTarget),
}

impl UrlTarget {
    /// The name stored in `devices.protocol`.
    fn protocol(&self) -> &'static str {
        match self {
            UrlTarget::Ipp(p, _) => p,
            UrlTarget::Fab(t) => t.protocol.scheme(),
        }
    }

    /// The address as stored and polled (normalised, without secrets).
    fn url(&self) -> String {
        match self {
            UrlTarget::Ipp(_, url) => url.clone(),
            UrlTarget::Fab(t) => t.url(),
        }
    }
}

/// The URL schemes a printer may be added by.
const URL_SCHEMES: &str =
    "ipp://, ipps://, octoprint://, moonraker://, prusalink://, bambu:// or ultimaker://";

/// `None` for an SNMP address (no `://`); the parsed URL; or 422 `bad_url`
/// saying why in words (never echoing a password).
fn url_target(address: &str) -> Result<Option<UrlTarget>, ApiError> {
    use printscout_engine::printer::fab::FabProtocol;
    use printscout_engine::printer::ipp::IppTarget;
    let text = address.trim();
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(None);
    };
    let bad = |message: String| refused("bad_url", message);
    if text.len() > 1000 {
        return Err(bad("the address is longer than 1,000 characters".into()));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
    {
        return Err(bad(format!(
            "{scheme}://…: do not put a password or key in the address; give it in the key field"
        )));
    }
    let scheme_lc = scheme.to_ascii_lowercase();
    match scheme_lc.as_str() {
        "ipp" | "ipps" | "http" | "https" => {
            let t = IppTarget::parse(text).map_err(|e| bad(e.to_string()))?;
            Ok(Some(UrlTarget::Ipp(
                if t.tls { "ipps" } else { "ipp" },
                t.printer_uri,
            )))
        }
        s if FabProtocol::from_scheme(s).is_some() => FabTarget::parse(text)
            .map(|t| Some(UrlTarget::Fab(t)))
            .map_err(|e| bad(e.to_string())),
        _ => {
            let shown: String = scheme.chars().take(40).collect();
            Err(bad(format!(
                "{shown}:// is not a kind of printer address PrintScout reads: use {URL_SCHEMES}, or an IP address or host name for SNMP"
            )))
        }
    }
}

/// The key for a 3D printer: the one given, else the one kept for it.
fn key_for(ctx: &AppState, target: &UrlTarget, given: Option<Secret>) -> Option<Secret> {
    let UrlTarget::Fab(t) = target else {
        return None;
    };
    given.filter(|k| !k.expose().is_empty()).or_else(|| {
        ctx.secrets
            .get(&printer_key_name_of(t))
            .map_err(|e| tracing::warn!(target = %t.url(), "cannot read the printer's key: {e}"))
            .ok()
            .flatten()
    })
}

/// Why a printer at a URL could not be read: its stable code and words.
#[derive(Debug)]
struct UrlReadError {
    code: &'static str,
    message: String,
}

impl From<UrlReadError> for crate::error::ErrorDetail {
    fn from(e: UrlReadError) -> Self {
        crate::error::ErrorDetail {
            code: e.code.into(),
            message: e.message,
        }
    }
}

/// Reads a printer at its URL once.
async fn read_url(
    target: &UrlTarget,
    key: Option<Secret>,
) -> Result<printscout_engine::printer::Reading, UrlReadError> {
    use printscout_engine::printer::ipp::{IppOptions, read_ipp};
    let detail = |code: &'static str, message: String| UrlReadError { code, message };
    match target {
        UrlTarget::Ipp(_, url) => read_ipp(url, &IppOptions::default())
            .await
            .map_err(|e| detail(e.code(), e.to_string())),
        UrlTarget::Fab(t) => {
            let options = FabOptions {
                key,
                ..FabOptions::default()
            };
            read_fab(t, &options)
                .await
                .map_err(|e| detail(e.code(), e.to_string()))
        }
    }
}

fn key_not_used() -> ApiError {
    refused(
        "key_not_used",
        "a key is for a 3D printer given by its URL (octoprint://…, prusalink://…); an SNMP printer takes a community or an SNMPv3 credential",
    )
}

fn ipp_takes_no_key() -> ApiError {
    refused(
        "key_not_used",
        "an IPP printer is read without a key; leave the key empty",
    )
}

fn credential_not_used() -> ApiError {
    refused(
        "credential_not_used",
        "an SNMP credential is not used for a printer given by its URL; a 3D printer takes a key",
    )
}

/// `POST /printers` with a URL: reads it (with the key), keeps the key in
/// the secret store, then adds the device.
async fn add_url(
    ctx: AppState,
    req: AddPrinter,
    target: UrlTarget,
) -> Result<(StatusCode, Json<PrinterDetail>), ApiError> {
    if req.credential.is_some() {
        return Err(credential_not_used());
    }
    if req.key.is_some() && matches!(target, UrlTarget::Ipp(..)) {
        return Err(ipp_takes_no_key());
    }
    let config = ctx.config()?;
    let given = req.key.filter(|k| !k.expose().is_empty());
    let key = key_for(&ctx, &target, given.clone());
    let found = match read_url(&target, key).await {
        Ok(reading) => Some(reading),
        Err(_) if req.anyway => None,
        Err(e) => {
            let code = match e.code {
                "fab_bad_url" | "ipp_bad_url" => "bad_url",
                code => code,
            };
            return Err(refused(code, e.message));
        }
    };
    // The key is kept once the printer is added (and only then).
    if let (UrlTarget::Fab(t), Some(k)) = (&target, &given) {
        ctx.secrets.set(&printer_key_name_of(t), k).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secret_store_failed",
                format!(
                    "the printer's key could not be kept in {}: {e}",
                    ctx.secrets.location()
                ),
            )
        })?;
    }
    let native_history = matches!(&target, UrlTarget::Fab(t) if t.protocol.has_native_history());
    let rules = printscout_engine::collector::rules_from(&config);
    let name = req.name.filter(|s| !s.trim().is_empty());
    let location = req.location.filter(|s| !s.trim().is_empty());
    let (protocol, url) = (target.protocol(), target.url());
    let (id, events) = ctx
        .write(move |store| {
            let rec = store
                .add_printer_url(
                    protocol,
                    &url,
                    found,
                    (name.as_deref(), location.as_deref()),
                    &rules,
                )
                .map_err(store_error)?;
            let id = rec
                .device_id
                .ok_or_else(|| ApiError::internal("the printer was not stored"))?;
            Ok((id, rec.events))
        })
        .await?;
    ctx.collector.publish(events);
    if native_history {
        // A full read now brings the printer's own job history in.
        ctx.collector.poll_now(id);
    }
    let detail = detail_of(&ctx, id).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A 3D printer's jobs, newest first (empty for other printers).
#[utoipa::path(
    get,
    path = "/api/v1/printers/{id}/jobs",
    tag = "printers",
    params(("id" = i64, Path, description = "the printer's id"), JobsQuery),
    responses(
        (status = 200, description = "the jobs, newest first", body = PrinterJobs),
        (status = 400, description = "a limit outside 1–1000", body = crate::error::ErrorBody),
        (status = 404, description = "no such printer", body = crate::error::ErrorBody)
    )
)]
pub async fn jobs(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<PrinterJobs>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to 1000, not {limit}"
        )));
    }
    let jobs = ctx
        .read(move |store| {
            exists(store, id)?;
            device_jobs(store, id, limit)
        })
        .await?;
    Ok(Json(PrinterJobs { id, jobs }))
}

fn device_jobs(store: &Store, id: i64, limit: u32) -> Result<Vec<JobItem>, ApiError> {
    let jobs = store.device_jobs(id, limit).map_err(store_error)?;
    Ok(jobs
        .into_iter()
        .map(|j| JobItem {
            key: j.job_key,
            name: j.name,
            started_at: time(j.started_at),
            ended_at: time(j.ended_at),
            duration_s: j.duration_s,
            result: j.result,
            material: j.material,
            synthesised: j.synthesised,
            running: j.ended_at.is_none(),
        })
        .collect())
}

/// The `fab` part of a stored reading (the engine's `FabStatus`); a reading
/// stored without one, or one that no longer parses, shows none.
fn fab_view(reading: &serde_json::Value) -> Option<FabView> {
    let fab: FabStatus = serde_json::from_value(reading.get("fab")?.clone()).ok()?;
    Some(FabView {
        state: fab.state.as_str().to_owned(),
        state_text: Some(fab.state_text).filter(|t| !t.is_empty()),
        job: fab.job.map(|j| FabJobView {
            id: j.id,
            name: j.name,
            progress_percent: j.progress_percent.filter(|p| p.is_finite()),
            elapsed_s: j.elapsed_s,
            remaining_s: j.remaining_s,
            started_at: time(j.started_at.map(|s| s.saturating_mul(1000))),
            material: j.material,
        }),
        temperatures: fab
            .temperatures
            .into_iter()
            .map(|t| TemperatureView {
                name: t.name,
                actual: t.actual,
                target: t.target,
            })
            .collect(),
        errors: fab.errors,
    })
}

/// A 3D printer's state from its latest reading (one query; other devices: none).
fn fab_of(store: &Store, d: &DeviceRecord) -> Result<Option<FabView>, ApiError> {
    if !d.is_3d_printer() {
        return Ok(None);
    }
    Ok(store
        .latest_reading(d.id)
        .map_err(store_error)?
        .as_ref()
        .and_then(fab_view))
}
