//! The networks the default gateway knows: its routing tables (ipRouteTable,
//! ipCidrRouteTable, inetCidrRouteTable) and neighbour tables
//! (ipNetToMediaTable, ipNetToPhysicalTable), read over SNMP in one
//! multi-column walk, turned into candidate [`Segment`]s for the user to pick.
//! Nothing here scans those networks: they are offered, not probed.
//!
//! Rules: a route's network comes from the table's INDEX (destination and
//! prefix; ipRouteTable's prefix from its ipRouteMask column) with host bits
//! cleared. The default route (/0), host routes (/32, /128), loopback,
//! multicast, link-local (fe80::/10 and 169.254.0.0/16), `0.0.0.0/8`, and
//! routes of type invalid / reject / blackhole are dropped. One network named
//! by several tables (or several routes) is one [`Segment`] whose `tables`
//! lists them; the newer table's details win (inetCidr, then ipCidr, then
//! ipRoute). Segments are sorted by network. Neighbours of type invalid(2) or
//! with a MAC that is not six bytes, all-zero or all-ones are dropped; one
//! address is one neighbour.
//!
//! Invariants: everything from the device is untrusted — an index of the wrong
//! length, an arc above 255, a length prefix that overruns, a non-contiguous
//! mask or an impossible prefix length skips that row; nothing here panics.
//! Each table walk is bounded by [`crate::snmp::walk::MAX_ROWS`] rows.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use serde::Serialize;

use crate::printer::read::{ReadError, choose_credential};
use crate::printer::standard::format_mac;
use crate::snmp::transport::SnmpTransport;
use crate::snmp::walk::{FetchPlan, fetch};
use crate::snmp::{Credential, Oid, Snapshot, SnmpError, SnmpOptions, Value};

/// ifDescr (IF-MIB): names the interfaces that routes and neighbours point at.
const IF_DESCR: &str = "1.3.6.1.2.1.2.2.1.2";

/// ipRouteTable (RFC 1213) entry; INDEX { ipRouteDest }.
const IP_ROUTE: &str = "1.3.6.1.2.1.4.21.1";
const IP_ROUTE_IF_INDEX: u32 = 2;
const IP_ROUTE_NEXT_HOP: u32 = 7;
const IP_ROUTE_TYPE: u32 = 8;
const IP_ROUTE_MASK: u32 = 11;

/// ipCidrRouteTable (RFC 2096) entry; INDEX { dest, mask, tos, nextHop }.
const IP_CIDR_ROUTE: &str = "1.3.6.1.2.1.4.24.4.1";
const IP_CIDR_ROUTE_IF_INDEX: u32 = 5;
const IP_CIDR_ROUTE_TYPE: u32 = 6;

/// inetCidrRouteTable (RFC 4292) entry; INDEX { destType, dest, pfxLen,
/// policy, nextHopType, nextHop }.
const INET_CIDR_ROUTE: &str = "1.3.6.1.2.1.4.24.7.1";
const INET_CIDR_ROUTE_IF_INDEX: u32 = 7;
const INET_CIDR_ROUTE_TYPE: u32 = 8;

/// ipNetToMediaTable (RFC 1213) entry; INDEX { ifIndex, netAddress }.
const IP_NET_TO_MEDIA: &str = "1.3.6.1.2.1.4.22.1";
const IP_NET_TO_MEDIA_PHYS: u32 = 2;
const IP_NET_TO_MEDIA_TYPE: u32 = 4;

/// ipNetToPhysicalTable (RFC 4293) entry; INDEX { ifIndex, addrType, addr }.
const IP_NET_TO_PHYSICAL: &str = "1.3.6.1.2.1.4.35.1";
const IP_NET_TO_PHYSICAL_PHYS: u32 = 4;
const IP_NET_TO_PHYSICAL_TYPE: u32 = 6;

/// Table names as they appear in [`Segment::tables`].
const INET_CIDR_ROUTE_TABLE: &str = "inetCidrRouteTable";
const IP_CIDR_ROUTE_TABLE: &str = "ipCidrRouteTable";
const IP_ROUTE_TABLE: &str = "ipRouteTable";

/// One network the gateway knows, offered as a candidate to scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// The network, host bits cleared (`10.78.0.0/24`).
    pub network: IpNet,
    /// The router it is reached through; `None` for directly connected
    /// networks (next hop absent or `0.0.0.0` / `::`).
    pub next_hop: Option<IpAddr>,
    /// ifDescr of the route's interface, when the gateway names it.
    pub interface: Option<String>,
    /// `"direct"` (the gateway has an interface on it: ipRouteType direct(3),
    /// ip/inetCidrRouteType local(3)), `"remote"` (reached through another
    /// router: indirect(4) / remote(4)) or `"other"`; `None` when not given
    /// or not a known value.
    pub route_type: Option<String>,
    /// The MIB tables that named it, newest first (`"inetCidrRouteTable"`,
    /// `"ipCidrRouteTable"`, `"ipRouteTable"`).
    pub tables: Vec<&'static str>,
    /// ARP / neighbour entries of the gateway inside this network.
    pub hosts_seen: usize,
}

