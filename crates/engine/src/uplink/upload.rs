//! The store-and-forward upload: batches from the outbox go to
//! `[upload] url` over HTTPS, and leave the outbox only when the server
//! acknowledged them.
//!
//! Owns: [`Uploader`] (one drain of the outbox: [`Uploader::send_pending`]),
//! the classification of what went wrong ([`Failure`]: a stable code, words,
//! retry or stop), the retry delays ([`backoff`], [`next_delay`]), and the
//! long-lived loop ([`spawn`] → [`UplinkHandle`]) that `printscout run`
//! and the API drive.
//!
//! Invariants:
//! - delete only after a 2xx: a batch is persisted with its exact body
//!   before its first attempt ([`crate::store::Store::pending_batch`]) and
//!   every retry — after a timeout, a dropped connection, a crash, a
//!   restart — sends the same bytes under the same `Idempotency-Key`;
//! - retry network failures (connect, TLS handshake, DNS, timeouts), 408,
//!   429 and 5xx with capped exponential backoff and full jitter, never
//!   sooner than `Retry-After`; stop and say so on 400, 401, 403, 404, 422,
//!   a redirect, and a proxy's refusal (407, tinyproxy's 401): those need a
//!   person, and are tried again only once an hour, on `sync --now` or when
//!   the settings change; 413 splits the batch instead;
//! - the site token goes only to `[upload] url` as a sensitive
//!   `Authorization: Bearer` header; redirects are never followed (a token
//!   must not follow one); no secret — the token, a proxy password — is in
//!   a [`Failure`], a state, a log line or `Debug` output;
//! - the proxy is the one discovery routes the upload through
//!   ([`super::proxy`]); when uploads fail for a network reason, every path
//!   is tested ([`super::connect`]) and, if another path works, the next
//!   attempts use it (said in the state and the log).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER,
};
use reqwest::{Certificate, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::connect::{self, ConnectOptions, Outcome, PathResult, Scrub};
use super::protocol::{Ack, IDEMPOTENCY_KEY};
use super::proxy::{self, PathKind, ProxyUse, Sources};
use super::redact_url;
use crate::config::Config;
use crate::secret::Secret;
use crate::secrets::{SecretStore, UPLOAD_TOKEN};
use crate::store::{PendingBatch, Store, StoreError, now_ms};

/// How the upload behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOptions {
    /// Most items in one batch. Default 500.
    pub batch_items: usize,
    /// About the most JSON in one batch, before compression. Default 1 MiB.
    pub batch_bytes: usize,
    /// For connecting and for each whole request. Default 30 s.
    pub timeout: Duration,
    /// The first retry waits up to this. Default 5 s.
    pub backoff_base: Duration,
    /// No retry waits longer (unless `Retry-After` says so). Default 15 min.
    pub backoff_cap: Duration,
    /// The longest `Retry-After` obeyed. Default 1 hour.
    pub retry_after_cap: Duration,
    /// After a failure that needs a person, the next try. Default 1 hour.
    pub stopped_retry: Duration,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            batch_items: 500,
            batch_bytes: 1 << 20,
            timeout: Duration::from_secs(30),
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(15 * 60),
            retry_after_cap: Duration::from_secs(60 * 60),
            stopped_retry: Duration::from_secs(60 * 60),
        }
    }
}

/// Why an [`Uploader`] cannot be made. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// `[upload] url` is empty. Code `not_configured`.
    #[error("no upload URL is configured ([upload] url or --upload-url)")]
    NotConfigured,
    /// The URL cannot be used. Code `invalid_url`.
    #[error("the upload URL {shown} cannot be used: {reason}")]
    BadUrl {
        /// The URL, redacted.
        shown: String,
        /// Why.
        reason: String,
    },
    /// The extra CA file. Code `ca_file_invalid`.
    #[error("{0}")]
    Ca(#[source] connect::ConnectError),
    /// The database. Code `store_error`.
    #[error("the outbox cannot be opened: {0}")]
    Store(#[from] StoreError),
}

impl UploadError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::NotConfigured => "not_configured",
            UploadError::BadUrl { .. } => "invalid_url",
            UploadError::Ca(e) => e.code(),
            UploadError::Store(_) => "store_error",
        }
    }
}

