//! `/api/v1/sync`: how the upload is doing (the upload loop's state, the
//! outbox, which way uploads go) and `POST` to upload now.
//!
//! Invariants:
//! - `GET` only reads (the loop's state in memory, the outbox, the
//!   `meta` table); it sends no packet;
//! - `POST` starts one round of the service's upload loop — never a second
//!   uploader — and waits for it (at most `wait_s`, default 60 s, at most
//!   300 s), then answers the state;
//! - nothing answered holds a secret: URLs are redacted, failures are the
//!   engine's words (scrubbed of the token and proxy passwords).

use std::time::Duration;

use axum::extract::State;
use printscout_engine::store::{OutboxSummary, now_ms};
use printscout_engine::uplink::upload::{STATE_KEY, UplinkState};
use printscout_engine::uplink::{PathResult, redact_url};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::proxy::ProxyPath;
use super::time;
use crate::error::{ApiError, Json};
use crate::state::AppState;

/// The upload now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncView {
    /// Whether an upload URL is configured.
    pub upload_configured: bool,
    /// The upload URL, redacted; `null` when off.
    pub url: Option<String>,
    /// Seconds between rounds (`[upload] every`).
    pub every_s: u64,
    /// Whether a round runs now.
    pub running: bool,
    /// The last round that emptied the outbox (RFC 3339).
    pub last_success: Option<String>,
    /// What the last round sent.
    pub last_sent: UploadSent,
    /// The last failure, while no success followed it.
    pub error: Option<SyncError>,
    /// When the next round runs (RFC 3339).
    pub next_attempt: Option<String>,
    /// Which way uploads go, in words (`direct`, `manual proxy http://***@host:3128`).
    pub path: Option<String>,
    /// The last connectivity test (at start, and when uploads fail for a
    /// network reason).
    pub checks: Vec<CheckView>,
    /// What waits to be sent.
    pub queue: QueueView,
}

/// What a round sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadSent {
    /// Batches the server acknowledged.
    pub batches: u64,
    /// Items in them.
    pub items: u64,
    /// Compressed bytes sent, every attempt counted.
    pub body_bytes: u64,
    /// Their JSON before compression.
    pub json_bytes: u64,
}

/// Why uploads fail.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncError {
    /// A stable code (`server_error`, `token_rejected`, `connect_failed`,
    /// `proxy_auth_failed`, `tls_error`, `no_token`, …).
    #[schema(example = "token_rejected")]
    pub code: String,
    /// What happened, in words.
    pub message: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Whether it is retried with backoff (`false`: it needs a person;
    /// tried again hourly, on sync now, or after a settings change).
    pub retry: bool,
    /// Failed rounds in a row.
    pub failures: u32,
    /// When it happened (RFC 3339).
    pub at: Option<String>,
}

/// One path of the connectivity test.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// `direct`, `environment`, `system` or `manual`.
    pub path: ProxyPath,
    /// The proxy, redacted.
    pub proxy: Option<String>,
    /// `ok`, `token_rejected`, `proxy_auth_failed`, `tls_error`,
    /// `connect_failed`, `dns_failed`, `timeout`, `proxy_invalid`, `failed`.
    pub code: String,
    /// Whether the server was reached and accepted the token.
    pub ok: bool,
    /// The HTTP status, if any.
    pub status: Option<u16>,
    /// In words.
    pub message: String,
}

/// The outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// Items waiting.
    pub queued: i64,
    /// By kind.
    pub by_kind: Vec<KindCount>,
    /// When the oldest was queued (RFC 3339).
    pub oldest: Option<String>,
    /// Its age in seconds.
    pub oldest_age_s: Option<i64>,
    /// Items dropped because the outbox was full (`store.outbox_max`).
    pub dropped: i64,
    /// Items the server refused for good.
    pub rejected: i64,
    /// The batch waiting for the server's answer.
    pub pending_batch: Option<PendingView>,
}

/// Items of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindCount {
    /// `meters`, `status`, `event` or `job`.
    pub kind: String,
    /// How many.
    pub count: i64,
}

/// A batch sent at least once and not acknowledged yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingView {
    /// Its id (the `Idempotency-Key`).
    pub batch_id: String,
    /// Items in it.
    pub items: u64,
    /// Attempts so far.
    pub attempts: u32,
}

/// `POST /api/v1/sync`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncNow {
    /// Seconds to wait for the round (default 60, at most 300).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 300)]
    pub wait_s: Option<u64>,
}

