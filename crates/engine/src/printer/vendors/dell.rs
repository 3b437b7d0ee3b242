//! Dell (enterprise 674; printers under `…674.10898`). Dell printers are
//! other makers' engines with Dell firmware: Lexmark-built (sysDescr
//! `Dell B3460dn Laser Printer version NH5.CY.N543 kernel …`), Fuji
//! Xerox-built (`Dell MFP Laser 3115cn; Net 9.26, Controller …, Engine …`)
//! and Samsung-built. Dell servers' iDRAC (`…674.10892`) shares the
//! enterprise; the classifier tells them apart.
//!
//! Identity (PROTOCOLS.md §1.6, LibreNMS `os_discovery/dell-laser.yaml`):
//! firmware = `…674.10898.100.1.1.1.0`, else Lexmark's `…641.1.1.1.0`, else
//! the word after `version` or `Engine` in sysDescr; serial =
//! prtGeneralSerialNumber (standard), else `…674.10898.100.2.1.2.1.6.1`
//! (fusioninventory mapping, unverified), else the OEM's own serial object
//! (Lexmark `…641.2.1.2.1.6.1`, Xerox `…253.8.53.3.2.1.3.1`); model =
//! hrDeviceDescr / prtGeneralPrinterName, else sysDescr without `Dell` and
//! without what follows `version` or the first `;`.
//!
//! Counters: `total` stays prtMarkerLifeCount. Then the OEM's tree is read:
//! Xerox-built models answer Xerox's `…253.8.53.13.2.1.6.1.20.{33,34}`
//! (confirmed for Xerox: glpi-agent, check_snmp_printer) → `color`, `mono`,
//! and `….20.1` is kept as `xerox_print_total`; Lexmark-built models answer
//! LEXMARK-MPS-MIB paperSidesCount `…641.6.4.2.2.1.{6,7}.1.1` (one source:
//! check_snmp_printer) → `mono`, `color` when Xerox's are absent (else kept
//! as `lexmark_{mono,color}_sides`).

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const DELL_FIRMWARE: &str = "1.3.6.1.4.1.674.10898.100.1.1.1.0";
const LEXMARK_FIRMWARE: &str = "1.3.6.1.4.1.641.1.1.1.0";
const DELL_SERIAL: &str = "1.3.6.1.4.1.674.10898.100.2.1.2.1.6.1";
const LEXMARK_SERIAL: &str = "1.3.6.1.4.1.641.2.1.2.1.6.1";
const XEROX_SERIAL: &str = "1.3.6.1.4.1.253.8.53.3.2.1.3.1";
const XEROX_TOTAL: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1";
const XEROX_COLOR: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33";
const XEROX_BLACK: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34";
const LEXMARK_MONO: &str = "1.3.6.1.4.1.641.6.4.2.2.1.6.1.1";
const LEXMARK_COLOR: &str = "1.3.6.1.4.1.641.6.4.2.2.1.7.1.1";

/// The Dell module.
pub static MODULE: VendorModule = VendorModule {
    name: "Dell",
    enterprises: &[674],
    words: &["dell"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[
            DELL_FIRMWARE,
            LEXMARK_FIRMWARE,
            DELL_SERIAL,
            LEXMARK_SERIAL,
            XEROX_SERIAL,
            XEROX_TOTAL,
            XEROX_COLOR,
            XEROX_BLACK,
            LEXMARK_MONO,
            LEXMARK_COLOR,
        ]),
        subtrees: vec![],
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Dell".into());
    let descr = r.identity.description.clone().unwrap_or_default();
    if r.identity.model.is_none() {
        r.identity.model = model_from_descr(&descr);
    }
    r.identity.firmware = snap
        .text(DELL_FIRMWARE)
        .or_else(|| snap.text(LEXMARK_FIRMWARE))
        .or_else(|| firmware_from_descr(&descr));
    for oid in [DELL_SERIAL, LEXMARK_SERIAL, XEROX_SERIAL] {
        put_serial(r, snap.text(oid), oid, false);
    }

    let mut have_xerox = false;
    for (oid, key) in [(XEROX_COLOR, "color"), (XEROX_BLACK, "mono")] {
        if let Some(v) = snap.int(oid) {
            put_counter(r, key, v, oid, Some("Xerox-built Dell: Xerox counter"));
            have_xerox = true;
        }
    }
    if let Some(v) = snap.int(XEROX_TOTAL) {
        keep_counter(
            r,
            "xerox_print_total",
            v,
            XEROX_TOTAL,
            Some("Xerox-built Dell: Xerox total"),
        );
    }
    for (oid, key, kept) in [
        (LEXMARK_MONO, "mono", "lexmark_mono_sides"),
        (LEXMARK_COLOR, "color", "lexmark_color_sides"),
    ] {
        if let Some(v) = snap.int(oid) {
            let descr = Some("Lexmark-built Dell: paperSidesCount");
            if have_xerox {
                keep_counter(r, kept, v, oid, descr);
            } else {
                put_counter(r, key, v, oid, descr);
            }
        }
    }
}

