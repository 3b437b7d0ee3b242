//! Xerox (enterprise 253) and Fuji Xerox / Fujifilm Business Innovation
//! (enterprise 297), which share this module (`E` = `1.3.6.1.4.1`).
//!
//! Brand: sysDescr's first words ("FUJIFILM …" → Fujifilm, "FUJI XEROX …" → Fuji
//! Xerox, "Xerox …" → Xerox); without them, sysObjectID under `E.297.1.11.93.2.1`
//! is Fujifilm and anything else under 297 is Fuji Xerox (LibreNMS
//! `os_detection/{xerox,fujifilmprinter}.yaml`).
//!
//! Counters (XEROX-HOST-RESOURCES-EXT-MIB `xcmHrDevDetail`, the printer's rows
//! `E.253.8.53.13.2.1.6.1.20.<n>`; confirmed by glpi-agent `Xerox.pm` and
//! check_snmp_printer, and used as the device's "Total / Color / Black
//! Impressions" billing meters by many scripts):
//!
//! | key | rule |
//! |---|---|
//! | `total` | prtMarkerLifeCount.1.1. Xerox's own total impressions (`….20.1`) is kept as `xerox_total_impressions` and becomes `total` only when the Printer-MIB has none: the two differ on some models (Xerox C315: 4 below, glpi-agent #1155). |
//! | `color` | colour impressions `….20.33` |
//! | `mono` | black impressions `….20.34` |
//! | `copy_mono` / `copy_color` | `E.253.8.53.13.2.1.6.11.20.{3,25}` (one source: glpi-agent) |
//! | `copy_total` | copy_mono + copy_color, of those present (glpi-agent's rule) |
//! | `scan_total` | scans sent by e-mail + saved to the network, `E.253.8.53.13.2.1.6.10.20.{11,12}` (one source: glpi-agent); each kept raw too |
//!
//! glpi-agent files `….20.{1,33,34}` under PRINT*; the values are the engine's
//! impressions (copies included), hence `mono`/`color` here.
//!
//! Fuji Xerox / Fujifilm counters under `E.297.1.111.1.41.1.1.2.{1,2}` are
//! unverified (minor repositories only): kept raw, never normalised.
//!
//! Identity: serial from the Printer-MIB, else Xerox's `E.253.8.53.3.2.1.3.1`
//! (glpi-agent Device.pm). Model, when the standard MIBs gave none: the `MDL:`
//! of the device ID `E.253.8.51.1.2.1.20.1`, else Samsung-built Xerox models'
//! `E.236.11.5.1.1.1.1.0` (LibreNMS `xerox.yaml`), else sysDescr up to the first
//! `;` without the brand ("Xerox AltaLink C8045; SS …" → "AltaLink C8045",
//! "FUJIFILM Apeos C7580" → "Apeos C7580"). Firmware: Samsung-built
//! `E.236.11.5.1.1.1.2.0` only.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const TOTAL_IMPRESSIONS: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1";
const COLOR_IMPRESSIONS: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33";
const BLACK_IMPRESSIONS: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34";
const COPY_BLACK: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.3";
const COPY_COLOR: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.25";
const SCAN_EMAIL: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.11";
const SCAN_NETWORK: &str = "1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.12";
const SERIAL: &str = "1.3.6.1.4.1.253.8.53.3.2.1.3.1";
const DEVICE_ID: &str = "1.3.6.1.4.1.253.8.51.1.2.1.20.1";
const SAMSUNG_MODEL: &str = "1.3.6.1.4.1.236.11.5.1.1.1.1.0";
const SAMSUNG_VERSION: &str = "1.3.6.1.4.1.236.11.5.1.1.1.2.0";
const FX_COUNTERS: &[&str] = &[
    "1.3.6.1.4.1.297.1.111.1.41.1.1.2.1",
    "1.3.6.1.4.1.297.1.111.1.41.1.1.2.2",
];