/// What went out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Batches acknowledged.
    pub batches: usize,
    /// Items in them.
    pub items: usize,
    /// Bytes of request bodies sent (compressed), every attempt counted.
    pub body_bytes: u64,
    /// Their JSON before compression.
    pub json_bytes: u64,
}

impl Sent {
    fn add(&mut self, other: Sent) {
        self.batches += other.batches;
        self.items += other.items;
        self.body_bytes += other.body_bytes;
        self.json_bytes += other.json_bytes;
    }
}

/// An attempt that did not end in a 2xx. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// A stable code: `server_error`, `rate_limited`, `request_timeout`,
    /// `token_rejected`, `forbidden`, `bad_request`, `not_found`,
    /// `redirected`, `refused`, `proxy_auth_failed`, `proxy_invalid`,
    /// `tls_error`, `connect_failed`, `dns_failed`, `timeout`, `no_token`,
    /// `failed`, a secret store code (`secret_store_locked`, …), or
    /// `store_error`.
    pub code: String,
    /// What happened, in words.
    pub message: String,
    /// Whether trying again later may work by itself.
    pub retry: bool,
    /// What the server asked (`Retry-After`), when it did.
    #[serde(with = "humantime_serde")]
    pub retry_after: Option<Duration>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// What went out before it.
    pub sent: Sent,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>, retry: bool) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            retry,
            retry_after: None,
            status: None,
            sent: Sent::default(),
        }
    }
}

/// Full jitter: a delay drawn uniformly from `[0, min(cap, base·2^attempt)]`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: &mut fastrand::Rng) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(cap)
        .min(cap);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.u64(0..=ms))
}

