//! Epson (enterprise 1248): inkjet and laser printers. Projectors share the
//! enterprise; the classifier tells them apart by sysDescr, not this module.
//!
//! Identity (PROTOCOLS.md §1.6, glpi-agent `MibSupport/Epson.pm`): serial =
//! `…1248.1.2.2.1.1.1.5.1` when the Printer-MIB has none; model =
//! `…1248.1.2.2.1.1.1.2.1` when hrDeviceDescr/prtGeneralPrinterName give none;
//! firmware = the first version of Epson's firmware table
//! `…1248.1.2.2.2.1.1.2` (glpi-agent). Not used, on purpose: the name spelt
//! into the sysObjectID and the `Firm Ver.` of ifDescr belong to the network
//! interface (`EEPS2 Hard Ver.1.00 Firm Ver.0.53` on a WF-C5790), not to the
//! printer.
//!
//! Counters (`…1248.1.2.2.27.1.1.{3,4,30}.1.1`, **unverified**: repositories
//! disagree on which of 3 and 4 is mono; the one device-validated mapping,
//! an AM-C550 checked against its web page, says 3 = B/W, 4 = colour,
//! 30 = total): `mono` = 3, `color` = 4. `total` stays prtMarkerLifeCount;
//! Epson's 30 is kept as `epson_total` and becomes `total` only when the
//! Printer-MIB has no life count.
//!
//! Supplies: Epson's private ink table `…1248.1.2.2.28.1.1.{2 level %,
//! 5 name, 18 name}.1.<n>` (glpi-agent issue #989: level 28 = the 28 % the
//! Printer-MIB shows; row 5 = "Maintenance Cartridge T6716" at 100). Rows the
//! Printer-MIB does not list — the maintenance box — are added as supplies
//! with `source: "epson"` and the level as a percentage when it is 0–100.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::{Reading, Supply, SupplyState};
use crate::snmp::Snapshot;
use crate::snmp::Value;
use crate::snmp::walk::FetchPlan;

const SERIAL: &str = "1.3.6.1.4.1.1248.1.2.2.1.1.1.5.1";
const MODEL: &str = "1.3.6.1.4.1.1248.1.2.2.1.1.1.2.1";
const FW_VERSIONS: &str = "1.3.6.1.4.1.1248.1.2.2.2.1.1.2";
const MONO: &str = "1.3.6.1.4.1.1248.1.2.2.27.1.1.3.1.1";
const COLOR: &str = "1.3.6.1.4.1.1248.1.2.2.27.1.1.4.1.1";
const TOTAL: &str = "1.3.6.1.4.1.1248.1.2.2.27.1.1.30.1.1";
const INK_LEVEL: &str = "1.3.6.1.4.1.1248.1.2.2.28.1.1.2.1";
const INK_NAME: &str = "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1";
const INK_NAME_ALT: &str = "1.3.6.1.4.1.1248.1.2.2.28.1.1.18.1";

/// The Epson module.
pub static MODULE: VendorModule = VendorModule {
    name: "Epson",
    enterprises: &[1248],
    words: &["epson"],
    probes: &[],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[SERIAL, MODEL, MONO, COLOR, TOTAL]),
        subtrees: oids(&[FW_VERSIONS, INK_LEVEL, INK_NAME, INK_NAME_ALT]),
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Epson".into());
    put_serial(r, snap.text(SERIAL), SERIAL, false);
    if r.identity.model.is_none() {
        r.identity.model = snap.text(MODEL);
    }
    if r.identity.firmware.is_none() {
        r.identity.firmware = snap
            .column(FW_VERSIONS)
            .into_iter()
            .find_map(|(_, v)| v.as_clean_text());
    }

    if let Some(v) = snap.int(MONO) {
        put_counter(
            r,
            "mono",
            v,
            MONO,
            Some("Epson B/W pages (unverified mapping)"),
        );
    }
    if let Some(v) = snap.int(COLOR) {
        put_counter(
            r,
            "color",
            v,
            COLOR,
            Some("Epson colour pages (unverified mapping)"),
        );
    }
    if let Some(v) = snap.int(TOTAL) {
        keep_counter(r, "epson_total", v, TOTAL, Some("Epson total pages"));
        if !r.counters.contains_key("total") {
            put_counter(
                r,
                "total",
                v,
                TOTAL,
                Some("Epson total pages (no prtMarkerLifeCount)"),
            );
        }
    }
    ink_table(snap, r);
}

