//! Finding devices: which addresses to ask ([`targets`]), how (unicast
//! [`sweep`], [`broadcast`], the default [`gateway`]'s tables, [`dnssd`]
//! announcements, the local [`spooler`]), and turning every responder into one
//! classified, de-duplicated [`Found`] device.
//!
//! Invariants: a responder is classified with the same code as `read`; one
//! device seen at several addresses or by several methods is one [`Found`]
//! (matched by vendor + serial, then MAC); replies from addresses that were not
//! asked are ignored, except replies to a broadcast; cancelling a scan returns
//! what was found so far.

pub mod broadcast;
pub mod candidates;
pub mod dnssd;
pub mod gateway;
pub mod interfaces;
mod merge;
pub mod rtt;
mod scan;
pub mod spooler;
pub mod sweep;
pub mod targets;

pub use merge::{Found, Sighting, merge};
pub use scan::{EventSink, ScanEvent, ScanReport, ScanRequest, ScanStats, scan};

use serde::Serialize;

/// How a device was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// Answered an SNMP broadcast (subnet-directed or 255.255.255.255).
    Broadcast,
    /// Answered a unicast probe of a swept range.
    Sweep,
    /// Named by hand (a single address or host name).
    Manual,
    /// Announced itself over DNS-SD (mDNS).
    DnsSd,
    /// A queue of this computer's print spooler points at it.
    Local,
}

impl std::fmt::Display for FoundBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FoundBy::Broadcast => "broadcast",
            FoundBy::Sweep => "sweep",
            FoundBy::Manual => "by hand",
            FoundBy::DnsSd => "dns-sd",
            FoundBy::Local => "local spooler",
        })
    }
}
