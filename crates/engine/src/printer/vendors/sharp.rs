//! Sharp (enterprise 2385). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

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
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Sharp".into());
}
