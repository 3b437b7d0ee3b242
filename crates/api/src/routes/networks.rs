//! `/api/v1/networks` and `/api/v1/scans`: the networks a user may pick
//! (this computer's subnets, and those the default gateway knows), which are
//! selected for rediscovery, and scans started from the UI with their
//! progress.
//!
//! Invariants:
//! - listing sends no packet: the gateway is asked only on
//!   `POST /networks/gateway`, and its answer is kept for later listings;
//! - at most one scan runs at a time (a second is 409); its progress is kept
//!   here and streamed as `scan` events; printers it finds are recorded
//!   like rediscovered ones (identity rules, `new_device` events);
//! - a network is selected only after the same checks the configuration
//!   file's `[discovery] networks` get (size, public address space).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use printscout_engine::collector::poller::Rediscovery;
use printscout_engine::discovery::ScanEvent;
use printscout_engine::discovery::candidates::candidates;
use printscout_engine::discovery::interfaces::local_interfaces;
use printscout_engine::discovery::targets::{Consent, check};
use printscout_engine::snmp::SnmpOptions;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::store::{PollKind, PollOutcome, PollResult};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::settings::change_config;
use super::time;
use crate::error::{ApiError, Json, Path};
use crate::state::{AppState, store_error};

/// The meta key under which the gateway's last answer is kept.
const GATEWAY_META: &str = "api_gateway_networks";
/// Finished scans kept for `GET /scans`.
const KEEP_SCANS: usize = 10;

/// A network the user may select.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NetworkItem {
    /// The network (CIDR).
    #[schema(example = "192.168.1.0/24")]
    pub network: String,
    /// `interface` (this computer is on it), `gateway` (the gateway knows
    /// it) or `custom` (selected by hand).
    pub source: String,
    /// The interface (ours, or the gateway's).
    pub interface: Option<String>,
    /// Hosts the gateway's ARP table shows in it.
    pub hosts_seen: usize,
    /// Whether rediscovery covers it.
    pub selected: bool,
}

/// The candidate networks and the selection.
#[derive(Debug, Serialize, ToSchema)]
pub struct Networks {
    /// Candidates first (interfaces, then gateway-learned), then custom ranges.
    pub networks: Vec<NetworkItem>,
    /// The default gateway, when it was asked.
    pub gateway: Option<String>,
    /// When the gateway was last asked (RFC 3339).
    pub gateway_asked: Option<String>,
    /// What went wrong asking it, in words.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct GatewayAnswer {
    at: i64,
    gateway: Option<String>,
    networks: Vec<NetworkItem>,
    notes: Vec<String>,
}

/// The networks rediscovery covers (the whole selection, replaced).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// CIDR blocks, ranges (`a-b`), addresses or host names.
    #[schema(example = json!(["192.168.1.0/24"]))]
    pub networks: Vec<String>,
}

/// Start a scan.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartScan {
    /// What to scan; default: the selected networks.
    pub networks: Option<Vec<String>>,
}

/// A scan and its progress.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScanView {
    /// Its id.
    pub id: u64,
    /// `running`, `finished`, `cancelled` or `failed`.
    pub state: String,
    /// What it covers.
    pub networks: Vec<String>,
    /// Started (RFC 3339).
    pub started: Option<String>,
    /// Ended (RFC 3339).
    pub finished: Option<String>,
    /// Addresses settled so far.
    pub probed: u64,
    /// Addresses in total.
    pub total: u64,
    /// Devices that answered so far.
    pub responders: u64,
    /// Printers read so far.
    pub printers: u64,
    /// Printers found, as they arrive.
    pub found: Vec<FoundItem>,
    /// What the user should know (a method that could not run…).
    pub notes: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A device a scan read.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FoundItem {
    /// Its address.
    pub address: String,
    /// Model, when known.
    pub model: Option<String>,
    /// Whether it is a printer.
    pub is_printer: bool,
    /// The printer's id once recorded.
    pub printer_id: Option<i64>,
}

/// Scans started through the API.
#[derive(Debug, Default)]
pub struct Scans {
    next_id: u64,
    list: VecDeque<ScanView>,
    running: Option<(u64, CancellationToken)>,
}

impl Scans {
    fn get_mut(&mut self, id: u64) -> Option<&mut ScanView> {
        self.list.iter_mut().find(|s| s.id == id)
    }
}

