//! The upload format, version 1: what one `POST` to `[upload] url` carries
//! and what the server answers. `docs/upload-api.yaml` is the same contract
//! as an OpenAPI document for server authors; the two must not disagree.
//!
//! Owns: [`Batch`] (the body, gzip-compressed JSON), [`Item`], [`Ack`] (the
//! 2xx answer), the header names and [`encode`] / [`decode`].
//!
//! Invariants:
//! - a batch is formed once and persisted before it is first sent; every
//!   retry sends the *same bytes* under the same `Idempotency-Key`
//!   (= `batch_id`), so a server that applied it already can answer from
//!   its record of that key;
//! - `seq` is the outbox row id: unique and increasing for one `site_id`
//!   (the installation's database), never reused, so a server may also
//!   de-duplicate item by item with `(site_id, seq)`;
//! - times are milliseconds since the Unix epoch (UTC);
//! - `data` is the item's JSON exactly as it was queued (see the `kind`s in
//!   `docs/upload-api.yaml`); an unknown `kind` must be kept or ignored by
//!   a server, never make it refuse the batch;
//! - an [`Ack`] the agent cannot parse still acknowledges the batch: the 2xx
//!   status is the acknowledgement, the body only adds detail.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The version of this format, in every batch's `schema`.
pub const SCHEMA_VERSION: u32 = 1;

/// The header carrying the batch id on every attempt.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The largest decompressed body [`decode`] accepts (64 MiB).
pub const MAX_DECODED: u64 = 64 << 20;

/// Who sends the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Always `printscout`.
    pub name: String,
    /// The agent's version (`0.1.0`).
    pub version: String,
}

impl Agent {
    /// This build.
    pub fn this() -> Self {
        Self {
            name: "printscout".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One queued item: a meter reading, a status change, an event or a job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    /// The outbox row id: unique per `site_id`, increasing, never reused.
    pub seq: i64,
    /// `meters`, `status`, `event` or `job` (more may come; see the module
    /// invariants).
    pub kind: String,
    /// When it was queued (ms since epoch).
    pub at: i64,
    /// The item itself, as queued.
    pub data: Box<RawValue>,
}

/// The body of one upload (before gzip).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Batch {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// A UUID, also sent as the `Idempotency-Key` header.
    pub batch_id: String,
    /// A UUID naming this installation's database (kept in its `meta`
    /// table); the site token says which customer it belongs to.
    pub site_id: String,
    /// The sender.
    pub agent: Agent,
    /// When the batch was formed (ms since epoch); the same on every retry.
    pub created_at: i64,
    /// The items, by increasing `seq`.
    pub items: Vec<Item>,
}

/// An item the server will never accept (it is not sent again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The item's `seq`.
    pub seq: i64,
    /// Why, in words.
    pub reason: String,
}

/// The server's 2xx answer: what it accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The batch answered.
    #[serde(default)]
    pub batch_id: String,
    /// Items stored now or earlier (a repeated key counts them again).
    #[serde(default)]
    pub accepted: u64,
    /// Whether the server had already applied this `Idempotency-Key`.
    #[serde(default)]
    pub duplicate: bool,
    /// Items the server refuses for good.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Not gzip, or cut short.
    #[error("the body is not valid gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// Larger than [`MAX_DECODED`] once decompressed.
    #[error("the body is larger than {MAX_DECODED} bytes once decompressed")]
    TooLarge,
    /// Not a batch.
    #[error("the body is not a PrintScout batch: {0}")]
    Json(#[from] serde_json::Error),
}

/// The batch as gzip-compressed JSON, and the size of that JSON.
pub fn encode(batch: &Batch) -> Result<(Vec<u8>, usize), serde_json::Error> {
    let json = serde_json::to_vec(batch)?;
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&json);
    let body = gz.finish().unwrap_or_default();
    Ok((body, json.len()))
}

/// Decompresses (at most [`MAX_DECODED`] bytes) and parses a batch; for
/// servers and tests.
pub fn decode(body: &[u8]) -> Result<Batch, ProtocolError> {
    let mut json = Vec::new();
    GzDecoder::new(body)
        .take(MAX_DECODED + 1)
        .read_to_end(&mut json)
        .map_err(ProtocolError::Gzip)?;
    if json.len() as u64 > MAX_DECODED {
        return Err(ProtocolError::TooLarge);
    }
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_survives_encoding_with_its_items_as_queued() {
        let batch = Batch {
            schema: SCHEMA_VERSION,
            batch_id: "b".into(),
            site_id: "s".into(),
            agent: Agent::this(),
            created_at: 1,
            items: vec![Item {
                seq: 7,
                kind: "status".into(),
                at: 2,
                data: RawValue::from_string(r#"{"status":"ok"}"#.into()).expect("json"),
            }],
        };
        let (body, raw) = encode(&batch).expect("encode");
        assert!(raw > body.len() / 2);
        let back = decode(&body).expect("decode");
        assert_eq!(back.items[0].seq, 7);
        assert_eq!(back.items[0].data.get(), r#"{"status":"ok"}"#);
        assert_eq!(back.agent, Agent::this());
    }

    #[test]
    fn the_openapi_file_names_every_field_a_batch_carries() {
        let doc = include_str!("../../../../docs/upload-api.yaml");
        for required in [
            "required: [schema, batch_id, site_id, agent, created_at, items]",
            "required: [seq, kind, at, data]",
            "required: [name, version]",
            "const: 1",
        ] {
            assert!(
                doc.contains(required),
                "docs/upload-api.yaml lacks `{required}`"
            );
        }
        assert_eq!(SCHEMA_VERSION, 1);
        let ack = serde_json::to_value(Ack::default()).expect("json");
        for key in ack.as_object().expect("object").keys() {
            assert!(
                doc.contains(&format!("        {key}:")),
                "Ack.{key} undocumented"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode(b"not gzip"), Err(ProtocolError::Gzip(_))));
    }

    #[test]
    fn an_ack_with_only_a_status_line_body_parses_to_defaults() {
        let ack: Ack = serde_json::from_str("{}").expect("json");
        assert_eq!(ack, Ack::default());
    }
}