/// One entry of the gateway's ARP / IPv6 neighbour table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    /// The neighbour's IP address.
    pub address: IpAddr,
    /// Its MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// ifDescr of the interface it was seen on.
    pub interface: Option<String>,
}

/// What the gateway's tables say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GatewayTables {
    /// Candidate networks, sorted by network.
    pub segments: Vec<Segment>,
    /// Neighbours, sorted by address.
    pub neighbours: Vec<Neighbour>,
}

/// The columns to fetch: every route and neighbour column the rules use, and
/// ifDescr — one plan, walked as one multi-column GETBULK.
pub fn plan() -> FetchPlan {
    let col = |entry: &str, c: u32| Oid::lit(entry).child(&[c]);
    FetchPlan {
        scalars: Vec::new(),
        subtrees: vec![
            col(IP_ROUTE, IP_ROUTE_IF_INDEX),
            col(IP_ROUTE, IP_ROUTE_NEXT_HOP),
            col(IP_ROUTE, IP_ROUTE_TYPE),
            col(IP_ROUTE, IP_ROUTE_MASK),
            col(IP_CIDR_ROUTE, IP_CIDR_ROUTE_IF_INDEX),
            col(IP_CIDR_ROUTE, IP_CIDR_ROUTE_TYPE),
            col(INET_CIDR_ROUTE, INET_CIDR_ROUTE_IF_INDEX),
            col(INET_CIDR_ROUTE, INET_CIDR_ROUTE_TYPE),
            col(IP_NET_TO_MEDIA, IP_NET_TO_MEDIA_PHYS),
            col(IP_NET_TO_MEDIA, IP_NET_TO_MEDIA_TYPE),
            col(IP_NET_TO_PHYSICAL, IP_NET_TO_PHYSICAL_PHYS),
            col(IP_NET_TO_PHYSICAL, IP_NET_TO_PHYSICAL_TYPE),
            Oid::lit(IF_DESCR),
        ],
        first_rows: Vec::new(),
    }
}

/// Asks the gateway at `gateway` for its tables, trying `credentials` in order
/// (the first that answers wins, as in `read`). Returns the name of the
/// credential that answered and the tables. An error comes back only when
/// nothing at all was read; a walk cut short after the first answer gives
/// what arrived.
pub async fn ask_gateway(
    transport: &SnmpTransport,
    gateway: SocketAddr,
    credentials: &[Credential],
    options: &SnmpOptions,
) -> Result<(String, GatewayTables), ReadError> {
    let (credential, session, _) =
        choose_credential(transport, gateway, credentials, options).await?;
    let mut snap = Snapshot::default();
    if let Err(e) = fetch(&session, &plan(), options, &mut snap).await {
        if snap.is_empty() {
            return Err(match e {
                SnmpError::Timeout { .. } => ReadError::NoAnswer {
                    target: gateway,
                    waited: options.timeout * (options.retries + 1),
                    tried: format!("'{}'", credential.name()),
                },
                SnmpError::Auth { reason } => ReadError::Auth {
                    target: gateway,
                    credential: credential.name().to_string(),
                    reason,
                },
                source => ReadError::Snmp {
                    target: gateway,
                    source,
                },
            });
        }
        tracing::debug!(%gateway, error = %e, "gateway tables read only in part");
    }
    Ok((credential.name().to_string(), tables_from_snapshot(&snap)))
}

/// Builds the gateway's segments and neighbours from fetched values. Pure.
pub fn tables_from_snapshot(snap: &Snapshot) -> GatewayTables {
    let names = interface_names(snap);
    let neighbours = neighbours(snap, &names);

    let mut segments: BTreeMap<IpNet, Segment> = BTreeMap::new();
    for route in inet_cidr_routes(snap)
        .into_iter()
        .chain(ip_cidr_routes(snap))
        .chain(ip_routes(snap))
    {
        let Some(route) = route.kept() else {
            continue;
        };
        let interface = route
            .if_index
            .filter(|&i| i > 0)
            .and_then(|i| names.get(&i).cloned());
        let segment = segments.entry(route.network).or_insert_with(|| Segment {
            network: route.network,
            next_hop: None,
            interface: None,
            route_type: None,
            tables: Vec::new(),
            hosts_seen: 0,
        });
        if !segment.tables.contains(&route.table) {
            segment.tables.push(route.table);
        }
        if segment.next_hop.is_none() {
            segment.next_hop = route.next_hop;
        }
        if segment.interface.is_none() {
            segment.interface = interface;
        }
        if segment.route_type.is_none() {
            segment.route_type = route.kind.word().map(str::to_string);
        }
    }
    let mut segments: Vec<Segment> = segments.into_values().collect();
    for s in &mut segments {
        s.hosts_seen = neighbours
            .iter()
            .filter(|n| s.network.contains(&n.address))
            .count();
    }
    GatewayTables {
        segments,
        neighbours,
    }
}

/// What a route's type column says, across the three tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteKind {
    Direct,
    Remote,
    Other,
    /// invalid / reject / blackhole: not a network anyone can reach.
    Dead,
    Unknown,
}

