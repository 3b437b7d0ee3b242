//! SNMP for the engine: credentials, options, errors, and the [`SnmpSession`]
//! trait that every reader is written against.
//!
//! Two sessions implement the trait: [`transport::UdpSession`], over one shared
//! UDP socket per address family (async-snmp's `UdpTransport`, request-id
//! matching, many requests in flight, a global send-rate limit), and
//! [`recording::RecordingSession`], which answers from a `.snmprec` recording
//! in-process. [`walk::fetch`] turns a [`walk::FetchPlan`] into as few bulk
//! requests as the agent allows.
//!
//! Invariants: a credential's secret parts never appear in `Debug`, `Display`
//! or an error; a v3 Report is always an authentication error, never data; every
//! exception value (`noSuchObject`, `endOfMibView`, v1 `noSuchName`) means
//! "absent", never zero.

pub mod codec;
mod oid;
pub mod recording;
mod snapshot;
pub mod transport;
mod value;
pub mod walk;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use oid::{Oid, OidParseError};
pub use snapshot::Snapshot;
pub use value::{Value, decode_text};

use crate::secret::Secret;

/// SNMP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    /// SNMPv1: GETNEXT only, `noSuchName` errors.
    #[serde(rename = "1")]
    V1,
    /// SNMPv2c: GETBULK, exception values.
    #[serde(rename = "2c")]
    V2c,
    /// SNMPv3 with USM.
    #[serde(rename = "3")]
    V3,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "1",
            Version::V2c => "2c",
            Version::V3 => "3",
        })
    }
}

/// SNMPv3 authentication protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AuthProto {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// SNMPv3 privacy protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum PrivProto {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

/// Protocol names as people write them: case, `-` and `_` ignored.
fn normalise(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace(['-', '_'], "")
}

impl AuthProto {
    /// The canonical name (`md5`, `sha1`, … `sha512`).
    pub fn name(self) -> &'static str {
        match self {
            AuthProto::Md5 => "md5",
            AuthProto::Sha1 => "sha1",
            AuthProto::Sha224 => "sha224",
            AuthProto::Sha256 => "sha256",
            AuthProto::Sha384 => "sha384",
            AuthProto::Sha512 => "sha512",
        }
    }

    /// Parses a name (`sha` means SHA-1; `SHA-256` and `sha_256` are fine).
    pub fn parse(text: &str) -> Option<AuthProto> {
        Some(match normalise(text).as_str() {
            "md5" => AuthProto::Md5,
            "sha" | "sha1" => AuthProto::Sha1,
            "sha224" => AuthProto::Sha224,
            "sha256" => AuthProto::Sha256,
            "sha384" => AuthProto::Sha384,
            "sha512" => AuthProto::Sha512,
            _ => return None,
        })
    }
}

impl PrivProto {
    /// The canonical name (`des`, `aes128`, `aes192`, `aes256`).
    pub fn name(self) -> &'static str {
        match self {
            PrivProto::Des => "des",
            PrivProto::Aes128 => "aes128",
            PrivProto::Aes192 => "aes192",
            PrivProto::Aes256 => "aes256",
        }
    }

    /// Parses a name (`aes` means AES-128).
    pub fn parse(text: &str) -> Option<PrivProto> {
        Some(match normalise(text).as_str() {
            "des" => PrivProto::Des,
            "aes" | "aes128" => PrivProto::Aes128,
            "aes192" => PrivProto::Aes192,
            "aes256" => PrivProto::Aes256,
            _ => return None,
        })
    }
}

/// One set of SNMP credentials, with a name that may be shown to people.
#[derive(Clone, Debug)]
pub enum Credential {
    /// v1/v2c community.
    Community {
        /// Shown in output and errors instead of the value.
        name: String,
        /// V1 or V2c.
        version: Version,
        /// The community string itself.
        community: Secret,
    },
    /// SNMPv3 user-based security.
    V3 {
        /// Shown in output and errors (defaults to the user name).
        name: String,
        /// USM user name (not secret).
        user: String,
        /// Authentication protocol and passphrase; `None` = noAuthNoPriv.
        auth: Option<(AuthProto, Secret)>,
        /// Privacy protocol and passphrase; requires `auth`.
        privacy: Option<(PrivProto, Secret)>,
        /// Context name (HP JetDirect serves its printer MIBs in `Jetdirect`).
        context: String,
    },
}

impl Credential {
    /// A v1/v2c community credential.
    pub fn community(
        name: impl Into<String>,
        version: Version,
        community: impl Into<String>,
    ) -> Self {
        Credential::Community {
            name: name.into(),
            version,
            community: Secret::new(community),
        }
    }

