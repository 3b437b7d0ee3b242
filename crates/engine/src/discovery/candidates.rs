//! Networks a user may choose to scan: the subnets of this computer's
//! interfaces and the networks its default gateway knows (from the gateway's
//! route and ARP tables over SNMP). Listing them scans nothing.
//!
//! Invariants: a network appears once (an interface subnet that the gateway
//! also routes stays `interface`, with the gateway's tables added); the
//! gateway is asked with the user's credentials in order, once.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::Serialize;

use super::gateway;
use super::interfaces::{LocalInterface, default_gateway};
use crate::snmp::transport::SnmpTransport;
use crate::snmp::{Credential, SnmpOptions};

/// One network the user may select.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// The network.
    pub network: IpNet,
    /// `interface` (this computer is on it) or `gateway` (the gateway knows it).
    pub source: &'static str,
    /// The gateway that named it.
    pub gateway: Option<IpAddr>,
    /// Next hop towards it, per the gateway.
    pub next_hop: Option<IpAddr>,
    /// Interface name (ours for `interface`, the gateway's for `gateway`).
    pub interface: Option<String>,
    /// The gateway's MIB tables that named it.
    pub tables: Vec<&'static str>,
    /// Hosts the gateway's ARP table shows inside it.
    pub hosts_seen: usize,
}

/// The candidates and what went wrong finding them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Candidates {
    /// Networks, interface subnets first.
    pub networks: Vec<Candidate>,
    /// The default gateway, if there is one.
    pub gateway: Option<IpAddr>,
    /// Name of the credential the gateway answered.
    pub gateway_credential: Option<String>,
    /// Problems, in words.
    pub notes: Vec<String>,
}

/// Lists the interface subnets, then asks the default gateway for the rest.
pub async fn candidates(
    transport: &SnmpTransport,
    interfaces: &[LocalInterface],
    credentials: &[Credential],
    options: &SnmpOptions,
    port: u16,
) -> Candidates {
    let mut out = Candidates::default();
    for i in interfaces {
        for net in i.subnets() {
            let net = IpNet::V4(net);
            if !out.networks.iter().any(|c| c.network == net) {
                out.networks.push(Candidate {
                    network: net,
                    source: "interface",
                    gateway: None,
                    next_hop: None,
                    interface: Some(i.name.clone()),
                    tables: Vec::new(),
                    hosts_seen: 0,
                });
            }
        }
    }
    let Some(gw) = default_gateway() else {
        out.notes
            .push("this computer has no default gateway to ask".into());
        return out;
    };
    out.gateway = Some(gw);
    match gateway::ask_gateway(transport, SocketAddr::new(gw, port), credentials, options).await {
        Ok((credential, tables)) => {
            out.gateway_credential = Some(credential);
            for seg in tables.segments {
                match out.networks.iter_mut().find(|c| c.network == seg.network) {
                    Some(c) => {
                        c.tables = seg.tables;
                        c.hosts_seen = seg.hosts_seen;
                        c.gateway = Some(gw);
                    }
                    None => out.networks.push(Candidate {
                        network: seg.network,
                        source: "gateway",
                        gateway: Some(gw),
                        next_hop: seg.next_hop,
                        interface: seg.interface,
                        tables: seg.tables,
                        hosts_seen: seg.hosts_seen,
                    }),
                }
            }
        }
        Err(e) => out
            .notes
            .push(format!("the default gateway {gw} could not be asked: {e}")),
    }
    out
}