/// The Xerox module.
pub static MODULE: VendorModule = VendorModule {
    name: "Xerox",
    enterprises: &[253, 297],
    words: &["xerox", "fuji xerox", "fujifilm"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    let mut scalars = vec![
        SERIAL,
        DEVICE_ID,
        SAMSUNG_MODEL,
        SAMSUNG_VERSION,
        TOTAL_IMPRESSIONS,
        COLOR_IMPRESSIONS,
        BLACK_IMPRESSIONS,
        COPY_BLACK,
        COPY_COLOR,
        SCAN_EMAIL,
        SCAN_NETWORK,
    ];
    scalars.extend(FX_COUNTERS);
    FetchPlan {
        scalars: oids(&scalars),
        subtrees: vec![],
        first_rows: vec![],
    }
}

/// Brands, longest first, as they start sysDescr.
const BRANDS: &[(&str, &str)] = &[
    ("fuji xerox", "Fuji Xerox"),
    ("fujifilm", "Fujifilm"),
    ("xerox", "Xerox"),
];

/// The brand on the device: sysDescr's first words, else the sysObjectID branch.
pub(crate) fn brand_of(descr: &str, sys_object_id: &str) -> &'static str {
    let d = descr.trim().to_lowercase();
    if let Some((_, b)) = BRANDS.iter().find(|(w, _)| super::starts_with_word(&d, w)) {
        return b;
    }
    if sys_object_id.starts_with("1.3.6.1.4.1.297.1.11.93.2.1") {
        "Fujifilm"
    } else if sys_object_id.starts_with("1.3.6.1.4.1.297.") {
        "Fuji Xerox"
    } else {
        "Xerox"
    }
}

