//! SNMP broadcast discovery: one GET to each interface's subnet-directed
//! broadcast address *and* to 255.255.255.255, then every reply that arrives
//! within the window. Agents differ in which of the two they answer (net-snmp
//! answers only the limited one; snmpsim and many printers both), so both are
//! always sent.
//!
//! This is the one place that reads the network without the shared
//! transport: a request to a broadcast address has many answers, and the
//! transport delivers only the first per request id. Each interface gets its
//! own socket, bound to the device where the OS allows (needed for
//! 255.255.255.255 on a machine without a default route), and every datagram
//! is decoded with the engine's codec.
//!
//! Invariants: only replies that decode, are Responses, and carry one of the
//! request ids this scan sent are accepted; anything else is counted and
//! dropped; one source address is reported once per interface.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::interfaces::LocalInterface;
use crate::printer::oids::{SYS_DESCR, SYS_OBJECT_ID};
use crate::snmp::codec::{decode_message, encode_get};
use crate::snmp::{Credential, Oid, Version};

/// Which broadcast a reply answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The subnet-directed address (`10.1.2.255`).
    Directed,
    /// 255.255.255.255.
    Limited,
}

/// One device that answered.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Where the answer came from.
    pub from: IpAddr,
    /// The interface it was heard on.
    pub interface: String,
    /// Which broadcasts it answered.
    pub kinds: Vec<Kind>,
    /// Time from send to its first answer.
    pub rtt: Duration,
}

/// What the broadcast phase saw.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Devices that answered, by address.
    pub replies: Vec<Reply>,
    /// Datagrams dropped (undecodable, not a Response, or an unknown request id).
    pub dropped: u64,
    /// Problems worth telling the user (an interface that could not be used).
    pub notes: Vec<String>,
}

/// Broadcasts a GET with `credential` (v1/v2c) on each interface and gathers
/// replies for `window` or until `cancel`. `on_reply` is called once per new
/// responder as it arrives.
pub async fn broadcast<F>(
    interfaces: &[LocalInterface],
    credential: &Credential,
    port: u16,
    window: Duration,
    cancel: &CancellationToken,
    mut on_reply: F,
) -> Summary
where
    F: FnMut(&Reply),
{
    let mut summary = Summary::default();
    let Credential::Community {
        community, version, ..
    } = credential
    else {
        summary.notes.push(
            "broadcast needs a v1/v2c community; SNMPv3 devices are found by the sweep".into(),
        );
        return summary;
    };
    let oids = [Oid::lit(SYS_OBJECT_ID), Oid::lit(SYS_DESCR)];
    let mut sockets = Vec::new();
    let mut ids: BTreeMap<i32, Kind> = BTreeMap::new();
    let base = request_id_base();
    for (n, iface) in interfaces.iter().enumerate() {
        let socket = match open_socket(iface) {
            Ok(s) => s,
            Err(e) => {
                summary
                    .notes
                    .push(format!("cannot broadcast on {}: {e}", iface.name));
                continue;
            }
        };
        let mut sent_any = false;
        let destinations = iface
            .directed_broadcasts()
            .into_iter()
            .map(|a| (a, Kind::Directed))
            .chain([(Ipv4Addr::BROADCAST, Kind::Limited)]);
        for (k, (dest, kind)) in destinations.enumerate() {
            let id = base.wrapping_add((n * 16 + k) as i32) & 0x7fff_ffff;
            let packet = match encode_get(*version, community.expose().as_bytes(), id, &oids) {
                Ok(p) => p,
                Err(e) => {
                    summary
                        .notes
                        .push(format!("cannot build the broadcast: {e}"));
                    return summary;
                }
            };
            match socket
                .send_to(&packet, SocketAddr::new(dest.into(), port))
                .await
            {
                Ok(_) => {
                    ids.insert(id, kind);
                    sent_any = true;
                }
                Err(e) => summary
                    .notes
                    .push(format!("{}: broadcast to {dest} failed: {e}", iface.name)),
            }
        }
        if sent_any {
            sockets.push((iface.name.clone(), socket));
        }
    }
    if sockets.is_empty() {
        return summary;
    }
    let started = Instant::now();
    let deadline = started + window;
    let mut seen: BTreeMap<(String, IpAddr), usize> = BTreeMap::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, SocketAddr, Vec<u8>)>(1024);
    let mut readers = tokio::task::JoinSet::new();
    for (name, socket) in sockets {
        let tx = tx.clone();
        readers.spawn(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or_default().to_vec();
                        if tx.send((name.clone(), from, data)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // ICMP errors surface here on some systems; keep listening.
                        tracing::debug!(interface = %name, error = %e, "broadcast receive");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        });
    }
    drop(tx);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            msg = rx.recv() => {
                let Some((iface, from, data)) = msg else { break };
                let kind = match decode_message(&data) {
                    Ok(d) if d.pdu_type == "Response" && d.version != Version::V3 => {
                        ids.get(&d.request_id).copied()
                    }
                    _ => None,
                };
                let Some(kind) = kind else {
                    summary.dropped += 1;
                    continue;
                };
                let key = (iface.clone(), from.ip());
                match seen.get(&key) {
                    Some(&i) => {
                        if let Some(r) = summary.replies.get_mut(i)
                            && !r.kinds.contains(&kind)
                        {
                            r.kinds.push(kind);
                            r.kinds.sort();
                        }
                    }
                    None => {
                        let reply = Reply {
                            from: from.ip(),
                            interface: iface,
                            kinds: vec![kind],
                            rtt: started.elapsed(),
                        };
                        on_reply(&reply);
                        seen.insert(key, summary.replies.len());
                        summary.replies.push(reply);
                    }
                }
            }
        }
    }
    readers.abort_all();
    summary
}

fn request_id_base() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() as i32 & 0x3fff_ffff) | 1
}

fn open_socket(iface: &LocalInterface) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_broadcast(true)?;
    bind_to_device(&s, iface);
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// Ties the socket to one interface so 255.255.255.255 leaves through it. Not
/// fatal when refused (needs CAP_NET_RAW on Linux): the OS then picks the
/// interface of the default route.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn bind_to_device(s: &socket2::Socket, iface: &LocalInterface) {
    if let Err(e) = s.bind_device(Some(iface.name.as_bytes())) {
        tracing::info!(interface = %iface.name, error = %e, "cannot bind the broadcast socket to its interface");
    }
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn bind_to_device(s: &socket2::Socket, iface: &LocalInterface) {
    if let Err(e) = s.bind_device_by_index_v4(std::num::NonZeroU32::new(iface.index)) {
        tracing::info!(interface = %iface.name, error = %e, "cannot bind the broadcast socket to its interface");
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
)))]
fn bind_to_device(_s: &socket2::Socket, _iface: &LocalInterface) {}
