//! The real SNMP session: async-snmp clients sharing one UDP socket per address
//! family, with request-id matching, per-request timeout and retries, and a
//! global send-rate limit shared by every session on the transport.
//!
//! Invariants: one socket per family however many devices are read; malformed
//! or unmatched datagrams are dropped and counted by the transport (see
//! [`TransportStats`]), never surfaced as data; v3 Reports map to
//! [`SnmpError::Auth`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_snmp::{Auth, Client, EngineCache, Retry, UdpHandle, UdpTransport, UsmConfig};
use tokio::sync::{Mutex, OnceCell};
use tokio::time::Instant;

use super::{
    AuthProto, Credential, Oid, PrivProto, SnmpError, SnmpOptions, SnmpSession, Value, Version,
};

/// Counters of what the shared sockets saw.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct TransportStats {
    /// Datagrams matched to a request.
    pub responses: u64,
    /// Requests that ran out of time.
    pub timeouts: u64,
    /// Datagrams dropped: late, duplicate, unknown request id, wrong source.
    pub discarded: u64,
    /// Datagrams that could not be parsed at all.
    pub malformed: u64,
}

/// Shared sockets (bound lazily, one per address family) plus the rate limit.
pub struct SnmpTransport {
    v4: OnceCell<UdpTransport>,
    v6: OnceCell<UdpTransport>,
    limiter: Option<Arc<RateLimiter>>,
    /// Bounds how far ahead background traffic (sweep probes) may book send
    /// slots, so reads of devices that answered never queue behind a whole
    /// sweep.
    background: Option<tokio::sync::Semaphore>,
    engines: Arc<EngineCache>,
    des_salt: std::sync::OnceLock<Option<async_snmp::DesSaltState>>,
}

/// DES privacy salts must never repeat for one key. The salt's high half is an
/// "engine boots" epoch; without a durable store yet, each process takes a
/// random epoch, which makes a repeat across runs vanishingly unlikely. (DES
/// itself is weak; AES is preferred and has no such state.)
fn random_des_salt_state() -> Option<async_snmp::DesSaltState> {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let epoch = (h.finish() % 2_000_000_000) as u32 + 1;
    let previous = async_snmp::PersistedDesSaltState::new(epoch).ok()?;
    async_snmp::DesSaltState::restart(previous, |_| Ok::<(), std::io::Error>(())).ok()
}

impl SnmpTransport {
    /// A transport sending at most `packets_per_second` (0 = unlimited).
    pub fn new(packets_per_second: u32) -> Self {
        Self {
            v4: OnceCell::new(),
            v6: OnceCell::new(),
            limiter: (packets_per_second > 0)
                .then(|| Arc::new(RateLimiter::new(packets_per_second))),
            // About 20 ms worth of slots.
            background: (packets_per_second > 0)
                .then(|| tokio::sync::Semaphore::new((packets_per_second as usize / 50).max(1))),
            engines: Arc::new(EngineCache::new()),
            des_salt: std::sync::OnceLock::new(),
        }
    }

    async fn socket(&self, target: SocketAddr) -> Result<&UdpTransport, SnmpError> {
        let (cell, bind) = if target.is_ipv4() {
            (&self.v4, "0.0.0.0:0")
        } else {
            (&self.v6, "[::]:0")
        };
        cell.get_or_try_init(|| async {
            UdpTransport::builder()
                .bind(bind)
                // Replies to hundreds of requests in flight arrive in bursts; the
                // kernel clamps this to net.core.rmem_max.
                .recv_buffer_size(8 << 20)
                .send_buffer_size(4 << 20)
                .build()
                .await
                .map_err(|e| SnmpError::Network(format!("cannot open a UDP socket: {e}")))
        })
        .await
    }

    /// A session to `target` with one credential.
    pub async fn session(
        &self,
        target: SocketAddr,
        credential: &Credential,
        options: &SnmpOptions,
    ) -> Result<UdpSession, SnmpError> {
        let socket = self.socket(target).await?;
        let auth = to_auth(credential)?;
        let mut builder = Client::builder(target, auth);
        if matches!(
            credential,
            Credential::V3 {
                privacy: Some((PrivProto::Des, _)),
                ..
            }
        ) {
            match self.des_salt.get_or_init(random_des_salt_state) {
                Some(state) => builder = builder.des_salt_state(state.clone()),
                None => return Err(SnmpError::Config("cannot set up DES privacy state".into())),
            }
        }
        let client = builder
            .request_timeout(options.timeout)
            .retry(
                Retry::fixed(options.retries, Duration::ZERO)
                    .map_err(|e| SnmpError::Config(e.to_string()))?,
            )
            .max_oids_per_request(options.max_varbinds.max(1))
            .engine_cache(self.engines.clone())
            // A reply must come from the address asked: anything else on the
            // shared socket is dropped and counted, never taken as the answer.
            .strict_source(true)
            .build_with(socket)
            .await
            .map_err(|e| map_error(*e, target, options))?;
        Ok(UdpSession {
            client,
            version: credential.version(),
            target,
            options: options.clone(),
            limiter: self.limiter.clone(),
            requests: AtomicU32::new(0),
            engines: self.engines.clone(),
            privacy: matches!(
                credential,
                Credential::V3 {
                    privacy: Some(_),
                    ..
                }
            ),
        })
    }

