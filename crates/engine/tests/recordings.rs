//! Exact readings of our own synthetic recordings (`tests/recordings`, values
//! documented in its README) served by a real snmpsim on loopback: a mono
//! laser, a colour MFP with vendor counters, a printer with alerts and every
//! error bit, one with every supply sentinel, a Windows print server, and a
//! Brother whose counters live in a binary blob.

use std::sync::OnceLock;
use std::time::Duration;

use printscout_engine::printer::{Reading, SupplyState, read_device};
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_testkit::{Snmpsim, recordings_dir};

/// One simulator for the whole file (it serves every recording by community).
fn sim() -> &'static Snmpsim {
    static SIM: OnceLock<Snmpsim> = OnceLock::new();
    SIM.get_or_init(|| Snmpsim::start(&recordings_dir()))
}

fn read(stem: &str) -> Reading {
    let addr = sim().addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let opts = SnmpOptions {
        timeout: Duration::from_secs(2),
        ..SnmpOptions::default()
    };
    rt.block_on(read_device(
        &SnmpTransport::new(0),
        addr,
        &[Credential::community(stem, Version::V2c, stem)],
        &opts,
    ))
    .unwrap_or_else(|e| panic!("{stem}: {e}"))
}

fn supply(r: &Reading, index: u32) -> &printscout_engine::printer::Supply {
    r.supplies
        .iter()
        .find(|s| s.index == Some(index) && s.source.is_none())
        .unwrap_or_else(|| panic!("supply {index} in {:?}", r.supplies))
}

#[test]
fn the_mono_laser_reads_identity_counters_supply_trays_and_console() {
    let r = read("mono-laser");
    assert!(r.is_printer);
    assert_eq!(r.device_kind, "printer");
    let id = &r.identity;
    assert_eq!(id.vendor.as_deref(), Some("HP"));
    assert_eq!(id.model.as_deref(), Some("LaserJet Pro M404dn"));
    assert_eq!(id.serial.as_deref(), Some("VNBZZ00421"));
    assert_eq!(id.mac.as_deref(), Some("00:00:5e:00:53:21"));
    assert_eq!(id.hostname.as_deref(), Some("prn-hq-2f-01"));
    assert_eq!(id.location.as_deref(), Some("HQ 2nd floor, copy room"));
    assert_eq!(id.contact.as_deref(), Some("helpdesk@example.test"));
    assert_eq!(id.uptime_seconds, Some(86401));
    assert_eq!(r.counters["total"], 48213);
    assert_eq!(r.counters["since_power_on"], 1874);
    assert_eq!(r.counters["duplex"], 11920);
    assert_eq!(r.counters["jams"], 37);
    assert!(
        !r.counters.contains_key("color"),
        "a mono laser has no colour counter"
    );
    let total = r
        .counter_sources
        .iter()
        .find(|c| c.key == "total")
        .expect("source");
    assert_eq!(total.oid, "1.3.6.1.2.1.43.10.2.1.4.1.1");
    assert_eq!(total.unit.as_deref(), Some("impressions"));
    let toner = supply(&r, 1);
    assert_eq!(
        (toner.level, toner.max, toner.percent),
        (Some(5400), Some(10000), Some(54.0))
    );
    assert_eq!(toner.color.as_deref(), Some("black"));
    assert_eq!(toner.kind.as_deref(), Some("toner"));
    assert_eq!(r.trays.len(), 2);
    assert_eq!(r.trays[0].state, SupplyState::Empty);
    assert_eq!(r.trays[1].state, SupplyState::SomeRemaining);
    assert_eq!(r.console, vec!["Ready", "192.0.2.21"]);
    assert_eq!(r.status.device.as_deref(), Some("running"));
    assert_eq!(r.status.printer.as_deref(), Some("idle"));
    assert!(r.status.errors.is_empty());
    assert_eq!(r.status.overall, "ok");
    assert!(r.alerts.is_empty());
}

