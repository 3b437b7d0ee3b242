//! Pantum (enterprise 40093; printers under `…40093.1.1`).
//!
//! Identity (one source: glpi-agent `MibSupport/Pantum.pm`): model =
//! prtGeneralPrinterName (what the generic reader already takes when
//! hrDeviceDescr is silent); serial = `…40093.1.1.1.5`, else `…40093.6.1.2`,
//! else `…40093.10.1.1.4`; firmware = `…40093.1.1.1.1`. Pantum agents are
//! inconsistent about the `.0` instance, so each is read both as the exact
//! object and as its first instance.
//!
//! Counters: `total` stays prtMarkerLifeCount. glpi-agent walks
//! `…40093.1.1.3` and reads child 1 as duplex, 9 as copy total and 12 as
//! print total (PROTOCOLS.md §1.6, one source), but another public Pantum
//! client documents the same children as a colour flag (1), the printer state
//! (9) and status words. Because the sources contradict each other, every
//! integer directly under `…40093.1.1.3` is kept raw as `pantum_1_1_3_<n>`
//! (with glpi-agent's reading in its description) and none is normalised.

use super::{VendorModule, keep_counter, oids, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const FIRMWARE: &str = "1.3.6.1.4.1.40093.1.1.1.1";
const SERIALS: &[&str] = &[
    "1.3.6.1.4.1.40093.1.1.1.5",
    "1.3.6.1.4.1.40093.6.1.2",
    "1.3.6.1.4.1.40093.10.1.1.4",
];
const COUNTERS: &str = "1.3.6.1.4.1.40093.1.1.3";

/// The Pantum module.
pub static MODULE: VendorModule = VendorModule {
    name: "Pantum",
    enterprises: &[40093],
    words: &["pantum"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    let mut exact: Vec<&str> = SERIALS.to_vec();
    exact.push(FIRMWARE);
    let mut scalars = oids(&exact);
    scalars.extend(exact.iter().filter_map(|o| format!("{o}.0").parse().ok()));
    FetchPlan {
        scalars,
        subtrees: oids(&[COUNTERS]),
        first_rows: vec![],
    }
}

/// The value at `oid` or at `oid.0`.
fn text_or_instance(snap: &Snapshot, oid: &str) -> Option<(String, String)> {
    snap.text(oid).map(|t| (t, oid.to_string())).or_else(|| {
        snap.text(&format!("{oid}.0"))
            .map(|t| (t, format!("{oid}.0")))
    })
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Pantum".into());
    for oid in SERIALS {
        if let Some((s, src)) = text_or_instance(snap, oid) {
            put_serial(r, Some(s), &src, false);
        }
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = text_or_instance(snap, FIRMWARE).map(|(t, _)| t);
    }
    for (idx, v) in snap.column(COUNTERS) {
        let child = match idx.as_slice() {
            [n] | [n, 0] => *n,
            _ => continue,
        };
        let Some(n) = v.as_i64() else { continue };
        let glpi = match child {
            1 => " (glpi-agent: duplex)",
            9 => " (glpi-agent: copy total)",
            12 => " (glpi-agent: print total)",
            _ => "",
        };
        let oid = format!(
            "{COUNTERS}.{}",
            idx.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
        );
        keep_counter(
            r,
            &format!("pantum_1_1_3_{child}"),
            n,
            &oid,
            Some(&format!("Pantum private value{glpi}; meaning disputed")),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const SYS: &str =
        "1.3.6.1.2.1.1.1.0|4|Pantum P9999DW\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.40093.1.1.9\n";

    #[test]
    fn pantum_serial_and_firmware_are_read_with_or_without_instance() {
        let rec = format!(
            "{SYS}1.3.6.1.4.1.40093.1.1.1.5.0|4|CA9Z000001\n1.3.6.1.4.1.40093.1.1.1.1|4|V1.2.3\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Pantum"));
        assert_eq!(r.identity.serial.as_deref(), Some("CA9Z000001"));
        assert_eq!(r.identity.firmware.as_deref(), Some("V1.2.3"));
    }

    #[test]
    fn pantum_private_counters_are_kept_raw_and_total_stays_standard() {
        let rec = format!(
            "{SYS}1.3.6.1.2.1.43.10.2.1.4.1.1|65|4321\n\
             1.3.6.1.4.1.40093.1.1.3.1|2|0\n1.3.6.1.4.1.40093.1.1.3.12|2|4300\n\
             1.3.6.1.4.1.40093.1.1.3.15.2|2|0\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.counters.get("total"), Some(&4321));
        assert_eq!(r.counters.len(), 1);
        let kept: Vec<&str> = r
            .counter_sources
            .iter()
            .map(|c| c.key.as_str())
            .filter(|k| k.starts_with("pantum"))
            .collect();
        assert_eq!(kept, vec!["pantum_1_1_3_1", "pantum_1_1_3_12"]);
    }
}
