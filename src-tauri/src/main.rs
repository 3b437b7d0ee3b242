//! `printscout-app`: the PrintScout desktop application (tray icon, settings
//! window, desktop notifications) hosting the collector and the loopback API.
//! On a machine without a display it runs the same engine as the headless
//! service (`printscout run`) and says so.
//!
//! Invariants: the app and `printscout run` share the configuration and data
//! directory resolution and the host (`printscout_api::host`), so both see
//! the same printers and settings; they cannot both run at once on the same
//! API port (the second one fails closed).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod app;
mod fleet;
mod notifier;
mod tray;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use printscout_api::host::{self, Host, HostOptions};
use printscout_engine::collector::Settings;

/// PrintScout: printer-fleet monitor in the tray.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Start in the tray without opening the window (used when starting at login).
    #[arg(long)]
    hidden: bool,
    /// Run without tray and window (the headless service), even with a display.
    #[arg(long)]
    headless: bool,
    /// Configuration file (default: the OS configuration directory's printscout.toml).
    #[arg(long, env = "PRINTSCOUT_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: database, logs, reports (default: the OS data directory).
    #[arg(long, env = "PRINTSCOUT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Port of the loopback API on 127.0.0.1 and ::1 (default: api.port, 9161; 0 = any free port).
    #[arg(long, env = "PRINTSCOUT_API_PORT")]
    api_port: Option<u16>,
    /// Directory of the built web UI to serve to browsers (default: the installed copy).
    #[arg(long, env = "PRINTSCOUT_UI_DIR")]
    ui_dir: Option<PathBuf>,
    /// Status poll interval (overrides schedule.status_every), e.g. 10s.
    #[arg(long, value_parser = humantime::parse_duration)]
    status_every: Option<Duration>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match start(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("printscout-app: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: Args) -> Result<ExitCode> {
    let (config, dir) = host::resolve(args.config.as_deref(), args.data_dir.as_deref())?;
    let _guard = host::init_logging(&dir, &config, "printscout-app")?;
    let status_every = args.status_every;
    let opts = HostOptions {
        api_port: args.api_port.unwrap_or(config.api.port),
        config_file: host::config_file(args.config.as_deref(), args.data_dir.is_some(), &dir),
        secrets: printscout_engine::secrets::open(&config, &dir),
        config,
        data_dir: dir.clone(),
        ui_dir: args.ui_dir.clone().or_else(installed_ui),
        tune: status_every.map(|d| {
            Arc::new(move |s: &mut Settings| s.status_every = d)
                as printscout_api::state::SettingsTuning
        }),
    };
    if args.headless || !has_display() {
        if !args.headless {
            println!(
                "No display found: running the headless service (the same as `printscout run`) instead of the tray app."
            );
        }
        return headless(opts);
    }
    let code = app::run(app::Options {
        host: opts,
        hidden: args.hidden,
    });
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Whether there is a display to put a tray icon and a window on.
fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The UI copy installed with the package (`<resources>/ui`), served to
/// browsers by the API; the window has its own embedded copy.
fn installed_ui() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let base = exe.parent()?;
    [
        base.join("ui"),
        base.join("../lib/PrintScout/ui"),
        base.join("../lib/printscout-app/ui"),
        base.join("../Resources/ui"),
    ]
    .into_iter()
    .find(|d| d.join("index.html").is_file())
}

/// The headless service: the host until SIGINT/SIGTERM.
fn headless(opts: HostOptions) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let host = Host::start(opts).await?;
        println!(
            "PrintScout is running. Open {} in a browser on this computer (API token: {}).",
            host.url(),
            host.api().token_file().display()
        );
        host::wait_for_stop().await;
        tracing::info!("stopping: finishing readings being written");
        host.shutdown().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
