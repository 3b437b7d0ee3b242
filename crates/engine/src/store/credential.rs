//! How a device's working credential is kept in the database: as JSON in the
//! `devices.credential` column of a file only the service user can read.
//!
//! Invariants: the stored form exists only between the database and
//! [`Credential`] (whose `Debug` redacts); it has no `Debug` and is never
//! logged. Unknown protocol names fail to load rather than guessing.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::snmp::{AuthProto, Credential, PrivProto, Version};

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Stored {
    Community {
        name: String,
        version: String,
        community: String,
    },
    V3 {
        name: String,
        user: String,
        auth: Option<(String, String)>,
        privacy: Option<(String, String)>,
        context: String,
    },
}

/// The JSON kept for a credential.
pub fn to_json(c: &Credential) -> String {
    let s = match c {
        Credential::Community {
            name,
            version,
            community,
        } => Stored::Community {
            name: name.clone(),
            version: version.to_string(),
            community: community.expose().to_string(),
        },
        Credential::V3 {
            name,
            user,
            auth,
            privacy,
            context,
        } => Stored::V3 {
            name: name.clone(),
            user: user.clone(),
            auth: auth
                .as_ref()
                .map(|(p, s)| (p.name().to_string(), s.expose().to_string())),
            privacy: privacy
                .as_ref()
                .map(|(p, s)| (p.name().to_string(), s.expose().to_string())),
            context: context.clone(),
        },
    };
    serde_json::to_string(&s).unwrap_or_default()
}

/// The credential back from its JSON; `None` when it cannot be understood.
pub fn from_json(text: &str) -> Option<Credential> {
    Some(match serde_json::from_str::<Stored>(text).ok()? {
        Stored::Community {
            name,
            version,
            community,
        } => Credential::Community {
            name,
            version: match version.as_str() {
                "1" => Version::V1,
                "2c" => Version::V2c,
                _ => return None,
            },
            community: Secret::new(community),
        },
        Stored::V3 {
            name,
            user,
            auth,
            privacy,
            context,
        } => Credential::V3 {
            name,
            user,
            auth: match auth {
                Some((p, s)) => Some((AuthProto::parse(&p)?, Secret::new(s))),
                None => None,
            },
            privacy: match privacy {
                Some((p, s)) => Some((PrivProto::parse(&p)?, Secret::new(s))),
                None => None,
            },
            context,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v3_credential_survives_the_round_trip() {
        let c = Credential::V3 {
            name: "ops".into(),
            user: "ops".into(),
            auth: Some((AuthProto::Sha256, Secret::new("authpass1"))),
            privacy: Some((PrivProto::Aes128, Secret::new("privpass1"))),
            context: String::new(),
        };
        let back = from_json(&to_json(&c)).expect("round trip");
        assert_eq!(to_json(&back), to_json(&c));
        assert!(!format!("{back:?}").contains("authpass1"));
    }

    #[test]
    fn a_community_survives_the_round_trip() {
        let c = Credential::community("office", Version::V1, "s3cret");
        let back = from_json(&to_json(&c)).expect("round trip");
        assert_eq!(back.name(), "office");
        assert_eq!(back.version(), Version::V1);
    }
}
