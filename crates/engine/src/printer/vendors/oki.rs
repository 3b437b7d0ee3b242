//! OKI / Oki Data (enterprise 2001), including printers behind OkiLAN print
//! servers.
//!
//! Identity: serial = `…2001.1.1.1.1.11.1.10.45.0` and model =
//! `…2001.1.1.1.1.11.1.10.25.0` (confirmed: glpi-agent `MibSupport/Oki.pm`,
//! fusioninventory-for-glpi); without them the model is the `MODEL:` of the
//! IEEE 1284 device ID OKI serves at HP's OID `…11.2.3.9.1.1.7.0`, else the
//! printer named in an OkiLAN sysDescr (`…PrintServer: Attached to MC873
//! Rev.07.87 : …`, as LibreNMS `okilan` reads it). Firmware = that `Rev.`.
//!
//! Counters: `total` stays prtMarkerLifeCount. OKI's private counter table
//! `…2001.1.1.1.1.11.1.10.170.1` is **unverified** — public code reads its
//! columns 5, 6, 7, 8, 17 and 21 under contradictory names (colour prints,
//! mono prints, total, copies…) — so every integer in it is kept raw as
//! `oki_170_<column>_<row>`, with no normalised name.

use super::brother::device_id_field;
use super::{VendorModule, keep_counter, oids, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const SERIAL: &str = "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.45.0";
const MODEL: &str = "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.25.0";
const DEVICE_ID: &str = "1.3.6.1.4.1.11.2.3.9.1.1.7.0";
const COUNTERS: &str = "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1";

/// The OKI module.
pub static MODULE: VendorModule = VendorModule {
    name: "OKI",
    enterprises: &[2001],
    words: &["oki", "okidata"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[SERIAL, MODEL, DEVICE_ID]),
        subtrees: oids(&[COUNTERS]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("OKI".into());
    put_serial(r, snap.text(SERIAL), SERIAL, false);
    let attached = r.identity.description.as_deref().and_then(attached_printer);
    if r.identity.model.is_none() {
        r.identity.model = snap
            .text(MODEL)
            .or_else(|| {
                snap.text(DEVICE_ID)
                    .and_then(|id| device_id_field(&id, &["MODEL", "MDL"]))
            })
            .or_else(|| attached.as_ref().map(|a| a.0.clone()));
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = attached.and_then(|a| a.1);
    }
    for (idx, v) in snap.column(COUNTERS) {
        if let Some(n) = v.as_i64() {
            let key = format!(
                "oki_170_{}",
                idx.iter().map(u32::to_string).collect::<Vec<_>>().join("_")
            );
            let oid = format!(
                "{COUNTERS}.{}",
                idx.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
            );
            keep_counter(
                r,
                &key,
                n,
                &oid,
                Some("OKI private counter (column meaning unverified)"),
            );
        }
    }
}

/// `… PrintServer: Attached to MC873 Rev.07.87 : …` → (`MC873`, `07.87`).
fn attached_printer(descr: &str) -> Option<(String, Option<String>)> {
    let i = descr.find("Attached to ")?;
    let rest = &descr[i + "Attached to ".len()..];
    let rest = rest.split(" : ").next().unwrap_or(rest);
    let mut words = rest.split_whitespace();
    let model = words.next()?.to_string();
    let firmware = words
        .find_map(|w| w.strip_prefix("Rev."))
        .map(str::to_string)
        .filter(|f| !f.is_empty());
    Some((model, firmware))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    const SYS: &str = "1.3.6.1.2.1.1.1.0|4|OKI OkiLAN 9999g Rev.01.02 10/100BASE Ethernet PrintServer: Attached to C999 Rev.03.04 : Copyright (c) 2020 Oki Data Corporation. All rights reserved.\n\
        1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2001.1.1.1.1\n";

    #[test]
    fn okilan_sysdescr_names_the_attached_printer_and_its_firmware() {
        let r = read_recording(SYS);
        assert_eq!(r.identity.vendor.as_deref(), Some("OKI"));
        assert_eq!(r.identity.model.as_deref(), Some("C999"));
        assert_eq!(r.identity.firmware.as_deref(), Some("03.04"));
        assert_eq!(attached_printer("OKI B999"), None);
    }

    #[test]
    fn oki_private_model_and_serial_win_over_the_sysdescr() {
        let rec = format!(
            "{SYS}1.3.6.1.4.1.2001.1.1.1.1.11.1.10.25.0|4|C999dn\n1.3.6.1.4.1.2001.1.1.1.1.11.1.10.45.0|4|AK00000001\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.identity.model.as_deref(), Some("C999dn"));
        assert_eq!(r.identity.serial.as_deref(), Some("AK00000001"));
    }

    #[test]
    fn oki_device_id_gives_the_model_when_the_private_one_is_missing() {
        let rec = "1.3.6.1.2.1.1.1.0|4|OKI B999\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2001.1.1.1.1\n\
            1.3.6.1.4.1.11.2.3.9.1.1.7.0|4|MANUFACTURE:OKI;COMMAND SET:PCL;MODEL:B999dn;CLASS:PRINTER;\n";
        assert_eq!(
            read_recording(rec).identity.model.as_deref(),
            Some("B999dn")
        );
    }

    #[test]
    fn oki_private_counters_are_kept_raw_without_a_normalised_name() {
        let rec = format!(
            "{SYS}1.3.6.1.2.1.43.10.2.1.4.1.1|65|5000\n\
             1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1.6.1|2|1200\n1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1.7.1|2|3800\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.counters.get("total"), Some(&5000));
        assert_eq!(r.counters.len(), 1);
        let kept: Vec<_> = r
            .counter_sources
            .iter()
            .filter(|c| c.key.starts_with("oki_170_"))
            .collect();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].oid, "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1.6.1");
    }
}
