//! Canon (enterprise 1602): imageRUNNER / iR-ADV, i-SENSYS / LBP / MF, imagePROGRAF.
//!
//! Canon keeps its billing meters in one table indexed by the **Canon counter
//! number** (`E.1602.1.11.1.3.1.4.<n>`, `E` = `1.3.6.1.4.1`), and LBP models add a
//! name + value table (`E.1602.1.11.2.1.1.{2 name, 3 value}.<i>`). The table is
//! confirmed by several sources but what the numbers *mean* is not
//! (PROTOCOLS.md §1.6): 101 is "Total 1" for check_snmp_printer, Print Tracker
//! and Canon's own PRISMAsync documentation but COPYTOTAL for glpi-agent; colour
//! large/small is 122/123 for glpi-agent and Canon's documentation but 222/223
//! for check_snmp_printer. So **every** entry is kept (`keep_counter`, key
//! `canon_<n>_<meaning>`, e.g. `canon_113_black_small`) and only these are
//! normalised:
//!
//! | key | rule | trust |
//! |---|---|---|
//! | `total` | prtMarkerLifeCount.1.1 (standard). Only when the device has none: counter 101 "Total 1" (or the LBP name `Total 1`), recorded as `canon_total_from_101`. | 101 = total: 3 sources vs 1 |
//! | `mono` | LBP name `Total (Black 1)`; else 112 + 113 (black large + black small, both present) | 112/113: all sources agree; the sum is what check_snmp_printer reports as mono |
//! | `color` | LBP name `Total (Full Color 1)` / `Total (Full Color + Single Color 1)`; else 122 + 123 (both present) | glpi-agent #574 + Canon documentation; 222/223 kept raw only |
//! | `print_total` | LBP name `Print (Total 1)`; else counter 301 | glpi-agent (no source disagrees) |
//! | `copy_total` | LBP name `Copy (Total 1)` only (the number is disputed: glpi-agent reads 101 as copies) | device's own name |
//! | `scan_total` | LBP name `Scan (Total 1)`; else counter 501 | glpi-agent (no source disagrees) |
//!
//! Counter 108 (mono for check_snmp_printer) and 105 (colour for it) are one
//! source each and stay raw. Names from the LBP table win over numbers because
//! they are the device's own words.
//!
//! Identity: serial `E.1602.1.2.1.8.1.3.1.1` (glpi-agent Canon.pm, the label
//! serial, preferred), fallback `E.1602.1.2.1.4.0` (glpi-agent Device.pm, only when
//! nothing else answered); model `E.1602.1.1.1.1.0` and firmware `E.1602.1.1.1.4.0`
//! (confirmed: glpi-agent, LibreNMS `canonprinter.yaml`). Without the model
//! OID, the model is sysDescr minus "Canon" and the trailing " /P".

use std::collections::BTreeMap;

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::printer::standard::idx_str;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const COUNTER_TABLE: &str = "1.3.6.1.4.1.1602.1.11.1.3.1.4";
const LBP_NAMES: &str = "1.3.6.1.4.1.1602.1.11.2.1.1.2";
const LBP_VALUES: &str = "1.3.6.1.4.1.1602.1.11.2.1.1.3";
const SERIAL: &str = "1.3.6.1.4.1.1602.1.2.1.8.1.3.1.1";
const SERIAL_FALLBACK: &str = "1.3.6.1.4.1.1602.1.2.1.4.0";
const MODEL: &str = "1.3.6.1.4.1.1602.1.1.1.1.0";
const FIRMWARE: &str = "1.3.6.1.4.1.1602.1.1.1.4.0";

/// The Canon module.
pub static MODULE: VendorModule = VendorModule {
    name: "Canon",
    enterprises: &[1602],
    words: &["canon"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[MODEL, FIRMWARE, SERIAL_FALLBACK, SERIAL]),
        subtrees: oids(&[COUNTER_TABLE, LBP_NAMES, LBP_VALUES]),
        first_rows: vec![],
    }
}

