//! SNMP values as the engine sees them, and the text decoding rules every module
//! shares: octet strings are UTF-8, else Latin-1; trailing NULs and whitespace go.

use super::Oid;

/// One SNMP value. Exceptions (`noSuchObject`, `noSuchInstance`, `endOfMibView`)
/// are values here so that a walk can see them; a [`crate::printer::Snapshot`]
/// never stores them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// INTEGER.
    Int(i64),
    /// OCTET STRING (and Opaque), raw bytes.
    Bytes(Vec<u8>),
    /// OBJECT IDENTIFIER.
    Oid(Oid),
    /// IpAddress.
    Ip([u8; 4]),
    /// Counter32 or Counter64.
    Counter(u64),
    /// Gauge32 / Unsigned32.
    Gauge(u64),
    /// TimeTicks (hundredths of a second).
    Ticks(u64),
    /// NULL.
    Null,
    /// `noSuchObject` / `noSuchInstance` / v1 `noSuchName`: absent.
    NoSuch,
    /// `endOfMibView`.
    EndOfMib,
}

impl Value {
    /// True for the exceptions that mean "no value here".
    pub fn is_exception(&self) -> bool {
        matches!(self, Value::NoSuch | Value::EndOfMib)
    }

    /// Any integer-like value. Octet strings holding a decimal number (some
    /// agents send counters as text) are accepted too.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Counter(u) | Value::Gauge(u) | Value::Ticks(u) => i64::try_from(*u).ok(),
            Value::Bytes(b) => {
                let t = decode_text(b);
                let t = t.trim();
                if !t.is_empty()
                    && t.len() < 20
                    && t.bytes().all(|c| c.is_ascii_digit() || c == b'-')
                {
                    t.parse().ok()
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The value as text: octet strings decoded, numbers formatted.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bytes(b) => Some(decode_text(b)),
            Value::Int(i) => Some(i.to_string()),
            Value::Counter(u) | Value::Gauge(u) | Value::Ticks(u) => Some(u.to_string()),
            Value::Oid(o) => Some(o.to_string()),
            Value::Ip(a) => Some(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
            _ => None,
        }
    }

    /// Non-empty, trimmed text; `None` for empty strings.
    pub fn as_clean_text(&self) -> Option<String> {
        self.as_text()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Raw octets of an octet string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The OID of an OBJECT IDENTIFIER value.
    pub fn as_oid(&self) -> Option<&Oid> {
        match self {
            Value::Oid(o) => Some(o),
            _ => None,
        }
    }
}

/// Decodes device text: UTF-8 when valid, else Latin-1; cuts at the first NUL
/// and trims trailing whitespace. Never fails.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = match bytes.iter().position(|&b| b == 0) {
        Some(i) => &bytes[..i],
        None => bytes,
    };
    let s = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    };
    s.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_falls_back_to_latin1() {
        assert_eq!(decode_text(b"T\xf3ner"), "Tóner");
        assert_eq!(decode_text("Tóner".as_bytes()), "Tóner");
    }

    #[test]
    fn text_stops_at_nul_and_loses_trailing_space() {
        assert_eq!(decode_text(b"Black  \0garbage"), "Black");
    }

    #[test]
    fn numbers_in_text_are_numbers_but_words_are_not() {
        assert_eq!(Value::Bytes(b" 1920 ".to_vec()).as_i64(), Some(1920));
        assert_eq!(Value::Bytes(b"12 INCHES".to_vec()).as_i64(), None);
    }
}
