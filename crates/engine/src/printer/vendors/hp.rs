//! HP (enterprise 11): JetDirect printers and MFPs.
//!
//! Counters (PROTOCOLS.md §1.6, confirmed by glpi-agent and LibreNMS):
//! `total_engine` = totalEnginePageCount `…11.2.3.9.4.2.1.4.1.2.5.0`;
//! `mono` = totalMonoPageCount `….6.0`; `color` = totalColorPageCount `….7.0`;
//! `duplex` = duplexPageCount `….22.0`; `jams` = printEngineJamCount `….34.0`;
//! `scan_flatbed` = scannerFlatbedPageCount `…11.2.3.9.4.2.1.2.2.1.74.0`.
//! `total` stays prtMarkerLifeCount (the portable figure); HP's engine count is
//! kept beside it. Serial: HP's own `…1.1.3.3.0` when the Printer-MIB has none;
//! model: `…1.1.3.2.0`. The printer MIBs may live only in context `Jetdirect`.
//! HP switches (ProCurve, `…11.2.3.7`) share the enterprise; they are told
//! apart by the classifier, not here.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

const P: &str = "1.3.6.1.4.1.11.2.3.9.4.2.1";

const COUNTERS: &[(&str, &str, &str)] = &[
    ("total_engine", "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0", "totalEnginePageCount"),
    ("mono", "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0", "totalMonoPageCount"),
    ("color", "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0", "totalColorPageCount"),
    ("duplex", "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.22.0", "duplexPageCount"),
    ("jams", "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.34.0", "printEngineJamCount"),
    ("scan_flatbed", "1.3.6.1.4.1.11.2.3.9.4.2.1.2.2.1.74.0", "scannerFlatbedPageCount"),
];
const SERIAL: &str = "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0";
const MODEL: &str = "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.2.0";
const DISPLAY: &str = "1.3.6.1.4.1.11.2.3.9.1.1.3";

/// The HP module.
pub static MODULE: VendorModule = VendorModule {
    name: "HP",
    enterprises: &[11],
    words: &["hp", "hewlett-packard", "hewlett packard"],
    probes: &[],
    extra_context: Some("Jetdirect"),
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    let mut scalars: Vec<&str> = COUNTERS.iter().map(|c| c.1).collect();
    scalars.extend([SERIAL, MODEL]);
    FetchPlan {
        scalars: oids(&scalars),
        subtrees: oids(&[DISPLAY]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    let _ = P;
    r.identity.vendor = Some("HP".into());
    for (key, oid, descr) in COUNTERS {
        if let Some(v) = snap.int(oid) {
            put_counter(r, key, v, oid, Some(descr));
        }
    }
    put_serial(r, snap.text(SERIAL), SERIAL, false);
    if r.identity.model.is_none() {
        r.identity.model = snap.text(MODEL).map(|m| m.trim_start_matches("HP ").to_string());
    }
    for (_, v) in snap.column(DISPLAY) {
        if let Some(t) = v.as_clean_text() {
            if !r.console.contains(&t) {
                r.console.push(t);
            }
        }
    }
    if r.counters.get("total").is_none() {
        if let Some(&t) = r.counters.get("total_engine") {
            keep_counter(r, "total_from_engine", t, COUNTERS[0].1, Some("total taken from totalEnginePageCount"));
            r.counters.insert("total".into(), t);
        }
    }
}
