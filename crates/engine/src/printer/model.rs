//! The normalised reading: what one device is and how it is doing, in the JSON
//! shape documented in `docs/reading.md` (a superset of the corpus scoring
//! shape). Raw values travel with their meaning: supply levels keep the MIB's
//! sentinels and carry a [`SupplyState`]; every counter keeps the OID it came from.

use std::collections::BTreeMap;

use serde::Serialize;

/// One read of one device.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reading {
    /// The address that was read (`host:port`).
    pub target: String,
    /// Name of the credential that answered (never its value).
    pub credential: Option<String>,
    /// SNMP version spoken.
    pub snmp_version: Option<String>,
    /// The protocol read when it is not SNMP (`ipp`, `ipps`); absent for SNMP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Whether the device is a printer (MFPs and print servers count).
    pub is_printer: bool,
    /// What kind of device: `printer`, `mfp`, `label_printer`, `scan_server`, `not_a_printer`.
    pub device_kind: String,
    /// Why it was classified that way, in words.
    pub classification: String,
    /// Who the device is.
    pub identity: Identity,
    /// Normalised page counters (vocabulary in `docs/reading.md`).
    pub counters: BTreeMap<String, i64>,
    /// Every counter read, with its source.
    pub counter_sources: Vec<CounterSource>,
    /// Consumables and service parts.
    pub supplies: Vec<Supply>,
    /// Device and printer status.
    pub status: Status,
    /// Active alerts (`prtAlertTable`).
    pub alerts: Vec<Alert>,
    /// Input trays.
    pub trays: Vec<Tray>,
    /// Front-panel display lines.
    pub console: Vec<String>,
    /// Things worth knowing about this read (partial data, odd agent behaviour).
    pub notes: Vec<String>,
    /// What the read cost.
    pub stats: ReadStats,
    /// A 3D printer's state, current job, temperatures and errors (absent for
    /// office printers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fab: Option<crate::printer::fab::FabStatus>,
    /// A 3D printer's job history, when this read included a history poll.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<crate::printer::fab::JobRecord>,
}

/// Identity of a device.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Identity {
    /// Manufacturer (brand on the device).
    pub vendor: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Serial number as the device reports it.
    pub serial: Option<String>,
    /// Where the serial came from (OID).
    pub serial_source: Option<String>,
    /// Firmware version string.
    pub firmware: Option<String>,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// sysName.
    pub hostname: Option<String>,
    /// sysLocation.
    pub location: Option<String>,
    /// sysContact.
    pub contact: Option<String>,
    /// sysDescr.
    pub description: Option<String>,
    /// sysObjectID.
    pub sys_object_id: Option<String>,
    /// IANA enterprise number from sysObjectID.
    pub enterprise: Option<u32>,
    /// Seconds since the agent started (sysUpTime; IPP `printer-up-time`).
    pub uptime_seconds: Option<u64>,
    /// IPP `printer-uuid`, lower case without `urn:uuid:`: the printer's
    /// stable key over IPP (absent for SNMP reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// IPP `printer-info`: the printer's description of itself (absent for SNMP reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// A counter as read, with where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct CounterSource {
    /// Normalised key when it maps to one, else a vendor-specific name.
    pub key: String,
    /// Value read.
    pub value: i64,
    /// OID it was read from (or `blob:…` for decoded vendor blobs).
    pub oid: String,
    /// Unit when known (`impressions`, `sheets`, …).
    pub unit: Option<String>,
    /// The device's own name for it, when it has one.
    pub description: Option<String>,
}

/// What is known about a supply's level, beyond the raw number.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum SupplyState {
    /// A real percentage of remaining life (of remaining space for receptacles
    /// is reported as `percent` of fullness in `Supply::percent`).
    Percent(f64),
    /// RFC 3805 −3: known not to be empty (receptacle: some space left).
    SomeRemaining,
    /// RFC 3805 −2, or a level without a usable maximum.
    Unknown,
    /// RFC 3805 −1: no restriction / not applicable.
    NotApplicable,
    /// Level 0 on a consumable (or a vendor "empty" code).
    Empty,
    /// A receptacle at capacity.
    Full,
    /// Low, per a vendor status code (no percentage available).
    Low,
    /// OK, per a vendor status code (no percentage available).
    Ok,
}