    /// Waits for a slot under the send-rate limit, as background traffic: at
    /// most ~20 ms of such slots are booked ahead, so ordinary requests (reads)
    /// overtake a long sweep instead of waiting behind it. For callers that
    /// must know when a packet actually leaves (round-trip timing in
    /// discovery): take a slot here, then send with [`UdpSession::get_paced`].
    pub async fn pace(&self) {
        if let Some(l) = &self.limiter {
            let _booking = match &self.background {
                Some(gate) => gate.acquire().await.ok(),
                None => None,
            };
            l.acquire().await;
        }
    }

    /// What the sockets have seen so far.
    pub fn stats(&self) -> TransportStats {
        let mut out = TransportStats::default();
        for t in [self.v4.get(), self.v6.get()].into_iter().flatten() {
            let s = t.stats();
            out.responses += s.correlated_datagrams;
            out.timeouts += s.expired_registrations;
            out.discarded += s.discarded_datagrams;
            out.malformed += s.malformed_datagrams;
        }
        out
    }
}

fn to_auth(c: &Credential) -> Result<Auth, SnmpError> {
    Ok(match c {
        Credential::Community {
            version: Version::V1,
            community,
            ..
        } => Auth::v1(community.expose().as_bytes().to_vec()),
        Credential::Community { community, .. } => {
            Auth::v2c(community.expose().as_bytes().to_vec())
        }
        Credential::V3 {
            user,
            auth,
            privacy,
            context,
            ..
        } => {
            let base = UsmConfig::new(user.clone().into_bytes());
            let cfg = match (auth, privacy) {
                (None, None) => Ok(base),
                (Some((a, ap)), None) => base.auth(auth_proto(*a), ap.expose()),
                (Some((a, ap)), Some((p, pp))) => {
                    base.auth_priv(auth_proto(*a), ap.expose(), priv_proto(*p), pp.expose())
                }
                (None, Some(_)) => {
                    return Err(SnmpError::Config(
                        "SNMPv3 privacy needs an authentication protocol too".into(),
                    ));
                }
            }
            // The crypto error names the rule broken (length, protocol), never the passphrase.
            .map_err(|e| {
                SnmpError::Config(format!(
                    "SNMPv3 credential '{}' is not usable: {e}",
                    c.name()
                ))
            })?;
            Auth::from(cfg.context_name(context.clone().into_bytes()))
        }
    })
}

fn auth_proto(a: AuthProto) -> async_snmp::AuthProtocol {
    use async_snmp::AuthProtocol as A;
    match a {
        AuthProto::Md5 => A::Md5,
        AuthProto::Sha1 => A::Sha1,
        AuthProto::Sha224 => A::Sha224,
        AuthProto::Sha256 => A::Sha256,
        AuthProto::Sha384 => A::Sha384,
        AuthProto::Sha512 => A::Sha512,
    }
}

fn priv_proto(p: PrivProto) -> async_snmp::PrivProtocol {
    use async_snmp::PrivProtocol as P;
    match p {
        PrivProto::Des => P::Des,
        PrivProto::Aes128 => P::Aes128,
        PrivProto::Aes192 => P::Aes192Blumenthal,
        PrivProto::Aes256 => P::Aes256Blumenthal,
    }
}

/// A session on the shared transport.
pub struct UdpSession {
    client: Client<UdpHandle>,
    version: Version,
    target: SocketAddr,
    options: SnmpOptions,
    limiter: Option<Arc<RateLimiter>>,
    requests: AtomicU32,
    engines: Arc<EngineCache>,
    privacy: bool,
}

impl UdpSession {
    async fn before_send(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
    }

    /// A GET whose rate-limit slot the caller already took with
    /// [`SnmpTransport::pace`]: it leaves as soon as it is polled.
    pub async fn get_paced(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let r = self
            .client
            .get_many(&to_lib(oids))
            .await
            .map_err(|e| self.err(*e))?;
        Ok(convert(r.varbinds))
    }

    fn err(&self, e: async_snmp::Error) -> SnmpError {
        let mapped = map_error(e, self.target, &self.options);
        // Agents answer a bad key or user with an *unauthenticated* Report, which
        // a careful client must drop (anyone could forge it), so the request
        // times out. If the agent did answer engine discovery and no
        // authenticated message ever came back, the credential is what failed.
        if self.version == Version::V3
            && matches!(mapped, SnmpError::Timeout { .. })
            && let Some(engine) = self.engines.get(&self.target)
        {
            let reason = if engine.authenticated_time().is_none() {
                "the agent answered SNMPv3 discovery but rejected the request (wrong user name, authentication passphrase or protocol)"
            } else if self.privacy && self.requests.load(Ordering::Relaxed) <= 1 {
                // Authenticated time sync worked, the encrypted request got no answer.
                "the agent accepted the authentication but not the encrypted request (wrong privacy passphrase or protocol)"
            } else {
                return mapped;
            };
            return SnmpError::Auth {
                reason: reason.into(),
            };
        }
        mapped
    }
}

