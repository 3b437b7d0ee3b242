//! Zebra (enterprise 10642, 683). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Zebra module.
pub static MODULE: VendorModule = VendorModule {
    name: "Zebra",
    enterprises: &[10642, 683],
    words: &["zebra", "zebranet"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Zebra".into());
}
