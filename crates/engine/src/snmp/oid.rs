//! Object identifiers owned by the engine, so that vendor modules and the reading
//! model never depend on the SNMP library's types. Ordering is the SNMP
//! lexicographic order (arc by arc), which walks rely on.

use std::fmt;
use std::str::FromStr;

/// An SNMP object identifier.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(Vec<u32>);

/// An OID string that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("not an OID: {0:?}")]
pub struct OidParseError(String);

impl Oid {
    /// Builds an OID from its arcs.
    pub fn from_arcs(arcs: impl Into<Vec<u32>>) -> Self {
        Self(arcs.into())
    }

    /// Parses a dotted OID known at compile time (a constant table).
    ///
    /// # Panics
    /// Panics when `s` is not a dotted OID; only call it with literals.
    #[allow(clippy::expect_used)]
    pub fn lit(s: &str) -> Self {
        s.parse().expect("OID literal")
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Number of arcs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty OID.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` lies inside the subtree `prefix` (or equals it).
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// A new OID with `arcs` appended.
    pub fn child(&self, arcs: &[u32]) -> Oid {
        let mut v = self.0.clone();
        v.extend_from_slice(arcs);
        Oid(v)
    }

    /// The arcs after `prefix`, if `self` is inside it.
    pub fn suffix(&self, prefix: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }

    /// The OID without its last arc.
    pub fn parent(&self) -> Oid {
        let mut v = self.0.clone();
        v.pop();
        Oid(v)
    }

    /// The last arc.
    pub fn last(&self) -> Option<u32> {
        self.0.last().copied()
    }
}

impl FromStr for Oid {
    type Err = OidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches('.');
        if t.is_empty() {
            return Err(OidParseError(s.to_string()));
        }
        t.split('.')
            .map(|a| a.parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .map(Oid)
            .map_err(|_| OidParseError(s.to_string()))
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for a in &self.0 {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl serde::Serialize for Oid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_order_arc_by_arc_not_as_text() {
        assert!(Oid::lit("1.3.6.1.2") < Oid::lit("1.3.6.1.10"));
        assert!(Oid::lit("1.3.6.1") < Oid::lit("1.3.6.1.0"));
    }

    #[test]
    fn bad_oid_text_is_an_error_not_a_panic() {
        assert!("1.3.x".parse::<Oid>().is_err());
        assert!("".parse::<Oid>().is_err());
        assert!("1.3.99999999999".parse::<Oid>().is_err());
    }
}