/// One consumable or service part.
#[derive(Clone, Debug, Serialize)]
pub struct Supply {
    /// prtMarkerSuppliesIndex (None for vendor-only supplies).
    pub index: Option<u32>,
    /// Description, decoded to text.
    pub description: String,
    /// prtMarkerSuppliesType name (`toner`, `wasteToner`, `opc`, …) or vendor kind.
    pub kind: Option<String>,
    /// Colour from the colorant table (lower case).
    pub color: Option<String>,
    /// `supplyThatIsConsumed`, `receptacleThatIsFilled` or `other`.
    pub class: Option<String>,
    /// Unit of level and max (`percent`, `impressions`, `tenthsOfGrams`, …).
    pub unit: Option<String>,
    /// Raw level, sentinels kept.
    pub level: Option<i64>,
    /// Raw maximum, sentinels kept.
    pub max: Option<i64>,
    /// Percentage, only when it is one (level ≥ 0 and max > 0, or a vendor percentage).
    pub percent: Option<f64>,
    /// Meaning of the level.
    pub state: SupplyState,
    /// Pages left, when the device says so.
    pub remaining_pages: Option<i64>,
    /// Where the level came from when not the Printer-MIB (`ricoh`, `brother`, …).
    pub source: Option<String>,
}

/// Device status.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// hrDeviceStatus name: `unknown`, `running`, `warning`, `testing`, `down`.
    pub device: Option<String>,
    /// hrPrinterStatus name: `other`, `unknown`, `idle`, `printing`, `warmup`.
    pub printer: Option<String>,
    /// Names of every set bit of hrPrinterDetectedErrorState.
    pub errors: Vec<String>,
    /// hrPrinterDetectedErrorState as hex.
    pub error_state_hex: Option<String>,
    /// Overall: `ok`, `warning`, `error`, or `unknown`.
    pub overall: String,
}

/// One `prtAlertTable` row.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    /// prtAlertIndex (volatile; key alerts by code/group/description).
    pub index: u32,
    /// `critical`, `warning`, `warningBinaryChangeEvent`, `other`.
    pub severity: Option<String>,
    /// prtAlertGroup name.
    pub group: Option<String>,
    /// prtAlertGroupIndex.
    pub group_index: Option<i64>,
    /// prtAlertLocation.
    pub location: Option<i64>,
    /// prtAlertCode number.
    pub code: Option<i64>,
    /// prtAlertCode name (`jam`, `doorOpen`, …).
    pub code_name: Option<String>,
    /// prtAlertDescription text.
    pub description: Option<String>,
    /// prtAlertTime (sysUpTime ticks when raised).
    pub time_ticks: Option<i64>,
}

/// One input tray (`prtInputTable`).
#[derive(Clone, Debug, Serialize)]
pub struct Tray {
    /// prtInputIndex.
    pub index: u32,
    /// prtInputName.
    pub name: Option<String>,
    /// prtInputMediaName.
    pub media: Option<String>,
    /// prtInputType name.
    pub kind: Option<String>,
    /// Capacity unit.
    pub unit: Option<String>,
    /// Raw prtInputMaxCapacity (sentinels kept).
    pub max: Option<i64>,
    /// Raw prtInputCurrentLevel (sentinels kept).
    pub level: Option<i64>,
    /// Percentage when both are real numbers.
    pub percent: Option<f64>,
    /// Meaning of the level.
    pub state: SupplyState,
    /// prtInputStatus bits (raw).
    pub status: Option<i64>,
}

/// Cost of the read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReadStats {
    /// Requests sent to the device (round trips).
    pub requests: u32,
    /// Milliseconds from first request to reading.
    pub elapsed_ms: u64,
    /// Walks stopped because the agent did not advance.
    pub stalled_walks: u32,
    /// Walks cut short.
    pub truncated_walks: u32,
    /// Bytes sent, where the protocol counts them (IPP: the request bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    /// Bytes received, where the protocol counts them (IPP: the response bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
}