/// The candidate networks (no packets sent) and which are selected.
#[utoipa::path(
    get,
    path = "/api/v1/networks",
    tag = "networks",
    responses((status = 200, description = "candidates and selection", body = Networks))
)]
pub async fn list(State(ctx): State<AppState>) -> Result<Json<Networks>, ApiError> {
    let selected = ctx.config()?.discovery.networks;
    let answer = ctx
        .read(|store| {
            Ok(store
                .meta(GATEWAY_META)
                .map_err(store_error)?
                .and_then(|t| serde_json::from_str::<GatewayAnswer>(&t).ok()))
        })
        .await?;
    Ok(Json(networks(&selected, answer)))
}

/// Replaces the selection of networks that rediscovery covers.
#[utoipa::path(
    put,
    path = "/api/v1/networks/selection",
    tag = "networks",
    request_body = Selection,
    responses(
        (status = 200, description = "the networks with the new selection", body = Networks),
        (status = 422, description = "a network is refused (too large, public, not a network)", body = crate::error::ErrorBody)
    )
)]
pub async fn select(
    State(ctx): State<AppState>,
    Json(sel): Json<Selection>,
) -> Result<Json<Networks>, ApiError> {
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || {
        change_config(
            &c,
            |config| {
                let consent = Consent {
                    large: true,
                    public: config.discovery.allow_public,
                };
                let mut picked: Vec<String> = Vec::new();
                for n in &sel.networks {
                    let n = n.trim().to_string();
                    check(&n, consent).map_err(|e| {
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "invalid_network",
                            e.to_string(),
                        )
                    })?;
                    if !picked.contains(&n) {
                        picked.push(n);
                    }
                }
                config.discovery.networks = picked;
                Ok(())
            },
            &[],
        )
    })
    .await
    .map_err(|_| ApiError::internal("the request failed"))??;
    list(State(ctx)).await
}

/// Asks the default gateway (over SNMP, with the configured credentials) which
/// networks it knows; the answer is kept for later listings.
#[utoipa::path(
    post,
    path = "/api/v1/networks/gateway",
    tag = "networks",
    responses((status = 200, description = "the networks with the gateway's", body = Networks))
)]
pub async fn ask_gateway(State(ctx): State<AppState>) -> Result<Json<Networks>, ApiError> {
    let config = ctx.config()?;
    let creds = config
        .effective_credentials()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let transport = SnmpTransport::new(config.snmp.rate);
    let options = SnmpOptions {
        timeout: config.snmp.timeout,
        retries: config.snmp.retries,
        ..SnmpOptions::default()
    };
    let found = candidates(
        &transport,
        &local_interfaces(),
        &creds,
        &options,
        config.snmp.port,
    )
    .await;
    let answer = GatewayAnswer {
        at: printscout_engine::store::now_ms(),
        gateway: found.gateway.map(|g| g.to_string()),
        networks: found
            .networks
            .iter()
            .filter(|c| c.source == "gateway")
            .map(|c| NetworkItem {
                network: c.network.to_string(),
                source: "gateway".into(),
                interface: c.interface.clone(),
                hosts_seen: c.hosts_seen,
                selected: false,
            })
            .collect(),
        notes: found.notes,
    };
    let text = serde_json::to_string(&answer).unwrap_or_default();
    ctx.write(move |store| store.set_meta(GATEWAY_META, &text).map_err(store_error))
        .await?;
    Ok(Json(networks(&config.discovery.networks, Some(answer))))
}

/// Scans started here, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/scans",
    tag = "networks",
    responses((status = 200, description = "recent scans, newest first", body = Vec<ScanView>))
)]
pub async fn scans(State(ctx): State<AppState>) -> Result<Json<Vec<ScanView>>, ApiError> {
    let scans = ctx
        .scans
        .lock()
        .map_err(|_| ApiError::internal("scans are unavailable"))?;
    Ok(Json(scans.list.iter().rev().cloned().collect()))
}

