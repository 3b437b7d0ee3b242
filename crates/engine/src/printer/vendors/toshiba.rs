//! Toshiba TEC (enterprise 1129): e-STUDIO copiers/MFPs (sysObjectID under
//! `…1129.2`, sysDescr `TOSHIBA e-STUDIO2505AC`) and BCP label printers
//! (under `…1129.1`, sysDescr `TOSHIBA TEC B-EV4`). Some e-STUDIO models are
//! Lexmark-built and answer with Lexmark's sysObjectID; those reach the
//! Lexmark module, not this one.
//!
//! Identity: model = hrDeviceDescr / prtGeneralPrinterName, else sysDescr
//! without `TOSHIBA`/`TEC` and without what follows ` version`; label
//! printers: serial `…1129.1.2.1.1.1.1.1.0`, model `…1129.1.2.1.1.1.2.1.0`,
//! firmware `…1129.1.2.1.1.1.1.2.0` (one source: glpi-agent
//! `MibSupport/Toshiba.pm`); e-STUDIO firmware = the word after `version` in
//! sysDescr.
//!
//! Counters: `total` stays prtMarkerLifeCount. e-STUDIO's counter table
//! `…1129.2.3.50.1.3.21.6.1.<category>.1.<colour>` is **unverified**
//! (PROTOCOLS.md §1.6); colour 1 = full colour, 2 = twin colour, 3 = black.
//! Mapped: category 3 (printer) → `print_color` (`.3.1.1`), `print_mono`
//! (`.3.1.3`, fusioninventory's "print"); category 4 (copier) →
//! `copy_color`, `copy_mono` (`.4.1.3`, fusioninventory's "copy"). Every
//! other cell read (categories 2 all, 7 fax, 8–10 scan; colour 2 twin and
//! 4, which minor repositories call the total) is kept raw as
//! `toshiba_<category>_<colour>`.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const LABEL_SERIAL: &str = "1.3.6.1.4.1.1129.1.2.1.1.1.1.1.0";
const LABEL_MODEL: &str = "1.3.6.1.4.1.1129.1.2.1.1.1.2.1.0";
const LABEL_FIRMWARE: &str = "1.3.6.1.4.1.1129.1.2.1.1.1.1.2.0";
const COUNTER_TABLE: &str = "1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1";
const CATEGORIES: &[u32] = &[2, 3, 4, 7, 8, 9, 10];
/// (category, colour, normalised key).
const MAPPED: &[(u32, u32, &str)] = &[
    (3, 1, "print_color"),
    (3, 3, "print_mono"),
    (4, 1, "copy_color"),
    (4, 3, "copy_mono"),
];

