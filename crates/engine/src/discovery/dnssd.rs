//! DNS-SD (mDNS) browsing for printers with the `mdns-sd` crate: the four
//! printer service types ([`PRINTER_SERVICES`]) and the 3D printers' service
//! types ([`FAB_SERVICES`]) are browsed for a window on the named interfaces
//! only, and every resolved service becomes one [`Announcement`] (same
//! instance + service = one entry, addresses merged). The same printer
//! announcing `_ipp` and `_pdl-datastream` stays two announcements here;
//! devices are merged by the caller.
//!
//! What each announcement is read over ([`Announcement::kind`],
//! [`Announcement::ipp_url`], [`Announcement::fab_target`]):
//! - `_ipp._tcp` / `_ipps._tcp`: `ipp[s]://<address>:<SRV port>/<rp>` (`rp`
//!   TXT key, `ipp/print` when absent);
//! - `_octoprint._tcp` (OctoPrint's bundled discovery plugin: SRV port = its
//!   public port, TXT `path`, `version`, `uuid`, `model`, `vendor`, and `u`/`p`
//!   when HTTP basic auth is set), `_moonraker._tcp` (Moonraker's `[zeroconf]`
//!   component: SRV port = its HTTP port, TXT `uuid`, `https_port`,
//!   `version`) and `_prusalink._tcp` (PrusaLink on a Raspberry Pi, which also
//!   announces `_octoprint._tcp` and `_http._tcp` at the same port for older
//!   slicers; TXT `path=/`): `<scheme>://<address>:<SRV port>`;
//! - `_ultimaker._tcp` (TXT `type=printer`, `machine`, `name`,
//!   `firmware_version`): `ultimaker://<address>` on port 80, ignoring the SRV
//!   port as Cura's and the other known clients do (they take only the
//!   address); an announcement whose `type` is not `printer` is not read;
//! - Bambu Lab printers announce nothing on DNS-SD (they use SSDP on UDP
//!   port 2021): they are added by hand (`bambu://SERIAL@host`).
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
//! control characters removed; a password announced in TXT (OctoPrint's `p`)
//! is dropped on arrival, never kept nor shown; nothing here panics on what a
//! network sends; the daemon is shut down on every path (including early
//! returns and cancellation). `tests/netns_peers.rs` browses a responder in a
//! network namespace and checks, with a sniffer, that nothing is sent on the
//! interface that was not named.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::printer::fab::{FabProtocol, FabTarget};

/// The printer service types browsed.
pub const PRINTER_SERVICES: [&str; 4] = [
    "_ipp._tcp.local.",
    "_ipps._tcp.local.",
    "_printer._tcp.local.",
    "_pdl-datastream._tcp.local.",
];

/// The 3D printers' service types browsed (Bambu announces none: SSDP only).
pub const FAB_SERVICES: [&str; 4] = [
    "_octoprint._tcp.local.",
    "_moonraker._tcp.local.",
    "_prusalink._tcp.local.",
    "_ultimaker._tcp.local.",
];

/// Every service type [`browse`] asks for.
fn browsed() -> impl Iterator<Item = &'static str> {
    PRINTER_SERVICES.into_iter().chain(FAB_SERVICES)
}

/// TXT keys that carry a password (OctoPrint's HTTP basic auth `p`): dropped
/// from the announcements of these service types.
const SECRET_TXT: &[(&str, &str)] = &[("_octoprint._tcp", "p"), ("_http._tcp", "p")];

