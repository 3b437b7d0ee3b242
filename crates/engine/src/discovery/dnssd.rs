//! DNS-SD (mDNS) browsing for printers with the `mdns-sd` crate: the four
//! printer service types ([`PRINTER_SERVICES`]) are browsed for a window on
//! the named interfaces only, and every resolved service becomes one
//! [`Announcement`] (same instance + service = one entry, addresses merged).
//! The same printer announcing `_ipp` and `_pdl-datastream` stays two
//! announcements here; devices are merged by the caller.
//!
//! Interfaces: the daemon is told to disable every interface (`IfKind::All`,
//! which includes loopback and IPv6) and then to enable only the named ones
//! (by name, Windows friendly name and interface index, IPv4 and IPv6),
//! before any browse command is queued; commands are handled in order, so no
//! mDNS query leaves on another interface. An empty list is an error (never
//! "all"), and so is a name this computer does not have — both are checked
//! before the daemon starts. An interface that is not operationally up when
//! browsing starts is picked up only at mdns-sd's next address check (5 s).
//! Limitation of mdns-sd 0.21: while it starts, its
//! sockets join the mDNS multicast group on every interface (the kernel sends
//! IGMP/MLD membership reports there) and leave again when the disable
//! command is applied; no mDNS packet is sent on them.
//!
//! Invariants: TXT values are untrusted bytes, decoded as lossy UTF-8 with
//! control characters removed; nothing here panics on what a network sends;
//! the daemon is shut down on every path (including early returns and
//! cancellation). `tests/netns_peers.rs` browses a responder in a network
//! namespace and checks, with a sniffer, that nothing is sent on the
//! interface that was not named.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// The service types browsed.
pub const PRINTER_SERVICES: [&str; 4] = [
    "_ipp._tcp.local.",
    "_ipps._tcp.local.",
    "_printer._tcp.local.",
    "_pdl-datastream._tcp.local.",
];

/// How long shutting the daemon down may take before we stop waiting.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// One resolved DNS-SD service instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// Instance name (`Office Laser`), without the service type and domain.
    pub instance: String,
    /// Service type without the domain (`_ipp._tcp`).
    pub service: String,
    /// Host name from the SRV record, without the final dot (`npi1a2b3c.local`).
    pub host: String,
    /// Addresses of the host, sorted, each once.
    pub addresses: Vec<IpAddr>,
    /// Port from the SRV record.
    pub port: u16,
    /// TXT record: key → value (lossy UTF-8; a key without `=` has an empty
    /// value). Keys keep their case; the helpers look them up ignoring it.
    pub txt: BTreeMap<String, String>,
}

