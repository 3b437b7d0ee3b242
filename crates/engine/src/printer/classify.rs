//! Is it a printer, and what kind? Decided from what the device *has*, not
//! from one row of hrDeviceTable: a Windows or Linux host lists its print
//! queues as hrDevicePrinter rows, a NAS or BMC may too, and a projector may
//! come from a printer maker.
//!
//! Rules, first match wins (each has a test on a recording):
//! 1. A maker's projector or scanner words in sysDescr → not a printer
//!    (`scan_server` for scanners).
//! 2. Printer-MIB marker or supplies rows, or vendor page counters → printer.
//! 3. A host operating system (sysObjectID of Microsoft, net-snmp, Apple, …, or
//!    an OS name leading sysDescr) → not a printer, whatever hrDeviceTable lists.
//! 4. sysObjectID under a printer maker's printer subtree, or a printer maker
//!    named at the start of sysDescr → printer.
//! 5. An hrDevicePrinter row on a device with no processors or disks (the row
//!    is the device itself) → printer.
//! 6. Otherwise not a printer.

use super::model::Reading;
use super::oids::{HR_DEVICE_TYPE, PRT_MARKER, PRT_SUPPLIES};
use super::standard::printer_rows;
use super::vendors::{contains_word, starts_with_word};
use crate::snmp::Snapshot;

/// Enterprise subtrees (as dotted prefixes of sysObjectID) that are printers.
const PRINTER_OBJECT_IDS: &[&str] = &[
    "1.3.6.1.4.1.11.2.3.9",  // HP JetDirect
    "1.3.6.1.4.1.1602",      // Canon
    "1.3.6.1.4.1.367",       // Ricoh and its badges
    "1.3.6.1.4.1.1347",      // Kyocera, UTAX, TA
    "1.3.6.1.4.1.253",       // Xerox
    "1.3.6.1.4.1.297",       // Fuji Xerox / Fujifilm
    "1.3.6.1.4.1.18334",     // Konica Minolta, Develop
    "1.3.6.1.4.1.2435",      // Brother
    "1.3.6.1.4.1.641",       // Lexmark
    "1.3.6.1.4.1.2385",      // Sharp
    "1.3.6.1.4.1.1248.1.1",  // Epson printers (projectors are elsewhere)
    "1.3.6.1.4.1.236.11",    // Samsung printers
    "1.3.6.1.4.1.2001",      // OKI
    "1.3.6.1.4.1.1129",      // Toshiba TEC
    "1.3.6.1.4.1.674.10898", // Dell printers
    "1.3.6.1.4.1.10642",     // Zebra
    "1.3.6.1.4.1.683",       // Extended Systems print servers (Zebra)
    "1.3.6.1.4.1.40093",     // Pantum
    "1.3.6.1.4.1.1552",      // Avery Dennison
    "1.3.6.1.4.1.10059",     // Sato
    "1.3.6.1.4.1.1206",      // Intermec
    "1.3.6.1.4.1.2699",      // Printer Working Group
    "1.3.6.1.4.1.51966",     // TSC Auto ID
];

/// Enterprises whose devices are computers, network gear or power equipment.
const NOT_PRINTER_ENTERPRISES: &[u32] = &[
    311,   // Microsoft
    8072,  // net-snmp (Linux, BSD)
    2021,  // UCD-SNMP
    63,    // Apple
    42,    // Sun
    6574,  // Synology
    24681, // QNAP
    6876,  // VMware
    9,     // Cisco
    14988, // MikroTik
    890,   // Zyxel
    318,   // APC
    705,   // MGE / Eaton UPS
    534,   // Eaton
    25506, // H3C
    2636,  // Juniper
    4526,  // Netgear
    41112, // Ubiquiti
    12356, // Fortinet
    25461, // Palo Alto
    10002, // Ubiquiti (Frogfoot)
    232,   // Compaq/HPE servers (iLO)
    5951,  // Netscaler
];

/// True for enterprises whose devices are computers, network gear or UPSes.
pub fn is_host_enterprise(e: u32) -> bool {
    NOT_PRINTER_ENTERPRISES.contains(&e)
}

const OS_WORDS: &[&str] = &[
    "linux",
    "windows",
    "hardware:",
    "darwin",
    "freebsd",
    "openbsd",
    "netbsd",
    "sunos",
    "cisco",
    "routeros",
    "vmware",
    "juniper",
    "junos",
];

const LABEL_MAKERS: &[&str] = &[
    "zebra", "zebranet", "tsc", "sato", "intermec", "datamax", "godex", "avery",
];

/// Sets `is_printer`, `device_kind` and `classification`.
pub fn classify(snap: &Snapshot, r: &mut Reading) {
    let (is, kind, why) = decide(snap, r);
    r.is_printer = is;
    r.device_kind = kind.to_string();
    r.classification = why;
}