/// The wait before attempt `attempt + 1`: the jittered backoff, but never
/// less than what the server asked (`Retry-After`, at most
/// `retry_after_cap`).
pub fn next_delay(
    attempt: u32,
    options: &UploadOptions,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let jittered = backoff(attempt, options.backoff_base, options.backoff_cap, rng);
    match retry_after {
        Some(asked) => jittered.max(asked.min(options.retry_after_cap)),
        None => jittered,
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// One sender over one data directory.
pub struct Uploader {
    target: Url,
    config: Config,
    secrets: Arc<dyn SecretStore>,
    store: Arc<Mutex<Store>>,
    ca: Vec<Certificate>,
    options: UploadOptions,
    sources: Sources,
    /// Batch size learnt from 413 answers (starts at `batch_items`).
    limit: AtomicUsize,
    /// Batches acknowledged since the last 413: after 16, the size doubles
    /// back towards `batch_items`.
    since_split: AtomicUsize,
    /// A path the connectivity test found working when the routed one
    /// did not.
    preferred: Mutex<Option<PathKind>>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("target", &redact_url(self.target.as_str()))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Uploader {
    /// A sender for `[upload] url` over the outbox in `store_path` (the
    /// database file or the data directory), with this process's proxy
    /// environment.
    pub fn new(
        config: &Config,
        secrets: Arc<dyn SecretStore>,
        store_path: &Path,
        options: UploadOptions,
    ) -> Result<Self, UploadError> {
        let url = config.upload.url.trim();
        if url.is_empty() {
            return Err(UploadError::NotConfigured);
        }
        let target = Url::parse(url).map_err(|e| UploadError::BadUrl {
            shown: redact_url(url),
            reason: e.to_string(),
        })?;
        let ca = connect::load_ca(config).map_err(UploadError::Ca)?;
        let store = if store_path.is_dir() {
            Store::open_in(store_path)?
        } else {
            Store::open(store_path)?
        };
        Ok(Self {
            target,
            config: config.clone(),
            secrets,
            store: Arc::new(Mutex::new(store)),
            ca,
            limit: AtomicUsize::new(options.batch_items.max(1)),
            since_split: AtomicUsize::new(0),
            options,
            sources: Sources::from_process(),
            preferred: Mutex::new(None),
        })
    }

    /// The same sender reading these proxy sources instead of this
    /// process's (tests, and a caller that snapshotted them).
    pub fn with_sources(mut self, sources: Sources) -> Self {
        self.sources = sources;
        self
    }

    /// Its options.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// The upload URL, redacted.
    pub fn target(&self) -> String {
        redact_url(self.target.as_str())
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Failure> {
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await;
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::new(
                "store_error",
                format!("the outbox could not be read or written: {e}"),
                true,
            )),
            Err(_) => Err(Failure::new("store_error", "the outbox task failed", true)),
        }
    }

    /// Sends batches until the outbox is empty or an attempt fails.
    pub async fn send_pending(&self) -> Result<Sent, Failure> {
        let mut sent = Sent::default();
        let cfg = self.config.clone();
        let secrets = self.secrets.clone();
        let sources = self.sources.clone();
        let (token, found) = tokio::task::spawn_blocking(move || {
            let token = secrets.get(UPLOAD_TOKEN);
            let found = proxy::gather(&cfg, secrets.as_ref(), &sources);
            (token, found)
        })
        .await
        .map_err(|_| Failure::new("failed", "the proxy discovery task failed", true))?;
        let token = match token {
            Ok(Some(t)) if !t.expose().is_empty() => t,
            Ok(_) => {
                return Err(Failure::new(
                    "no_token",
                    "no site token is set: store it with `printscout secret set upload-token`",
                    false,
                ));
            }
            Err(e) => {
                return Err(Failure::new(
                    e.code(),
                    format!("the site token could not be read: {e}"),
                    true,
                ));
            }
        };
        let mut hidden = found.secret_values();
        hidden.push(token.clone());
        let scrub = Scrub(hidden);
        let (kind, proxy_use, _) = self.path(&found);
        let via = match &proxy_use {
            ProxyUse::Via(ep) => Some(ep.clone()),
            ProxyUse::Invalid(why) => {
                return Err(Failure::new(
                    "proxy_invalid",
                    format!("the {} proxy cannot be used: {why}", kind.as_str()),
                    false,
                ));
            }
            _ => None,
        };
        let client = connect::client_for(
            &proxy_use,
            &self.ca,
            self.options.timeout,
            reqwest::redirect::Policy::none(),
        )
        .map_err(|e| {
            Failure::new(
                "failed",
                scrub.apply(&format!("the HTTP client could not be set up: {e}")),
                false,
            )
        })?;
        let auth = bearer(&token).ok_or_else(|| {
            Failure::new(
                "no_token",
                "the site token holds characters that cannot be sent in a header",
                false,
            )
        })?;

        loop {
            let limit = self.limit.load(Ordering::Relaxed);
            let max_bytes = self.options.batch_bytes;
            let batch = self
                .with_store(move |s| s.pending_batch(limit, max_bytes))
                .await
                .map_err(|f| with_sent(f, sent))?;
            let Some(batch) = batch else {
                return Ok(sent);
            };
            let id = batch.batch_id.clone();
            self.with_store(move |s| s.batch_attempted(&id))
                .await
                .map_err(|f| with_sent(f, sent))?;
            sent.body_bytes += batch.body.len() as u64;
            match self.post(&client, &auth, &batch, via.as_ref()).await {
                Posted::Accepted(ack) => {
                    for r in &ack.rejected {
                        tracing::warn!(
                            seq = r.seq,
                            reason = %scrub.apply(&r.reason),
                            "the upload server refused an item for good"
                        );
                    }
                    let id = batch.batch_id.clone();
                    let rejected = ack.rejected.len();
                    self.with_store(move |s| s.ack_batch(&id, rejected, now_ms()))
                        .await
                        .map_err(|f| with_sent(f, sent))?;
                    self.grow_back();
                    sent.add(Sent {
                        batches: 1,
                        items: batch.items,
                        body_bytes: 0,
                        json_bytes: batch.json_bytes as u64,
                    });
                    tracing::debug!(
                        batch = %batch.batch_id,
                        items = batch.items,
                        bytes = batch.body.len(),
                        duplicate = ack.duplicate,
                        "batch acknowledged"
                    );
                }
                Posted::TooLarge => {
                    let id = batch.batch_id.clone();
                    let set_aside = self
                        .with_store(move |s| s.split_batch(&id))
                        .await
                        .map_err(|f| with_sent(f, sent))?;
                    if set_aside {
                        tracing::error!(
                            seq = batch.first_seq,
                            bytes = batch.json_bytes,
                            "the upload server refuses this item as too large even alone; it is set aside (counted as rejected)"
                        );
                    } else {
                        let half = (batch.items / 2).max(1);
                        self.limit.store(half, Ordering::Relaxed);
                        self.since_split.store(0, Ordering::Relaxed);
                        tracing::info!(
                            items = batch.items,
                            now = half,
                            "the upload server found the batch too large (413): sending smaller batches"
                        );
                    }
                }
                Posted::Failed(mut f) => {
                    f.message = scrub.apply(&f.message);
                    f.sent = sent;
                    return Err(f);
                }
            }
        }
    }

    /// After 16 batches acknowledged at a size a 413 taught, tries twice
    /// that size again (up to `batch_items`): a server's limit may have
    /// been raised, and one 413 more costs one request.
    fn grow_back(&self) {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit >= self.options.batch_items {
            return;
        }
        if self.since_split.fetch_add(1, Ordering::Relaxed) + 1 >= 16 {
            self.since_split.store(0, Ordering::Relaxed);
            self.limit.store(
                (limit * 2).min(self.options.batch_items.max(1)),
                Ordering::Relaxed,
            );
        }
    }

    /// The path to use: the preferred one when the connectivity test
    /// found it working, else the one discovery routes the upload through.
    fn path(&self, found: &proxy::Found) -> (PathKind, ProxyUse, String) {
        let preferred = *self.preferred.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kind) = preferred
            && let Some(p) = found
                .paths(&self.target)
                .into_iter()
                .find(|p| p.kind == kind)
        {
            return (
                kind,
                p.proxy,
                "the path the connectivity test found working".into(),
            );
        }
        let (kind, ep, reason) = found.route(Some(&self.target));
        let proxy_use = match (kind, ep) {
            (_, Some(ep)) => ProxyUse::Via(ep.clone()),
            (PathKind::System, None) => ProxyUse::OsDefault,
            (PathKind::Manual, None) => ProxyUse::Invalid(reason.clone()),
            _ => ProxyUse::Direct,
        };
        (kind, proxy_use, reason)
    }

    /// Which way uploads go now, in words (`direct`, `manual proxy
    /// http://***@host:3128`), without a secret.
    pub async fn path_in_use(&self) -> String {
        let cfg = self.config.clone();
        let secrets = self.secrets.clone();
        let sources = self.sources.clone();
        let found =
            tokio::task::spawn_blocking(move || proxy::gather(&cfg, secrets.as_ref(), &sources))
                .await;
        match found {
            Ok(found) => describe_path(&self.path(&found)),
            Err(_) => "unknown".into(),
        }
    }

    /// Tests every path to the server (see [`connect::test_paths`]) and,
    /// when the path in use fails but another works, prefers that one
    /// from now on. Returns the results and whether the preference changed.
    pub async fn check_paths(&self) -> Vec<PathResult> {
        let results = match connect::test_paths_with(
            &self.config,
            self.secrets.clone(),
            None,
            self.sources.clone(),
            &ConnectOptions::default(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(code = e.code(), "the connectivity test could not run: {e}");
                return Vec::new();
            }
        };
        let cfg = self.config.clone();
        let secrets = self.secrets.clone();
        let sources = self.sources.clone();
        let target = self.target.clone();
        let routed = tokio::task::spawn_blocking(move || {
            let found = proxy::gather(&cfg, secrets.as_ref(), &sources);
            found.route(Some(&target)).0
        })
        .await
        .ok();
        let works = |k: PathKind| results.iter().any(|r| r.path == k && r.ok);
        let mut preferred = self.preferred.lock().unwrap_or_else(|p| p.into_inner());
        let current = preferred.or(routed);
        if let Some(current) = current
            && !works(current)
            && let Some(other) = results.iter().find(|r| r.ok)
        {
            tracing::warn!(
                failing = current.as_str(),
                working = other.path.as_str(),
                proxy = other.proxy.as_deref().unwrap_or("-"),
                "uploads go the way that works from now on"
            );
            *preferred = Some(other.path);
        }
        results
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        auth: &HeaderValue,
        batch: &PendingBatch,
        via: Option<&proxy::ProxyEndpoint>,
    ) -> Posted {
        let request = client
            .post(self.target.clone())
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "gzip")
            .header(IDEMPOTENCY_KEY, batch.batch_id.as_str())
            .body(batch.body.clone());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let (outcome, message, status) =
                    connect::judge_error(&e, via, &self.target, self.options.timeout).await;
                let mut f = from_outcome(outcome, message);
                f.status = status;
                return Posted::Failed(f);
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            // The 2xx is the acknowledgement; the body only adds detail.
            let ack = match response.bytes().await {
                Ok(b) => serde_json::from_slice::<Ack>(&b).unwrap_or_default(),
                Err(_) => Ack::default(),
            };
            return Posted::Accepted(ack);
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Posted::TooLarge;
        }
        Posted::Failed(classify(status, &headers, via.is_some(), &self.target))
    }
}

