//! The connectivity test: one request to the upload server along each path
//! the uplink could take — direct, the environment's proxy, the system's,
//! the manual one — and what came of it, as a stable code and words.
//!
//! Owns: [`test_paths`] / [`test_paths_with`], [`PathResult`], the
//! [`Outcome`] codes and [`ConnectError`].
//!
//! Invariants:
//! - one HEAD per path (a GET when the server answers HEAD with 405 or 501),
//!   a 5 s timeout, at most 3 redirects followed (the 4th is reported as the
//!   answer); the paths run at the same time;
//! - TLS is rustls over the platform's trust store plus `[upload] ca_file`;
//!   a certificate the platform does not trust is `tls_error`, never
//!   accepted;
//! - any HTTP answer from the server is `ok` with its status, except 401/403
//!   when the site token was sent (`token_rejected`), and a proxy's own
//!   refusal — 407, or tinyproxy's 401 for a wrong password — which is
//!   `proxy_auth_failed` (for https://, the status of a failed CONNECT is
//!   read back with one plain CONNECT to the proxy);
//! - the site token goes as `Authorization: Bearer` (a sensitive header),
//!   and only to the configured upload server's origin; no secret — the
//!   token, a proxy password — is ever in a result, an error or a log line:
//!   messages are built here and scrubbed of every secret value besides.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{
    AUTHORIZATION, HeaderMap, HeaderValue, PROXY_AUTHENTICATE, SERVER, WWW_AUTHENTICATE,
};
use reqwest::{Certificate, Client, Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use super::proxy::{self, PathKind, PlannedPath, ProxyEndpoint, ProxyUse, Sources};
use super::redact_url;
use crate::config::Config;
use crate::secret::Secret;
use crate::secrets::{SecretStore, UPLOAD_TOKEN};

pub(crate) const USER_AGENT: &str = concat!("PrintScout/", env!("CARGO_PKG_VERSION"));

/// How each request is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// For connecting and for the whole exchange (default 5 s).
    pub timeout: Duration,
    /// Redirects followed at most (default 3).
    pub max_redirects: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_redirects: 3,
        }
    }
}

/// What came of one path. Stable codes: see [`Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The server answered (any HTTP status; see `status`).
    Ok,
    /// The server answered but refused the site token (401/403 with the
    /// token sent).
    TokenRejected,
    /// The proxy refused the credentials or asked for some (407, or 401
    /// from the proxy itself).
    ProxyAuthFailed,
    /// A certificate or TLS handshake problem.
    TlsError,
    /// Nothing answered, or the connection was cut (also: the proxy could
    /// not reach the server).
    ConnectFailed,
    /// A host name could not be resolved.
    DnsFailed,
    /// No answer within the timeout.
    Timeout,
    /// The path's proxy address cannot be used (a typo in a variable, a
    /// SOCKS proxy).
    ProxyInvalid,
    /// Anything else.
    Failed,
}

impl Outcome {
    /// The stable code (`ok`, `token_rejected`, `proxy_auth_failed`,
    /// `tls_error`, `connect_failed`, `dns_failed`, `timeout`,
    /// `proxy_invalid`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::TokenRejected => "token_rejected",
            Outcome::ProxyAuthFailed => "proxy_auth_failed",
            Outcome::TlsError => "tls_error",
            Outcome::ConnectFailed => "connect_failed",
            Outcome::DnsFailed => "dns_failed",
            Outcome::Timeout => "timeout",
            Outcome::ProxyInvalid => "proxy_invalid",
            Outcome::Failed => "failed",
        }
    }
}

/// The result of the test along one path. Holds no secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathResult {
    /// `direct`, `environment`, `system` or `manual`.
    pub path: PathKind,
    /// The proxy, redacted (`http://***@host:3128`); `None` when direct or
    /// when the operating system applies its own.
    pub proxy: Option<String>,
    /// The stable code.
    pub code: Outcome,
    /// Whether the server was reached and accepted what was sent (`code`
    /// is `ok`).
    pub ok: bool,
    /// The HTTP status the server (or the proxy) answered, if any.
    pub status: Option<u16>,
    /// `HEAD` or `GET`, once a request was sent.
    pub method: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// How long the path took, in milliseconds.
    pub elapsed_ms: u64,
    /// Whether the site token was sent.
    pub token_sent: bool,
    /// Where the path's proxy came from, or why it went direct.
    pub note: Option<String>,
}