/// One scan with its progress.
#[utoipa::path(
    get,
    path = "/api/v1/scans/{id}",
    tag = "networks",
    params(("id" = u64, Path, description = "the scan's id")),
    responses(
        (status = 200, description = "the scan", body = ScanView),
        (status = 404, description = "no such scan", body = crate::error::ErrorBody)
    )
)]
pub async fn scan(
    State(ctx): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<ScanView>, ApiError> {
    let mut scans = ctx
        .scans
        .lock()
        .map_err(|_| ApiError::internal("scans are unavailable"))?;
    scans
        .get_mut(id)
        .map(|s| Json(s.clone()))
        .ok_or_else(|| ApiError::not_found(format!("no scan {id}")))
}

/// Starts a scan of the given networks (default: the selected ones);
/// follow it at `/scans/{id}` or on the event stream.
#[utoipa::path(
    post,
    path = "/api/v1/scans",
    tag = "networks",
    request_body = StartScan,
    responses(
        (status = 202, description = "started", body = ScanView),
        (status = 409, description = "a scan is already running", body = crate::error::ErrorBody),
        (status = 422, description = "nothing to scan, or a network is refused", body = crate::error::ErrorBody)
    )
)]
pub async fn start_scan(
    State(ctx): State<AppState>,
    Json(req): Json<StartScan>,
) -> Result<impl IntoResponse, ApiError> {
    let config = ctx.config()?;
    let networks = req
        .networks
        .unwrap_or_else(|| config.discovery.networks.clone());
    let networks: Vec<String> = networks.iter().map(|n| n.trim().to_string()).collect();
    if networks.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_scan",
            "no networks given and none selected: select networks first or name them",
        ));
    }
    let consent = Consent {
        large: true,
        public: config.discovery.allow_public,
    };
    for n in &networks {
        check(n, consent).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_network",
                e.to_string(),
            )
        })?;
    }
    let cancel = CancellationToken::new();
    let view = {
        let mut scans = ctx
            .scans
            .lock()
            .map_err(|_| ApiError::internal("scans are unavailable"))?;
        if let Some((id, _)) = &scans.running {
            return Err(ApiError::conflict(format!("scan {id} is still running")));
        }
        scans.next_id += 1;
        let view = ScanView {
            id: scans.next_id,
            state: "running".into(),
            networks: networks.clone(),
            started: time(Some(printscout_engine::store::now_ms())),
            finished: None,
            probed: 0,
            total: 0,
            responders: 0,
            printers: 0,
            found: Vec::new(),
            notes: Vec::new(),
            error: None,
        };
        scans.running = Some((view.id, cancel.clone()));
        scans.list.push_back(view.clone());
        while scans.list.len() > KEEP_SCANS {
            scans.list.pop_front();
        }
        view
    };
    let what = Rediscovery {
        networks,
        broadcast: config.discovery.broadcast,
        dns_sd: config.discovery.dns_sd,
        local_queues: false,
        allow_public: config.discovery.allow_public,
    };
    tokio::spawn(run_scan(ctx.clone(), view.id, what, cancel));
    let _ = ctx
        .scan_events
        .send(serde_json::to_value(&view).unwrap_or_default());
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Cancels a running scan.
#[utoipa::path(
    post,
    path = "/api/v1/scans/{id}/cancel",
    tag = "networks",
    params(("id" = u64, Path, description = "the scan's id")),
    responses(
        (status = 202, description = "cancelling; it ends shortly", body = ScanView),
        (status = 404, description = "no such scan", body = crate::error::ErrorBody)
    )
)]
pub async fn cancel_scan(
    State(ctx): State<AppState>,
    Path(id): Path<u64>,
) -> Result<impl IntoResponse, ApiError> {
    let mut scans = ctx
        .scans
        .lock()
        .map_err(|_| ApiError::internal("scans are unavailable"))?;
    if let Some((running, cancel)) = &scans.running
        && *running == id
    {
        cancel.cancel();
    }
    let view = scans
        .get_mut(id)
        .map(|s| s.clone())
        .ok_or_else(|| ApiError::not_found(format!("no scan {id}")))?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

async fn run_scan(ctx: AppState, id: u64, what: Rediscovery, cancel: CancellationToken) {
    tracing::info!(scan = id, networks = ?what.networks, "scan started from the API");
    let progress = {
        let ctx = ctx.clone();
        Arc::new(move |e: ScanEvent| {
            let Ok(mut scans) = ctx.scans.lock() else {
                return;
            };
            let Some(s) = scans.get_mut(id) else { return };
            match e {
                ScanEvent::Started { addresses, .. } => s.total = addresses,
                ScanEvent::Progress {
                    probed,
                    total,
                    responders,
                    printers,
                } => {
                    s.probed = probed;
                    s.total = total;
                    s.responders = responders;
                    s.printers = printers;
                }
                ScanEvent::Read {
                    address,
                    is_printer,
                    model,
                } => s.found.push(FoundItem {
                    address: address.to_string(),
                    model,
                    is_printer,
                    printer_id: None,
                }),
                ScanEvent::Note { text } => s.notes.push(text),
                ScanEvent::Finished { .. } => {}
            }
            let _ = ctx
                .scan_events
                .send(serde_json::to_value(&*s).unwrap_or_default());
        })
    };
    let poller = ctx.collector.poller();
    let result = poller.discover(&what, progress, &cancel).await;
    let rules = ctx.collector.rules();
    let (state, error) = match result {
        Ok(found) => {
            let at = printscout_engine::store::now_ms();
            let recorded = ctx
                .write(move |store| {
                    let mut out = Vec::new();
                    for f in found {
                        let p = PollResult {
                            device_id: None,
                            address: f.address.clone(),
                            kind: PollKind::Meters,
                            at,
                            outcome: PollOutcome::Read {
                                reading: Box::new(f.reading),
                                credential: f.credential,
                            },
                        };
                        match store.record(&p, &rules) {
                            Ok(r) => out.push((f.address, r.device_id, r.events)),
                            Err(e) => {
                                tracing::error!("could not store a printer the scan found: {e}")
                            }
                        }
                    }
                    Ok(out)
                })
                .await
                .unwrap_or_default();
            let mut ids = Vec::new();
            for (address, device, events) in recorded {
                ctx.collector.publish(events);
                ids.push((address, device));
            }
            if let Ok(mut scans) = ctx.scans.lock()
                && let Some(s) = scans.get_mut(id)
            {
                for (address, device) in ids {
                    // `host:port` for SNMP; an IPP printer's URL was reported
                    // (ScanEvent::Read) by its IP, a 3D printer's by its URL.
                    let ip = address
                        .parse::<std::net::SocketAddr>()
                        .map(|a| a.ip().to_string())
                        .ok()
                        .or_else(|| {
                            let rest = address
                                .strip_prefix("ipp://")
                                .or_else(|| address.strip_prefix("ipps://"))?;
                            let authority = rest.split('/').next()?;
                            let host = match authority.strip_prefix('[') {
                                Some(v6) => v6.split(']').next()?,
                                None => authority.split(':').next()?,
                            };
                            Some(host.to_string())
                        })
                        .unwrap_or(address.clone());
                    match s
                        .found
                        .iter_mut()
                        .find(|f| f.address == ip || f.address == address)
                    {
                        Some(f) => f.printer_id = device,
                        None => s.found.push(FoundItem {
                            address,
                            model: None,
                            is_printer: true,
                            printer_id: device,
                        }),
                    }
                }
            }
            ("finished", None)
        }
        Err(_) if cancel.is_cancelled() => ("cancelled", None),
        Err(e) => ("failed", Some(e)),
    };
    if let Ok(mut scans) = ctx.scans.lock() {
        scans.running = None;
        if let Some(s) = scans.get_mut(id) {
            s.state = state.into();
            s.error = error;
            s.finished = time(Some(printscout_engine::store::now_ms()));
            let _ = ctx
                .scan_events
                .send(serde_json::to_value(&*s).unwrap_or_default());
        }
    }
    tracing::info!(scan = id, state, "scan ended");
}

fn networks(selected: &[String], gateway: Option<GatewayAnswer>) -> Networks {
    let mut out: Vec<NetworkItem> = Vec::new();
    for i in local_interfaces() {
        for net in i.subnets() {
            let network = net.to_string();
            if !out.iter().any(|n| n.network == network) {
                out.push(NetworkItem {
                    network,
                    source: "interface".into(),
                    interface: Some(i.name.clone()),
                    hosts_seen: 0,
                    selected: false,
                });
            }
        }
    }
    let (gw, asked, notes) = match gateway {
        Some(g) => {
            for n in g.networks {
                if !out.iter().any(|o| o.network == n.network) {
                    out.push(n);
                }
            }
            (g.gateway, time(Some(g.at)), g.notes)
        }
        None => (None, None, Vec::new()),
    };
    for n in &mut out {
        n.selected = selected.contains(&n.network);
    }
    for s in selected {
        if !out.iter().any(|n| &n.network == s) {
            out.push(NetworkItem {
                network: s.clone(),
                source: "custom".into(),
                interface: None,
                hosts_seen: 0,
                selected: true,
            });
        }
    }
    Networks {
        networks: out,
        gateway: gw,
        gateway_asked: asked,
        notes,
    }
}