enum Posted {
    Accepted(Ack),
    TooLarge,
    Failed(Failure),
}

fn with_sent(mut f: Failure, sent: Sent) -> Failure {
    f.sent = sent;
    f
}

fn bearer(token: &Secret) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn describe_path((kind, proxy_use, _): &(PathKind, ProxyUse, String)) -> String {
    match proxy_use {
        ProxyUse::Direct => "direct".into(),
        ProxyUse::Via(ep) => format!("{} proxy {}", kind.as_str(), ep.redacted()),
        ProxyUse::OsDefault => "the operating system's proxy setting".into(),
        ProxyUse::Invalid(why) => format!("{} proxy (unusable: {why})", kind.as_str()),
    }
}

/// A network failure as a [`Failure`].
fn from_outcome(outcome: Outcome, message: String) -> Failure {
    let retry = !matches!(
        outcome,
        Outcome::ProxyAuthFailed | Outcome::ProxyInvalid | Outcome::TokenRejected
    );
    Failure::new(outcome.as_str(), message, retry)
}

/// An HTTP answer other than 2xx and 413 as a [`Failure`].
fn classify(status: StatusCode, headers: &HeaderMap, via_proxy: bool, target: &Url) -> Failure {
    let words = connect::status_words(status);
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    let (code, message, retry) = match status.as_u16() {
        407 => (
            "proxy_auth_failed",
            format!("the proxy wants a user and password it accepts (it answered {words})"),
            false,
        ),
        401 if via_proxy && connect::from_proxy(headers) => (
            "proxy_auth_failed",
            format!("the proxy refused the user or password (it answered {words})"),
            false,
        ),
        401 => (
            "token_rejected",
            format!(
                "token rejected: the server refused the site token ({words}); set the right one with `printscout secret set upload-token`"
            ),
            false,
        ),
        403 => (
            "forbidden",
            format!(
                "the server refused this site's uploads ({words}); ask the server's administrator"
            ),
            false,
        ),
        400 | 422 => (
            "bad_request",
            format!(
                "the server could not accept the batch ({words}); it is kept and tried again later"
            ),
            false,
        ),
        404 | 405 | 410 => (
            "not_found",
            format!(
                "the server has no upload endpoint at {} ({words}); check [upload] url",
                redact_url(target.as_str())
            ),
            false,
        ),
        300..=399 => {
            let to = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(redact_url)
                .unwrap_or_else(|| "another address".into());
            (
                "redirected",
                format!(
                    "the server redirects uploads to {to} ({words}); set [upload] url to that address"
                ),
                false,
            )
        }
        408 => (
            "request_timeout",
            format!("the server timed out reading the batch ({words})"),
            true,
        ),
        429 => (
            "rate_limited",
            format!("the server asks to slow down ({words})"),
            true,
        ),
        502 | 504 if via_proxy => (
            "connect_failed",
            format!("the proxy could not reach the server (it answered {words})"),
            true,
        ),
        500..=599 => ("server_error", format!("the server failed ({words})"), true),
        _ => (
            "refused",
            format!("the server refused the batch ({words})"),
            false,
        ),
    };
    Failure {
        code: code.to_string(),
        message,
        retry,
        retry_after,
        status: Some(status.as_u16()),
        sent: Sent::default(),
    }
}

