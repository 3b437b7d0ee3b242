//! Who does the actual reading for the scheduler: the [`Poller`] trait and
//! its SNMP implementation. Tests of the scheduler's timing put a poller of
//! their own here; everything else uses [`SnmpPoller`].
//!
//! Invariants: a known device is polled only with the credential that worked
//! for it (no community spraying); only a device without one is read with the
//! configured list, in order; every poll ends by its deadline, so one dead
//! printer holds one concurrency slot for at most that long.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::discovery::targets::{Consent, resolve};
use crate::discovery::{EventSink, ScanRequest, scan};
use crate::printer::fab::{FabOptions, FabTarget, read_fab, read_history};
use crate::printer::ipp::{IppError, IppOptions, read_ipp};
use crate::printer::model::ReadStats;
use crate::printer::{ReadError, Reading, read_device, read_status};
use crate::secrets::{SecretStore, printer_key_name_of};
use crate::snmp::transport::SnmpTransport;
use crate::snmp::{Credential, SnmpOptions};
use crate::store::{PollKind, PollOutcome};

/// A boxed future, as the trait returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What to poll.
#[derive(Clone, Debug)]
pub struct PollTarget {
    /// Store id.
    pub device_id: i64,
    /// Address to ask (`host:port`).
    pub address: Option<String>,
    /// Host name to re-resolve first, when the user added it by name.
    pub added_as: Option<String>,
    /// The credential that worked last time.
    pub credential: Option<Credential>,
    /// Status or full read (for a 3D printer: status plus its job history).
    pub kind: PollKind,
    /// `snmp`, `ipp`, `ipps`, or a 3D-printer protocol; the address is then
    /// the printer's URL (`ipp://host:631/ipp/print`, `octoprint://host:5000`).
    pub protocol: String,
}

/// A device a rediscovery found: an SNMP device at `host:port` with the
/// credential that answered, or a printer read by URL (IPP, or a 3D printer
/// DNS-SD announced) with no credential.
///
/// 3D printers that need a key (OctoPrint, PrusaLink) are found only once
/// their key is kept (`printscout secret set printer-key:<url>`): until then
/// the scan lists them with that hint and does not add them to the store,
/// so a printer nobody can read never shows as a failing device (nor comes
/// back at each rediscovery after the user removed it). With the key, it is
/// read and added like any other.
#[derive(Debug)]
pub struct Discovered {
    /// Where: `host:port` for SNMP, else the printer's URL
    /// (`ipp://10.0.0.5:631/ipp/print`, `moonraker://10.0.0.9:7125`).
    pub address: String,
    /// Its full reading.
    pub reading: Reading,
    /// The credential that answered (SNMP only).
    pub credential: Option<Credential>,
    /// `snmp`, `ipp`, `ipps`, or a 3D printer's protocol (the store's
    /// `devices.protocol`).
    pub protocol: String,
}

