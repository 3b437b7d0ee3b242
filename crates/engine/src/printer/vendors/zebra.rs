//! Zebra (enterprise 10642; ZebraNet print servers answer as Extended Systems,
//! 683) label printers, and TSC label printers (enterprise 51966, per
//! LibreNMS `os_detection/tsc.yaml`), which share nothing else here.
//!
//! Zebra identity (LibreNMS `os_discovery/zebra.yaml`, the corpus's only
//! asserted Zebra): serial = the ZebraNet print server's `…683.1.5.0`,
//! else the printer's own `…10642.200.19.5.0`; firmware = `…10642.200.18.2.0`,
//! else `…683.1.9.0`; model = the printer's name `…10642.200.19.7.0`
//! (`TLP 2824 Plus`), else the device ID's `MODEL:` (at HP's
//! `…11.2.3.9.1.1.7.0`, minus the `ZTC ` prefix); when the print server names
//! its own model number (`…683.1.4.0`, e.g. `79071`, which LibreNMS reports as
//! the hardware) it is added: `TLP 2824 Plus (print server 79071)`.
//!
//! Counters: `print_length_inches` = totalPrintLength `…10642.200.17.3.0`,
//! which the agent sends as text (`1920 INCHES, 4876 CENTIMETERS`): the
//! number before `INCHES`. The other odometer objects under `…10642.200.17`
//! are kept raw as `zebra_odometer_<n>` (inches when they say so). Zebra
//! printers have no prtMarkerLifeCount; no `total` is invented.
//!
//! TSC: sysDescr `TTP244CE Version: 7.02 EZD` → model `TTP244CE`, firmware
//! `7.02 EZD`; vendor `TSC`.

use super::brother::device_id_field;
use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::Reading;
use crate::snmp::Snapshot;
use crate::snmp::walk::FetchPlan;

const PS_MODEL: &str = "1.3.6.1.4.1.683.1.4.0";
const PS_SERIAL: &str = "1.3.6.1.4.1.683.1.5.0";
const PS_FIRMWARE: &str = "1.3.6.1.4.1.683.1.9.0";
const PRINTER_FIRMWARE: &str = "1.3.6.1.4.1.10642.200.18.2.0";
const PRINTER_SERIAL: &str = "1.3.6.1.4.1.10642.200.19.5.0";
const PRINTER_MODEL: &str = "1.3.6.1.4.1.10642.200.19.7.0";
const DEVICE_ID: &str = "1.3.6.1.4.1.11.2.3.9.1.1.7.0";
const ODOMETER: &str = "1.3.6.1.4.1.10642.200.17";
const PRINT_LENGTH: &str = "1.3.6.1.4.1.10642.200.17.3.0";
const TSC: u32 = 51966;

