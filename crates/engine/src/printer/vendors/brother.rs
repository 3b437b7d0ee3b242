//! Brother (enterprise 2435): laser and inkjet printers and MFPs.
//!
//! Recognition: sysObjectID under `1.3.6.1.4.1.2435`, or — on agents that
//! hide the system group and Host-Resources — either probe answering in the
//! first round: the IEEE 1284 device ID `…2435.2.3.9.1.1.7.0`
//! (`MFG:Brother;CMD:…;MDL:HL-L2340DW series;CLS:PRINTER;CID:…;`) or the
//! serial `…2435.2.3.9.4.2.1.5.5.1.0`.
//!
//! Identity (PROTOCOLS.md §1.6, bieniu/brother `brother/const.py`): model =
//! the device ID's `MDL:` without " series"; serial = `…5.5.1.0` (confirmed by
//! bieniu/brother and glpi-agent, preferred over the Printer-MIB); firmware =
//! `…5.5.17.0`, else the `Firmware Ver.` word of sysDescr (NC-xxxx print
//! servers); front-panel text = `…5.4.5.2.0`, decoded in the character set
//! `prtLocalizationCharacterSet` names (UTF-8, Latin-1/2/5, Cyrillic, Roman-8).
//!
//! Blobs (one source: bieniu/brother). `…5.5.{8,10,11}.0` are octet strings
//! of records `code, 0x01, length, value[length]` followed by one checksum
//! byte. The value is big-endian; in the maintenance blob a 4-byte
//! percentage is in hundredths (`0x2648` = 97.92 %), while old inkjets send a
//! 2-byte `(remaining, out-of)` pair (`04 14` = 4/20 = 20 %), and old lasers
//! 1-byte status codes that are not percentages. Decoding stops at the first
//! record that does not fit, so truncated or garbage blobs yield what was
//! whole before the damage and never panic.
//!
//! Counters, from the counter blob `…5.5.10.0`:
//! * `total` = code `00` (the billing page counter). It **replaces**
//!   prtMarkerLifeCount, which stays in `counter_sources`: on the same device
//!   they can differ (bieniu/brother's HL-L2340DW: blob 986, Printer-MIB
//!   1279) and the blob is what Brother's own status page and the library
//!   report. Without the blob, `total` stays prtMarkerLifeCount.
//! * `mono` = `01`, `color` = `02`, `duplex` = `06`, `black`/`cyan`/
//!   `magenta`/`yellow` = `12`–`15` (per-colorant pages), `image` = `16`.
//! * Any other code (`07`, `08` seen on colour models) is kept as
//!   `brother_counter_XX`. Drum page counts from the maintenance blob are
//!   kept as `brother_*drum_count`.
//!
//! Supplies (extra entries with `index: None`, `source: "brother"`), from the
//! maintenance blob `…5.5.8.0` (percent remaining, status, drum counts) and
//! the next-care blob `…5.5.11.0` (pages remaining), named as the library
//! names them: `Black Toner` (`Black Ink` on inkjets), `Drum Unit`,
//! `Cyan Drum Unit`, `Belt Unit`, `Fuser Unit`, `Laser Unit`, `PF Kit 1`,
//! `PF Kit MP`. Whether the device is an inkjet is decided from
//! prtMarkerMarkTech, then the Printer-MIB supply types, then the device ID's
//! `CID:` (`Brother Laser …` vs `… Jpeg …`), then the model name (`DCP-J`,
//! `MFC-J`, `MFC-T`, old `MFC-5490CN`-style inkjets); inkjets have no
//! drum/belt/fuser codes and no next-care blob. Status code 1 reads as OK and
//! 2 as low (inferred: 2 accompanies 8 % and 2 % toner, 1 accompanies 10 % and
//! more, in the corpus).
//!
//! Printer-MIB quirk (PROTOCOLS.md §1.4, librenms #3030/#4637): Brother
//! toner levels 0–3 with no real capacity are an enum (0 full, 1 low, 2 and 3
//! empty), not a number of units. The raw level stays; the state becomes OK,
//! low or empty and no percentage is invented.

use super::{VendorModule, keep_counter, oids, put_counter, put_serial};
use crate::printer::model::{Reading, Supply, SupplyState};
use crate::snmp::Snapshot;
use crate::snmp::decode_text;
use crate::snmp::walk::FetchPlan;