pub(crate) fn convert(vbs: Vec<async_snmp::VarBind>) -> Vec<(Oid, Value)> {
    vbs.into_iter()
        .map(|vb| (Oid::from_arcs(vb.oid.arcs()), convert_value(vb.value)))
        .collect()
}

fn convert_value(v: async_snmp::Value) -> Value {
    use async_snmp::Value as V;
    match v {
        V::Integer(i) => Value::Int(i64::from(i)),
        V::OctetString(b) | V::Opaque(b) | V::Nsap(b) => Value::Bytes(b.to_vec()),
        V::Null => Value::Null,
        V::ObjectIdentifier(o) => Value::Oid(Oid::from_arcs(o.arcs())),
        V::IpAddress(a) => Value::Ip(a),
        V::Counter32(c) => Value::Counter(u64::from(c)),
        V::Gauge32(g) | V::UInteger32(g) => Value::Gauge(u64::from(g)),
        V::TimeTicks(t) => Value::Ticks(u64::from(t)),
        V::Counter64(c) => Value::Counter(c),
        V::NoSuchObject | V::NoSuchInstance => Value::NoSuch,
        V::EndOfMibView => Value::EndOfMib,
        _ => Value::Null,
    }
}

fn to_lib(oids: &[Oid]) -> Vec<async_snmp::Oid> {
    oids.iter()
        .map(|o| async_snmp::Oid::from_slice(o.arcs()))
        .collect()
}

fn map_error(e: async_snmp::Error, target: SocketAddr, o: &SnmpOptions) -> SnmpError {
    use async_snmp::{Error as E, ErrorStatus as S, v3::ReportStatus as R};
    match e {
        E::SharedOperation { source } => map_error(clone_shallow(&source), target, o),
        E::Exchange { source, .. } => map_error(*source, target, o),
        E::Timeout { .. } | E::ConstructionTimeout { .. } => SnmpError::Timeout {
            target,
            waited: o.timeout * (o.retries + 1),
        },
        E::Report { status, .. } => SnmpError::Auth {
            reason: match *status {
                R::WrongDigest { .. } => "wrong authentication passphrase or protocol".into(),
                R::DecryptionError { .. } => {
                    "wrong privacy passphrase or protocol (the agent could not decrypt)".into()
                }
                R::UnknownUserName { .. } => "unknown user name".into(),
                R::UnsupportedSecurityLevel { .. } => {
                    "the user does not support this security level".into()
                }
                R::NotInTimeWindow { .. } => {
                    "not in time window (clock or engine boots mismatch)".into()
                }
                R::UnknownEngineId { .. } => "unknown engine ID".into(),
                other => format!("agent sent a Report: {other}"),
            },
        },
        E::Auth { .. } => SnmpError::Auth {
            reason: "the response did not verify (wrong passphrase?)".into(),
        },
        E::Snmp {
            status: S::TooBig, ..
        } => SnmpError::TooBig,
        E::Snmp {
            status: S::NoSuchName,
            index,
            ..
        } => SnmpError::NoSuchName((index as usize).saturating_sub(1)),
        E::Snmp { status, .. } => SnmpError::Agent(status.to_string()),
        E::Network { source, .. } => SnmpError::Network(source.to_string()),
        E::Decode(d) => SnmpError::Malformed(d.to_string()),
        E::MalformedResponse { .. } | E::ResponseShape { .. } => {
            SnmpError::Malformed("response does not match the request".into())
        }
        E::Config(c) => SnmpError::Config(c.to_string()),
        E::Privacy(p) => SnmpError::Config(p.to_string()),
        E::OutboundMessageTooLarge { .. } => SnmpError::TooBig,
        other => SnmpError::Network(other.to_string()),
    }
}

// `SharedOperation` holds an `Arc<Error>`; we only need its kind and status.
fn clone_shallow(e: &async_snmp::Error) -> async_snmp::Error {
    use async_snmp::{Error as E, ErrorKind as K};
    match e.kind() {
        K::Timeout | K::ConstructionTimeout => E::Timeout {
            target: ([0, 0, 0, 0], 0).into(),
            elapsed: Duration::ZERO,
            retries: 0,
        },
        K::Report | K::Auth => E::Auth {
            target: ([0, 0, 0, 0], 0).into(),
        },
        _ => E::Config(e.to_string().into()),
    }
}

impl SnmpSession for UdpSession {
    fn version(&self) -> Version {
        self.version
    }

    async fn get(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        self.get_paced(oids).await
    }

    async fn get_next(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.before_send().await;
        let r = self
            .client
            .get_next_many(&to_lib(oids))
            .await
            .map_err(|e| self.err(*e))?;
        Ok(convert(r.varbinds))
    }

    async fn get_bulk(
        &self,
        non_repeaters: u32,
        max_repetitions: u32,
        oids: &[Oid],
    ) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.before_send().await;
        let r = self
            .client
            .get_bulk(&to_lib(oids), non_repeaters, max_repetitions)
            .await
            .map_err(|e| self.err(*e))?;
        Ok(convert(r))
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Spaces sends evenly: at most `rate` per second across all sessions.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}