/// The Zebra (and TSC) module.
pub static MODULE: VendorModule = VendorModule {
    name: "Zebra",
    enterprises: &[10642, 683, TSC],
    words: &["zebra", "zebranet"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(snap: &Snapshot) -> FetchPlan {
    if is_tsc(snap) {
        return FetchPlan::default();
    }
    FetchPlan {
        scalars: oids(&[
            PS_MODEL,
            PS_SERIAL,
            PS_FIRMWARE,
            PRINTER_FIRMWARE,
            PRINTER_SERIAL,
            PRINTER_MODEL,
            DEVICE_ID,
        ]),
        subtrees: oids(&[ODOMETER]),
        first_rows: vec![],
    }
}

fn is_tsc(snap: &Snapshot) -> bool {
    snap.at("1.3.6.1.2.1.1.2.0")
        .and_then(|v| v.as_oid())
        .is_some_and(|o| o.arcs().get(..7) == Some(&[1, 3, 6, 1, 4, 1, TSC][..]))
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    if is_tsc(snap) {
        tsc(r);
        return;
    }
    r.identity.vendor = Some("Zebra".into());
    put_serial(r, snap.text(PS_SERIAL), PS_SERIAL, true);
    put_serial(r, snap.text(PRINTER_SERIAL), PRINTER_SERIAL, false);
    if let Some(f) = snap
        .text(PRINTER_FIRMWARE)
        .or_else(|| snap.text(PS_FIRMWARE))
    {
        r.identity.firmware = Some(f);
    }
    let printer = snap.text(PRINTER_MODEL).or_else(|| {
        snap.text(DEVICE_ID)
            .and_then(|id| device_id_field(&id, &["MODEL", "MDL"]))
            .map(|m| m.strip_prefix("ZTC ").unwrap_or(&m).to_string())
    });
    let model = match (printer.or(r.identity.model.take()), snap.text(PS_MODEL)) {
        (Some(p), Some(ps)) if !p.contains(&ps) => Some(format!("{p} (print server {ps})")),
        (Some(p), _) => Some(p),
        (None, ps) => ps,
    };
    r.identity.model = model;

    for (idx, v) in snap.column(ODOMETER) {
        let oid = format!(
            "{ODOMETER}.{}",
            idx.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
        );
        let Some(text) = v.as_clean_text() else {
            continue;
        };
        let Some((n, inches)) = leading_number(&text) else {
            continue;
        };
        if oid == PRINT_LENGTH && inches {
            put_counter(
                r,
                "print_length_inches",
                n,
                &oid,
                Some("totalPrintLength (inches)"),
            );
        } else {
            let key = format!(
                "zebra_odometer_{}{}",
                idx.first().copied().unwrap_or(0),
                if inches { "_inches" } else { "" }
            );
            keep_counter(r, &key, n, &oid, Some(&text));
        }
    }
}

/// `1920 INCHES, 4876 CENTIMETERS` → (1920, true); `2352` → (2352, false).
fn leading_number(text: &str) -> Option<(i64, bool)> {
    let mut words = text.split_whitespace();
    let n = words.next()?.trim_end_matches(',').parse().ok()?;
    let inches = words
        .next()
        .is_some_and(|u| u.trim_end_matches(',').eq_ignore_ascii_case("inches"));
    Some((n, inches))
}

/// TSC: `TTP244CE Version: 7.02 EZD` → model `TTP244CE`, firmware `7.02 EZD`.
fn tsc(r: &mut Reading) {
    r.identity.vendor = Some("TSC".into());
    let descr = r.identity.description.clone().unwrap_or_default();
    let (model, firmware) = match descr.split_once("Version:") {
        Some((m, f)) => (
            m.trim().to_string(),
            Some(f.trim().to_string()).filter(|f| !f.is_empty()),
        ),
        None => (descr.trim().to_string(), None),
    };
    if r.identity.model.is_none() && !model.is_empty() {
        r.identity.model = Some(model);
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = firmware;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    const SYS: &str = "1.3.6.1.2.1.1.1.0|4x|5a656272614e6574205769726564205053\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.683.6.0\n";

    #[test]
    fn zebra_print_length_is_the_inches_in_the_text() {
        let rec = format!(
            "{SYS}1.3.6.1.4.1.10642.200.17.3.0|4x|3132333420494e434845532c20333133342043454e54494d4554455253\n\
             1.3.6.1.4.1.10642.200.17.6.0|4|777\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.counters.get("print_length_inches"), Some(&1234));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "zebra_odometer_6" && c.value == 777)
        );
        assert!(!r.counters.contains_key("total"));
        assert_eq!(leading_number("INCHES"), None);
        assert_eq!(leading_number(""), None);
    }

    #[test]
    fn zebranet_identity_names_printer_and_print_server() {
        let rec = format!(
            "{SYS}1.3.6.1.4.1.683.1.4.0|4|99999\n1.3.6.1.4.1.683.1.5.0|4|1234567\n\
             1.3.6.1.4.1.683.1.9.0|4|V99.1.1Z\n1.3.6.1.4.1.10642.200.19.5.0|4|99J000000001\n\
             1.3.6.1.4.1.10642.200.19.7.0|4|ZT999 Plus\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Zebra"));
        assert_eq!(r.identity.serial.as_deref(), Some("1234567"));
        assert_eq!(r.identity.firmware.as_deref(), Some("V99.1.1Z"));
        assert_eq!(
            r.identity.model.as_deref(),
            Some("ZT999 Plus (print server 99999)")
        );
    }

    #[test]
    fn zebra_without_print_server_uses_the_printer_serial_and_device_id_model() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Zebra Wired\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.10642.1.1\n\
            1.3.6.1.4.1.10642.200.19.5.0|4|99J000000002\n\
            1.3.6.1.4.1.11.2.3.9.1.1.7.0|4|MANUFACTURER:Zebra Technologies;COMMAND SET:ZPL;MODEL:ZTC GK999d;CLASS:PRINTER;\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.serial.as_deref(), Some("99J000000002"));
        assert_eq!(r.identity.model.as_deref(), Some("GK999d"));
    }

    #[test]
    fn tsc_sysdescr_gives_model_and_firmware() {
        let rec = "1.3.6.1.2.1.1.1.0|4|TTP999CE Version: 9.99 EZD\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.51966.2.6\n";
        let r = read_recording(rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("TSC"));
        assert_eq!(r.identity.model.as_deref(), Some("TTP999CE"));
        assert_eq!(r.identity.firmware.as_deref(), Some("9.99 EZD"));
    }
}
