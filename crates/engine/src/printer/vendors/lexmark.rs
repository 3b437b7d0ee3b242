//! Lexmark (enterprise 641). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The Lexmark module.
pub static MODULE: VendorModule = VendorModule {
    name: "Lexmark",
    enterprises: &[641],
    words: &["lexmark"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Lexmark".into());
}
