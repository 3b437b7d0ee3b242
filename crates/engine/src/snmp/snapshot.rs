//! Everything fetched from one device, by OID, with typed accessors. The walker
//! fills it; decoders and vendor modules read only from here, so they are pure
//! functions that tests can feed from a recording.

use std::collections::BTreeMap;

use super::{Oid, Value};

/// The values fetched from one device. Exceptions are never stored.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    values: BTreeMap<Oid, Value>,
}

impl Snapshot {
    /// Wraps fetched values.
    pub fn new(values: BTreeMap<Oid, Value>) -> Self {
        Self { values }
    }

    /// Mutable access for the fetch that fills it.
    pub fn values_mut(&mut self) -> &mut BTreeMap<Oid, Value> {
        &mut self.values
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at exactly `oid`.
    pub fn get(&self, oid: &Oid) -> Option<&Value> {
        self.values.get(oid)
    }

    /// Value at a dotted OID.
    pub fn at(&self, oid: &str) -> Option<&Value> {
        oid.parse::<Oid>().ok().and_then(|o| self.values.get(&o))
    }

    /// Integer at a dotted OID.
    pub fn int(&self, oid: &str) -> Option<i64> {
        self.at(oid).and_then(Value::as_i64)
    }

    /// Non-empty text at a dotted OID.
    pub fn text(&self, oid: &str) -> Option<String> {
        self.at(oid).and_then(Value::as_clean_text)
    }

    /// Every value inside the subtree `prefix`, with the arcs after the prefix.
    pub fn subtree<'a>(
        &'a self,
        prefix: &'a Oid,
    ) -> impl Iterator<Item = (&'a [u32], &'a Value)> + 'a {
        self.values
            .range(prefix.clone()..)
            .take_while(move |(o, _)| o.starts_with(prefix))
            .filter_map(move |(o, v)| o.suffix(prefix).map(|s| (s, v)))
    }

    /// Subtree at a dotted prefix, collected.
    pub fn column(&self, prefix: &str) -> Vec<(Vec<u32>, Value)> {
        match prefix.parse::<Oid>() {
            Ok(p) => self
                .subtree(&p)
                .map(|(s, v)| (s.to_vec(), v.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// True when anything was fetched inside `prefix`.
    pub fn has_any(&self, prefix: &str) -> bool {
        match prefix.parse::<Oid>() {
            Ok(p) => self.subtree(&p).next().is_some(),
            Err(_) => false,
        }
    }

    /// Adds values from another fetch (e.g. another SNMP context) without
    /// replacing what is already there.
    pub fn merge_missing(&mut self, other: Snapshot) {
        for (k, v) in other.values {
            self.values.entry(k).or_insert(v);
        }
    }
}
