//! One device, however many times it was seen: responders found by several
//! methods, at several addresses, announced over DNS-SD or named by a local
//! print queue are merged into one [`Found`] each.
//!
//! Rule (field notes §7): two sightings are the same device when they share
//! vendor + serial, else when they share a MAC address (or an announced
//! UUID); an announcement or a queue joins the SNMP responder at the same
//! address. Nothing else merges: two devices that happen to share a model are
//! two devices. A 3D printer announced over DNS-SD is a sighting of its own,
//! keyed by its URL (`moonraker://10.0.0.9:7125`): one host may run several
//! (one OctoPrint per port) beside an SNMP agent of its own.
//!
//! Invariants: the result does not depend on the order sightings arrived in
//! (sorted by address); every address and method of the merged sightings is
//! kept; the primary reading is an SNMP one when there is one (SNMP has the
//! most counters), else an IPP or 3D-printer one, each time from the lowest
//! address that read.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::FoundBy;
use super::dnssd::Announcement;
use super::spooler::LocalQueue;
use crate::printer::Reading;
use crate::printer::model::Identity;

/// One thing seen at one address (or one local queue without an address).
#[derive(Clone, Debug, Default)]
pub struct Sighting {
    /// The address, or the queue's device URI when it has no network address.
    pub address: String,
    /// How it was seen.
    pub found_by: BTreeSet<FoundBy>,
    /// Name of the credential that answered, if SNMP answered.
    pub credential: Option<String>,
    /// The SNMP reading, when one was made.
    pub reading: Option<Reading>,
    /// Why nothing could be read, when a read was tried and failed (SNMP
    /// after an answer; IPP or a 3D printer's API, with its URL in words).
    pub error: Option<String>,
    /// The URL it is read at when that is not SNMP (`ipp://…/ipp/print`,
    /// `octoprint://host:5000`).
    pub url: Option<String>,
    /// The protocol of [`Sighting::url`] (`ipp`, `ipps`, `moonraker`, …).
    pub protocol: Option<String>,
    /// DNS-SD announcements at this address.
    pub services: Vec<Announcement>,
    /// Local print queues pointing at this address.
    pub queues: Vec<LocalQueue>,
}

/// One device found by a scan.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// Primary address (the lowest that answered).
    pub address: String,
    /// Every address the device was seen at.
    pub addresses: Vec<String>,
    /// Printer or not (same rule as `read`; announced printers count).
    pub is_printer: bool,
    /// `printer`, `mfp`, `label_printer`, `scan_server`, `not_a_printer`, `unknown`.
    pub device_kind: String,
    /// Who the device is.
    pub identity: Identity,
    /// How it was found, sorted.
    pub found_by: Vec<FoundBy>,
    /// Name of the credential that answered (never its value).
    pub credential: Option<String>,
    /// DNS-SD announcements.
    pub services: Vec<Announcement>,
    /// Local print queues that print to it.
    pub queues: Vec<LocalQueue>,
    /// Why it could not be read, if it answered but a read failed.
    pub error: Option<String>,
    /// How it is read: `snmp`, `ipp`, `ipps`, or a 3D printer's protocol
    /// (`octoprint`, `moonraker`, `prusalink`, `ultimaker`); `None` when
    /// nothing PrintScout reads answered.
    pub protocol: Option<String>,
    /// Its URL when it is read by URL (IPP and 3D printers), also when the
    /// read failed; `None` for SNMP.
    pub url: Option<String>,
    /// The full reading from the primary address.
    pub reading: Option<Reading>,
}

fn sort_key(address: &str) -> (u8, Option<IpAddr>, String) {
    match address.parse::<IpAddr>() {
        Ok(ip) => (0, Some(ip), String::new()),
        Err(_) => (1, None, address.to_string()),
    }
}

