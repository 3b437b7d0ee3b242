//! `.snmprec` recordings (snmpsim's format: `OID|TYPE|VALUE` per line) and an
//! in-process session that answers GET/GETNEXT/GETBULK from one, with the same
//! semantics as a real agent. Used by `printscout read --recording FILE` to
//! inspect a capture offline, and by unit tests of the read plan.
//!
//! Invariants: parsing never panics on bad lines (they are skipped and counted);
//! the session is sans-IO and answers in OID order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Oid, SnmpError, SnmpSession, Value, Version};

/// A parsed recording.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Values by OID.
    pub values: BTreeMap<Oid, Value>,
    /// Lines that could not be parsed.
    pub skipped_lines: usize,
}

impl Recording {
    /// Parses `.snmprec` text. Variation-module values (`65:numeric|initial=5,…`,
    /// `2:writecache|value=8`) are read as their initial value.
    pub fn parse(text: &str) -> Recording {
        let mut rec = Recording::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some((oid, value)) => {
                    rec.values.insert(oid, value);
                }
                None => rec.skipped_lines += 1,
            }
        }
        rec
    }
}

fn parse_line(line: &str) -> Option<(Oid, Value)> {
    let mut parts = line.splitn(3, '|');
    let oid: Oid = parts.next()?.parse().ok()?;
    let ty = parts.next()?;
    let raw = parts.next().unwrap_or("");
    let (ty, raw) = match ty.split_once(':') {
        Some((t, _module)) => {
            let v = raw
                .split(',')
                .find_map(|kv| {
                    kv.strip_prefix("initial=")
                        .or_else(|| kv.strip_prefix("value="))
                })
                .unwrap_or("0");
            (t, v)
        }
        None => (ty, raw),
    };
    let (code, hex) = match ty.strip_suffix('x') {
        Some(c) => (c, true),
        None => (ty, false),
    };
    let bytes = || -> Option<Vec<u8>> {
        if hex {
            decode_hex(raw)
        } else {
            Some(raw.as_bytes().to_vec())
        }
    };
    let num = || -> Option<String> {
        if hex {
            decode_hex(raw).and_then(|b| String::from_utf8(b).ok())
        } else {
            Some(raw.trim().to_string())
        }
    };
    let value = match code {
        "2" => Value::Int(num()?.parse().ok()?),
        "4" | "68" => Value::Bytes(bytes()?),
        "5" => Value::Null,
        "6" => Value::Oid(num()?.parse().ok()?),
        "64" => {
            let b = if hex {
                decode_hex(raw)?
            } else {
                raw.split('.')
                    .map(|p| p.parse::<u8>().ok())
                    .collect::<Option<Vec<_>>>()?
            };
            Value::Ip(<[u8; 4]>::try_from(b.as_slice()).ok()?)
        }
        "65" | "70" => Value::Counter(num()?.parse().ok()?),
        "66" | "71" => Value::Gauge(num()?.parse().ok()?),
        "67" => Value::Ticks(num()?.parse().ok()?),
        _ => return None,
    };
    Some((oid, value))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A session answering from a recording, as an agent would.
pub struct RecordingSession {
    values: BTreeMap<Oid, Value>,
    version: Version,
    requests: AtomicU32,
    /// Largest number of varbinds a response may carry (imitates a small
    /// agent buffer: GETBULK is truncated, GET/GETNEXT answer tooBig).
    pub max_response_varbinds: usize,
}

impl RecordingSession {
    /// A session over `recording` speaking `version`.
    pub fn new(recording: Recording, version: Version) -> Self {
        Self {
            values: recording.values,
            version,
            requests: AtomicU32::new(0),
            max_response_varbinds: usize::MAX,
        }
    }

    fn next_after(&self, oid: &Oid) -> Option<(&Oid, &Value)> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.values.range((Excluded(oid), Unbounded)).next()
    }

    fn next_one(&self, oid: &Oid) -> (Oid, Value) {
        match self.next_after(oid) {
            Some((o, v)) => (o.clone(), v.clone()),
            None => (oid.clone(), Value::EndOfMib),
        }
    }
}

impl SnmpSession for RecordingSession {
    fn version(&self) -> Version {
        self.version
    }

    async fn get(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if oids.len() > self.max_response_varbinds {
            return Err(SnmpError::TooBig);
        }
        let mut out = Vec::with_capacity(oids.len());
        for (i, o) in oids.iter().enumerate() {
            match self.values.get(o) {
                Some(v) => out.push((o.clone(), v.clone())),
                None if self.version == Version::V1 => return Err(SnmpError::NoSuchName(i)),
                None => out.push((o.clone(), Value::NoSuch)),
            }
        }
        Ok(out)
    }

    async fn get_next(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if oids.len() > self.max_response_varbinds {
            return Err(SnmpError::TooBig);
        }
        let mut out = Vec::with_capacity(oids.len());
        for (i, o) in oids.iter().enumerate() {
            let (n, v) = self.next_one(o);
            if v == Value::EndOfMib && self.version == Version::V1 {
                return Err(SnmpError::NoSuchName(i));
            }
            out.push((n, v));
        }
        Ok(out)
    }

    async fn get_bulk(
        &self,
        non_repeaters: u32,
        max_repetitions: u32,
        oids: &[Oid],
    ) -> Result<Vec<(Oid, Value)>, SnmpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if self.version == Version::V1 {
            return Err(SnmpError::Agent("GETBULK is not part of SNMPv1".into()));
        }
        let nr = (non_repeaters as usize).min(oids.len());
        let mut out = Vec::new();
        for o in &oids[..nr] {
            out.push(self.next_one(o));
        }
        let mut cursors: Vec<Oid> = oids[nr..].to_vec();
        'reps: for _ in 0..max_repetitions {
            if cursors.is_empty() {
                break;
            }
            for c in cursors.iter_mut() {
                if out.len() >= self.max_response_varbinds {
                    break 'reps;
                }
                let (n, v) = self.next_one(c);
                *c = n.clone();
                out.push((n, v));
            }
        }
        if out.len() > self.max_response_varbinds {
            return Err(SnmpError::TooBig);
        }
        Ok(out)
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_parse_every_type_and_skip_garbage() {
        let r = Recording::parse(
            "1.3.6.1.2.1.1.1.0|4|HP LaserJet\n\
             1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1\n\
             1.3.6.1.2.1.1.3.0|67|12345\n\
             1.3.6.1.2.1.2.2.1.6.1|4x|a0b1c2d3e4f5\n\
             1.3.6.1.2.1.43.10.2.1.4.1.1|65:numeric|initial=48213,rate=0.5\n\
             1.3.6.1.2.1.4.20.1.1.1|64|192.0.2.1\n\
             garbage line\n\
             1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3\n",
        );
        assert_eq!(r.skipped_lines, 1);
        assert_eq!(r.values.len(), 7);
        assert_eq!(
            r.values[&Oid::lit("1.3.6.1.2.1.43.10.2.1.4.1.1")],
            Value::Counter(48213)
        );
        assert_eq!(
            r.values[&Oid::lit("1.3.6.1.2.1.43.11.1.1.9.1.1")],
            Value::Int(-3)
        );
        assert_eq!(
            r.values[&Oid::lit("1.3.6.1.2.1.2.2.1.6.1")],
            Value::Bytes(vec![0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5])
        );
    }
}
