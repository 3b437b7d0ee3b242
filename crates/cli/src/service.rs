//! `printscout run`: the collector as a long-lived service. Owns the data
//! directory choice, logging (stderr and a daily-rotated file in
//! `<data dir>/logs`), schedule overrides from the command line and a clean
//! stop on SIGINT/SIGTERM.
//!
//! Invariants: the service writes nothing to stdout (logs go to stderr and
//! the file); a stop signal lets readings being written finish.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, Settings, poller_from};
use printscout_engine::config::{self, Config};
use printscout_engine::store::Store;
use tracing_subscriber::prelude::*;

/// Where the configuration and the data live (shared by every command that
/// uses the store).
#[derive(Args, Clone, Debug)]
pub(crate) struct DataArgs {
    /// Configuration file (default: the OS configuration directory's printscout.toml, if present).
    #[arg(long, env = "PRINTSCOUT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: database, logs, reports (default: the OS data directory).
    #[arg(long, env = "PRINTSCOUT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    /// The configuration and the data directory to use.
    pub fn resolve(&self) -> Result<(Config, PathBuf)> {
        // With --data-dir and no --config, a configuration saved in the data
        // directory (by the API) is the one in use.
        let in_data_dir = self
            .data_dir
            .as_ref()
            .map(|d| d.join(config::FILE_NAME))
            .filter(|f| self.config.is_none() && f.is_file());
        let (config, file) = config::resolve(in_data_dir.as_deref().or(self.config.as_deref()))?;
        if let Some(f) = &file {
            tracing::debug!(file = %f.display(), "configuration read");
        }
        let dir = self
            .data_dir
            .clone()
            .or_else(|| config.store.data_dir.clone())
            .or_else(|| config::default_paths().map(|p| p.data_dir))
            .context("no data directory: give --data-dir (this user has no home directory)")?;
        Ok((config, dir))
    }

    /// The configuration file that settings changed through the API are
    /// saved to: `--config`, else the file in use, else
    /// `<data-dir>/printscout.toml` when `--data-dir` was given, else the OS
    /// configuration directory's.
    pub fn config_file(&self, data_dir: &Path) -> PathBuf {
        if let Some(c) = &self.config {
            return c.clone();
        }
        let in_data_dir = data_dir.join(config::FILE_NAME);
        if self.data_dir.is_some() {
            return in_data_dir;
        }
        config::resolve(None)
            .ok()
            .and_then(|(_, file)| file)
            .or_else(|| config::default_paths().map(|p| p.config_file))
            .unwrap_or(in_data_dir)
    }

    /// Opens the store in the data directory.
    pub fn open(&self) -> Result<(Config, PathBuf, Store)> {
        let (config, dir) = self.resolve()?;
        let store = Store::open_in(&dir)
            .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
        Ok((config, dir, store))
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(d)
}

/// `printscout run`.
#[derive(Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Status poll interval (overrides schedule.status_every), e.g. 10s.
    #[arg(long, value_parser = duration)]
    status_every: Option<Duration>,
    /// Counters and supplies interval (overrides schedule.meters_every).
    #[arg(long, value_parser = duration)]
    meters_every: Option<Duration>,
    /// 3D job history interval (overrides schedule.jobs_every).
    #[arg(long, value_parser = duration)]
    jobs_every: Option<Duration>,
    /// Rediscovery interval (overrides schedule.rediscover_every).
    #[arg(long, value_parser = duration)]
    rediscover_every: Option<Duration>,
    /// Report interval (overrides schedule.report_every).
    #[arg(long, value_parser = duration)]
    report_every: Option<Duration>,
    /// Missed runs (after a sleep, a pause or at start) are caught up spread over this window.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    catch_up_window: Duration,
    /// Port of the loopback API and web UI on 127.0.0.1 and ::1 (overrides api.port;
    /// default 9161; 0 = any free port). If it is taken, run stops rather than pick another.
    #[arg(long)]
    api_port: Option<u16>,
    /// Directory of the built web UI (ui/dist) to serve.
    #[arg(long, env = "PRINTSCOUT_UI_DIR")]
    ui_dir: Option<PathBuf>,
    #[command(flatten)]
    uplink: crate::uplink_args::UplinkArgs,
}

