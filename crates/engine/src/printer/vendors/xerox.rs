//! Xerox (enterprise 253, 297). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Xerox module.
pub static MODULE: VendorModule = VendorModule {
    name: "Xerox",
    enterprises: &[253, 297],
    words: &["xerox", "fuji xerox", "fujifilm"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Xerox".into());
}
