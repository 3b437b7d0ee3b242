//! `/api/v1/printers`: the list with each printer's latest reading in brief,
//! one printer in full with its history for charts, adding (after reading it
//! once), a "test" read that stores nothing, editing the labels, removing,
//! and asking for a poll now.
//!
//! Invariants:
//! - a credential given here is used for the read and stored with the device
//!   (in the database, which is 0600) — it is never echoed: answers name the
//!   credential only;
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
use printscout_engine::printer::read_device;
use printscout_engine::secret::Secret;
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
    /// Where it answers now (`host:port`).
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

/// Add a printer by address or host name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPrinter {
    /// `host`, `host:port`, an IPv4 or IPv6 address, or a host name.
    #[schema(example = "192.168.1.20")]
    pub address: String,
    /// The credential; default: the configured profiles in order.
    pub credential: Option<CredentialInput>,
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
    /// `host`, `host:port` or a host name.
    pub address: String,
    /// The credential; default: the configured profiles in order.
    pub credential: Option<CredentialInput>,
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
        (status = 422, description = "the printer did not answer (see `anyway`)", body = crate::error::ErrorBody)
    )
)]
pub async fn add(
    State(ctx): State<AppState>,
    Json(req): Json<AddPrinter>,
) -> Result<impl IntoResponse, ApiError> {
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
        (status = 400, description = "bad address or credential", body = crate::error::ErrorBody)
    )
)]
pub async fn test(
    State(ctx): State<AppState>,
    Json(req): Json<TestPrinter>,
) -> Result<Json<TestResult>, ApiError> {
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
        let mut printer = summarise(&d, &summary, alerts.len());
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
        })
    })
    .await
}

fn summarise(d: &DeviceRecord, s: &Summary, open_alerts: usize) -> PrinterSummary {
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