    /// The name that output and errors show.
    pub fn name(&self) -> &str {
        match self {
            Credential::Community { name, .. } | Credential::V3 { name, .. } => name,
        }
    }

    /// Protocol version.
    pub fn version(&self) -> Version {
        match self {
            Credential::Community { version, .. } => *version,
            Credential::V3 { .. } => Version::V3,
        }
    }

    /// The same credential aimed at another context: v3 sets the context name,
    /// v1/v2c use community-string indexing (`community@context`), as LibreNMS
    /// and Cisco-style agents do.
    pub fn in_context(&self, ctx: &str) -> Credential {
        match self {
            Credential::Community {
                name,
                version,
                community,
            } => Credential::Community {
                name: format!("{name}@{ctx}"),
                version: *version,
                community: Secret::new(format!("{}@{ctx}", community.expose())),
            },
            Credential::V3 {
                name,
                user,
                auth,
                privacy,
                ..
            } => Credential::V3 {
                name: format!("{name}@{ctx}"),
                user: user.clone(),
                auth: auth.clone(),
                privacy: privacy.clone(),
                context: ctx.to_string(),
            },
        }
    }
}

/// Per-request behaviour.
#[derive(Clone, Debug)]
pub struct SnmpOptions {
    /// Time to wait for each attempt.
    pub timeout: Duration,
    /// Further attempts after the first.
    pub retries: u32,
    /// GETBULK max-repetitions to start with (shrinks on tooBig).
    pub max_repetitions: u32,
    /// Upper bound on varbinds requested in one PDU.
    pub max_varbinds: usize,
}

impl Default for SnmpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            retries: 1,
            max_repetitions: 8,
            max_varbinds: 48,
        }
    }
}

/// What went wrong talking SNMP. Messages name the target and the credential
/// by name only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SnmpError {
    /// No answer within timeout × (retries + 1).
    #[error("no answer from {target} within {waited:?}")]
    Timeout {
        /// Who was asked.
        target: SocketAddr,
        /// Total time waited.
        waited: Duration,
    },
    /// SNMPv3 authentication or privacy failed (a Report PDU, or a response
    /// that did not verify).
    #[error("authentication failed: {reason}")]
    Auth {
        /// What the agent's Report says, in words.
        reason: String,
    },
    /// The response did not fit the agent's buffer.
    #[error("response too big")]
    TooBig,
    /// v1: the varbind at this 0-based position does not exist.
    #[error("no such name at varbind {0}")]
    NoSuchName(usize),
    /// Any other error status from the agent.
    #[error("agent error: {0}")]
    Agent(String),
    /// Socket or address trouble.
    #[error("network error: {0}")]
    Network(String),
    /// The answer could not be decoded.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// Bad local configuration (e.g. a passphrase shorter than 8 characters).
    #[error("{0}")]
    Config(String),
}

/// The requests a reader needs. Implementations count the requests they send.
pub trait SnmpSession: Send + Sync {
    /// Protocol version of this session.
    fn version(&self) -> Version;
    /// GET; exceptions come back as [`Value::NoSuch`].
    fn get(
        &self,
        oids: &[Oid],
    ) -> impl Future<Output = Result<Vec<(Oid, Value)>, SnmpError>> + Send;
    /// GETNEXT of several OIDs in one PDU.
    fn get_next(
        &self,
        oids: &[Oid],
    ) -> impl Future<Output = Result<Vec<(Oid, Value)>, SnmpError>> + Send;
    /// GETBULK (v2c/v3 only).
    fn get_bulk(
        &self,
        non_repeaters: u32,
        max_repetitions: u32,
        oids: &[Oid],
    ) -> impl Future<Output = Result<Vec<(Oid, Value)>, SnmpError>> + Send;
    /// Requests sent so far (retries not included).
    fn requests(&self) -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_their_secrets_in_debug_output() {
        let c = Credential::community("office", Version::V2c, "s3cret-community");
        let v3 = Credential::V3 {
            name: "monitor".into(),
            user: "monitor".into(),
            auth: Some((AuthProto::Sha256, Secret::new("s3cret-auth"))),
            privacy: Some((PrivProto::Aes128, Secret::new("s3cret-priv"))),
            context: "Jetdirect".into(),
        };
        for text in [
            format!("{c:?}"),
            format!("{v3:?}"),
            format!("{:?}", c.in_context("Jetdirect")),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
        }
        assert!(
            format!("{v3:?}").contains("monitor"),
            "the user name is not secret"
        );
    }
}