const DEVICE_ID: &str = "1.3.6.1.4.1.2435.2.3.9.1.1.7.0";
const SERIAL: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0";
const MAINTENANCE: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0";
const COUNTERS: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0";
const NEXT_CARE: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.11.0";
const FIRMWARE: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.17.0";
const STATUS_TEXT: &str = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.4.5.2.0";
const CHARSET: &str = "1.3.6.1.2.1.43.7.1.1.4.1.1";
const MARK_TECH: &str = "1.3.6.1.2.1.43.10.2.1.2";
const SUPPLY_TYPE: &str = "1.3.6.1.2.1.43.11.1.1.5";

/// The Brother module.
pub static MODULE: VendorModule = VendorModule {
    name: "Brother",
    enterprises: &[2435],
    words: &["brother"],
    probes: &[DEVICE_ID, SERIAL],
    extra_context: None,
    plan,
    apply,
};

fn plan(_: &Snapshot) -> FetchPlan {
    FetchPlan {
        scalars: oids(&[
            DEVICE_ID,
            SERIAL,
            MAINTENANCE,
            COUNTERS,
            NEXT_CARE,
            FIRMWARE,
            STATUS_TEXT,
            CHARSET,
        ]),
        subtrees: vec![],
        first_rows: vec![],
    }
}

fn apply(snap: &Snapshot, r: &mut Reading) {
    r.identity.vendor = Some("Brother".into());
    let id = snap.text(DEVICE_ID).unwrap_or_default();
    if let Some(m) = device_id_field(&id, &["MDL", "MODEL"]) {
        let m = strip_series(&m);
        if !m.is_empty() {
            r.identity.model = Some(m);
        }
    }
    put_serial(r, snap.text(SERIAL), SERIAL, true);
    r.identity.firmware = snap.text(FIRMWARE).or_else(|| {
        r.identity
            .description
            .as_deref()
            .and_then(firmware_from_descr)
    });

    counters(snap, r);
    let engine = engine(snap, &id, r.identity.model.as_deref().unwrap_or(""));
    vendor_supplies(snap, engine, r);
    toner_enum(r);

    if let Some(t) = snap
        .at(STATUS_TEXT)
        .and_then(|v| v.as_bytes())
        .map(|b| decode_charset(b, snap.int(CHARSET)))
    {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() && !r.console.contains(&t) {
            r.console.push(t);
        }
    }
}

