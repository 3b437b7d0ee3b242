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
use printscout_api::host::{Host, HostOptions};
use printscout_engine::collector::Settings;
use printscout_engine::config::Config;
use printscout_engine::store::Store;

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
        Ok(printscout_api::host::resolve(
            self.config.as_deref(),
            self.data_dir.as_deref(),
        )?)
    }

    /// The configuration file that settings changed through the API are
    /// saved to (see [`printscout_api::host::config_file`]).
    pub fn config_file(&self, data_dir: &Path) -> PathBuf {
        printscout_api::host::config_file(self.config.as_deref(), self.data_dir.is_some(), data_dir)
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
    Ok(printscout_api::host::init_logging(
        dir,
        config,
        "printscout",
    )?)
}

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode> {
    let (mut config, dir) = args.data.resolve()?;
    args.uplink.apply(&mut config)?;
    let _guard = init_logging(&dir, &config)?;
    let host = start_host(&args, config, &dir).await?;
    println!(
        "PrintScout is running. Open {} in a browser on this computer (API token: {}).",
        host.url(),
        host.api().token_file().display()
    );
    printscout_api::host::wait_for_stop().await;
    tracing::info!("stopping: finishing readings being written");
    host.shutdown().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts the collector, the upload loop and the loopback API
/// (`printscout_api::host`). A taken port is an error: the service fails
/// closed rather than move to another port.
async fn start_host(args: &RunArgs, config: Config, dir: &Path) -> Result<Host> {
    let secrets = printscout_engine::secrets::open(&config, dir);
    let devices = Store::open_in(dir)
        .and_then(|s| s.devices(false))
        .with_context(|| format!("cannot open the data directory {}", dir.display()))?
        .len();
    let mut settings = Settings::from_config(&config, dir);
    apply_overrides(&mut settings, overrides(args));
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
    if !config.upload.url.is_empty() {
        tracing::info!(
            url = %printscout_engine::uplink::redact_url(&config.upload.url),
            every = %humantime::format_duration(config.upload.every),
            "uploading readings"
        );
    }
    // Command-line intervals outlive a settings change made through the API.
    let o = overrides(args);
    let opts = HostOptions {
        api_port: args.api_port.unwrap_or(config.api.port),
        config_file: args.data.config_file(dir),
        config,
        data_dir: dir.to_path_buf(),
        secrets,
        ui_dir: args.ui_dir.clone(),
        tune: Some(Arc::new(move |s: &mut Settings| apply_overrides(s, o))),
    };
    Ok(Host::start(opts).await?)
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
