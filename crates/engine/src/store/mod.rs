//! The local store: one SQLite database (bundled SQLite, WAL) in the data
//! directory holding devices, where they have been, readings as a time series,
//! open and past conditions, 3D jobs, events and the outbox of what must be
//! sent. The schema lives in [`schema`] as migrations applied at open.
//!
//! Invariants:
//! - every poll result is written in one `IMMEDIATE` transaction (reading,
//!   status, conditions, events, outbox together), so a crash at any moment
//!   loses at most the reading in flight and never leaves half of one;
//! - `synchronous = FULL`: a committed reading survives power loss too;
//! - a device is identified by [`identity`], never by address: the unique
//!   index on `devices.identity_key` makes twins impossible;
//! - the database file and its WAL are readable only by the service user
//!   (they hold the credentials that worked);
//! - several processes may open the same database (the service, and
//!   `printscout devices/history/export` beside it); writers wait up to
//!   [`BUSY_TIMEOUT`] for each other.

pub mod credential;
pub mod identity;
mod outbox;
mod record;
mod report;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::events::{Event, EventKind, Severity};
use crate::snmp::Credential;

pub use outbox::{OutboxSummary, PendingBatch};
pub use record::{PollKind, PollOutcome, PollResult, Recorded, Rules};
pub use report::{History, HistoryPoint, StatusChange};

/// How long a writer waits for another before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer PrintScout.
    #[error(
        "the database has schema version {found}, newer than this PrintScout understands ({supported}); upgrade PrintScout"
    )]
    TooNew {
        /// Version found.
        found: usize,
        /// Version this build writes.
        supported: usize,
    },
    /// The file could not be created or opened.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No such device.
    #[error("no device {0}")]
    NoDevice(String),
    /// A value the store refuses (words say which).
    #[error("{0}")]
    Invalid(String),
}

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "printscout.db";

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// One device as stored.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceRecord {
    /// Store id.
    pub id: i64,
    /// Who it is (`sn:…`, `mac:…`, `addr:…`).
    pub identity_key: String,
    /// `snmp`, `ipp`, `ipps`, or a 3D-printer protocol (`octoprint`, …).
    pub protocol: String,
    /// Address polled now (`host:port`); `None` when its whereabouts are unknown.
    pub address: Option<String>,
    /// Host name the user added it by, re-resolved on each poll.
    pub added_as: Option<String>,
    /// The user's name for it.
    pub name: Option<String>,
    /// The user's location for it.
    pub location: Option<String>,
    /// Maker.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// MAC.
    pub mac: Option<String>,
    /// sysName.
    pub hostname: Option<String>,
    /// sysLocation.
    pub sys_location: Option<String>,
    /// Firmware.
    pub firmware: Option<String>,
    /// sysObjectID.
    pub sys_object_id: Option<String>,
    /// `printer`, `mfp`, …
    pub device_kind: Option<String>,
    /// The credential that worked (name only in output).
    #[serde(skip)]
    pub credential: Option<Credential>,
    /// Name of that credential.
    pub credential_name: Option<String>,
    /// First seen (ms since epoch).
    pub first_seen: i64,
    /// Last answer (ms).
    pub last_seen: Option<i64>,
    /// Last status poll attempt (ms).
    pub last_status: Option<i64>,
    /// Last successful full read (ms).
    pub last_meters: Option<i64>,
    /// Consecutive failed polls.
    pub failures: i64,
    /// Offline after N failed polls.
    pub offline: bool,
    /// The last failure in words.
    pub last_error: Option<String>,
    /// `ok`, `warning`, `error`, `unknown`.
    pub status: Option<String>,
    /// Latest counters.
    pub counters: serde_json::Map<String, serde_json::Value>,
    /// Removed by the user (kept for history, not polled).
    pub removed: bool,
}

impl DeviceRecord {
    /// Whether it is a 3D printer: polled over a 3D-printer protocol, or it
    /// said so when read.
    pub fn is_3d_printer(&self) -> bool {
        crate::printer::fab::FabProtocol::from_scheme(&self.protocol).is_some()
            || self.device_kind.as_deref() == Some("3d_printer")
    }

    /// What to call it: the user's name, else the host name, else model and address.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.name.clone().or_else(|| self.hostname.clone()) {
            return n;
        }
        match (&self.model, &self.address) {
            (Some(m), Some(a)) => format!("{m} at {a}"),
            (Some(m), None) => m.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => format!("device {}", self.id),
        }
    }

    /// The location to show: the user's, else the device's own.
    pub fn shown_location(&self) -> Option<String> {
        self.location.clone().or_else(|| self.sys_location.clone())
    }
}

