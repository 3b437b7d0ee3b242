//! What the API's handlers share: the running collector, a read connection
//! to the store, the configuration file it edits, the secret store, and the
//! scans started from the UI.
//!
//! Invariants:
//! - reads go through the API's own SQLite connection (WAL lets them run
//!   beside the collector's writes); writes go through the collector, which
//!   publishes the events they raise and reschedules at once;
//! - the configuration in memory is the file on disk: a change is validated,
//!   saved (atomically, 0600), then applied to the collector — in that order,
//!   under one lock, so two requests cannot interleave;
//! - secrets live only in the secret store; nothing here keeps their values.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use printscout_engine::collector::Collector;
use printscout_engine::config::Config;
use printscout_engine::secrets::SecretStore;
use printscout_engine::store::Store;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::routes::networks::Scans;
use crate::routes::printers::SupplyBar;

/// Everything the API needs from the service that hosts it.
pub struct ApiContext {
    /// The running collector.
    pub collector: Collector,
    /// The data directory (database, reports, logs).
    pub data_dir: PathBuf,
    /// The configuration file that settings changes are saved to.
    pub config_path: PathBuf,
    /// The configuration now (the file's content).
    pub config: Mutex<Config>,
    /// Where the upload token and the SMTP and proxy passwords live.
    pub secrets: Arc<dyn SecretStore>,
    /// The API's own read connection.
    pub(crate) reader: Mutex<Store>,
    /// Scans started through the API.
    pub(crate) scans: Mutex<Scans>,
    /// Live scan progress for the event stream.
    pub(crate) scan_events: broadcast::Sender<serde_json::Value>,
    /// Supply bars and page totals per device, keyed by the time of the full
    /// read they come from: the list is answered without re-parsing 1,000
    /// readings on every request.
    pub(crate) summaries: Mutex<SummaryCache>,
    /// The encoded printer list and the reader's `PRAGMA data_version` it was
    /// built at: any commit by the collector (or anyone) changes the version.
    pub(crate) list_cache: Mutex<Option<(i64, axum::body::Bytes)>>,
    /// A list is being rebuilt: requests meanwhile get the previous one
    /// (stale by at most that rebuild) instead of queueing behind it.
    pub(crate) list_rebuilding: std::sync::atomic::AtomicBool,
    /// Applied to the collector's settings after each change: the service's
    /// command-line overrides (`--status-every`…) outlive a settings change.
    pub(crate) tune: Mutex<Option<SettingsTuning>>,
    /// Fires at shutdown: event streams end so the server can stop.
    pub(crate) closing: tokio_util::sync::CancellationToken,
    /// The upload loop, when the service runs one.
    pub(crate) uplink: Mutex<Option<printscout_engine::uplink::upload::UplinkHandle>>,
}

/// A change the service applies to settings built from the configuration.
pub type SettingsTuning = Arc<dyn Fn(&mut printscout_engine::collector::Settings) + Send + Sync>;

/// Summaries by device id, with the time of the full read each comes from.
pub(crate) type SummaryCache = HashMap<i64, (Option<i64>, Arc<Summary>)>;

/// The parts of a device's latest full read the printer list shows.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub supplies: Vec<SupplyBar>,
    pub total_pages: Option<i64>,
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("data_dir", &self.data_dir)
            .field("config_path", &self.config_path)
            .field("secrets", &self.secrets.kind())
            .finish_non_exhaustive()
    }
}

/// The shared state as handlers receive it.
pub type AppState = Arc<ApiContext>;

impl ApiContext {
    /// Opens the API's read connection to the collector's database.
    pub fn new(
        collector: Collector,
        data_dir: PathBuf,
        config_path: PathBuf,
        config: Config,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<AppState, printscout_engine::store::StoreError> {
        let reader = Store::open_in(&data_dir)?;
        let (scan_events, _) = broadcast::channel(256);
        Ok(Arc::new(ApiContext {
            collector,
            data_dir,
            config_path,
            config: Mutex::new(config),
            secrets,
            reader: Mutex::new(reader),
            scans: Mutex::new(Scans::default()),
            scan_events,
            summaries: Mutex::new(HashMap::new()),
            list_cache: Mutex::new(None),
            list_rebuilding: std::sync::atomic::AtomicBool::new(false),
            tune: Mutex::new(None),
            closing: tokio_util::sync::CancellationToken::new(),
            uplink: Mutex::new(None),
        }))
    }

    /// Sets what the service changes in settings built from the
    /// configuration (its command-line overrides), so that a settings change
    /// through the API keeps them.
    pub fn set_settings_tuning(&self, tune: SettingsTuning) {
        if let Ok(mut t) = self.tune.lock() {
            *t = Some(tune);
        }
    }

    /// The collector settings a configuration gives, with the service's
    /// overrides applied.
    pub(crate) fn settings_for(&self, config: &Config) -> printscout_engine::collector::Settings {
        let mut settings =
            printscout_engine::collector::Settings::from_config(config, &self.data_dir)
                .with_email(config, self.secrets.clone());
        if let Ok(t) = self.tune.lock()
            && let Some(t) = t.as_ref()
        {
            t(&mut settings);
        }
        settings
    }

    /// The service's upload loop: `sync` routes drive it, and settings
    /// changes reach it.
    pub fn set_uplink(&self, uplink: printscout_engine::uplink::upload::UplinkHandle) {
        if let Ok(mut u) = self.uplink.lock() {
            *u = Some(uplink);
        }
    }

    /// The upload loop, if there is one.
    pub(crate) fn uplink(&self) -> Option<printscout_engine::uplink::upload::UplinkHandle> {
        self.uplink.lock().ok().and_then(|u| u.clone())
    }

    /// Ends the event streams (call before stopping the server).
    pub fn close_streams(&self) {
        self.closing.cancel();
    }

    /// Runs `f` with the read connection, off the async threads.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = ctx
                .reader
                .lock()
                .map_err(|_| ApiError::internal("the store is unavailable"))?;
            f(&store)
        })
        .await
        .map_err(|_| ApiError::internal("the request failed"))?
    }

    /// Runs `f` with the collector's connection (writes), off the async
    /// threads; the collector re-reads its device list afterwards.
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let collector = self.collector.clone();
        let out = tokio::task::spawn_blocking(move || {
            collector
                .with_store(f)
                .unwrap_or_else(|| Err(ApiError::internal("the store is unavailable")))
        })
        .await
        .map_err(|_| ApiError::internal("the request failed"))?;
        self.collector.devices_changed();
        out
    }

    /// A copy of the configuration now.
    pub(crate) fn config(&self) -> Result<Config, ApiError> {
        self.config
            .lock()
            .map(|c| c.clone())
            .map_err(|_| ApiError::internal("the configuration is unavailable"))
    }
}

/// A store error in words, as a 500 (the store failing is our problem).
pub(crate) fn store_error(e: printscout_engine::store::StoreError) -> ApiError {
    ApiError::internal(format!("the database failed: {e}"))
}
