//! Toshiba (enterprise 1129). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Toshiba module.
pub static MODULE: VendorModule = VendorModule {
    name: "Toshiba",
    enterprises: &[1129],
    words: &["toshiba"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Toshiba".into());
}