const DEVICE_COLUMNS: &str = "id, identity_key, protocol, address, added_as, name, location, vendor, model, serial, mac, \
     hostname, sys_location, firmware, sys_object_id, device_kind, credential, first_seen, last_seen, \
     last_status, last_meters, failures, offline, last_error, status, last_counters, removed_at";

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRecord> {
    let credential: Option<Credential> = r
        .get::<_, Option<String>>(16)?
        .and_then(|j| credential::from_json(&j));
    let counters = r
        .get::<_, Option<String>>(25)?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    Ok(DeviceRecord {
        id: r.get(0)?,
        identity_key: r.get(1)?,
        protocol: r.get(2)?,
        address: r.get(3)?,
        added_as: r.get(4)?,
        name: r.get(5)?,
        location: r.get(6)?,
        vendor: r.get(7)?,
        model: r.get(8)?,
        serial: r.get(9)?,
        mac: r.get(10)?,
        hostname: r.get(11)?,
        sys_location: r.get(12)?,
        firmware: r.get(13)?,
        sys_object_id: r.get(14)?,
        device_kind: r.get(15)?,
        credential_name: credential.as_ref().map(|c| c.name().to_string()),
        credential,
        first_seen: r.get(17)?,
        last_seen: r.get(18)?,
        last_status: r.get(19)?,
        last_meters: r.get(20)?,
        failures: r.get(21)?,
        offline: r.get::<_, i64>(22)? != 0,
        last_error: r.get(23)?,
        status: r.get(24)?,
        counters,
        removed: r.get::<_, Option<i64>>(26)?.is_some(),
    })
}

/// What the scheduler keeps of a device: enough to poll it and to count it,
/// without the counters and readings (1,000 of those would be megabytes).
#[derive(Clone, Debug)]
pub struct ScheduleEntry {
    /// Row id.
    pub id: i64,
    /// Where it answers now.
    pub address: Option<String>,
    /// What the user typed when adding it.
    pub added_as: Option<String>,
    /// The credential that worked.
    pub credential: Option<Credential>,
    /// Latest overall status (`ok`, `warning`, `error`, `unknown`).
    pub status: Option<String>,
    /// Offline after N failed polls.
    pub offline: bool,
    /// Last status poll (ms).
    pub last_status: Option<i64>,
    /// Last full read (ms).
    pub last_meters: Option<i64>,
    /// `snmp`, `ipp`, `ipps`, or a 3D-printer protocol (`octoprint`, …).
    pub protocol: String,
    /// Last 3D history poll (ms).
    pub last_jobs: Option<i64>,
}

const SCHEDULE_COLUMNS: &str = "id, address, added_as, credential, status, offline, last_status, last_meters, protocol, last_jobs";

