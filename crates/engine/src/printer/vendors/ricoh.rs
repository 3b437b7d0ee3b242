//! Ricoh (enterprise 367) and the Ricoh-built badges Savin, Lanier, Gestetner
//! and NRG (all answer under `E.367`, `E` = `1.3.6.1.4.1`; the brand is the first
//! word of sysDescr, e.g. "LANIER MP C3501/LD635C 2.01 / LANIER Network Printer C
//! model / …", and becomes `identity.vendor`).
//!
//! Counters come from the engine counter table: type `E.367.3.2.1.2.19.5.1.2.<i>`
//! and value `….9.<i>`. Only glpi-agent (`MibSupport/Ricoh.pm`) documents the
//! types, so the rules below are **one source**; every row is also kept raw as
//! `ricoh_type_<type>` (rows of unknown type too). check_snmp_printer reads the
//! values by row index (`.9.21`, `.9.22`), which differs between models: not used.
//!
//! | key | rule |
//! |---|---|
//! | `total` | prtMarkerLifeCount.1.1. Type 10 is kept as `ricoh_type_10_total` and used as `total` only when the Printer-MIB has none. |
//! | `copy_total` / `copy_mono` | type 200 / 201 |
//! | `copy_color` | type 202 + type 203 (glpi-agent adds the two colour modes) |
//! | `fax` | type 300 |
//! | `print_total` / `print_mono` | type 400 / 401 |
//! | `print_color` | type 402 + type 403 |
//! | `scan_total` | type 870 + type 871 |
//!
//! Supplies: Ricoh answers −3 ("some remaining") in the Printer-MIB for toner
//! and keeps real percentages in its own table `E.367.3.2.1.2.24.1.1.{3 name,
//! 5 percent}.<n>` (−100 = empty; confirmed: LibreNMS PrinterSupplies.php,
//! librenms #4177). The Printer-MIB rows stay untouched (raw level/max, no
//! percent for sentinels); for every toner whose Printer-MIB row has no real
//! percentage, an **extra** supply is added with `index: None`,
//! `source: "ricoh"`, the Ricoh name (else the Printer-MIB description of the same
//! index), and the Ricoh percentage as `level`/`percent` (max 100).
//!
//! Identity: serial `E.367.3.2.1.2.1.4.0` (confirmed: glpi-agent Device.pm,
//! LibreNMS), used when the Printer-MIB has none; model `E.367.3.2.1.1.1.1.0` and
//! firmware `….2.0` (confirmed: LibreNMS ricoh/savin/gestetner/nrg). Without the
//! model OID: the standard model, else sysDescr's first part ("LANIER MP
//! C3501/LD635C 2.01 / …" → "MP C3501/LD635C"); a leading badge name is removed.
//! Without the firmware OID: the version at the end of that part ("2.01").

use super::{VendorModule, keep_counter, oids, put_counter, put_serial, starts_with_word};
use crate::printer::model::{Reading, Supply, SupplyState};
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const COUNTER_TYPE: &str = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2";
const COUNTER_VALUE: &str = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9";
const TONER_NAME: &str = "1.3.6.1.4.1.367.3.2.1.2.24.1.1.3";
const TONER_PERCENT: &str = "1.3.6.1.4.1.367.3.2.1.2.24.1.1.5";
const SERIAL: &str = "1.3.6.1.4.1.367.3.2.1.2.1.4.0";
const MODEL: &str = "1.3.6.1.4.1.367.3.2.1.1.1.1.0";
const FIRMWARE: &str = "1.3.6.1.4.1.367.3.2.1.1.1.2.0";

/// Brands that answer under enterprise 367, as their first sysDescr word.
const BRANDS: &[(&str, &str)] = &[
    ("ricoh", "Ricoh"),
    ("savin", "Savin"),
    ("lanier", "Lanier"),
    ("gestetner", "Gestetner"),
    ("nrg", "NRG"),
];

