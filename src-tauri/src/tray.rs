//! The tray icon and its menu: a status line, Open PrintScout, Scan now,
//! Sync now, Pause monitoring / Resume, Settings…, Quit. The icon's look and
//! the status line follow the fleet (`fleet`), refreshed every few seconds
//! and at once after a menu action.
//!
//! Invariants: menu actions never wait on the network on the UI thread (a
//! scan or a sync is started and followed in the window); the status line is
//! a disabled item, so it reads as text.

use std::time::Duration;

use printscout_api::routes::networks::{StartScan, start_scan};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::app::{Shared, open_window};
use crate::fleet::{self, Look};

/// The menu items whose text changes.
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<Wry>,
    pause: MenuItem<Wry>,
}

/// How often the icon and the status line are refreshed.
pub const REFRESH: Duration = Duration::from_secs(5);

/// Builds the tray icon and its menu.
pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open PrintScout", true, None::<&str>)?;
    let scan = MenuItem::with_id(app, "scan", "Scan now", true, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause monitoring", true, None::<&str>)?;
    let settings = MenuItem::with_id(app, "settings", "Settings…", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &scan,
            &sync,
            &pause,
            &settings,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("printscout")
        .icon(Image::from_bytes(Look::Ok.icon())?)
        .tooltip("PrintScout")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(Tray {
        icon,
        status,
        pause,
    })
}

fn on_menu(app: &AppHandle, id: &str) {
    tracing::debug!(item = id, "tray menu");
    let Some(shared) = app.try_state::<Shared>() else {
        return;
    };
    match id {
        "open" => open_window(app, None),
        "settings" => open_window(app, Some("#/settings")),
        "scan" => {
            let Some(ctx) = shared.context() else { return };
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // The selected networks; with none selected the window shows
                // the Networks screen to pick some.
                let started = start_scan(
                    axum::extract::State(ctx),
                    printscout_api::error::Json(StartScan { networks: None }),
                )
                .await;
                if let Err(e) = &started {
                    tracing::info!(error = ?e, "scan from the tray not started");
                }
                open_window(&app, Some("#/networks"));
            });
        }
        "sync" => {
            if let Some(up) = shared.uplink() {
                if up.state().configured {
                    up.sync_now();
                } else {
                    open_window(app, Some("#/sync"));
                }
            }
        }
        "pause" => {
            if let Some(c) = shared.collector() {
                if c.status().state == "paused" {
                    c.resume();
                } else {
                    c.pause();
                }
            }
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                refresh(&app);
            });
        }
        "quit" => {
            tracing::info!("quit from the tray menu");
            app.exit(0);
        }
        _ => {}
    }
}

/// Brings the icon, the tooltip and the menu up to date.
pub fn refresh(app: &AppHandle) {
    let Some(shared) = app.try_state::<Shared>() else {
        return;
    };
    let (Some(c), Some(up)) = (shared.collector(), shared.uplink()) else {
        return;
    };
    let st = c.status();
    let up = up.state();
    let look = fleet::look(&st, &up);
    let line = fleet::status_line(&st, &up, printscout_engine::store::now_ms());
    let Ok(guard) = shared.tray.lock() else {
        return;
    };
    let Some(tray) = guard.as_ref() else { return };
    let mut last = shared.last_look.lock().ok();
    let changed = last.as_deref().is_none_or(|l| *l != Some(look));
    if changed {
        tracing::info!(look = look.words(), "tray");
        if let Ok(img) = Image::from_bytes(look.icon())
            && let Err(e) = tray.icon.set_icon(Some(img))
        {
            tracing::warn!(error = %e, "the tray icon could not be changed");
        }
        if let Some(l) = last.as_deref_mut() {
            *l = Some(look);
        }
    }
    let _ = tray.icon.set_tooltip(Some(format!("PrintScout: {line}")));
    let _ = tray.status.set_text(&line);
    let _ = tray.pause.set_text(if st.state == "paused" {
        "Resume monitoring"
    } else {
        "Pause monitoring"
    });
}