#[test]
fn the_colour_mfp_reads_vendor_counters_and_joins_colours_by_colorant_index() {
    let r = read("colour-mfp");
    assert!(r.is_printer);
    assert_eq!(r.device_kind, "mfp");
    assert_eq!(r.identity.vendor.as_deref(), Some("Konica Minolta"));
    assert_eq!(r.identity.model.as_deref(), Some("bizhub C300i"));
    assert_eq!(r.identity.firmware.as_deref(), Some("GC7-R6.23"));
    assert_eq!(r.identity.serial.as_deref(), Some("AA2JZZ00042"));
    for (k, v) in [
        ("total", 182340),
        ("duplex", 40211),
        ("copy_mono", 30120),
        ("print_mono", 95877),
        ("copy_color", 12003),
        ("print_color", 44340),
        ("scan_total", 8812),
    ] {
        assert_eq!(r.counters.get(k), Some(&v), "{k}");
    }
    // Rows are C, M, Y, K; colorant indexes say black = 1.
    let colours: Vec<_> = (1..=4)
        .map(|i| supply(&r, i).color.clone().unwrap_or_default())
        .collect();
    assert_eq!(colours, ["cyan", "magenta", "yellow", "black"]);
    assert_eq!(supply(&r, 4).percent, Some(12.0));
    assert_eq!(supply(&r, 8).percent, Some(10.0));
    let waste = supply(&r, 9);
    assert_eq!(
        (waste.level, waste.max, waste.percent),
        (Some(-3), Some(-2), None)
    );
    assert_eq!(waste.state, SupplyState::SomeRemaining);
    assert_eq!(waste.class.as_deref(), Some("receptacleThatIsFilled"));
    assert_eq!(supply(&r, 10).percent, Some(40.0));
    assert_eq!(r.trays.len(), 4);
    assert_eq!(r.trays[2].state, SupplyState::Empty);
    assert_eq!(r.trays[3].state, SupplyState::Unknown);
    // snmpsim answers at most ~45 varbinds per GETBULK: ~240 values need 5-6.
    assert!(
        r.stats.requests <= 6,
        "few round trips: {}",
        r.stats.requests
    );
}

#[test]
fn every_error_bit_and_every_alert_row_is_reported_by_name() {
    let r = read("alerts-errors");
    assert_eq!(r.status.device.as_deref(), Some("down"));
    assert_eq!(r.status.printer.as_deref(), Some("other"));
    assert_eq!(r.status.error_state_hex.as_deref(), Some("fffe"));
    assert_eq!(
        r.status.errors,
        [
            "lowPaper",
            "noPaper",
            "lowToner",
            "noToner",
            "doorOpen",
            "jammed",
            "offline",
            "serviceRequested",
            "inputTrayMissing",
            "outputTrayMissing",
            "markerSupplyMissing",
            "outputNearFull",
            "outputFull",
            "inputTrayEmpty",
            "overduePreventMaint"
        ]
    );
    assert_eq!(r.status.overall, "error");
    let got: Vec<_> = r
        .alerts
        .iter()
        .map(|a| {
            (
                a.index,
                a.severity.as_deref().unwrap_or(""),
                a.code_name.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "critical", "jam"),
            (7, "critical", "doorOpen"),
            (12, "critical", "inputMediaSupplyEmpty"),
            (13, "critical", "markerTonerEmpty"),
            (20, "warning", "markerTonerAlmostEmpty"),
        ]
    );
    let jam = &r.alerts[0];
    assert_eq!(jam.group.as_deref(), Some("input"));
    assert_eq!(jam.group_index, Some(2));
    assert_eq!(jam.description.as_deref(), Some("Paper jam in tray 2"));
    assert_eq!(jam.time_ticks, Some(7012000));
    assert_eq!(r.console[0], "Paper jam in tray 2");
    assert_eq!(r.counters["total"], 23871);
    assert_eq!(r.counter_sources[0].unit.as_deref(), Some("sheets"));
    let black = supply(&r, 4);
    assert_eq!(
        (black.level, black.percent, black.state),
        (Some(0), Some(0.0), SupplyState::Empty)
    );
}