fn decide(snap: &Snapshot, r: &Reading) -> (bool, &'static str, String) {
    let descr = r
        .identity
        .description
        .clone()
        .unwrap_or_default()
        .to_lowercase();
    let oid = r.identity.sys_object_id.clone().unwrap_or_default();
    let has_markers = snap.has_any(&format!("{PRT_MARKER}.4"))
        || snap.has_any(&format!("{PRT_SUPPLIES}.6"))
        || snap.has_any(&format!("{PRT_SUPPLIES}.9"));
    let vendor_counters = r
        .counter_sources
        .iter()
        .any(|c| !c.oid.starts_with("1.3.6.1.2.1.43."));
    let label = LABEL_MAKERS.iter().any(|w| contains_word(&descr, w))
        || [
            "1.3.6.1.4.1.10642",
            "1.3.6.1.4.1.683",
            "1.3.6.1.4.1.10059",
            "1.3.6.1.4.1.1206",
            "1.3.6.1.4.1.51966",
        ]
        .iter()
        .any(|p| under(&oid, p))
        || (under(&oid, "1.3.6.1.4.1.1129.1") && !under(&oid, "1.3.6.1.4.1.1129.2"));
    let mfp = r
        .counters
        .keys()
        .any(|k| k.starts_with("copy") || k.starts_with("scan") || k == "fax")
        || super::vendors::descriptive_texts(snap, r).iter().any(|t| {
            [
                "scanner",
                "facsimile",
                " fax",
                "copier",
                "mfp",
                "multifunction",
            ]
            .iter()
            .any(|w| t.contains(w))
        })
        || r.identity.model.as_deref().is_some_and(|m| {
            let m = m.to_ascii_uppercase();
            ["MFC-", "DCP-"].iter().any(|p| m.starts_with(p))
        });
    let printer_kind = if label {
        "label_printer"
    } else if mfp {
        "mfp"
    } else {
        "printer"
    };

    if contains_word(&descr, "projector") || descr.contains("lcd projector") {
        return (
            false,
            "not_a_printer",
            "a projector (sysDescr says so)".into(),
        );
    }
    let scan_words = [
        "scan station",
        "scanstation",
        "digital sender",
        "scansnap",
        "network scanner",
        "scan server",
    ];
    if !has_markers && scan_words.iter().any(|w| descr.contains(w)) && !descr.contains("printer") {
        return (
            false,
            "scan_server",
            "a network scanner: no marker, no supplies".into(),
        );
    }
    if has_markers {
        return (
            true,
            printer_kind,
            "has Printer-MIB marker or supplies data".into(),
        );
    }
    if vendor_counters {
        return (
            true,
            printer_kind,
            "has a printer maker's page counters".into(),
        );
    }
    let ent = r.identity.enterprise.unwrap_or(0);
    if NOT_PRINTER_ENTERPRISES.contains(&ent)
        || under(&oid, "1.3.6.1.4.1.11.2.3.7")
        || under(&oid, "1.3.6.1.4.1.674.10892")
    {
        return (
            false,
            "not_a_printer",
            format!("a computer or network device (enterprise {ent}), no Printer-MIB"),
        );
    }
    if OS_WORDS.iter().any(|w| starts_with_word(&descr, w)) {
        return (
            false,
            "not_a_printer",
            "a host operating system with no Printer-MIB".into(),
        );
    }
    if let Some(p) = PRINTER_OBJECT_IDS.iter().find(|p| under(&oid, p)) {
        return (
            true,
            printer_kind,
            format!("sysObjectID is under a printer maker's tree ({p})"),
        );
    }
    // HP's enterprise also holds switches (11.2.3.7) and computers (11.2.3.2,
    // 11.2.3.10); what is left with no host sysDescr is a JetDirect.
    if ent == 11
        && ![
            "1.3.6.1.4.1.11.2.3.2",
            "1.3.6.1.4.1.11.2.3.10",
            "1.3.6.1.4.1.11.2.14",
        ]
        .iter()
        .any(|p| under(&oid, p))
    {
        return (
            true,
            printer_kind,
            "an HP device that is not a switch or a computer (JetDirect)".into(),
        );
    }
    const MAKERS: &[&str] = &[
        "hp",
        "canon",
        "ricoh",
        "kyocera",
        "xerox",
        "fuji xerox",
        "fujifilm",
        "konica minolta",
        "konica",
        "develop",
        "brother",
        "lexmark",
        "sharp",
        "epson",
        "samsung",
        "oki",
        "okidata",
        "toshiba",
        "dell",
        "zebra",
        "savin",
        "lanier",
        "gestetner",
        "nrg",
        "utax",
        "ta_utax",
        "pantum",
        "tsc",
        "sato",
    ];
    let printer_words = [
        "printer",
        "print server",
        "laserjet",
        "officejet",
        "deskjet",
        "mfp",
        "copier",
        "imagerunner",
        "bizhub",
        "printing system",
    ];
    let maker_first = MAKERS.iter().any(|m| starts_with_word(&descr, m));
    if maker_first
        && (printer_words.iter().any(|w| descr.contains(w))
            || r.identity.enterprise.is_none()
            || ent == 0)
    {
        return (
            true,
            printer_kind,
            "sysDescr names a printer maker and a printer".into(),
        );
    }
    let hr_printer = !printer_rows(snap).is_empty();
    let hr_other = snap.column(HR_DEVICE_TYPE).into_iter().any(|(_, v)| {
        v.as_oid()
            .map(|o| {
                let a = o.arcs();
                // hrDeviceProcessor(3), hrDeviceDiskStorage(6): a computer.
                a.len() == 10 && a[..9] == [1, 3, 6, 1, 2, 1, 25, 3, 1] && matches!(a[9], 3 | 6)
            })
            .unwrap_or(false)
    });
    if hr_printer && !hr_other {
        return (
            true,
            printer_kind,
            "its only hrDeviceTable printer row is the device itself".into(),
        );
    }
    if hr_printer {
        return (
            false,
            "not_a_printer",
            "lists print queues (hrDevicePrinter) beside processors or disks: a host".into(),
        );
    }
    if maker_first {
        return (true, printer_kind, "sysDescr names a printer maker".into());
    }
    (
        false,
        "not_a_printer",
        "no Printer-MIB, no printer maker's data".into(),
    )
}