/// The Toshiba TEC module.
pub static MODULE: VendorModule = VendorModule {
    name: "Toshiba",
    enterprises: &[1129],
    words: &["toshiba"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn is_label_printer(snap: &Snapshot) -> bool {
    matches!(snap.at("1.3.6.1.2.1.1.2.0").and_then(|v| v.as_oid()).map(|o| o.arcs().to_vec()), Some(a) if a.starts_with(&[1, 3, 6, 1, 4, 1, 1129, 1]))
}

fn counter_oid(category: u32, colour: u32) -> String {
    format!("{COUNTER_TABLE}.{category}.1.{colour}")
}

fn plan(snap: &Snapshot) -> FetchPlan {
    if is_label_printer(snap) {
        return FetchPlan {
            scalars: oids(&[LABEL_SERIAL, LABEL_MODEL, LABEL_FIRMWARE]),
            ..Default::default()
        };
    }
    let cells: Vec<String> = CATEGORIES
        .iter()
        .flat_map(|&c| (1..=4).map(move |k| counter_oid(c, k)))
        .collect();
    FetchPlan {
        scalars: cells.iter().filter_map(|s| s.parse().ok()).collect(),
        ..Default::default()
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Toshiba".into());
    let descr = r.identity.description.clone().unwrap_or_default();
    if is_label_printer(snap) {
        put_serial(r, snap.text(LABEL_SERIAL), LABEL_SERIAL, false);
        if let Some(m) = snap.text(LABEL_MODEL) {
            r.identity.model = Some(m);
        }
        r.identity.firmware = snap.text(LABEL_FIRMWARE).or(r.identity.firmware.take());
    }
    if r.identity.model.is_none() {
        r.identity.model = model_from_descr(&descr);
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = descr
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[0].eq_ignore_ascii_case("version"))
            .map(|w| w[1].to_string());
    }
    for &category in CATEGORIES {
        for colour in 1..=4 {
            let oid = counter_oid(category, colour);
            let Some(v) = snap.int(&oid) else { continue };
            match MAPPED.iter().find(|m| m.0 == category && m.1 == colour) {
                Some((_, _, key)) => put_counter(
                    r,
                    key,
                    v,
                    &oid,
                    Some("Toshiba e-STUDIO counter (unverified mapping)"),
                ),
                None => keep_counter(
                    r,
                    &format!("toshiba_{category}_{colour}"),
                    v,
                    &oid,
                    Some("Toshiba e-STUDIO counter (category.colour; meaning unverified)"),
                ),
            }
        }
    }
}

/// `TOSHIBA e-STUDIO305CS version NH63…` → `e-STUDIO305CS`; `TOSHIBA TEC B-EV4` → `B-EV4`.
fn model_from_descr(d: &str) -> Option<String> {
    let mut words: Vec<&str> = d.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("version")) {
        words.truncate(i);
    }
    let words: Vec<&str> = words
        .into_iter()
        .skip_while(|w| w.eq_ignore_ascii_case("toshiba") || w.eq_ignore_ascii_case("tec"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    #[test]
    fn toshiba_label_printer_identity_comes_from_the_bcp_tree() {
        let rec = "1.3.6.1.2.1.1.1.0|4|TOSHIBA TEC B-XX9\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1129.1.2.1\n\
            1.3.6.1.4.1.1129.1.2.1.1.1.1.1.0|4|2999A000001\n1.3.6.1.4.1.1129.1.2.1.1.1.1.2.0|4|V1.9A\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Toshiba"));
        assert_eq!(r.identity.model.as_deref(), Some("B-XX9"));
        assert_eq!(r.identity.serial.as_deref(), Some("2999A000001"));
        assert_eq!(r.identity.firmware.as_deref(), Some("V1.9A"));
    }

    #[test]
    fn toshiba_estudio_print_and_copy_counters_by_colour() {
        let rec = "1.3.6.1.2.1.1.1.0|4|TOSHIBA e-STUDIO9999AC\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1129.2.3.58.2\n\
            1.3.6.1.2.1.43.10.2.1.4.1.1|65|9000\n\
            1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1.3.1.1|2|1000\n1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1.3.1.3|2|2000\n\
            1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1.4.1.1|2|3000\n1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1.4.1.3|2|2500\n\
            1.3.6.1.4.1.1129.2.3.50.1.3.21.6.1.2.1.4|2|9000\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.model.as_deref(), Some("e-STUDIO9999AC"));
        assert_eq!(r.counters.get("total"), Some(&9000));
        assert_eq!(r.counters.get("print_color"), Some(&1000));
        assert_eq!(r.counters.get("print_mono"), Some(&2000));
        assert_eq!(r.counters.get("copy_color"), Some(&3000));
        assert_eq!(r.counters.get("copy_mono"), Some(&2500));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "toshiba_2_4" && c.value == 9000)
        );
        assert_eq!(r.device_kind, "mfp");
    }

    #[test]
    fn toshiba_sysdescr_version_is_the_firmware() {
        let rec = "1.3.6.1.2.1.1.1.0|4|TOSHIBA e-STUDIO999CS version NH00.XX.N000 kernel 3.0.0\n\
            1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1129.2.3.99.1\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.model.as_deref(), Some("e-STUDIO999CS"));
        assert_eq!(r.identity.firmware.as_deref(), Some("NH00.XX.N000"));
        assert_eq!(model_from_descr("TOSHIBA"), None);
    }
}
