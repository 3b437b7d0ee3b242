//! Any values at any OIDs (as snmprec text): interpreting them as a printer's
//! answers must never panic, whatever a hostile agent sends in vendor blobs,
//! counters or strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printscout_engine::printer::{Snapshot, build_reading};
use printscout_engine::snmp::recording::Recording;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rec = Recording::parse(&text);
    let _ = build_reading(&Snapshot::new(rec.values), None);
});
