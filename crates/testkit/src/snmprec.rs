//! `.snmprec` → net-snmp `override` lines.
//!
//! snmprec records are `OID|TAG|VALUE`; TAG is the BER tag number as snmpsim writes it,
//! optionally suffixed `x` (VALUE is hex) or `e` (VALUE has Python escapes), or followed by
//! `:module` for a snmpsim variation module (VALUE is then `key=value,...`; we serve its
//! `value=`, `initial=` or `min=`, i.e. the value the simulation starts from).
//!
//! What net-snmp 5.9.3's `override` can express (each checked against a running snmpd):
//!
//! | tag | type | override |
//! |---|---|---|
//! | 2 | INTEGER | `integer` (written in decimal: snmpd parses with base 0, so `010` would be octal) |
//! | 4 | OCTET STRING | `octet_str "text"` for printable ASCII, else `octet_str 0xHEX`; at most 2,046 bytes (longer values are silently cut by snmpd's 4 KiB line buffer, so they are skipped) |
//! | 6 | OBJECT IDENTIFIER | `object_id .OID` |
//! | 65 | Counter32 | `counter` |
//! | 66 | Gauge32 | `uinteger` |
//! | 67 | TimeTicks | `timeticks` (works in 5.9.3, contrary to older notes) |
//! | 5 | NULL | skipped: snmpd accepts the line but then answers noSuchInstance |
//! | 64 | IpAddress | skipped: "illegal/unsupported type specified" |
//! | 70 | Counter64 | skipped: "illegal/unsupported type specified" |
//! | 68, 128–130, others | Opaque, noSuch*, endOfMibView | skipped |
//!
//! Like snmpsim, each line is trimmed at both ends first, and lines that are blank or
//! start with `#` are ignored (not counted). Malformed lines are skipped and counted.

use std::fmt::Write as _;

/// The longest octet string `override` serves intact (see module docs).
const MAX_OCTETS: usize = 2046;

/// Convert snmprec text to snmpd.conf `override` lines.
///
/// Returns the configuration text and the number of records that could not be
/// expressed (skipped types, malformed lines). Skipped records appear in the output as
/// `# skipped ...` comments.
pub fn snmprec_to_snmpd_overrides(text: &str) -> (String, usize) {
    convert(text.as_bytes())
}

/// Byte-level conversion: plain OCTET STRING values are served byte for byte, like
/// snmpsim does (it reads the file as Latin-1 and re-encodes), so a recording that is not
/// valid UTF-8 still works.
pub(crate) fn convert(data: &[u8]) -> (String, usize) {
    let mut out = String::new();
    let mut skipped = 0;
    for raw in data.split(|&b| b == b'\n') {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        match convert_line(line) {
            Ok(directive) => {
                out.push_str(&directive);
                out.push('\n');
            }
            Err(why) => {
                skipped += 1;
                let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
                let shown = shown.replace(['\r', '\n'], " ");
                let _ = writeln!(out, "# skipped ({why}): {shown}");
            }
        }
    }
    (out, skipped)
}

