//! The desktop application: one instance per user, living in the tray,
//! hosting the collector, the upload loop and the loopback API in-process
//! (`printscout_api::host`), with one settings window (label `main`) showing
//! the web UI embedded from `ui/dist`.
//!
//! Invariants:
//! - a second launch focuses the running instance (single-instance plugin)
//!   and exits;
//! - closing the window destroys it (freeing the webview's processes) and
//!   keeps the app in the tray; only Quit (or a signal) ends it, and ending
//!   stops the host in order (readings being written finish);
//! - the API token reaches only the `main` window, over IPC
//!   (`api_info`, granted by `capabilities/main-window.json`), never in a URL;
//! - if the host cannot start (the port is taken), the user is told in a
//!   notification and on stderr, and the app exits with status 1.

use std::sync::{Arc, Mutex};

use printscout_api::host::{Host, HostOptions};
use printscout_api::state::AppState;
use printscout_engine::collector::Collector;
use printscout_engine::uplink::upload::UplinkHandle;
use serde::Serialize;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt};
use tokio_util::sync::CancellationToken;

use crate::fleet::Look;
use crate::tray::{self, Tray};

/// The label of the one window.
pub const MAIN: &str = "main";

/// What the app shares between its menu, commands and loops.
#[derive(Default)]
pub struct Shared {
    host: Mutex<Option<Host>>,
    pub(crate) tray: Mutex<Option<Tray>>,
    pub(crate) last_look: Mutex<Option<Look>>,
    stop: CancellationToken,
}

impl Shared {
    /// The API's state, while the host runs.
    pub fn context(&self) -> Option<AppState> {
        self.host
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(|h| h.context().clone()))
    }

    /// The collector, while the host runs.
    pub fn collector(&self) -> Option<Collector> {
        self.host
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(Host::collector))
    }

    /// The upload loop, while the host runs.
    pub fn uplink(&self) -> Option<UplinkHandle> {
        self.host
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(|h| h.uplink().clone()))
    }
}

/// Where the UI finds the API. Holds the token: never logged (no `Debug`).
#[derive(Serialize)]
pub struct ApiInfo {
    url: String,
    token: String,
}

/// The app's options (from the command line).
pub struct Options {
    /// Host these.
    pub host: HostOptions,
    /// Start in the tray without opening the window (at login).
    pub hidden: bool,
}

/// Runs the app until Quit. Returns the process's exit status.
pub fn run(opts: Options) -> i32 {
    let Options { host, hidden } = opts;
    let host_opts = Mutex::new(Some(host));
    let failed = Arc::new(Mutex::new(None::<String>));
    let failed_in_setup = failed.clone();
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("PrintScout was started again: showing the running one");
            open_window(app, None);
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .manage(Shared::default())
        .invoke_handler(tauri::generate_handler![
            api_info,
            autostart_get,
            autostart_set
        ])
        .setup(move |app| {
            let Some(opts) = host_opts.lock().ok().and_then(|mut o| o.take()) else {
                return Ok(());
            };
            let handle = app.handle().clone();
            match tauri::async_runtime::block_on(Host::start(opts)) {
                Ok(host) => started(&handle, host, hidden)?,
                Err(e) => {
                    let words = format!("PrintScout could not start: {e}");
                    if let Ok(mut f) = failed_in_setup.lock() {
                        *f = Some(words);
                    }
                    handle.exit(1);
                }
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("PrintScout could not start its window system: {e}");
            return 1;
        }
    };
    let mut code = app.run_return(|app, event| match event {
        // Closing the last window keeps the app in the tray; only an
        // explicit exit (Quit, a signal) has a code.
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let shared = app.state::<Shared>();
            shared.stop.cancel();
            let host = shared.host.lock().ok().and_then(|mut h| h.take());
            if let Some(host) = host {
                tracing::info!("stopping: finishing readings being written");
                tauri::async_runtime::block_on(host.shutdown());
                tracing::info!("stopped");
            }
        }
        _ => {}
    });
    if let Some(words) = failed.lock().ok().and_then(|mut f| f.take()) {
        tracing::error!("{words}");
        eprintln!("{words}");
        // Said where a person clicking the app icon looks, too.
        let _ = tauri::async_runtime::block_on(async {
            tokio::time::timeout(
                printscout_engine::notify::SHOW_TIMEOUT,
                notify_rust::Notification::new()
                    .appname("PrintScout")
                    .summary("PrintScout could not start")
                    .body(&words)
                    .show_async(),
            )
            .await
        });
        code = 1;
    }
    code
}

