//! What to scan: parsing the user's targets (an address, a host name, a CIDR
//! block, a range) into sets of addresses, and the rules that keep a sweep
//! sane (size, public space).
//!
//! Invariants: addresses are held as merged ranges, never expanded into a
//! list, so a /8 costs nothing until it is walked; every address is yielded
//! at most once however the targets overlap; CIDR blocks of /30 or wider skip
//! their network and broadcast addresses; a parse error names the bad part.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// More addresses than this (a /16) need the user's explicit consent.
pub const CONFIRM_ABOVE: u128 = 65_536;
/// More addresses than this (a /8) are refused outright.
pub const REFUSE_ABOVE: u128 = 1 << 24;

/// A target as written, before any name is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One address.
    Address(IpAddr),
    /// A CIDR block.
    Network(IpNet),
    /// An inclusive range of addresses of one family.
    Range(IpAddr, IpAddr),
    /// A host name to resolve.
    Name(String),
}

/// Why a target or a set of targets was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// A CIDR block that does not parse.
    #[error("'{input}' is not a valid CIDR block: {reason}")]
    BadCidr {
        /// The text given.
        input: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A range that does not parse or runs backwards.
    #[error("'{input}' is not a valid address range: {reason}")]
    BadRange {
        /// The text given.
        input: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// Neither an address nor a plausible host name.
    #[error("'{input}' is not an address, a CIDR block, a range or a host name")]
    Unrecognised {
        /// The text given.
        input: String,
    },
    /// A host name that did not resolve.
    #[error("cannot resolve host name '{name}': {reason}")]
    Unresolved {
        /// The name.
        name: String,
        /// What the resolver said.
        reason: String,
    },
    /// More than a /16 without consent.
    #[error("this sweep covers {count} addresses, more than a /16 (65,536); add --yes to go ahead")]
    NeedsConfirmation {
        /// Addresses in the sweep.
        count: u128,
    },
    /// Too big to sweep at all.
    #[error(
        "'{input}' covers {count} addresses; sweeps are limited to 16,777,216 (a /8). Pick smaller blocks"
    )]
    TooLarge {
        /// The target.
        input: String,
        /// Addresses it covers.
        count: u128,
    },
    /// Public address space without consent.
    #[error(
        "'{input}' is public address space, not a private network; add --allow-public if you really mean to scan it"
    )]
    Public {
        /// The target.
        input: String,
    },
}

/// Parses one target as written. Host names are only checked for shape.
pub fn parse(input: &str) -> Result<Target, TargetError> {
    let s = input.trim();
    if s.contains('/') {
        return s
            .parse::<IpNet>()
            .map(|n| Target::Network(n.trunc()))
            .or_else(|_| {
                // `10.1.2.5/24` is accepted as the block it sits in (like nmap).
                let (addr, len) = s.split_once('/').unwrap_or((s, ""));
                let ip: IpAddr = addr.parse().map_err(|_| TargetError::BadCidr {
                    input: s.into(),
                    reason: format!("'{addr}' is not an IP address"),
                })?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let prefix: u8 = len.parse().map_err(|_| TargetError::BadCidr {
                    input: s.into(),
                    reason: format!("the prefix length '{len}' is not a number from 0 to {max}"),
                })?;
                IpNet::new(ip, prefix)
                    .map(|n| Target::Network(n.trunc()))
                    .map_err(|_| TargetError::BadCidr {
                        input: s.into(),
                        reason: format!("the prefix length {prefix} is more than {max}"),
                    })
            });
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Target::Address(ip));
    }
    if let Some((a, b)) = s.split_once('-')
        && let Ok(start) = a.trim().parse::<IpAddr>()
    {
        return parse_range(s, start, b.trim());
    }
    if is_host_name(s) {
        return Ok(Target::Name(s.to_string()));
    }
    if s.contains('-') && s.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(TargetError::BadRange {
            input: s.into(),
            reason: "the start is not an IP address".into(),
        });
    }
    Err(TargetError::Unrecognised { input: s.into() })
}

fn parse_range(input: &str, start: IpAddr, end: &str) -> Result<Target, TargetError> {
    let bad = |reason: String| TargetError::BadRange {
        input: input.into(),
        reason,
    };
    let end: IpAddr = match (start, end.parse::<IpAddr>()) {
        (_, Ok(e)) => e,
        // `10.1.2.10-50`: the last octet only.
        (IpAddr::V4(s4), Err(_)) => {
            let last: u8 = end.parse().map_err(|_| {
                bad(format!(
                    "the end '{end}' is not an address or a number 0-255"
                ))
            })?;
            let o = s4.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last))
        }
        (IpAddr::V6(_), Err(_)) => return Err(bad(format!("the end '{end}' is not an address"))),
    };
    if start.is_ipv4() != end.is_ipv4() {
        return Err(bad(
            "the start and the end are of different IP versions".into()
        ));
    }
    if to_u128(end) < to_u128(start) {
        return Err(bad(format!("the end {end} comes before the start {start}")));
    }
    Ok(Target::Range(start, end))
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        // All-numeric dotted text is a malformed address, not a name.
        && !s.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// Whether an address is private, loopback, link-local or shared (CGNAT)