/// What a Canon meter measures, as far as the sources agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Meter {
    Total1,
    Black1,
    Color1,
    BlackLarge,
    BlackSmall,
    ColorLarge,
    ColorSmall,
    Print1,
    Copy1,
    Scan1,
}

/// Canon counter numbers: (number, key suffix, meter it normalises to).
/// Suffixes follow Canon's own counter names; `None` = kept raw only.
const NUMBERS: &[(u32, &str, Option<Meter>)] = &[
    (101, "total_1", Some(Meter::Total1)),
    (102, "total_2", None),
    (103, "total_large", None),
    (104, "total_small", None),
    (105, "color_per_check_snmp_printer", None),
    (108, "black_per_check_snmp_printer", None),
    (112, "black_large", Some(Meter::BlackLarge)),
    (113, "black_small", Some(Meter::BlackSmall)),
    (122, "color_large", Some(Meter::ColorLarge)),
    (123, "color_small", Some(Meter::ColorSmall)),
    (222, "color_large_per_check_snmp_printer", None),
    (223, "color_small_per_check_snmp_printer", None),
    (301, "print_total_1", Some(Meter::Print1)),
    (501, "scan_total_1", Some(Meter::Scan1)),
    (503, "scan_large", None),
    (504, "scan_small", None),
    (507, "black_scan_large", None),
    (508, "black_scan_small", None),
];

/// LBP counter names (lower case, spaces squeezed) that name a meter.
const NAMES: &[(&str, Meter)] = &[
    ("total 1", Meter::Total1),
    ("total (black 1)", Meter::Black1),
    ("total (full color 1)", Meter::Color1),
    ("total (full color + single color 1)", Meter::Color1),
    ("total (black/large)", Meter::BlackLarge),
    ("total (black/small)", Meter::BlackSmall),
    ("total (full color/large)", Meter::ColorLarge),
    ("total (full color/small)", Meter::ColorSmall),
    ("print (total 1)", Meter::Print1),
    ("copy (total 1)", Meter::Copy1),
    ("scan (total 1)", Meter::Scan1),
];

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Canon".into());
    identity(snap, r);

    // (value, oid, description) per meter; names overwrite numbers.
    let mut meters: BTreeMap<Meter, (i64, String, String)> = BTreeMap::new();
    for (idx, v) in snap.column(COUNTER_TABLE) {
        let (Some(&n), Some(value)) = (idx.first(), v.as_i64()) else {
            continue;
        };
        if idx.len() != 1 {
            continue;
        }
        let oid = format!("{COUNTER_TABLE}.{n}");
        let known = NUMBERS.iter().find(|(k, _, _)| *k == n);
        let key = match known {
            Some((_, suffix, _)) => format!("canon_{n}_{suffix}"),
            None => format!("canon_{n}"),
        };
        let descr = format!("Canon counter {n}");
        keep_counter(r, &key, value, &oid, Some(&descr));
        if let Some((_, _, Some(m))) = known {
            meters.entry(*m).or_insert((value, oid, descr));
        }
    }
    let names = snap.column(LBP_NAMES);
    for (idx, v) in snap.column(LBP_VALUES) {
        let Some(value) = v.as_i64() else { continue };
        let name = names
            .iter()
            .find(|(i, _)| *i == idx)
            .and_then(|(_, n)| n.as_clean_text());
        let i = idx_str(&idx);
        let oid = format!("{LBP_VALUES}.{i}");
        let key = match name.as_deref().map(slug).filter(|s| !s.is_empty()) {
            Some(s) => format!("canon_lbp_{s}"),
            None => format!("canon_lbp_{}", i.replace('.', "_")),
        };
        let label = name
            .clone()
            .unwrap_or_else(|| format!("Canon LBP counter {i}"));
        keep_counter(r, &key, value, &oid, Some(&label));
        if let Some(m) = name.as_deref().and_then(meter_of_name) {
            meters.insert(m, (value, oid, label));
        }
    }

    let get = |m: Meter| meters.get(&m).cloned();
    if let Some((v, oid, d)) = get(Meter::Black1) {
        put_counter(r, "mono", v, &oid, Some(&d));
    } else if let (Some(l), Some(s)) = (get(Meter::BlackLarge), get(Meter::BlackSmall)) {
        put_counter(
            r,
            "mono",
            l.0 + s.0,
            &format!("{}+{}", l.1, s.1),
            Some("black large + black small"),
        );
    }
    if let Some((v, oid, d)) = get(Meter::Color1) {
        put_counter(r, "color", v, &oid, Some(&d));
    } else if let (Some(l), Some(s)) = (get(Meter::ColorLarge), get(Meter::ColorSmall)) {
        put_counter(
            r,
            "color",
            l.0 + s.0,
            &format!("{}+{}", l.1, s.1),
            Some("colour large + colour small"),
        );
    }
    for (m, key) in [
        (Meter::Print1, "print_total"),
        (Meter::Copy1, "copy_total"),
        (Meter::Scan1, "scan_total"),
    ] {
        if let Some((v, oid, d)) = get(m) {
            put_counter(r, key, v, &oid, Some(&d));
        }
    }
    if !r.counters.contains_key("total")
        && let Some((v, oid, _)) = get(Meter::Total1)
    {
        keep_counter(
            r,
            "canon_total_from_101",
            v,
            &oid,
            Some("total taken from Canon 'Total 1' (no prtMarkerLifeCount)"),
        );
        r.counters.insert("total".into(), v);
    }
}

