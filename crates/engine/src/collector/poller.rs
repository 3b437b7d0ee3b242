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
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::discovery::targets::{Consent, resolve};
use crate::discovery::{EventSink, ScanRequest, scan};
use crate::printer::{ReadError, Reading, read_device, read_status};
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
    /// Status or full read.
    pub kind: PollKind,
}

/// A device a rediscovery found.
#[derive(Debug)]
pub struct Discovered {
    /// Where (`host:port`).
    pub address: String,
    /// Its full reading.
    pub reading: Reading,
    /// The credential that answered.
    pub credential: Credential,
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

/// The SNMP poller over one shared transport.
pub struct SnmpPoller {
    transport: SnmpTransport,
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
            transport: SnmpTransport::new(rate),
            discovery: SnmpTransport::new(discovery_rate),
            options,
            port,
            credentials,
            rediscovery,
        }
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
                credential: c.clone(),
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
            credential,
        })
    }
}

impl Poller for SnmpPoller {
    fn poll<'a>(&'a self, t: &'a PollTarget) -> BoxFuture<'a, (String, PollOutcome)> {
        Box::pin(async move {
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
            let inside: Vec<_> = crate::discovery::interfaces::local_interfaces()
                .into_iter()
                .filter(|i| {
                    i.subnets()
                        .iter()
                        .any(|n| resolved.sweep.contains(std::net::IpAddr::V4(n.network())))
                })
                .collect();
            let mut req = ScanRequest {
                sweep: resolved.sweep,
                manual: resolved.manual,
                credentials: self.credentials.clone(),
                read_options: self.options.clone(),
                local_spooler: r.local_queues,
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
                        credential,
                    })
                })
                .collect())
        })
    }
}