/// Upload now: the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncNowResult {
    /// Whether the round ended with the outbox empty.
    pub ok: bool,
    /// The state after it (the loop's own words).
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
    /// The same, as `GET /api/v1/sync` shows it.
    pub sync: SyncView,
}

/// How the upload is doing.
#[utoipa::path(
    get,
    path = "/api/v1/sync",
    tag = "sync",
    responses(
        (status = 200, description = "the upload's state and queue", body = SyncView),
        (status = 401, description = "no or wrong token", body = crate::error::ErrorBody)
    )
)]
pub async fn sync_status(State(ctx): State<AppState>) -> Result<Json<SyncView>, ApiError> {
    let live = ctx.uplink().map(|u| u.state());
    Ok(Json(view(&ctx, live).await?))
}

/// Upload what is queued now, and wait for the round to end.
#[utoipa::path(
    post,
    path = "/api/v1/sync",
    tag = "sync",
    request_body = SyncNow,
    responses(
        (status = 200, description = "the round ran (see `ok` and `sync.error`)", body = SyncNowResult),
        (status = 409, description = "no upload URL is configured", body = crate::error::ErrorBody),
        (status = 503, description = "no upload loop runs in this process", body = crate::error::ErrorBody)
    )
)]
pub async fn sync_now(
    State(ctx): State<AppState>,
    Json(body): Json<SyncNow>,
) -> Result<Json<SyncNowResult>, ApiError> {
    let Some(uplink) = ctx.uplink() else {
        return Err(ApiError::unavailable(
            "no upload loop runs in this process (it runs in `printscout run`)",
        ));
    };
    if ctx.config()?.upload.url.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "not_configured",
            "no upload URL is configured: set upload.url in the settings",
        ));
    }
    let wait = Duration::from_secs(body.wait_s.unwrap_or(60).min(300));
    let state = uplink.sync_and_wait(wait).await;
    let ok = state.failure.is_none() && !state.running;
    let json = serde_json::to_value(&state).unwrap_or_default();
    let sync = view(&ctx, Some(state)).await?;
    Ok(Json(SyncNowResult {
        ok,
        state: json,
        sync,
    }))
}

async fn view(ctx: &AppState, live: Option<UplinkState>) -> Result<SyncView, ApiError> {
    let config = ctx.config()?;
    let (outbox, saved) = ctx
        .read(|store| {
            let outbox = store.outbox_summary().map_err(crate::state::store_error)?;
            let saved: Option<UplinkState> = store
                .meta(STATE_KEY)
                .map_err(crate::state::store_error)?
                .and_then(|t| serde_json::from_str(&t).ok());
            Ok((outbox, saved))
        })
        .await?;
    let st = live.or(saved).unwrap_or_default();
    Ok(build(&config, st, outbox, now_ms()))
}

fn build(
    config: &printscout_engine::config::Config,
    st: UplinkState,
    o: OutboxSummary,
    now: i64,
) -> SyncView {
    let configured = !config.upload.url.is_empty();
    SyncView {
        upload_configured: configured,
        url: configured.then(|| redact_url(&config.upload.url)),
        every_s: config.upload.every.as_secs(),
        running: st.running,
        last_success: time(st.last_success),
        last_sent: UploadSent {
            batches: st.last_sent.batches as u64,
            items: st.last_sent.items as u64,
            body_bytes: st.last_sent.body_bytes,
            json_bytes: st.last_sent.json_bytes,
        },
        error: st.failure.as_ref().map(|f| SyncError {
            code: f.code.clone(),
            message: f.message.clone(),
            status: f.status,
            retry: f.retry,
            failures: st.failures,
            at: time(st.failed_at),
        }),
        next_attempt: if configured {
            time(st.next_attempt)
        } else {
            None
        },
        path: st.path.clone(),
        checks: st.paths.iter().map(check).collect(),
        queue: QueueView {
            queued: o.queued,
            by_kind: o
                .by_kind
                .iter()
                .map(|(k, n)| KindCount {
                    kind: k.clone(),
                    count: *n,
                })
                .collect(),
            oldest: time(o.oldest),
            oldest_age_s: o.oldest.map(|t| ((now - t) / 1000).max(0)),
            dropped: o.dropped,
            rejected: o.rejected,
            pending_batch: o.pending.map(|(batch_id, items, attempts)| PendingView {
                batch_id,
                items: items as u64,
                attempts,
            }),
        },
    }
}

fn check(p: &PathResult) -> CheckView {
    CheckView {
        path: p.path.into(),
        proxy: p.proxy.clone(),
        code: p.code.as_str().to_string(),
        ok: p.ok,
        status: p.status,
        message: p.message.clone(),
    }
}