// ---------------------------------------------------------------------------
// The long-lived loop.

/// How the upload is doing, for `sync`, the API and the tray. Holds no
/// secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UplinkState {
    /// Whether an upload URL is configured.
    pub configured: bool,
    /// The upload URL, redacted.
    pub url: Option<String>,
    /// Whether a round is running now.
    pub running: bool,
    /// Rounds finished since the start (a `sync --now` waits for the next).
    pub rounds: u64,
    /// The last round that ended with the outbox empty (ms).
    pub last_success: Option<i64>,
    /// What the last round sent.
    pub last_sent: Sent,
    /// The last failure, while it is not followed by a success.
    pub failure: Option<Failure>,
    /// When it happened (ms).
    pub failed_at: Option<i64>,
    /// Failed rounds in a row.
    pub failures: u32,
    /// Whether automatic retries are off until something changes (a
    /// failure that needs a person); the next try is still at `next_attempt`.
    pub stopped: bool,
    /// When the next round runs (ms).
    pub next_attempt: Option<i64>,
    /// Which way uploads go, in words.
    pub path: Option<String>,
    /// The last connectivity test, when one ran.
    pub paths: Vec<PathResult>,
}

/// Meta key holding the last [`UplinkState`] (JSON), for `sync` when the
/// service's API is not reachable.
pub const STATE_KEY: &str = "upload_state";