/// space: what a site's own printers use.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            a.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// An inclusive block of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    v4: bool,
    start: u128,
    end: u128,
}

/// The addresses to sweep, as merged ranges.
#[derive(Clone, Debug, Default)]
pub struct AddressSet {
    blocks: Vec<Block>,
}

impl AddressSet {
    /// Adds the addresses of a network (without network/broadcast for /30 and wider IPv4).
    pub fn add_network(&mut self, net: IpNet) {
        let (start, end) = (to_u128(net.network()), to_u128(net.broadcast()));
        let v4 = net.addr().is_ipv4();
        let (start, end) = if v4 && net.prefix_len() <= 30 {
            (start + 1, end - 1)
        } else {
            (start, end)
        };
        self.add_block(Block { v4, start, end });
    }

    /// Adds an inclusive range.
    pub fn add_range(&mut self, start: IpAddr, end: IpAddr) {
        self.add_block(Block {
            v4: start.is_ipv4(),
            start: to_u128(start),
            end: to_u128(end),
        });
    }

    /// Adds one address.
    pub fn add(&mut self, ip: IpAddr) {
        self.add_range(ip, ip);
    }

    fn add_block(&mut self, b: Block) {
        if b.end < b.start {
            return;
        }
        self.blocks.push(b);
        self.blocks.sort_by_key(|b| (!b.v4, b.start));
        let mut merged: Vec<Block> = Vec::with_capacity(self.blocks.len());
        for b in self.blocks.drain(..) {
            match merged.last_mut() {
                Some(last) if last.v4 == b.v4 && b.start <= last.end.saturating_add(1) => {
                    last.end = last.end.max(b.end);
                }
                _ => merged.push(b),
            }
        }
        self.blocks = merged;
    }

    /// How many addresses.
    pub fn len(&self) -> u128 {
        self.blocks.iter().fold(0u128, |n, b| {
            n.saturating_add((b.end - b.start).saturating_add(1))
        })
    }

    /// True when there is nothing to sweep.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `ip` is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let v = to_u128(ip);
        self.blocks
            .iter()
            .any(|b| b.v4 == ip.is_ipv4() && b.start <= v && v <= b.end)
    }

    /// Every address, in order, each once.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + Send + '_ {
        self.blocks
            .iter()
            .flat_map(|b| (b.start..=b.end).map(move |v| from_u128(v, b.v4)))
    }
}

/// A target that resolved to addresses.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Addresses to sweep (CIDR blocks and ranges).
    pub sweep: AddressSet,
    /// Addresses named one by one (addresses and host names): reported as
    /// found by hand.
    pub manual: Vec<IpAddr>,
}

/// Consent the user gave on the command line (or in the UI).
#[derive(Clone, Copy, Debug, Default)]
pub struct Consent {
    /// More than a /16 is fine.
    pub large: bool,
    /// Public address space is fine.
    pub public: bool,
}

/// Parses, resolves and checks the user's targets.
pub async fn resolve(inputs: &[String], consent: Consent) -> Result<Resolved, TargetError> {
    let mut sweep = AddressSet::default();
    let mut manual = Vec::new();
    for input in inputs {
        match parse(input)? {
            Target::Address(ip) => manual.push(ip),
            Target::Name(name) => manual.extend(lookup(&name).await?),
            t @ Target::Network(net) => {
                check_block(input, &t, consent)?;
                sweep.add_network(net);
            }
            t @ Target::Range(a, b) => {
                check_block(input, &t, consent)?;
                sweep.add_range(a, b);
            }
        }
    }
    manual.sort();
    manual.dedup();
    let total = sweep.len();
    if total > CONFIRM_ABOVE && !consent.large {
        return Err(TargetError::NeedsConfirmation { count: total });
    }
    Ok(Resolved { sweep, manual })
}

