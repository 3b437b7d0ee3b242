//! The PrintScout collector engine: everything that talks to printers and turns
//! what they say into one normalised [`printer::Reading`].
//!
//! Layers, lowest first:
//! - [`secret`]: the `Secret` type, whose `Debug`/`Display` never show the value.
//! - [`snmp`]: engine-owned OID/value types, credentials, the [`snmp::SnmpSession`]
//!   trait (implemented over async-snmp's shared UDP transport, and over a
//!   recording for offline use), and the multi-subtree bulk walker.
//! - [`printer`]: the reading model, the read plan (what to fetch in which round),
//!   the standard-MIB decoders and one module per vendor.
//!
//! Invariants: no GUI dependency; nothing that comes from the network can panic;
//! no secret value reaches a log line, an error message or `Debug` output.
#![deny(missing_docs)]

pub mod collector;
pub mod config;
pub mod discovery;
pub mod events;
pub mod export;
pub mod notify;
pub mod printer;
pub mod secret;
pub mod secrets;
pub mod snmp;
pub mod store;
pub mod uplink;