struct Shared {
    trigger: Notify,
    state: watch::Sender<UplinkState>,
    config: watch::Sender<Config>,
}

/// The handle on the running upload loop (cheap to clone).
#[derive(Clone)]
pub struct UplinkHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UplinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UplinkHandle").finish_non_exhaustive()
    }
}

impl UplinkHandle {
    /// Starts a round now (or right after the one running).
    pub fn sync_now(&self) {
        self.shared.trigger.notify_one();
    }

    /// Starts a round and waits (at most `timeout`) until it finished.
    pub async fn sync_and_wait(&self, timeout: Duration) -> UplinkState {
        let mut rx = self.shared.state.subscribe();
        let before = rx.borrow().rounds;
        let running = rx.borrow().running;
        self.sync_now();
        // A round already running may have read the outbox before the
        // caller's items: wait for the one after it.
        let want = before + if running { 2 } else { 1 };
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| s.rounds >= want)).await;
        rx.borrow().clone()
    }

    /// The state now.
    pub fn state(&self) -> UplinkState {
        self.shared.state.borrow().clone()
    }

    /// Every change of state.
    pub fn subscribe(&self) -> watch::Receiver<UplinkState> {
        self.shared.state.subscribe()
    }

    /// New settings (`[upload]`, `[proxy]`): the next round uses them, and
    /// runs now.
    pub fn reconfigure(&self, config: &Config) {
        self.shared.config.send_replace(config.clone());
        self.sync_now();
    }
}