fn identity(snap: &Snapshot, r: &mut Reading) {
    put_serial(r, snap.text(SERIAL), SERIAL, true);
    put_serial(r, snap.text(SERIAL_FALLBACK), SERIAL_FALLBACK, false);
    if let Some(fw) = snap.text(FIRMWARE) {
        r.identity.firmware = Some(fw);
    }
    // Without the model OID, the reader takes the words after the maker's
    // name in sysDescr (read::model_from_sysdescr).
    if let Some(m) = snap.text(MODEL) {
        r.identity.model = Some(m);
    }
}

/// "Canon iR-ADV C5235 /P" → "iR-ADV C5235".
fn meter_of_name(name: &str) -> Option<Meter> {
    let n = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    NAMES.iter().find(|(k, _)| *k == n).map(|(_, m)| *m)
}

/// Lower-case letters and digits, other runs as one `_`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const IR_ADV: &str = "\
1.3.6.1.2.1.1.1.0|4|Canon iR-ADV C3525 /P
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1602.4.7
1.3.6.1.2.1.43.10.2.1.4.1.1|65|50210
1.3.6.1.4.1.1602.1.1.1.1.0|4|iR-ADV C3525
1.3.6.1.4.1.1602.1.1.1.4.0|4|34.02
1.3.6.1.4.1.1602.1.2.1.8.1.3.1.1|4|XKQ01234
1.3.6.1.4.1.1602.1.11.1.3.1.4.101|65|50200
1.3.6.1.4.1.1602.1.11.1.3.1.4.112|65|1000
1.3.6.1.4.1.1602.1.11.1.3.1.4.113|65|30000
1.3.6.1.4.1.1602.1.11.1.3.1.4.122|65|200
1.3.6.1.4.1.1602.1.11.1.3.1.4.123|65|19000
1.3.6.1.4.1.1602.1.11.1.3.1.4.222|65|77
1.3.6.1.4.1.1602.1.11.1.3.1.4.301|65|41000
1.3.6.1.4.1.1602.1.11.1.3.1.4.501|65|900
1.3.6.1.4.1.1602.1.11.1.3.1.4.999|65|5
";

    #[test]
    fn canon_keeps_every_meter_with_its_canon_number() {
        let r = read_recording(IR_ADV);
        let kept: Vec<&str> = r.counter_sources.iter().map(|c| c.key.as_str()).collect();
        for k in [
            "canon_101_total_1",
            "canon_113_black_small",
            "canon_222_color_large_per_check_snmp_printer",
            "canon_999",
        ] {
            assert!(kept.contains(&k), "{k} missing from {kept:?}");
        }
        let c = r
            .counter_sources
            .iter()
            .find(|c| c.key == "canon_999")
            .map(|c| c.oid.clone());
        assert_eq!(c.as_deref(), Some("1.3.6.1.4.1.1602.1.11.1.3.1.4.999"));
    }

    #[test]
    fn canon_total_stays_the_printer_mib_life_count() {
        let r = read_recording(IR_ADV);
        assert_eq!(r.counters["total"], 50210);
    }

    #[test]
    fn canon_mono_and_colour_are_large_plus_small() {
        let r = read_recording(IR_ADV);
        assert_eq!(r.counters["mono"], 31000);
        assert_eq!(r.counters["color"], 19200);
        assert_eq!(r.counters["print_total"], 41000);
        assert_eq!(r.counters["scan_total"], 900);
        assert!(
            !r.counters.contains_key("copy_total"),
            "101 is disputed: never read as copies"
        );
    }

    #[test]
    fn canon_identity_comes_from_its_product_info() {
        let r = read_recording(IR_ADV);
        assert_eq!(r.identity.vendor.as_deref(), Some("Canon"));
        assert_eq!(r.identity.model.as_deref(), Some("iR-ADV C3525"));
        assert_eq!(r.identity.firmware.as_deref(), Some("34.02"));
        assert_eq!(r.identity.serial.as_deref(), Some("XKQ01234"));
        assert!(r.is_printer);
    }

    #[test]
    fn canon_lbp_names_win_over_numbers() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|Canon LBP712C /P
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1602.4.9
1.3.6.1.4.1.1602.1.2.1.4.0|4|QWE98765
1.3.6.1.4.1.1602.1.11.1.3.1.4.301|65|10
1.3.6.1.4.1.1602.1.11.2.1.1.2.1|4|Total 1
1.3.6.1.4.1.1602.1.11.2.1.1.2.2|4|Total (Black 1)
1.3.6.1.4.1.1602.1.11.2.1.1.2.3|4|Print (Total 1)
1.3.6.1.4.1.1602.1.11.2.1.1.2.4|4|Copy (Total 1)
1.3.6.1.4.1.1602.1.11.2.1.1.3.1|65|5400
1.3.6.1.4.1.1602.1.11.2.1.1.3.2|65|3100
1.3.6.1.4.1.1602.1.11.2.1.1.3.3|65|5000
1.3.6.1.4.1.1602.1.11.2.1.1.3.4|65|400
",
        );
        assert_eq!(r.counters["print_total"], 5000);
        assert_eq!(r.counters["mono"], 3100);
        assert_eq!(r.counters["copy_total"], 400);
        assert_eq!(
            r.counters["total"], 5400,
            "without prtMarkerLifeCount, Total 1 is the total"
        );
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "canon_lbp_total_black_1")
        );
        assert_eq!(r.identity.serial.as_deref(), Some("QWE98765"));
        assert_eq!(r.identity.model.as_deref(), Some("LBP712C"));
    }

    #[test]
    fn canon_ignores_garbage_in_its_tables() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|Canon MF
1.3.6.1.4.1.1602.1.11.1.3.1.4.112|4|not a number
1.3.6.1.4.1.1602.1.11.1.3.1.4.113|65|12
1.3.6.1.4.1.1602.1.11.1.3.1.4.101.7|65|3
1.3.6.1.4.1.1602.1.11.2.1.1.3.9|65|8
",
        );
        assert!(
            !r.counters.contains_key("mono"),
            "half a pair is not a total"
        );
        assert!(!r.counters.contains_key("total"));
        assert!(r.counter_sources.iter().any(|c| c.key == "canon_lbp_9"));
        assert_eq!(r.identity.model.as_deref(), Some("MF"));
    }
}