fn ink_table(snap: &Snapshot, r: &mut Reading) {
    let names: Vec<(Vec<u32>, Value)> = snap
        .column(INK_NAME)
        .into_iter()
        .chain(snap.column(INK_NAME_ALT))
        .collect();
    for (idx, level) in snap.column(INK_LEVEL) {
        let Some(name) = names
            .iter()
            .find(|(i, _)| *i == idx)
            .and_then(|(_, v)| v.as_clean_text())
        else {
            continue;
        };
        let known = r
            .supplies
            .iter()
            .any(|s| s.description.eq_ignore_ascii_case(&name));
        if known {
            continue;
        }
        let level = level.as_i64();
        let percent = level.filter(|l| (0..=100).contains(l)).map(|l| l as f64);
        let lower = name.to_lowercase();
        let (kind, color) = if lower.contains("maintenance") {
            ("wasteInk", None)
        } else {
            let color = ["black", "cyan", "magenta", "yellow"]
                .into_iter()
                .find(|c| lower.contains(c));
            ("inkCartridge", color)
        };
        r.supplies.push(Supply {
            index: None,
            description: name,
            kind: Some(kind.into()),
            color: color.map(str::to_string),
            class: None,
            unit: percent.map(|_| "percent".to_string()),
            level,
            max: None,
            percent,
            state: match percent {
                Some(p) if p <= 0.0 && kind != "wasteInk" => SupplyState::Empty,
                Some(p) => SupplyState::Percent(p),
                None => SupplyState::Unknown,
            },
            remaining_pages: None,
            source: Some("epson".into()),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::printer::testutil::read_recording;

    const SYS: &str = "1.3.6.1.2.1.1.1.0|4|EPSON Built-in\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1248.1.1.2.1.3.5.69.69.80.83.57\n\
        1.3.6.1.2.1.2.2.1.2.1|4|EEPS9 Hard Ver.1.00 Firm Ver.0.99\n";

    #[test]
    fn epson_is_recognised_by_enterprise_and_the_nic_name_is_not_the_model() {
        let r = read_recording(SYS);
        assert_eq!(r.identity.vendor.as_deref(), Some("Epson"));
        assert_eq!(r.identity.model, None);
        assert_eq!(r.identity.firmware, None);
    }

    #[test]
    fn epson_serial_and_firmware_come_from_the_private_tree() {
        let rec = format!(
            "{SYS}1.3.6.1.4.1.1248.1.2.2.1.1.1.5.1|4|X9Z0000001\n1.3.6.1.4.1.1248.1.2.2.1.1.1.2.1|4|WF-999 Series\n\
             1.3.6.1.4.1.1248.1.2.2.2.1.1.2.1|4|QB12I3\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.identity.serial.as_deref(), Some("X9Z0000001"));
        assert_eq!(r.identity.model.as_deref(), Some("WF-999"));
        assert_eq!(r.identity.firmware.as_deref(), Some("QB12I3"));
    }

    #[test]
    fn epson_mono_and_colour_follow_the_validated_mapping_and_total_stays_standard() {
        let rec = format!(
            "{SYS}1.3.6.1.2.1.43.10.2.1.4.1.1|65|1500\n\
             1.3.6.1.4.1.1248.1.2.2.27.1.1.3.1.1|2|600\n1.3.6.1.4.1.1248.1.2.2.27.1.1.4.1.1|2|900\n\
             1.3.6.1.4.1.1248.1.2.2.27.1.1.30.1.1|2|1501\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.counters.get("mono"), Some(&600));
        assert_eq!(r.counters.get("color"), Some(&900));
        assert_eq!(r.counters.get("total"), Some(&1500));
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "epson_total" && c.value == 1501)
        );
    }

    #[test]
    fn epson_total_is_used_when_the_printer_mib_has_none() {
        let rec = format!("{SYS}1.3.6.1.4.1.1248.1.2.2.27.1.1.30.1.1|2|777\n");
        assert_eq!(read_recording(&rec).counters.get("total"), Some(&777));
    }

    #[test]
    fn epson_maintenance_box_is_added_beside_the_printer_mib_inks() {
        let rec = format!(
            "{SYS}1.3.6.1.2.1.43.11.1.1.5.1.1|2|5\n1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Ink Supply Unit T0001\n\
             1.3.6.1.2.1.43.11.1.1.8.1.1|2|100\n1.3.6.1.2.1.43.11.1.1.9.1.1|2|28\n\
             1.3.6.1.4.1.1248.1.2.2.28.1.1.2.1.1|2|28\n1.3.6.1.4.1.1248.1.2.2.28.1.1.2.1.2|2|85\n\
             1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.1|4x|426c61636b20496e6b20537570706c7920556e6974205430303031\n\
             1.3.6.1.4.1.1248.1.2.2.28.1.1.18.1.2|4|Maintenance Cartridge T0002\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.supplies.len(), 2, "{:?}", r.supplies);
        let mb = &r.supplies[1];
        assert_eq!(mb.description, "Maintenance Cartridge T0002");
        assert_eq!(mb.percent, Some(85.0));
        assert_eq!(mb.source.as_deref(), Some("epson"));
        assert_eq!(mb.index, None);
    }
}
