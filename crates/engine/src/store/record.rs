//! Writing one poll result: identity resolution (who answered at this
//! address), the device row, the status series, conditions, the meter
//! reading, events and the outbox — all in the caller's transaction.
//!
//! Invariants:
//! - a device is matched by its strong key (vendor + serial, then MAC); an
//!   address only ever identifies a device that has no strong key;
//! - when a known device answers at an address another device held, that
//!   other device is *displaced*, never merged: it takes the address the mover
//!   left (the two swapped) or none (it will be found again by rediscovery);
//! - a counter that goes backwards is stored as read, flagged in
//!   `meter_readings.regressed`, and raises one `counter_drop` event;
//! - counters and supplies are stored only when they changed (NULL = same as
//!   the row before), so an idle printer costs a few bytes per read;
//! - a failed poll writes no reading; "offline" needs `offline_after`
//!   consecutive failures and raises one event, "back" one more.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use super::identity::{address_key, identity_key, is_strong, usable_mac};
use super::{DEVICE_COLUMNS, DeviceRecord, Store, StoreError, credential, device_from_row};
use crate::events::{
    Event, EventKind, Severity, Source, Step, SupplyThresholds, conditions, resets_by_design, step,
};
use crate::printer::fab::{FabProtocol, JobRecord, synthesise};
use crate::printer::{Reading, Supply};
use crate::snmp::Credential;

/// Which schedule produced the poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// State, errors and alerts only.
    Status,
    /// A full read: identity, counters, supplies and status.
    Meters,
}

/// What a poll got.
#[derive(Debug)]
pub enum PollOutcome {
    /// The device answered.
    Read {
        /// What it said.
        reading: Box<Reading>,
        /// The SNMP credential that worked (remembered for the device); `None`
        /// for IPP and 3D printers, whose keys live in the secret store.
        credential: Option<Credential>,
    },
    /// It did not (or not usefully).
    Failed {
        /// Why, in words (no secrets).
        error: String,
    },
    /// It answered but refused us or could not be used (a wrong API key or
    /// access code, an untrusted certificate, an answer this protocol does
    /// not send): the printer is there, so this never counts toward
    /// "offline"; the error is kept for the user to fix.
    Refused {
        /// Why, in words (no secrets).
        error: String,
    },
}

/// One poll of one address.
#[derive(Debug)]
pub struct PollResult {
    /// The device that was polled; `None` for a device found by discovery or
    /// added by hand, which is matched (or created) by identity.
    pub device_id: Option<i64>,
    /// The address asked (`host:port`).
    pub address: String,
    /// Status or full read.
    pub kind: PollKind,
    /// When (ms since epoch).
    pub at: i64,
    /// What happened.
    pub outcome: PollOutcome,
}

/// The rules that turn readings into events.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Supply thresholds.
    pub thresholds: SupplyThresholds,
    /// Consecutive failed polls before a device is offline.
    pub offline_after: u32,
    /// Items the outbox may hold; beyond that the policy drops the oldest
    /// status items, then meter readings, then the rest
    /// (see `store::outbox`).
    pub outbox_max: usize,
    /// Whether readings and events are queued for the upload at all (only
    /// while an upload URL is configured).
    pub queue: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            thresholds: SupplyThresholds {
                low_percent: 20.0,
                empty_percent: 0.0,
            },
            offline_after: 3,
            outbox_max: 250_000,
            queue: true,
        }
    }
}

/// What recording a poll did.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The device the reading was filed under (it may differ from the one
    /// polled when another device answered there).
    pub device_id: Option<i64>,
    /// The meter reading row, for a full read.
    pub reading_id: Option<i64>,
    /// Whether a new device was created.
    pub created: bool,
    /// Events raised, with their ids.
    pub events: Vec<Event>,
    /// A status poll saw a different device (MAC) than expected; nothing was
    /// written and a full read should settle who is there.
    pub identity_mismatch: bool,
    /// The device was removed by the user; nothing was written.
    pub ignored_removed: bool,
    /// An IPP reading of a printer already monitored over SNMP: its uuid and
    /// address were added to that device, nothing else was written.
    pub merged: bool,
    /// 3D jobs written (synthesised from this reading, or from a history poll).
    pub jobs: usize,
}

