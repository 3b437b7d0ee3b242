//! Any datagram: decode it, and if it decodes, interpret its varbinds as a
//! device's answers. Neither step may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printscout_engine::printer::{Snapshot, build_reading};
use printscout_engine::snmp::codec::decode_message;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode_message(data) {
        let snap = Snapshot::new(d.varbinds.into_iter().filter(|(_, v)| !v.is_exception()).collect());
        let _ = build_reading(&snap, None);
    }
});
