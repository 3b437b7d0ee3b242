//! Samsung (enterprise 236; printers under `…236.11`). Samsung's printer
//! business went to HP in 2017; those devices keep Samsung's agent.
//!
//! Identity is parsed from sysDescr (PROTOCOLS.md §1.6, LibreNMS
//! `os_discovery/samsungprinter.yaml`), whose `;`-separated fields are
//! `Samsung <model> Series; V<firmware> <date>; Engine …; NIC …; S/N <serial>`
//! (older models: `Samsung ML-2850 Series OS 1.01.15.47 02-10-2010; …`).
//! The sysDescr model (`M4080FX`) is preferred to hrDeviceDescr, which names
//! only the family (`Samsung M408x Series`); without it, Samsung's model
//! object `…236.11.5.1.1.1.1.0`. The serial is the `S/N` field when it is not
//! empty; a Printer-MIB serial, when present, stays.
//!
//! Counters: `total` stays prtMarkerLifeCount. Samsung's `…236.11.5.1.1.9.2.0`
//! (**unverified**, minor repositories only) is kept as `samsung_total` and
//! becomes `total` only when the Printer-MIB has no life count.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const MODEL: &str = "1.3.6.1.4.1.236.11.5.1.1.1.1.0";
const TOTAL: &str = "1.3.6.1.4.1.236.11.5.1.1.9.2.0";

/// The Samsung module.
pub static MODULE: VendorModule = VendorModule {
    name: "Samsung",
    enterprises: &[236],
    words: &["samsung"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[MODEL, TOTAL]),
        subtrees: vec![],
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Samsung".into());
    let parsed = r
        .identity
        .description
        .as_deref()
        .map(parse_sys_descr)
        .unwrap_or_default();
    if let Some(m) = parsed.model.or_else(|| snap.text(MODEL)) {
        r.identity.model = Some(m);
    }
    if parsed.firmware.is_some() {
        r.identity.firmware = parsed.firmware;
    }
    put_serial(r, parsed.serial, "1.3.6.1.2.1.1.1.0", false);
    if let Some(v) = snap.int(TOTAL) {
        keep_counter(
            r,
            "samsung_total",
            v,
            TOTAL,
            Some("Samsung total pages (unverified)"),
        );
        if !r.counters.contains_key("total") {
            put_counter(
                r,
                "total",
                v,
                TOTAL,
                Some("Samsung total pages (no prtMarkerLifeCount)"),
            );
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct Parsed {
    model: Option<String>,
    firmware: Option<String>,
    serial: Option<String>,
}

/// Reads model, firmware and serial from a Samsung sysDescr.
fn parse_sys_descr(d: &str) -> Parsed {
    let mut fields = d.split(';').map(str::trim);
    let first = fields.next().unwrap_or("");
    if !first.to_ascii_lowercase().starts_with("samsung ") {
        return Parsed::default();
    }
    let mut head = first;
    while let Some(rest) = head
        .strip_prefix("Samsung ")
        .or_else(|| head.strip_prefix("SAMSUNG "))
    {
        head = rest.trim_start();
    }
    let (model_part, after) = match head.find(" Series") {
        Some(i) => (&head[..i], &head[i + " Series".len()..]),
        None => match head.find(" OS ") {
            Some(i) => (&head[..i], &head[i..]),
            None => (head, ""),
        },
    };
    let model = Some(model_part.trim().to_string()).filter(|m| !m.is_empty());
    let rest: Vec<&str> = fields.collect();
    let firmware = after
        .trim()
        .strip_prefix("OS ")
        .and_then(version)
        .or_else(|| {
            rest.first()
                .and_then(|f| version(f.trim_start_matches(['V', 'v'])))
        });
    let serial = rest
        .iter()
        .find_map(|f| f.strip_prefix("S/N"))
        .map(str::trim)
        .and_then(|s| s.split_whitespace().next())
        .map(str::to_string);
    Parsed {
        model,
        firmware,
        serial,
    }
}

/// The leading dotted number of `s` (`11.01.03.04_02-27-2017` → `11.01.03.04`).
fn version(s: &str) -> Option<String> {
    let v: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v = v.trim_end_matches('.');
    (v.contains('.') || (!v.is_empty() && v.len() == s.trim().len())).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    #[test]
    fn samsung_sysdescr_gives_model_firmware_and_serial() {
        let p = parse_sys_descr(
            "Samsung CLX-9999 Series;V1.00.01.64 Sep-27-2010;Engine 1.77.81;NIC V4.01.20(CLX-9999) 02-05-2010;S/N ZZZ9999999",
        );
        assert_eq!(p.model.as_deref(), Some("CLX-9999"));
        assert_eq!(p.firmware.as_deref(), Some("1.00.01.64"));
        assert_eq!(p.serial.as_deref(), Some("ZZZ9999999"));
    }

    #[test]
    fn older_samsung_sysdescr_has_the_firmware_after_os() {
        let p = parse_sys_descr(
            "Samsung ML-9999 Series OS 1.01.15.47 02-10-2010;Engine 1.01.25;NIC V4.01.09(ML-999x)",
        );
        assert_eq!(p.model.as_deref(), Some("ML-9999"));
        assert_eq!(p.firmware.as_deref(), Some("1.01.15.47"));
        assert_eq!(p.serial, None);
    }

    #[test]
    fn empty_samsung_serial_field_gives_no_serial() {
        let p = parse_sys_descr(
            "Samsung M9999FX; V11.01.03.04_02-27-2017;Engine V1.00.06 01-19-2017_V1.00;NIC ;S/N",
        );
        assert_eq!(p.model.as_deref(), Some("M9999FX"));
        assert_eq!(p.firmware.as_deref(), Some("11.01.03.04"));
        assert_eq!(p.serial, None);
        assert_eq!(parse_sys_descr("Linux printer"), Parsed::default());
        assert_eq!(parse_sys_descr("Samsung ;;;"), Parsed::default());
    }

    #[test]
    fn samsung_sysdescr_model_beats_the_hr_family_name() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Samsung M9999FX; V11.01.03.04_02-27-2017;Engine V1.00.06;NIC ;S/N ZDQ0000001\n\
            1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.236.11.5.11.62.1\n\
            1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n1.3.6.1.2.1.25.3.2.1.3.1|4|Samsung M999x Series\n\
            1.3.6.1.2.1.43.10.2.1.4.1.1|65|22934\n1.3.6.1.4.1.236.11.5.1.1.9.2.0|2|22940\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Samsung"));
        assert_eq!(r.identity.model.as_deref(), Some("M9999FX"));
        assert_eq!(r.identity.serial.as_deref(), Some("ZDQ0000001"));
        assert_eq!(r.counters.get("total"), Some(&22934));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "samsung_total" && c.value == 22940)
        );
    }
}
