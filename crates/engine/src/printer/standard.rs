//! Decoding the standard MIBs (system, interfaces, Host-Resources, Printer-MIB,
//! ENTITY-MIB) from a [`Snapshot`] into a [`Reading`]. Vendor modules run after
//! this and may refine what it found.
//!
//! Invariants: supply and tray levels keep their raw numbers and sentinels; a
//! percentage is computed only from a level ≥ 0 and a maximum > 0; colours come
//! only from the colorant table, never from row order or text.

use std::collections::BTreeMap;

use super::model::{Alert, CounterSource, Reading, Supply, SupplyState, Tray};
use super::names;
use super::oids::*;
use crate::snmp::Snapshot;
use crate::snmp::{Oid, Value};

/// Fills identity, status, counters, supplies, trays, alerts and console text.
pub fn decode(snap: &Snapshot, r: &mut Reading) {
    identity(snap, r);
    let dev = printer_device_index(snap);
    status(snap, dev, r);
    counters(snap, r);
    supplies(snap, r);
    trays(snap, r);
    alerts(snap, r);
    console(snap, r);
}

/// Rows of a table column keyed by their index arcs.
pub fn rows(snap: &Snapshot, column: &str) -> BTreeMap<Vec<u32>, Value> {
    snap.column(column).into_iter().collect()
}

fn identity(snap: &Snapshot, r: &mut Reading) {
    let id = &mut r.identity;
    id.description = snap.text(SYS_DESCR);
    if let Some(Value::Oid(o)) = snap.at(SYS_OBJECT_ID) {
        id.sys_object_id = Some(o.to_string());
        id.enterprise = enterprise_of(o);
    }
    id.uptime_seconds = match snap.at(SYS_UPTIME) {
        Some(Value::Ticks(t)) => Some(t / 100),
        Some(v) => v
            .as_i64()
            .and_then(|t| u64::try_from(t).ok())
            .map(|t| t / 100),
        None => None,
    };
    id.contact = snap.text(SYS_CONTACT);
    id.hostname = snap.text(SYS_NAME);
    id.location = snap.text(SYS_LOCATION);
    id.mac = mac_address(snap);
    // Serial order: ENTITY-MIB, then Printer-MIB; vendor modules override.
    let ent = first_text(snap, ENT_PHYSICAL_SERIAL);
    let prt = first_text(snap, PRT_GENERAL_SERIAL);
    for (v, src) in [(prt, PRT_GENERAL_SERIAL), (ent, ENT_PHYSICAL_SERIAL)] {
        if let Some((idx, s)) = v
            && plausible_serial(&s)
        {
            id.serial = Some(s);
            id.serial_source = Some(format!("{src}.{idx}"));
        }
    }
}

/// The enterprise number under 1.3.6.1.4.1, if any.
pub fn enterprise_of(o: &Oid) -> Option<u32> {
    let a = o.arcs();
    (a.len() > 6 && a[..6] == [1, 3, 6, 1, 4, 1]).then(|| a[6])
}

/// A serial worth reporting: not empty, not all one character, not a placeholder.
pub fn plausible_serial(s: &str) -> bool {
    let t = s.trim();
    if t.len() < 3 {
        return false;
    }
    let mut chars = t.chars();
    let first = chars.next().unwrap_or(' ');
    if chars.all(|c| c == first) {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "unknown" | "none" | "n/a" | "not available" | "serial number" | "0123456789"
    ) && t.chars().all(|c| !c.is_control())
}

fn first_text(snap: &Snapshot, column: &str) -> Option<(String, String)> {
    snap.column(column).into_iter().find_map(|(idx, v)| {
        v.as_clean_text().map(|t| {
            (
                idx.iter().map(u32::to_string).collect::<Vec<_>>().join("."),
                t,
            )
        })
    })
}

/// First non-zero 6-octet ifPhysAddress, formatted `aa:bb:cc:dd:ee:ff`.
pub fn mac_address(snap: &Snapshot) -> Option<String> {
    snap.column(IF_PHYS_ADDRESS).into_iter().find_map(|(_, v)| {
        let b = v.as_bytes()?;
        format_mac(b)
    })
}

