//! HP (enterprise 11): JetDirect printers and MFPs.
//!
//! Counters (PROTOCOLS.md §1.6, confirmed by glpi-agent and LibreNMS):
//! `total_engine` = totalEnginePageCount `…11.2.3.9.4.2.1.4.1.2.5.0`;
//! `mono` = totalMonoPageCount `….6.0`; `color` = totalColorPageCount `….7.0`;
//! `duplex` = duplexPageCount `….22.0`; `jams` = printEngineJamCount `….34.0`;
//! `scan_flatbed` = scannerFlatbedPageCount `…11.2.3.9.4.2.1.2.2.1.74.0`.
//! `total` stays prtMarkerLifeCount (the portable figure); HP's engine count is
//! kept beside it. Serial: HP's own `…1.1.3.3.0` when the Printer-MIB has none,
//! then the `SN:` field of a JetDirect sysDescr; model: `…1.1.3.2.0`, then the
//! `PID:` field of sysDescr (`HP ETHERNET MULTI-ENVIRONMENT,SN:…,PID:HP …`). The printer MIBs may live only in context `Jetdirect`.
//! HP switches (ProCurve, `…11.2.3.7`) share the enterprise; they are told
//! apart by the classifier, not here.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "total_engine",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0",
        "totalEnginePageCount",
    ),
    (
        "mono",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0",
        "totalMonoPageCount",
    ),
    (
        "color",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0",
        "totalColorPageCount",
    ),
    (
        "duplex",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.22.0",
        "duplexPageCount",
    ),
    (
        "jams",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.34.0",
        "printEngineJamCount",
    ),
    (
        "scan_flatbed",
        "1.3.6.1.4.1.11.2.3.9.4.2.1.2.2.1.74.0",
        "scannerFlatbedPageCount",
    ),
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
    r.identity.vendor = Some("HP".into());
    for (key, oid, descr) in COUNTERS {
        if let Some(v) = snap.int(oid) {
            put_counter(r, key, v, oid, Some(descr));
        }
    }
    put_serial(r, snap.text(SERIAL), SERIAL, false);
    let descr = r.identity.description.clone().unwrap_or_default();
    put_serial(
        r,
        sysdescr_field(&descr, "SN"),
        "1.3.6.1.2.1.1.1.0 (SN:)",
        false,
    );
    if r.identity.model.is_none() {
        r.identity.model = snap.text(MODEL).or_else(|| sysdescr_field(&descr, "PID"));
    }
    for (_, v) in snap.column(DISPLAY) {
        if let Some(t) = v.as_clean_text()
            && !r.console.contains(&t)
        {
            r.console.push(t);
        }
    }
    if !r.counters.contains_key("total")
        && let Some(&t) = r.counters.get("total_engine")
    {
        keep_counter(
            r,
            "total_from_engine",
            t,
            COUNTERS[0].1,
            Some("total taken from totalEnginePageCount"),
        );
        r.counters.insert("total".into(), t);
    }
}

/// A `KEY:value` field of a JetDirect sysDescr (comma-separated).
fn sysdescr_field(descr: &str, key: &str) -> Option<String> {
    descr
        .split(',')
        .find_map(|part| {
            part.trim()
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(':'))
        })
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const JETDIRECT: &str = "\
1.3.6.1.2.1.1.1.0|4|HP ETHERNET MULTI-ENVIRONMENT,SN:CNB9Z00001,FN:1X2Y3Z4,SVCID:12345,PID:HP LaserJet Pro M404dn
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1
1.3.6.1.2.1.43.10.2.1.4.1.1|65|48213
1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0|65|48220
1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0|65|48213
1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.22.0|65|1200
1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.34.0|65|7
";

    #[test]
    fn hp_counters_are_read_beside_the_portable_total() {
        let r = read_recording(JETDIRECT);
        assert_eq!(r.counters["total"], 48213);
        assert_eq!(r.counters["total_engine"], 48220);
        assert_eq!(r.counters["mono"], 48213);
        assert_eq!(r.counters["duplex"], 1200);
        assert_eq!(r.counters["jams"], 7);
        assert!(
            !r.counters.contains_key("color"),
            "a missing counter is not a zero"
        );
        assert!(r.is_printer);
    }

    #[test]
    fn hp_model_and_serial_come_from_the_jetdirect_sysdescr_when_nothing_better_answers() {
        let r = read_recording(JETDIRECT);
        assert_eq!(r.identity.vendor.as_deref(), Some("HP"));
        assert_eq!(r.identity.model.as_deref(), Some("LaserJet Pro M404dn"));
        assert_eq!(r.identity.serial.as_deref(), Some("CNB9Z00001"));
    }
}
