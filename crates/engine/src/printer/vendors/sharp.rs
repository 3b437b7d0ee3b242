//! Sharp (enterprise 2385; `E` = `1.3.6.1.4.1`).
//!
//! Counters: one table, value `E.2385.1.1.19.2.1.3.<function>.<group>.<kind>` and
//! name `E.2385.1.1.19.2.1.4.<same index>` (LibreNMS walks it whole and asserts
//! each row by its name; no open-source agent documents the indices, so the
//! names in the recordings are the evidence). Function: 1 print, 4 copy, 5
//! total, 6 document feeder, 7 scanner, 8 document filing. Kind: 60 all, 61
//! black & white, 63 full colour, 64 two colour, 80 single colour, 75 duplex, 70
//! feeder originals, 50 scan to e-mail/FTP (under 7) or to HDD (under 8), 51/53/54
//! black & white / full colour / two colour scans. Group 4 is the count, group 5
//! "other".
//!
//! | key | OID suffix (`….3.` + f.g.k) | name on the device |
//! |---|---|---|
//! | `print_total` / `print_mono` / `print_color` | 1.4.60 / 1.4.61 / 1.4.63 | Prints / Black & White Print Count / Full Color Print Count |
//! | `duplex` | 1.4.75 | Duplex |
//! | `copy_total` / `copy_mono` / `copy_color` | 4.4.60 / 4.4.61 / 4.4.63 | Copies / Black & White Copy Count / Full Color Copy Count |
//! | `mono` / `color` | 5.4.61 / 5.4.63 | Black & White Total Count / Full Color Total Count |
//! | `two_color` / `single_color` | 5.4.64 / 5.4.80 | Two Color Total Count / Single Color Total Count |
//! | `document_feeder` | 6.4.70 | Document Feeder |
//! | `scan_to_email_ftp` / `scan_mono` / `scan_color` | 7.4.50 / 7.4.51 / 7.4.53 | Scan to E-mail/FTP / Black & White Scanner Count / Full Color Scanner Count |
//! | `scan_to_hdd` | 8.4.50 | Scan to HDD |
//!
//! A row whose index is not in the table but whose name is one of those names
//! fills the key when nothing else did. Every row is kept raw as
//! `sharp_<f>_<g>_<k>` with its name. `total` stays prtMarkerLifeCount.1.1.
//!
//! Identity (LibreNMS `sharp.yaml`, one source): model
//! `E.2385.2.1.3.2.1.4.13501.1302.1` (often empty: then the standard model, then
//! sysDescr without "SHARP"), firmware `E.2385.2.1.1.2.1.2.1`, serial
//! prtGeneralSerialNumber.

use super::{VendorModule, keep_counter, oids, put_counter};
use crate::printer::model::Reading;
use crate::printer::standard::idx_str;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const VALUES: &str = "1.3.6.1.4.1.2385.1.1.19.2.1.3";
const NAMES: &str = "1.3.6.1.4.1.2385.1.1.19.2.1.4";
const MODEL: &str = "1.3.6.1.4.1.2385.2.1.3.2.1.4.13501.1302.1";
const FIRMWARE: &str = "1.3.6.1.4.1.2385.2.1.1.2.1.2.1";

/// (function, group, kind) → key, and the device's name for it.
const MAP: &[([u32; 3], &str, &str)] = &[
    ([1, 4, 60], "print_total", "prints"),
    ([1, 4, 61], "print_mono", "black & white print count"),
    ([1, 4, 63], "print_color", "full color print count"),
    ([1, 4, 75], "duplex", "duplex"),
    ([4, 4, 60], "copy_total", "copies"),
    ([4, 4, 61], "copy_mono", "black & white copy count"),
    ([4, 4, 63], "copy_color", "full color copy count"),
    ([5, 4, 61], "mono", "black & white total count"),
    ([5, 4, 63], "color", "full color total count"),
    ([5, 4, 64], "two_color", "two color total count"),
    ([5, 4, 80], "single_color", "single color total count"),
    ([6, 4, 70], "document_feeder", "document feeder"),
    ([7, 4, 50], "scan_to_email_ftp", "scan to e-mail/ftp"),
    ([7, 4, 51], "scan_mono", "black & white scanner count"),
    ([7, 4, 53], "scan_color", "full color scanner count"),
    ([8, 4, 50], "scan_to_hdd", "scan to hdd"),
];

