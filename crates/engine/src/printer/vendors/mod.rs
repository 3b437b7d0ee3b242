//! One small module per printer maker. Each says how to recognise the maker
//! (enterprise numbers, words in sysDescr or the device ID), what extra OIDs to
//! fetch in the vendor round, and how to fold them into the reading.
//!
//! Invariants: a module only adds or refines; it never removes what the
//! standard MIBs said, except to replace a value with a better-sourced one and
//! keep the old one in `counter_sources`. Every mapping is tested on a recording.
//! The rule for each normalised counter is written in the module's doc.

use super::model::{CounterSource, Reading};
use crate::snmp::Oid;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

pub mod brother;
pub mod canon;
pub mod dell;
pub mod epson;
pub mod hp;
pub mod konica;
pub mod kyocera;
pub mod lexmark;
pub mod oki;
pub mod pantum;
pub mod ricoh;
pub mod samsung;
pub mod sharp;
pub mod toshiba;
pub mod xerox;
pub mod zebra;

/// A maker's mapping.
pub struct VendorModule {
    /// Canonical maker name (OEM badges are set by `apply`).
    pub name: &'static str,
    /// IANA enterprise numbers under 1.3.6.1.4.1.
    pub enterprises: &'static [u32],
    /// Lower-case words that name the maker at the start of sysDescr, in a
    /// device ID's `MFG:`, or in hrDeviceDescr.
    pub words: &'static [&'static str],
    /// Scalars fetched in the first round so the maker can be recognised on
    /// agents that hide sysObjectID.
    pub probes: &'static [&'static str],
    /// SNMP context worth trying when the default context has no Printer-MIB.
    pub extra_context: Option<&'static str>,
    /// What to fetch in the vendor round (may look at the first round).
    pub plan: fn(&Snapshot) -> FetchPlan,
    /// Folds the vendor data into the reading.
    pub apply: fn(&Snapshot, &mut Reading),
}

/// Every module, in detection order.
pub static VENDORS: &[&VendorModule] = &[
    &hp::MODULE,
    &brother::MODULE,
    &canon::MODULE,
    &ricoh::MODULE,
    &kyocera::MODULE,
    &xerox::MODULE,
    &konica::MODULE,
    &lexmark::MODULE,
    &sharp::MODULE,
    &epson::MODULE,
    &samsung::MODULE,
    &oki::MODULE,
    &toshiba::MODULE,
    &dell::MODULE,
    &zebra::MODULE,
    &pantum::MODULE,
];

/// Scalars every first round includes for the modules' probes.
pub fn probe_oids() -> Vec<Oid> {
    VENDORS
        .iter()
        .flat_map(|m| m.probes.iter())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Which module describes this device: by enterprise, then by the probes that
/// answered, then by the maker's name in the descriptive strings.
pub fn detect(snap: &Snapshot, r: &Reading) -> Option<&'static VendorModule> {
    if let Some(e) = r.identity.enterprise {
        if let Some(m) = VENDORS.iter().find(|m| m.enterprises.contains(&e)) {
            return Some(m);
        }
        // A host (Windows, Linux, NAS…) names its print queues' makers in
        // hrDeviceDescr; that does not make it one of theirs.
        if super::classify::is_host_enterprise(e) {
            return None;
        }
    }
    if let Some(m) = VENDORS
        .iter()
        .find(|m| m.probes.iter().any(|p| snap.at(p).is_some()))
    {
        return Some(m);
    }
    let texts = descriptive_texts(snap, r);
    VENDORS
        .iter()
        .find(|m| {
            texts
                .iter()
                .any(|t| m.words.iter().any(|w| starts_with_word(t, w)))
        })
        .copied()
}

/// The module whose maker sysDescr names first, if any (the brand on an
/// OEM-built device: a Toshiba e-STUDIO built by Lexmark says "TOSHIBA …").
pub fn brand_in_sysdescr(r: &Reading) -> Option<&'static VendorModule> {
    let d = r.identity.description.as_deref()?.to_lowercase();
    VENDORS
        .iter()
        .find(|m| m.words.iter().any(|w| starts_with_word(&d, w)))
        .copied()
}

/// sysDescr, hrDeviceDescr values and prtGeneralPrinterName, lower-cased.
pub fn descriptive_texts(snap: &Snapshot, r: &Reading) -> Vec<String> {
    let mut v: Vec<String> = r.identity.description.iter().cloned().collect();
    for col in [
        super::oids::HR_DEVICE_DESCR,
        super::oids::PRT_GENERAL_PRINTER_NAME,
    ] {
        v.extend(
            snap.column(col)
                .into_iter()
                .filter_map(|(_, x)| x.as_clean_text()),
        );
    }
    v.into_iter().map(|s| s.to_lowercase()).collect()
}

/// True when `text` begins with `word` followed by a non-letter (or the end).
pub fn starts_with_word(text: &str, word: &str) -> bool {
    let t = text.trim_start();
    t.starts_with(word)
        && t[word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
}

/// True when `word` appears in `text` as a whole word.
pub fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Records a counter read from `oid`; when `key` is a normalised name it also
/// sets `counters[key]` (replacing a standard-MIB value, which stays in sources).
pub fn put_counter(r: &mut Reading, key: &str, value: i64, oid: &str, description: Option<&str>) {
    r.counters.insert(key.to_string(), value);
    r.counter_sources.push(CounterSource {
        key: key.to_string(),
        value,
        oid: oid.to_string(),
        unit: None,
        description: description.map(str::to_string),
    });
}

/// Records a vendor counter that has no normalised name (kept, not dropped).
pub fn keep_counter(r: &mut Reading, key: &str, value: i64, oid: &str, description: Option<&str>) {
    r.counter_sources.push(CounterSource {
        key: key.to_string(),
        value,
        oid: oid.to_string(),
        unit: None,
        description: description.map(str::to_string),
    });
}

/// Sets the serial when the device did not give a plausible one yet, or when
/// `prefer` is true (the vendor's own OID is known to be the one on the label).
pub fn put_serial(r: &mut Reading, serial: Option<String>, oid: &str, prefer: bool) {
    if let Some(s) = serial.filter(|s| super::standard::plausible_serial(s))
        && (prefer || r.identity.serial.is_none())
    {
        r.identity.serial = Some(s.trim().to_string());
        r.identity.serial_source = Some(oid.to_string());
    }
}

/// Parses dotted OIDs from a static list (module tables are literals).
pub fn oids(list: &[&str]) -> Vec<Oid> {
    list.iter().filter_map(|s| s.parse().ok()).collect()
}
