//! Secrets (community strings, SNMPv3 passphrases): a wrapper whose `Debug` and
//! `Display` print `***`. Invariant: the only way to the value is
//! [`Secret::expose`], and callers pass it straight to the wire.

use std::fmt;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads a secret from a configuration file. Only a string is accepted; when the
/// value has another type the error says so without ever showing the value
/// (a numeric community string is still a community string).
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl SecretVisitor {
            fn refuse<E: serde::de::Error>(&self, what: &str) -> E {
                E::invalid_type(serde::de::Unexpected::Other(what), self)
            }
        }

        impl serde::de::Visitor<'_> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quoted string (the value is not shown)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(self.refuse("a boolean"))
            }

            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(self.refuse("a number"))
            }

            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(self.refuse("a number"))
            }

            fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Secret, E> {
                Err(self.refuse("a number"))
            }

            fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Secret, E> {
                Err(self.refuse("a number"))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(self.refuse("a number"))
            }

            fn visit_char<E: serde::de::Error>(self, _: char) -> Result<Secret, E> {
                Err(self.refuse("a character"))
            }

            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(self.refuse("bytes"))
            }
        }

        deserializer.deserialize_string(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("hunter2-community");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-community");
    }

    #[test]
    fn a_deserialized_secret_debugs_as_stars() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;

        let s = Secret::deserialize("hunter2-community".into_deserializer())
            .map_err(|e: Error| e)
            .expect("a string is a secret");
        assert_eq!(s.expose(), "hunter2-community");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!format!("{s}").contains("hunter2"));
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_refused_without_showing_it() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;

        let e = Secret::deserialize(IntoDeserializer::<Error>::into_deserializer(31_415_926_u64))
            .expect_err("a number is not a secret");
        assert!(!e.to_string().contains("31415926"), "{e}");
        assert!(e.to_string().contains("a number"), "{e}");
    }
}
