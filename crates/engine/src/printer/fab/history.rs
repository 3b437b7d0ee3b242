//! Job history synthesised from state changes between polls (placeholder).

use super::{FabStatus, JobRecord};

/// The job records the change from `last` to `current` implies.
pub fn synthesise(last: Option<&JobRecord>, current: &FabStatus, now: i64) -> Vec<JobRecord> {
    let _ = (last, current, now);
    Vec::new()
}
