//! Desktop notifications through the freedesktop notification service
//! (notify-rust over D-Bus), behind the engine's [`Notifier`] trait: the
//! engine's `notify::run` decides what to show and wraps every call in a
//! timeout; this module only shows and waits for a click.
//!
//! Invariants: showing never blocks a caller beyond the engine's timeout (the
//! future is dropped there); a click ("default" action) opens the printer's
//! page; at most [`MAX_WAITERS`] threads wait for clicks, so a daemon that
//! never reports a notification closed cannot pile threads up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use printscout_engine::events::Severity;
use printscout_engine::notify::{Notification, Notifier};
use tauri::AppHandle;

/// Threads waiting for a click on a shown notification, at most.
pub const MAX_WAITERS: usize = 4;

/// Shows notifications on this desktop.
pub struct Desktop {
    app: AppHandle,
    waiters: Arc<AtomicUsize>,
}

impl Desktop {
    /// A notifier whose clicks open windows of `app`.
    pub fn new(app: AppHandle) -> Self {
        Self {
            app,
            waiters: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Notifier for Desktop {
    fn show(&self, n: Notification) -> BoxFuture<'static, Result<(), String>> {
        let app = self.app.clone();
        let waiters = self.waiters.clone();
        Box::pin(async move {
            let mut note = notify_rust::Notification::new();
            note.appname("PrintScout")
                .summary(&n.summary)
                .body(&n.body)
                .icon("printscout-app")
                .action("default", "Open");
            #[cfg(all(unix, not(target_os = "macos")))]
            note.urgency(match n.severity {
                Severity::Error => notify_rust::Urgency::Critical,
                Severity::Warning => notify_rust::Urgency::Normal,
                Severity::Info => notify_rust::Urgency::Low,
            });
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            let _ = n.severity;
            let handle = note.show_async().await.map_err(|e| e.to_string())?;
            tracing::info!(summary = %n.summary, count = n.count, "notification shown");
            if waiters.fetch_add(1, Ordering::SeqCst) >= MAX_WAITERS {
                waiters.fetch_sub(1, Ordering::SeqCst);
                return Ok(());
            }
            let target = n.target;
            std::thread::spawn(move || {
                #[cfg(all(unix, not(target_os = "macos")))]
                handle.wait_for_action(|action| {
                    if action == "default" {
                        crate::app::open_window(&app, Some(&target));
                    }
                });
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                drop((handle, app, target));
                waiters.fetch_sub(1, Ordering::SeqCst);
            });
            Ok(())
        })
    }
}