/// Reads devices for the scheduler.
pub trait Poller: Send + Sync + 'static {
    /// Polls one device; returns the address actually asked and the outcome.
    fn poll<'a>(&'a self, target: &'a PollTarget) -> BoxFuture<'a, (String, PollOutcome)>;

    /// Looks for printers on the selected networks (none by default).
    fn rediscover(&self) -> BoxFuture<'_, Result<Vec<Discovered>, String>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Looks for printers on the networks `what` names, reporting progress to
    /// `events`, until done or `cancel` fires (a scan started by the user).
    fn discover<'a>(
        &'a self,
        what: &'a Rediscovery,
        events: EventSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Vec<Discovered>, String>> {
        let _ = (what, events, cancel);
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Which networks rediscovery covers and how.
#[derive(Clone, Debug, Default)]
pub struct Rediscovery {
    /// CIDR blocks, ranges, addresses or host names.
    pub networks: Vec<String>,
    /// Also broadcast on interfaces inside the selected networks.
    pub broadcast: bool,
    /// Also browse DNS-SD on those interfaces.
    pub dns_sd: bool,
    /// Also ask this computer's print spooler.
    pub local_queues: bool,
    /// Public address ranges are allowed.
    pub allow_public: bool,
}

/// The poller over one shared SNMP transport; IPP printers and 3D printers
/// are read over their own protocols (keys from the secret store).
pub struct SnmpPoller {
    transport: SnmpTransport,
    secrets: Option<Arc<dyn SecretStore>>,
    trust_dir: Option<std::path::PathBuf>,
    discovery: SnmpTransport,
    options: SnmpOptions,
    port: u16,
    credentials: Vec<Credential>,
    rediscovery: Rediscovery,
}

impl SnmpPoller {
    /// A poller sending at most `rate` packets per second when polling and
    /// `discovery_rate` when rediscovering.
    pub fn new(
        rate: u32,
        discovery_rate: u32,
        options: SnmpOptions,
        port: u16,
        credentials: Vec<Credential>,
        rediscovery: Rediscovery,
    ) -> Self {
        Self {
            secrets: None,
            trust_dir: None,
            transport: SnmpTransport::new(rate),
            discovery: SnmpTransport::new(discovery_rate),
            options,
            port,
            credentials,
            rediscovery,
        }
    }

    /// Reads 3D printers' keys (`printer-key:…`) from `secrets`.
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Trusts the certificates (PEM) in `dir` for IPP and 3D printers besides
    /// the platform's: a site CA, Bambu's CA, a self-signed printer's own
    /// certificate (`devices add … --ca-file` puts them there). Read at each
    /// poll, so a certificate added while the service runs is used at once.
    pub fn with_trust_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.trust_dir = Some(dir);
        self
    }

    /// Polls an IPP printer or a 3D printer at its URL.
    async fn poll_other(&self, t: &PollTarget) -> (String, PollOutcome) {
        let address = t.address.clone().unwrap_or_default();
        let failed = |error: String| PollOutcome::Failed { error };
        // A printer that answered (a wrong key, an untrusted certificate) is
        // not offline.
        let fab_failed = |e: crate::printer::fab::FabError| {
            if e.printer_answered() || matches!(e, crate::printer::fab::FabError::NeedsKey { .. }) {
                PollOutcome::Refused {
                    error: e.to_string(),
                }
            } else {
                PollOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        let trust = self
            .trust_dir
            .as_deref()
            .map(crate::secrets::trusted_certificates)
            .unwrap_or_default();
        let outcome = match t.protocol.as_str() {
            "ipp" | "ipps" => match read_ipp(
                &address,
                &IppOptions {
                    extra_roots: trust
                        .iter()
                        .flat_map(|pem| {
                            reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default()
                        })
                        .collect(),
                    ..IppOptions::default()
                },
            )
            .await
            {
                Ok(reading) => PollOutcome::Read {
                    reading: Box::new(reading),
                    credential: None,
                },
                Err(
                    e @ (IppError::NotAuthorized { .. }
                    | IppError::Tls { .. }
                    | IppError::BadResponse { .. }
                    | IppError::Status { .. }),
                ) => PollOutcome::Refused {
                    error: e.to_string(),
                },
                Err(e) => failed(e.to_string()),
            },
            _ => match FabTarget::parse(&address) {
                Err(e) => failed(e.to_string()),
                Ok(target) => {
                    let key = self.secrets.as_ref().and_then(|s| {
                        s.get(&printer_key_name_of(&target))
                            .map_err(|e| tracing::warn!(target = %target.url(), "cannot read the printer's key: {e}"))
                            .ok()
                            .flatten()
                    });
                    let options = FabOptions {
                        key,
                        extra_roots_pem: trust,
                        ..FabOptions::default()
                    };
                    match read_fab(&target, &options).await {
                        Err(e) => fab_failed(e),
                        Ok(mut reading) => {
                            if t.kind == PollKind::Meters {
                                match read_history(&target, &options).await {
                                    Ok(Some(h)) => {
                                        reading.jobs = h.jobs;
                                        add_cost(&mut reading.stats, &h.stats);
                                    }
                                    Ok(None) => {}
                                    Err(e) => reading
                                        .notes
                                        .push(format!("the job history could not be read: {e}")),
                                }
                            }
                            PollOutcome::Read {
                                reading: Box::new(reading),
                                credential: None,
                            }
                        }
                    }
                }
            },
        };
        (address, outcome)
    }

    /// The longest a poll may take: every attempt of every round.
    pub fn deadline(&self) -> Duration {
        // Up to four rounds (first, maker, context, continuation) of attempts.
        self.options.timeout * (self.options.retries + 1) * 4 + Duration::from_secs(1)
    }

    async fn address(&self, t: &PollTarget) -> Result<SocketAddr, String> {
        if let Some(name) = &t.added_as
            && name.parse::<std::net::IpAddr>().is_err()
        {
            let port = t
                .address
                .as_deref()
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .map_or(self.port, |a| a.port());
            let found = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve {name}: {e}"))?
                .next();
            return found.ok_or_else(|| format!("{name} has no address"));
        }
        let a = t
            .address
            .as_deref()
            .ok_or_else(|| "the device's address is unknown".to_string())?;
        a.parse::<SocketAddr>()
            .map_err(|_| format!("not an address: {a}"))
    }

    async fn read(&self, addr: SocketAddr, t: &PollTarget) -> Result<PollOutcome, ReadError> {
        if let (PollKind::Status, Some(c)) = (t.kind, &t.credential) {
            let reading = read_status(&self.transport, addr, c, &self.options).await?;
            return Ok(PollOutcome::Read {
                reading: Box::new(reading),
                credential: Some(c.clone()),
            });
        }
        let list: Vec<Credential> = match &t.credential {
            Some(c) => vec![c.clone()],
            None => self.credentials.clone(),
        };
        let reading = read_device(&self.transport, addr, &list, &self.options).await?;
        let credential = list
            .iter()
            .find(|c| Some(c.name()) == reading.credential.as_deref())
            .or(list.first())
            .cloned()
            .ok_or(ReadError::NoCredentials)?;
        Ok(PollOutcome::Read {
            reading: Box::new(reading),
            credential: Some(credential),
        })
    }
}

impl Poller for SnmpPoller {
    fn poll<'a>(&'a self, t: &'a PollTarget) -> BoxFuture<'a, (String, PollOutcome)> {
        Box::pin(async move {
            if t.protocol != "snmp" {
                return self.poll_other(t).await;
            }
            let fallback = t.address.clone().unwrap_or_default();
            let addr = match self.address(t).await {
                Ok(a) => a,
                Err(error) => return (fallback, PollOutcome::Failed { error }),
            };
            let outcome = match tokio::time::timeout(self.deadline(), self.read(addr, t)).await {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => PollOutcome::Failed {
                    error: e.to_string(),
                },
                Err(_) => PollOutcome::Failed {
                    error: format!("no complete answer within {:?}", self.deadline()),
                },
            };
            (addr.to_string(), outcome)
        })
    }

    fn rediscover(&self) -> BoxFuture<'_, Result<Vec<Discovered>, String>> {
        Box::pin(async move {
            let cancel = CancellationToken::new();
            self.discover(&self.rediscovery, std::sync::Arc::new(|_| {}), &cancel)
                .await
        })
    }

    fn discover<'a>(
        &'a self,
        r: &'a Rediscovery,
        events: EventSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Vec<Discovered>, String>> {
        Box::pin(async move {
            if r.networks.is_empty() {
                return Ok(Vec::new());
            }
            let resolved = resolve(
                &r.networks,
                Consent {
                    large: true,
                    public: r.allow_public,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            // Interfaces with an address inside the selected networks (the
            // sweep of a /24 leaves out its network address itself).
            let inside: Vec<_> = crate::discovery::interfaces::local_interfaces()
                .into_iter()
                .filter(|i| {
                    i.ipv4
                        .iter()
                        .any(|n| resolved.sweep.contains(std::net::IpAddr::V4(n.addr())))
                })
                .collect();
            let mut req = ScanRequest {
                sweep: resolved.sweep,
                manual: resolved.manual,
                credentials: self.credentials.clone(),
                read_options: self.options.clone(),
                local_spooler: r.local_queues,
                secrets: self.secrets.clone(),
                ..ScanRequest::default()
            };
            req.sweep_settings.port = self.port;
            if r.broadcast {
                req.broadcast_on = inside.clone();
            }
            if r.dns_sd {
                req.dns_sd_on = inside.iter().map(|i| i.name.clone()).collect();
            }
            let report = scan(&self.discovery, &req, cancel, events).await;
            if report.cancelled {
                return Err("the scan was cancelled".into());
            }
            Ok(report
                .devices
                .into_iter()
                .filter(|f| f.is_printer)
                .filter_map(|f| {
                    let reading = f.reading?;
                    if let Some(protocol) = reading.protocol.clone() {
                        // IPP or a 3D printer: its URL is its address.
                        return Some(Discovered {
                            address: f.url.unwrap_or_else(|| reading.target.clone()),
                            reading,
                            credential: None,
                            protocol,
                        });
                    }
                    let credential = self
                        .credentials
                        .iter()
                        .find(|c| Some(c.name()) == f.credential.as_deref())?
                        .clone();
                    let address = reading
                        .target
                        .parse::<SocketAddr>()
                        .ok()
                        .or_else(|| {
                            let ip = f.address.parse::<std::net::IpAddr>().ok()?;
                            Some(SocketAddr::new(ip, self.port))
                        })?
                        .to_string();
                    Some(Discovered {
                        address,
                        reading,
                        credential: Some(credential),
                        protocol: "snmp".into(),
                    })
                })
                .collect())
        })
    }
}

/// Adds a second request's cost to a reading's.
fn add_cost(to: &mut ReadStats, more: &ReadStats) {
    to.requests += more.requests;
    to.elapsed_ms += more.elapsed_ms;
    let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    to.bytes_sent = sum(to.bytes_sent, more.bytes_sent);
    to.bytes_received = sum(to.bytes_received, more.bytes_received);
}