fn convert_line(line: &[u8]) -> Result<String, String> {
    let mut parts = line.splitn(3, |&b| b == b'|');
    let (Some(oid), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not OID|TAG|VALUE".into());
    };
    let oid = std::str::from_utf8(oid).map_err(|_| "OID is not ASCII")?;
    let oid = parse_oid(oid).ok_or("bad OID")?;
    let tag = std::str::from_utf8(tag).map_err(|_| "tag is not ASCII")?;

    let (tag, value): (&str, Vec<u8>) = match tag.split_once(':') {
        Some((base, _module)) => (base, variation_start_value(value)?),
        None => (tag, value.to_vec()),
    };
    let (tag, encoding) = match tag.as_bytes().last() {
        Some(b'x') => (&tag[..tag.len() - 1], Encoding::Hex),
        Some(b'e') => (&tag[..tag.len() - 1], Encoding::Escaped),
        _ => (tag, Encoding::Plain),
    };
    let bytes = match encoding {
        Encoding::Plain => value,
        Encoding::Hex => decode_hex(&value).ok_or("bad hex value")?,
        Encoding::Escaped => decode_escapes(&value).ok_or("bad escaped value")?,
    };
    let number = || -> Result<String, String> {
        if encoding == Encoding::Hex {
            return Err(format!("hex value for numeric tag {tag}"));
        }
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    };

    let directive = match tag {
        "2" => {
            let n: i32 = number()?.parse().map_err(|_| "INTEGER out of range")?;
            format!("integer {n}")
        }
        "4" => {
            if bytes.len() > MAX_OCTETS {
                return Err(format!("OCTET STRING longer than {MAX_OCTETS} bytes"));
            }
            format!("octet_str {}", octet_string_token(&bytes))
        }
        "6" => {
            let target = parse_oid(&number()?).ok_or("bad OID value")?;
            format!("object_id {target}")
        }
        "65" | "66" | "67" => {
            let n: u32 = number()?
                .parse()
                .map_err(|_| format!("tag {tag} value out of range"))?;
            let keyword = match tag {
                "65" => "counter",
                "66" => "uinteger",
                _ => "timeticks",
            };
            format!("{keyword} {n}")
        }
        "5" => return Err("NULL: snmpd override cannot serve it".into()),
        "64" => return Err("IpAddress: snmpd override has no such type".into()),
        "70" => return Err("Counter64: snmpd override has no such type".into()),
        "68" => return Err("Opaque: not supported".into()),
        other => return Err(format!("unsupported tag {other}")),
    };
    Ok(format!("override {oid} {directive}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Plain,
    Hex,
    Escaped,
}

/// `.1.3.6...` from `1.3.6...` or `.1.3.6...`; `None` unless every arc is a number.
fn parse_oid(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches('.');
    let arcs: Vec<&str> = text.split('.').collect();
    let valid = arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.len() <= 10 && a.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| format!(".{text}"))
}

/// The value a snmpsim variation module starts from: `value=`, else `initial=`, else
/// `min=`, else 0 (the `numeric` module's default start).
fn variation_start_value(value: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(value).map_err(|_| "variation arguments are not UTF-8")?;
    let pairs: Vec<(&str, &str)> = text
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    for key in ["value", "initial", "min"] {
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k.trim() == key) {
            // numeric accepts floats; serve the integer part
            let v = v.trim();
            let v = match v.split_once('.') {
                Some((int, frac)) if frac.bytes().all(|b| b.is_ascii_digit()) => int,
                _ => v,
            };
            return Ok(v.as_bytes().to_vec());
        }
    }
    Ok(b"0".to_vec())
}

fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    let text: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Python string-literal escapes as snmpsim's `e` suffix evaluates them.
fn decode_escapes(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut iter = text.iter().copied();
    while let Some(b) = iter.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = match iter.next()? {
            b'\\' => b'\\',
            b'\'' => b'\'',
            b'"' => b'"',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'x' => {
                let hi = iter.next()?;
                let lo = iter.next()?;
                u8::from_str_radix(std::str::from_utf8(&[hi, lo]).ok()?, 16).ok()?
            }
            _ => return None,
        };
        out.push(escaped);
    }
    Some(out)
}

