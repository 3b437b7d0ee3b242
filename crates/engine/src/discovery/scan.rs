//! One scan, all methods at once: broadcast, sweep, addresses by hand,
//! DNS-SD and the local spooler run concurrently; every address that answers
//! is read (once) as soon as it is known, with the credential that answered;
//! at the end the sightings are merged into devices.
//!
//! Printers SNMP does not reach, found by DNS-SD, are read once the SNMP
//! work is done: an address announcing `_ipp._tcp`/`_ipps._tcp` that SNMP
//! gave no reading for is read over IPP at its announced URL (one that SNMP
//! read stays an SNMP device); a 3D printer's announcement is a device of its
//! own at its URL, read with `read_fab` when its protocol needs no key
//! (Moonraker, Ultimaker) or when [`ScanRequest::secrets`] holds its key
//! (`printer-key:<url>`). Without the key (OctoPrint, PrusaLink) nothing is
//! sent to it: it is listed with the error and a note saying how to give the
//! key (`printscout secret set printer-key:octoprint://…`).
//!
//! Invariants: each address is probed and read at most once per scan
//! whatever the number of methods that reported it, and each announced URL
//! at most once; progress events describe only work done; cancelling returns
//! everything read so far (reads in flight are abandoned, not half-reported).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::FoundBy;
use super::broadcast;
use super::dnssd::{self, Announcement, ServiceKind};
use super::interfaces::LocalInterface;
use super::merge::{Found, Sighting, merge};
use super::rtt::RttEstimator;
use super::spooler::{self, LocalQueue};
use super::sweep::{self, Outcome, SweepSettings};
use super::targets::AddressSet;
use crate::printer::fab::{FabOptions, FabTarget, read_fab};
use crate::printer::ipp::{IppOptions, read_ipp};
use crate::printer::read_device;
use crate::secrets::{SecretStore, printer_key_name_of};
use crate::snmp::transport::SnmpTransport;
use crate::snmp::{Credential, SnmpOptions};

/// Everything a scan needs to know.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    /// Blocks and ranges to sweep.
    pub sweep: AddressSet,
    /// Addresses named one by one.
    pub manual: Vec<IpAddr>,
    /// Interfaces to broadcast on (empty = no broadcast).
    pub broadcast_on: Vec<LocalInterface>,
    /// Interfaces to browse DNS-SD on (empty = no DNS-SD).
    pub dns_sd_on: Vec<String>,
    /// Ask this computer's print spooler.
    pub local_spooler: bool,
    /// Credential profiles, tried in this order.
    pub credentials: Vec<Credential>,
    /// Sweep concurrency, retries and port.
    pub sweep_settings: SweepSettings,
    /// Shortest probe timeout the RTT estimate may set.
    pub timeout_floor: Duration,
    /// Longest probe timeout (and the timeout before anything answered).
    pub timeout_ceiling: Duration,
    /// How long to listen for broadcast replies.
    pub broadcast_window: Duration,
    /// How long to listen for DNS-SD announcements.
    pub dns_sd_window: Duration,
    /// Options for reading the devices that answered.
    pub read_options: SnmpOptions,
    /// Time for one IPP or 3D-printer read of an announced printer.
    pub service_timeout: Duration,
    /// Where 3D printers' keys are kept (`printer-key:<url>`); `None`: the
    /// printers that need one are listed, not read.
    pub secrets: Option<Arc<dyn SecretStore>>,
}

impl Default for ScanRequest {
    fn default() -> Self {
        Self {
            sweep: AddressSet::default(),
            manual: Vec::new(),
            broadcast_on: Vec::new(),
            dns_sd_on: Vec::new(),
            local_spooler: false,
            credentials: Vec::new(),
            sweep_settings: SweepSettings::default(),
            timeout_floor: Duration::from_millis(250),
            timeout_ceiling: Duration::from_secs(1),
            broadcast_window: Duration::from_secs(1),
            dns_sd_window: Duration::from_secs(2),
            read_options: SnmpOptions::default(),
            service_timeout: Duration::from_secs(3),
            secrets: None,
        }
    }
}