/// What an announced service is read over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// IPP: `_ipp._tcp`, or `_ipps._tcp` (`tls`).
    Ipp {
        /// `_ipps._tcp`.
        tls: bool,
    },
    /// A 3D printer's API.
    Fab(FabProtocol),
    /// Another printing service (`_printer._tcp`, `_pdl-datastream._tcp`),
    /// or an Ultimaker announcement that is not a printer: SNMP reads the
    /// device, if anything does.
    Other,
}

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

    /// What this service is read over.
    pub fn kind(&self) -> ServiceKind {
        match self.service.to_ascii_lowercase().as_str() {
            "_ipp._tcp" => ServiceKind::Ipp { tls: false },
            "_ipps._tcp" => ServiceKind::Ipp { tls: true },
            "_octoprint._tcp" => ServiceKind::Fab(FabProtocol::OctoPrint),
            "_moonraker._tcp" => ServiceKind::Fab(FabProtocol::Moonraker),
            "_prusalink._tcp" => ServiceKind::Fab(FabProtocol::PrusaLink),
            "_ultimaker._tcp" => match self.txt_value("type") {
                Some(t) if !t.eq_ignore_ascii_case("printer") => ServiceKind::Other,
                _ => ServiceKind::Fab(FabProtocol::Ultimaker),
            },
            _ => ServiceKind::Other,
        }
    }

    /// The address to reach it at: the first IPv4 address, else the first
    /// IPv6 address that is not link-local (which would need a zone), else
    /// the first.
    pub fn preferred_address(&self) -> Option<IpAddr> {
        let link_local = |ip: &IpAddr| match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            IpAddr::V4(_) => false,
        };
        self.addresses
            .iter()
            .copied()
            .find(IpAddr::is_ipv4)
            .or_else(|| self.addresses.iter().copied().find(|a| !link_local(a)))
            .or_else(|| self.addresses.first().copied())
    }

    /// The printer URL of an IPP announcement at `ip`:
    /// `ipp[s]://ip:port/<rp>`, `rp` defaulting to `ipp/print` and the port
    /// to 631. `None` for other services.
    pub fn ipp_url(&self, ip: IpAddr) -> Option<String> {
        let ServiceKind::Ipp { tls } = self.kind() else {
            return None;
        };
        let scheme = if tls { "ipps" } else { "ipp" };
        let port = if self.port == 0 { 631 } else { self.port };
        let host = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let rp = self.txt_value("rp").unwrap_or_else(|| "ipp/print".into());
        let mut url = url::Url::parse(&format!("{scheme}://{host}:{port}/")).ok()?;
        // set_path percent-encodes what the untrusted TXT value carries.
        url.set_path(rp.trim_start_matches('/'));
        Some(url.to_string())
    }

    /// The 3D-printer target of a 3D-printer announcement at `ip` (see the
    /// module's notes for the ports). `None` for other services.
    pub fn fab_target(&self, ip: IpAddr) -> Option<FabTarget> {
        let ServiceKind::Fab(protocol) = self.kind() else {
            return None;
        };
        let port = match protocol {
            // Ultimaker clients ignore the SRV port; the API is on port 80.
            FabProtocol::Ultimaker => protocol.default_port(),
            _ if self.port == 0 => protocol.default_port(),
            _ => self.port,
        };
        Some(FabTarget {
            protocol,
            host: ip.to_string(),
            port,
            serial: None,
            user: None,
        })
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

/// Browses [`PRINTER_SERVICES`] and [`FAB_SERVICES`] on `interfaces` for `window` (or until
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
    for service in browsed() {
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
    for service in browsed() {
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
    mut txt: BTreeMap<String, String>,
) -> Announcement {
    addresses.sort();
    addresses.dedup();
    let service = service_name(ty_domain);
    txt.retain(|k, _| {
        !SECRET_TXT
            .iter()
            .any(|(s, key)| service.eq_ignore_ascii_case(s) && k.eq_ignore_ascii_case(key))
    });
    Announcement {
        instance: instance_name(fullname, ty_domain),
        service,
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

    fn service(service: &str, port: u16, pairs: &[(&str, &str)]) -> Announcement {
        announcement(
            &format!("Some Printer.{service}.local."),
            &format!("{service}.local."),
            "host.local.",
            vec![
                "fe80::1".parse().expect("ip"),
                "2001:db8::5".parse().expect("ip"),
                "192.0.2.9".parse().expect("ip"),
            ],
            port,
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    #[test]
    fn an_ipp_announcement_is_read_at_its_rp_path_and_port() {
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        let a = service("_ipp._tcp", 8631, &[("rp", "printers/Office Laser")]);
        assert_eq!(a.kind(), ServiceKind::Ipp { tls: false });
        assert_eq!(
            a.ipp_url(ip).as_deref(),
            Some("ipp://192.0.2.9:8631/printers/Office%20Laser")
        );
        let bare = service("_ipps._tcp", 0, &[]);
        assert_eq!(bare.kind(), ServiceKind::Ipp { tls: true });
        assert_eq!(
            bare.ipp_url(ip).as_deref(),
            Some("ipps://192.0.2.9:631/ipp/print"),
            "rp defaults to ipp/print, the port to 631"
        );
        let v6 = bare
            .ipp_url("2001:db8::5".parse().expect("ip"))
            .expect("a url");
        assert_eq!(v6, "ipps://[2001:db8::5]:631/ipp/print");
        assert_eq!(service("_pdl-datastream._tcp", 9100, &[]).ipp_url(ip), None);
    }

    #[test]
    fn the_preferred_address_is_ipv4_then_a_routable_ipv6() {
        let mut a = service("_ipp._tcp", 631, &[]);
        assert_eq!(
            a.preferred_address(),
            Some("192.0.2.9".parse().expect("ip"))
        );
        a.addresses.retain(IpAddr::is_ipv6);
        assert_eq!(
            a.preferred_address(),
            Some("2001:db8::5".parse().expect("ip")),
            "not the link-local one"
        );
        a.addresses.clear();
        assert_eq!(a.preferred_address(), None);
    }

    #[test]
    fn three_d_printer_announcements_become_their_protocols_urls() {
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        let url = |a: &Announcement| a.fab_target(ip).map(|t| t.url());
        let moon = service(
            "_moonraker._tcp",
            7125,
            &[("uuid", "abc"), ("version", "v0.9")],
        );
        assert_eq!(moon.kind(), ServiceKind::Fab(FabProtocol::Moonraker));
        assert_eq!(url(&moon).as_deref(), Some("moonraker://192.0.2.9:7125"));
        let octo = service("_octoprint._tcp", 80, &[("path", "/"), ("api", "0.1")]);
        assert_eq!(url(&octo).as_deref(), Some("octoprint://192.0.2.9:80"));
        let prusa = service("_prusalink._tcp", 0, &[("path", "/")]);
        assert_eq!(url(&prusa).as_deref(), Some("prusalink://192.0.2.9:80"));
        let um = service("_ultimaker._tcp", 1234, &[("type", "printer")]);
        assert_eq!(
            url(&um).as_deref(),
            Some("ultimaker://192.0.2.9:80"),
            "Ultimaker's API is on port 80 whatever the SRV record says"
        );
        let cluster = service("_ultimaker._tcp", 80, &[("type", "cluster-thing")]);
        assert_eq!(cluster.kind(), ServiceKind::Other);
        assert_eq!(url(&cluster), None);
        assert_eq!(url(&service("_ipp._tcp", 631, &[])), None);
    }

    #[test]
    fn a_password_in_an_octoprint_announcement_is_dropped_on_arrival() {
        let a = service(
            "_octoprint._tcp",
            5000,
            &[("u", "maker"), ("P", "SENTINEL-PASSWORD-42"), ("path", "/")],
        );
        assert_eq!(a.txt_value("u").as_deref(), Some("maker"));
        assert_eq!(a.txt_value("p"), None);
        assert!(!format!("{a:?}").contains("SENTINEL-PASSWORD-42"));
        assert!(
            !serde_json::to_string(&a)
                .expect("json")
                .contains("SENTINEL-PASSWORD-42")
        );
        // Other services keep their keys (no printer TXT key is a secret).
        let ipp = service("_ipp._tcp", 631, &[("p", "x")]);
        assert_eq!(ipp.txt_value("p").as_deref(), Some("x"));
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
