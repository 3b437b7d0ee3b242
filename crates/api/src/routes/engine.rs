//! `/api/v1/status` and pausing or resuming monitoring.
//!
//! Invariant: the status is assembled from the collector's in-memory counts
//! and a handful of indexed reads, so the tray can ask for it every few
//! seconds.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiError, Json};
use crate::state::{AppState, store_error};

/// The engine, the fleet at a glance, and how the data is leaving the site.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// What the collector is doing.
    pub engine: EngineStatus,
    /// Devices by their latest status.
    pub devices: DeviceCounts,
    /// The outbox and the uplink.
    pub sync: SyncStatus,
}

/// The collector's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct EngineStatus {
    /// `starting`, `running`, `paused`, `stopping` or `stopped`.
    #[schema(example = "running")]
    pub state: String,
    /// Polls in flight now.
    pub polling: usize,
    /// Polls finished since the service started.
    pub polls: u64,
    /// Of which failed (no answer, refused credentials).
    pub failed_polls: u64,
    /// When each kind of work is next due (RFC 3339, UTC; null: not scheduled).
    pub next: NextRuns,
}

/// When the next runs are due.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextRuns {
    /// The next status poll of any device.
    pub status: Option<String>,
    /// The next full read (counters, supplies) of any device.
    pub meters: Option<String>,
    /// The next rediscovery of the selected networks.
    pub rediscovery: Option<String>,
    /// The next scheduled report.
    pub report: Option<String>,
}

/// Devices by their latest status.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceCounts {
    /// Devices monitored.
    pub total: usize,
    /// Latest status ok.
    pub ok: usize,
    /// Latest status warning (a supply low, a tray empty…).
    pub warning: usize,
    /// Latest status error (a jam, a door open, toner empty…).
    pub error: usize,
    /// No answer in the last polls.
    pub offline: usize,
    /// Not read yet, or a status the printer did not say.
    pub unknown: usize,
}

/// What is waiting to leave the site and how the last attempt went.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatus {
    /// Whether an upload URL is configured.
    pub upload_configured: bool,
    /// Whether e-mailed reports are configured.
    pub email_configured: bool,
    /// The last successful upload (RFC 3339), if any.
    pub last_upload: Option<String>,
    /// The last upload error in words, if the last attempt failed.
    pub last_error: Option<String>,
    /// Items waiting in the outbox.
    pub queued: i64,
    /// When the oldest waiting item was queued.
    pub oldest_queued: Option<String>,
    /// Its age in seconds.
    pub oldest_queued_age_s: Option<i64>,
    /// Items dropped because the outbox was full (see `store.outbox_max`).
    pub dropped: i64,
    /// The last report written or sent (RFC 3339).
    pub last_report: Option<String>,
}

/// The collector's state, device counts and sync status.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "engine",
    responses(
        (status = 200, description = "the status now", body = Status),
        (status = 401, description = "no or wrong token", body = crate::error::ErrorBody)
    )
)]
pub async fn status(State(ctx): State<AppState>) -> Result<Json<Status>, ApiError> {
    let st = ctx.collector.status();
    let config = ctx.config()?;
    let sync = ctx
        .read(move |store| {
            let (queued, dropped) = store.outbox_stats().map_err(store_error)?;
            let oldest: Option<i64> = store
                .connection()
                .query_row(
                    "SELECT (SELECT created_at FROM outbox ORDER BY id LIMIT 1)",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| store_error(e.into()))?;
            let meta = |k: &str| store.meta(k).map_err(store_error);
            let ms = |v: Option<String>| v.and_then(|v| v.parse::<i64>().ok());
            let now = printscout_engine::store::now_ms();
            Ok(SyncStatus {
                upload_configured: !config.upload.url.is_empty(),
                email_configured: !config.email.smtp_url.is_empty(),
                last_upload: time(ms(meta("last_upload")?)),
                last_error: meta("last_upload_error")?,
                queued,
                oldest_queued: time(oldest),
                oldest_queued_age_s: oldest.map(|o| ((now - o) / 1000).max(0)),
                dropped,
                last_report: time(ms(meta("last_report")?)),
            })
        })
        .await?;
    let known = st.ok + st.warning + st.error + st.offline;
    Ok(Json(Status {
        engine: EngineStatus {
            state: st.state,
            polling: st.polling,
            polls: st.polls,
            failed_polls: st.failed_polls,
            next: NextRuns {
                status: time(st.next_status),
                meters: time(st.next_meters),
                rediscovery: time(st.next_rediscovery),
                report: time(st.next_report),
            },
        },
        devices: DeviceCounts {
            total: st.devices,
            ok: st.ok,
            warning: st.warning,
            error: st.error,
            offline: st.offline,
            unknown: st.devices.saturating_sub(known),
        },
        sync,
    }))
}

/// Pauses monitoring: no polls start until it is resumed; missed runs are
/// then caught up once.
#[utoipa::path(
    post,
    path = "/api/v1/engine/pause",
    tag = "engine",
    responses(
        (status = 200, description = "paused; the status now", body = Status),
        (status = 415, description = "not application/json", body = crate::error::ErrorBody)
    )
)]
pub async fn pause(State(ctx): State<AppState>) -> Result<Json<Status>, ApiError> {
    ctx.collector.pause();
    wait_for_state(&ctx, "paused").await;
    status(State(ctx)).await
}

/// Resumes monitoring.
#[utoipa::path(
    post,
    path = "/api/v1/engine/resume",
    tag = "engine",
    responses(
        (status = 200, description = "running; the status now", body = Status),
        (status = 415, description = "not application/json", body = crate::error::ErrorBody)
    )
)]
pub async fn resume(State(ctx): State<AppState>) -> Result<Json<Status>, ApiError> {
    ctx.collector.resume();
    wait_for_state(&ctx, "running").await;
    status(State(ctx)).await
}

/// The scheduler publishes its state on its next turn: wait briefly for it.
async fn wait_for_state(ctx: &AppState, want: &str) {
    for _ in 0..50 {
        if ctx.collector.status().state == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
