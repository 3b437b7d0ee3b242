//! Konica Minolta (enterprise 18334). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Konica Minolta module.
pub static MODULE: VendorModule = VendorModule {
    name: "Konica Minolta",
    enterprises: &[18334],
    words: &["konica minolta", "konica", "develop", "sindoh"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Konica Minolta".into());
}