/// Merges sightings into devices, sorted by primary address.
pub fn merge(mut sightings: Vec<Sighting>) -> Vec<Found> {
    sightings.sort_by_key(|s| sort_key(&s.address));
    let n = sightings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in sightings.iter().enumerate() {
        for key in keys(s) {
            match by_key.get(&key) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                None => {
                    by_key.insert(key, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<Sighting>> = BTreeMap::new();
    for (i, s) in sightings.into_iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(s);
    }
    let mut out: Vec<Found> = groups.into_values().map(combine).collect();
    out.sort_by_key(|f| sort_key(&f.address));
    out
}

fn keys(s: &Sighting) -> Vec<String> {
    let mut k = vec![format!("addr:{}", s.address)];
    if let Some(r) = &s.reading {
        if let Some(serial) = &r.identity.serial {
            let vendor = r.identity.vendor.as_deref().unwrap_or("").to_lowercase();
            k.push(format!("serial:{vendor}:{}", serial.trim().to_uppercase()));
        }
        if let Some(mac) = &r.identity.mac
            && is_useful_mac(mac)
        {
            k.push(format!("mac:{}", mac.to_lowercase()));
        }
    }
    for a in &s.services {
        if let Some(u) = a.uuid() {
            k.push(format!("uuid:{}", u.to_lowercase()));
        }
    }
    k
}

fn is_useful_mac(mac: &str) -> bool {
    let hex: String = mac.chars().filter(char::is_ascii_hexdigit).collect();
    hex.len() == 12 && hex != "000000000000" && !hex.eq_ignore_ascii_case("ffffffffffff")
}

fn combine(group: Vec<Sighting>) -> Found {
    let mut addresses: Vec<String> = Vec::new();
    let mut found_by = BTreeSet::new();
    let mut services = Vec::new();
    let mut queues = Vec::new();
    let mut primary: Option<&Sighting> = None;
    let mut error = None;
    // SNMP first: it has the most counters; then IPP and 3D readings.
    let snmp_read = |s: &Sighting| s.reading.as_ref().is_some_and(|r| r.protocol.is_none());
    let primary_snmp = group.iter().find(|s| snmp_read(s));
    for s in &group {
        if !addresses.contains(&s.address) {
            addresses.push(s.address.clone());
        }
        found_by.extend(s.found_by.iter().copied());
        services.extend(s.services.iter().cloned());
        queues.extend(s.queues.iter().cloned());
        if primary.is_none() && s.reading.is_some() {
            primary = Some(s);
        }
        if error.is_none() {
            error.clone_from(&s.error);
        }
    }
    let primary = primary_snmp.or(primary);
    let first = primary.or(group.first());
    let address = first.map(|s| s.address.clone()).unwrap_or_default();
    let by_url = primary
        .filter(|s| s.url.is_some())
        .or_else(|| group.iter().find(|s| s.url.is_some()));
    let protocol = match (&reading_protocol(primary), by_url) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(s)) if primary.is_none() => s.protocol.clone(),
        (None, _) => None,
    };
    let url = match &protocol {
        Some(p) if p != "snmp" => by_url.and_then(|s| s.url.clone()),
        _ => None,
    };
    let reading = primary.and_then(|s| s.reading.clone());
    let credential = first.and_then(|s| s.credential.clone());
    let (is_printer, device_kind, identity) = match &reading {
        Some(r) => (r.is_printer, r.device_kind.clone(), r.identity.clone()),
        None => identity_without_snmp(&services, &queues),
    };
    Found {
        address,
        addresses,
        is_printer,
        device_kind,
        identity,
        found_by: found_by.into_iter().collect(),
        credential,
        services,
        queues,
        error: if reading.is_some() { None } else { error },
        protocol,
        url,
        reading,
    }
}

/// The protocol the primary sighting was read over (`snmp` when its
/// reading names none).
fn reading_protocol(primary: Option<&Sighting>) -> Option<String> {
    let r = primary?.reading.as_ref()?;
    Some(r.protocol.clone().unwrap_or_else(|| "snmp".into()))
}

/// A device known only from announcements or print queues: a printer (it
/// offers a printing service), with what those say about it.
fn identity_without_snmp(
    services: &[Announcement],
    queues: &[LocalQueue],
) -> (bool, String, Identity) {
    let mut id = Identity::default();
    for a in services {
        if id.vendor.is_none() {
            id.vendor = a.vendor();
        }
        if id.model.is_none() {
            id.model = a.make_and_model();
        }
        if id.location.is_none() {
            id.location = a.location();
        }
        if id.hostname.is_none() && !a.host.is_empty() {
            id.hostname = Some(a.host.trim_end_matches('.').to_string());
        }
    }
    for q in queues {
        if id.model.is_none() {
            id.model.clone_from(&q.make_and_model);
        }
        if id.location.is_none() {
            id.location.clone_from(&q.location);
        }
    }
    let known = !services.is_empty() || !queues.is_empty();
    let fab = services
        .iter()
        .any(|a| matches!(a.kind(), super::dnssd::ServiceKind::Fab(_)));
    let kind = match (known, fab) {
        (true, true) => "3d_printer",
        (true, false) => "printer",
        (false, _) => "unknown",
    };
    (known, kind.to_string(), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(address: &str, by: FoundBy, serial: Option<&str>, mac: Option<&str>) -> Sighting {
        let mut r = Reading {
            is_printer: true,
            device_kind: "printer".into(),
            ..Reading::default()
        };
        r.identity.vendor = Some("HP".into());
        r.identity.serial = serial.map(str::to_string);
        r.identity.mac = mac.map(str::to_string);
        Sighting {
            address: address.into(),
            found_by: [by].into(),
            credential: Some("public".into()),
            reading: Some(r),
            ..Sighting::default()
        }
    }

    #[test]
    fn one_device_at_two_addresses_is_one_result_with_both() {
        let out = merge(vec![
            seen("10.0.0.31", FoundBy::Sweep, Some("ZZ1"), None),
            seen("10.0.0.30", FoundBy::Broadcast, Some("zz1"), None),
            seen("10.0.0.40", FoundBy::Sweep, Some("ZZ2"), None),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].address, "10.0.0.30");
        assert_eq!(out[0].addresses, vec!["10.0.0.30", "10.0.0.31"]);
        assert_eq!(out[0].found_by, vec![FoundBy::Broadcast, FoundBy::Sweep]);
    }

    #[test]
    fn without_a_serial_the_mac_decides_and_an_all_zero_mac_never_merges() {
        let out = merge(vec![
            seen("10.0.0.1", FoundBy::Sweep, None, Some("00:00:5e:00:53:01")),
            seen("10.0.0.2", FoundBy::Sweep, None, Some("00:00:5E:00:53:01")),
            seen("10.0.0.3", FoundBy::Sweep, None, Some("00:00:00:00:00:00")),
            seen("10.0.0.4", FoundBy::Sweep, None, Some("00:00:00:00:00:00")),
        ]);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn the_same_serial_from_two_makers_is_two_devices() {
        let mut other = seen("10.0.0.2", FoundBy::Sweep, Some("ZZ1"), None);
        if let Some(r) = other.reading.as_mut() {
            r.identity.vendor = Some("Canon".into());
        }
        let out = merge(vec![
            seen("10.0.0.1", FoundBy::Sweep, Some("ZZ1"), None),
            other,
        ]);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn two_methods_at_one_address_are_one_device() {
        let announced = Sighting {
            address: "10.0.0.5".into(),
            found_by: [FoundBy::DnsSd].into(),
            ..Sighting::default()
        };
        let out = merge(vec![
            announced,
            seen("10.0.0.5", FoundBy::Sweep, Some("ZZ9"), None),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].found_by, vec![FoundBy::Sweep, FoundBy::DnsSd]);
        assert_eq!(out[0].credential.as_deref(), Some("public"));
    }

    fn announced(service: &str, port: u16) -> Announcement {
        Announcement {
            instance: "Lab printer".into(),
            service: service.into(),
            host: "lab.local".into(),
            addresses: vec!["10.0.0.9".parse().expect("ip")],
            port,
            txt: Default::default(),
        }
    }

    #[test]
    fn an_snmp_reading_stays_primary_over_an_ipp_reading_of_the_same_printer() {
        let mut ipp = seen("10.0.0.4", FoundBy::DnsSd, Some("ZZ1"), None);
        if let Some(r) = ipp.reading.as_mut() {
            r.protocol = Some("ipp".into());
            r.target = "ipp://10.0.0.4:631/ipp/print".into();
        }
        ipp.url = Some("ipp://10.0.0.4:631/ipp/print".into());
        ipp.protocol = Some("ipp".into());
        ipp.credential = None;
        let out = merge(vec![
            ipp,
            seen("10.0.0.7", FoundBy::Sweep, Some("ZZ1"), None),
        ]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].address, "10.0.0.7");
        assert_eq!(out[0].protocol.as_deref(), Some("snmp"));
        assert_eq!(out[0].url, None);
        assert_eq!(out[0].credential.as_deref(), Some("public"));
        assert_eq!(out[0].addresses, vec!["10.0.0.4", "10.0.0.7"]);
    }

    #[test]
    fn an_ipp_only_printer_is_found_with_its_url_and_protocol() {
        let mut ipp = seen("10.0.0.4", FoundBy::DnsSd, Some("ZZ1"), None);
        if let Some(r) = ipp.reading.as_mut() {
            r.protocol = Some("ipp".into());
        }
        ipp.url = Some("ipp://10.0.0.4:631/ipp/print".into());
        ipp.protocol = Some("ipp".into());
        ipp.credential = None;
        let out = merge(vec![ipp]);
        assert_eq!(out[0].address, "10.0.0.4");
        assert_eq!(out[0].protocol.as_deref(), Some("ipp"));
        assert_eq!(out[0].url.as_deref(), Some("ipp://10.0.0.4:631/ipp/print"));
        assert_eq!(out[0].credential, None);
    }

    #[test]
    fn an_unread_3d_printer_keeps_its_url_and_the_error_in_words() {
        let url = "moonraker://10.0.0.9:7125";
        let fab = Sighting {
            address: url.into(),
            found_by: [FoundBy::DnsSd].into(),
            url: Some(url.into()),
            protocol: Some("moonraker".into()),
            error: Some(format!("{url}: connection refused")),
            services: vec![announced("_moonraker._tcp", 7125)],
            ..Sighting::default()
        };
        // An SNMP agent on the same host (the Raspberry Pi) is another device.
        let mut pi = seen("10.0.0.9", FoundBy::Sweep, None, None);
        if let Some(r) = pi.reading.as_mut() {
            r.is_printer = false;
            r.device_kind = "not_a_printer".into();
        }
        let out = merge(vec![fab, pi]);
        assert_eq!(out.len(), 2, "{out:?}");
        let f = out
            .iter()
            .find(|f| f.address == url)
            .expect("the 3D printer");
        assert!(f.is_printer);
        assert_eq!(f.device_kind, "3d_printer");
        assert_eq!(f.protocol.as_deref(), Some("moonraker"));
        assert_eq!(f.url.as_deref(), Some(url));
        assert!(
            f.error
                .as_deref()
                .is_some_and(|e| e.contains("connection refused")),
            "{f:?}"
        );
        assert_eq!(f.found_by, vec![FoundBy::DnsSd]);
    }
}