/// Why the test could not start. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No address given and no `[upload] url`. Code `no_upload_url`.
    #[error("no upload URL is configured: set [upload] url, or give the address to test")]
    NoTarget,
    /// The address cannot be tested. Code `invalid_url`.
    #[error("{shown} cannot be tested: {reason}")]
    BadTarget {
        /// The address, redacted.
        shown: String,
        /// Why.
        reason: String,
    },
    /// `[upload] ca_file` cannot be read or holds no certificate. Code
    /// `ca_file_invalid`.
    #[error("the extra CA file {}: {reason}", .path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A fault on our side. Code `internal`.
    #[error("the connectivity test could not run: {0}")]
    Internal(String),
}

impl ConnectError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectError::NoTarget => "no_upload_url",
            ConnectError::BadTarget { .. } => "invalid_url",
            ConnectError::CaFile { .. } => "ca_file_invalid",
            ConnectError::Internal(_) => "internal",
        }
    }
}

/// Parses an address to test (`https://…` or `http://…`, no user or
/// password).
pub fn parse_target(text: &str) -> Result<Url, ConnectError> {
    let url = Url::parse(text.trim()).map_err(|e| ConnectError::BadTarget {
        shown: redact_url(text),
        reason: format!("not an address ({e})"),
    })?;
    check_target(url)
}

/// The address to test: `target`, else `[upload] url`.
pub fn target_for(config: &Config, target: Option<Url>) -> Result<Url, ConnectError> {
    match target {
        Some(url) => check_target(url),
        None => match proxy::upload_url(config) {
            Some(url) => check_target(url),
            None if config.upload.url.trim().is_empty() => Err(ConnectError::NoTarget),
            None => parse_target(&config.upload.url),
        },
    }
}

fn check_target(url: Url) -> Result<Url, ConnectError> {
    let bad = |reason: &str| ConnectError::BadTarget {
        shown: redact_url(url.as_str()),
        reason: reason.to_string(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only https:// (or http://) addresses can be tested"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "an address holding a user or password is refused (the site token is sent as a header)",
        ));
    }
    Ok(url)
}

/// Tests `target` (default: `[upload] url`) along every path, with this
/// process's environment and this machine's proxy setting.
pub async fn test_paths(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    target: Option<Url>,
) -> Result<Vec<PathResult>, ConnectError> {
    test_paths_with(
        config,
        secrets,
        target,
        Sources::from_process(),
        &ConnectOptions::default(),
    )
    .await
}

/// [`test_paths`] over explicit sources and options.
pub async fn test_paths_with(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    target: Option<Url>,
    sources: Sources,
    options: &ConnectOptions,
) -> Result<Vec<PathResult>, ConnectError> {
    let target = target_for(config, target)?;
    let to_upload_server = proxy::upload_url(config).is_some_and(|u| same_origin(&u, &target));
    let cfg = config.clone();
    let (found, token, ca) = tokio::task::spawn_blocking(move || {
        let found = proxy::gather(&cfg, secrets.as_ref(), &sources);
        let token = if to_upload_server {
            secrets.get(UPLOAD_TOKEN)
        } else {
            Ok(None)
        };
        (found, token, load_ca(&cfg))
    })
    .await
    .map_err(|_| ConnectError::Internal("the proxy discovery task failed".into()))?;
    let ca = ca?;
    let (token, token_note) = match token {
        Ok(t) => (t, None),
        Err(e) => (
            None,
            Some(format!(
                "the site token could not be read ({}), so none was sent",
                e.code()
            )),
        ),
    };
    let mut hidden = found.secret_values();
    hidden.extend(token.iter().cloned());
    let scrub = Scrub(hidden);
    let why_no_token = if !to_upload_server {
        "the address is not the upload server, so the site token was not sent"
    } else if token_note.is_some() {
        "the site token could not be read"
    } else {
        "no site token is set"
    };
    let ctx = PathContext {
        target: &target,
        token: token.as_ref(),
        why_no_token,
        ca: &ca,
        options,
    };
    let runs = found.paths(&target).into_iter().map(|p| run_path(p, &ctx));
    let mut results = futures::future::join_all(runs).await;
    for r in &mut results {
        if let Some(n) = &token_note {
            r.note = Some(match r.note.take() {
                Some(note) => format!("{note}; {n}"),
                None => n.clone(),
            });
        }
        r.message = scrub.apply(&r.message);
        r.note = r.note.as_deref().map(|n| scrub.apply(n));
        tracing::debug!(
            path = r.path.as_str(),
            proxy = r.proxy.as_deref().unwrap_or("-"),
            code = r.code.as_str(),
            status = r.status,
            elapsed_ms = r.elapsed_ms,
            "uplink connectivity test"
        );
    }
    Ok(results)
}

