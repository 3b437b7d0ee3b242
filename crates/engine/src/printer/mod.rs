//! Printers: the reading model, the SNMP read plan, the standard-MIB
//! decoders, classification and one module per maker; IPP (`ipp`) and the
//! 3D-printer protocols (`fab`) fill the same model.

pub mod classify;
pub mod fab;
pub mod ipp;
pub mod model;
pub mod names;
pub mod net;
pub mod oids;
pub mod read;
pub mod standard;
#[cfg(test)]
pub(crate) mod testutil;
pub mod vendors;

pub use crate::snmp::Snapshot;
pub use model::{Reading, Supply, SupplyState};
pub use read::{ReadError, build_reading, read_device, read_status};