/// Starts the upload loop over the database in `data_dir`: a round every
/// `[upload] every`, retries with backoff after failures, a round at once
/// on [`UplinkHandle::sync_now`]. Ends when `cancel` fires (a round in
/// flight is abandoned; its batch goes again, with the same key, next time).
pub fn spawn(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    data_dir: PathBuf,
    options: UploadOptions,
    cancel: CancellationToken,
) -> UplinkHandle {
    let (state, _) = watch::channel(UplinkState::default());
    let (config_tx, config_rx) = watch::channel(config.clone());
    let shared = Arc::new(Shared {
        trigger: Notify::new(),
        state,
        config: config_tx,
    });
    let handle = UplinkHandle {
        shared: shared.clone(),
    };
    tokio::spawn(run_loop(
        shared, config_rx, secrets, data_dir, options, cancel,
    ));
    handle
}

async fn run_loop(
    shared: Arc<Shared>,
    mut config_rx: watch::Receiver<Config>,
    secrets: Arc<dyn SecretStore>,
    data_dir: PathBuf,
    options: UploadOptions,
    cancel: CancellationToken,
) {
    let mut rng = fastrand::Rng::new();
    let saved: Option<UplinkState> = Store::open_in(&data_dir)
        .ok()
        .and_then(|s| s.meta(STATE_KEY).ok().flatten())
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut st = UplinkState {
        last_success: saved.as_ref().and_then(|s| s.last_success),
        ..UplinkState::default()
    };
    'config: loop {
        let config = config_rx.borrow_and_update().clone();
        let uploader = match Uploader::new(&config, secrets.clone(), &data_dir, options.clone()) {
            Ok(u) => Some(Arc::new(u)),
            Err(UploadError::NotConfigured) => None,
            Err(e) => {
                tracing::error!(code = e.code(), "uploads cannot start: {e}");
                st.failure = Some(Failure::new(e.code(), e.to_string(), false));
                st.stopped = true;
                None
            }
        };
        st.configured = uploader.is_some();
        st.url = uploader.as_ref().map(|u| u.target());
        st.failures = 0;
        st.next_attempt = None;
        let mut checked = false;
        if let Some(u) = &uploader {
            st.path = Some(u.path_in_use().await);
            st.failure = None;
            st.stopped = false;
            // On start: is the server reachable, and which way?
            st.paths = u.check_paths().await;
            log_paths(&st.paths);
            checked = true;
        }
        publish(&shared, &st, &data_dir, uploader.as_deref()).await;
        let mut next = tokio::time::Instant::now();
        loop {
            let Some(u) = uploader.clone() else {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = config_rx.changed() => {
                        if r.is_err() { return; }
                        continue 'config;
                    }
                    _ = shared.trigger.notified() => {
                        st.rounds += 1;
                        publish(&shared, &st, &data_dir, None).await;
                        continue;
                    }
                }
            };
            st.next_attempt =
                Some(now_ms() + ms(next.saturating_duration_since(tokio::time::Instant::now())));
            publish(&shared, &st, &data_dir, Some(&u)).await;
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = config_rx.changed() => {
                    if r.is_err() { return; }
                    continue 'config;
                }
                _ = shared.trigger.notified() => {}
                _ = tokio::time::sleep_until(next) => {}
            }
            st.running = true;
            publish(&shared, &st, &data_dir, Some(&u)).await;
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = u.send_pending() => r,
            };
            st.running = false;
            st.rounds += 1;
            match result {
                Ok(sent) => {
                    if st.failures > 0 {
                        tracing::info!(items = sent.items, "uploads work again");
                    }
                    st.last_success = Some(now_ms());
                    st.last_sent = sent;
                    st.failure = None;
                    st.failed_at = None;
                    st.failures = 0;
                    st.stopped = false;
                    checked = false;
                    next = tokio::time::Instant::now() + config.upload.every;
                }
                Err(f) => {
                    st.last_sent = f.sent;
                    let delay = if f.retry {
                        next_delay(st.failures, &options, f.retry_after, &mut rng)
                    } else {
                        options.stopped_retry
                    };
                    st.failures = st.failures.saturating_add(1);
                    st.stopped = !f.retry;
                    if st.failures == 1 || !f.retry {
                        tracing::warn!(code = %f.code, status = f.status, retry_in = ?delay, "upload failed: {}", f.message);
                    } else {
                        tracing::debug!(code = %f.code, failures = st.failures, retry_in = ?delay, "upload failed again: {}", f.message);
                    }
                    // When the network is the problem, look at every path
                    // once per streak: maybe another one works.
                    if !checked && is_network(&f.code) {
                        checked = true;
                        st.paths = u.check_paths().await;
                        log_paths(&st.paths);
                        st.path = Some(u.path_in_use().await);
                    }
                    st.failure = Some(f);
                    st.failed_at = Some(now_ms());
                    next = tokio::time::Instant::now() + delay;
                }
            }
            let _ = u
                .with_store({
                    let failure = st.failure.clone();
                    move |s| {
                        match &failure {
                            Some(f) => {
                                s.set_meta("last_upload_error", &f.message)?;
                                s.set_meta("last_upload_code", &f.code)?;
                            }
                            None => {
                                s.connection().execute(
                                    "DELETE FROM meta WHERE key IN ('last_upload_error', 'last_upload_code')",
                                    [],
                                )?;
                            }
                        }
                        Ok(())
                    }
                })
                .await;
        }
    }
}