/// Whether two addresses share scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `[upload] ca_file`'s certificates (none when unset).
pub(crate) fn load_ca(config: &Config) -> Result<Vec<Certificate>, ConnectError> {
    let Some(path) = &config.upload.ca_file else {
        return Ok(Vec::new());
    };
    let bad = |reason: String| ConnectError::CaFile {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = Certificate::from_pem_bundle(&bytes)
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Replaces every secret value in a text by `***`.
pub(crate) struct Scrub(pub(crate) Vec<Secret>);

impl Scrub {
    pub(crate) fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .map(Secret::expose)
            .filter(|v| !v.is_empty())
            .fold(text.to_string(), |t, v| t.replace(v, "***"))
    }
}

/// What every path shares.
struct PathContext<'a> {
    target: &'a Url,
    token: Option<&'a Secret>,
    why_no_token: &'static str,
    ca: &'a [Certificate],
    options: &'a ConnectOptions,
}

/// What one exchange came to.
struct Answer {
    code: Outcome,
    status: Option<u16>,
    method: Option<Method>,
    message: String,
    token_sent: bool,
}

impl Answer {
    fn failed(code: Outcome, message: String) -> Self {
        Self {
            code,
            status: None,
            method: None,
            message,
            token_sent: false,
        }
    }
}

async fn run_path(plan: PlannedPath, ctx: &PathContext<'_>) -> PathResult {
    let started = Instant::now();
    let proxy = match &plan.proxy {
        ProxyUse::Via(ep) => Some(ep.redacted()),
        _ => None,
    };
    let answer = match &plan.proxy {
        ProxyUse::Invalid(why) => Answer::failed(Outcome::ProxyInvalid, why.clone()),
        _ => exchange(&plan.proxy, ctx).await,
    };
    PathResult {
        path: plan.kind,
        proxy,
        code: answer.code,
        ok: answer.code == Outcome::Ok,
        status: answer.status,
        method: answer.method.map(|m| m.to_string()),
        message: answer.message,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        token_sent: answer.token_sent,
        note: plan.note,
    }
}

fn build_client(proxy: &ProxyUse, ctx: &PathContext<'_>) -> Result<Client, reqwest::Error> {
    let max = ctx.options.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    client_for(proxy, ctx.ca, ctx.options.timeout, policy)
}

/// A client going `proxy`'s way, trusting the platform's roots plus `ca`.
pub(crate) fn client_for(
    proxy: &ProxyUse,
    ca: &[Certificate],
    timeout: Duration,
    redirects: reqwest::redirect::Policy,
) -> Result<Client, reqwest::Error> {
    let mut builder = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .redirect(redirects)
        .tls_backend_rustls();
    builder = match proxy {
        ProxyUse::Via(ep) => builder.proxy(ep.to_reqwest()?),
        ProxyUse::OsDefault => builder,
        ProxyUse::Direct | ProxyUse::Invalid(_) => builder.no_proxy(),
    };
    if !ca.is_empty() {
        builder = builder.tls_certs_merge(ca.iter().cloned());
    }
    builder.build()
}

async fn exchange(proxy: &ProxyUse, ctx: &PathContext<'_>) -> Answer {
    let client = match build_client(proxy, ctx) {
        Ok(c) => c,
        Err(e) => {
            return Answer::failed(
                Outcome::Failed,
                format!("the HTTP client could not be set up: {}", root_cause(&e)),
            );
        }
    };
    let auth = match ctx.token {
        Some(token) => match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
            Ok(mut v) => {
                v.set_sensitive(true);
                Some(v)
            }
            Err(_) => {
                return Answer::failed(
                    Outcome::Failed,
                    "the site token holds characters that cannot be sent in a header".into(),
                );
            }
        },
        None => None,
    };
    let via = match proxy {
        ProxyUse::Via(ep) => Some(ep),
        _ => None,
    };
    let mut method = Method::HEAD;
    loop {
        let mut request = client.request(method.clone(), ctx.target.clone());
        if let Some(v) = &auth {
            request = request.header(AUTHORIZATION, v.clone());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if method == Method::HEAD
                    && matches!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
                    )
                {
                    method = Method::GET;
                    continue;
                }
                let (code, message) = judge_answer(
                    status,
                    response.headers(),
                    via.is_some(),
                    auth.is_some(),
                    ctx,
                );
                return Answer {
                    code,
                    status: Some(status.as_u16()),
                    method: Some(method),
                    message,
                    token_sent: auth.is_some(),
                };
            }
            Err(e) => {
                let (code, message, status) =
                    judge_error(&e, via, ctx.target, ctx.options.timeout).await;
                return Answer {
                    code,
                    status,
                    method: Some(method),
                    message,
                    token_sent: false,
                };
            }
        }
    }
}

