//! `/api/v1/proxy`: which proxies this machine offers the uplink (the
//! environment variables, the operating system's setting, the manual
//! `[proxy]`) and which one it would use, and the connectivity test through
//! each of them.
//!
//! Invariants:
//! - `GET /proxy` only reads (the process environment, GNOME's setting
//!   through `gsettings` — at most 2 s —, the configuration and the secret
//!   store) and sends no packet;
//! - `POST /proxy/test` sends one request per path (HEAD, else GET; 5 s
//!   timeout) to the given address or `[upload] url`, and nothing else; it
//!   refuses no address (the caller already holds the API token), but the
//!   site token is sent only to the configured upload server's origin;
//! - no secret in any answer: proxy URLs are redacted
//!   (`http://***@host:3128`), passwords are `password_set` /
//!   `credentials` only (see `printscout_engine::uplink`).

use axum::extract::State;
use printscout_engine::uplink::{self, ConnectError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Json};
use crate::state::AppState;

/// Which way the uplink goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProxyPath {
    /// No proxy.
    Direct,
    /// A proxy from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`.
    Environment,
    /// The operating system's proxy setting.
    System,
    /// `[proxy] url` with its user and password.
    Manual,
}

impl From<uplink::PathKind> for ProxyPath {
    fn from(k: uplink::PathKind) -> Self {
        match k {
            uplink::PathKind::Direct => ProxyPath::Direct,
            uplink::PathKind::Environment => ProxyPath::Environment,
            uplink::PathKind::System => ProxyPath::System,
            uplink::PathKind::Manual => ProxyPath::Manual,
        }
    }
}

/// What proxy discovery found. Holds no secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyReportView {
    /// `[proxy] mode`: `system`, `environment`, `manual` or `none`.
    #[schema(example = "system")]
    pub mode: String,
    /// The upload URL the choice was made for; `null` when none is
    /// configured (the choice is then shown for an https:// address).
    pub target: Option<String>,
    /// The way the uplink would go now.
    pub in_use: InUseView,
    /// What the environment variables say.
    pub environment: EnvironmentView,
    /// What the operating system's setting says.
    pub system: SystemView,
    /// The manual `[proxy]`.
    pub manual: ManualView,
}

/// The way the uplink would go now.
#[derive(Debug, Serialize, ToSchema)]
pub struct InUseView {
    /// `direct`, `environment`, `system` or `manual`.
    pub path: ProxyPath,
    /// The proxy, redacted (`http://***@host:3128`); `null` when direct or
    /// when the operating system applies its own.
    pub url: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The proxy environment variables of the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentView {
    /// Every proxy variable that is set.
    pub variables: Vec<EnvVariableView>,
    /// The proxy for https:// addresses (redacted).
    pub https_proxy: Option<String>,
    /// The proxy for http:// addresses (redacted).
    pub http_proxy: Option<String>,
    /// The hosts that bypass them (`NO_PROXY`).
    pub no_proxy: Vec<String>,
}

/// One environment variable as found.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvVariableView {
    /// Its name as spelled (`HTTPS_PROXY`, `https_proxy`…).
    #[schema(example = "HTTPS_PROXY")]
    pub name: String,
    /// Its value, a proxy URL redacted.
    #[schema(example = "http://***@proxy.example:3128")]
    pub value: String,
    /// Whether it carried a user or password.
    pub credentials: bool,
    /// Whether it is the one that applies.
    pub used: bool,
    /// Why it cannot be used, if so.
    pub error: Option<String>,
}

/// The operating system's proxy setting.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemView {
    /// Whether a setting could be read (or is applied by the OS).
    pub available: bool,
    /// `gnome`, `os` (macOS, Windows) or `none`.
    #[schema(example = "gnome")]
    pub source: String,
    /// GNOME's mode: `none`, `manual` or `auto` (a PAC file).
    pub mode: Option<String>,
    /// The http proxy (redacted).
    pub http: Option<String>,
    /// The https proxy (redacted).
    pub https: Option<String>,
    /// A SOCKS proxy (not used by the uplink).
    pub socks: Option<String>,
    /// The PAC file's address (not evaluated).
    pub autoconfig_url: Option<String>,
    /// The hosts that bypass it.
    pub ignore_hosts: Vec<String>,
    /// Whether it has a user and password for the http proxy.
    pub credentials: bool,
    /// What was found, in words.
    pub detail: String,
}

/// The manual `[proxy]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManualView {
    /// Whether `[proxy] url` is set.
    pub configured: bool,
    /// `[proxy] url`, redacted.
    pub url: Option<String>,
    /// `[proxy] user`.
    pub user: Option<String>,
    /// Whether the proxy password is in the secret store.
    pub password_set: bool,
    /// Why the address or the password cannot be used, if so.
    pub error: Option<String>,
}

impl From<uplink::ProxyReport> for ProxyReportView {
    fn from(r: uplink::ProxyReport) -> Self {
        let e = r.environment;
        let s = r.system;
        let m = r.manual;
        Self {
            mode: r.mode,
            target: r.target,
            in_use: InUseView {
                path: r.in_use.path.into(),
                url: r.in_use.url,
                reason: r.in_use.reason,
            },
            environment: EnvironmentView {
                variables: e
                    .variables
                    .into_iter()
                    .map(|v| EnvVariableView {
                        name: v.name,
                        value: v.value,
                        credentials: v.credentials,
                        used: v.used,
                        error: v.error,
                    })
                    .collect(),
                https_proxy: e.https_proxy,
                http_proxy: e.http_proxy,
                no_proxy: e.no_proxy,
            },
            system: SystemView {
                available: s.available,
                source: s.source,
                mode: s.mode,
                http: s.http,
                https: s.https,
                socks: s.socks,
                autoconfig_url: s.autoconfig_url,
                ignore_hosts: s.ignore_hosts,
                credentials: s.credentials,
                detail: s.detail,
            },
            manual: ManualView {
                configured: m.configured,
                url: m.url,
                user: m.user,
                password_set: m.password_set,
                error: m.error,
            },
        }
    }
}