/// `Dell B3460dn Laser Printer version NH5…` → `B3460dn Laser Printer`;
/// `Dell MFP Laser 3115cn; Net 9.26, …` → `MFP Laser 3115cn`.
fn model_from_descr(d: &str) -> Option<String> {
    let d = d.trim();
    let rest = d
        .strip_prefix("Dell ")
        .or_else(|| d.strip_prefix("DELL "))?;
    let rest = rest.split([';', ',']).next().unwrap_or(rest);
    let rest = match rest.find(" version ") {
        Some(i) => &rest[..i],
        None => rest,
    };
    let m = rest.trim();
    (!m.is_empty()).then(|| m.to_string())
}

/// The word after `version` or `Engine` in sysDescr (as LibreNMS reads it).
fn firmware_from_descr(d: &str) -> Option<String> {
    let words: Vec<&str> = d.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "version" || w[0] == "Engine")
        .map(|w| w[1].trim_end_matches([',', ';']).to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    #[test]
    fn dell_lexmark_built_sysdescr_gives_model_and_firmware() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Dell B9999dn Laser Printer version NH5.XX.N999 kernel 3.0.0 All-N-1\n\
            1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.674.10898.100.1.1.99\n\
            1.3.6.1.4.1.641.2.1.2.1.6.1|4|7019999ZZ0001\n\
            1.3.6.1.4.1.641.6.4.2.2.1.6.1.1|65|4242\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Dell"));
        assert_eq!(r.identity.model.as_deref(), Some("B9999dn Laser Printer"));
        assert_eq!(r.identity.firmware.as_deref(), Some("NH5.XX.N999"));
        assert_eq!(r.identity.serial.as_deref(), Some("7019999ZZ0001"));
        assert_eq!(r.counters.get("mono"), Some(&4242));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "mono" && c.oid == LEXMARK_MONO)
        );
    }

    #[test]
    fn dell_xerox_built_counters_and_engine_firmware() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Dell MFP Laser 9999cn; Net 9.26, Controller 200709110910, Engine 05.09.00\n\
            1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.674.10898.10.52.1\n\
            1.3.6.1.2.1.43.10.2.1.4.1.1|65|3000\n\
            1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1|65|2999\n1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33|65|1000\n\
            1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34|65|1999\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.model.as_deref(), Some("MFP Laser 9999cn"));
        assert_eq!(r.identity.firmware.as_deref(), Some("05.09.00"));
        assert_eq!(r.counters.get("total"), Some(&3000));
        assert_eq!(r.counters.get("color"), Some(&1000));
        assert_eq!(r.counters.get("mono"), Some(&1999));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "xerox_print_total" && c.value == 2999)
        );
    }

    #[test]
    fn dell_private_firmware_wins_over_the_sysdescr() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Dell Color Laser\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.674.10898.100.1.1.1\n\
            1.3.6.1.4.1.674.10898.100.1.1.1.0|4|A01\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.firmware.as_deref(), Some("A01"));
        assert_eq!(r.identity.model.as_deref(), Some("Color Laser"));
        assert_eq!(model_from_descr("Dell"), None);
        assert_eq!(firmware_from_descr("Dell Color Laser version"), None);
    }
}