impl RouteKind {
    fn word(self) -> Option<&'static str> {
        match self {
            RouteKind::Direct => Some("direct"),
            RouteKind::Remote => Some("remote"),
            RouteKind::Other => Some("other"),
            RouteKind::Dead | RouteKind::Unknown => None,
        }
    }

    /// ipRouteType: other(1), invalid(2), direct(3), indirect(4).
    fn ip_route(v: Option<i64>) -> RouteKind {
        match v {
            Some(1) => RouteKind::Other,
            Some(2) => RouteKind::Dead,
            Some(3) => RouteKind::Direct,
            Some(4) => RouteKind::Remote,
            _ => RouteKind::Unknown,
        }
    }

    /// ipCidrRouteType / inetCidrRouteType: other(1), reject(2), local(3),
    /// remote(4), blackhole(5).
    fn cidr(v: Option<i64>) -> RouteKind {
        match v {
            Some(1) => RouteKind::Other,
            Some(2 | 5) => RouteKind::Dead,
            Some(3) => RouteKind::Direct,
            Some(4) => RouteKind::Remote,
            _ => RouteKind::Unknown,
        }
    }
}

/// One route row, before the rules.
#[derive(Clone, Debug)]
struct Route {
    network: IpNet,
    next_hop: Option<IpAddr>,
    if_index: Option<u32>,
    kind: RouteKind,
    table: &'static str,
}

impl Route {
    fn kept(self) -> Option<Route> {
        (self.kind != RouteKind::Dead && is_candidate(&self.network)).then_some(self)
    }
}