impl Announcement {
    /// A TXT value by key (case-insensitive, as RFC 6763 says), trimmed,
    /// `None` when absent or empty.
    pub fn txt_value(&self, key: &str) -> Option<String> {
        self.txt
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Make and model: `ty`, else `usb_MFG` + `usb_MDL`, else `product`
    /// without its parentheses.
    pub fn make_and_model(&self) -> Option<String> {
        if let Some(ty) = self.txt_value("ty") {
            return Some(ty);
        }
        match (self.txt_value("usb_MFG"), self.txt_value("usb_MDL")) {
            (Some(mfg), Some(mdl)) if mdl.to_lowercase().starts_with(&mfg.to_lowercase()) => {
                return Some(mdl);
            }
            (Some(mfg), Some(mdl)) => return Some(format!("{mfg} {mdl}")),
            (None, Some(mdl)) => return Some(mdl),
            _ => {}
        }
        self.txt_value("product")
            .map(|p| {
                let p = p.trim();
                let p = p.strip_prefix('(').unwrap_or(p);
                let p = p.strip_suffix(')').unwrap_or(p);
                p.trim().to_string()
            })
            .filter(|p| !p.is_empty())
    }

    /// The maker: `usb_MFG`, else the first word of `ty`.
    pub fn vendor(&self) -> Option<String> {
        self.txt_value("usb_MFG").or_else(|| {
            self.txt_value("ty")
                .and_then(|ty| ty.split_whitespace().next().map(str::to_string))
        })
    }

    /// The printer's UUID (`UUID` key), as announced.
    pub fn uuid(&self) -> Option<String> {
        self.txt_value("UUID")
    }

    /// Where it is (`note` key).
    pub fn location(&self) -> Option<String> {
        self.txt_value("note")
    }

    /// Its web page (`adminurl` key).
    pub fn admin_url(&self) -> Option<String> {
        self.txt_value("adminurl")
    }
}

/// Why browsing could not run.
#[derive(Debug, thiserror::Error)]
pub enum DnsSdError {
    /// No interface was named; browsing every interface is never implied.
    #[error("DNS-SD browsing needs at least one interface to browse on")]
    NoInterfaces,
    /// A named interface does not exist on this computer.
    #[error("there is no network interface '{name}' to browse DNS-SD on (interfaces: {known})")]
    UnknownInterface {
        /// What was asked for.
        name: String,
        /// The interfaces that exist.
        known: String,
    },
    /// The mDNS daemon could not be started or configured.
    #[error("cannot start the mDNS daemon: {0}")]
    Daemon(String),
}

/// Browses [`PRINTER_SERVICES`] on `interfaces` for `window` (or until
/// `cancel` fires) and returns what resolved, sorted by instance and service.
pub async fn browse(
    interfaces: &[String],
    window: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<Announcement>, DnsSdError> {
    let selected = check_interfaces(interfaces, &system_interfaces())?;
    let daemon = Daemon(ServiceDaemon::new().map_err(|e| DnsSdError::Daemon(e.to_string()))?);
    let d = &daemon.0;
    // Order matters: the daemon handles commands in sequence, so both
    // selections are in force before the first browse query is sent.
    d.disable_interface(IfKind::All)
        .map_err(|e| DnsSdError::Daemon(format!("cannot disable interfaces: {e}")))?;
    d.enable_interface(
        selected
            .iter()
            .flat_map(KnownInterface::kinds)
            .collect::<Vec<_>>(),
    )
    .map_err(|e| DnsSdError::Daemon(format!("cannot enable {}: {e}", interfaces.join(", "))))?;
    let mut streams = Vec::new();
    for service in PRINTER_SERVICES {
        let rx = d
            .browse(service)
            .map_err(|e| DnsSdError::Daemon(format!("cannot browse {service}: {e}")))?;
        streams.push(rx.into_stream());
    }
    let mut events = futures::stream::select_all(streams);
    let mut found = Found::default();
    let deadline = tokio::time::sleep(window);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            () = cancel.cancelled() => break,
            event = events.next() => match event {
                Some(ServiceEvent::ServiceResolved(service)) => found.add(resolved(&service)),
                Some(_) => {}
                None => break,
            },
        }
    }
    for service in PRINTER_SERVICES {
        let _ = d.stop_browse(service);
    }
    drop(events);
    daemon.shutdown().await;
    Ok(found.into_sorted())
}

/// Shuts the daemon down when dropped (early return, cancellation, panic).
struct Daemon(ServiceDaemon);

impl Daemon {
    async fn shutdown(self) {
        if let Ok(rx) = self.0.shutdown() {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, rx.recv_async()).await;
        }
        // Drop runs too; a second shutdown request to a stopped daemon only
        // returns an error, which is ignored.
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

/// One of this computer's interfaces, as the OS names it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KnownInterface {
    /// OS name (`eth0`; the adapter name on Windows).
    name: String,
    /// Windows' friendly name (`Ethernet 2`), which mdns-sd uses there.
    friendly: Option<String>,
    /// OS interface index.
    index: u32,
}

impl KnownInterface {
    /// The mdns-sd selections that mean exactly this interface: its names
    /// (mdns-sd names interfaces by the friendly name on Windows) and its
    /// index, for IPv4 and IPv6.
    fn kinds(&self) -> Vec<IfKind> {
        let mut v = vec![IfKind::Name(self.name.clone())];
        v.extend(self.friendly.iter().cloned().map(IfKind::Name));
        if self.index > 0 {
            v.push(IfKind::IndexV4(self.index));
            v.push(IfKind::IndexV6(self.index));
        }
        v
    }
}

/// This computer's interfaces.
fn system_interfaces() -> Vec<KnownInterface> {
    netdev::get_interfaces()
        .into_iter()
        .map(|i| KnownInterface {
            friendly: i.friendly_name.filter(|f| *f != i.name),
            name: i.name,
            index: i.index,
        })
        .collect()
}