/// Resolves one device address as a user types it — `host`, `host:port`, an
/// IPv4 or IPv6 address, `[v6]:port` or a host name — to one socket address,
/// `default_port` when none is given. Printers are reached over IPv4 far more
/// often, so IPv4 is preferred when a name has both.
pub async fn resolve_one(target: &str, default_port: u16) -> Result<SocketAddr, TargetError> {
    let target = target.trim();
    let with_port = if target.parse::<SocketAddr>().is_ok() {
        target.to_string()
    } else if target.parse::<Ipv6Addr>().is_ok() {
        format!("[{target}]:{default_port}")
    } else if target
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        target.to_string()
    } else {
        format!("{target}:{default_port}")
    };
    let unresolved = |reason: String| TargetError::Unresolved {
        name: target.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::lookup_host(&with_port),
    )
    .await
    .map_err(|_| unresolved("the lookup took longer than 10 s".into()))?
    .map_err(|e| unresolved(e.to_string()))?
    .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| unresolved("it has no address".into()))
}

/// The host part of `HOST[:PORT]` when it is a name rather than an address
/// (a device added by name is resolved again before every poll: DHCP).
pub fn host_name(target: &str) -> Option<String> {
    let target = target.trim();
    if target.parse::<SocketAddr>().is_ok() {
        return None;
    }
    let host = match target.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && !h.contains(':') => h,
        _ => target,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_err().then(|| host.to_string())
}

/// Parses one target and applies the size and public-space rules to it,
/// without resolving names (the configuration file checks its networks so).
pub fn check(input: &str, consent: Consent) -> Result<Target, TargetError> {
    let t = parse(input)?;
    check_block(input, &t, consent)?;
    Ok(t)
}

/// The size and public-space rules for a block or range (addresses and
/// names pass).
fn check_block(input: &str, target: &Target, consent: Consent) -> Result<(), TargetError> {
    let mut set = AddressSet::default();
    let (first, last) = match *target {
        Target::Network(net) => {
            set.add_network(net);
            (net.network(), net.broadcast())
        }
        Target::Range(a, b) => {
            set.add_range(a, b);
            (a, b)
        }
        Target::Address(_) | Target::Name(_) => return Ok(()),
    };
    let count = set.len();
    if count > REFUSE_ABOVE {
        return Err(TargetError::TooLarge {
            input: input.into(),
            count,
        });
    }
    // A block is private only when it lies inside private space end to end.
    let private = is_private(first) && is_private(last) && same_private_block(first, last);
    if !private && !consent.public {
        return Err(TargetError::Public {
            input: input.into(),
        });
    }
    Ok(())
}

fn same_private_block(a: IpAddr, b: IpAddr) -> bool {
    let blocks: [&str; 9] = [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    ];
    blocks
        .iter()
        .filter_map(|b| b.parse::<IpNet>().ok())
        .any(|n| n.contains(&a) && n.contains(&b))
}