/// The drop rules for networks.
fn is_candidate(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => {
            let a = n.network();
            n.prefix_len() > 0
                && n.prefix_len() < 32
                && a.octets()[0] != 0
                && !a.is_loopback()
                && !a.is_multicast()
                && !a.is_link_local()
                && !a.is_broadcast()
        }
        IpNet::V6(n) => {
            let a = n.network();
            n.prefix_len() > 0
                && n.prefix_len() < 128
                && !a.is_unspecified()
                && !a.is_loopback()
                && !a.is_multicast()
                && (a.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// Rows of a table: index → (column → value), for the given entry OID.
fn rows(snap: &Snapshot, entry: &str, columns: &[u32]) -> BTreeMap<Vec<u32>, BTreeMap<u32, Value>> {
    let mut out: BTreeMap<Vec<u32>, BTreeMap<u32, Value>> = BTreeMap::new();
    let entry = Oid::lit(entry);
    for &c in columns {
        let col = entry.child(&[c]);
        for (index, value) in snap.subtree(&col) {
            if index.is_empty() {
                continue;
            }
            out.entry(index.to_vec())
                .or_default()
                .insert(c, value.clone());
        }
    }
    out
}

fn int(row: &BTreeMap<u32, Value>, col: u32) -> Option<i64> {
    row.get(&col).and_then(Value::as_i64)
}

fn if_index(row: &BTreeMap<u32, Value>, col: u32) -> Option<u32> {
    int(row, col).and_then(|i| u32::try_from(i).ok())
}

/// Four arcs, each a byte, as an IPv4 address.
fn ipv4_arcs(arcs: &[u32]) -> Option<Ipv4Addr> {
    let b: Vec<u8> = arcs
        .iter()
        .map(|&a| u8::try_from(a).ok())
        .collect::<Option<_>>()?;
    <[u8; 4]>::try_from(b.as_slice()).ok().map(Ipv4Addr::from)
}

/// Bytes as an address of InetAddressType `ty`: ipv4(1), ipv6(2), ipv4z(3),
/// ipv6z(4) (the zone index is dropped). `None` for unknown(0) or a wrong
/// length.
fn inet_address(ty: u32, bytes: &[u8]) -> Option<IpAddr> {
    match (ty, bytes.len()) {
        (1, 4) | (3, 8) => <[u8; 4]>::try_from(&bytes[..4])
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        (2, 16) | (4, 20) => <[u8; 16]>::try_from(&bytes[..16])
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// Reads a length-prefixed run of arcs: (the arcs, the rest).
fn length_prefixed(arcs: &[u32]) -> Option<(&[u32], &[u32])> {
    let (&len, rest) = arcs.split_first()?;
    let len = usize::try_from(len).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// A length-prefixed InetAddress of type `ty` in an index: (address or
/// `None` for an empty/unknown one, the rest). Fails on bytes > 255 or
/// overrun.
fn indexed_inet_address(ty: u32, arcs: &[u32]) -> Option<(Option<IpAddr>, &[u32])> {
    let (raw, rest) = length_prefixed(arcs)?;
    let bytes: Vec<u8> = raw
        .iter()
        .map(|&a| u8::try_from(a).ok())
        .collect::<Option<_>>()?;
    if bytes.is_empty() {
        return Some((None, rest));
    }
    Some((Some(inet_address(ty, &bytes)?), rest))
}

/// Prefix length of a contiguous IPv4 mask.
fn mask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    (m.leading_ones() + m.trailing_zeros() == 32)
        .then(|| u8::try_from(m.leading_ones()).ok())
        .flatten()
}

fn network(addr: IpAddr, prefix: u32) -> Option<IpNet> {
    let prefix = u8::try_from(prefix).ok()?;
    IpNet::new(addr, prefix).ok().map(|n| n.trunc())
}

fn usable_hop(hop: IpAddr) -> Option<IpAddr> {
    (!hop.is_unspecified()).then_some(hop)
}

/// inetCidrRouteTable rows.
fn inet_cidr_routes(snap: &Snapshot) -> Vec<Route> {
    rows(
        snap,
        INET_CIDR_ROUTE,
        &[INET_CIDR_ROUTE_IF_INDEX, INET_CIDR_ROUTE_TYPE],
    )
    .into_iter()
    .filter_map(|(index, row)| {
        let (dest, prefix, next_hop) = parse_inet_cidr_index(&index)?;
        Some(Route {
            network: network(dest, prefix)?,
            next_hop: next_hop.and_then(usable_hop),
            if_index: if_index(&row, INET_CIDR_ROUTE_IF_INDEX),
            kind: RouteKind::cidr(int(&row, INET_CIDR_ROUTE_TYPE)),
            table: INET_CIDR_ROUTE_TABLE,
        })
    })
    .collect()
}

/// INDEX { destType, dest (length-prefixed), pfxLen, policy (length-prefixed
/// OID), nextHopType, nextHop (length-prefixed) }; every arc must be used.
fn parse_inet_cidr_index(index: &[u32]) -> Option<(IpAddr, u32, Option<IpAddr>)> {
    let (&dest_type, rest) = index.split_first()?;
    let (dest, rest) = indexed_inet_address(dest_type, rest)?;
    let dest = dest?;
    let (&prefix, rest) = rest.split_first()?;
    let max = if dest.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return None;
    }
    let (_policy, rest) = length_prefixed(rest)?;
    let (&hop_type, rest) = rest.split_first()?;
    let (hop, rest) = indexed_inet_address(hop_type, rest)?;
    rest.is_empty().then_some((dest, prefix, hop))
}

/// ipCidrRouteTable rows.
fn ip_cidr_routes(snap: &Snapshot) -> Vec<Route> {
    rows(
        snap,
        IP_CIDR_ROUTE,
        &[IP_CIDR_ROUTE_IF_INDEX, IP_CIDR_ROUTE_TYPE],
    )
    .into_iter()
    .filter_map(|(index, row)| {
        // dest(4) mask(4) tos(1) nextHop(4)
        if index.len() != 13 {
            return None;
        }
        let dest = ipv4_arcs(&index[0..4])?;
        let prefix = mask_prefix(ipv4_arcs(&index[4..8])?)?;
        let hop = ipv4_arcs(&index[9..13])?;
        Some(Route {
            network: network(IpAddr::V4(dest), u32::from(prefix))?,
            next_hop: usable_hop(IpAddr::V4(hop)),
            if_index: if_index(&row, IP_CIDR_ROUTE_IF_INDEX),
            kind: RouteKind::cidr(int(&row, IP_CIDR_ROUTE_TYPE)),
            table: IP_CIDR_ROUTE_TABLE,
        })
    })
    .collect()
}

/// ipRouteTable rows (the prefix comes from ipRouteMask; a row without one is
/// skipped).
fn ip_routes(snap: &Snapshot) -> Vec<Route> {
    rows(
        snap,
        IP_ROUTE,
        &[
            IP_ROUTE_IF_INDEX,
            IP_ROUTE_NEXT_HOP,
            IP_ROUTE_TYPE,
            IP_ROUTE_MASK,
        ],
    )
    .into_iter()
    .filter_map(|(index, row)| {
        let dest = ipv4_arcs(&index)?;
        let mask = match row.get(&IP_ROUTE_MASK)? {
            Value::Ip(b) => Ipv4Addr::from(*b),
            _ => return None,
        };
        let prefix = mask_prefix(mask)?;
        let next_hop = match row.get(&IP_ROUTE_NEXT_HOP) {
            Some(Value::Ip(b)) => usable_hop(IpAddr::V4(Ipv4Addr::from(*b))),
            _ => None,
        };
        let kind = RouteKind::ip_route(int(&row, IP_ROUTE_TYPE));
        Some(Route {
            network: network(IpAddr::V4(dest), u32::from(prefix))?,
            // A direct route's "next hop" is the gateway's own address there.
            next_hop: if kind == RouteKind::Direct {
                None
            } else {
                next_hop
            },
            if_index: if_index(&row, IP_ROUTE_IF_INDEX),
            kind,
            table: IP_ROUTE_TABLE,
        })
    })
    .collect()
}

/// ifIndex → ifDescr.
fn interface_names(snap: &Snapshot) -> BTreeMap<u32, String> {
    snap.column(IF_DESCR)
        .into_iter()
        .filter_map(|(index, v)| match index.as_slice() {
            [i] => Some((*i, v.as_clean_text()?)),
            _ => None,
        })
        .collect()
}

/// Both neighbour tables, newest first, one entry per address.
fn neighbours(snap: &Snapshot, names: &BTreeMap<u32, String>) -> Vec<Neighbour> {
    let mut out: BTreeMap<IpAddr, Neighbour> = BTreeMap::new();
    let mut add =
        |if_index: u32, address: IpAddr, row: &BTreeMap<u32, Value>, phys: u32, ty: u32| {
            if int(row, ty) == Some(2)
                || address.is_unspecified()
                || address.is_multicast()
                || address.is_loopback()
            {
                return;
            }
            let Some(mac) = row
                .get(&phys)
                .and_then(Value::as_bytes)
                .and_then(format_mac)
            else {
                return;
            };
            out.entry(address).or_insert_with(|| Neighbour {
                address,
                mac,
                interface: names.get(&if_index).cloned(),
            });
        };
    for (index, row) in rows(
        snap,
        IP_NET_TO_PHYSICAL,
        &[IP_NET_TO_PHYSICAL_PHYS, IP_NET_TO_PHYSICAL_TYPE],
    ) {
        // ifIndex, addrType, addr (length-prefixed)
        let Some((&if_idx, rest)) = index.split_first() else {
            continue;
        };
        let Some((&ty, rest)) = rest.split_first() else {
            continue;
        };
        let Some((Some(address), [])) = indexed_inet_address(ty, rest) else {
            continue;
        };
        add(
            if_idx,
            address,
            &row,
            IP_NET_TO_PHYSICAL_PHYS,
            IP_NET_TO_PHYSICAL_TYPE,
        );
    }
    for (index, row) in rows(
        snap,
        IP_NET_TO_MEDIA,
        &[IP_NET_TO_MEDIA_PHYS, IP_NET_TO_MEDIA_TYPE],
    ) {
        // ifIndex, a.b.c.d
        let [if_idx, addr @ ..] = index.as_slice() else {
            continue;
        };
        let Some(address) = ipv4_arcs(addr) else {
            continue;
        };
        add(
            *if_idx,
            IpAddr::V4(address),
            &row,
            IP_NET_TO_MEDIA_PHYS,
            IP_NET_TO_MEDIA_TYPE,
        );
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::recording::Recording;

    fn snap(text: &str) -> Snapshot {
        let rec = Recording::parse(text);
        assert_eq!(rec.skipped_lines, 0, "test recording parses");
        Snapshot::new(rec.values)
    }

    fn nets(t: &GatewayTables) -> Vec<String> {
        t.segments.iter().map(|s| s.network.to_string()).collect()
    }

    fn seg<'a>(t: &'a GatewayTables, net: &str) -> &'a Segment {
        t.segments
            .iter()
            .find(|s| s.network.to_string() == net)
            .unwrap_or_else(|| panic!("segment {net} in {:?}", nets(t)))
    }

    const IF_DESCRS: &str = "\
1.3.6.1.2.1.2.2.1.2.1|4|lo
1.3.6.1.2.1.2.2.1.2.2|4|eth0
1.3.6.1.2.1.2.2.1.2.3|4|eth1
";

    /// ipRouteTable: default, a connected /24, a remote /16, a host route,
    /// loopback, an invalid route, multicast.
    const IP_ROUTE_TABLE_TEXT: &str = "\
1.3.6.1.2.1.4.21.1.2.0.0.0.0|2|2
1.3.6.1.2.1.4.21.1.2.10.1.0.0|2|3
1.3.6.1.2.1.4.21.1.2.10.1.2.3|2|2
1.3.6.1.2.1.4.21.1.2.10.9.0.0|2|3
1.3.6.1.2.1.4.21.1.2.127.0.0.0|2|1
1.3.6.1.2.1.4.21.1.2.192.0.2.0|2|2
1.3.6.1.2.1.4.21.1.2.224.0.0.0|2|2
1.3.6.1.2.1.4.21.1.7.0.0.0.0|64|192.0.2.1
1.3.6.1.2.1.4.21.1.7.10.1.0.0|64|192.0.2.254
1.3.6.1.2.1.4.21.1.7.10.1.2.3|64|192.0.2.254
1.3.6.1.2.1.4.21.1.7.10.9.0.0|64|192.0.2.254
1.3.6.1.2.1.4.21.1.7.127.0.0.0|64|0.0.0.0
1.3.6.1.2.1.4.21.1.7.192.0.2.0|64|192.0.2.2
1.3.6.1.2.1.4.21.1.7.224.0.0.0|64|0.0.0.0
1.3.6.1.2.1.4.21.1.8.0.0.0.0|2|4
1.3.6.1.2.1.4.21.1.8.10.1.0.0|2|4
1.3.6.1.2.1.4.21.1.8.10.1.2.3|2|4
1.3.6.1.2.1.4.21.1.8.10.9.0.0|2|2
1.3.6.1.2.1.4.21.1.8.127.0.0.0|2|3
1.3.6.1.2.1.4.21.1.8.192.0.2.0|2|3
1.3.6.1.2.1.4.21.1.8.224.0.0.0|2|3
1.3.6.1.2.1.4.21.1.11.0.0.0.0|64|0.0.0.0
1.3.6.1.2.1.4.21.1.11.10.1.0.0|64|255.255.0.0
1.3.6.1.2.1.4.21.1.11.10.1.2.3|64|255.255.255.255
1.3.6.1.2.1.4.21.1.11.10.9.0.0|64|255.255.0.0
1.3.6.1.2.1.4.21.1.11.127.0.0.0|64|255.0.0.0
1.3.6.1.2.1.4.21.1.11.192.0.2.0|64|255.255.255.0
1.3.6.1.2.1.4.21.1.11.224.0.0.0|64|240.0.0.0
";

    /// ipCidrRouteTable: default, the connected /24, a remote 10.78/24 and a
    /// reject route.
    const IP_CIDR_ROUTE_TEXT: &str = "\
1.3.6.1.2.1.4.24.4.1.5.0.0.0.0.0.0.0.0.0.192.0.2.1|2|2
1.3.6.1.2.1.4.24.4.1.5.10.78.0.0.255.255.255.0.0.192.0.2.254|2|2
1.3.6.1.2.1.4.24.4.1.5.10.99.0.0.255.255.0.0.0.0.0.0.0|2|0
1.3.6.1.2.1.4.24.4.1.5.192.0.2.0.255.255.255.0.0.0.0.0.0|2|2
1.3.6.1.2.1.4.24.4.1.6.0.0.0.0.0.0.0.0.0.192.0.2.1|2|4
1.3.6.1.2.1.4.24.4.1.6.10.78.0.0.255.255.255.0.0.192.0.2.254|2|4
1.3.6.1.2.1.4.24.4.1.6.10.99.0.0.255.255.0.0.0.0.0.0.0|2|2
1.3.6.1.2.1.4.24.4.1.6.192.0.2.0.255.255.255.0.0.0.0.0.0|2|3
";

    /// inetCidrRouteTable as net-snmp serves it: IPv4 default and connected
    /// /24, plus IPv6 default, ::1/128, fd00::/64, fe80::/64, ff00::/8.
    const INET_CIDR_ROUTE_TEXT: &str = "\
1.3.6.1.2.1.4.24.7.1.7.1.4.0.0.0.0.0.2.0.0.1.4.192.0.2.1|2|2
1.3.6.1.2.1.4.24.7.1.7.1.4.192.0.2.0.24.3.0.0.4.1.4.0.0.0.0|2|2
1.3.6.1.2.1.4.24.7.1.7.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.5.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1|2|2
1.3.6.1.2.1.4.24.7.1.7.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.128.3.0.0.6.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|1
1.3.6.1.2.1.4.24.7.1.7.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.64.3.0.0.3.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|2
1.3.6.1.2.1.4.24.7.1.7.2.16.254.128.0.0.0.0.0.0.0.0.0.0.0.0.0.0.64.3.0.0.4.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|2
1.3.6.1.2.1.4.24.7.1.7.2.16.255.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.3.0.0.9.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|2
1.3.6.1.2.1.4.24.7.1.8.1.4.0.0.0.0.0.2.0.0.1.4.192.0.2.1|2|4
1.3.6.1.2.1.4.24.7.1.8.1.4.192.0.2.0.24.3.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.5.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1|2|4
1.3.6.1.2.1.4.24.7.1.8.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.128.3.0.0.6.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.64.3.0.0.3.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.2.16.254.128.0.0.0.0.0.0.0.0.0.0.0.0.0.0.64.3.0.0.4.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.2.16.255.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.3.0.0.9.2.16.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0|2|3
";

    #[test]
    fn an_ip_route_table_alone_lists_its_networks() {
        let t = tables_from_snapshot(&snap(&format!("{IF_DESCRS}{IP_ROUTE_TABLE_TEXT}")));
        // Default, host route, loopback, invalid (10.9/16) and multicast dropped.
        assert_eq!(nets(&t), ["10.1.0.0/16", "192.0.2.0/24"]);
        let remote = seg(&t, "10.1.0.0/16");
        assert_eq!(remote.route_type.as_deref(), Some("remote"));
        assert_eq!(remote.next_hop, Some("192.0.2.254".parse().expect("ip")));
        assert_eq!(remote.interface.as_deref(), Some("eth1"));
        assert_eq!(remote.tables, [IP_ROUTE_TABLE]);
        let direct = seg(&t, "192.0.2.0/24");
        assert_eq!(direct.route_type.as_deref(), Some("direct"));
        assert_eq!(direct.next_hop, None, "a direct route has no next hop");
        assert_eq!(direct.interface.as_deref(), Some("eth0"));
    }

    #[test]
    fn an_ip_cidr_route_table_alone_lists_its_networks() {
        let t = tables_from_snapshot(&snap(&format!("{IF_DESCRS}{IP_CIDR_ROUTE_TEXT}")));
        // The reject route to 10.99/16 and the default are dropped.
        assert_eq!(nets(&t), ["10.78.0.0/24", "192.0.2.0/24"]);
        let remote = seg(&t, "10.78.0.0/24");
        assert_eq!(remote.next_hop, Some("192.0.2.254".parse().expect("ip")));
        assert_eq!(remote.route_type.as_deref(), Some("remote"));
        assert_eq!(remote.tables, [IP_CIDR_ROUTE_TABLE]);
        let local = seg(&t, "192.0.2.0/24");
        assert_eq!(local.route_type.as_deref(), Some("direct"));
        assert_eq!(local.next_hop, None);
        assert_eq!(local.interface.as_deref(), Some("eth0"));
    }

    #[test]
    fn an_inet_cidr_route_table_alone_lists_v4_and_v6_networks() {
        let t = tables_from_snapshot(&snap(&format!("{IF_DESCRS}{INET_CIDR_ROUTE_TEXT}")));
        // Both defaults, ::1/128, fe80::/64 and ff00::/8 dropped.
        assert_eq!(nets(&t), ["192.0.2.0/24", "fd00::/64"]);
        let v4 = seg(&t, "192.0.2.0/24");
        assert_eq!(v4.route_type.as_deref(), Some("direct"));
        assert_eq!(v4.next_hop, None, "next hop 0.0.0.0 means none");
        assert_eq!(v4.interface.as_deref(), Some("eth0"));
        assert_eq!(v4.tables, [INET_CIDR_ROUTE_TABLE]);
    }

    #[test]
    fn all_three_tables_naming_the_same_networks_give_one_segment_each() {
        let t = tables_from_snapshot(&snap(&format!(
            "{IF_DESCRS}{IP_ROUTE_TABLE_TEXT}{IP_CIDR_ROUTE_TEXT}{INET_CIDR_ROUTE_TEXT}"
        )));
        assert_eq!(
            nets(&t),
            ["10.1.0.0/16", "10.78.0.0/24", "192.0.2.0/24", "fd00::/64"]
        );
        assert_eq!(
            seg(&t, "192.0.2.0/24").tables,
            [INET_CIDR_ROUTE_TABLE, IP_CIDR_ROUTE_TABLE, IP_ROUTE_TABLE]
        );
        assert_eq!(seg(&t, "10.78.0.0/24").tables, [IP_CIDR_ROUTE_TABLE]);
        assert_eq!(seg(&t, "10.1.0.0/16").tables, [IP_ROUTE_TABLE]);
    }

    #[test]
    fn segments_are_sorted_by_network_with_host_bits_cleared() {
        let t = tables_from_snapshot(&snap(
            "\
1.3.6.1.2.1.4.24.4.1.6.192.168.7.9.255.255.255.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.4.1.6.10.20.30.40.255.255.0.0.0.192.0.2.1|2|4
1.3.6.1.2.1.4.24.4.1.6.172.16.0.0.255.240.0.0.0.192.0.2.1|2|4
",
        ));
        assert_eq!(
            nets(&t),
            ["10.20.0.0/16", "172.16.0.0/12", "192.168.7.0/24"]
        );
    }

    #[test]
    fn malformed_indexes_are_skipped_without_panicking() {
        let t = tables_from_snapshot(&snap(
            "\
1.3.6.1.2.1.4.21.1.8.10.1.0|2|3
1.3.6.1.2.1.4.21.1.8.10.2.0.0|2|3
1.3.6.1.2.1.4.21.1.8.10.3.0.0.0|2|3
1.3.6.1.2.1.4.21.1.8.10.4.0.0|2|3
1.3.6.1.2.1.4.21.1.8.10.300.0.0|2|3
1.3.6.1.2.1.4.21.1.11.10.1.0|64|255.255.0.0
1.3.6.1.2.1.4.21.1.11.10.3.0.0.0|64|255.255.0.0
1.3.6.1.2.1.4.21.1.11.10.4.0.0|64|255.0.255.0
1.3.6.1.2.1.4.21.1.11.10.300.0.0|64|255.255.0.0
1.3.6.1.2.1.4.24.4.1.6.10.5.0.0.255.255.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.4.1.6.10.6.0.0.255.0.255.0.0.0.0.0.0|2|3
1.3.6.1.2.1.4.24.4.1.6.10.7.0.0.255.255.0.0.0.0.0.0.0.1|2|3
1.3.6.1.2.1.4.24.7.1.8|2|3
1.3.6.1.2.1.4.24.7.1.8.1|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.8.0.0.33.3.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.5.10.9.0.0.16.3.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.10.0.0.16.99.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.11.0.0.16.3.0.0.4.1.4.0.0.0.0.7|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.12.0.0.16.3.0.0.4.1.4.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.13.0.256.16.3.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.9.4.10.14.0.0.16.3.0.0.4.1.4.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.15.0.0.16.3.0.0.4.1.4294967295.0.0.0.0|2|3
1.3.6.1.2.1.4.24.7.1.8.1.4.10.16.0.0.16.3.0.0.4.1.4.0.0.0.0|2|3
",
        ));
        // Only the one well-formed row survives: missing mask (10.2), short,
        // long, non-contiguous and out-of-range indexes are all skipped.
        assert_eq!(nets(&t), ["10.16.0.0/16"]);
    }

    #[test]
    fn no_index_made_of_random_arcs_panics() {
        // A small deterministic generator: every prefix of every mutation of a
        // real index, through all three route parsers.
        let real: Vec<u32> = "1.4.192.0.2.0.24.3.0.0.4.1.4.0.0.0.0"
            .split('.')
            .map(|a| a.parse().expect("arc"))
            .collect();
        let mut seed: u64 = 0x5eed;
        let mut text = String::new();
        for round in 0..400u32 {
            let mut idx = real.clone();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pos = usize::try_from(seed >> 33).expect("fits") % idx.len();
            idx[pos] = u32::try_from((seed >> 40) % 300).expect("fits");
            idx.truncate(1 + (round as usize % idx.len()));
            let arcs: Vec<String> = idx.iter().map(u32::to_string).collect();
            let arcs = arcs.join(".");
            for entry in [
                INET_CIDR_ROUTE,
                IP_CIDR_ROUTE,
                IP_ROUTE,
                IP_NET_TO_PHYSICAL,
                IP_NET_TO_MEDIA,
            ] {
                text.push_str(&format!("{entry}.8.{arcs}|2|3\n{entry}.6.{arcs}|2|3\n"));
                text.push_str(&format!("{entry}.4.{arcs}|4x|000000005e0053\n"));
                text.push_str(&format!("{entry}.11.{arcs}|64|255.255.0.0\n"));
            }
        }
        let _ = tables_from_snapshot(&snap(&text));
    }

    #[test]
    fn neighbours_come_from_both_tables_once_each_and_are_counted_per_segment() {
        let t = tables_from_snapshot(&snap(&format!(
            "{IF_DESCRS}{IP_CIDR_ROUTE_TEXT}\
1.3.6.1.2.1.4.22.1.2.2.192.0.2.1|4x|00005e005301
1.3.6.1.2.1.4.22.1.2.2.192.0.2.7|4x|00005e005307
1.3.6.1.2.1.4.22.1.2.2.192.0.2.8|4x|000000000000
1.3.6.1.2.1.4.22.1.2.2.192.0.2.9|4x|00005e005309
1.3.6.1.2.1.4.22.1.2.3.10.78.0.5|4x|00005e005305
1.3.6.1.2.1.4.22.1.4.2.192.0.2.1|2|3
1.3.6.1.2.1.4.22.1.4.2.192.0.2.7|2|4
1.3.6.1.2.1.4.22.1.4.2.192.0.2.8|2|3
1.3.6.1.2.1.4.22.1.4.2.192.0.2.9|2|2
1.3.6.1.2.1.4.22.1.4.3.10.78.0.5|2|3
1.3.6.1.2.1.4.35.1.4.2.1.4.192.0.2.1|4x|00005e005301
1.3.6.1.2.1.4.35.1.4.2.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9|4x|00005e0053aa
1.3.6.1.2.1.4.35.1.4.2.1.4.192.0.2.10|4x|ffffffffffff
1.3.6.1.2.1.4.35.1.4.2.1.3.192.0.2|4x|00005e005311
1.3.6.1.2.1.4.35.1.6.2.1.4.192.0.2.1|2|3
1.3.6.1.2.1.4.35.1.6.2.2.16.253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9|2|3
1.3.6.1.2.1.4.35.1.6.2.1.4.192.0.2.10|2|3
"
        )));
        let addrs: Vec<String> = t.neighbours.iter().map(|n| n.address.to_string()).collect();
        // .8 has a zero MAC, .9 is invalid(2), .10 a broadcast MAC, the short
        // address index is skipped; 192.0.2.1 is in both tables, listed once.
        assert_eq!(addrs, ["10.78.0.5", "192.0.2.1", "192.0.2.7", "fd00::9"]);
        let gw = &t.neighbours[1];
        assert_eq!(gw.mac, "00:00:5e:00:53:01");
        assert_eq!(gw.interface.as_deref(), Some("eth0"));
        assert_eq!(seg(&t, "192.0.2.0/24").hosts_seen, 2);
        assert_eq!(seg(&t, "10.78.0.0/24").hosts_seen, 1);
    }

    #[test]
    fn the_plan_walks_only_route_neighbour_and_interface_name_columns() {
        let p = plan();
        assert!(p.scalars.is_empty() && p.first_rows.is_empty());
        assert_eq!(p.subtrees.len(), 13);
        let allowed = [
            IP_ROUTE,
            IP_CIDR_ROUTE,
            INET_CIDR_ROUTE,
            IP_NET_TO_MEDIA,
            IP_NET_TO_PHYSICAL,
            IF_DESCR,
        ];
        for s in &p.subtrees {
            assert!(
                allowed.iter().any(|a| s.starts_with(&Oid::lit(a))),
                "{s} is not a needed column"
            );
            assert_ne!(s.arcs().len(), 0);
        }
    }

    #[test]
    fn tables_serialize_with_their_field_names() {
        let t = tables_from_snapshot(&snap(&format!("{IF_DESCRS}{IP_CIDR_ROUTE_TEXT}")));
        let json = serde_json::to_value(&t).expect("serializes");
        let first = &json["segments"][0];
        assert_eq!(first["network"], "10.78.0.0/24");
        assert_eq!(first["next_hop"], "192.0.2.254");
        assert_eq!(first["route_type"], "remote");
        assert_eq!(first["tables"][0], "ipCidrRouteTable");
        assert_eq!(first["hosts_seen"], 0);
        assert!(json["neighbours"].is_array());
    }
}