impl Store {
    /// Records one poll result atomically.
    pub fn record(&mut self, p: &PollResult, rules: &Rules) -> Result<Recorded, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut w = Writer {
            tx: &tx,
            rules,
            at: p.at,
            events: Vec::new(),
        };
        let mut rec = w.apply(p, false)?;
        rec.events = w.finish()?;
        tx.commit()?;
        Ok(rec)
    }

    /// Records a 3D printer's history poll: every job upserted by its key
    /// (new and changed finished jobs queued for the upload) and the poll's
    /// time. Returns how many jobs were new or changed.
    pub fn record_history(
        &mut self,
        device_id: i64,
        jobs: &[JobRecord],
        at: i64,
        rules: &Rules,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut w = Writer {
            tx: &tx,
            rules,
            at,
            events: Vec::new(),
        };
        let Some(t) = w.device(device_id)? else {
            return Err(StoreError::NoDevice(device_id.to_string()));
        };
        let mut changed = 0;
        for j in jobs {
            changed += usize::from(w.upsert_job(&t, j)?);
        }
        w.exec(
            "UPDATE devices SET last_jobs = ?2 WHERE id = ?1",
            params![device_id, at],
        )?;
        w.finish()?;
        tx.commit()?;
        Ok(changed)
    }

    /// Adds a device by hand: with a reading it is matched or created by
    /// identity like a discovered one; without one it is kept by address.
    /// A device the user had removed comes back. Name and location, when
    /// given, are the user's labels.
    pub fn add_device(
        &mut self,
        address: &str,
        added_as: Option<&str>,
        found: Option<(Reading, Credential)>,
        labels: (Option<&str>, Option<&str>),
        rules: &Rules,
    ) -> Result<Recorded, StoreError> {
        let found = found.map(|(r, c)| (r, Some(c)));
        self.add_device_over("snmp", address, added_as, found, labels, rules)
    }

    /// Adds an IPP printer or a 3D printer by its URL (`ipp://…`,
    /// `octoprint://…`), with its first reading when it answered, else kept
    /// by address and polled over `protocol` until it does.
    pub fn add_printer_url(
        &mut self,
        protocol: &str,
        url: &str,
        reading: Option<Reading>,
        labels: (Option<&str>, Option<&str>),
        rules: &Rules,
    ) -> Result<Recorded, StoreError> {
        let found = reading.map(|r| (r, None));
        self.add_device_over(protocol, url, None, found, labels, rules)
    }

    fn add_device_over(
        &mut self,
        protocol: &str,
        address: &str,
        added_as: Option<&str>,
        found: Option<(Reading, Option<Credential>)>,
        labels: (Option<&str>, Option<&str>),
        rules: &Rules,
    ) -> Result<Recorded, StoreError> {
        let at = super::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut w = Writer {
            tx: &tx,
            rules,
            at,
            events: Vec::new(),
        };
        let mut rec = match found {
            Some((reading, credential)) => w.apply(
                &PollResult {
                    device_id: None,
                    address: address.to_string(),
                    kind: PollKind::Meters,
                    at,
                    outcome: PollOutcome::Read {
                        reading: Box::new(reading),
                        credential,
                    },
                },
                true,
            )?,
            None => {
                let key = address_key(address);
                let existing: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM devices WHERE identity_key = ?1 OR (address = ?2 AND removed_at IS NULL)",
                        params![key, address],
                        |r| r.get(0),
                    )
                    .optional()?;
                let (id, created) = match existing {
                    Some(id) => (id, false),
                    None => {
                        tx.execute(
                            "INSERT INTO devices(identity_key, address, first_seen, protocol) VALUES (?1, ?2, ?3, ?4)",
                            params![key, address, at, protocol],
                        )?;
                        (tx.last_insert_rowid(), true)
                    }
                };
                w.touch_address(id, address)?;
                Recorded {
                    device_id: Some(id),
                    created,
                    ..Recorded::default()
                }
            }
        };
        if let Some(id) = rec.device_id {
            tx.execute(
                "UPDATE devices SET removed_at = NULL, added_as = coalesce(?2, added_as),
                        name = coalesce(?3, name), location = coalesce(?4, location) WHERE id = ?1",
                params![id, added_as, labels.0, labels.1],
            )?;
            rec.ignored_removed = false;
        }
        rec.events = w.finish()?;
        tx.commit()?;
        Ok(rec)
    }
}

/// A device's name, host name and model, for messages.
type Labels = (Option<String>, Option<String>, Option<String>);

struct Writer<'t> {
    tx: &'t Transaction<'t>,
    rules: &'t Rules,
    at: i64,
    events: Vec<Event>,
}

/// A supply as kept in the time series (short keys: it is stored often).
#[derive(Serialize, PartialEq)]
struct SupplyLevel<'a> {
    d: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    c: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    l: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<f64>,
    s: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    r: bool,
}

/// The name of a supply state, as stored.
pub fn state_name(s: &crate::printer::SupplyState) -> &'static str {
    use crate::printer::SupplyState as S;
    match s {
        S::Percent(_) => "percent",
        S::SomeRemaining => "some_remaining",
        S::Unknown => "unknown",
        S::NotApplicable => "not_applicable",
        S::Empty => "empty",
        S::Full => "full",
        S::Low => "low",
        S::Ok => "ok",
    }
}