/// sysDescr up to the first `;`, without the brand.
pub(crate) fn model_from_sysdescr(descr: &str) -> Option<String> {
    let first = descr.split(';').next().unwrap_or("").trim();
    let lower = first.to_lowercase();
    let (w, _) = BRANDS
        .iter()
        .find(|(w, _)| super::starts_with_word(&lower, w))?;
    let rest = first.get(w.len()..).unwrap_or("").trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// `MDL:` field of an IEEE 1284 device ID.
fn device_id_model(id: &str) -> Option<String> {
    id.split(';').find_map(|f| {
        let (k, v) = f.split_once(':')?;
        let k = k.trim();
        (k.eq_ignore_ascii_case("MDL") || k.eq_ignore_ascii_case("MODEL"))
            .then(|| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    let descr = r.identity.description.clone().unwrap_or_default();
    let brand = brand_of(&descr, r.identity.sys_object_id.as_deref().unwrap_or(""));
    r.identity.vendor = Some(brand.into());

    put_serial(r, snap.text(SERIAL), SERIAL, false);
    if r.identity.model.is_none() {
        r.identity.model = snap
            .text(DEVICE_ID)
            .as_deref()
            .and_then(device_id_model)
            .or_else(|| snap.text(SAMSUNG_MODEL))
            .or_else(|| model_from_sysdescr(&descr));
    }
    if let Some(m) = r.identity.model.take() {
        r.identity.model = Some(m);
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = snap.text(SAMSUNG_VERSION);
    }

    for (key, oid, d) in [
        ("color", COLOR_IMPRESSIONS, "Xerox colour impressions"),
        ("mono", BLACK_IMPRESSIONS, "Xerox black impressions"),
        ("copy_mono", COPY_BLACK, "Xerox black copies"),
        ("copy_color", COPY_COLOR, "Xerox colour copies"),
    ] {
        if let Some(v) = snap.int(oid) {
            put_counter(r, key, v, oid, Some(d));
        }
    }
    let copies: Vec<(i64, &str)> = [COPY_BLACK, COPY_COLOR]
        .iter()
        .filter_map(|o| snap.int(o).map(|v| (v, *o)))
        .collect();
    if !copies.is_empty() {
        let oid = copies.iter().map(|c| c.1).collect::<Vec<_>>().join("+");
        put_counter(
            r,
            "copy_total",
            copies.iter().map(|c| c.0).sum(),
            &oid,
            Some("Xerox black + colour copies"),
        );
    }
    let scans: Vec<(i64, &str)> = [SCAN_EMAIL, SCAN_NETWORK]
        .iter()
        .filter_map(|o| snap.int(o).map(|v| (v, *o)))
        .collect();
    if let Some(v) = snap.int(SCAN_EMAIL) {
        keep_counter(
            r,
            "xerox_scan_to_email",
            v,
            SCAN_EMAIL,
            Some("Xerox scans sent by e-mail"),
        );
    }
    if let Some(v) = snap.int(SCAN_NETWORK) {
        keep_counter(
            r,
            "xerox_scan_to_network",
            v,
            SCAN_NETWORK,
            Some("Xerox scans saved to the network"),
        );
    }
    if !scans.is_empty() {
        let oid = scans.iter().map(|c| c.1).collect::<Vec<_>>().join("+");
        put_counter(
            r,
            "scan_total",
            scans.iter().map(|c| c.0).sum(),
            &oid,
            Some("Xerox e-mail + network scans"),
        );
    }
    if let Some(v) = snap.int(TOTAL_IMPRESSIONS) {
        keep_counter(
            r,
            "xerox_total_impressions",
            v,
            TOTAL_IMPRESSIONS,
            Some("Xerox total impressions"),
        );
        if !r.counters.contains_key("total") {
            r.counters.insert("total".into(), v);
        }
    }
    for (i, oid) in FX_COUNTERS.iter().enumerate() {
        if let Some(v) = snap.int(oid) {
            keep_counter(
                r,
                &format!("fujixerox_counter_{}", i + 1),
                v,
                oid,
                Some("Fuji Xerox counter (meaning unverified)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const ALTALINK: &str = "\
1.3.6.1.2.1.1.1.0|4|Xerox AltaLink C8055; SS 100.002.057.00001, NC 100.002.00001
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.253.8.62.1.35.2.3.1.1
1.3.6.1.2.1.43.10.2.1.4.1.1|65|120004
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.9.1.1|2|900
1.3.6.1.4.1.253.8.53.3.2.1.3.1|4|XRX3456789
1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1|65|120000
1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33|65|40000
1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34|65|80000
1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.3|65|9000
1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.25|65|1000
1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.11|65|300
1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.12|65|20
";

    #[test]
    fn xerox_impressions_are_mono_and_colour_beside_the_life_count() {
        let r = read_recording(ALTALINK);
        assert_eq!(r.counters["total"], 120004);
        assert_eq!(r.counters["color"], 40000);
        assert_eq!(r.counters["mono"], 80000);
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "xerox_total_impressions" && c.value == 120000)
        );
    }

    #[test]
    fn xerox_copies_and_scans_are_summed_like_glpi_agent() {
        let r = read_recording(ALTALINK);
        assert_eq!(r.counters["copy_mono"], 9000);
        assert_eq!(r.counters["copy_color"], 1000);
        assert_eq!(r.counters["copy_total"], 10000);
        assert_eq!(r.counters["scan_total"], 320);
    }

    #[test]
    fn xerox_model_comes_from_sysdescr_before_the_semicolon() {
        let r = read_recording(ALTALINK);
        assert_eq!(r.identity.vendor.as_deref(), Some("Xerox"));
        assert_eq!(r.identity.model.as_deref(), Some("AltaLink C8055"));
        assert_eq!(r.identity.serial.as_deref(), Some("XRX3456789"));
    }

    #[test]
    fn xerox_device_id_model_wins_over_sysdescr() {
        let r = read_recording(&format!(
            "{ALTALINK}1.3.6.1.4.1.253.8.51.1.2.1.20.1|4|MFG:Xerox; CMD:PCL, PJL; MDL:AltaLink C8055 MFP; CLS:Printer\n"
        ));
        assert_eq!(r.identity.model.as_deref(), Some("AltaLink C8055 MFP"));
    }

    #[test]
    fn fujifilm_and_fuji_xerox_are_told_apart() {
        let f = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|FUJIFILM Apeos C3060
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.297.1.11.93.2.1.2.3.9
1.3.6.1.2.1.43.5.1.1.17.1|4|TC100000000001
1.3.6.1.4.1.297.1.111.1.41.1.1.2.1|65|777
",
        );
        assert_eq!(f.identity.vendor.as_deref(), Some("Fujifilm"));
        assert_eq!(f.identity.model.as_deref(), Some("Apeos C3060"));
        assert_eq!(f.identity.serial.as_deref(), Some("TC100000000001"));
        assert!(
            f.counter_sources
                .iter()
                .any(|c| c.key == "fujixerox_counter_1")
        );
        assert!(
            !f.counters.contains_key("mono"),
            "unverified counters are not normalised"
        );
        let x = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|FUJI XEROX DocuPrint CM315 z; Net 16.41,ESS 201210101131
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.297.1.11.93.1.32.4.1.1
",
        );
        assert_eq!(x.identity.vendor.as_deref(), Some("Fuji Xerox"));
        assert_eq!(x.identity.model.as_deref(), Some("DocuPrint CM315 z"));
        assert_eq!(
            super::brand_of("", "1.3.6.1.4.1.297.1.11.93.2.1.2"),
            "Fujifilm"
        );
        assert_eq!(
            super::brand_of("", "1.3.6.1.4.1.297.1.11.93.1.35"),
            "Fuji Xerox"
        );
    }

    #[test]
    fn xerox_tolerates_a_device_id_without_a_model() {
        assert_eq!(super::device_id_model("MFG:Xerox;CMD:PCL;"), None);
        assert_eq!(super::device_id_model(";;:;MDL:"), None);
        assert_eq!(super::model_from_sysdescr("Xerox"), None);
        assert_eq!(
            super::model_from_sysdescr("Xerox Phaser 4600; System 35.004"),
            Some("Phaser 4600".into())
        );
    }
}
