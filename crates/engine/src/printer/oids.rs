//! OIDs of the standard MIBs the reader uses (RFC 1213 system/interfaces,
//! RFC 2790 Host-Resources, RFC 3805 Printer-MIB, RFC 3806 Finisher, ENTITY-MIB).
//! Vendor OIDs live in their vendor module.

#![allow(missing_docs)]

pub const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
pub const SYS_OBJECT_ID: &str = "1.3.6.1.2.1.1.2.0";
pub const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";
pub const SYS_CONTACT: &str = "1.3.6.1.2.1.1.4.0";
pub const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
pub const SYS_LOCATION: &str = "1.3.6.1.2.1.1.6.0";

pub const IF_TYPE: &str = "1.3.6.1.2.1.2.2.1.3";
pub const IF_PHYS_ADDRESS: &str = "1.3.6.1.2.1.2.2.1.6";

pub const HR_DEVICE_TYPE: &str = "1.3.6.1.2.1.25.3.2.1.2";
pub const HR_DEVICE_DESCR: &str = "1.3.6.1.2.1.25.3.2.1.3";
pub const HR_DEVICE_STATUS: &str = "1.3.6.1.2.1.25.3.2.1.5";
pub const HR_PRINTER_STATUS: &str = "1.3.6.1.2.1.25.3.5.1.1";
pub const HR_PRINTER_ERROR_STATE: &str = "1.3.6.1.2.1.25.3.5.1.2";
pub const HR_DEVICE_PRINTER: &str = "1.3.6.1.2.1.25.3.1.5";
pub const HR_DEVICE_PROCESSOR: &str = "1.3.6.1.2.1.25.3.1.3";

pub const PRT_GENERAL_PRINTER_NAME: &str = "1.3.6.1.2.1.43.5.1.1.16";
pub const PRT_GENERAL_SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17";

pub const PRT_INPUT: &str = "1.3.6.1.2.1.43.8.2.1";
pub const PRT_INPUT_COLUMNS: &[u32] = &[2, 8, 9, 10, 11, 12, 13];

pub const PRT_MARKER: &str = "1.3.6.1.2.1.43.10.2.1";
pub const PRT_MARKER_COLUMNS: &[u32] = &[2, 3, 4, 5, 6];
pub const PRT_MARKER_LIFE_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.4";
pub const PRT_MARKER_POWER_ON_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.5";
pub const PRT_MARKER_COUNTER_UNIT: &str = "1.3.6.1.2.1.43.10.2.1.3";

pub const PRT_SUPPLIES: &str = "1.3.6.1.2.1.43.11.1.1";
pub const PRT_SUPPLIES_COLUMNS: &[u32] = &[3, 4, 5, 6, 7, 8, 9];

pub const PRT_COLORANT_VALUE: &str = "1.3.6.1.2.1.43.12.1.1.4";
pub const PRT_CONSOLE_TEXT: &str = "1.3.6.1.2.1.43.16.5.1.2";

pub const PRT_ALERT: &str = "1.3.6.1.2.1.43.18.1.1";
pub const PRT_ALERT_COLUMNS: &[u32] = &[2, 4, 5, 6, 7, 8, 9];

pub const ENT_PHYSICAL_SERIAL: &str = "1.3.6.1.2.1.47.1.1.1.1.11";
