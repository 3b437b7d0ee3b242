//! Asking a default gateway for its tables, against a REAL net-snmp `snmpd`
//! with its normal MIB modules (testkit's `HostAgent`) on a loopback address:
//! it serves this machine's own routing and ARP tables, and the networks
//! `ask_gateway` lists must be the ones `ip route` shows.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use printscout_engine::discovery::gateway::{GatewayTables, ask_gateway};
use printscout_engine::printer::ReadError;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_testkit::SilentUdpPort;
use printscout_testkit::host_agent::HostAgent;
use serde_json::Value as Json;

fn opts(timeout_ms: u64, retries: u32) -> SnmpOptions {
    SnmpOptions {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        ..SnmpOptions::default()
    }
}

fn v2c(name: &str, community: &str) -> Credential {
    Credential::community(name, Version::V2c, community)
}

/// One route of `ip -j route show table main`.
struct IpRoute {
    network: IpNet,
    gateway: Option<IpAddr>,
    dev: Option<String>,
}

/// `ip -j [-4|-6] route show table main`, unicast routes that are networks
/// (not the default, not host routes), with the documented drop rules.
fn ip_routes(family: &str) -> Vec<IpRoute> {
    let out = Command::new("ip")
        .args(["-j", family, "route", "show", "table", "main"])
        .output()
        .expect("run ip route");
    assert!(out.status.success(), "ip route: {out:?}");
    let routes: Json = serde_json::from_slice(&out.stdout).expect("ip -j prints JSON");
    routes
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter(|r| r["type"].as_str().is_none_or(|t| t == "unicast"))
        .filter_map(|r| {
            let dst = r["dst"].as_str()?;
            let network: IpNet = dst.parse().ok()?; // "default" and host routes (no /) fail
            let network = network.trunc();
            let wanted = match network {
                IpNet::V4(n) => {
                    n.prefix_len() > 0
                        && n.prefix_len() < 32
                        && n.network().octets()[0] != 0
                        && !n.network().is_loopback()
                        && !n.network().is_multicast()
                        && !n.network().is_link_local()
                }
                IpNet::V6(n) => {
                    n.prefix_len() > 0
                        && n.prefix_len() < 128
                        && !n.network().is_loopback()
                        && !n.network().is_multicast()
                        && (n.network().segments()[0] & 0xffc0) != 0xfe80
                }
            };
            wanted.then(|| IpRoute {
                network,
                gateway: r["gateway"].as_str().and_then(|g| g.parse().ok()),
                dev: r["dev"].as_str().map(str::to_string),
            })
        })
        .collect()
}

async fn ask(agent: &HostAgent) -> GatewayTables {
    let (credential, tables) = ask_gateway(
        &SnmpTransport::new(0),
        agent.addr(),
        &[v2c("gateway", agent.community())],
        &opts(1000, 1),
    )
    .await
    .expect("the host agent answers");
    assert_eq!(credential, "gateway");
    tables
}

#[tokio::test]
async fn the_gateway_lists_the_networks_of_the_hosts_main_routing_table() {
    let agent = HostAgent::start("gwtest");
    let started = Instant::now();
    let tables = ask(&agent).await;
    eprintln!(
        "gateway tables read in {:?} (agent up in {:?}): {tables:#?}",
        started.elapsed(),
        agent.startup_time(),
    );

    let expected = ip_routes("-4");
    let want: BTreeSet<IpNet> = expected.iter().map(|r| r.network).collect();
    let got: BTreeSet<IpNet> = tables
        .segments
        .iter()
        .map(|s| s.network)
        .filter(|n| matches!(n, IpNet::V4(_)))
        .collect();
    assert_eq!(
        got, want,
        "IPv4 networks: agent vs `ip -4 route show table main`"
    );

    for route in &expected {
        let seg = tables
            .segments
            .iter()
            .find(|s| s.network == route.network)
            .expect("listed");
        assert_eq!(seg.next_hop, route.gateway, "{}: next hop", route.network);
        let kind = if route.gateway.is_some() {
            "remote"
        } else {
            "direct"
        };
        assert_eq!(seg.route_type.as_deref(), Some(kind), "{}", route.network);
        assert_eq!(seg.interface, route.dev, "{}: interface", route.network);
        assert!(
            seg.tables.contains(&"ipRouteTable") && seg.tables.contains(&"inetCidrRouteTable"),
            "{}: named by {:?}",
            route.network,
            seg.tables
        );
    }

    // IPv6: net-snmp reads every kernel table for IPv6, so the main table's
    // networks must be there (others may be too).
    let got6: BTreeSet<IpNet> = tables.segments.iter().map(|s| s.network).collect();
    for route in ip_routes("-6") {
        assert!(
            got6.contains(&route.network),
            "IPv6 network {} listed",
            route.network
        );
    }

    // Segments come sorted and each network once.
    let networks: Vec<IpNet> = tables.segments.iter().map(|s| s.network).collect();
    let mut sorted = networks.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(networks, sorted);

    for n in &tables.neighbours {
        assert_eq!(n.mac.len(), 17, "{n:?}");
        assert_ne!(n.mac, "00:00:00:00:00:00");
    }
    let counted: usize = tables.segments.iter().map(|s| s.hosts_seen).sum();
    assert!(counted <= tables.neighbours.len());
}

#[tokio::test]
async fn a_gateway_that_does_not_answer_is_no_answer_naming_the_credentials() {
    let held = SilentUdpPort::new();
    let silent = held.addr();
    let started = Instant::now();
    let err = ask_gateway(
        &SnmpTransport::new(0),
        silent,
        &[v2c("office", "x"), v2c("public", "y")],
        &opts(300, 0),
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err, ReadError::NoAnswer { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("'office'") && text.contains("'public'"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "one timeout, not one per credential"
    );
}