/// Counter types (glpi-agent): type, key suffix, normalised key.
const TYPES: &[(i64, &str, Option<&str>)] = &[
    (10, "total", None),
    (200, "copy_total", Some("copy_total")),
    (201, "copy_black", Some("copy_mono")),
    (202, "copy_color", Some("copy_color")),
    (203, "copy_color_2", Some("copy_color")),
    (300, "fax", Some("fax")),
    (400, "print_total", Some("print_total")),
    (401, "print_black", Some("print_mono")),
    (402, "print_color", Some("print_color")),
    (403, "print_color_2", Some("print_color")),
    (870, "scan", Some("scan_total")),
    (871, "scan_2", Some("scan_total")),
];

/// The Ricoh module.
pub static MODULE: VendorModule = VendorModule {
    name: "Ricoh",
    enterprises: &[367],
    words: &["ricoh", "savin", "lanier", "gestetner", "nrg"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[SERIAL, MODEL, FIRMWARE]),
        subtrees: oids(&[COUNTER_TYPE, COUNTER_VALUE, TONER_NAME, TONER_PERCENT]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    let descr = r.identity.description.clone().unwrap_or_default();
    let brand = brand_of(&descr);
    r.identity.vendor = Some(brand.to_string());
    identity(snap, r, &descr);
    counters(snap, r);
    toners(snap, r);
}

/// The badge named first in sysDescr, else "Ricoh".
pub(crate) fn brand_of(descr: &str) -> &'static str {
    let lower = descr.to_lowercase();
    BRANDS
        .iter()
        .find(|(w, _)| starts_with_word(&lower, w))
        .map(|(_, b)| *b)
        .unwrap_or("Ricoh")
}

fn identity(snap: &Snapshot, r: &mut Reading, descr: &str) {
    put_serial(r, snap.text(SERIAL), SERIAL, false);
    let (d_model, d_fw) = from_sysdescr(descr);
    if let Some(m) = snap
        .text(MODEL)
        .or_else(|| r.identity.model.take())
        .or(d_model)
    {
        r.identity.model = Some(m);
    }
    if let Some(fw) = snap.text(FIRMWARE).or(d_fw) {
        r.identity.firmware = Some(fw);
    }
}

/// "RICOH MP 3053 1.09 / RICOH Network Printer C model / …" → ("MP 3053", "1.09").
fn from_sysdescr(descr: &str) -> (Option<String>, Option<String>) {
    let first = descr.split(" / ").next().unwrap_or("").trim();
    let lower = first.to_lowercase();
    if !BRANDS.iter().any(|(w, _)| starts_with_word(&lower, w)) {
        return (None, None);
    }
    let words: Vec<&str> = first.split_whitespace().skip(1).collect();
    let (model_words, fw) = match words.split_last() {
        Some((last, rest)) if !rest.is_empty() && looks_like_version(last) => {
            (rest, Some(last.to_string()))
        }
        _ => (&words[..], None),
    };
    let model = model_words.join(" ");
    ((!model.is_empty()).then_some(model), fw)
}

fn looks_like_version(w: &str) -> bool {
    w.contains('.')
        && w.chars().all(|c| c.is_ascii_digit() || c == '.')
        && w.starts_with(|c: char| c.is_ascii_digit())
}

fn counters(snap: &Snapshot, r: &mut Reading) {
    let values = snap.column(COUNTER_VALUE);
    let mut sums: Vec<(&str, i64, Vec<String>)> = Vec::new();
    let mut total_10: Option<(i64, String)> = None;
    for (idx, t) in snap.column(COUNTER_TYPE) {
        let Some(ty) = t.as_i64() else { continue };
        let Some(value) = values
            .iter()
            .find(|(i, _)| *i == idx)
            .and_then(|(_, v)| v.as_i64())
        else {
            continue;
        };
        let oid = format!(
            "{COUNTER_VALUE}.{}",
            crate::printer::standard::idx_str(&idx)
        );
        let known = TYPES.iter().find(|(k, _, _)| *k == ty);
        let key = match known {
            Some((_, suffix, _)) => format!("ricoh_type_{ty}_{suffix}"),
            None => format!("ricoh_type_{ty}"),
        };
        keep_counter(
            r,
            &key,
            value,
            &oid,
            Some(&format!("Ricoh counter type {ty}")),
        );
        if ty == 10 && total_10.is_none() {
            total_10 = Some((value, oid.clone()));
        }
        if let Some((_, _, Some(norm))) = known {
            match sums.iter_mut().find(|(k, _, _)| k == norm) {
                Some(s) => {
                    s.1 += value;
                    s.2.push(oid);
                }
                None => sums.push((norm, value, vec![oid])),
            }
        }
    }
    for (key, value, oids) in sums {
        put_counter(r, key, value, &oids.join("+"), Some("Ricoh counter table"));
    }
    if !r.counters.contains_key("total")
        && let Some((v, oid)) = total_10
    {
        keep_counter(
            r,
            "ricoh_total_from_type_10",
            v,
            &oid,
            Some("total taken from Ricoh type 10 (no prtMarkerLifeCount)"),
        );
        r.counters.insert("total".into(), v);
    }
}