/// A field of an IEEE 1284 device ID (`KEY:value;`), keys compared without case.
pub(crate) fn device_id_field(id: &str, keys: &[&str]) -> Option<String> {
    id.split(';').find_map(|part| {
        let (k, v) = part.split_once(':')?;
        let k = k.trim();
        keys.iter()
            .any(|want| k.eq_ignore_ascii_case(want))
            .then(|| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn strip_series(m: &str) -> String {
    let t = m.trim();
    let lower = t.to_ascii_lowercase();
    let t = if lower.ends_with(" series") {
        &t[..t.len() - " series".len()]
    } else {
        t
    };
    let t = t.strip_prefix("Brother ").unwrap_or(t);
    t.trim().to_string()
}

/// `Brother NC-6800h, Firmware Ver.1.01  (08.12.12),MID 84UB05` → `1.01`.
fn firmware_from_descr(d: &str) -> Option<String> {
    let i = d.find("Firmware Ver.")?;
    let v: String = d[i + "Firmware Ver.".len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',' && *c != '(')
        .collect();
    (!v.is_empty()).then_some(v)
}

/// One record of a Brother blob.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    /// What the record is about.
    pub code: u8,
    /// The value octets (1–4 of them).
    pub value: Vec<u8>,
}

impl Record {
    /// The value as a big-endian unsigned number.
    pub fn number(&self) -> i64 {
        self.value
            .iter()
            .fold(0i64, |acc, &b| (acc << 8) | i64::from(b))
    }

    /// The value as a percentage remaining: 4 octets are hundredths of a
    /// percent, 2 octets a `(remaining, out-of)` pair; 1 octet is a status code.
    pub fn percent(&self) -> Option<f64> {
        let p = match self.value.as_slice() {
            [_, _, _, _] => self.number() as f64 / 100.0,
            &[n, d] if d > 0 && n <= d => f64::from(n) * 100.0 / f64::from(d),
            _ => return None,
        };
        (0.0..=100.0)
            .contains(&p)
            .then_some((p * 100.0).round() / 100.0)
    }
}

/// Splits a blob into records. Stops at the checksum byte, at a record whose
/// type octet is not 0x01, whose length is 0 or over 4, or that runs past the end.
pub(crate) fn records(blob: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 <= blob.len() {
        let (code, kind, len) = (blob[i], blob[i + 1], usize::from(blob[i + 2]));
        let end = i + 3 + len;
        if kind != 0x01 || len == 0 || len > 4 || end > blob.len() {
            break;
        }
        out.push(Record {
            code,
            value: blob[i + 3..end].to_vec(),
        });
        i = end;
    }
    out
}

fn blob(snap: &Snapshot, oid: &str) -> Vec<Record> {
    snap.at(oid)
        .and_then(|v| v.as_bytes())
        .map(records)
        .unwrap_or_default()
}

fn blob_oid(oid: &str, code: u8) -> String {
    format!("blob:{oid}#{code:02x}")
}

const COUNTER_CODES: &[(u8, &str, &str)] = &[
    (0x00, "total", "page counter"),
    (0x01, "mono", "B/W counter"),
    (0x02, "color", "colour counter"),
    (0x06, "duplex", "duplex unit pages counter"),
    (0x12, "black", "black counter"),
    (0x13, "cyan", "cyan counter"),
    (0x14, "magenta", "magenta counter"),
    (0x15, "yellow", "yellow counter"),
    (0x16, "image", "image counter"),
];

fn counters(snap: &Snapshot, r: &mut Reading) {
    for rec in blob(snap, COUNTERS) {
        let oid = blob_oid(COUNTERS, rec.code);
        match COUNTER_CODES.iter().find(|c| c.0 == rec.code) {
            Some((_, key, descr)) => put_counter(r, key, rec.number(), &oid, Some(descr)),
            None => keep_counter(
                r,
                &format!("brother_counter_{:02x}", rec.code),
                rec.number(),
                &oid,
                Some("Brother counter blob code without a known meaning"),
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    Laser,
    Ink,
}

fn engine(snap: &Snapshot, device_id: &str, model: &str) -> Engine {
    for (_, v) in snap.column(MARK_TECH) {
        match v.as_i64() {
            Some(3..=5) => return Engine::Laser,
            Some(12..=14) => return Engine::Ink,
            _ => {}
        }
    }
    for (_, v) in snap.column(SUPPLY_TYPE) {
        match v.as_i64() {
            Some(3 | 9 | 21) => return Engine::Laser,
            Some(5 | 6) => return Engine::Ink,
            _ => {}
        }
    }
    if let Some(cid) = device_id_field(device_id, &["CID"]).map(|c| c.to_ascii_lowercase()) {
        if cid.contains("laser") {
            return Engine::Laser;
        }
        if cid.contains("ink") || cid.contains("jpeg") {
            return Engine::Ink;
        }
    }
    if inkjet_model(model) {
        Engine::Ink
    } else {
        Engine::Laser
    }
}

/// Brother's inkjet model names: `DCP-J…`, `MFC-J…`, `HL-J…`, `DCP-T…`,
/// `MFC-T…`, and the older `MFC-5490CN` / `DCP-165C` style (digits then `C`,
/// except the 9xxx colour lasers).
fn inkjet_model(model: &str) -> bool {
    let m = model.trim().to_ascii_uppercase();
    let Some((family, rest)) = m.split_once('-') else {
        return false;
    };
    if !matches!(family, "DCP" | "MFC" | "HL" | "FAX") {
        return false;
    }
    if rest.starts_with('J')
        || (rest.starts_with('T') && family != "HL")
        || (family == "HL" && rest.starts_with("T4"))
    {
        return true;
    }
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    family != "HL"
        && !digits.is_empty()
        && !digits.starts_with('9')
        && rest[digits.len()..].starts_with('C')
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Toner(&'static str),
    Drum(Option<&'static str>),
    Belt,
    Fuser,
    Laser,
    PfKit1,
    PfKitMp,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Field {
    Percent,
    Pages,
    Status,
    Count,
}

const K: &str = "black";
const C: &str = "cyan";
const M: &str = "magenta";
const Y: &str = "yellow";

/// Blob code → which part and which of its values it carries.
type CodeTable = &'static [(u8, Part, Field)];

/// Maintenance blob (`…5.5.8.0`) codes for lasers.
const LASER_MAINTENANCE: CodeTable = &[
    (0x11, Part::Drum(None), Field::Count),
    (0x41, Part::Drum(None), Field::Percent),
    (0x63, Part::Drum(None), Field::Status),
    (0x31, Part::Toner(K), Field::Status),
    (0x32, Part::Toner(C), Field::Status),
    (0x33, Part::Toner(M), Field::Status),
    (0x34, Part::Toner(Y), Field::Status),
    (0x69, Part::Belt, Field::Percent),
    (0x6a, Part::Fuser, Field::Percent),
    (0x6b, Part::Laser, Field::Percent),
    (0x6c, Part::PfKitMp, Field::Percent),
    (0x6d, Part::PfKit1, Field::Percent),
    (0x6f, Part::Toner(K), Field::Percent),
    (0x70, Part::Toner(C), Field::Percent),
    (0x71, Part::Toner(M), Field::Percent),
    (0x72, Part::Toner(Y), Field::Percent),
    (0x7e, Part::Drum(Some(K)), Field::Count),
    (0x73, Part::Drum(Some(C)), Field::Count),
    (0x74, Part::Drum(Some(M)), Field::Count),
    (0x75, Part::Drum(Some(Y)), Field::Count),
    (0x7f, Part::Drum(Some(K)), Field::Status),
    (0x76, Part::Drum(Some(C)), Field::Status),
    (0x77, Part::Drum(Some(M)), Field::Status),
    (0x78, Part::Drum(Some(Y)), Field::Status),
    (0x80, Part::Drum(Some(K)), Field::Percent),
    (0x79, Part::Drum(Some(C)), Field::Percent),
    (0x7a, Part::Drum(Some(M)), Field::Percent),
    (0x7b, Part::Drum(Some(Y)), Field::Percent),
    (0xa1, Part::Toner(K), Field::Percent),
    (0xa2, Part::Toner(C), Field::Percent),
    (0xa3, Part::Toner(M), Field::Percent),
    (0xa4, Part::Toner(Y), Field::Percent),
];

/// Maintenance blob codes for inkjets.
const INK_MAINTENANCE: CodeTable = &[
    (0x31, Part::Toner(K), Field::Status),
    (0x32, Part::Toner(C), Field::Status),
    (0x33, Part::Toner(M), Field::Status),
    (0x34, Part::Toner(Y), Field::Status),
    (0x6f, Part::Toner(K), Field::Percent),
    (0x70, Part::Toner(C), Field::Percent),
    (0x71, Part::Toner(M), Field::Percent),
    (0x72, Part::Toner(Y), Field::Percent),
    (0xa1, Part::Toner(K), Field::Percent),
    (0xa2, Part::Toner(C), Field::Percent),
    (0xa3, Part::Toner(M), Field::Percent),
    (0xa4, Part::Toner(Y), Field::Percent),
];

/// Next-care blob (`…5.5.11.0`) codes: pages until replacement (lasers).
const LASER_NEXT_CARE: CodeTable = &[
    (0x73, Part::Laser, Field::Pages),
    (0x77, Part::PfKit1, Field::Pages),
    (0x82, Part::Drum(None), Field::Pages),
    (0x86, Part::PfKitMp, Field::Pages),
    (0x88, Part::Belt, Field::Pages),
    (0x89, Part::Fuser, Field::Pages),
    (0xa4, Part::Drum(Some(K)), Field::Pages),
    (0xa5, Part::Drum(Some(C)), Field::Pages),
    (0xa6, Part::Drum(Some(M)), Field::Pages),
    (0xa7, Part::Drum(Some(Y)), Field::Pages),
];

#[derive(Default)]
struct Values {
    percent: Option<f64>,
    pages: Option<i64>,
    status: Option<i64>,
}

fn vendor_supplies(snap: &Snapshot, engine: Engine, r: &mut Reading) {
    let mut parts: Vec<(Part, Values)> = Vec::new();
    let (maintenance, next_care): (CodeTable, CodeTable) = match engine {
        Engine::Laser => (LASER_MAINTENANCE, LASER_NEXT_CARE),
        Engine::Ink => (INK_MAINTENANCE, &[]),
    };
    let sources: [(&str, CodeTable); 2] = [(MAINTENANCE, maintenance), (NEXT_CARE, next_care)];
    for (oid, table) in sources {
        if table.is_empty() {
            continue;
        }
        for rec in blob(snap, oid) {
            let Some(&(_, part, field)) = table.iter().find(|t| t.0 == rec.code) else {
                if oid == NEXT_CARE {
                    keep_counter(
                        r,
                        &format!("brother_next_care_{:02x}", rec.code),
                        rec.number(),
                        &blob_oid(oid, rec.code),
                        Some("Brother next-care blob code without a known meaning"),
                    );
                }
                continue;
            };
            if field == Field::Count {
                let key = match part {
                    Part::Drum(Some(c)) => format!("brother_{c}_drum_count"),
                    _ => "brother_drum_count".to_string(),
                };
                keep_counter(
                    r,
                    &key,
                    rec.number(),
                    &blob_oid(oid, rec.code),
                    Some("pages printed on the drum"),
                );
                continue;
            }
            let i = match parts.iter().position(|(p, _)| *p == part) {
                Some(i) => i,
                None => {
                    parts.push((part, Values::default()));
                    parts.len() - 1
                }
            };
            let v = &mut parts[i].1;
            match field {
                Field::Percent => v.percent = v.percent.or(rec.percent()),
                Field::Pages => v.pages = v.pages.or(Some(rec.number())),
                Field::Status => v.status = v.status.or(Some(rec.number())),
                Field::Count => {}
            }
        }
    }
    parts.sort_by_key(|(p, _)| rank(*p));
    for (part, v) in parts {
        if v.percent.is_none() && v.pages.is_none() && v.status.is_none() {
            continue;
        }
        let state = match (v.percent, v.pages, v.status) {
            (Some(p), _, _) if p <= 0.0 => SupplyState::Empty,
            (Some(p), _, _) => SupplyState::Percent(p),
            (None, Some(0), _) => SupplyState::Empty,
            (None, _, Some(1)) => SupplyState::Ok,
            (None, _, Some(2)) => SupplyState::Low,
            _ => SupplyState::Unknown,
        };
        let (description, kind, color) = describe(part, engine);
        r.supplies.push(Supply {
            index: None,
            description,
            kind: Some(kind.to_string()),
            color: color.map(str::to_string),
            class: Some("supplyThatIsConsumed".into()),
            unit: v.percent.map(|_| "percent".to_string()),
            level: None,
            max: None,
            percent: v.percent,
            state,
            remaining_pages: v.pages,
            source: Some("brother".into()),
        });
    }
}

/// Display order: toners, drums, then the service parts.
fn rank(p: Part) -> u8 {
    let colour = |c: Option<&str>| match c {
        Some("black") | None => 0,
        Some("cyan") => 1,
        Some("magenta") => 2,
        _ => 3,
    };
    match p {
        Part::Toner(c) => colour(Some(c)),
        Part::Drum(c) => 10 + colour(c),
        Part::Belt => 20,
        Part::Fuser => 21,
        Part::Laser => 22,
        Part::PfKit1 => 23,
        Part::PfKitMp => 24,
    }
}

fn capital(c: &str) -> String {
    let mut ch = c.chars();
    ch.next()
        .map(|f| f.to_uppercase().chain(ch).collect())
        .unwrap_or_default()
}

fn describe(part: Part, engine: Engine) -> (String, &'static str, Option<&'static str>) {
    match part {
        Part::Toner(c) if engine == Engine::Ink => (format!("{} Ink", capital(c)), "ink", Some(c)),
        Part::Toner(c) => (format!("{} Toner", capital(c)), "toner", Some(c)),
        Part::Drum(None) => ("Drum Unit".into(), "opc", None),
        Part::Drum(Some(c)) => (format!("{} Drum Unit", capital(c)), "opc", Some(c)),
        Part::Belt => ("Belt Unit".into(), "transferUnit", None),
        Part::Fuser => ("Fuser Unit".into(), "fuser", None),
        Part::Laser => ("Laser Unit".into(), "laserUnit", None),
        Part::PfKit1 => ("PF Kit 1".into(), "paperFeedKit", None),
        Part::PfKitMp => ("PF Kit MP".into(), "paperFeedKit", None),
    }
}

/// Printer-MIB toner/ink rows whose level is Brother's 0–3 enum (no real capacity).
fn toner_enum(r: &mut Reading) {
    for s in r
        .supplies
        .iter_mut()
        .filter(|s| s.index.is_some() && s.source.is_none())
    {
        let consumable = matches!(
            s.kind.as_deref(),
            Some("toner" | "tonerCartridge" | "ink" | "inkCartridge")
        );
        if !consumable || s.max.is_some_and(|m| m > 0) || s.unit.as_deref() == Some("percent") {
            continue;
        }
        s.state = match s.level {
            Some(0) => SupplyState::Ok,
            Some(1) => SupplyState::Low,
            Some(2 | 3) => SupplyState::Empty,
            _ => continue,
        };
        s.percent = None;
    }
}

/// Upper halves (0xA0–0xFF) of the 8-bit sets Brother panels use.
const ROMAN8: &str = "\u{a0}ÀÂÈÊËÎÏ´ˋˆ¨˜ÙÛ₤¯Ýý°ÇçÑñ¡¿¤£¥§ƒ¢âêôûáéóúàèòùäëöüÅîØÆåíøæÄìÖÜÉïßÔÁÃãÐðÍÌÓÒÕõŠšÚŸÿÞþ·µ¶¾—¼½ªº«■»±\u{fffd}";
const LATIN2: &str = "\u{a0}Ą˘Ł¤ĽŚ§¨ŠŞŤŹ\u{ad}ŽŻ°ą˛ł´ľśˇ¸šşťź˝žżŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢßŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙";

/// Decodes panel text in the IANA character set `prtLocalizationCharacterSet`
/// names: 3 ASCII, 4 Latin-1, 5 Latin-2, 8 Cyrillic (ISO 8859-5), 12 Latin-5,
/// 106 UTF-8, 2004 HP Roman-8; anything else UTF-8, else Latin-1.
pub(crate) fn decode_charset(bytes: &[u8], charset: Option<i64>) -> String {
    let bytes = match bytes.iter().position(|&b| b == 0) {
        Some(i) => &bytes[..i],
        None => bytes,
    };
    let table = |t: &str, b: u8| t.chars().nth(usize::from(b - 0xa0)).unwrap_or('\u{fffd}');
    let map = |f: &dyn Fn(u8) -> char| {
        bytes
            .iter()
            .map(|&b| if b < 0xa0 { b as char } else { f(b) })
            .collect::<String>()
    };
    let s = match charset {
        Some(2004) => map(&|b| table(ROMAN8, b)),
        Some(5) => map(&|b| table(LATIN2, b)),
        Some(8) => map(&|b| match b {
            0xa0 => '\u{a0}',
            0xad => '\u{ad}',
            0xf0 => '№',
            0xfd => '§',
            _ => char::from_u32(0x0400 + u32::from(b) - 0xa0).unwrap_or('\u{fffd}'),
        }),
        Some(12) => map(&|b| match b {
            0xd0 => 'Ğ',
            0xdd => 'İ',
            0xde => 'Ş',
            0xf0 => 'ğ',
            0xfd => 'ı',
            0xfe => 'ş',
            _ => b as char,
        }),
        Some(3 | 4) => bytes.iter().map(|&b| b as char).collect(),
        _ => decode_text(bytes),
    };
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::testutil::read_recording;

    const ID: &str = "1.3.6.1.4.1.2435.2.3.9.1.1.7.0|4|MFG:Brother;CMD:PJL,HBP,URF;MDL:HL-L9999DW series;CLS:PRINTER;CID:Brother Laser Type1;\n";

    fn supply<'a>(r: &'a Reading, d: &str) -> &'a Supply {
        r.supplies
            .iter()
            .find(|s| s.description == d)
            .unwrap_or_else(|| panic!("no supply {d}: {:?}", r.supplies))
    }

    #[test]
    fn brother_without_system_group_is_found_by_its_device_id() {
        let rec = format!(
            "{ID}1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0|4|E12345X6N789\n1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.17.0|4|1.23\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.identity.vendor.as_deref(), Some("Brother"));
        assert_eq!(r.identity.model.as_deref(), Some("HL-L9999DW"));
        assert_eq!(r.identity.serial.as_deref(), Some("E12345X6N789"));
        assert_eq!(r.identity.firmware.as_deref(), Some("1.23"));
    }

    #[test]
    fn brother_total_is_the_blob_page_counter_and_the_standard_one_is_kept() {
        let rec = format!(
            "{ID}1.3.6.1.2.1.43.10.2.1.4.1.1|65|2000\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0|4x|00010400000400020104000000640101040000012c0601040000003207010400000009ff\n"
        );
        let r = read_recording(&rec);
        assert_eq!(r.counters.get("total"), Some(&1024));
        assert_eq!(r.counters.get("color"), Some(&100));
        assert_eq!(r.counters.get("mono"), Some(&300));
        assert_eq!(r.counters.get("duplex"), Some(&50));
        assert!(
            r.counter_sources.iter().any(|c| c.key == "total"
                && c.value == 2000
                && c.oid.starts_with("1.3.6.1.2.1.43"))
        );
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "brother_counter_07" && c.value == 9)
        );
        assert!(r.is_printer);
    }

    #[test]
    fn brother_laser_maintenance_blobs_become_named_supplies() {
        let rec = format!(
            "{ID}1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|630104000000011101040000014041010400002198310104000000026f010400000320ff\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.11.0|4x|8201040000157c7301040000c35088010400000000ff\n"
        );
        let r = read_recording(&rec);
        let toner = supply(&r, "Black Toner");
        assert_eq!(toner.percent, Some(8.0));
        assert_eq!(toner.index, None);
        assert_eq!(toner.source.as_deref(), Some("brother"));
        let drum = supply(&r, "Drum Unit");
        assert_eq!(drum.percent, Some(86.0));
        assert_eq!(drum.remaining_pages, Some(5500));
        assert_eq!(supply(&r, "Laser Unit").remaining_pages, Some(50000));
        assert_eq!(supply(&r, "Belt Unit").state, SupplyState::Empty);
        assert!(
            r.counter_sources
                .iter()
                .any(|c| c.key == "brother_drum_count" && c.value == 320)
        );
    }

    #[test]
    fn brother_colour_laser_has_one_drum_and_toner_per_colour() {
        let rec = format!(
            "{ID}1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|79010400001f40800104000023287101040000012c330104000000026d0104000025e4ff\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.11.0|4x|a501040000100077010400002000ff\n"
        );
        let r = read_recording(&rec);
        let cyan = supply(&r, "Cyan Drum Unit");
        assert_eq!(
            (cyan.percent, cyan.remaining_pages),
            (Some(80.0), Some(4096))
        );
        assert_eq!(supply(&r, "Black Drum Unit").percent, Some(90.0));
        let magenta = supply(&r, "Magenta Toner");
        assert_eq!(magenta.percent, Some(3.0));
        assert_eq!(magenta.color.as_deref(), Some("magenta"));
        let kit = supply(&r, "PF Kit 1");
        assert_eq!((kit.percent, kit.remaining_pages), (Some(97.0), Some(8192)));
    }

    #[test]
    fn brother_inkjets_report_ink_not_toner_and_no_drum() {
        let rec = "1.3.6.1.4.1.2435.2.3.9.1.1.7.0|4|MFG:Brother;CMD:PJL,HBP;MDL:MFC-J9999DW;CLS:PRINTER;\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|630104000000011101040000036f41010400002454310104000000016f0104000011f8ff\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.11.0|4x|82010400002b71ff\n";
        let r = read_recording(rec);
        assert_eq!(supply(&r, "Black Ink").percent, Some(46.0));
        assert!(
            r.supplies.iter().all(|s| !s.description.contains("Drum")),
            "{:?}",
            r.supplies
        );
    }

    #[test]
    fn old_brother_inkjets_send_remaining_out_of_pairs() {
        let rec = "1.3.6.1.4.1.2435.2.3.9.1.1.7.0|4|MFG:Brother;CMD:PJL;MDL:MFC-5999CN;CLS:PRINTER;\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|a101020a14a201020014a301021414ff\n";
        let r = read_recording(rec);
        assert_eq!(supply(&r, "Black Ink").percent, Some(50.0));
        assert_eq!(supply(&r, "Cyan Ink").state, SupplyState::Empty);
        assert_eq!(supply(&r, "Magenta Ink").percent, Some(100.0));
    }

    #[test]
    fn one_octet_values_of_old_lasers_are_statuses_not_percentages() {
        let rec = format!(
            "{ID}1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|110104000061a8310101014101010363010103ff\n"
        );
        let r = read_recording(&rec);
        let toner = supply(&r, "Black Toner");
        assert_eq!((toner.percent, toner.state), (None, SupplyState::Ok));
        let drum = supply(&r, "Drum Unit");
        assert_eq!((drum.percent, drum.state), (None, SupplyState::Unknown));
    }

    #[test]
    fn truncated_or_garbage_blobs_never_panic() {
        for hex in [
            "",
            "ff",
            "00",
            "0001",
            "000104",
            "0001040000",
            "00010400000005",
            "00020400000005ff",
            "00010900",
            "0001000000",
        ] {
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect();
            let recs = records(&bytes);
            assert!(recs.len() <= 1, "{hex}: {recs:?}");
        }
        let rec = format!(
            "{ID}1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.8.0|4x|6f01040000\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0|4x|000104000000\n\
             1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.11.0|4|not a blob\n"
        );
        let r = read_recording(&rec);
        assert!(!r.counters.contains_key("total"));
        assert!(r.supplies.is_empty());
    }

    #[test]
    fn a_percentage_over_100_is_garbage_not_a_level() {
        let r = Record {
            code: 0x6f,
            value: vec![0xff, 0xff, 0xff, 0xff],
        };
        assert_eq!(r.percent(), None);
        let r = Record {
            code: 0xa1,
            value: vec![0x05, 0x00],
        };
        assert_eq!(r.percent(), None);
    }

    #[test]
    fn brother_toner_level_zero_without_capacity_means_full_not_empty() {
        let rec = "1.3.6.1.2.1.1.1.0|4|Brother NC-9999h, Firmware Ver.2.05  (11.01.01),MID 84UZ99\n\
             1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2435.2.3.9.1\n\
             1.3.6.1.2.1.43.11.1.1.5.1.1|2|3\n1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner Cartridge\n\
             1.3.6.1.2.1.43.11.1.1.8.1.1|2|-2\n1.3.6.1.2.1.43.11.1.1.9.1.1|2|0\n\
             1.3.6.1.2.1.43.11.1.1.5.1.2|2|3\n1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner Cartridge\n\
             1.3.6.1.2.1.43.11.1.1.8.1.2|2|-2\n1.3.6.1.2.1.43.11.1.1.9.1.2|2|1\n";
        let r = read_recording(rec);
        assert_eq!(r.supplies[0].level, Some(0));
        assert_eq!(r.supplies[0].percent, None);
        assert_eq!(r.supplies[0].state, SupplyState::Ok);
        assert_eq!(r.supplies[1].state, SupplyState::Low);
        assert_eq!(r.identity.firmware.as_deref(), Some("2.05"));
    }

    #[test]
    fn panel_text_is_decoded_in_the_printer_charset() {
        assert_eq!(decode_charset(b"kopi\xcdn", Some(2004)), "kopi\u{eb}n");
        assert_eq!(
            decode_charset(b"ma\xb3o toneru", Some(5)),
            "ma\u{142}o toneru"
        );
        assert_eq!(decode_charset("準備".as_bytes(), Some(106)), "準備");
        assert_eq!(decode_charset(b"Sleep  \0junk", None), "Sleep");
        let rec = format!(
            "{ID}1.3.6.1.2.1.43.7.1.1.4.1.1|2|2004\n1.3.6.1.4.1.2435.2.3.9.4.2.1.5.4.5.2.0|4x|4b6f706965cd6e2020\n"
        );
        let r = read_recording(&rec);
        assert!(
            r.console.contains(&"Kopie\u{eb}n".to_string()),
            "{:?}",
            r.console
        );
    }

    #[test]
    fn inkjet_model_names_are_recognised() {
        for m in [
            "DCP-J132W",
            "MFC-J5110DW",
            "MFC-T910DW",
            "MFC-5490CN",
            "DCP-165C",
        ] {
            assert!(inkjet_model(m), "{m}");
        }
        for m in [
            "HL-L2340DW",
            "DCP-1618W",
            "DCP-9020CDW",
            "MFC-9340CDW",
            "HL-4150CDN",
            "DCP-L3550CDW",
            "MFC-8950DW",
        ] {
            assert!(!inkjet_model(m), "{m}");
        }
    }
}