pub(crate) fn status_words(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("{} {r}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Whether a 401 came from the proxy itself (tinyproxy answers a wrong
/// password with 401 and `WWW-Authenticate: Basic realm="Tinyproxy"`).
pub(crate) fn from_proxy(headers: &HeaderMap) -> bool {
    let has = |name, needle: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains(needle))
        })
    };
    headers.contains_key(PROXY_AUTHENTICATE)
        || has(SERVER, "proxy")
        || has(WWW_AUTHENTICATE, "proxy")
}

fn judge_answer(
    status: StatusCode,
    headers: &HeaderMap,
    via_proxy: bool,
    token_sent: bool,
    ctx: &PathContext<'_>,
) -> (Outcome, String) {
    let words = status_words(status);
    match status.as_u16() {
        407 => (
            Outcome::ProxyAuthFailed,
            format!("the proxy wants a user and password it accepts (it answered {words})"),
        ),
        401 if via_proxy && from_proxy(headers) => (
            Outcome::ProxyAuthFailed,
            format!("the proxy refused the user or password (it answered {words})"),
        ),
        401 | 403 if token_sent => (
            Outcome::TokenRejected,
            format!("the server answered but refused the site token ({words})"),
        ),
        401 | 403 => (
            Outcome::Ok,
            format!("the server answered {words}; {}", ctx.why_no_token),
        ),
        502 | 504 if via_proxy => (
            Outcome::ConnectFailed,
            format!("the proxy could not reach the server (it answered {words})"),
        ),
        _ => (Outcome::Ok, format!("the server answered {words}")),
    }
}

/// Every error in `e`'s chain, including what an `io::Error` wraps (its
/// `source()` skips the wrapped error itself).
fn chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        out.push(err);
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let inner: &(dyn StdError + 'static) = inner;
            out.extend(chain(inner));
            return out;
        }
        next = err.source();
    }
    out
}

