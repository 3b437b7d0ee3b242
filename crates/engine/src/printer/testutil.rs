//! Test support: read a recording through the real read plan (so a mapping
//! whose OIDs the plan forgot to fetch fails its test).

use super::model::Reading;
use super::read::{build_reading, collect};
use crate::snmp::recording::{Recording, RecordingSession};
use crate::snmp::{SnmpOptions, Version};

/// Reads `.snmprec` text through `collect` + `build_reading`, as `printscout read
/// --recording` does.
#[allow(clippy::expect_used)]
pub fn read_recording(snmprec: &str) -> Reading {
    let session = RecordingSession::new(Recording::parse(snmprec), Version::V2c);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let c = rt
        .block_on(collect(&session, &SnmpOptions::default()))
        .expect("collect");
    let mut r = build_reading(&c.snapshot, c.vendor);
    r.stats.requests = c.stats.requests;
    r
}