fn supplies_json(supplies: &[Supply]) -> String {
    let v: Vec<SupplyLevel<'_>> = supplies
        .iter()
        .map(|s| SupplyLevel {
            d: &s.description,
            k: s.kind.as_deref(),
            c: s.color.as_deref(),
            l: s.level,
            m: s.max,
            p: s.percent,
            s: state_name(&s.state),
            r: s.class.as_deref() == Some("receptacleThatIsFilled"),
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

impl Writer<'_> {
    /// Runs a statement, parsed once per connection (SQLite's parse was 14 %
    /// of the service's CPU when every poll prepared its statements anew).
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.tx.prepare_cached(sql)?.execute(params)
    }

    /// One row of a cached statement.
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.tx.prepare_cached(sql)?.query_row(params, f)
    }

    fn device(&self, id: i64) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_from_row,
            )
            .optional()?)
    }

    fn device_by_key(&self, key: &str) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self
            .row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE identity_key = ?1"),
                [key],
                device_from_row,
            )
            .optional()?)
    }

    fn event(
        &mut self,
        device_id: Option<i64>,
        kind: EventKind,
        severity: Severity,
        message: String,
        data: serde_json::Value,
    ) {
        self.events.push(Event {
            id: 0,
            at: self.at,
            device_id,
            kind,
            severity,
            message,
            data,
        });
    }

    /// Stores the events and queues them; bounds the outbox.
    fn finish(mut self) -> Result<Vec<Event>, StoreError> {
        let events = std::mem::take(&mut self.events);
        let mut out = Vec::with_capacity(events.len());
        for mut e in events {
            let data = if e.data.is_null() {
                None
            } else {
                Some(e.data.to_string())
            };
            self.exec(
                "INSERT INTO events(at, device_id, kind, severity, message, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.at, e.device_id, e.kind.as_str(), e.severity.as_str(), e.message, data],
            )?;
            e.id = self.tx.last_insert_rowid();
            if self.rules.queue {
                let payload = serde_json::to_string(&e).unwrap_or_default();
                self.exec(
                    "INSERT INTO outbox(created_at, kind, payload) VALUES (?1, 'event', ?2)",
                    params![e.at, payload],
                )?;
            }
            out.push(e);
        }
        if self.rules.queue {
            let dropped = super::outbox::bound(self.tx, self.rules.outbox_max)?;
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    max = self.rules.outbox_max,
                    "the outbox is full: the oldest status items (then meter readings) were dropped"
                );
            }
        }
        Ok(out)
    }

    fn touch_address(&self, id: i64, address: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO addresses(device_id, address, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(device_id, address) DO UPDATE SET last_seen = excluded.last_seen",
            params![id, address, self.at],
        )?;
        Ok(())
    }

    fn apply(&mut self, p: &PollResult, explicit: bool) -> Result<Recorded, StoreError> {
        match &p.outcome {
            PollOutcome::Failed { error } => self.failed(p, error),
            PollOutcome::Refused { error } => self.refused(p, error),
            PollOutcome::Read {
                reading,
                credential,
            } => self.read(p, reading, credential.as_ref(), explicit),
        }
    }

    /// The device answered but refused (or lacks its key): its error is kept,
    /// failures toward "offline" are not counted, and an offline device is back.
    fn refused(&mut self, p: &PollResult, error: &str) -> Result<Recorded, StoreError> {
        let Some(d) = p.device_id.map(|id| self.device(id)).transpose()?.flatten() else {
            return Ok(Recorded::default());
        };
        if d.removed {
            return Ok(Recorded {
                ignored_removed: true,
                ..Recorded::default()
            });
        }
        self.exec(
            "UPDATE devices SET failures = 0, offline = 0, last_error = ?2, last_status = ?3
              WHERE id = ?1",
            params![d.id, error, self.at],
        )?;
        if d.offline {
            self.event(
                Some(d.id),
                EventKind::Back,
                Severity::Info,
                format!("{} answers again, but: {error}", d.display_name()),
                json!({ "address": p.address }),
            );
        }
        Ok(Recorded {
            device_id: Some(d.id),
            ..Recorded::default()
        })
    }

    fn failed(&mut self, p: &PollResult, error: &str) -> Result<Recorded, StoreError> {
        let Some(d) = p.device_id.map(|id| self.device(id)).transpose()?.flatten() else {
            return Ok(Recorded::default());
        };
        if d.removed {
            return Ok(Recorded {
                ignored_removed: true,
                ..Recorded::default()
            });
        }
        let failures = d.failures + 1;
        let goes_offline = !d.offline && failures >= i64::from(self.rules.offline_after.max(1));
        self.exec(
            "UPDATE devices SET failures = ?2, last_error = ?3, last_status = ?4, offline = offline OR ?5 WHERE id = ?1",
            params![d.id, failures, error, self.at, goes_offline],
        )?;
        if goes_offline {
            self.event(
                Some(d.id),
                EventKind::Offline,
                Severity::Warning,
                format!(
                    "{} is offline: no answer in {failures} polls in a row ({error})",
                    d.display_name()
                ),
                json!({ "failures": failures, "address": p.address }),
            );
        }
        Ok(Recorded {
            device_id: Some(d.id),
            ..Recorded::default()
        })
    }

    fn read(
        &mut self,
        p: &PollResult,
        r: &Reading,
        credential: Option<&Credential>,
        explicit: bool,
    ) -> Result<Recorded, StoreError> {
        let polled = p.device_id.map(|id| self.device(id)).transpose()?.flatten();
        if let Some(d) = &polled {
            if d.removed && !explicit {
                return Ok(Recorded {
                    ignored_removed: true,
                    ..Recorded::default()
                });
            }
            // A status poll carries only the MAC; a different one means another
            // device answers here. Let a full read settle who.
            if p.kind == PollKind::Status
                && let (Some(was), Some(now)) = (
                    usable_mac(d.mac.as_deref()),
                    usable_mac(r.identity.mac.as_deref()),
                )
                && was != now
            {
                return Ok(Recorded {
                    device_id: Some(d.id),
                    identity_mismatch: true,
                    ..Recorded::default()
                });
            }
        }
        let protocol = r.protocol.as_deref().unwrap_or("snmp");
        // An IPP or 3D printer's every read is whole (identity, supplies,
        // state): it is keyed on each poll; an SNMP status poll carries too
        // little to key on. Meter rows are still written by full reads only.
        let full = p.kind == PollKind::Meters || r.protocol.is_some();
        let key = if full { identity_key(r) } else { None };
        // IPP and SNMP readings of one printer are one device (same uuid or
        // serial): SNMP, with more counters, stays in charge.
        let same = if full {
            self.same_printer(polled.as_ref(), r, protocol)?
        } else {
            None
        };
        if let Some(same) = &same {
            if same.protocol == "snmp" && protocol != "snmp" {
                self.exec(
                    "UPDATE devices SET uuid = coalesce(?2, uuid) WHERE id = ?1",
                    params![same.id, r.identity.uuid],
                )?;
                self.touch_address(same.id, &p.address)?;
                if let Some(d) = polled.as_ref().filter(|d| d.id != same.id) {
                    self.retire_into(d, same)?;
                }
                return Ok(Recorded {
                    device_id: Some(same.id),
                    merged: true,
                    ..Recorded::default()
                });
            }
            if same.protocol != "snmp" && protocol == "snmp" {
                self.exec(
                    "UPDATE devices SET protocol = 'snmp' WHERE id = ?1",
                    params![same.id],
                )?;
                if let Some(k) = &key
                    && self.device_by_key(k)?.is_none()
                {
                    self.rekey(same.id, k)?;
                }
                if let Some(d) = polled.as_ref().filter(|d| d.id != same.id) {
                    self.retire_into(d, same)?;
                }
            }
        }
        let key = match same {
            Some(same) if same.protocol == protocol => Some(same.identity_key),
            _ => key,
        };
        let keyless = key.is_none();
        let (target, created) = self.resolve(polled.as_ref(), key, r, &p.address)?;
        // Without an identity key the polled device is the target, unchanged.
        let t = match polled {
            Some(d) if keyless && d.id == target => d,
            _ => self
                .device(target)?
                .ok_or_else(|| StoreError::NoDevice(target.to_string()))?,
        };
        if t.removed && !explicit {
            return Ok(Recorded {
                ignored_removed: true,
                ..Recorded::default()
            });
        }
        let credential_json = credential.map(credential::to_json);
        self.move_to(
            &t,
            &p.address,
            credential_json.as_deref(),
            p.kind == PollKind::Meters,
        )?;
        let name = t
            .name
            .clone()
            .or_else(|| r.identity.hostname.clone())
            .unwrap_or_else(|| t.display_name());
        if t.offline {
            self.event(
                Some(t.id),
                EventKind::Back,
                Severity::Info,
                format!("{name} is back"),
                json!({ "address": p.address }),
            );
        }
        let same_credential = t.credential.as_ref().map(credential::to_json) == credential_json;
        if same_credential && t.failures == 0 && !t.offline && t.last_error.is_none() {
            // The usual status poll: only the times move.
            self.exec(
                "UPDATE devices SET last_seen = ?2, last_status = ?2 WHERE id = ?1",
                params![t.id, self.at],
            )?;
        } else {
            self.exec(
                "UPDATE devices SET credential = ?2, last_seen = ?3, last_status = ?3, failures = 0,
                        offline = 0, last_error = NULL WHERE id = ?1",
                params![t.id, credential_json, self.at],
            )?;
        }
        self.status(&t, r)?;
        let mut refreshed = vec![Source::ErrorBit, Source::Alert];
        let mut reading_id = None;
        if full {
            let id = &r.identity;
            self.exec(
                "UPDATE devices SET protocol = ?13, uuid = coalesce(?14, uuid),
                        vendor = ?2, model = ?3, serial = ?4, mac = coalesce(?5, mac),
                        hostname = ?6, sys_location = ?7, firmware = ?8, sys_object_id = ?9,
                        device_kind = ?10, last_meters = ?11, latest_reading = ?12 WHERE id = ?1",
                params![
                    t.id,
                    id.vendor,
                    id.model,
                    id.serial,
                    usable_mac(id.mac.as_deref()),
                    id.hostname,
                    id.location,
                    id.firmware,
                    id.sys_object_id,
                    r.device_kind,
                    self.at,
                    serde_json::to_string(r).ok(),
                    protocol,
                    id.uuid
                ],
            )?;
            if !r.supplies.is_empty() {
                refreshed.push(Source::Supply);
            }
            if p.kind == PollKind::Meters {
                reading_id = Some(self.meters(&t, &name, r)?);
            }
        }
        self.conditions(t.id, &name, r, &refreshed)?;
        let mut jobs = 0;
        if let Some(fab) = &r.fab
            && !FabProtocol::from_scheme(protocol).is_some_and(FabProtocol::has_native_history)
        {
            let last = self.last_synthesised_job(t.id)?;
            for j in synthesise(last.as_ref(), fab, self.at.div_euclid(1000)) {
                jobs += usize::from(self.upsert_job(&t, &j)?);
            }
        }
        for j in &r.jobs {
            jobs += usize::from(self.upsert_job(&t, j)?);
        }
        if r.fab.is_some() && p.kind == PollKind::Meters {
            self.exec(
                "UPDATE devices SET last_jobs = ?2 WHERE id = ?1",
                params![t.id, self.at],
            )?;
        }
        if created {
            self.event(
                Some(t.id),
                EventKind::NewDevice,
                Severity::Info,
                format!(
                    "new {} found at {}: {}{}",
                    if r.is_printer { "printer" } else { "device" },
                    p.address,
                    [r.identity.vendor.as_deref(), r.identity.model.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                    r.identity
                        .serial
                        .as_deref()
                        .map(|s| format!(" (serial {s})"))
                        .unwrap_or_default()
                ),
                json!({ "address": p.address, "serial": r.identity.serial }),
            );
        }
        Ok(Recorded {
            device_id: Some(t.id),
            reading_id,
            created,
            jobs,
            ..Recorded::default()
        })
    }

    /// Another device that is the same printer seen over another protocol:
    /// the same IPP uuid, or the same serial between SNMP and IPP.
    fn same_printer(
        &self,
        polled: Option<&DeviceRecord>,
        r: &Reading,
        protocol: &str,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let not = polled.map_or(-1, |d| d.id);
        if let Some(uuid) = r.identity.uuid.as_deref().filter(|u| !u.is_empty())
            && let Some(d) = self
                .row(
                    &format!(
                        "SELECT {DEVICE_COLUMNS} FROM devices WHERE uuid = ?1 AND id != ?2 AND removed_at IS NULL"
                    ),
                    params![uuid, not],
                    device_from_row,
                )
                .optional()?
        {
            return Ok(Some(d));
        }
        let office = |p: &str| matches!(p, "snmp" | "ipp" | "ipps");
        let Some(serial) = r
            .identity
            .serial
            .as_deref()
            .map(str::trim)
            .filter(|s| crate::printer::standard::plausible_serial(s))
        else {
            return Ok(None);
        };
        if !office(protocol) {
            return Ok(None);
        }
        let mut st = self.tx.prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE upper(serial) = upper(?1) AND id != ?2
               AND removed_at IS NULL AND protocol != ?3 LIMIT 2"
        ))?;
        let found: Vec<DeviceRecord> = st
            .query_map(params![serial, not, protocol], device_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(match found.as_slice() {
            [one] if office(&one.protocol) => Some(one.clone()),
            _ => None,
        })
    }

    /// `d` turned out to be `into` seen over another protocol: it stops being
    /// polled (its history stays), and the sighting is logged.
    fn retire_into(&self, d: &DeviceRecord, into: &DeviceRecord) -> Result<(), StoreError> {
        self.exec(
            "UPDATE devices SET removed_at = ?2, address = NULL WHERE id = ?1",
            params![d.id, self.at],
        )?;
        tracing::info!(
            device = d.id,
            into = into.id,
            "the same printer is known over {} and {}: kept as one device",
            d.protocol,
            into.protocol
        );
        Ok(())
    }

    /// The most recent synthesised job of a device (running or not).
    fn last_synthesised_job(&self, device_id: i64) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .row(
                "SELECT job_key, name, started_at, ended_at, duration_s, result, material FROM jobs
                  WHERE device_id = ?1 AND synthesised = 1
                  ORDER BY coalesce(started_at, 0) DESC, id DESC LIMIT 1",
                [device_id],
                |row| {
                    Ok(JobRecord {
                        key: row.get(0)?,
                        name: row.get(1)?,
                        started_at: row.get::<_, Option<i64>>(2)?.map(|ms| ms.div_euclid(1000)),
                        ended_at: row.get::<_, Option<i64>>(3)?.map(|ms| ms.div_euclid(1000)),
                        duration_s: row
                            .get::<_, Option<i64>>(4)?
                            .and_then(|d| u64::try_from(d).ok()),
                        result: row.get(5)?,
                        material: row.get(6)?,
                        synthesised: true,
                    })
                },
            )
            .optional()?)
    }

    /// Inserts or updates one job by its key; queues it for the upload when
    /// it is new or changed. Returns whether anything changed.
    pub(super) fn upsert_job(
        &mut self,
        t: &DeviceRecord,
        j: &JobRecord,
    ) -> Result<bool, StoreError> {
        let ms = |s: Option<i64>| s.map(|s| s.saturating_mul(1000));
        let duration = j.duration_s.and_then(|d| i64::try_from(d).ok());
        let changed = self.exec(
            "INSERT INTO jobs(device_id, job_key, name, started_at, ended_at, duration_s, result, material, synthesised)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(device_id, job_key) DO UPDATE SET
                name = excluded.name, started_at = excluded.started_at, ended_at = excluded.ended_at,
                duration_s = excluded.duration_s, result = excluded.result, material = excluded.material
             WHERE (name, started_at, ended_at, duration_s, result, material)
                   IS NOT (excluded.name, excluded.started_at, excluded.ended_at,
                           excluded.duration_s, excluded.result, excluded.material)",
            params![
                t.id,
                j.key,
                j.name,
                ms(j.started_at),
                ms(j.ended_at),
                duration,
                j.result,
                j.material,
                j.synthesised
            ],
        )? > 0;
        // Only finished jobs leave the site; a running one goes when it ends.
        if changed && self.rules.queue && j.ended_at.is_some() {
            let payload = json!({
                "device_id": t.id,
                "identity_key": t.identity_key,
                "job_key": j.key,
                "name": j.name,
                "started_at": ms(j.started_at),
                "ended_at": ms(j.ended_at),
                "duration_s": duration,
                "result": j.result,
                "material": j.material,
                "synthesised": j.synthesised,
            });
            self.exec(
                "INSERT INTO outbox(created_at, kind, payload) VALUES (?1, 'job', ?2)",
                params![self.at, payload.to_string()],
            )?;
        }
        Ok(changed)
    }

    /// Which device answered: returns its id and whether it was created.
    fn resolve(
        &mut self,
        polled: Option<&DeviceRecord>,
        key: Option<String>,
        r: &Reading,
        address: &str,
    ) -> Result<(i64, bool), StoreError> {
        let Some(k) = key else {
            if let Some(d) = polled {
                return Ok((d.id, false));
            }
            return match self.device_by_key(&address_key(address))? {
                Some(d) => Ok((d.id, false)),
                None => self.create(&address_key(address)).map(|id| (id, true)),
            };
        };
        if let Some(e) = self.device_by_key(&k)? {
            return Ok((e.id, false));
        }
        // First serial seen for a device known by its MAC.
        if k.starts_with("sn:")
            && let Some(m) = usable_mac(r.identity.mac.as_deref())
            && let Some(e) = self.device_by_key(&format!("mac:{m}"))?
        {
            self.rekey(e.id, &k)?;
            return Ok((e.id, false));
        }
        let upgradable = |d: &DeviceRecord| {
            !is_strong(&d.identity_key)
                || (d.identity_key.starts_with("mac:")
                    && k.starts_with("sn:")
                    && usable_mac(d.mac.as_deref()) == usable_mac(r.identity.mac.as_deref()))
        };
        if let Some(d) = polled {
            if upgradable(d) {
                self.rekey(d.id, &k)?;
                return Ok((d.id, false));
            }
            return self.create(&k).map(|id| (id, true));
        }
        if let Some(d) = self.device_by_key(&address_key(address))? {
            self.rekey(d.id, &k)?;
            return Ok((d.id, false));
        }
        self.create(&k).map(|id| (id, true))
    }

    fn rekey(&self, id: i64, key: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE devices SET identity_key = ?2 WHERE id = ?1",
            params![id, key],
        )?;
        Ok(())
    }

    fn create(&self, key: &str) -> Result<i64, StoreError> {
        self.exec(
            "INSERT INTO devices(identity_key, first_seen) VALUES (?1, ?2)",
            params![key, self.at],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Puts `t` at `address`, recording the move, and displaces any other
    /// device that was there and answered to the same credential (an agent
    /// that serves several devices by community, like snmpsim or some
    /// multi-port print servers, is several devices at one address).
    ///
    /// `addresses.last_seen` moves on full reads and moves only (hourly, not
    /// on every status poll: a page written per poll is wear for nothing).
    fn move_to(
        &mut self,
        t: &DeviceRecord,
        address: &str,
        credential: Option<&str>,
        touch: bool,
    ) -> Result<(), StoreError> {
        let previous = t.address.clone().filter(|a| a != address);
        if t.address.as_deref() != Some(address) {
            self.exec(
                "UPDATE devices SET address = ?2 WHERE id = ?1",
                params![t.id, address],
            )?;
            if let Some(prev) = &previous {
                self.event(
                    Some(t.id),
                    EventKind::AddressChanged,
                    Severity::Info,
                    format!("{} moved from {prev} to {address}", t.display_name()),
                    json!({ "from": prev, "to": address }),
                );
            }
        }
        if touch || t.address.as_deref() != Some(address) {
            self.touch_address(t.id, address)?;
        }
        let others: Vec<(i64, Labels)> = {
            let mut st = self.tx.prepare_cached(
                "SELECT id, name, hostname, model FROM devices WHERE address = ?1 AND id != ?2
                   AND removed_at IS NULL AND (credential IS NULL OR credential = ?3)",
            )?;
            let rows = st.query_map(params![address, t.id, credential], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, (name, host, model)) in others {
            // The address the mover left is free: the two most likely swapped.
            let free = match &previous {
                Some(prev) => self.row(
                        "SELECT count(*) FROM devices WHERE address = ?1 AND id != ?2 AND removed_at IS NULL",
                        params![prev, t.id],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n == 0)?,
                None => false,
            };
            let next = if free { previous.clone() } else { None };
            self.exec(
                "UPDATE devices SET address = ?2 WHERE id = ?1",
                params![id, next],
            )?;
            let who = name
                .or(host)
                .or(model)
                .unwrap_or_else(|| format!("device {id}"));
            self.event(
                Some(id),
                EventKind::DeviceDisplaced,
                Severity::Warning,
                match &next {
                    Some(n) => format!(
                        "{who} no longer answers at {address} ({} does); trying {n}",
                        t.display_name()
                    ),
                    None => format!(
                        "{who} no longer answers at {address} ({} does); it will be looked for at the next rediscovery",
                        t.display_name()
                    ),
                },
                json!({ "address": address, "now_there": t.id, "trying": next }),
            );
        }
        Ok(())
    }

    fn status(&mut self, t: &DeviceRecord, r: &Reading) -> Result<(), StoreError> {
        let alerts: Vec<String> = r
            .alerts
            .iter()
            .filter_map(|a| a.description.clone().or_else(|| a.code_name.clone()))
            .collect();
        let detail = json!({
            "device": r.status.device,
            "printer": r.status.printer,
            "errors": r.status.errors,
            "alerts": alerts,
        })
        .to_string();
        let current: Option<(Option<String>, Option<String>)> = self
            .row(
                "SELECT status, status_detail FROM devices WHERE id = ?1",
                [t.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let overall = r.status.overall.as_str();
        if current == Some((Some(overall.to_string()), Some(detail.clone()))) {
            return Ok(());
        }
        self.exec(
            "UPDATE devices SET status = ?2, status_detail = ?3 WHERE id = ?1",
            params![t.id, overall, detail],
        )?;
        self.exec(
            "INSERT INTO status_changes(device_id, at, status, detail) VALUES (?1, ?2, ?3, ?4)",
            params![t.id, self.at, overall, detail],
        )?;
        if self.rules.queue {
            let payload = json!({
                "device_id": t.id,
                "identity_key": t.identity_key,
                "at": self.at,
                "status": overall,
                "detail": serde_json::from_str::<serde_json::Value>(&detail).unwrap_or_default(),
            });
            self.exec(
                "INSERT INTO outbox(created_at, kind, payload) VALUES (?1, 'status', ?2)",
                params![self.at, payload.to_string()],
            )?;
        }
        Ok(())
    }

    fn conditions(
        &mut self,
        device_id: i64,
        name: &str,
        r: &Reading,
        refreshed: &[Source],
    ) -> Result<(), StoreError> {
        let now = conditions(r, self.rules.thresholds);
        let open: Vec<(i64, String, String, String)> = {
            let mut st = self.tx.prepare_cached(
                "SELECT id, key, source, message FROM alerts WHERE device_id = ?1 AND cleared_at IS NULL",
            )?;
            let rows = st.query_map([device_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let open_keys: BTreeSet<&str> = open.iter().map(|o| o.1.as_str()).collect();
        for c in now.iter().filter(|c| refreshed.contains(&c.source)) {
            if open_keys.contains(c.key.as_str()) {
                continue;
            }
            self.exec(
                "INSERT INTO alerts(device_id, key, source, severity, message, raised_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![device_id, c.key, c.source.as_str(), c.severity.as_str(), c.message, self.at],
            )?;
            self.event(
                Some(device_id),
                c.raises,
                c.severity,
                format!("{name}: {}", c.message),
                json!({ "condition": c.key }),
            );
        }
        let now_keys: BTreeSet<&str> = now.iter().map(|c| c.key.as_str()).collect();
        for (id, key, source, message) in &open {
            if now_keys.contains(key.as_str())
                || !refreshed.iter().any(|s| s.as_str() == source.as_str())
            {
                continue;
            }
            self.exec(
                "UPDATE alerts SET cleared_at = ?2 WHERE id = ?1",
                params![id, self.at],
            )?;
            if source == Source::Supply.as_str() {
                // Low turning into empty (or back) is not "replaced".
                let supply = key.splitn(3, ':').nth(2).unwrap_or_default();
                let still = now
                    .iter()
                    .any(|c| c.source == Source::Supply && c.key.ends_with(&format!(":{supply}")));
                if !still {
                    self.event(
                        Some(device_id),
                        EventKind::SupplyOk,
                        Severity::Info,
                        format!("{name}: {supply} is fine again (replaced or refilled)"),
                        json!({ "condition": key }),
                    );
                }
            } else {
                self.event(
                    Some(device_id),
                    EventKind::ErrorCleared,
                    Severity::Info,
                    format!("{name}: {message} cleared"),
                    json!({ "condition": key }),
                );
            }
        }
        Ok(())
    }

    fn meters(&mut self, t: &DeviceRecord, name: &str, r: &Reading) -> Result<i64, StoreError> {
        let last: BTreeMap<String, i64> = t
            .counters
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
            .collect();
        let mut regressed = Vec::new();
        for (k, &new) in &r.counters {
            if let Some(&old) = last.get(k)
                && !resets_by_design(k)
                && step(old, new) == Step::Drop
            {
                regressed.push((k.clone(), old, new));
            }
        }
        if !regressed.is_empty() {
            let words = regressed
                .iter()
                .map(|(k, old, new)| format!("{k} from {old} to {new}"))
                .collect::<Vec<_>>()
                .join(", ");
            self.event(
                Some(t.id),
                EventKind::CounterDrop,
                Severity::Warning,
                format!(
                    "{name}: counter went backwards ({words}); the reading is kept and usage counts on from the new value — was the board or the counter replaced?"
                ),
                json!({ "counters": regressed.iter().map(|(k, o, n)| json!({"key": k, "before": o, "after": n})).collect::<Vec<_>>() }),
            );
        }
        let counters =
            (r.counters != last).then(|| serde_json::to_string(&r.counters).unwrap_or_default());
        let supplies = supplies_json(&r.supplies);
        let previous: Option<String> = self.row(
                "SELECT supplies FROM meter_readings WHERE device_id = ?1 AND supplies IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1",
                [t.id],
                |row| row.get(0),
            )
            .optional()?;
        let supplies_changed = previous.as_deref() != Some(supplies.as_str());
        let regressed_json = (!regressed.is_empty()).then(|| {
            serde_json::to_string(&regressed.iter().map(|(k, _, _)| k).collect::<Vec<_>>())
                .unwrap_or_default()
        });
        self.exec(
            "INSERT INTO meter_readings(device_id, at, counters, supplies, regressed) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                t.id,
                self.at,
                counters,
                supplies_changed.then_some(&supplies),
                regressed_json
            ],
        )?;
        let reading_id = self.tx.last_insert_rowid();
        let mut merged = last;
        merged.extend(r.counters.iter().map(|(k, v)| (k.clone(), *v)));
        self.exec(
            "UPDATE devices SET last_counters = ?2 WHERE id = ?1",
            params![t.id, serde_json::to_string(&merged).unwrap_or_default()],
        )?;
        if self.rules.queue {
            let payload = json!({
                "reading_id": reading_id,
                "device": {
                    "id": t.id,
                    "identity_key": t.identity_key,
                    "vendor": r.identity.vendor,
                    "model": r.identity.model,
                    "serial": r.identity.serial,
                    "mac": r.identity.mac,
                },
                "at": self.at,
                "counters": r.counters,
                "supplies": serde_json::from_str::<serde_json::Value>(&supplies).unwrap_or_default(),
                "status": r.status.overall,
                "regressed": regressed.iter().map(|(k, _, _)| k).collect::<Vec<_>>(),
            });
            self.exec(
                "INSERT INTO outbox(created_at, kind, payload) VALUES (?1, 'meters', ?2)",
                params![self.at, payload.to_string()],
            )?;
        }
        Ok(reading_id)
    }
}