/// The host is up: tray, loops, and the window unless started hidden.
fn started(app: &AppHandle, host: Host, hidden: bool) -> tauri::Result<()> {
    let shared = app.state::<Shared>();
    tracing::info!(url = %host.url(), "PrintScout is running in the tray");
    let events = host.collector().subscribe();
    let ctx = host.context().clone();
    if let Ok(mut h) = shared.host.lock() {
        *h = Some(host);
    }
    // A desktop without any tray still gets the window and notifications.
    let has_tray = match tray::build(app) {
        Ok(tray) => {
            if let Ok(mut t) = shared.tray.lock() {
                *t = Some(tray);
            }
            tray::refresh(app);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "no tray icon on this desktop; the window stays the way in");
            false
        }
    };

    // Desktop notifications of printer problems.
    let settings = move || {
        ctx.config
            .lock()
            .map(|c| c.notifications.clone())
            .unwrap_or_default()
    };
    let notifier = Arc::new(crate::notifier::Desktop::new(app.clone()));
    tauri::async_runtime::spawn(printscout_engine::notify::run(
        events,
        settings,
        notifier,
        Arc::default(),
        shared.stop.clone(),
    ));

    // The tray follows the fleet.
    let refresher = app.clone();
    let stop = shared.stop.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(tray::REFRESH) => tray::refresh(&refresher),
            }
        }
    });

    // A signal (logout, `systemctl --user stop`, Ctrl-C) quits cleanly.
    let quitter = app.clone();
    tauri::async_runtime::spawn(async move {
        printscout_api::host::wait_for_stop().await;
        tracing::info!("stop signal: quitting");
        quitter.exit(0);
    });

    if !hidden || !has_tray {
        open_window(app, None);
    }
    Ok(())
}

/// Shows the settings window (creating it if it was closed), focused, at
/// `route` (`#/printers/12`) if given.
pub fn open_window(app: &AppHandle, route: Option<&str>) {
    tracing::info!(
        route = route.unwrap_or("#/printers"),
        "opening the PrintScout window"
    );
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        if let Some(r) = route {
            use tauri::Emitter;
            let _ = w.emit_to(MAIN, "navigate", r);
        }
        return;
    }
    let mut builder = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("PrintScout")
        .inner_size(1100.0, 760.0)
        .min_inner_size(360.0, 420.0);
    if let Some(r) = route {
        // Before the UI's own scripts run, so its router starts there.
        let r = serde_json::to_string(r).unwrap_or_else(|_| "\"\"".into());
        builder = builder.initialization_script(format!(
            "if (!window.location.hash) window.location.hash = {r};"
        ));
    }
    if let Err(e) = builder.build() {
        tracing::warn!(error = %e, "the PrintScout window could not be opened");
    }
}

/// The API's address and token, for the `main` window only.
#[tauri::command]
fn api_info(
    window: tauri::WebviewWindow,
    shared: tauri::State<'_, Shared>,
) -> Result<ApiInfo, String> {
    tracing::debug!(window = window.label(), "api_info asked");
    if window.label() != MAIN {
        return Err("only the PrintScout window may ask".into());
    }
    shared
        .host
        .lock()
        .ok()
        .and_then(|h| {
            h.as_ref().map(|h| ApiInfo {
                url: h.url().to_string(),
                token: h.api().token().expose().to_string(),
            })
        })
        .ok_or_else(|| "PrintScout is still starting".into())
}

/// Whether PrintScout starts at login.
#[tauri::command]
fn autostart_get(app: AppHandle) -> Result<bool, String> {
    app.autolaunch().is_enabled().map_err(|e| e.to_string())
}

/// Starts PrintScout at login (in the tray, without the window), or not.
#[tauri::command]
fn autostart_set(app: AppHandle, enabled: bool) -> Result<bool, String> {
    let a = app.autolaunch();
    if enabled { a.enable() } else { a.disable() }.map_err(|e| e.to_string())?;
    tracing::info!(enabled, "start at login changed");
    a.is_enabled().map_err(|e| e.to_string())
}
