//! `/api/v1/events`: stored events (paged by id) and the live stream
//! (Server-Sent Events) of the collector's events and scan progress.
//!
//! Invariants: the stream sends each collector event after it is stored
//! (its `id` is the store's, so a client that reconnects asks
//! `GET /events?after=<last id>` for what it missed); a slow client loses
//! live events (it is told with a `lagged` event) but never slows the
//! collector.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use futures::StreamExt;
use printscout_engine::events::Event;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use utoipa::{IntoParams, ToSchema};

use super::time;
use crate::error::{ApiError, Json, Query};
use crate::state::{AppState, store_error};

/// Something that happened.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventItem {
    /// Its id (increasing).
    pub id: i64,
    /// When (RFC 3339).
    pub at: Option<String>,
    /// The printer it is about.
    pub printer_id: Option<i64>,
    /// `printer_error`, `error_cleared`, `supply_low`, `supply_empty`,
    /// `supply_ok`, `offline`, `back`, `counter_drop`, `new_device`,
    /// `address_changed`, `device_displaced`.
    #[schema(example = "supply_low")]
    pub kind: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// In words, naming the printer.
    pub message: String,
    /// Details (condition key, counters, addresses).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventItem {
    fn from(e: Event) -> Self {
        EventItem {
            id: e.id,
            at: time(Some(e.at)),
            printer_id: e.device_id,
            kind: e.kind.as_str().into(),
            severity: e.severity.as_str().into(),
            message: e.message,
            data: if e.data.is_null() {
                serde_json::json!({})
            } else {
                e.data
            },
        }
    }
}

/// Which events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events with a larger id (default 0: from the start).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Stored events, oldest first, after an id.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "events, oldest first", body = Vec<EventItem>),
        (status = 400, description = "a bad parameter", body = crate::error::ErrorBody)
    )
)]
pub async fn list(
    State(ctx): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<Vec<EventItem>>, ApiError> {
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let events = ctx
        .read(move |store| store.events_since(after, limit).map_err(store_error))
        .await?;
    Ok(Json(events.into_iter().map(EventItem::from).collect()))
}

/// Live updates as Server-Sent Events: `event: <kind>` with an
/// [`EventItem`] for the collector's events, `event: scan` with a scan's
/// progress, `event: lagged` when this client fell behind (fetch
/// `/events?after=` to catch up). A comment every 15 s keeps it open.
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "events",
    responses((status = 200, description = "a text/event-stream that stays open", content_type = "text/event-stream", body = String))
)]
pub async fn stream(
    State(ctx): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    tracing::debug!("a client opened the event stream");
    let events = BroadcastStream::new(ctx.collector.subscribe()).map(|r| match r {
        Ok(e) => {
            let item = EventItem::from(e);
            let id = item.id.to_string();
            Ok(SseEvent::default()
                .event(item.kind.clone())
                .id(id)
                .json_data(&item)
                .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event")))
        }
        Err(BroadcastStreamRecvError::Lagged(n)) => Ok(SseEvent::default()
            .event("lagged")
            .data(format!("{{\"missed\":{n}}}"))),
    });
    let scans = BroadcastStream::new(ctx.scan_events.subscribe()).map(|r| match r {
        Ok(v) => Ok(SseEvent::default()
            .event("scan")
            .json_data(&v)
            .unwrap_or_else(|_| SseEvent::default().comment("unserialisable scan event"))),
        Err(BroadcastStreamRecvError::Lagged(n)) => Ok(SseEvent::default()
            .event("lagged")
            .data(format!("{{\"missed\":{n}}}"))),
    });
    let closing = ctx.closing.clone();
    let stream = futures::stream::select(events, scans)
        .take_until(async move { closing.cancelled_owned().await });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
