//! The running service as one value: the collector, the upload loop and the
//! loopback API over them, started and stopped together. `printscout run`
//! (headless) and the tray app host exactly this, so the two cannot drift.
//!
//! Invariants:
//! - start order is collector → upload loop → API; a failure to start the API
//!   (a taken port) stops what was started and returns the error, so nothing
//!   keeps running half-configured;
//! - stop order is the reverse: event streams close, the API stops accepting,
//!   the upload loop is cancelled (a batch in flight goes again with the same
//!   Idempotency-Key at the next start), then readings being written finish.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, Collector, CollectorHandle, Settings, poller_from};
use printscout_engine::config::{self, Config};
use printscout_engine::secrets::SecretStore;
use printscout_engine::store::Store;
use printscout_engine::uplink::upload::{self, UplinkHandle};
use tokio_util::sync::CancellationToken;

use crate::server::{Running, ServeOptions};
use crate::state::{ApiContext, AppState, SettingsTuning};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The data directory or its database cannot be used.
    #[error("cannot open the data directory {dir}: {source}")]
    Store {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: printscout_engine::store::StoreError,
    },
    /// The SNMP transport or the poller could not be built.
    #[error("cannot start polling: {0}")]
    Poller(String),
    /// The loopback API could not listen (a taken port, no loopback).
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

/// The configuration and the data directory to use, from an optional
/// `--config` and `--data-dir`: with a data directory and no configuration
/// file named, a configuration saved in that directory (by the API) is the
/// one in use; the data directory defaults to the configuration's
/// `store.data_dir`, then the OS data directory.
pub fn resolve(
    config_file: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<(Config, PathBuf), ResolveError> {
    let in_data_dir = data_dir
        .map(|d| d.join(config::FILE_NAME))
        .filter(|f| config_file.is_none() && f.is_file());
    let (config, file) = config::resolve(in_data_dir.as_deref().or(config_file))?;
    if let Some(f) = &file {
        tracing::debug!(file = %f.display(), "configuration read");
    }
    let dir = data_dir
        .map(Path::to_path_buf)
        .or_else(|| config.store.data_dir.clone())
        .or_else(|| config::default_paths().map(|p| p.data_dir))
        .ok_or(ResolveError::NoDataDir)?;
    Ok((config, dir))
}

/// The configuration file that settings changed through the API are saved
/// to: the one named, else the file in use, else `<data-dir>/printscout.toml`
/// when a data directory was named, else the OS configuration directory's.
pub fn config_file(named: Option<&Path>, data_dir_named: bool, data_dir: &Path) -> PathBuf {
    if let Some(c) = named {
        return c.to_path_buf();
    }
    let in_data_dir = data_dir.join(config::FILE_NAME);
    if data_dir_named {
        return in_data_dir;
    }
    config::resolve(None)
        .ok()
        .and_then(|(_, file)| file)
        .or_else(|| config::default_paths().map(|p| p.config_file))
        .unwrap_or(in_data_dir)
}

/// Why the configuration or data directory could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The configuration file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// No data directory was given and this user has none.
    #[error("no data directory: give --data-dir (this user has no home directory)")]
    NoDataDir,
    /// The log directory cannot be made or written.
    #[error("cannot write logs in {dir}: {source}")]
    Logs {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Sets up logging: stderr plus a daily-rotated file
/// `<dir>/logs/<prefix>.<date>.log`, filtered by `PRINTSCOUT_LOG` or the
/// configuration's level. The returned guard flushes the file when dropped.
pub fn init_logging(
    dir: &Path,
    config: &Config,
    prefix: &str,
) -> Result<tracing_appender::non_blocking::WorkerGuard, ResolveError> {
    use tracing_subscriber::prelude::*;
    let logs = dir.join("logs");
    let err = |source| ResolveError::Logs {
        dir: logs.clone(),
        source,
    };
    printscout_engine::store::create_private_dir(&logs).map_err(err)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix("log")
        .max_log_files(config.log.keep_files.max(1))
        .build(&logs)
        .map_err(|e| err(std::io::Error::other(e)))?;
    // The default channel preallocates 128,000 lines (4 MB resident, measured in
    // decision 0005); a service logs a few lines a minute. Lossy: a burst beyond
    // the buffer drops lines rather than blocking a poll.
    let (file, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1_000)
        .finish(appender);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("PRINTSCOUT_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{},async_snmp=off", config.log.level))
        })
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file)
                .with_filter(filter()),
        )
        .try_init()
        .ok();
    Ok(guard)
}