fn toners(snap: &Snapshot, r: &mut Reading) {
    // Ricoh and its badges report an empty consumable as -100 in the
    // Printer-MIB itself; the raw level stays, its meaning is "empty".
    for s in r
        .supplies
        .iter_mut()
        .filter(|s| s.source.is_none() && s.level == Some(-100))
    {
        s.state = SupplyState::Empty;
    }
    let names = snap.column(TONER_NAME);
    for (idx, v) in snap.column(TONER_PERCENT) {
        let (Some(raw), Some(&n)) = (v.as_i64(), idx.last()) else {
            continue;
        };
        let mib = r
            .supplies
            .iter()
            .find(|s| s.index == Some(n) && s.source.is_none());
        if mib.is_some_and(|s| s.percent.is_some()) {
            continue; // the Printer-MIB already gives a real percentage
        }
        let name = names
            .iter()
            .find(|(i, _)| *i == idx)
            .and_then(|(_, x)| x.as_clean_text());
        let description = name
            .or_else(|| mib.map(|s| s.description.clone()).filter(|d| !d.is_empty()))
            .unwrap_or_else(|| format!("toner {n}"));
        let color = mib.and_then(|s| s.color.clone());
        let (percent, state) = match raw {
            -100 => (Some(0.0), SupplyState::Empty),
            0 => (Some(0.0), SupplyState::Empty),
            p if (1..=100).contains(&p) => (Some(p as f64), SupplyState::Percent(p as f64)),
            -1 => (None, SupplyState::NotApplicable),
            -3 => (None, SupplyState::SomeRemaining),
            _ => (None, SupplyState::Unknown),
        };
        r.supplies.push(Supply {
            index: None,
            description,
            kind: Some("toner".into()),
            color,
            class: Some("supplyThatIsConsumed".into()),
            unit: Some("percent".into()),
            level: Some(raw),
            max: Some(100),
            percent,
            state,
            remaining_pages: None,
            source: Some("ricoh".into()),
        });
    }
}

#[cfg(test)]
mod tests {

    use crate::printer::testutil::read_recording;

    const MP_C: &str = "\
1.3.6.1.2.1.1.1.0|4|RICOH MP C2004 1.10 / RICOH Network Printer C model / RICOH Network Scanner C model
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1
1.3.6.1.2.1.43.10.2.1.4.1.1|65|88001
1.3.6.1.2.1.43.11.1.1.5.1.1|2|3
1.3.6.1.2.1.43.11.1.1.5.1.2|2|3
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner
1.3.6.1.2.1.43.11.1.1.8.1.1|2|-2
1.3.6.1.2.1.43.11.1.1.8.1.2|2|100
1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3
1.3.6.1.2.1.43.11.1.1.9.1.2|2|60
1.3.6.1.4.1.367.3.2.1.1.1.1.0|4|MP C2004
1.3.6.1.4.1.367.3.2.1.1.1.2.0|4|1.10
1.3.6.1.4.1.367.3.2.1.2.1.4.0|4|E123M456789
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.1|2|10
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.2|2|201
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.3|2|202
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.4|2|203
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.5|2|401
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.6|2|870
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.7|2|871
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.8|2|9999
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.1|65|88000
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.2|65|1000
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.3|65|300
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.4|65|20
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.5|65|50000
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.6|65|70
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.7|65|5
1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.8|65|12
1.3.6.1.4.1.367.3.2.1.2.24.1.1.3.1|4|Toner (Black)
1.3.6.1.4.1.367.3.2.1.2.24.1.1.3.2|4|Toner (Cyan)
1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.1|2|80
1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.2|2|60
";

