//! Kyocera (enterprise 1347). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Kyocera module.
pub static MODULE: VendorModule = VendorModule {
    name: "Kyocera",
    enterprises: &[1347],
    words: &["kyocera", "utax", "ta_utax", "triumph-adler"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Kyocera".into());
}
