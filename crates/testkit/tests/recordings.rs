//! Our synthetic recordings in `tests/recordings` are well-formed and served intact.

use std::path::PathBuf;

use printscout_testkit::{Snmpsim, netsnmp, recordings_dir};

/// snmprec type tags used by our recordings (hex `x` suffix allowed on 4).
const TAGS: &[&str] = &["2", "4", "4x", "6", "64", "65", "66", "67", "70"];

fn recordings() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(recordings_dir())
        .expect("read tests/recordings")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "snmprec"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "recordings missing: {files:?}");
    files
}

fn arcs(oid: &str) -> Vec<u64> {
    oid.trim_start_matches('.')
        .split('.')
        .map(|a| a.parse().unwrap_or_else(|_| panic!("bad OID {oid}")))
        .collect()
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .expect("file stem")
        .to_string_lossy()
        .into_owned()
}

/// (OID, tag) of every record.
fn records(path: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("recordings are UTF-8");
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '|');
            let (Some(oid), Some(tag), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("{}: not OID|TAG|VALUE: {line}", path.display());
            };
            (oid.to_owned(), tag.to_owned())
        })
        .collect()
}

#[test]
fn recordings_are_sorted_typed_and_free_of_comments() {
    for path in recordings() {
        let text = std::fs::read_to_string(&path).expect("recordings are UTF-8");
        assert!(!text.contains('#'), "{}: contains '#'", path.display());
        assert!(
            text.ends_with('\n') && !text.contains("\n\n"),
            "{}",
            path.display()
        );
        let records = records(&path);
        for pair in records.windows(2) {
            assert!(
                arcs(&pair[0].0) < arcs(&pair[1].0),
                "{}: {} is not before {}",
                path.display(),
                pair[0].0,
                pair[1].0
            );
        }
        for (oid, tag) in &records {
            assert!(
                TAGS.contains(&tag.as_str()),
                "{}: {oid} has tag {tag}",
                path.display()
            );
        }
    }
}

#[test]
fn the_readme_documents_every_recording() {
    let readme =
        std::fs::read_to_string(recordings_dir().join("README.md")).expect("read README.md");
    for path in recordings() {
        let name = format!("`{}.snmprec`", stem(&path));
        assert!(
            readme.contains(&name),
            "README.md has no section for {name}"
        );
    }
}

#[test]
fn every_recording_walks_cleanly_through_snmpsim() {
    let sim = Snmpsim::start(&recordings_dir());
    for path in recordings() {
        let community = stem(&path);
        let walked = netsnmp::walk_v2c(sim.addr, &community, ".1.3.6.1")
            .unwrap_or_else(|e| panic!("{community}: {e}"));
        let walked: Vec<String> = walked.into_iter().map(|v| v.oid).collect();
        let expected: Vec<String> = records(&path)
            .into_iter()
            .map(|(oid, _)| format!(".{oid}"))
            .collect();
        assert_eq!(
            walked, expected,
            "{community}: the walk differs from the file"
        );
    }
}

#[test]
fn non_ascii_and_hex_descriptions_arrive_byte_for_byte() {
    let sim = Snmpsim::start(&recordings_dir());
    let toner = netsnmp::get_v2c(
        sim.addr,
        "sentinel-supplies",
        ".1.3.6.1.2.1.43.11.1.1.6.1.1",
    )
    .expect("snmpget");
    // "Tóner negro" in UTF-8; net-snmp prints non-ASCII octets as hex
    assert_eq!(toner, "Hex-STRING: 54 C3 B3 6E 65 72 20 6E 65 67 72 6F ");
    let drum = netsnmp::get_v2c(
        sim.addr,
        "sentinel-supplies",
        ".1.3.6.1.2.1.43.11.1.1.6.1.7",
    )
    .expect("snmpget");
    assert_eq!(drum, "STRING: \"Drum Unit Black\n0x5a3c9e1f7b2d4086\"");
}