    #[test]
    fn ricoh_counter_types_map_by_type_not_by_row() {
        let r = read_recording(MP_C);
        assert_eq!(r.counters["total"], 88001, "total stays prtMarkerLifeCount");
        assert_eq!(r.counters["copy_mono"], 1000);
        assert_eq!(r.counters["copy_color"], 320);
        assert_eq!(r.counters["print_mono"], 50000);
        assert_eq!(r.counters["scan_total"], 75);
        assert!(
            !r.counters.contains_key("fax"),
            "a missing counter is not a zero"
        );
        let keys: Vec<&str> = r.counter_sources.iter().map(|c| c.key.as_str()).collect();
        assert!(keys.contains(&"ricoh_type_10_total"));
        assert!(keys.contains(&"ricoh_type_9999"), "unknown types are kept");
    }

    #[test]
    fn ricoh_private_toner_percent_is_an_extra_supply_not_a_fake_mib_percent() {
        let r = read_recording(MP_C);
        let mib_black = r
            .supplies
            .iter()
            .find(|s| s.index == Some(1))
            .expect("mib row");
        assert_eq!(mib_black.level, Some(-3));
        assert_eq!(mib_black.percent, None);
        let vendor: Vec<_> = r
            .supplies
            .iter()
            .filter(|s| s.source.as_deref() == Some("ricoh"))
            .collect();
        assert_eq!(vendor.len(), 1, "cyan already has a real MIB percentage");
        assert_eq!(vendor[0].index, None);
        assert_eq!(vendor[0].description, "Toner (Black)");
        assert_eq!(vendor[0].percent, Some(80.0));
    }

    #[test]
    fn ricoh_identity_uses_its_own_oids() {
        let r = read_recording(MP_C);
        assert_eq!(r.identity.vendor.as_deref(), Some("Ricoh"));
        assert_eq!(r.identity.model.as_deref(), Some("MP C2004"));
        assert_eq!(r.identity.firmware.as_deref(), Some("1.10"));
        assert_eq!(r.identity.serial.as_deref(), Some("E123M456789"));
    }

    #[test]
    fn ricoh_badges_are_the_brand_on_the_device() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|LANIER MP C3501/LD635C 2.01 / LANIER Network Printer C model / LANIER Network Scanner C model
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1
",
        );
        assert_eq!(r.identity.vendor.as_deref(), Some("Lanier"));
        assert_eq!(r.identity.model.as_deref(), Some("MP C3501/LD635C"));
        assert_eq!(r.identity.firmware.as_deref(), Some("2.01"));
        let g = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|Gestetner MPC2500/DSc525 1.71 / Gestetner Network Printer C model
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1
1.3.6.1.4.1.367.3.2.1.1.1.1.0|4|Gestetner MPC2500/DSc525
",
        );
        assert_eq!(g.identity.vendor.as_deref(), Some("Gestetner"));
        assert_eq!(g.identity.model.as_deref(), Some("MPC2500/DSc525"));
        for (d, b) in [
            ("SAVIN MP C4503 1.18 / SAVIN Network Printer", "Savin"),
            ("NRG SP 4210N 1.05 / NRG Network Printer C model", "NRG"),
        ] {
            assert_eq!(super::brand_of(d), b);
        }
    }

    #[test]
    fn ricoh_empty_toner_is_minus_100_and_odd_values_are_not_percentages() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|RICOH SP 3600DN 1.00 / RICOH Network Printer C model
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1
1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.1|2|-100
1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.2|2|250
1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.3|4|garbage
1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.1|2|400
",
        );
        let v: Vec<_> = r.supplies.iter().filter(|s| s.source.is_some()).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].percent, Some(0.0));
        assert_eq!(v[0].level, Some(-100));
        assert_eq!(v[1].percent, None, "250 is not a percentage");
        assert!(
            !r.counters.contains_key("print_total"),
            "a type without a value is skipped"
        );
        assert_eq!(r.identity.model.as_deref(), Some("SP 3600DN"));
    }
}