/// Waits for SIGINT or SIGTERM (Ctrl-C where there are no signals): how
/// both shells learn that the service should stop.
pub async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What to host.
pub struct HostOptions {
    /// The configuration in use.
    pub config: Config,
    /// The data directory (database, logs, reports, API token).
    pub data_dir: PathBuf,
    /// Where settings changed through the API are saved.
    pub config_file: PathBuf,
    /// Where the upload token and passwords live.
    pub secrets: Arc<dyn SecretStore>,
    /// The API's port on 127.0.0.1 and ::1 (0 = any free port).
    pub api_port: u16,
    /// The built web UI to serve (`ui/dist`), if any.
    pub ui_dir: Option<PathBuf>,
    /// Applied to the collector's settings now and after every settings
    /// change (command-line overrides).
    pub tune: Option<SettingsTuning>,
}

/// The collector, the upload loop and the API, running.
pub struct Host {
    collector: CollectorHandle,
    api: Running,
    ctx: AppState,
    uplink: UplinkHandle,
    stop_uplink: CancellationToken,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("url", &self.api.url())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Starts everything; see the module invariants for the order.
    pub async fn start(opts: HostOptions) -> Result<Host, HostError> {
        let HostOptions {
            config,
            data_dir,
            config_file,
            secrets,
            api_port,
            ui_dir,
            tune,
        } = opts;
        let store_err = |source| HostError::Store {
            dir: data_dir.clone(),
            source,
        };
        let store = Store::open_in(&data_dir).map_err(store_err)?;
        let mut settings =
            Settings::from_config(&config, &data_dir).with_email(&config, secrets.clone());
        if let Some(t) = &tune {
            t(&mut settings);
        }
        let poller = poller_from(&config)
            .map_err(|e| HostError::Poller(e.to_string()))?
            .with_secrets(secrets.clone())
            .with_trust_dir(data_dir.join(printscout_engine::secrets::TRUST_DIR));
        let collector = collector::start(settings, store, Arc::new(poller), Arc::new(SystemClock));
        // The upload loop idles while no URL is configured; a settings change
        // through the API can start it.
        let stop_uplink = CancellationToken::new();
        let uplink = upload::spawn(
            &config,
            secrets.clone(),
            data_dir.clone(),
            upload::UploadOptions::default(),
            stop_uplink.clone(),
        );
        let started = async {
            let ctx = ApiContext::new(
                collector.control(),
                data_dir.clone(),
                config_file,
                config,
                secrets,
            )
            .map_err(store_err)?;
            if let Some(t) = tune {
                ctx.set_settings_tuning(t);
            }
            let (router, _) = crate::routes::api(ctx.clone());
            let serve = ServeOptions {
                port: api_port,
                data_dir: data_dir.clone(),
                ui_dir,
            };
            let api = crate::server::serve(serve, router).await?;
            Ok::<_, HostError>((api, ctx))
        }
        .await;
        let (api, ctx) = match started {
            Ok(v) => v,
            Err(e) => {
                stop_uplink.cancel();
                collector.shutdown().await;
                return Err(e);
            }
        };
        ctx.set_uplink(uplink.clone());
        Ok(Host {
            collector,
            api,
            ctx,
            uplink,
            stop_uplink,
        })
    }

    /// The API's base URL (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// The running API (token, port, files).
    pub fn api(&self) -> &Running {
        &self.api
    }

    /// The API's shared state (for calling routes in-process).
    pub fn context(&self) -> &AppState {
        &self.ctx
    }

    /// The collector's control handle (pause, resume, events, status).
    pub fn collector(&self) -> Collector {
        self.collector.control()
    }

    /// The upload loop (sync now, its state).
    pub fn uplink(&self) -> &UplinkHandle {
        &self.uplink
    }

    /// Stops everything, in the order in the module invariants.
    pub async fn shutdown(self) {
        self.ctx.close_streams();
        self.api.shutdown().await;
        self.stop_uplink.cancel();
        self.collector.shutdown().await;
    }
}