/// The Sharp module.
pub static MODULE: VendorModule = VendorModule {
    name: "Sharp",
    enterprises: &[2385],
    words: &["sharp"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[MODEL, FIRMWARE]),
        subtrees: oids(&[VALUES, NAMES]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Sharp".into());
    // Without the model OID, the reader takes the words after the maker's
    // name in sysDescr (read::model_from_sysdescr).
    if let Some(m) = snap.text(MODEL) {
        r.identity.model = Some(m);
    }
    if let Some(fw) = snap.text(FIRMWARE) {
        r.identity.firmware = Some(fw);
    }

    let names = snap.column(NAMES);
    let mut by_name: Vec<(&'static str, i64, String, String)> = Vec::new();
    for (idx, v) in snap.column(VALUES) {
        let Some(value) = v.as_i64() else { continue };
        let i = idx_str(&idx);
        let oid = format!("{VALUES}.{i}");
        let name = names
            .iter()
            .find(|(n, _)| *n == idx)
            .and_then(|(_, n)| n.as_clean_text());
        let label = name.clone().unwrap_or_else(|| format!("Sharp counter {i}"));
        keep_counter(
            r,
            &format!("sharp_{}", i.replace('.', "_")),
            value,
            &oid,
            Some(&label),
        );
        if let Some((_, key, _)) = MAP.iter().find(|(k, _, _)| idx.as_slice() == k.as_slice()) {
            put_counter(r, key, value, &oid, Some(&label));
        } else if let Some(n) = name {
            let n = n
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if let Some((_, key, _)) = MAP.iter().find(|(_, _, known)| *known == n) {
                by_name.push((key, value, oid, label));
            }
        }
    }
    for (key, value, oid, label) in by_name {
        if !r.counters.contains_key(key) {
            put_counter(r, key, value, &oid, Some(&label));
        }
    }
}

/// "SHARP MX-2614N" → "MX-2614N".
#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const MX: &str = "\
1.3.6.1.2.1.1.1.0|4|SHARP MX-4071
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2385.3.1.112.1.2
1.3.6.1.2.1.43.5.1.1.17.1|4|1234567Y00
1.3.6.1.2.1.43.10.2.1.4.1.1|65|5000
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.60|65|3000
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.61|65|2000
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.63|65|1000
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.75|65|700
1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.60|65|1900
1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.61|65|1800
1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.63|65|100
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.61|65|3800
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.63|65|1100
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.64|65|0
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.80|65|0
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.5.61|65|9
1.3.6.1.4.1.2385.1.1.19.2.1.3.6.4.70|65|444
1.3.6.1.4.1.2385.1.1.19.2.1.3.7.4.50|65|55
1.3.6.1.4.1.2385.1.1.19.2.1.3.7.4.51|65|66
1.3.6.1.4.1.2385.1.1.19.2.1.3.7.4.53|65|77
1.3.6.1.4.1.2385.1.1.19.2.1.3.8.4.50|65|3
1.3.6.1.4.1.2385.1.1.19.2.1.3.8.4.51|65|3
1.3.6.1.4.1.2385.1.1.19.2.1.4.1.4.60|4|Prints
1.3.6.1.4.1.2385.1.1.19.2.1.4.5.5.61|4|Black & White Other Count
1.3.6.1.4.1.2385.1.1.19.2.1.4.8.4.51|4|Black & White Scan to HDD Count
1.3.6.1.4.1.2385.2.1.1.2.1.2.1|4|2.10
1.3.6.1.4.1.2385.2.1.3.2.1.4.13501.1302.1|4|
";

    #[test]
    fn sharp_counters_map_by_function_group_and_kind() {
        let r = read_recording(MX);
        let want = [
            ("total", 5000),
            ("print_total", 3000),
            ("print_mono", 2000),
            ("print_color", 1000),
            ("duplex", 700),
            ("copy_total", 1900),
            ("copy_mono", 1800),
            ("copy_color", 100),
            ("mono", 3800),
            ("color", 1100),
            ("two_color", 0),
            ("single_color", 0),
            ("document_feeder", 444),
            ("scan_to_email_ftp", 55),
            ("scan_mono", 66),
            ("scan_color", 77),
            ("scan_to_hdd", 3),
        ];
        for (k, v) in want {
            assert_eq!(r.counters.get(k).copied(), Some(v), "{k}");
        }
    }

    #[test]
    fn sharp_other_counts_are_kept_with_their_names() {
        let r = read_recording(MX);
        let other = r
            .counter_sources
            .iter()
            .find(|c| c.key == "sharp_5_5_61")
            .expect("kept");
        assert_eq!(other.value, 9);
        assert_eq!(
            other.description.as_deref(),
            Some("Black & White Other Count")
        );
        assert!(r.counter_sources.iter().any(|c| c.key == "sharp_8_4_51"));
    }

    #[test]
    fn sharp_identity_falls_back_to_sysdescr_when_the_model_oid_is_empty() {
        let r = read_recording(MX);
        assert_eq!(r.identity.vendor.as_deref(), Some("Sharp"));
        assert_eq!(r.identity.model.as_deref(), Some("MX-4071"));
        assert_eq!(r.identity.firmware.as_deref(), Some("2.10"));
        assert_eq!(r.identity.serial.as_deref(), Some("1234567Y00"));
    }

    #[test]
    fn sharp_unknown_index_with_a_known_name_still_maps() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|SHARP MX-C301W
1.3.6.1.4.1.2385.1.1.19.2.1.3.5.9.61|65|42
1.3.6.1.4.1.2385.1.1.19.2.1.4.5.9.61|4|Black & White Total Count
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4|65|1
1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.61|4|x
",
        );
        assert_eq!(r.counters.get("mono").copied(), Some(42));
        assert!(
            !r.counters.contains_key("print_mono"),
            "text is not a count"
        );
        assert_eq!(r.identity.model.as_deref(), Some("MX-C301W"));
    }
}