fn is_network(code: &str) -> bool {
    matches!(
        code,
        "connect_failed" | "dns_failed" | "timeout" | "tls_error" | "proxy_auth_failed" | "failed"
    )
}

fn log_paths(paths: &[PathResult]) {
    for p in paths {
        tracing::info!(
            path = p.path.as_str(),
            proxy = p.proxy.as_deref().unwrap_or("-"),
            code = p.code.as_str(),
            status = p.status,
            "upload server check: {}",
            p.message
        );
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Sends the state to watchers and keeps it in `meta` for `sync`, through
/// the uploader's connection when there is one (a connection is opened
/// only while uploads are off).
async fn publish(shared: &Shared, st: &UplinkState, data_dir: &Path, uploader: Option<&Uploader>) {
    shared.state.send_replace(st.clone());
    let text = serde_json::to_string(st).unwrap_or_default();
    if let Some(u) = uploader {
        let _ = u.with_store(move |s| s.set_meta(STATE_KEY, &text)).await;
        return;
    }
    let dir = data_dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        if let Ok(s) = Store::open_in(&dir) {
            let _ = s.set_meta(STATE_KEY, &text);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backoff_lies_between_zero_and_the_capped_doubling() {
        let mut rng = fastrand::Rng::with_seed(7);
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempt in 0..40 {
            let ceiling = (base * 2u32.saturating_pow(attempt.min(20))).min(cap);
            for _ in 0..200 {
                let d = backoff(attempt, base, cap, &mut rng);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn retry_after_wins_over_a_shorter_backoff_but_is_capped() {
        let mut rng = fastrand::Rng::with_seed(1);
        let o = UploadOptions {
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(20),
            retry_after_cap: Duration::from_secs(60),
            ..UploadOptions::default()
        };
        assert!(
            next_delay(0, &o, Some(Duration::from_secs(2)), &mut rng) >= Duration::from_secs(2)
        );
        assert_eq!(
            next_delay(0, &o, Some(Duration::from_secs(3600)), &mut rng),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses_that_need_a_person_are_not_retried() {
        let url = Url::parse("https://upload.example/v1").expect("url");
        let h = HeaderMap::new();
        for (s, code, retry) in [
            (400, "bad_request", false),
            (401, "token_rejected", false),
            (403, "forbidden", false),
            (404, "not_found", false),
            (407, "proxy_auth_failed", false),
            (422, "bad_request", false),
            (308, "redirected", false),
            (408, "request_timeout", true),
            (429, "rate_limited", true),
            (500, "server_error", true),
            (503, "server_error", true),
        ] {
            let f = classify(StatusCode::from_u16(s).expect("status"), &h, false, &url);
            assert_eq!((f.code.as_str(), f.retry), (code, retry), "{s}");
        }
        let f = classify(StatusCode::UNAUTHORIZED, &h, false, &url);
        assert!(
            f.message.contains("refused the site token"),
            "{}",
            f.message
        );
    }
}