/// Formats 6 octets as a MAC; `None` for all-zero, broadcast or wrong length.
pub fn format_mac(b: &[u8]) -> Option<String> {
    (b.len() == 6 && b.iter().any(|&x| x != 0) && b.iter().any(|&x| x != 0xff)).then(|| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// hrDeviceIndex of the printer: from the Printer-MIB tables' first index,
/// else the first hrDevicePrinter row, else 1.
pub fn printer_device_index(snap: &Snapshot) -> u32 {
    for col in [
        PRT_MARKER_LIFE_COUNT,
        "1.3.6.1.2.1.43.11.1.1.9",
        "1.3.6.1.2.1.43.5.1.1.17",
    ] {
        if let Some((idx, _)) = snap.column(col).into_iter().next()
            && let Some(&d) = idx.first()
        {
            return d;
        }
    }
    printer_rows(snap).into_iter().next().unwrap_or(1)
}

/// hrDeviceIndex values whose hrDeviceType is hrDevicePrinter.
pub fn printer_rows(snap: &Snapshot) -> Vec<u32> {
    let printer = Oid::lit(HR_DEVICE_PRINTER);
    snap.column(HR_DEVICE_TYPE)
        .into_iter()
        .filter(|(_, v)| v.as_oid() == Some(&printer))
        .filter_map(|(idx, _)| idx.first().copied())
        .collect()
}

fn status(snap: &Snapshot, dev: u32, r: &mut Reading) {
    let st = &mut r.status;
    let row = |col: &str| snap.get(&Oid::lit(col).child(&[dev])).cloned();
    // Fall back to the first row when the printer's index has no row.
    let first = |col: &str| snap.column(col).into_iter().next().map(|(_, v)| v);
    st.device = row(HR_DEVICE_STATUS)
        .or_else(|| first(HR_DEVICE_STATUS))
        .and_then(|v| v.as_i64())
        .map(names::device_status);
    st.printer = row(HR_PRINTER_STATUS)
        .or_else(|| first(HR_PRINTER_STATUS))
        .and_then(|v| v.as_i64())
        .map(names::printer_status);
    let bits = row(HR_PRINTER_ERROR_STATE).or_else(|| first(HR_PRINTER_ERROR_STATE));
    if let Some(v) = bits {
        let bytes: Vec<u8> = match v {
            Value::Bytes(b) => b,
            // A few agents send the bit field as an integer.
            other => other
                .as_i64()
                .map(|i| vec![((i >> 8) & 0xff) as u8, (i & 0xff) as u8])
                .unwrap_or_default(),
        };
        st.error_state_hex = Some(bytes.iter().map(|b| format!("{b:02x}")).collect());
        st.errors = error_bits(&bytes);
    }
}

/// Names of the set bits of hrPrinterDetectedErrorState (missing octets are 0).
pub fn error_bits(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for (bit, name) in names::ERROR_BITS.iter().enumerate() {
        let octet = bytes.get(bit / 8).copied().unwrap_or(0);
        if octet & (0x80 >> (bit % 8)) != 0 {
            out.push((*name).to_string());
        }
    }
    out
}

fn counters(snap: &Snapshot, r: &mut Reading) {
    let units = rows(snap, PRT_MARKER_COUNTER_UNIT);
    let mut first_life = true;
    for (idx, v) in snap.column(PRT_MARKER_LIFE_COUNT) {
        let Some(n) = v.as_i64() else { continue };
        let unit = units
            .get(&idx)
            .and_then(Value::as_i64)
            .map(names::counter_unit);
        let key = if first_life {
            "total".to_string()
        } else {
            format!("marker_{}_total", idx_str(&idx))
        };
        if first_life {
            r.counters.insert("total".into(), n);
            first_life = false;
        }
        r.counter_sources.push(CounterSource {
            key,
            value: n,
            oid: format!("{PRT_MARKER_LIFE_COUNT}.{}", idx_str(&idx)),
            unit,
            description: Some("prtMarkerLifeCount".into()),
        });
    }
    if let Some((idx, v)) = snap.column(PRT_MARKER_POWER_ON_COUNT).into_iter().next()
        && let Some(n) = v.as_i64()
    {
        r.counters.insert("since_power_on".into(), n);
        r.counter_sources.push(CounterSource {
            key: "since_power_on".into(),
            value: n,
            oid: format!("{PRT_MARKER_POWER_ON_COUNT}.{}", idx_str(&idx)),
            unit: units
                .get(&idx)
                .and_then(Value::as_i64)
                .map(names::counter_unit),
            description: Some("prtMarkerPowerOnCount".into()),
        });
    }
}

/// Dotted text of index arcs.
pub fn idx_str(idx: &[u32]) -> String {
    idx.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// Meaning of a raw level against a raw maximum (RFC 3805 sentinels).
pub fn level_state(
    level: Option<i64>,
    max: Option<i64>,
    receptacle: bool,
    unit_percent: bool,
) -> (Option<f64>, SupplyState) {
    match (level, max) {
        (Some(-1), _) => (None, SupplyState::NotApplicable),
        (Some(-2), _) | (None, _) => (None, SupplyState::Unknown),
        (Some(-3), _) => (None, SupplyState::SomeRemaining),
        (Some(l), Some(m)) if l >= 0 && m > 0 => {
            let p = round2(l as f64 * 100.0 / m as f64);
            let state = if receptacle && l >= m {
                SupplyState::Full
            } else if !receptacle && l == 0 {
                SupplyState::Empty
            } else {
                SupplyState::Percent(p)
            };
            (Some(p), state)
        }
        (Some(l), _) if l >= 0 && unit_percent && l <= 100 => {
            (None, SupplyState::Percent(l as f64))
        }
        (Some(0), _) if !receptacle => (None, SupplyState::Empty),
        _ => (None, SupplyState::Unknown),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn supplies(snap: &Snapshot, r: &mut Reading) {
    let col = |c: u32| rows(snap, &format!("{PRT_SUPPLIES}.{c}"));
    let (colorant_idx, class, kind, descr, unit, max, level) =
        (col(3), col(4), col(5), col(6), col(7), col(8), col(9));
    let colorants = rows(snap, PRT_COLORANT_VALUE);
    let mut keys: Vec<&Vec<u32>> = descr
        .keys()
        .chain(level.keys())
        .chain(kind.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for idx in keys {
        let int = |m: &BTreeMap<Vec<u32>, Value>| m.get(idx).and_then(Value::as_i64);
        let class_n = int(&class);
        let receptacle = class_n == Some(4);
        let unit_n = int(&unit);
        let (lv, mx) = (int(&level), int(&max));
        let (percent, state) = level_state(lv, mx, receptacle, unit_n == Some(19));
        let color = match (idx.first(), int(&colorant_idx)) {
            (Some(&dev), Some(ci)) if ci > 0 => u32::try_from(ci)
                .ok()
                .and_then(|ci| colorants.get(&vec![dev, ci]))
                .and_then(Value::as_clean_text)
                .map(|c| c.to_lowercase()),
            _ => None,
        };
        r.supplies.push(Supply {
            index: idx.last().copied(),
            description: descr.get(idx).map(supply_description).unwrap_or_default(),
            kind: int(&kind).map(names::supply_type),
            color,
            class: class_n.map(names::supply_class),
            unit: unit_n.map(names::unit),
            level: lv,
            max: mx,
            percent,
            state,
            remaining_pages: None,
            source: None,
        });
    }
}

/// Supply description text: UTF-8 else Latin-1; HP's second line (a hex
/// part number dump) and embedded line breaks are folded away.
pub fn supply_description(v: &Value) -> String {
    let text = v.as_text().unwrap_or_default();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("").to_string();
    let rest: Vec<&str> = lines.filter(|l| !looks_like_hex_dump(l)).collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} {}", rest.join(" "))
    }
}

fn looks_like_hex_dump(l: &str) -> bool {
    let t = l.trim_start_matches("0x");
    t.len() >= 8 && t.chars().all(|c| c.is_ascii_hexdigit() || c == ' ')
}

fn trays(snap: &Snapshot, r: &mut Reading) {
    let col = |c: u32| rows(snap, &format!("{PRT_INPUT}.{c}"));
    let (kind, unit, max, level, status, media, name) =
        (col(2), col(8), col(9), col(10), col(11), col(12), col(13));
    let mut keys: Vec<&Vec<u32>> = kind.keys().chain(level.keys()).chain(name.keys()).collect();
    keys.sort();
    keys.dedup();
    for idx in keys {
        let int = |m: &BTreeMap<Vec<u32>, Value>| m.get(idx).and_then(Value::as_i64);
        let (lv, mx) = (int(&level), int(&max));
        let (percent, state) = level_state(lv, mx, false, false);
        r.trays.push(Tray {
            index: idx.last().copied().unwrap_or(0),
            name: name.get(idx).and_then(Value::as_clean_text),
            media: media.get(idx).and_then(Value::as_clean_text),
            kind: int(&kind).map(names::input_type),
            unit: int(&unit).map(names::unit),
            max: mx,
            level: lv,
            percent,
            state,
            status: int(&status),
        });
    }
}

fn alerts(snap: &Snapshot, r: &mut Reading) {
    let col = |c: u32| rows(snap, &format!("{PRT_ALERT}.{c}"));
    let (sev, group, gidx, loc, code, descr, time) =
        (col(2), col(4), col(5), col(6), col(7), col(8), col(9));
    let mut keys: Vec<&Vec<u32>> = sev.keys().chain(code.keys()).chain(descr.keys()).collect();
    keys.sort();
    keys.dedup();
    for idx in keys {
        let int = |m: &BTreeMap<Vec<u32>, Value>| m.get(idx).and_then(Value::as_i64);
        let code_n = int(&code);
        r.alerts.push(Alert {
            index: idx.last().copied().unwrap_or(0),
            severity: int(&sev).map(names::alert_severity),
            group: int(&group).map(names::alert_group),
            group_index: int(&gidx),
            location: int(&loc),
            code: code_n,
            code_name: code_n.and_then(names::alert_code).map(str::to_string),
            description: descr.get(idx).and_then(Value::as_clean_text),
            time_ticks: int(&time),
        });
    }
}

fn console(snap: &Snapshot, r: &mut Reading) {
    for (_, v) in snap.column(PRT_CONSOLE_TEXT) {
        if let Some(t) = v.as_clean_text() {
            r.console.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_bit_has_its_own_name() {
        assert_eq!(error_bits(&[0xff, 0xfe]).len(), 15);
        assert_eq!(error_bits(&[0x04]), vec!["jammed"]);
        assert_eq!(error_bits(&[0x00, 0x04]), vec!["inputTrayEmpty"]);
        assert!(error_bits(&[]).is_empty());
    }

    #[test]
    fn sentinels_are_states_never_percentages() {
        assert_eq!(
            level_state(Some(-3), Some(100), false, false),
            (None, SupplyState::SomeRemaining)
        );
        assert_eq!(
            level_state(Some(-2), Some(100), false, false),
            (None, SupplyState::Unknown)
        );
        assert_eq!(
            level_state(Some(-1), Some(-1), false, false),
            (None, SupplyState::NotApplicable)
        );
        assert_eq!(
            level_state(Some(50), Some(-2), false, false),
            (None, SupplyState::Unknown)
        );
        assert_eq!(
            level_state(Some(21000), Some(30000), false, false).0,
            Some(70.0)
        );
        assert_eq!(
            level_state(Some(0), Some(100), false, false),
            (Some(0.0), SupplyState::Empty)
        );
        assert_eq!(
            level_state(Some(100), Some(100), true, false),
            (Some(100.0), SupplyState::Full)
        );
    }

    #[test]
    fn hp_two_line_descriptions_lose_the_hex_line() {
        let v = Value::Bytes(b"Black Cartridge HP CF410A\n0x0a1b2c3d4e5f".to_vec());
        assert_eq!(supply_description(&v), "Black Cartridge HP CF410A");
    }

    #[test]
    fn placeholder_serials_are_rejected() {
        assert!(!plausible_serial("0000000000"));
        assert!(!plausible_serial(""));
        assert!(!plausible_serial("   "));
        assert!(plausible_serial("VNB3K12345"));
    }
}
