//! Printers over SNMP: the reading model, the read plan, the standard-MIB
//! decoders, classification and one module per maker.

pub mod classify;
pub mod ipp;
pub mod model;
pub mod names;
pub mod oids;
pub mod read;
pub mod standard;
#[cfg(test)]
pub(crate) mod testutil;
pub mod vendors;

pub use crate::snmp::Snapshot;
pub use model::{Reading, Supply, SupplyState};
pub use read::{ReadError, build_reading, read_device, read_status};