async fn lookup(name: &str) -> Result<Vec<IpAddr>, TargetError> {
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((name, 161))
        .await
        .map_err(|e| TargetError::Unresolved {
            name: name.into(),
            reason: e.to_string(),
        })?
        .map(|a| a.ip())
        .collect();
    // Printers are reached over IPv4 far more often: use its addresses when there are any.
    let v4: Vec<IpAddr> = addrs.iter().copied().filter(IpAddr::is_ipv4).collect();
    let out = if v4.is_empty() { addrs } else { v4 };
    if out.is_empty() {
        return Err(TargetError::Unresolved {
            name: name.into(),
            reason: "no address".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn every_written_form_of_a_target_parses() {
        assert_eq!(parse("10.1.2.3"), Ok(Target::Address(ip("10.1.2.3"))));
        assert_eq!(
            parse("10.1.0.0/22"),
            Ok(Target::Network("10.1.0.0/22".parse().expect("net")))
        );
        assert_eq!(
            parse("10.1.2.5/24"),
            Ok(Target::Network("10.1.2.0/24".parse().expect("net")))
        );
        assert_eq!(
            parse("10.1.2.10-10.1.2.50"),
            Ok(Target::Range(ip("10.1.2.10"), ip("10.1.2.50")))
        );
        assert_eq!(
            parse("10.1.2.10-50"),
            Ok(Target::Range(ip("10.1.2.10"), ip("10.1.2.50")))
        );
        assert_eq!(
            parse("printer-3.example.test"),
            Ok(Target::Name("printer-3.example.test".into()))
        );
        assert_eq!(parse("fd00::5"), Ok(Target::Address(ip("fd00::5"))));
    }

    #[test]
    fn bad_targets_name_the_bad_part() {
        let e = parse("10.1.0.0/33").expect_err("prefix").to_string();
        assert!(e.contains("'10.1.0.0/33'") && e.contains("33"), "{e}");
        let e = parse("10.1.0.0/x").expect_err("prefix").to_string();
        assert!(e.contains("'x'"), "{e}");
        let e = parse("10.1.300.0/24").expect_err("addr").to_string();
        assert!(e.contains("'10.1.300.0'"), "{e}");
        let e = parse("10.1.2.50-10.1.2.10")
            .expect_err("backwards")
            .to_string();
        assert!(e.contains("comes before"), "{e}");
        let e = parse("10.1.2.10-300").expect_err("octet").to_string();
        assert!(e.contains("'300'"), "{e}");
        let e = parse("10.1.2.10-fd00::1")
            .expect_err("families")
            .to_string();
        assert!(e.contains("different IP versions"), "{e}");
        assert!(matches!(
            parse("10.1.2"),
            Err(TargetError::Unrecognised { .. })
        ));
        assert!(matches!(
            parse("a b"),
            Err(TargetError::Unrecognised { .. })
        ));
    }

    #[test]
    fn a_slash_24_has_254_hosts_and_overlaps_count_once() {
        let mut s = AddressSet::default();
        s.add_network("10.0.0.0/24".parse().expect("net"));
        assert_eq!(s.len(), 254);
        assert_eq!(s.iter().next(), Some(ip("10.0.0.1")));
        assert_eq!(s.iter().last(), Some(ip("10.0.0.254")));
        s.add_range(ip("10.0.0.200"), ip("10.0.1.5"));
        s.add(ip("10.0.0.7"));
        // The range adds 10.0.0.255 and 10.0.1.0-5; .7 was already in.
        assert_eq!(s.len(), 254 + 7);
        assert_eq!(s.iter().count(), 261);
        assert!(s.contains(ip("10.0.1.5")) && !s.contains(ip("10.0.1.6")));
        let mut small = AddressSet::default();
        small.add_network("10.0.0.4/31".parse().expect("net"));
        small.add_network("10.0.0.9/32".parse().expect("net"));
        assert_eq!(small.len(), 3);
    }

    #[tokio::test]
    async fn a_sweep_larger_than_a_slash_16_needs_consent() {
        let big = ["10.0.0.0/15".to_string()];
        let e = resolve(&big, Consent::default())
            .await
            .expect_err("too big");
        assert!(matches!(e, TargetError::NeedsConfirmation { .. }), "{e}");
        let ok = resolve(
            &big,
            Consent {
                large: true,
                public: false,
            },
        )
        .await
        .expect("with consent");
        assert_eq!(ok.sweep.len(), 131_070);
        for everything in ["::/0", "0.0.0.0/0"] {
            let e = resolve(
                &[everything.to_string()],
                Consent {
                    large: true,
                    public: true,
                },
            )
            .await
            .expect_err(everything);
            assert!(
                matches!(e, TargetError::TooLarge { .. }),
                "{everything}: {e}"
            );
        }
        let e = resolve(
            &["10.0.0.0/7".to_string()],
            Consent {
                large: true,
                public: true,
            },
        )
        .await
        .expect_err("refused");
        assert!(matches!(e, TargetError::TooLarge { .. }));
        let exact = resolve(&["10.0.0.0/16".to_string()], Consent::default()).await;
        assert!(exact.is_ok(), "a /16 itself needs no consent");
    }

    #[tokio::test]
    async fn public_ranges_are_refused_without_consent_but_single_addresses_are_not() {
        for t in ["8.8.8.0/24", "192.168.255.0-192.169.0.10", "2001:db8::/120"] {
            let e = resolve(&[t.to_string()], Consent::default())
                .await
                .expect_err(t);
            assert!(matches!(e, TargetError::Public { .. }), "{t}: {e}");
        }
        let ok = resolve(
            &["8.8.8.0/24".to_string()],
            Consent {
                large: false,
                public: true,
            },
        )
        .await
        .expect("consented");
        assert_eq!(ok.sweep.len(), 254);
        let one = resolve(&["192.0.2.7".to_string()], Consent::default())
            .await
            .expect("a single address is by hand");
        assert_eq!(one.manual, vec![ip("192.0.2.7")]);
        for t in [
            "10.0.0.0/24",
            "172.20.0.0/16",
            "127.0.40.0/24",
            "fd12::/120",
        ] {
            assert!(
                resolve(&[t.to_string()], Consent::default()).await.is_ok(),
                "{t}"
            );
        }
    }

    #[test]
    fn a_name_that_does_not_resolve_is_named_in_the_error() {
        // Resolving a missing name would ask the site's DNS server; the netns lab
        // test does that against its own resolver. Here only the wording.
        let e = TargetError::Unresolved {
            name: "prn-7.example.test".into(),
            reason: "failed to lookup address information".into(),
        };
        assert!(e.to_string().contains("'prn-7.example.test'"), "{e}");
    }

    #[tokio::test]
    async fn localhost_resolves_from_the_hosts_file() {
        let local = resolve(&["localhost".to_string()], Consent::default())
            .await
            .expect("localhost resolves");
        assert!(!local.manual.is_empty());
        assert!(local.manual.iter().all(IpAddr::is_loopback));
    }
}