/// What a scan reports while it runs (the UI shows these).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ScanEvent {
    /// The scan began.
    Started {
        /// Addresses to probe one by one (sweep + by hand).
        addresses: u64,
        /// Methods in use.
        methods: Vec<FoundBy>,
    },
    /// Probing advanced.
    Progress {
        /// Addresses settled so far.
        probed: u64,
        /// Addresses in total.
        total: u64,
        /// Devices that answered so far.
        responders: u64,
        /// Of those, printers read so far.
        printers: u64,
    },
    /// A device was read.
    Read {
        /// Where: the address, or a 3D printer's URL.
        address: String,
        /// Printer or not.
        is_printer: bool,
        /// Model, if known.
        model: Option<String>,
    },
    /// Something the user should know (a method that could not run).
    Note {
        /// In words.
        text: String,
    },
    /// The scan ended.
    Finished {
        /// Whether it was cancelled.
        cancelled: bool,
        /// Devices found.
        devices: usize,
    },
}

/// Figures about one scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanStats {
    /// Addresses probed one by one.
    pub addresses_probed: u64,
    /// Addresses that answered (any method).
    pub responders: u64,
    /// Wall time.
    pub elapsed_ms: u64,
    /// The learned round-trip time.
    pub srtt_ms: Option<f64>,
    /// The probe timeout at the end (learned from the RTT).
    pub timeout_ms: u64,
    /// Broadcast datagrams dropped as not ours.
    pub broadcast_dropped: u64,
}

/// The outcome of a scan.
#[derive(Clone, Debug, Serialize)]
pub struct ScanReport {
    /// Devices, merged and sorted by address.
    pub devices: Vec<Found>,
    /// Things the user should know.
    pub notes: Vec<String>,
    /// Whether the scan was cancelled before the end.
    pub cancelled: bool,
    /// Figures.
    pub stats: ScanStats,
}

/// Event sink shared by the scan's tasks.
pub type EventSink = Arc<dyn Fn(ScanEvent) + Send + Sync>;

#[derive(Default)]
struct Shared {
    sightings: BTreeMap<IpAddr, Sighting>,
    /// Addresses queued for a probe or a read (each only once).
    claimed: BTreeSet<IpAddr>,
    probed: u64,
    printers: u64,
    notes: Vec<String>,
    /// Non-network queues (USB and the like).
    unaddressed: Vec<Sighting>,
    /// Announced 3D printers, by URL.
    fab: BTreeMap<String, Sighting>,
}

/// What the reader is asked to do with an address.
struct Job {
    address: IpAddr,
    /// Credential index already known to work, or `None` = probe first.
    credential: Option<usize>,
}

