//! Ricoh (enterprise 367). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Ricoh module.
pub static MODULE: VendorModule = VendorModule {
    name: "Ricoh",
    enterprises: &[367],
    words: &["ricoh", "savin", "lanier", "gestetner", "nrg"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Ricoh".into());
}