/// The innermost message of an error, without the URL reqwest puts in
/// front.
fn root_cause(e: &reqwest::Error) -> String {
    chain(e)
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

/// What a failed request means: a stable code, words, and the status a
/// proxy answered to CONNECT when that is why.
pub(crate) async fn judge_error(
    e: &reqwest::Error,
    via: Option<&ProxyEndpoint>,
    target: &Url,
    timeout: Duration,
) -> (Outcome, String, Option<u16>) {
    let server = host_port(target);
    let peer = via.map_or_else(
        || server.clone(),
        |ep| format!("the proxy {}", host_port(ep.url())),
    );
    // What the error chain says, read before any await (its errors are
    // not `Send`).
    let (tls, texts, io_kind) = {
        let errors = chain(e);
        let tls = errors
            .iter()
            .find_map(|e| e.downcast_ref::<rustls::Error>())
            .map(|t| describe_tls(t, target));
        let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let io_kind = errors
            .iter()
            .find_map(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        (tls, texts, io_kind)
    };
    let any = |needle: &str| texts.iter().any(|t| t.contains(needle));

    if let Some(message) = tls {
        return (Outcome::TlsError, message, None);
    }
    if e.is_timeout() {
        return (
            Outcome::Timeout,
            format!("no answer from {peer} within {} ms", timeout.as_millis()),
            None,
        );
    }
    if any("proxy authorization required") {
        let hint = if via.is_some_and(ProxyEndpoint::has_credentials) {
            "it refused the user or password"
        } else {
            "no user and password were given"
        };
        return (
            Outcome::ProxyAuthFailed,
            format!(
                "the proxy wants a user and password it accepts (407 Proxy Authentication Required): {hint}"
            ),
            Some(407),
        );
    }
    if any("tunnel error: unsuccessful")
        && let Some(ep) = via
    {
        let status = connect_status(ep, target, timeout).await;
        return match status {
            Some(s @ (401 | 407)) => (
                Outcome::ProxyAuthFailed,
                format!("the proxy refused the user or password (it answered {s} to CONNECT)"),
                Some(s),
            ),
            Some(s) if s >= 500 => (
                Outcome::ConnectFailed,
                format!("the proxy could not connect to {server} (it answered {s} to CONNECT)"),
                Some(s),
            ),
            Some(s) => (
                Outcome::ConnectFailed,
                format!(
                    "the proxy refused to open a tunnel to {server} (it answered {s} to CONNECT)"
                ),
                Some(s),
            ),
            None => (
                Outcome::ConnectFailed,
                format!("the proxy refused to open a tunnel to {server}"),
                None,
            ),
        };
    }
    if e.is_dns() || any("dns error") || any("failed to lookup address") {
        let name = match via {
            Some(ep) => format!(
                "the proxy's name {}",
                ep.url().host_str().unwrap_or_default()
            ),
            None => format!("the name {}", target.host_str().unwrap_or_default()),
        };
        return (
            Outcome::DnsFailed,
            format!("{name} could not be resolved"),
            None,
        );
    }
    use std::io::ErrorKind as K;
    let message = match io_kind {
        Some(K::ConnectionRefused) => {
            Some(format!("nothing answers at {peer} (connection refused)"))
        }
        Some(K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe) => Some(
            format!("the connection to {peer} was closed before an answer"),
        ),
        Some(K::HostUnreachable | K::NetworkUnreachable) => {
            Some(format!("{peer} cannot be reached from here (no route)"))
        }
        _ => None,
    };
    if let Some(message) = message {
        return (Outcome::ConnectFailed, message, None);
    }
    let root = texts
        .last()
        .cloned()
        .unwrap_or_else(|| "unknown error".into());
    if e.is_connect() {
        return (
            Outcome::ConnectFailed,
            format!("could not connect to {peer}: {root}"),
            None,
        );
    }
    (Outcome::Failed, format!("the request failed: {root}"), None)
}

fn describe_tls(e: &rustls::Error, target: &Url) -> String {
    use rustls::CertificateError as C;
    let host = target.host_str().unwrap_or_default();
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => format!(
                "the certificate of {host} is not signed by an authority this computer trusts (unknown issuer); if your organisation uses its own CA, give it as [upload] ca_file"
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the certificate presented is not valid for {host}")
            }
            C::Expired | C::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet (check this computer's clock)")
            }
            C::Revoked => format!("the certificate of {host} has been revoked"),
            other => format!("the certificate of {host} was refused ({other:?})"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("{host} did not answer with TLS (is the address http:// rather than https://?)")
        }
        rustls::Error::AlertReceived(alert) => {
            format!("{host} ended the TLS handshake ({alert:?})")
        }
        other => format!("the TLS handshake with {host} failed: {other}"),
    }
}

/// The status a proxy answers to a plain `CONNECT` for `target` (reqwest
/// reports a refused tunnel without it). Only for http:// proxies.
async fn connect_status(ep: &ProxyEndpoint, target: &Url, timeout: Duration) -> Option<u16> {
    if ep.url().scheme() != "http" {
        return None;
    }
    let (host, port) = ep.host_port()?;
    let authority = format!("{}:{}", target.host_str()?, target.port_or_known_default()?);
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if ep.has_credentials() {
        let pair = format!(
            "{}:{}",
            ep.user().unwrap_or_default(),
            ep.password().map(Secret::expose).unwrap_or_default()
        );
        request.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64(pair.as_bytes())
        ));
    }
    request.push_str("\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut buf = [0u8; 512];
        let mut n = 0;
        while n < buf.len() {
            let k = stream.read(&mut buf[n..]).await.ok()?;
            if k == 0 {
                break;
            }
            n += k;
            if buf[..n].windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..n]);
        head.lines().next()?.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

/// Standard base64 with padding (for a Basic credential).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes_a_basic_credential() {
        assert_eq!(base64(b"lab:lab-secret"), "bGFiOmxhYi1zZWNyZXQ=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn an_address_with_a_password_is_refused_without_showing_it() {
        let err = parse_target("https://u:SENTINEL@upload.example/").expect_err("refused");
        assert_eq!(err.code(), "invalid_url");
        assert!(!err.to_string().contains("SENTINEL"), "{err}");
        assert_eq!(
            parse_target("ftp://upload.example/")
                .expect_err("not http")
                .code(),
            "invalid_url"
        );
        assert_eq!(
            target_for(&Config::default(), None)
                .expect_err("none")
                .code(),
            "no_upload_url"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("https://Up.example/v1/batches").expect("url");
        assert!(same_origin(
            &a,
            &Url::parse("https://up.example:443/").expect("url")
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://up.example/").expect("url")
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://evil.example/").expect("url")
        ));
    }
}
