//! The unicast sweep: one small SNMP GET per address through the shared
//! transport, at the transport's rate limit and a bounded concurrency, each
//! address tried with the credential profiles in order.
//!
//! Credentials are staggered, not serialised: the second is sent only when
//! the first has had a few round-trip times to answer (so a device that
//! knows the first never sees a wrong community — field notes: community
//! spraying trips lockouts), and all of them share one adaptive timeout
//! counted from the last send. A silent address therefore costs about one
//! timeout, not one per credential.
//!
//! Invariants: an answer is accepted only from the address asked (the
//! transport is strict about the source); each address is probed once per
//! attempt; the first credential that answers wins and no further one is
//! sent; cancelling stops new probes at once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::rtt::RttEstimator;
use crate::printer::oids::SYS_OBJECT_ID;
use crate::snmp::transport::SnmpTransport;
use crate::snmp::{Credential, Oid, SnmpError, SnmpOptions};

/// What one address did.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It answered credential number `credential` (index into the profiles).
    Answered {
        /// Who.
        address: IpAddr,
        /// Index of the credential that answered.
        credential: usize,
        /// Round trip of the answer.
        rtt: Duration,
    },
    /// It answered, but rejected every credential (SNMPv3 Reports).
    Rejected {
        /// Who.
        address: IpAddr,
        /// The last rejection, in words.
        reason: String,
    },
    /// Nothing came back.
    Silent {
        /// Who.
        address: IpAddr,
    },
}

impl Outcome {
    /// The address probed.
    pub fn address(&self) -> IpAddr {
        match self {
            Outcome::Answered { address, .. }
            | Outcome::Rejected { address, .. }
            | Outcome::Silent { address } => *address,
        }
    }
}

/// How hard to sweep.
#[derive(Clone, Debug)]
pub struct SweepSettings {
    /// Probes in flight at once.
    pub concurrency: usize,
    /// Further attempts for an address that stayed silent.
    pub retries: u32,
    /// UDP port of the agents.
    pub port: u16,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            concurrency: 1024,
            retries: 0,
            port: 161,
        }
    }
}

/// Probes one address with `credentials` in order (see the module comment).
pub async fn probe(
    transport: &SnmpTransport,
    address: IpAddr,
    credentials: &[Credential],
    rtt: &RttEstimator,
    settings: &SweepSettings,
) -> Outcome {
    let target = SocketAddr::new(address, settings.port);
    let oids = [Oid::lit(SYS_OBJECT_ID)];
    // The library's own timeout is only a backstop; the adaptive deadline
    // below decides when to give up.
    let options = SnmpOptions {
        timeout: rtt.timeout().max(Duration::from_secs(1)) * 2,
        retries: 0,
        ..SnmpOptions::default()
    };
    let mut rejected: Option<String> = None;
    for _attempt in 0..=settings.retries {
        let mut pending = FuturesUnordered::new();
        let mut next = 0usize;
        let mut last_sent = Instant::now();
        let mut hurry = false;
        loop {
            let due = next < credentials.len()
                && (next == 0 || hurry || Instant::now() >= last_sent + rtt.stagger());
            if due {
                hurry = false;
                let i = next;
                next += 1;
                let session = match transport.session(target, &credentials[i], &options).await {
                    Ok(s) => s,
                    Err(e) => {
                        rejected = Some(e.to_string());
                        hurry = true;
                        continue;
                    }
                };
                transport.pace().await;
                last_sent = Instant::now();
                let oids = &oids;
                pending.push(async move {
                    let sent = Instant::now();
                    let r = session.get_paced(oids).await;
                    (i, sent.elapsed(), r)
                });
                continue;
            }
            let deadline = if next < credentials.len() {
                last_sent + rtt.stagger()
            } else {
                last_sent + rtt.timeout()
            };
            if pending.is_empty() && next >= credentials.len() {
                break;
            }
            if next >= credentials.len() && Instant::now() >= deadline {
                break;
            }
            // Re-read the estimate often: answers from other devices keep
            // refining it while this one waits.
            let nap = deadline.min(Instant::now() + Duration::from_millis(20));
            tokio::select! {
                Some((i, took, r)) = pending.next() => match r {
                    Ok(_) => {
                        rtt.sample(took);
                        return Outcome::Answered { address, credential: i, rtt: took };
                    }
                    Err(SnmpError::Timeout { .. }) => {}
                    Err(e @ (SnmpError::Auth { .. } | SnmpError::Agent(_) | SnmpError::NoSuchName(_))) => {
                        // Alive, but not with this credential: try the next one now.
                        if matches!(e, SnmpError::Auth { .. }) {
                            rejected = Some(e.to_string());
                            hurry = true;
                        } else {
                            // An error-status is still an answer with this community.
                            rtt.sample(took);
                            return Outcome::Answered { address, credential: i, rtt: took };
                        }
                    }
                    Err(e) => {
                        // The packet could not even leave (no route): nothing will come.
                        tracing::debug!(%address, error = %e, "probe failed");
                        hurry = true;
                    }
                },
                _ = tokio::time::sleep_until(nap) => {}
            }
        }
        if rejected.is_some() {
            break;
        }
    }
    match rejected {
        Some(reason) => Outcome::Rejected { address, reason },
        None => Outcome::Silent { address },
    }
}

/// Probes every address in `addresses`, calling `on_outcome` as each one is
/// settled, until all are done or `cancel` fires. Returns whether it ran to
/// the end.
pub async fn sweep<I, F>(
    transport: &SnmpTransport,
    addresses: I,
    credentials: &[Credential],
    rtt: &RttEstimator,
    settings: &SweepSettings,
    cancel: &CancellationToken,
    mut on_outcome: F,
) -> bool
where
    I: Iterator<Item = IpAddr>,
    F: FnMut(Outcome),
{
    let mut stream = futures::stream::iter(addresses)
        .map(|a| probe(transport, a, credentials, rtt, settings))
        .buffer_unordered(settings.concurrency.max(1));
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return false,
            next = stream.next() => match next {
                Some(o) => on_outcome(o),
                None => return true,
            },
        }
    }
}
