//! The outbox: what must leave the site, its bound, and the batches the
//! upload forms from it.
//!
//! Owns: [`bound`] (the policy when full), [`Store::enqueue`], the batch
//! life cycle ([`Store::pending_batch`] → [`Store::ack_batch`] or
//! [`Store::split_batch`]) and [`OutboxSummary`].
//!
//! Invariants:
//! - an item leaves the outbox only in the transaction that records the
//!   server's 2xx for the batch holding it ([`Store::ack_batch`]), by the
//!   policy when the outbox is full (counted in `meta.outbox_dropped`), or
//!   when the server refused it alone as too large (counted in
//!   `meta.upload_rejected`);
//! - at most one batch is pending; it is written (with its exact body)
//!   before it is first sent and holds exactly the rows
//!   `first_seq..=last_seq` that existed when it was formed; the policy
//!   never drops those rows, so an acknowledged batch deletes exactly what
//!   it carried;
//! - when the outbox holds more than `outbox_max` items the oldest `status`
//!   items go first, then the oldest `meters`, and only then the oldest of
//!   the rest (events, jobs): billing readings and events are kept longest;
//! - every write here is one `BEGIN IMMEDIATE` transaction: the collector
//!   writes on its own connection at the same time, and a deferred
//!   transaction that read first could not become a writer (SQLite answers
//!   "busy" at once instead of waiting `busy_timeout`); looking for the
//!   pending batch and forming a new one happen in the same transaction, so
//!   two senders over one database never form overlapping batches;
//! - the size is kept by triggers (`outbox_size`), so checking the bound
//!   costs one row read per insert.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Store, StoreError, now_ms};
use crate::uplink::protocol::{self, Agent, Batch, Item, SCHEMA_VERSION};

/// The kinds dropped first when the outbox is full, in order.
const DROP_FIRST: [&str; 2] = ["status", "meters"];

/// Applies the bound: drops what the policy says until at most `max` items
/// wait. Returns how many went (also added to `meta.outbox_dropped`).
pub(crate) fn bound(conn: &Connection, max: usize) -> rusqlite::Result<usize> {
    let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    let n: i64 = conn
        .prepare_cached("SELECT n FROM outbox_size WHERE one = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    if n <= max {
        return Ok(0);
    }
    let mut excess = n - max;
    let floor: i64 = conn
        .prepare_cached("SELECT coalesce(max(last_seq), 0) FROM outbox_batches")?
        .query_row([], |r| r.get(0))?;
    let mut dropped = 0usize;
    for kind in DROP_FIRST {
        if excess <= 0 {
            break;
        }
        let k = conn
            .prepare_cached(
                "DELETE FROM outbox WHERE id IN
                   (SELECT id FROM outbox WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3)",
            )?
            .execute(params![kind, floor, excess])?;
        excess -= k as i64;
        dropped += k;
    }
    if excess > 0 {
        dropped += conn
            .prepare_cached(
                "DELETE FROM outbox WHERE id IN
                   (SELECT id FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .execute(params![floor, excess])?;
    }
    if dropped > 0 {
        add_to_meta(conn, "outbox_dropped", dropped as i64)?;
    }
    Ok(dropped)
}

fn add_to_meta(conn: &Connection, key: &str, by: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
    )?
    .execute(params![key, by])?;
    Ok(())
}

/// A batch waiting for the server's acknowledgement.
#[derive(Clone)]
pub struct PendingBatch {
    /// Its id, also the `Idempotency-Key`.
    pub batch_id: String,
    /// The first and last outbox row it holds.
    pub first_seq: i64,
    /// See `first_seq`.
    pub last_seq: i64,
    /// How many items.
    pub items: usize,
    /// When it was formed (ms).
    pub created_at: i64,
    /// Its JSON's size before compression.
    pub json_bytes: usize,
    /// The gzip body sent on every attempt.
    pub body: Vec<u8>,
    /// Attempts made so far (before this one).
    pub attempts: u32,
}

impl std::fmt::Debug for PendingBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBatch")
            .field("batch_id", &self.batch_id)
            .field("seq", &(self.first_seq..=self.last_seq))
            .field("items", &self.items)
            .field("body_bytes", &self.body.len())
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// What waits in the outbox, for `sync` and the API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxSummary {
    /// Items waiting.
    pub queued: i64,
    /// By kind (`meters`, `status`, `event`, `job`).
    pub by_kind: Vec<(String, i64)>,
    /// When the oldest waiting item was queued (ms).
    pub oldest: Option<i64>,
    /// Items dropped because the outbox was full.
    pub dropped: i64,
    /// Items the server refused for good (too large alone, or listed as
    /// rejected in its answer).
    pub rejected: i64,
    /// The batch waiting for an answer: its id, items and attempts so far.
    pub pending: Option<(String, usize, u32)>,
}

