//! Lexmark (enterprise 641; `E` = `1.3.6.1.4.1`). Lexmark-built Dell printers
//! answer under Dell's tree and are read by the Dell module.
//!
//! Counters: LEXMARK-MPS-MIB paperSidesCount, row `.1.1` of
//! `E.641.6.4.2.2.1.{6 mono sides, 7 colour sides}` (one source:
//! check_snmp_printer). `mono` ← `….6.1.1`, `color` ← `….7.1.1`; any further
//! rows (per paper size/type) are kept raw as `lexmark_sides_<mono|color>_<row>`.
//! `total` stays prtMarkerLifeCount.1.1.
//!
//! Identity: serial from the Printer-MIB, else MPS deviceSerial
//! `E.641.6.2.3.1.5.1`, else LEXMARK-PVT prtgenSerialNo `E.641.2.1.2.1.6.1`
//! (glpi-agent `Lexmark.pm` builds the PVT constants as `E.641.21.2.1…` — a
//! missing dot — so its fallback never matched; the OIDs here are the intended
//! ones). Model: MPS deviceModel `E.641.6.2.3.1.4.1`, else prtgenPrinterName
//! `E.641.2.1.2.1.2.1` (each without a leading "Lexmark"), else the standard
//! model, else the word after "Lexmark" in sysDescr ("Lexmark T640 version
//! NS.NP.N219 …" → "T640", LibreNMS `lexmarkprinter.yaml`). Firmware: prtgenCodeRevision `E.641.2.1.2.1.4.1`, else the
//! word after "version" in sysDescr.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::printer::standard::idx_str;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const SIDES_MONO: &str = "1.3.6.1.4.1.641.6.4.2.2.1.6";
const SIDES_COLOR: &str = "1.3.6.1.4.1.641.6.4.2.2.1.7";
const MPS_MODEL: &str = "1.3.6.1.4.1.641.6.2.3.1.4.1";
const MPS_SERIAL: &str = "1.3.6.1.4.1.641.6.2.3.1.5.1";
const PVT_NAME: &str = "1.3.6.1.4.1.641.2.1.2.1.2.1";
const PVT_REVISION: &str = "1.3.6.1.4.1.641.2.1.2.1.4.1";
const PVT_SERIAL: &str = "1.3.6.1.4.1.641.2.1.2.1.6.1";

/// The Lexmark module.
pub static MODULE: VendorModule = VendorModule {
    name: "Lexmark",
    enterprises: &[641],
    words: &["lexmark"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[MPS_MODEL, MPS_SERIAL, PVT_NAME, PVT_REVISION, PVT_SERIAL]),
        subtrees: oids(&[SIDES_MONO, SIDES_COLOR]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Lexmark".into());
    let descr = r.identity.description.clone().unwrap_or_default();
    let (d_model, d_fw) = from_sysdescr(&descr);

    put_serial(r, snap.text(MPS_SERIAL), MPS_SERIAL, false);
    put_serial(r, snap.text(PVT_SERIAL), PVT_SERIAL, false);
    if let Some(m) = snap.text(MPS_MODEL).or_else(|| snap.text(PVT_NAME)) {
        r.identity.model = Some(m);
    } else if r.identity.model.is_none() {
        r.identity.model = d_model;
    }
    if let Some(fw) = snap.text(PVT_REVISION).or(d_fw) {
        r.identity.firmware = Some(fw);
    }

    for (col, key, label) in [
        (SIDES_MONO, "mono", "mono"),
        (SIDES_COLOR, "color", "color"),
    ] {
        for (idx, v) in snap.column(col) {
            let Some(n) = v.as_i64() else { continue };
            let oid = format!("{col}.{}", idx_str(&idx));
            if idx == [1, 1] {
                put_counter(r, key, n, &oid, Some("Lexmark paperSidesCount"));
            } else {
                keep_counter(
                    r,
                    &format!("lexmark_sides_{label}_{}", idx_str(&idx).replace('.', "_")),
                    n,
                    &oid,
                    Some("Lexmark paperSidesCount row"),
                );
            }
        }
    }
}

/// "Lexmark T640 version NS.NP.N219 kernel …" → ("T640", "NS.NP.N219").
fn from_sysdescr(descr: &str) -> (Option<String>, Option<String>) {
    let words: Vec<&str> = descr.split_whitespace().collect();
    let Some(pos) = words.iter().position(|w| w.eq_ignore_ascii_case("lexmark")) else {
        return (None, None);
    };
    let model = words
        .get(pos + 1)
        .filter(|w| !w.eq_ignore_ascii_case("version"))
        .map(|w| w.to_string());
    let fw = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("version"))
        .and_then(|i| words.get(i + 1))
        .map(|w| w.to_string());
    (model, fw)
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const MS: &str = "\
1.3.6.1.2.1.1.1.0|4|Lexmark CX725 version CXTPC.081.215 kernel 4.11.12 All-N-1
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.641.1.71106865
1.3.6.1.2.1.43.10.2.1.4.1.1|65|23000
1.3.6.1.4.1.641.6.2.3.1.4.1|4|Lexmark CX725de
1.3.6.1.4.1.641.6.2.3.1.5.1|4|7527ABC0123
1.3.6.1.4.1.641.6.4.2.2.1.6.1.1|65|15000
1.3.6.1.4.1.641.6.4.2.2.1.7.1.1|65|8000
1.3.6.1.4.1.641.6.4.2.2.1.6.1.2|65|900
";

    #[test]
    fn lexmark_paper_sides_give_mono_and_colour() {
        let r = read_recording(MS);
        assert_eq!(r.counters["total"], 23000);
        assert_eq!(r.counters["mono"], 15000);
        assert_eq!(r.counters["color"], 8000);
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "lexmark_sides_mono_1_2" && c.value == 900)
        );
    }

    #[test]
    fn lexmark_identity_prefers_the_mps_tree() {
        let r = read_recording(MS);
        assert_eq!(r.identity.model.as_deref(), Some("CX725de"));
        assert_eq!(r.identity.serial.as_deref(), Some("7527ABC0123"));
        assert_eq!(r.identity.firmware.as_deref(), Some("CXTPC.081.215"));
    }

    #[test]
    fn lexmark_falls_back_to_the_pvt_tree_and_then_sysdescr() {
        let r = read_recording(
            "\
1.3.6.1.2.1.1.1.0|4|Lexmark T640 version NS.NP.N219 kernel 2.6.6 All-N-1
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.641.1.71106749
1.3.6.1.4.1.641.2.1.2.1.6.1|4|99XYZ01
",
        );
        assert_eq!(r.identity.model.as_deref(), Some("T640"));
        assert_eq!(r.identity.firmware.as_deref(), Some("NS.NP.N219"));
        assert_eq!(r.identity.serial.as_deref(), Some("99XYZ01"));
        assert!(!r.counters.contains_key("mono"));
        assert_eq!(super::from_sysdescr("Lexmark"), (None, None));
        assert_eq!(super::from_sysdescr("Lexmark version"), (None, None));
    }
}
