//! OKI (enterprise 2001). TODO: counters, serial, model, firmware.

use super::VendorModule;
use crate::printer::model::Reading;
use crate::printer::snapshot::Snapshot;
use crate::snmp::walk::FetchPlan;

/// The OKI module.
pub static MODULE: VendorModule = VendorModule {
    name: "OKI",
    enterprises: &[2001],
    words: &["oki", "okidata"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan::default()
}

fn apply(_: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("OKI".into());
}