fn stored_batch(conn: &Connection) -> Result<Option<PendingBatch>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT batch_id, first_seq, last_seq, items, created_at, json_bytes, body, attempts
             FROM outbox_batches ORDER BY first_seq LIMIT 1",
            [],
            |r| {
                Ok(PendingBatch {
                    batch_id: r.get(0)?,
                    first_seq: r.get(1)?,
                    last_seq: r.get(2)?,
                    items: r.get::<_, i64>(3)? as usize,
                    created_at: r.get(4)?,
                    json_bytes: r.get::<_, i64>(5)? as usize,
                    body: r.get(6)?,
                    attempts: r.get::<_, i64>(7)?.try_into().unwrap_or(u32::MAX),
                })
            },
        )
        .optional()?)
}

impl Store {
    /// A write transaction taken at once (`BEGIN IMMEDIATE`; see the module
    /// invariants).
    fn write(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Queues one item (`kind`: `meters`, `status`, `event`, `job`;
    /// `payload`: JSON text) and applies the bound `max`. Returns its seq.
    pub fn enqueue(
        &mut self,
        kind: &str,
        at: i64,
        payload: &str,
        max: usize,
    ) -> Result<i64, StoreError> {
        // Refuse what a server could not parse rather than poison a batch.
        serde_json::from_str::<&RawValue>(payload)
            .map_err(|e| StoreError::Invalid(format!("outbox payload is not JSON: {e}")))?;
        let tx = self.write()?;
        tx.prepare_cached("INSERT INTO outbox(created_at, kind, payload) VALUES (?1, ?2, ?3)")?
            .execute(params![at, kind, payload])?;
        let seq = tx.last_insert_rowid();
        bound(&tx, max)?;
        tx.commit()?;
        Ok(seq)
    }

    /// What waits in the outbox.
    pub fn outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        let c = &self.conn;
        let queued: i64 = c
            .query_row("SELECT n FROM outbox_size WHERE one = 1", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let mut by_kind = Vec::new();
        let mut oldest = None;
        if queued > 0 {
            let mut st =
                c.prepare("SELECT kind, count(*) FROM outbox GROUP BY kind ORDER BY kind")?;
            by_kind = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            oldest = c
                .query_row(
                    "SELECT created_at FROM outbox ORDER BY id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
        }
        let count = |key| -> Result<i64, StoreError> {
            Ok(self.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        let pending = c
            .query_row(
                "SELECT batch_id, items, attempts FROM outbox_batches ORDER BY first_seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize, r.get(2)?)),
            )
            .optional()?;
        Ok(OutboxSummary {
            queued,
            by_kind,
            oldest,
            dropped: count("outbox_dropped")?,
            rejected: count("upload_rejected")?,
            pending,
        })
    }

    /// This installation's id for the upload (`meta.site_id`), made on
    /// first use.
    pub fn site_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.meta("site_id")? {
            return Ok(id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('site_id', ?1) ON CONFLICT(key) DO NOTHING",
            [&id],
        )?;
        Ok(self.meta("site_id")?.unwrap_or(id))
    }

    /// The batch to send: the one already pending (sent before, not
    /// acknowledged — it goes again byte for byte), or a new one of the
    /// oldest items, at most `max_items` and about `max_bytes` of JSON (at
    /// least one item). `None` when nothing waits.
    pub fn pending_batch(
        &mut self,
        max_items: usize,
        max_bytes: usize,
    ) -> Result<Option<PendingBatch>, StoreError> {
        let site_id = self.site_id()?;
        let tx = self.write()?;
        if let Some(b) = stored_batch(&tx)? {
            return Ok(Some(b));
        }
        let mut items = Vec::new();
        let mut bytes = 0usize;
        {
            let mut st = tx.prepare_cached(
                "SELECT id, kind, created_at, payload FROM outbox ORDER BY id LIMIT ?1",
            )?;
            let mut rows = st.query([i64::try_from(max_items.max(1)).unwrap_or(i64::MAX)])?;
            while let Some(r) = rows.next()? {
                let payload: String = r.get(3)?;
                let size = payload.len() + 48;
                if !items.is_empty() && bytes + size > max_bytes {
                    break;
                }
                // A row that is not JSON (written by hand, or damaged)
                // travels as a JSON string rather than stopping the queue.
                let data = RawValue::from_string(payload.clone()).or_else(|_| {
                    RawValue::from_string(serde_json::to_string(&payload).unwrap_or_default())
                });
                let Ok(data) = data else { continue };
                bytes += size;
                items.push(Item {
                    seq: r.get(0)?,
                    kind: r.get(1)?,
                    at: r.get(2)?,
                    data,
                });
            }
        }
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return Ok(None);
        };
        let (first_seq, last_seq) = (first.seq, last.seq);
        let batch = Batch {
            schema: SCHEMA_VERSION,
            batch_id: uuid::Uuid::new_v4().to_string(),
            site_id,
            agent: Agent::this(),
            created_at: now_ms(),
            items,
        };
        let (body, json_bytes) = protocol::encode(&batch)
            .map_err(|e| StoreError::Invalid(format!("cannot encode a batch: {e}")))?;
        tx.execute(
            "INSERT INTO outbox_batches(batch_id, first_seq, last_seq, items, created_at, json_bytes, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                batch.batch_id,
                first_seq,
                last_seq,
                batch.items.len() as i64,
                batch.created_at,
                json_bytes as i64,
                body
            ],
        )?;
        tx.commit()?;
        Ok(Some(PendingBatch {
            batch_id: batch.batch_id,
            first_seq,
            last_seq,
            items: batch.items.len(),
            created_at: batch.created_at,
            json_bytes,
            body,
            attempts: 0,
        }))
    }

    /// Counts an attempt at the batch (before it is sent).
    pub fn batch_attempted(&self, batch_id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox_batches SET attempts = attempts + 1 WHERE batch_id = ?1",
            [batch_id],
        )?;
        Ok(())
    }

    /// The server acknowledged the batch (2xx): its items leave the outbox,
    /// `rejected` of them counted as refused for good, and
    /// `meta.last_upload` becomes `at`. Returns the items removed (0 when
    /// the batch was already acknowledged).
    pub fn ack_batch(
        &mut self,
        batch_id: &str,
        rejected: usize,
        at: i64,
    ) -> Result<usize, StoreError> {
        let tx = self.write()?;
        let range: Option<(i64, i64)> = tx
            .query_row(
                "SELECT first_seq, last_seq FROM outbox_batches WHERE batch_id = ?1",
                [batch_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((first, last)) = range else {
            return Ok(0);
        };
        let removed = tx.execute(
            "DELETE FROM outbox WHERE id BETWEEN ?1 AND ?2",
            params![first, last],
        )?;
        tx.execute("DELETE FROM outbox_batches WHERE batch_id = ?1", [batch_id])?;
        if rejected > 0 {
            add_to_meta(&tx, "upload_rejected", rejected as i64)?;
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('last_upload', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [at.to_string()],
        )?;
        tx.commit()?;
        Ok(removed)
    }

    /// The server refused the batch as too large (413): it is forgotten
    /// (the server stored nothing), so the next [`Store::pending_batch`]
    /// forms a smaller one. A batch of one item cannot be split: that item
    /// is set aside for good and counted in `meta.upload_rejected`.
    /// Returns whether an item was set aside.
    pub fn split_batch(&mut self, batch_id: &str) -> Result<bool, StoreError> {
        let tx = self.write()?;
        let row: Option<(i64, i64, i64)> = tx
            .query_row(
                "SELECT first_seq, last_seq, items FROM outbox_batches WHERE batch_id = ?1",
                [batch_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let mut set_aside = false;
        if let Some((first, last, items)) = row {
            if items <= 1 {
                let n = tx.execute(
                    "DELETE FROM outbox WHERE id BETWEEN ?1 AND ?2",
                    params![first, last],
                )?;
                add_to_meta(&tx, "upload_rejected", n as i64)?;
                set_aside = true;
            }
            tx.execute("DELETE FROM outbox_batches WHERE batch_id = ?1", [batch_id])?;
        }
        tx.commit()?;
        Ok(set_aside)
    }
}
