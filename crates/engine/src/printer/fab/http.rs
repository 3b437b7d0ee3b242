//! The HTTP side of the 3D-printer protocols (OctoPrint, Moonraker,
//! PrusaLink, Ultimaker): one client per read, GETs that count their bytes, and
//! reqwest's failures judged into [`FabError`]s in words.
//!
//! Invariants: never through a proxy, no redirects, no connection kept after
//! the read, bodies capped at [`MAX_BODY`]; the timeout bounds the whole read
//! (all its requests), not each request; a transport failure is an error,
//! but any HTTP status is handed back as an [`Answer`] (204 and 404 mean
//! "no job" for some printers: the protocol module decides). The secret header
//! is marked sensitive so reqwest never logs it.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::{FabError, FabTarget, MAX_BODY};
use crate::printer::model::ReadStats;
use crate::secret::Secret;

const USER_AGENT: &str = concat!("PrintScout/", env!("CARGO_PKG_VERSION"));

/// The one HTTP client of every 3D-printer read: building one (rustls and
/// the platform verifier) costs ~14 ms, far more than a poll's exchanges.
/// No idle connections are kept: printers drop them, and a poll every few
/// minutes gains nothing from one.
fn shared_client() -> Result<reqwest::Client, reqwest::Error> {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = SHARED.get() {
        return Ok(c.clone());
    }
    let c = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_rustls()
        .build()?;
    Ok(SHARED.get_or_init(|| c).clone())
}

/// One HTTP answer: status and body (bounded).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body as received.
    pub body: Vec<u8>,
    /// Response headers (`WWW-Authenticate` for digest auth).
    pub headers: reqwest::header::HeaderMap,
}

/// A session with one printer for one read: the client, the base URL, the
/// key header, and what the read cost so far.
pub struct Http {
    client: reqwest::Client,
    base: Url,
    target: String,
    timeout: Duration,
    key_header: Option<(HeaderName, Secret)>,
    started: Instant,
    /// Requests sent, bytes sent and received so far.
    pub stats: ReadStats,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base.as_str())
            .field("key_header", &self.key_header.as_ref().map(|(n, _)| n))
            .finish_non_exhaustive()
    }
}

impl Http {
    /// A session with `target` over plain HTTP, sending `key_header: key` on
    /// every request when given (`X-Api-Key`).
    pub fn new(
        target: &FabTarget,
        timeout: Duration,
        key_header: Option<(&'static str, &Secret)>,
    ) -> Result<Http, FabError> {
        let base = target.http_base()?;
        let client = shared_client().map_err(|e| FabError::ConnectFailed {
            target: target.url(),
            message: format!("cannot set up the HTTP client: {e}"),
        })?;
        Ok(Http {
            client,
            base,
            target: target.url(),
            timeout,
            key_header: key_header.map(|(n, s)| (HeaderName::from_static(n), s.clone())),
            started: Instant::now(),
            stats: ReadStats::default(),
        })
    }

    /// The target as shown in errors (`octoprint://127.0.0.1:5000`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `GET path_and_query` (relative to the base, e.g. `api/job`).
    pub async fn get(&mut self, path: &str) -> Result<Answer, FabError> {
        self.get_with(path, None).await
    }

    /// `GET` with one extra header (e.g. a digest `Authorization`), marked sensitive.
    pub async fn get_with(
        &mut self,
        path: &str,
        extra: Option<(HeaderName, &str)>,
    ) -> Result<Answer, FabError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| FabError::BadUrl(format!("{path}: {e}")))?;
        // The timeout bounds the whole read, not each request of it.
        let left = self.timeout.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            return Err(FabError::Timeout {
                target: self.target.clone(),
                waited: self.timeout,
            });
        }
        let mut request = self.client.get(url.clone()).timeout(left);
        let mut header_bytes = 0usize;
        if let Some((name, secret)) = &self.key_header {
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                FabError::BadUrl("the key has characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            header_bytes += name.as_str().len() + value.len() + 4;
            request = request.header(name.clone(), value);
        }
        if let Some((name, text)) = extra {
            let mut value = HeaderValue::from_str(text)
                .map_err(|_| FabError::BadUrl("a header value cannot be sent".into()))?;
            value.set_sensitive(true);
            header_bytes += name.as_str().len() + value.len() + 4;
            request = request.header(name, value);
        }
        self.stats.requests += 1;
        // Request line and the usual headers, roughly, plus ours.
        let sent = 60 + url.as_str().len() + USER_AGENT.len() + header_bytes;
        self.stats.bytes_sent = Some(self.stats.bytes_sent.unwrap_or(0) + sent as u64);
        let mut response = request
            .send()
            .await
            .map_err(|e| judge(&e, &self.target, &url, self.timeout))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let header_len: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if let Some(n) = response.content_length()
            && n > MAX_BODY as u64
        {
            return Err(FabError::BadResponse {
                target: self.target.clone(),
                message: format!("the answer to {path} is larger than {MAX_BODY} bytes ({n})"),
            });
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(FabError::BadResponse {
                            target: self.target.clone(),
                            message: format!(
                                "the answer to {path} is larger than {MAX_BODY} bytes"
                            ),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(judge(&e, &self.target, &url, self.timeout)),
            }
        }
        let received = 17 + header_len + body.len();
        self.stats.bytes_received = Some(self.stats.bytes_received.unwrap_or(0) + received as u64);
        self.stats.elapsed_ms =
            u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(Answer {
            status,
            body,
            headers,
        })
    }

    /// `GET path`, expecting 200 with JSON: 401/403 become
    /// [`FabError::Rejected`] (naming `what`), other statuses
    /// [`FabError::HttpStatus`], a body that is not `T` [`FabError::BadResponse`].
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        what: &str,
    ) -> Result<T, FabError> {
        let answer = self.get(path).await?;
        self.expect_ok(&answer, path, what)?;
        self.parse(&answer.body, path)
    }

    /// Turns a non-200 answer into the error it means.
    pub fn expect_ok(&self, answer: &Answer, path: &str, what: &str) -> Result<(), FabError> {
        match answer.status {
            200 => Ok(()),
            401 | 403 => Err(FabError::Rejected {
                target: self.target.clone(),
                what: what.to_owned(),
                status: Some(answer.status),
            }),
            status => Err(FabError::HttpStatus {
                target: self.target.clone(),
                status,
                path: format!("/{}", path.trim_start_matches('/')),
            }),
        }
    }

    /// Parses a JSON body as `T`, or says in words what was wrong.
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
        path: &str,
    ) -> Result<T, FabError> {
        serde_json::from_slice(body).map_err(|e| FabError::BadResponse {
            target: self.target.clone(),
            message: format!(
                "the answer to /{} is not what this protocol sends: {e}",
                path.trim_start_matches('/')
            ),
        })
    }
}

/// What a failed reqwest call means.
pub fn judge(e: &reqwest::Error, target: &str, url: &Url, timeout: Duration) -> FabError {
    let t = target.to_owned();
    if let Some(tls) = crate::printer::ipp::find_rustls(e) {
        return FabError::Tls {
            target: t,
            message: format!("TLS failed: {tls}"),
        };
    }
    if e.is_timeout() {
        return FabError::Timeout {
            target: t,
            waited: timeout,
        };
    }
    let cause = crate::printer::net::cause_of(e);
    if e.is_connect() {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let message = crate::printer::net::connect_failure(&cause, host, port);
        return FabError::ConnectFailed { target: t, message };
    }
    let root = cause.root;
    FabError::BadResponse {
        target: t,
        message: format!("the printer's answer broke off: {root}"),
    }
}
