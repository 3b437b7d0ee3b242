//! The database schema as an ordered list of migrations, applied in code at
//! open. `PRAGMA user_version` holds how many have run.
//!
//! Invariants: a migration is never edited once released, only appended; each
//! runs in its own transaction with the version bump, so a crash mid-migration
//! leaves the previous version intact.

use rusqlite::Connection;

use super::StoreError;

/// Every migration, oldest first. Index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- One row per physical device. `identity_key` is who it is:
    -- 'sn:<vendor>:<serial>', else 'mac:<mac>', else 'addr:<address>'.
    CREATE TABLE devices (
        id             INTEGER PRIMARY KEY,
        identity_key   TEXT NOT NULL UNIQUE,
        protocol       TEXT NOT NULL DEFAULT 'snmp',
        address        TEXT,            -- host:port polled now; NULL = whereabouts unknown
        added_as       TEXT,            -- host name the user typed, re-resolved on each poll
        name           TEXT,            -- the user's name for it
        location       TEXT,            -- the user's location for it
        vendor         TEXT,
        model          TEXT,
        serial         TEXT,
        mac            TEXT,
        hostname       TEXT,
        sys_location   TEXT,
        firmware       TEXT,
        sys_object_id  TEXT,
        device_kind    TEXT,
        credential     TEXT,            -- JSON of the credential that worked (file is private)
        first_seen     INTEGER NOT NULL,
        last_seen      INTEGER,         -- last answer of any kind
        last_status    INTEGER,         -- last status poll attempt
        last_meters    INTEGER,         -- last successful full read
        failures       INTEGER NOT NULL DEFAULT 0,
        offline        INTEGER NOT NULL DEFAULT 0,
        last_error     TEXT,
        status         TEXT,            -- ok | warning | error | unknown
        status_detail  TEXT,            -- JSON: device, printer, errors, alerts
        last_counters  TEXT,            -- JSON of the latest counters (for drop checks)
        latest_reading TEXT,            -- JSON of the latest full reading
        removed_at     INTEGER          -- removed by the user: not polled, not re-added
    );
    CREATE INDEX devices_mac ON devices(mac) WHERE mac IS NOT NULL;
    CREATE INDEX devices_address ON devices(address) WHERE address IS NOT NULL;

    -- Where each device has been seen.
    CREATE TABLE addresses (
        device_id  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        address    TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        PRIMARY KEY (device_id, address)
    ) WITHOUT ROWID;

    -- Every full read (meters): counters and supplies are stored when they
    -- differ from the device's previous row and are NULL when unchanged.
    CREATE TABLE meter_readings (
        id        INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        at        INTEGER NOT NULL,
        counters  TEXT,                 -- JSON object key -> value, NULL = same as before
        supplies  TEXT,                 -- JSON array, NULL = same as before
        regressed TEXT                  -- JSON array of counter keys that went backwards
    );
    CREATE INDEX meter_readings_device_at ON meter_readings(device_id, at);

    -- Status as a run-length series: a row when it changes.
    CREATE TABLE status_changes (
        id        INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        at        INTEGER NOT NULL,
        status    TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX status_changes_device_at ON status_changes(device_id, at);

    -- Conditions (errors, alerts, low supplies): open until cleared.
    CREATE TABLE alerts (
        id         INTEGER PRIMARY KEY,
        device_id  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        key        TEXT NOT NULL,
        source     TEXT NOT NULL,       -- error_bit | alert | supply
        severity   TEXT NOT NULL,
        message    TEXT NOT NULL,
        raised_at  INTEGER NOT NULL,
        cleared_at INTEGER
    );
    CREATE UNIQUE INDEX alerts_open ON alerts(device_id, key) WHERE cleared_at IS NULL;

    -- 3D-printer jobs (history from the printer, or synthesised from states).
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        device_id   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        job_key     TEXT NOT NULL,
        name        TEXT,
        started_at  INTEGER,
        ended_at    INTEGER,
        duration_s  INTEGER,
        result      TEXT,
        material    TEXT,
        synthesised INTEGER NOT NULL DEFAULT 0,
        UNIQUE (device_id, job_key)
    );

    CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
        kind      TEXT NOT NULL,
        severity  TEXT NOT NULL,
        message   TEXT NOT NULL,
        data      TEXT
    );
    CREATE INDEX events_at ON events(at);
    CREATE INDEX events_device ON events(device_id, at);

    -- What must be sent; rows are deleted when the server acknowledged them.
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        kind       TEXT NOT NULL,       -- meters | status | event | job | device
        payload    TEXT NOT NULL
    );
    "#,
    // 2: the upload. The outbox's size is kept by triggers (the bound is
    // checked on every insert), an index finds the oldest of a kind (the
    // policy when full), and a batch is persisted with its exact body
    // before it is first sent.
    r#"
    CREATE INDEX outbox_kind ON outbox(kind, id);

    CREATE TABLE outbox_size (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        n   INTEGER NOT NULL
    );
    INSERT INTO outbox_size(one, n) SELECT 1, count(*) FROM outbox;
    CREATE TRIGGER outbox_counted_in AFTER INSERT ON outbox
        BEGIN UPDATE outbox_size SET n = n + 1 WHERE one = 1; END;
    CREATE TRIGGER outbox_counted_out AFTER DELETE ON outbox
        BEGIN UPDATE outbox_size SET n = n - 1 WHERE one = 1; END;

    -- A batch formed from outbox rows first_seq..last_seq, waiting for the
    -- server's 2xx; `body` is what every attempt sends (gzip JSON).
    CREATE TABLE outbox_batches (
        batch_id   TEXT PRIMARY KEY,
        first_seq  INTEGER NOT NULL,
        last_seq   INTEGER NOT NULL,
        items      INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        json_bytes INTEGER NOT NULL,
        body       BLOB NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 2: IPP and 3D printers: the IPP uuid (one device over SNMP and IPP),
    // the last history poll, and jobs by time for the exports.
    r#"
    ALTER TABLE devices ADD COLUMN uuid TEXT;
    ALTER TABLE devices ADD COLUMN last_jobs INTEGER;
    CREATE INDEX devices_uuid ON devices(uuid) WHERE uuid IS NOT NULL;
    CREATE INDEX jobs_started ON jobs(device_id, started_at);
    "#,
];

/// The schema version this build writes.
pub const VERSION: usize = MIGRATIONS.len();

/// Brings the database up to [`VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