/// What came of one path: a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProxyTestCode {
    /// The server answered (any HTTP status).
    Ok,
    /// The server answered but refused the site token (401/403).
    TokenRejected,
    /// The proxy refused the credentials or asked for some (407, or its
    /// own 401).
    ProxyAuthFailed,
    /// A certificate or TLS handshake problem (never bypassed).
    TlsError,
    /// Nothing answered, the connection was cut, or the proxy could not
    /// reach the server.
    ConnectFailed,
    /// A host name could not be resolved.
    DnsFailed,
    /// No answer within 5 s.
    Timeout,
    /// The path's proxy address cannot be used.
    ProxyInvalid,
    /// Anything else.
    Failed,
}

impl From<uplink::Outcome> for ProxyTestCode {
    fn from(o: uplink::Outcome) -> Self {
        match o {
            uplink::Outcome::Ok => ProxyTestCode::Ok,
            uplink::Outcome::TokenRejected => ProxyTestCode::TokenRejected,
            uplink::Outcome::ProxyAuthFailed => ProxyTestCode::ProxyAuthFailed,
            uplink::Outcome::TlsError => ProxyTestCode::TlsError,
            uplink::Outcome::ConnectFailed => ProxyTestCode::ConnectFailed,
            uplink::Outcome::DnsFailed => ProxyTestCode::DnsFailed,
            uplink::Outcome::Timeout => ProxyTestCode::Timeout,
            uplink::Outcome::ProxyInvalid => ProxyTestCode::ProxyInvalid,
            uplink::Outcome::Failed => ProxyTestCode::Failed,
        }
    }
}

/// The test along one path.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyPathResult {
    /// `direct`, `environment`, `system` or `manual`.
    pub path: ProxyPath,
    /// The proxy, redacted; `null` when direct or applied by the OS.
    pub proxy: Option<String>,
    /// The stable code.
    pub code: ProxyTestCode,
    /// Whether the server was reached and accepted what was sent.
    pub ok: bool,
    /// The HTTP status the server (or the proxy) answered.
    pub status: Option<u16>,
    /// `HEAD` or `GET`, once a request was sent.
    pub method: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// How long the path took (ms).
    pub elapsed_ms: u64,
    /// Whether the site token was sent.
    pub token_sent: bool,
    /// Where the path's proxy came from, or why it went direct.
    pub note: Option<String>,
}

impl From<uplink::PathResult> for ProxyPathResult {
    fn from(r: uplink::PathResult) -> Self {
        Self {
            path: r.path.into(),
            proxy: r.proxy,
            code: r.code.into(),
            ok: r.ok,
            status: r.status,
            method: r.method,
            message: r.message,
            elapsed_ms: r.elapsed_ms,
            token_sent: r.token_sent,
            note: r.note,
        }
    }
}

/// What to test.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyTestRequest {
    /// The address to test (`https://…`); absent: `[upload] url`. The
    /// site token is sent only when it is the upload server.
    #[schema(example = "https://upload.example/v1/batches")]
    pub url: Option<String>,
}

/// The connectivity test's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyTestResult {
    /// The address tested.
    pub target: String,
    /// One result per path: direct, then environment, system and manual
    /// when each exists.
    pub paths: Vec<ProxyPathResult>,
}

fn connect_error(e: ConnectError) -> ApiError {
    match e {
        ConnectError::Internal(_) => ApiError::internal(e.to_string()),
        _ => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            e.to_string(),
        ),
    }
}

/// Proxy discovery: the environment, the operating system's setting, the
/// manual proxy, and which one the uplink would use. Sends no packet.
#[utoipa::path(
    get,
    path = "/api/v1/proxy",
    tag = "proxy",
    responses((status = 200, description = "what was found; no secret", body = ProxyReportView))
)]
pub async fn report(State(ctx): State<AppState>) -> Result<Json<ProxyReportView>, ApiError> {
    let config = ctx.config()?;
    let secrets = ctx.secrets.clone();
    let report = tokio::task::spawn_blocking(move || uplink::discover(&config, secrets.as_ref()))
        .await
        .map_err(|_| ApiError::internal("proxy discovery failed"))?;
    Ok(Json(report.into()))
}

/// The connectivity test: one request to the upload server (or `url`)
/// directly and through each proxy found, each classified.
#[utoipa::path(
    post,
    path = "/api/v1/proxy/test",
    tag = "proxy",
    request_body = ProxyTestRequest,
    responses(
        (status = 200, description = "one result per path", body = ProxyTestResult),
        (status = 422, description = "no address to test (`no_upload_url`), a bad one (`invalid_url`), or an unreadable `[upload] ca_file` (`ca_file_invalid`)", body = crate::error::ErrorBody)
    )
)]
pub async fn test(
    State(ctx): State<AppState>,
    Json(req): Json<ProxyTestRequest>,
) -> Result<Json<ProxyTestResult>, ApiError> {
    let config = ctx.config()?;
    let given = match req.url.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Some(uplink::parse_target(text).map_err(connect_error)?),
        _ => None,
    };
    let target = uplink::target_for(&config, given).map_err(connect_error)?;
    let paths = uplink::test_paths(&config, ctx.secrets.clone(), Some(target.clone()))
        .await
        .map_err(connect_error)?;
    Ok(Json(ProxyTestResult {
        target: target.to_string(),
        paths: paths.into_iter().map(Into::into).collect(),
    }))
}