fn under(oid: &str, prefix: &str) -> bool {
    oid == prefix
        || oid
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    fn kind(snmprec: &str) -> (bool, String) {
        let r = read_recording(snmprec);
        (r.is_printer, r.device_kind)
    }

    #[test]
    fn a_projector_from_a_printer_maker_is_not_a_printer() {
        let (is, k) = kind(
            "1.3.6.1.2.1.1.1.0|4|EPSON Projector EB-2250U\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1248.4.1.1\n",
        );
        assert!(!is);
        assert_eq!(k, "not_a_printer");
    }

    #[test]
    fn a_network_scanner_is_a_scan_server_not_a_printer() {
        let (is, k) = kind(
            "1.3.6.1.2.1.1.1.0|4|Kodak Scan Station 730EX Plus\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999.1\n",
        );
        assert!(!is);
        assert_eq!(k, "scan_server");
    }

    #[test]
    fn a_zebra_is_a_label_printer() {
        let (is, k) = kind(
            "1.3.6.1.2.1.1.1.0|4|ZTC ZT410-203dpi ZPL\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.10642.1.1\n",
        );
        assert!(is);
        assert_eq!(k, "label_printer");
    }

    #[test]
    fn a_linux_nas_listing_print_queues_is_not_a_printer() {
        let (is, _) = kind(
            "1.3.6.1.2.1.1.1.0|4|Linux nas01 4.4.180+ #42962 SMP x86_64\n\
             1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n\
             1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n\
             1.3.6.1.2.1.25.3.2.1.3.1|4|Shared USB printer\n",
        );
        assert!(!is);
    }

    #[test]
    fn a_bmc_with_a_printer_row_beside_its_processors_is_not_a_printer() {
        let (is, _) = kind(
            "1.3.6.1.2.1.1.1.0|4|Integrated management controller\n\
             1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99998.1\n\
             1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.3\n\
             1.3.6.1.2.1.25.3.2.1.2.2|6|1.3.6.1.2.1.25.3.1.5\n",
        );
        assert!(!is);
    }

    #[test]
    fn an_hp_switch_is_not_a_printer_though_hp_makes_printers() {
        let (is, _) = kind(
            "1.3.6.1.2.1.1.1.0|4|HP J9773A 2530-24G-PoEP Switch\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.7.11.181\n",
        );
        assert!(!is);
    }

    #[test]
    fn a_device_whose_only_printer_row_is_itself_is_a_printer() {
        let (is, _) = kind(
            "1.3.6.1.2.1.1.1.0|4|Acme Office 300\n\
             1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99997.1\n\
             1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n",
        );
        assert!(is);
    }

    #[test]
    fn printer_mib_supplies_make_a_printer_whatever_the_enterprise() {
        let (is, _) = kind(
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99996.1\n1.3.6.1.2.1.43.11.1.1.9.1.1|2|50\n1.3.6.1.2.1.43.11.1.1.8.1.1|2|100\n",
        );
        assert!(is);
    }
}