/// Sets up logging for the service: stderr plus a daily file in `<dir>/logs`.
/// The returned guard flushes the file when dropped.
pub(crate) fn init_logging(
    dir: &Path,
    config: &Config,
) -> Result<tracing_appender::non_blocking::WorkerGuard> {
    let logs = dir.join("logs");
    printscout_engine::store::create_private_dir(&logs)
        .with_context(|| format!("cannot create {}", logs.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("printscout")
        .filename_suffix("log")
        .max_log_files(config.log.keep_files.max(1))
        .build(&logs)
        .with_context(|| format!("cannot write logs in {}", logs.display()))?;
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

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode> {
    let (mut config, dir) = args.data.resolve()?;
    args.uplink.apply(&mut config)?;
    let _guard = init_logging(&dir, &config)?;
    let store = Store::open_in(&dir)
        .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    let secrets = printscout_engine::secrets::open(&config, &dir);
    let mut settings = Settings::from_config(&config, &dir).with_email(&config, secrets.clone());
    apply_overrides(&mut settings, overrides(&args));
    let devices = store.devices(false)?.len();
    let poller = poller_from(&config)?;
    tracing::info!(
        data_dir = %dir.display(),
        devices,
        status_every = %humantime::format_duration(settings.status_every),
        meters_every = %humantime::format_duration(settings.meters_every),
        "PrintScout collector running; Ctrl-C to stop"
    );
    if devices == 0 && config.discovery.networks.is_empty() {
        tracing::warn!(
            "no devices and no networks selected: add printers with `printscout devices add ADDRESS`, or list networks under [discovery] networks in the configuration"
        );
    }
    let handle = collector::start(settings, store, Arc::new(poller), Arc::new(SystemClock));
    // The upload loop idles while no URL is configured; a settings change
    // through the API can start it.
    let stop_uplink = tokio_util::sync::CancellationToken::new();
    let uplink = printscout_engine::uplink::upload::spawn(
        &config,
        secrets.clone(),
        dir.clone(),
        printscout_engine::uplink::upload::UploadOptions::default(),
        stop_uplink.clone(),
    );
    if !config.upload.url.is_empty() {
        tracing::info!(
            url = %printscout_engine::uplink::redact_url(&config.upload.url),
            every = %humantime::format_duration(config.upload.every),
            "uploading readings"
        );
    }
    let config_file = args.data.config_file(&dir);
    let started = start_api(&args, &handle, &dir, config_file, config, secrets).await;
    let (api, api_state) = match started {
        Ok(api) => api,
        Err(e) => {
            stop_uplink.cancel();
            handle.shutdown().await;
            return Err(e);
        }
    };
    api_state.set_uplink(uplink);
    println!(
        "PrintScout is running. Open {} in a browser on this computer (API token: {}).",
        api.url(),
        api.token_file().display()
    );
    wait_for_stop().await;
    tracing::info!("stopping: finishing readings being written");
    api_state.close_streams();
    api.shutdown().await;
    // An upload in flight is abandoned: its batch goes again, with the
    // same Idempotency-Key, at the next start.
    stop_uplink.cancel();
    handle.shutdown().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts the loopback API over the running collector. A taken port is an
/// error: the service fails closed rather than move to another port.
async fn start_api(
    args: &RunArgs,
    handle: &collector::CollectorHandle,
    dir: &Path,
    config_file: PathBuf,
    config: Config,
    secrets: Arc<dyn printscout_engine::secrets::SecretStore>,
) -> Result<(
    printscout_api::server::Running,
    printscout_api::state::AppState,
)> {
    let port = args.api_port.unwrap_or(config.api.port);
    let ctx = printscout_api::state::ApiContext::new(
        handle.control(),
        dir.to_path_buf(),
        config_file,
        config,
        secrets,
    )
    .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    // Command-line intervals outlive a settings change made through the API.
    let o = overrides(args);
    ctx.set_settings_tuning(Arc::new(move |s: &mut Settings| apply_overrides(s, o)));
    let (router, _) = printscout_api::routes::api(ctx.clone());
    let opts = printscout_api::server::ServeOptions {
        port,
        data_dir: dir.to_path_buf(),
        ui_dir: args.ui_dir.clone(),
    };
    let running = printscout_api::server::serve(opts, router)
        .await
        .map_err(anyhow::Error::from)?;
    Ok((running, ctx))
}

/// The intervals given on the command line.
type Overrides = (
    Option<Duration>,
    Option<Duration>,
    Option<Duration>,
    Option<Duration>,
    Option<Duration>,
    Duration,
);

fn overrides(a: &RunArgs) -> Overrides {
    (
        a.status_every,
        a.meters_every,
        a.jobs_every,
        a.rediscover_every,
        a.report_every,
        a.catch_up_window,
    )
}

/// Puts the command line's intervals over those of the configuration.
fn apply_overrides(settings: &mut Settings, o: Overrides) {
    for (slot, over) in [
        (&mut settings.status_every, o.0),
        (&mut settings.meters_every, o.1),
        (&mut settings.jobs_every, o.2),
        (&mut settings.rediscover_every, o.3),
        (&mut settings.report_every, o.4),
    ] {
        if let Some(v) = over {
            *slot = v;
        }
    }
    settings.catch_up_window = o.5;
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