/// A token snmpd's `copy_nword` turns back into exactly `bytes`: a double-quoted string
/// (with `\` and `"` escaped) for printable ASCII, else `0x` + hex. Text that itself
/// starts with `0x` must go as hex too, or snmpd would decode it.
fn octet_string_token(bytes: &[u8]) -> String {
    let printable = bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    if printable && !bytes.starts_with(b"0x") {
        let mut out = String::with_capacity(bytes.len() + 2);
        out.push('"');
        for &b in bytes {
            if b == b'\\' || b == b'"' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
        out.push('"');
        out
    } else {
        let mut out = String::from("0x");
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> String {
        let (text, skipped) = snmprec_to_snmpd_overrides(line);
        assert_eq!(skipped, 0, "{line} was skipped: {text}");
        text.trim_end().to_owned()
    }

    fn skips(line: &str) {
        let (text, skipped) = snmprec_to_snmpd_overrides(line);
        assert_eq!(skipped, 1, "{line} was not skipped: {text}");
        assert!(text.starts_with("# skipped"), "{text}");
        assert!(!text.contains("\noverride"), "{text}");
    }

    #[test]
    fn integers_are_written_in_decimal_with_their_sign() {
        assert_eq!(
            one("1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3"),
            "override .1.3.6.1.2.1.43.11.1.1.9.1.1 integer -3"
        );
        assert_eq!(
            one("1.3.6.1.4.1.1.0|2|007"),
            "override .1.3.6.1.4.1.1.0 integer 7"
        );
        skips("1.3.6.1.4.1.1.0|2|2147483648");
        skips("1.3.6.1.4.1.1.0|2|many");
    }

    #[test]
    fn printable_strings_are_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(
            one(r#"1.3.6.1.2.1.1.5.0|4|say "hi" \ bye"#),
            r#"override .1.3.6.1.2.1.1.5.0 octet_str "say \"hi\" \\ bye""#
        );
        assert_eq!(
            one("1.3.6.1.2.1.1.5.0|4|"),
            r#"override .1.3.6.1.2.1.1.5.0 octet_str """#
        );
        assert_eq!(
            one("1.3.6.1.2.1.1.6.0|4|Floor #2, room 3"),
            r#"override .1.3.6.1.2.1.1.6.0 octet_str "Floor #2, room 3""#
        );
    }

    #[test]
    fn hex_and_non_ascii_and_0x_text_become_hex_tokens() {
        assert_eq!(
            one("1.3.6.1.2.1.2.2.1.6.1|4x|0010836A1B2C"),
            "override .1.3.6.1.2.1.2.2.1.6.1 octet_str 0x0010836a1b2c"
        );
        assert_eq!(
            one("1.3.6.1.4.1.1.0|4|Tóner"),
            "override .1.3.6.1.4.1.1.0 octet_str 0x54c3b36e6572"
        );
        assert_eq!(
            one("1.3.6.1.4.1.1.0|4|0x12"),
            "override .1.3.6.1.4.1.1.0 octet_str 0x30783132"
        );
        assert_eq!(
            one("1.3.6.1.4.1.1.0|4x|"),
            r#"override .1.3.6.1.4.1.1.0 octet_str """#
        );
        skips("1.3.6.1.4.1.1.0|4x|abc");
    }

    #[test]
    fn python_escaped_strings_are_decoded() {
        assert_eq!(
            one(r"1.3.6.1.4.1.1.0|4e|a\nb\x41\\"),
            "override .1.3.6.1.4.1.1.0 octet_str 0x610a62415c"
        );
    }

    #[test]
    fn oids_counters_gauges_and_timeticks_map_to_their_override_types() {
        assert_eq!(
            one("1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1"),
            "override .1.3.6.1.2.1.1.2.0 object_id .1.3.6.1.4.1.11.2.3.9.1"
        );
        assert_eq!(
            one("1.3.6.1.2.1.43.10.2.1.4.1.1|65|4294967295"),
            "override .1.3.6.1.2.1.43.10.2.1.4.1.1 counter 4294967295"
        );
        assert_eq!(
            one("1.3.6.1.2.1.2.2.1.5.1|66|100000000"),
            "override .1.3.6.1.2.1.2.2.1.5.1 uinteger 100000000"
        );
        assert_eq!(
            one("1.3.6.1.2.1.1.3.0|67|123456"),
            "override .1.3.6.1.2.1.1.3.0 timeticks 123456"
        );
        skips("1.3.6.1.2.1.1.3.0|67|-1");
        skips("1.3.6.1.2.1.1.2.0|6|not.an.oid");
    }

    #[test]
    fn types_override_cannot_express_are_skipped_and_counted() {
        skips("1.3.6.1.2.1.4.20.1.1.192.0.2.1|64|192.0.2.1");
        skips("1.3.6.1.2.1.31.1.1.1.6.1|70|12345678901");
        skips("1.3.6.1.4.1.1.0|5|");
        skips("1.3.6.1.4.1.1.0|68x|0102");
        skips(&format!(
            "1.3.6.1.4.1.1.0|4x|{}",
            "ab".repeat(MAX_OCTETS + 1)
        ));
        one(&format!("1.3.6.1.4.1.1.0|4x|{}", "ab".repeat(MAX_OCTETS)));
    }

    #[test]
    fn variation_records_serve_their_starting_value() {
        assert_eq!(
            one("1.3.6.1.2.1.43.10.2.1.4.1.1|65:numeric|initial=48213,rate=0.5"),
            "override .1.3.6.1.2.1.43.10.2.1.4.1.1 counter 48213"
        );
        assert_eq!(
            one("1.3.6.1.2.1.43.11.1.1.9.1.1|2:writecache|value=8"),
            "override .1.3.6.1.2.1.43.11.1.1.9.1.1 integer 8"
        );
        assert_eq!(
            one("1.3.6.1.2.1.1.3.0|67:numeric|rate=100"),
            "override .1.3.6.1.2.1.1.3.0 timeticks 0"
        );
        assert_eq!(
            one("1.3.6.1.4.1.1.0|2:numeric|initial=80.0,rate=-0.5"),
            "override .1.3.6.1.4.1.1.0 integer 80"
        );
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_ignored_and_bad_lines_counted() {
        let text = "# a comment\n\n1.3.6.1.2.1.1.5.0|4|printer\r\n  \njunk\n1.3.6.1.2.1.1.7.0|2\n";
        let (out, skipped) = snmprec_to_snmpd_overrides(text);
        assert_eq!(skipped, 2);
        let overrides: Vec<&str> = out.lines().filter(|l| l.starts_with("override")).collect();
        assert_eq!(
            overrides,
            [r#"override .1.3.6.1.2.1.1.5.0 octet_str "printer""#]
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_served_as_they_are() {
        let (out, skipped) = convert(b"1.3.6.1.4.1.1.0|4|T\xf3ner\n");
        assert_eq!(skipped, 0);
        assert_eq!(out, "override .1.3.6.1.4.1.1.0 octet_str 0x54f36e6572\n");
    }
}
