//! Pantum (enterprise 40093). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

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
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Pantum".into());
}