fn schedule_entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleEntry> {
    Ok(ScheduleEntry {
        id: r.get(0)?,
        address: r.get(1)?,
        added_as: r.get(2)?,
        credential: r
            .get::<_, Option<String>>(3)?
            .and_then(|j| credential::from_json(&j)),
        status: r.get(4)?,
        offline: r.get::<_, i64>(5)? != 0,
        last_status: r.get(6)?,
        last_meters: r.get(7)?,
        protocol: r.get(8)?,
        last_jobs: r.get(9)?,
    })
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, which is created
    /// readable only by this user, and brings the schema up to date.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        create_private_dir(data_dir).map_err(|source| StoreError::Open {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Store::open(&data_dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        restrict_file(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Room for every statement a poll runs, so none is parsed twice.
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 1 MiB of page cache per connection (SQLite's default is 2 MB): the
        // operating system caches the file anyway, and the service has two
        // connections (the collector's and the API's) within its 20 MB.
        conn.pragma_update(None, "cache_size", -1024)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for checks in tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Changes whenever another connection commits (`PRAGMA data_version`).
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value in the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Every device, removed ones only when asked.
    pub fn devices(&self, include_removed: bool) -> Result<Vec<DeviceRecord>, StoreError> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices {} ORDER BY id",
            if include_removed {
                ""
            } else {
                "WHERE removed_at IS NULL"
            }
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([], device_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What the scheduler needs of every device that is not removed.
    pub fn schedule_entries(&self) -> Result<Vec<ScheduleEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM devices WHERE removed_at IS NULL ORDER BY id"
        ))?;
        let rows = st.query_map([], schedule_entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What the scheduler needs of one device (`None` when it is gone or removed).
    pub fn schedule_entry(&self, id: i64) -> Result<Option<ScheduleEntry>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SCHEDULE_COLUMNS} FROM devices WHERE id = ?1 AND removed_at IS NULL"
            ))?
            .query_row([id], schedule_entry_from_row)
            .optional()?)
    }

    /// One device by id.
    pub fn device(&self, id: i64) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_from_row,
            )
            .optional()?)
    }

    /// A device by id, serial (any case), address (`host` or `host:port`),
    /// host name or MAC. Current devices win over removed ones.
    pub fn find_device(&self, query: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let q = query.trim();
        if let Ok(id) = q.parse::<i64>()
            && let Some(d) = self.device(id)?
        {
            return Ok(Some(d));
        }
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices
             WHERE upper(serial) = upper(?1) OR address = ?1 OR address LIKE ?1 || ':%'
                OR lower(mac) = lower(?1) OR lower(hostname) = lower(?1) OR lower(added_as) = lower(?1)
                OR lower(name) = lower(?1)
             ORDER BY removed_at IS NOT NULL, id LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, [q], device_from_row).optional()?)
    }

    /// Marks a device removed: it is no longer polled, listed or re-added by
    /// rediscovery; its history stays for reports. Returns whether it existed.
    pub fn remove_device(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE devices SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
            params![id, at],
        )?;
        Ok(n == 1)
    }

    /// Sets the user's name and location (`None` leaves a field as it is,
    /// an empty string clears it).
    pub fn set_labels(
        &mut self,
        id: i64,
        name: Option<&str>,
        location: Option<&str>,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE devices SET name = CASE WHEN ?2 IS NULL THEN name ELSE nullif(trim(?2), '') END,
                    location = CASE WHEN ?3 IS NULL THEN location ELSE nullif(trim(?3), '') END
              WHERE id = ?1",
            params![id, name, location],
        )?;
        if n == 0 {
            return Err(StoreError::NoDevice(id.to_string()));
        }
        Ok(())
    }

    /// A credential profile changed: devices that remember the profile
    /// `name` take its new secret, or forget it when the profile is gone
    /// (`None`), so their next poll is a full read with the configured list.
    /// Returns how many devices changed.
    pub fn update_profile(
        &mut self,
        name: &str,
        new: Option<&Credential>,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut st =
                tx.prepare("SELECT id, credential FROM devices WHERE credential IS NOT NULL")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut ids = Vec::new();
            for row in rows {
                let (id, json) = row?;
                if credential::from_json(&json).is_some_and(|c| c.name() == name) {
                    ids.push(id);
                }
            }
            ids
        };
        let value = new.map(credential::to_json);
        for id in &ids {
            tx.execute(
                "UPDATE devices SET credential = ?2 WHERE id = ?1",
                params![id, value],
            )?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    /// Remembers the credential to poll a device with.
    pub fn set_credential(&mut self, id: i64, c: &Credential) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET credential = ?2 WHERE id = ?1",
            params![id, credential::to_json(c)],
        )?;
        Ok(())
    }

    /// Addresses a device has had, newest first: (address, first seen, last seen).
    pub fn addresses(&self, device_id: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT address, first_seen, last_seen FROM addresses WHERE device_id = ?1 ORDER BY last_seen DESC",
        )?;
        let rows = st.query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events after `after_id`, oldest first, at most `limit`.
    pub fn events_since(&self, after_id: i64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, at, device_id, kind, severity, message, data FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after_id, limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events about one device, newest first.
    pub fn device_events(&self, device_id: i64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, at, device_id, kind, severity, message, data FROM events WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![device_id, limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Open conditions of a device: (severity, message, raised at).
    pub fn open_alerts(&self, device_id: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT severity, message, raised_at FROM alerts WHERE device_id = ?1 AND cleared_at IS NULL ORDER BY raised_at",
        )?;
        let rows = st.query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest full reading of a device, as JSON.
    pub fn latest_reading(&self, device_id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT latest_reading FROM devices WHERE id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Rows waiting in the outbox and how many were dropped because it was full.
    pub fn outbox_stats(&self) -> Result<(i64, i64), StoreError> {
        let queued: i64 = self
            .conn
            .query_row("SELECT n FROM outbox_size WHERE one = 1", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let dropped = self
            .meta("outbox_dropped")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((queued, dropped))
    }
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let kind: String = r.get(3)?;
    let severity: String = r.get(4)?;
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        device_id: r.get(2)?,
        kind: kind_from(&kind),
        severity: match severity.as_str() {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        },
        message: r.get(5)?,
        data: r
            .get::<_, Option<String>>(6)?
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(serde_json::Value::Null),
    })
}

/// The kind from its stored name (written by `EventKind::as_str`, which
/// matches its serde name); a name this build does not know reads as a
/// printer error rather than failing the whole query.
fn kind_from(s: &str) -> EventKind {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .unwrap_or(EventKind::PrinterError)
}

/// Creates a directory (and parents) that only this user can enter.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn restrict_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