#[test]
fn supply_sentinels_are_states_never_percentages() {
    let r = read("sentinel-supplies");
    let s = |i| supply(&r, i);
    assert_eq!(
        (s(1).level, s(1).percent, s(1).state),
        (Some(-100), None, SupplyState::Empty)
    );
    assert_eq!(
        (s(2).level, s(2).percent, s(2).state),
        (Some(-3), None, SupplyState::SomeRemaining)
    );
    assert_eq!(
        (s(3).level, s(3).max, s(3).percent, s(3).state),
        (Some(-2), Some(-2), None, SupplyState::Unknown)
    );
    assert_eq!(s(4).percent, Some(45.0));
    assert_eq!(
        (s(5).level, s(5).percent, s(5).state),
        (Some(-1), None, SupplyState::NotApplicable)
    );
    assert_eq!((s(6).level, s(6).state), (Some(0), SupplyState::Empty));
    assert_eq!(s(7).percent, Some(25.0));
    assert_eq!(
        s(7).description,
        "Drum Unit Black",
        "the hex second line is folded away"
    );
    assert_eq!(s(1).description, "Tóner negro", "UTF-8 descriptions decode");
    // Ricoh's own table gives the real percentages the Printer-MIB hides.
    let ricoh: Vec<_> = r
        .supplies
        .iter()
        .filter(|s| s.source.as_deref() == Some("ricoh"))
        .collect();
    assert!(
        ricoh
            .iter()
            .any(|s| s.color.as_deref() == Some("cyan") && s.percent == Some(30.0)),
        "{ricoh:?}"
    );
    assert!(
        ricoh
            .iter()
            .any(|s| s.color.as_deref() == Some("magenta") && s.percent == Some(70.0))
    );
    assert!(
        r.supplies
            .iter()
            .all(|s| s.percent.is_none_or(|p| (0.0..=100.0).contains(&p)))
    );
    assert_eq!(r.identity.serial.as_deref(), Some("E17ZZ300042"));
    assert_eq!(r.counters["total"], 61234);
    assert_eq!(r.counters["copy_total"], 20110);
    assert_eq!(r.counters["print_total"], 39834);
    assert_eq!(r.counters["fax"], 1290);
    assert_eq!(r.status.errors, ["noToner"]);
    assert_eq!(r.console[0], "Sustituya el tóner negro");
}

#[test]
fn a_windows_print_server_with_four_queues_is_not_a_printer() {
    let r = read("windows-print-server");
    assert!(!r.is_printer, "{}", r.classification);
    assert_eq!(r.device_kind, "not_a_printer");
    assert_eq!(
        r.identity.vendor, None,
        "queue drivers do not make it an HP"
    );
    assert_eq!(r.identity.serial, None);
    assert!(r.supplies.is_empty());
    assert!(!r.counters.contains_key("total"));
    assert_eq!(
        r.identity.mac.as_deref(),
        Some("00:00:5e:00:53:25"),
        "the loopback's empty MAC is skipped"
    );
}

#[test]
fn a_brother_reads_its_counters_from_the_binary_blob() {
    let r = read("brother-blob");
    assert!(r.is_printer);
    assert_eq!(r.identity.vendor.as_deref(), Some("Brother"));
    assert_eq!(r.identity.model.as_deref(), Some("HL-L2350DW"));
    assert_eq!(r.identity.serial.as_deref(), Some("U64ZZ2N00042"));
    assert_eq!(r.identity.firmware.as_deref(), Some("1.35"));
    assert_eq!(
        r.counters["total"], 8754,
        "the blob, not prtMarkerLifeCount (8801)"
    );
    assert!(
        r.counter_sources.iter().any(|c| c.value == 8801),
        "the standard count is kept beside it"
    );
    assert_eq!(r.counters["duplex"], 2210);
    assert_eq!(r.counters["image"], 9102);
    let brother: Vec<_> = r
        .supplies
        .iter()
        .filter(|s| s.source.as_deref() == Some("brother"))
        .collect();
    assert!(
        brother
            .iter()
            .any(|s| s.description.contains("Drum Unit") && s.percent == Some(74.0)),
        "{brother:?}"
    );
    assert!(
        brother
            .iter()
            .any(|s| s.description.contains("Black Toner") && s.percent == Some(40.0))
    );
}