/// Runs a scan. Returns when every method is done or `cancel` fires.
pub async fn scan(
    transport: &SnmpTransport,
    req: &ScanRequest,
    cancel: &CancellationToken,
    events: EventSink,
) -> ScanReport {
    let started = Instant::now();
    let rtt = RttEstimator::new(req.timeout_floor, req.timeout_ceiling);
    let shared = Mutex::new(Shared::default());
    let total = u64::try_from(req.sweep.len()).unwrap_or(u64::MAX) + req.manual.len() as u64;
    let mut methods = Vec::new();
    if !req.broadcast_on.is_empty() {
        methods.push(FoundBy::Broadcast);
    }
    if !req.sweep.is_empty() {
        methods.push(FoundBy::Sweep);
    }
    if !req.manual.is_empty() {
        methods.push(FoundBy::Manual);
    }
    if !req.dns_sd_on.is_empty() {
        methods.push(FoundBy::DnsSd);
    }
    if req.local_spooler {
        methods.push(FoundBy::Local);
    }
    events(ScanEvent::Started {
        addresses: total,
        methods,
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
    // Records a sighting; queues a job when the address is new.
    let note_seen = |address: IpAddr, by: FoundBy, credential: Option<usize>, tx: &Tx| {
        let Ok(mut sh) = shared.lock() else { return };
        let s = sh.sightings.entry(address).or_insert_with(|| Sighting {
            address: address.to_string(),
            ..Sighting::default()
        });
        s.found_by.insert(by);
        if s.credential.is_none()
            && let Some(c) = credential.and_then(|i| req.credentials.get(i))
        {
            s.credential = Some(c.name().to_string());
        }
        if sh.claimed.insert(address) {
            let _ = tx.send(Job {
                address,
                credential,
            });
        }
    };

    let broadcast_phase = {
        let tx = tx.clone();
        let events = events.clone();
        let note_seen = &note_seen;
        let shared = &shared;
        let rtt = &rtt;
        async move {
            if req.broadcast_on.is_empty() {
                return 0;
            }
            let Some((index, cred)) = req
                .credentials
                .iter()
                .enumerate()
                .find(|(_, c)| matches!(c, Credential::Community { .. }))
            else {
                note(shared, &events, "broadcast skipped: it needs a v1/v2c community (SNMPv3 devices are found by the sweep)".into());
                return 0;
            };
            let summary = broadcast::broadcast(
                &req.broadcast_on,
                cred,
                req.sweep_settings.port,
                req.broadcast_window,
                cancel,
                |reply| {
                    rtt.sample(reply.rtt);
                    note_seen(reply.from, FoundBy::Broadcast, Some(index), &tx);
                },
            )
            .await;
            for n in summary.notes {
                note(shared, &events, n);
            }
            summary.dropped
        }
    };

    let sweep_phase = {
        let tx = tx.clone();
        let events = events.clone();
        let note_seen = &note_seen;
        let shared = &shared;
        let rtt = &rtt;
        async move {
            let mut complete = true;
            for (addresses, by) in [
                (
                    Box::new(req.manual.clone().into_iter())
                        as Box<dyn Iterator<Item = IpAddr> + Send>,
                    FoundBy::Manual,
                ),
                (Box::new(req.sweep.iter()), FoundBy::Sweep),
            ] {
                if !complete {
                    break;
                }
                complete = sweep::sweep(
                    transport,
                    addresses,
                    &req.credentials,
                    rtt,
                    &req.sweep_settings,
                    cancel,
                    |outcome| {
                        match &outcome {
                            Outcome::Answered {
                                address,
                                credential,
                                ..
                            } => note_seen(*address, by, Some(*credential), &tx),
                            Outcome::Rejected { address, reason } => {
                                if let Ok(mut sh) = shared.lock() {
                                    let s =
                                        sh.sightings.entry(*address).or_insert_with(|| Sighting {
                                            address: address.to_string(),
                                            ..Sighting::default()
                                        });
                                    s.found_by.insert(by);
                                    s.error = Some(format!(
                                        "answered but rejected every credential: {reason}"
                                    ));
                                    sh.claimed.insert(*address);
                                }
                            }
                            Outcome::Silent { address } => {
                                if by == FoundBy::Manual
                                    && let Ok(mut sh) = shared.lock()
                                {
                                    sh.notes.push(format!(
                                        "{address} did not answer SNMP (credentials tried: {})",
                                        names(&req.credentials)
                                    ));
                                }
                            }
                        }
                        if let Ok(mut sh) = shared.lock() {
                            sh.probed += 1;
                            events(progress_of(&sh, total));
                        }
                    },
                )
                .await;
            }
        }
    };

    let dns_sd_phase = {
        let tx = tx.clone();
        let events = events.clone();
        let shared = &shared;
        let note_seen = &note_seen;
        async move {
            if req.dns_sd_on.is_empty() {
                return;
            }
            match dnssd::browse(&req.dns_sd_on, req.dns_sd_window, cancel).await {
                Ok(found) => {
                    for a in without_prusalink_shadows(found) {
                        match a.kind() {
                            ServiceKind::Fab(_) => attach_fab(shared, a),
                            _ => attach_announcement(shared, note_seen, &tx, a),
                        }
                    }
                }
                Err(e) => note(shared, &events, format!("DNS-SD browsing failed: {e}")),
            }
        }
    };

    let spooler_phase = {
        let tx = tx.clone();
        let events = events.clone();
        let shared = &shared;
        let note_seen = &note_seen;
        async move {
            if !req.local_spooler {
                return;
            }
            match spooler::local_queues().await {
                Ok(queues) => {
                    for q in queues {
                        attach_queue(shared, note_seen, &tx, q).await;
                    }
                }
                Err(e) => note(
                    shared,
                    &events,
                    format!("local print queues not listed: {e}"),
                ),
            }
        }
    };
    drop(tx);

    let reader = read_jobs(transport, req, &rtt, &shared, &events, rx, cancel);
    let (dropped, (), (), (), ()) = tokio::join!(
        broadcast_phase,
        sweep_phase,
        dns_sd_phase,
        spooler_phase,
        reader
    );
    if !cancel.is_cancelled() {
        read_announced(req, &shared, &events, cancel).await;
    }

    let cancelled = cancel.is_cancelled();
    let sh = shared.into_inner().unwrap_or_default();
    let responders = sh
        .sightings
        .values()
        .filter(|s| s.credential.is_some() || s.error.is_some())
        .count() as u64;
    let mut sightings: Vec<Sighting> = sh.sightings.into_values().collect();
    sightings.extend(sh.unaddressed);
    sightings.extend(sh.fab.into_values());
    // Addresses that never answered anything and were seen by no other means
    // are not devices.
    sightings.retain(|s| {
        s.credential.is_some()
            || s.reading.is_some()
            || s.error.is_some()
            || !s.services.is_empty()
            || !s.queues.is_empty()
    });
    for s in &mut sightings {
        if s.credential.is_some() && s.reading.is_none() && s.error.is_none() {
            s.error = Some("answered, but the scan ended before it was read".into());
        }
    }
    let devices = merge(sightings);
    events(ScanEvent::Finished {
        cancelled,
        devices: devices.len(),
    });
    ScanReport {
        stats: ScanStats {
            addresses_probed: sh.probed,
            responders,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            srtt_ms: rtt.srtt().map(|d| d.as_secs_f64() * 1000.0),
            timeout_ms: u64::try_from(rtt.timeout().as_millis()).unwrap_or(u64::MAX),
            broadcast_dropped: dropped,
        },
        devices,
        notes: sh.notes,
        cancelled,
    }
}

type Tx = tokio::sync::mpsc::UnboundedSender<Job>;

fn note(shared: &Mutex<Shared>, events: &EventSink, text: String) {
    if let Ok(mut sh) = shared.lock() {
        sh.notes.push(text.clone());
    }
    events(ScanEvent::Note { text });
}

fn names(creds: &[Credential]) -> String {
    creds
        .iter()
        .map(|c| format!("'{}'", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds what `fill` puts in to the sighting at `ip` (queueing the address for
/// a probe), or to a new sighting named `name` when there is no address.
fn attach<F>(
    shared: &Mutex<Shared>,
    note_seen: &F,
    tx: &Tx,
    ip: Option<IpAddr>,
    by: FoundBy,
    name: impl FnOnce() -> String,
    fill: impl FnOnce(&mut Sighting),
) where
    F: Fn(IpAddr, FoundBy, Option<usize>, &Tx),
{
    if let Some(ip) = ip {
        note_seen(ip, by, None, tx);
    }
    let Ok(mut sh) = shared.lock() else { return };
    match ip {
        Some(ip) => {
            if let Some(s) = sh.sightings.get_mut(&ip) {
                fill(s);
            }
        }
        None => {
            let mut s = Sighting {
                address: name(),
                found_by: [by].into(),
                ..Sighting::default()
            };
            fill(&mut s);
            sh.unaddressed.push(s);
        }
    }
}

fn attach_announcement<F>(shared: &Mutex<Shared>, note_seen: &F, tx: &Tx, a: Announcement)
where
    F: Fn(IpAddr, FoundBy, Option<usize>, &Tx),
{
    // Prefer an IPv4 address: that is where SNMP usually answers.
    let ip = a.preferred_address();
    let name = format!("{}.{}", a.instance, a.service);
    attach(
        shared,
        note_seen,
        tx,
        ip,
        FoundBy::DnsSd,
        || name,
        |s| {
            s.services.push(a);
        },
    );
}

async fn attach_queue<F>(shared: &Mutex<Shared>, note_seen: &F, tx: &Tx, q: LocalQueue)
where
    F: Fn(IpAddr, FoundBy, Option<usize>, &Tx),
{
    let ip = match q.host.as_deref() {
        Some(h) => match h.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => tokio::net::lookup_host((h, 0))
                .await
                .ok()
                .and_then(|mut it| it.next())
                .map(|sa| sa.ip()),
        },
        None => None,
    };
    let name = q.device_uri.clone();
    attach(
        shared,
        note_seen,
        tx,
        ip,
        FoundBy::Local,
        || name,
        |s| {
            s.queues.push(q);
        },
    );
}

/// PrusaLink on a Raspberry Pi announces `_octoprint._tcp` too (for older
/// slicers) at the same host and port: that one is PrusaLink, not a second
/// printer.
fn without_prusalink_shadows(found: Vec<Announcement>) -> Vec<Announcement> {
    let prusalink: BTreeSet<(Option<IpAddr>, u16)> = found
        .iter()
        .filter(|a| a.kind() == ServiceKind::Fab(crate::printer::fab::FabProtocol::PrusaLink))
        .map(|a| (a.preferred_address(), a.port))
        .collect();
    found
        .into_iter()
        .filter(|a| {
            a.kind() != ServiceKind::Fab(crate::printer::fab::FabProtocol::OctoPrint)
                || !prusalink.contains(&(a.preferred_address(), a.port))
        })
        .collect()
}

/// A 3D printer's announcement: a sighting of its own, keyed by its URL.
fn attach_fab(shared: &Mutex<Shared>, a: Announcement) {
    let Ok(mut sh) = shared.lock() else { return };
    let target = a.preferred_address().and_then(|ip| a.fab_target(ip));
    let (key, url, protocol, error) = match &target {
        Some(t) => (
            t.url(),
            Some(t.url()),
            Some(t.protocol.scheme().to_string()),
            None,
        ),
        None => (
            format!("{}.{}", a.instance, a.service),
            None,
            None,
            Some("announced without an address to reach it at".to_string()),
        ),
    };
    let s = sh.fab.entry(key.clone()).or_insert_with(|| Sighting {
        address: key,
        url,
        protocol,
        error,
        ..Sighting::default()
    });
    s.found_by.insert(FoundBy::DnsSd);
    s.services.push(a);
}

/// One read of an announced printer.
enum ServiceRead {
    /// IPP at an address SNMP gave no reading for.
    Ipp { address: IpAddr, url: String },
    /// A 3D printer at its URL (the key, when it needs one, looked up).
    Fab { target: FabTarget },
}

/// Reads the printers DNS-SD announced that SNMP did not read (see the
/// module's notes), a bounded number at a time, until done or cancelled.
async fn read_announced(
    req: &ScanRequest,
    shared: &Mutex<Shared>,
    events: &EventSink,
    cancel: &CancellationToken,
) {
    const READS_AT_ONCE: usize = 16;
    let mut jobs = Vec::new();
    if let Ok(mut sh) = shared.lock() {
        for (ip, s) in sh.sightings.iter_mut() {
            if s.reading.is_some() {
                continue;
            }
            // Plain IPP first: an ipps certificate is rarely one we can verify.
            let mut ipp: Vec<&Announcement> = s
                .services
                .iter()
                .filter(|a| matches!(a.kind(), ServiceKind::Ipp { .. }))
                .collect();
            ipp.sort_by_key(|a| a.kind() == ServiceKind::Ipp { tls: true });
            if let Some(url) = ipp.first().and_then(|a| a.ipp_url(*ip)) {
                s.protocol = Some(url.split(':').next().unwrap_or("ipp").to_string());
                s.url = Some(url.clone());
                jobs.push(ServiceRead::Ipp { address: *ip, url });
            }
        }
        for s in sh.fab.values() {
            if let Some(target) = s.url.as_deref().and_then(|u| FabTarget::parse(u).ok()) {
                jobs.push(ServiceRead::Fab { target });
            }
        }
    }
    let reads = futures::stream::iter(jobs.into_iter().map(|job| read_service(req, job)))
        .buffer_unordered(READS_AT_ONCE);
    tokio::pin!(reads);
    loop {
        let done = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            done = reads.next() => done,
        };
        let Some((key, result)) = done else { return };
        let mut event = None;
        let mut note_text = None;
        if let Ok(mut sh) = shared.lock() {
            let sighting = match &key {
                ServiceKey::Address(ip) => sh.sightings.get_mut(ip),
                ServiceKey::Url(url) => sh.fab.get_mut(url),
            };
            let Some(s) = sighting else { continue };
            match result {
                Ok(reading) => {
                    event = Some(ScanEvent::Read {
                        address: s.address.clone(),
                        is_printer: reading.is_printer,
                        model: reading.identity.model.clone(),
                    });
                    s.reading = Some(*reading);
                    s.error = None;
                    sh.printers += 1;
                }
                Err(ServiceError::NeedsKey { message, hint }) => {
                    s.error = Some(format!("{message}: {hint}"));
                    note_text = Some(format!("{message}: {hint}"));
                }
                Err(ServiceError::Failed(e)) => {
                    s.error = Some(match s.error.take() {
                        Some(snmp) => format!("{snmp}; over IPP: {e}"),
                        None => e,
                    });
                }
            }
        }
        if let Some(text) = note_text {
            note(shared, events, text);
        }
        if let Some(e) = event {
            events(e);
        }
    }
}

/// Which sighting a read belongs to.
enum ServiceKey {
    Address(IpAddr),
    Url(String),
}

/// Why an announced printer was not read.
enum ServiceError {
    /// It needs a key and none is kept (nothing was sent to it).
    NeedsKey {
        /// What is missing, in words.
        message: String,
        /// How to give it.
        hint: String,
    },
    /// The read failed (the error in words, with the URL).
    Failed(String),
}

async fn read_service(
    req: &ScanRequest,
    job: ServiceRead,
) -> (
    ServiceKey,
    Result<Box<crate::printer::Reading>, ServiceError>,
) {
    match job {
        ServiceRead::Ipp { address, url } => {
            let options = IppOptions {
                timeout: req.service_timeout,
                ..IppOptions::default()
            };
            let result = read_ipp(&url, &options)
                .await
                .map(Box::new)
                .map_err(|e| ServiceError::Failed(e.to_string()));
            (ServiceKey::Address(address), result)
        }
        ServiceRead::Fab { target } => {
            let url = target.url();
            let key = if target.protocol.needs_secret() {
                match printer_key(req.secrets.clone(), &target).await {
                    Some(k) => Some(k),
                    None => {
                        let name = printer_key_name_of(&target);
                        return (
                            ServiceKey::Url(url.clone()),
                            Err(ServiceError::NeedsKey {
                                message: format!(
                                    "{url} needs its {} to be read",
                                    target.protocol.secret_name()
                                ),
                                hint: format!("printscout secret set {name}"),
                            }),
                        );
                    }
                }
            } else {
                None
            };
            let options = FabOptions {
                timeout: req.service_timeout,
                key,
                ..FabOptions::default()
            };
            let result = read_fab(&target, &options)
                .await
                .map(Box::new)
                .map_err(|e| ServiceError::Failed(e.to_string()));
            (ServiceKey::Url(url), result)
        }
    }
}

/// The key kept for `target`, if any (a store that cannot be read counts as
/// none; the store may block, so it is asked off the async threads).
async fn printer_key(
    secrets: Option<Arc<dyn SecretStore>>,
    target: &FabTarget,
) -> Option<crate::secret::Secret> {
    let store = secrets?;
    let name = printer_key_name_of(target);
    tokio::task::spawn_blocking(move || store.get(&name).ok().flatten())
        .await
        .ok()
        .flatten()
}

/// Probes (when needed) and reads each queued address, a bounded number at a time.
async fn read_jobs(
    transport: &SnmpTransport,
    req: &ScanRequest,
    rtt: &RttEstimator,
    shared: &Mutex<Shared>,
    events: &EventSink,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>,
    cancel: &CancellationToken,
) {
    const READS_AT_ONCE: usize = 64;
    let mut running = FuturesUnordered::new();
    let mut open = true;
    loop {
        if !open && running.is_empty() {
            return;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            job = rx.recv(), if open && running.len() < READS_AT_ONCE => match job {
                Some(job) => running.push(read_one(transport, req, rtt, job)),
                None => open = false,
            },
            Some((address, result)) = running.next(), if !running.is_empty() => {
                let Ok(mut sh) = shared.lock() else { continue };
                let Some(s) = sh.sightings.get_mut(&address) else { continue };
                let mut event = None;
                match result {
                    ReadResult::Read(credential, reading) => {
                        s.credential = Some(credential);
                        event = Some(ScanEvent::Read {
                            address: address.to_string(),
                            is_printer: reading.is_printer,
                            model: reading.identity.model.clone(),
                        });
                        let printer = reading.is_printer;
                        s.reading = Some(*reading);
                        if printer {
                            sh.printers += 1;
                        }
                    }
                    ReadResult::Failed(e) => s.error = Some(e),
                    ReadResult::Silent => {}
                }
                let p = progress_of(&sh, u64::try_from(req.sweep.len()).unwrap_or(u64::MAX) + req.manual.len() as u64);
                drop(sh);
                if let Some(e) = event {
                    events(e);
                }
                events(p);
            }
        }
    }
}

fn progress_of(sh: &Shared, total: u64) -> ScanEvent {
    ScanEvent::Progress {
        probed: sh.probed,
        total,
        responders: sh.sightings.len() as u64,
        printers: sh.printers,
    }
}

enum ReadResult {
    Read(String, Box<crate::printer::Reading>),
    Failed(String),
    Silent,
}

async fn read_one(
    transport: &SnmpTransport,
    req: &ScanRequest,
    rtt: &RttEstimator,
    job: Job,
) -> (IpAddr, ReadResult) {
    let index = match job.credential {
        Some(i) => i,
        None => match sweep::probe(
            transport,
            job.address,
            &req.credentials,
            rtt,
            &req.sweep_settings,
        )
        .await
        {
            Outcome::Answered { credential, .. } => credential,
            Outcome::Rejected { reason, .. } => {
                return (
                    job.address,
                    ReadResult::Failed(format!("answered but rejected every credential: {reason}")),
                );
            }
            Outcome::Silent { .. } => return (job.address, ReadResult::Silent),
        },
    };
    let Some(cred) = req.credentials.get(index) else {
        return (job.address, ReadResult::Silent);
    };
    let target = SocketAddr::new(job.address, req.sweep_settings.port);
    match read_device(
        transport,
        target,
        std::slice::from_ref(cred),
        &req.read_options,
    )
    .await
    {
        Ok(mut r) => {
            r.credential = Some(cred.name().to_string());
            (
                job.address,
                ReadResult::Read(cred.name().to_string(), Box::new(r)),
            )
        }
        Err(e) => (job.address, ReadResult::Failed(e.to_string())),
    }
}
