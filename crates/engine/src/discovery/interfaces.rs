//! This computer's networks: the interfaces that are up, their IPv4 subnets
//! and broadcast addresses, and the default gateway (through the `netdev`
//! crate, which reads them the OS's own way on Linux, macOS and Windows).
//!
//! Invariants: loopback and down interfaces are never offered; an interface
//! named by the user that does not exist is an error naming it and listing
//! the ones that do.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde::Serialize;

/// One usable local interface.
#[derive(Clone, Debug, Serialize)]
pub struct LocalInterface {
    /// OS name (`eth0`, `en0`, `Ethernet 2`).
    pub name: String,
    /// OS interface index.
    pub index: u32,
    /// IPv4 networks on it (address with prefix).
    pub ipv4: Vec<Ipv4Net>,
    /// Whether the interface can broadcast.
    pub broadcast: bool,
}

impl LocalInterface {
    /// Subnet-directed broadcast addresses of its IPv4 networks (none for /31
    /// and /32, which have no broadcast address).
    pub fn directed_broadcasts(&self) -> Vec<Ipv4Addr> {
        self.ipv4
            .iter()
            .filter(|n| n.prefix_len() <= 30)
            .map(Ipv4Net::broadcast)
            .collect()
    }

    /// The networks themselves (host bits cleared).
    pub fn subnets(&self) -> Vec<Ipv4Net> {
        self.ipv4.iter().map(Ipv4Net::trunc).collect()
    }
}

/// An interface the user named that this computer does not have.
#[derive(Debug, thiserror::Error)]
#[error("there is no network interface '{name}' on this computer (interfaces: {known})")]
pub struct UnknownInterface {
    /// What the user asked for.
    pub name: String,
    /// The interfaces that exist and are up.
    pub known: String,
}

/// Interfaces that are up, not loopback, with at least one IPv4 address.
pub fn local_interfaces() -> Vec<LocalInterface> {
    netdev::get_interfaces()
        .into_iter()
        .filter(|i| i.is_up() && !i.is_loopback() && !i.ipv4.is_empty())
        .map(|i| LocalInterface {
            broadcast: i.is_broadcast(),
            name: i.name,
            index: i.index,
            ipv4: i.ipv4,
        })
        .collect()
}

/// The interfaces named in `wanted`, or every usable one when it is empty.
pub fn choose(wanted: &[String]) -> Result<Vec<LocalInterface>, UnknownInterface> {
    let all = local_interfaces();
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|i| &i.name == w)
                .cloned()
                .ok_or_else(|| UnknownInterface {
                    name: w.clone(),
                    known: if all.is_empty() {
                        "none with an IPv4 address".into()
                    } else {
                        all.iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                })
        })
        .collect()
}

/// The default gateway's address, if this computer has a default route.
pub fn default_gateway() -> Option<IpAddr> {
    let gw = netdev::get_default_gateway().ok()?;
    gw.ipv4
        .first()
        .copied()
        .map(IpAddr::V4)
        .or_else(|| gw.ipv6.first().copied().map(IpAddr::V6))
        .filter(|a| !a.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slash_24_broadcasts_to_its_last_address_and_a_slash_31_has_none() {
        let i = LocalInterface {
            name: "eth0".into(),
            index: 2,
            ipv4: vec![
                "10.77.0.2/24".parse().expect("net"),
                "10.9.9.0/31".parse().expect("net"),
            ],
            broadcast: true,
        };
        assert_eq!(i.directed_broadcasts(), vec![Ipv4Addr::new(10, 77, 0, 255)]);
        assert_eq!(i.subnets()[0].to_string(), "10.77.0.0/24");
    }

    #[test]
    fn an_interface_that_does_not_exist_is_named_in_the_error() {
        let e = choose(&["no-such-if0".into()]).expect_err("unknown");
        assert!(e.to_string().contains("'no-such-if0'"), "{e}");
    }
}
