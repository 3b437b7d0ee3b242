//! `/api/v1/report/send`: e-mail the meter report now (the UI's "send a test
//! report"), through the SMTP server `[email]` names, to its recipients.
//!
//! Invariants:
//! - nothing is sent unless `[email]` names a server, a sender and a
//!   recipient; the request body cannot change where the report goes (only
//!   the period it covers);
//! - a send that was attempted answers 200 with `ok` and the engine's stable
//!   `code` (`sent`, `smtp_connect_failed`, `smtp_tls_error`,
//!   `smtp_auth_failed`, `smtp_rejected`, `smtp_timeout`, `smtp_failed`) and
//!   words; a send that could not be attempted (not configured, a bad
//!   `email.ca_file`, no password stored, the secret store failing) is an
//!   [`ApiError`] with the engine's code;
//! - the SMTP password comes from the secret store and is never in an
//!   answer; the outcome is recorded in the store's `meta` like every send.

use axum::extract::State;
use axum::http::StatusCode;
use printscout_engine::store::now_ms;
use printscout_engine::uplink::email::{self, EmailError, ReportSummary, SentReport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiError, Json};
use crate::state::AppState;

/// The longest period a report may cover, in seconds (a year).
const MAX_PERIOD_S: u64 = 366 * 86_400;

/// `POST /api/v1/report/send`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSendRequest {
    /// The period the report covers, ending now, in seconds (default one
    /// day, at most a year).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_622_400)]
    pub period_s: Option<u64>,
}

/// The counts in the subject line.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    /// Printers monitored.
    pub devices: usize,
    /// Read in the period.
    pub read: usize,
    /// Not read in the period.
    pub not_read: usize,
    /// Errors open.
    pub errors: usize,
    /// Warnings open.
    pub warnings: usize,
    /// Supplies low.
    pub supplies_low: usize,
    /// Supplies empty.
    pub supplies_empty: usize,
}

impl From<ReportSummary> for SummaryView {
    fn from(s: ReportSummary) -> Self {
        SummaryView {
            devices: s.devices,
            read: s.read,
            not_read: s.not_read,
            errors: s.errors,
            warnings: s.warnings,
            supplies_low: s.supplies_low,
            supplies_empty: s.supplies_empty,
        }
    }
}

/// What was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentView {
    /// The subject line.
    pub subject: String,
    /// Start of the period (RFC 3339).
    pub from: Option<String>,
    /// End of the period (RFC 3339).
    pub to: Option<String>,
    /// The SMTP server, `host:port`.
    pub server: String,
    /// Whether the connection was encrypted.
    pub encrypted: bool,
    /// Whether it authenticated as `email.user`.
    pub authenticated: bool,
    /// The attachment names.
    pub attachments: Vec<String>,
    /// Size of the message, in bytes.
    pub bytes: usize,
    /// The server's final answer.
    pub response: String,
    /// The counts in the subject.
    pub summary: SummaryView,
}

impl From<SentReport> for SentView {
    fn from(s: SentReport) -> Self {
        SentView {
            subject: s.subject,
            from: time(Some(s.from)),
            to: time(Some(s.to)),
            server: s.server,
            encrypted: s.encrypted,
            authenticated: s.authenticated,
            attachments: s.attachments,
            bytes: s.bytes,
            response: s.response,
            summary: s.summary.into(),
        }
    }
}

/// The outcome of a send.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSendResult {
    /// Whether the server accepted the message.
    pub ok: bool,
    /// `sent`, or why not: `smtp_connect_failed`, `smtp_tls_error`,
    /// `smtp_auth_failed`, `smtp_rejected`, `smtp_timeout`, `smtp_failed`.
    #[schema(example = "sent")]
    pub code: String,
    /// What happened, in words.
    pub message: String,
    /// The recipients (`email.to`).
    pub recipients: Vec<String>,
    /// Details of what was sent, when `ok`.
    pub sent: Option<SentView>,
}

/// E-mail the meter report for the last day (or `period_s`) now, and wait
/// for the server's answer.
#[utoipa::path(
    post,
    path = "/api/v1/report/send",
    tag = "report",
    request_body = ReportSendRequest,
    responses(
        (status = 200, description = "the send was attempted: `ok` says whether the server took it, `code` why not", body = ReportSendResult),
        (status = 409, description = "e-mail is not set up (`email_not_configured`) or `email.user` has no password stored (`smtp_password_missing`)", body = crate::error::ErrorBody),
        (status = 422, description = "a period out of range (`invalid_period`) or an unreadable `email.ca_file` (`ca_file_invalid`)", body = crate::error::ErrorBody),
        (status = 503, description = "the secret store cannot be used (`secret_store_unavailable`, `secret_store_locked`, …)", body = crate::error::ErrorBody)
    )
)]
pub async fn send(
    State(ctx): State<AppState>,
    Json(body): Json<ReportSendRequest>,
) -> Result<Json<ReportSendResult>, ApiError> {
    let period_s = body.period_s.unwrap_or(86_400);
    if !(1..=MAX_PERIOD_S).contains(&period_s) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_period",
            format!("period_s must be between 1 and {MAX_PERIOD_S} (a year)"),
        ));
    }
    let config = ctx.config()?;
    let path = ctx.read(|store| Ok(store.path().to_path_buf())).await?;
    let to = now_ms();
    let from = to.saturating_sub(i64::try_from(period_s * 1000).unwrap_or(i64::MAX));
    let recipients = config.email.to.clone();
    match email::send_report(&config, ctx.secrets.clone(), &path, (from, to)).await {
        Ok(sent) => Ok(Json(ReportSendResult {
            ok: true,
            code: "sent".into(),
            message: format!(
                "sent to {} through {}; the server answered {}",
                sent.recipients.join(", "),
                sent.server,
                sent.response
            ),
            recipients,
            sent: Some(sent.into()),
        })),
        Err(e) => match refused(&e) {
            Some(status) => Err(ApiError::new(status, e.code(), e.to_string())),
            None => Ok(Json(ReportSendResult {
                ok: false,
                code: e.code().into(),
                message: e.to_string(),
                recipients,
                sent: None,
            })),
        },
    }
}

/// The status for a send that could not be attempted; `None` when the
/// server was tried.
fn refused(e: &EmailError) -> Option<StatusCode> {
    match e {
        EmailError::NotConfigured(_) | EmailError::PasswordMissing => Some(StatusCode::CONFLICT),
        EmailError::CaFile { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
        EmailError::Secret(_) => Some(StatusCode::SERVICE_UNAVAILABLE),
        EmailError::Report(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
        _ => None,
    }
}