/// The interfaces named in `wanted` (by OS or friendly name); an empty list
/// or an unknown name is an error.
fn check_interfaces(
    wanted: &[String],
    known: &[KnownInterface],
) -> Result<Vec<KnownInterface>, DnsSdError> {
    if wanted.is_empty() {
        return Err(DnsSdError::NoInterfaces);
    }
    wanted
        .iter()
        .map(|name| {
            known
                .iter()
                .find(|k| &k.name == name || k.friendly.as_ref() == Some(name))
                .cloned()
                .ok_or_else(|| DnsSdError::UnknownInterface {
                    name: name.clone(),
                    known: known
                        .iter()
                        .map(|k| k.friendly.clone().unwrap_or_else(|| k.name.clone()))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// Announcements collected so far, merged by (instance, service).
#[derive(Default)]
struct Found(BTreeMap<(String, String), Announcement>);

impl Found {
    fn add(&mut self, a: Announcement) {
        match self.0.entry((a.instance.clone(), a.service.clone())) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(a);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let old = o.get_mut();
                old.addresses.extend(a.addresses);
                old.addresses.sort();
                old.addresses.dedup();
                // A later resolution may carry a fuller record.
                if old.host.is_empty() {
                    old.host = a.host;
                }
                if old.port == 0 {
                    old.port = a.port;
                }
                for (k, v) in a.txt {
                    old.txt.entry(k).or_insert(v);
                }
            }
        }
    }

    fn into_sorted(self) -> Vec<Announcement> {
        self.0.into_values().collect()
    }
}

/// Our view of what mdns-sd resolved.
fn resolved(s: &ResolvedService) -> Announcement {
    let txt = s
        .get_properties()
        .iter()
        .map(|p| {
            (
                clean(p.key()),
                p.val()
                    .map(|v| clean(&String::from_utf8_lossy(v)))
                    .unwrap_or_default(),
            )
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    announcement(
        &s.fullname,
        &s.ty_domain,
        &s.host,
        s.addresses.iter().map(|a| a.to_ip_addr()).collect(),
        s.port,
        txt,
    )
}

/// Builds an announcement from the parts of a resolved service.
fn announcement(
    fullname: &str,
    ty_domain: &str,
    host: &str,
    mut addresses: Vec<IpAddr>,
    port: u16,
    txt: BTreeMap<String, String>,
) -> Announcement {
    addresses.sort();
    addresses.dedup();
    Announcement {
        instance: instance_name(fullname, ty_domain),
        service: service_name(ty_domain),
        host: clean(host.trim_end_matches('.')),
        addresses,
        port,
        txt,
    }
}

/// `Office Laser._ipp._tcp.local.` → `Office Laser`.
fn instance_name(fullname: &str, ty_domain: &str) -> String {
    let name = fullname
        .strip_suffix(ty_domain)
        .map(|n| n.strip_suffix('.').unwrap_or(n))
        .unwrap_or(fullname);
    clean(name)
}

/// `_ipp._tcp.local.` → `_ipp._tcp`.
fn service_name(ty_domain: &str) -> String {
    let t = ty_domain.trim_end_matches('.');
    clean(t.strip_suffix(".local").unwrap_or(t))
}

/// Untrusted text: control characters removed, trimmed.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_txt(pairs: &[(&str, &str)]) -> Announcement {
        announcement(
            "Office Laser._ipp._tcp.local.",
            "_ipp._tcp.local.",
            "npi00005e.local.",
            vec!["192.0.2.30".parse().expect("ip")],
            631,
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    #[test]
    fn make_and_model_prefers_ty_then_usb_fields_then_product() {
        let a = with_txt(&[
            ("ty", "HP LaserJet M404dn"),
            ("usb_MFG", "HP"),
            ("usb_MDL", "LaserJet M404"),
            ("product", "(HP LaserJet)"),
        ]);
        assert_eq!(a.make_and_model().as_deref(), Some("HP LaserJet M404dn"));
        let a = with_txt(&[("usb_MFG", "Brother"), ("usb_MDL", "HL-L2350DW series")]);
        assert_eq!(
            a.make_and_model().as_deref(),
            Some("Brother HL-L2350DW series")
        );
        let a = with_txt(&[("usb_MFG", "EPSON"), ("usb_MDL", "EPSON ET-2850")]);
        assert_eq!(
            a.make_and_model().as_deref(),
            Some("EPSON ET-2850"),
            "a model that already names the maker is not doubled"
        );
        let a = with_txt(&[("product", "(Kyocera ECOSYS P2040dw)")]);
        assert_eq!(
            a.make_and_model().as_deref(),
            Some("Kyocera ECOSYS P2040dw")
        );
        let a = with_txt(&[("product", "()"), ("ty", "  ")]);
        assert_eq!(a.make_and_model(), None);
    }

    #[test]
    fn vendor_is_usb_mfg_else_the_first_word_of_ty() {
        assert_eq!(
            with_txt(&[("usb_MFG", "Canon"), ("ty", "HP LaserJet")])
                .vendor()
                .as_deref(),
            Some("Canon")
        );
        assert_eq!(
            with_txt(&[("ty", "Brother HL-L2350DW series")])
                .vendor()
                .as_deref(),
            Some("Brother")
        );
        assert_eq!(with_txt(&[]).vendor(), None);
    }

    #[test]
    fn uuid_location_and_admin_url_come_from_their_keys_ignoring_case() {
        let a = with_txt(&[
            ("UUID", "564e4333-4e30-3136-3132-00005e005330"),
            ("Note", "2nd floor, copy room"),
            ("adminURL", "http://192.0.2.30/"),
        ]);
        assert_eq!(
            a.uuid().as_deref(),
            Some("564e4333-4e30-3136-3132-00005e005330")
        );
        assert_eq!(a.location().as_deref(), Some("2nd floor, copy room"));
        assert_eq!(a.admin_url().as_deref(), Some("http://192.0.2.30/"));
        let empty = with_txt(&[("UUID", ""), ("note", " ")]);
        assert_eq!(empty.uuid(), None);
        assert_eq!(empty.location(), None);
    }

    #[test]
    fn names_lose_their_service_type_and_domain() {
        let a = with_txt(&[]);
        assert_eq!(a.instance, "Office Laser");
        assert_eq!(a.service, "_ipp._tcp");
        assert_eq!(a.host, "npi00005e.local");
        assert_eq!(
            service_name("_pdl-datastream._tcp.local."),
            "_pdl-datastream._tcp"
        );
        assert_eq!(instance_name("odd-name", "_ipp._tcp.local."), "odd-name");
    }

    #[test]
    fn the_same_instance_resolved_twice_is_one_announcement_with_both_addresses() {
        let mut found = Found::default();
        found.add(with_txt(&[("ty", "HP LaserJet")]));
        let mut again = with_txt(&[("note", "hall")]);
        again.addresses = vec![
            "fd00::30".parse().expect("ip"),
            "192.0.2.30".parse().expect("ip"),
        ];
        found.add(again);
        let mut pdl = with_txt(&[]);
        pdl.service = "_pdl-datastream._tcp".into();
        found.add(pdl);
        let list = found.into_sorted();
        assert_eq!(list.len(), 2, "_ipp and _pdl-datastream stay two: {list:?}");
        let ipp = list
            .iter()
            .find(|a| a.service == "_ipp._tcp")
            .expect("the ipp one");
        assert_eq!(ipp.addresses.len(), 2);
        assert_eq!(ipp.make_and_model().as_deref(), Some("HP LaserJet"));
        assert_eq!(ipp.location().as_deref(), Some("hall"));
    }

    #[test]
    fn hostile_text_is_cleaned_not_trusted() {
        let a = announcement(
            "Evil\u{0}\u{1b}[31mPrinter._ipp._tcp.local.",
            "_ipp._tcp.local.",
            "\u{7}host.local.",
            Vec::new(),
            0,
            [(
                "ty".to_string(),
                clean(&String::from_utf8_lossy(b"HP \xff\xfe Laser\n")),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(a.instance, "Evil[31mPrinter");
        assert_eq!(a.host, "host.local");
        assert_eq!(
            a.make_and_model().as_deref(),
            Some("HP \u{fffd}\u{fffd} Laser")
        );
    }

    #[test]
    fn browsing_needs_a_named_interface_that_exists() {
        let known = vec![
            KnownInterface {
                name: "lo".into(),
                friendly: None,
                index: 1,
            },
            KnownInterface {
                name: "eth0".into(),
                friendly: None,
                index: 2,
            },
            KnownInterface {
                name: "{4D36E972-E325}".into(),
                friendly: Some("Ethernet 2".into()),
                index: 7,
            },
        ];
        assert!(matches!(
            check_interfaces(&[], &known),
            Err(DnsSdError::NoInterfaces)
        ));
        let err = check_interfaces(&["eth9".to_string()], &known).expect_err("unknown");
        assert!(err.to_string().contains("'eth9'"), "{err}");
        assert!(err.to_string().contains("eth0"), "{err}");
        let eth0 = check_interfaces(&["eth0".to_string()], &known).expect("known");
        assert_eq!(eth0, [known[1].clone()]);
        // Name, IPv4 index, IPv6 index: nothing else.
        assert_eq!(eth0[0].kinds().len(), 3);
        let windows = check_interfaces(&["Ethernet 2".to_string()], &known).expect("friendly");
        assert_eq!(windows[0].index, 7);
        assert_eq!(windows[0].kinds().len(), 4);
    }

    #[tokio::test]
    async fn browse_refuses_before_starting_a_daemon_when_no_interface_fits() {
        // Both fail in the check, before any socket is opened: safe in the
        // root namespace.
        let cancel = CancellationToken::new();
        let none = browse(&[], Duration::from_millis(10), &cancel).await;
        assert!(matches!(none, Err(DnsSdError::NoInterfaces)));
        let missing = browse(
            &["printscout-no-such-if0".to_string()],
            Duration::from_millis(10),
            &cancel,
        )
        .await;
        assert!(
            matches!(missing, Err(DnsSdError::UnknownInterface { .. })),
            "{missing:?}"
        );
    }
}
