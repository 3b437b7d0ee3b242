//! A scriptable HTTP fixture for the 3D printers that have no runnable peer
//! (PrusaLink, Ultimaker): an axum server on `127.0.0.1:<free port>` that
//! answers each path with the status and body a test set, and can change its
//! answers between requests.
//!
//! What it owns:
//! - [`FabFixture`]: the server, on its own tokio runtime (so sync and async
//!   tests of any runtime flavour use it alike), its routes (path, or path and
//!   query → [`Route`]: status, body, content type), the access rule
//!   ([`Access`]: open, HTTP Digest, `X-Api-Key`, or either) and the record
//!   of every request ([`Seen`]).
//! - A **real** RFC 7616 Digest check (MD5, `qop=auth` or the RFC 2069 form
//!   without `qop` that Prusa's firmware sends): the fixture issues nonces,
//!   and recomputes `response` from the password it was given, the method,
//!   the `uri`, `nc` and `cnonce` with its own MD5 (the `md-5` crate, not the
//!   client's digest code), so a wrong password or a tampered field is
//!   refused with 401 and a fresh challenge. A nonce it did not issue (or
//!   expired with [`FabFixture::expire_nonces`]) is answered 401 with
//!   `stale=true`.
//!
//! Invariants:
//! - **loopback only**: it binds `127.0.0.1` on a port the kernel picks, and
//!   keeps that socket, so there is no race for the port;
//! - route changes are synchronous: a request read after
//!   [`FabFixture::set_route`] returns meets the new answer;
//! - a path without a route answers 404 with a small JSON body (what a printer
//!   does for "no current job" on Ultimaker);
//! - stopped on `Drop`: the server task and its runtime end.

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use md5::{Digest, Md5};
use tokio::sync::oneshot;

/// The realm the fixture's Digest challenge names (Prusa's firmware says this).
pub const DIGEST_REALM: &str = "Printer API";

/// Who may read: how the fixture checks each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything is open (Ultimaker's GETs).
    Open,
    /// HTTP Digest (MD5) for `user`/`password`; `qop` says whether the
    /// challenge offers `qop="auth"` (RFC 7616) or none (RFC 2069, Prusa
    /// Buddy firmware).
    Digest {
        /// The user (`maker`).
        user: String,
        /// The password.
        password: String,
        /// Offer `qop="auth"`.
        qop: bool,
    },
    /// `X-Api-Key: <key>` (older PrusaLink); 401 without a Digest challenge.
    ApiKey(String),
    /// Either a valid Digest or the key; challenges with Digest.
    DigestOrApiKey {
        /// The user (`maker`).
        user: String,
        /// The password.
        password: String,
        /// The key.
        key: String,
    },
}

/// One scripted answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP status.
    pub status: u16,
    /// The body as sent (may be anything, JSON or not; empty for 204).
    pub body: String,
    /// `Content-Type` (`application/json` by default).
    pub content_type: String,
}

/// One request the fixture answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Path and query as asked (`/api/v1/status`).
    pub path: String,
    /// Whether an `Authorization: Digest …` header came with it.
    pub had_digest: bool,
    /// Whether an `X-Api-Key` header came with it.
    pub had_api_key: bool,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug)]
struct Shared {
    routes: BTreeMap<String, Route>,
    access: Access,
    nonces: HashSet<String>,
    nonce_counter: u64,
    seen: Vec<Seen>,
    digest_refused: u32,
    expire_after: Option<u32>,
}

/// The fixture server. See the module documentation.
pub struct FabFixture {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FabFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabFixture")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FabFixture {
    /// Starts a fixture on `127.0.0.1:<a port the kernel picks>` with no routes.
    ///
    /// # Panics
    /// When the runtime or the socket cannot be set up.
    pub fn start(access: Access) -> FabFixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fab-fixture")
            .enable_all()
            .build()
            .expect("a tokio runtime for the fixture server");
        let std_listener =
            StdListener::bind("127.0.0.1:0").expect("bind the fixture on 127.0.0.1:0");
        std_listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = std_listener.local_addr().expect("the fixture's address");
        assert!(addr.ip().is_loopback(), "the fixture listens on loopback");
        let shared = Arc::new(Mutex::new(Shared {
            routes: BTreeMap::new(),
            access,
            nonces: HashSet::new(),
            nonce_counter: 0,
            seen: Vec::new(),
            digest_refused: 0,
            expire_after: None,
        }));
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener)
                .expect("the fixture's listener on tokio");
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        FabFixture {
            addr,
            shared,
            stop: Some(stop),
            runtime: Some(runtime),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers `path` (`/api/v1/status`, or with a query:
    /// `/api/v1/history/print_jobs?offset=0&count=50`; a route with a query
    /// wins over one without) with `status` and a JSON `body`.
    pub fn set_route(&self, path: &str, status: u16, body: impl Into<String>) {
        self.set_route_typed(path, status, body, "application/json");
    }

    /// Like [`FabFixture::set_route`], with a JSON value.
    pub fn set_json(&self, path: &str, status: u16, body: &serde_json::Value) {
        self.set_route(path, status, body.to_string());
    }

    /// Like [`FabFixture::set_route`], with its own `Content-Type`.
    pub fn set_route_typed(
        &self,
        path: &str,
        status: u16,
        body: impl Into<String>,
        content_type: &str,
    ) {
        self.lock().routes.insert(
            path.to_owned(),
            Route {
                status,
                body: body.into(),
                content_type: content_type.to_owned(),
            },
        );
    }

    /// Forgets the route for `path` (it answers 404 again).
    pub fn remove_route(&self, path: &str) {
        self.lock().routes.remove(path);
    }

    /// Changes who may read.
    pub fn set_access(&self, access: Access) {
        self.lock().access = access;
    }

    /// Forgets every nonce issued: the next digest answers 401 `stale=true`.
    pub fn expire_nonces(&self) {
        self.lock().nonces.clear();
    }

    /// Expires every nonce once `n` more digests have been accepted (a
    /// printer whose nonce times out in the middle of a read).
    pub fn expire_nonces_after(&self, n: u32) {
        self.lock().expire_after = Some(n);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.lock().seen.len()
    }

    /// Every request answered so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Digest answers refused (wrong password, user, uri or tampered fields).
    pub fn digest_refused(&self) -> u32 {
        self.lock().digest_refused
    }

    /// Forgets the record of requests.
    pub fn clear_seen(&self) {
        let mut s = self.lock();
        s.seen.clear();
        s.digest_refused = 0;
    }
}

impl Drop for FabFixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What the access check decided.
enum Verdict {
    Allowed,
    /// 401; with a Digest challenge when `Some(stale)`.
    Refused(Option<bool>),
}

async fn answer(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let had_digest = authorization
        .as_deref()
        .is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("digest "));
    let verdict = check(
        &mut s,
        method.as_str(),
        &path_and_query,
        authorization.as_deref(),
        api_key.as_deref(),
    );
    let response = match verdict {
        Verdict::Refused(challenge) => {
            let mut r = (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"title":"Unauthorized","message":"Authorization required"}"#,
            )
                .into_response();
            if let Some(stale) = challenge {
                let nonce = new_nonce(&mut s);
                let qop = matches!(&s.access, Access::Digest { qop: true, .. })
                    || matches!(&s.access, Access::DigestOrApiKey { .. });
                let mut text = format!(r#"Digest realm="{DIGEST_REALM}", nonce="{nonce}""#);
                if qop {
                    text.push_str(r#", qop="auth", algorithm=MD5"#);
                }
                if stale {
                    text.push_str(", stale=true");
                }
                if let Ok(v) = HeaderValue::from_str(&text) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            r
        }
        Verdict::Allowed => {
            let route = s
                .routes
                .get(&path_and_query)
                .or_else(|| s.routes.get(uri.path()))
                .cloned();
            match route {
                Some(route) => {
                    let status =
                        StatusCode::from_u16(route.status).unwrap_or(StatusCode::BAD_GATEWAY);
                    if status == StatusCode::NO_CONTENT {
                        status.into_response()
                    } else {
                        let mut r = (status, route.body).into_response();
                        if let Ok(v) = HeaderValue::from_str(&route.content_type) {
                            r.headers_mut().insert(header::CONTENT_TYPE, v);
                        }
                        r
                    }
                }
                None => (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"message":"Not found"}"#,
                )
                    .into_response(),
            }
        }
    };
    s.seen.push(Seen {
        path: path_and_query,
        had_digest,
        had_api_key: api_key.is_some(),
        status: response.status().as_u16(),
    });
    response
}

fn check(
    s: &mut Shared,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    api_key: Option<&str>,
) -> Verdict {
    match s.access.clone() {
        Access::Open => Verdict::Allowed,
        Access::ApiKey(key) => {
            if api_key == Some(key.as_str()) {
                Verdict::Allowed
            } else {
                Verdict::Refused(None)
            }
        }
        Access::Digest {
            user,
            password,
            qop,
        } => digest_verdict(s, method, path, authorization, &user, &password, qop),
        Access::DigestOrApiKey {
            user,
            password,
            key,
        } => {
            if api_key == Some(key.as_str()) {
                Verdict::Allowed
            } else {
                digest_verdict(s, method, path, authorization, &user, &password, true)
            }
        }
    }
}

fn digest_verdict(
    s: &mut Shared,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    user: &str,
    password: &str,
    qop_offered: bool,
) -> Verdict {
    let Some(text) = authorization else {
        return Verdict::Refused(Some(false));
    };
    let Some(rest) = text
        .trim_start()
        .strip_prefix("Digest ")
        .or_else(|| text.trim_start().strip_prefix("digest "))
    else {
        return Verdict::Refused(Some(false));
    };
    let fields = parse_params(rest);
    let get = |k: &str| fields.get(k).map(String::as_str);
    let (Some(username), Some(realm), Some(nonce), Some(uri), Some(response)) = (
        get("username"),
        get("realm"),
        get("nonce"),
        get("uri"),
        get("response"),
    ) else {
        s.digest_refused += 1;
        return Verdict::Refused(Some(false));
    };
    if !s.nonces.contains(nonce) {
        // Not ours (or expired): ask again, saying the nonce went stale.
        return Verdict::Refused(Some(true));
    }
    if username != user || realm != DIGEST_REALM || uri != path {
        s.digest_refused += 1;
        return Verdict::Refused(Some(false));
    }
    if let Some(algorithm) = get("algorithm")
        && !algorithm.eq_ignore_ascii_case("MD5")
    {
        s.digest_refused += 1;
        return Verdict::Refused(Some(false));
    }
    let ha1 = md5_hex(&format!("{username}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let expected = match (get("qop"), qop_offered) {
        (Some("auth"), true) => {
            let (Some(nc), Some(cnonce)) = (get("nc"), get("cnonce")) else {
                s.digest_refused += 1;
                return Verdict::Refused(Some(false));
            };
            md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
        }
        (None, false) => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        _ => {
            s.digest_refused += 1;
            return Verdict::Refused(Some(false));
        }
    };
    if expected.eq_ignore_ascii_case(response) {
        if let Some(left) = s.expire_after.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                s.expire_after = None;
                s.nonces.clear();
            }
        }
        Verdict::Allowed
    } else {
        s.digest_refused += 1;
        Verdict::Refused(Some(false))
    }
}

fn new_nonce(s: &mut Shared) -> String {
    s.nonce_counter += 1;
    let seed = format!(
        "{}:{}:{:?}",
        s.nonce_counter,
        std::process::id(),
        std::time::SystemTime::now()
    );
    let nonce = md5_hex(&seed);
    s.nonces.insert(nonce.clone());
    nonce
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `k=v, k="v, with comma", …` → map (keys lower case, quotes removed).
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_parameters_parse_with_quotes_and_commas() {
        let p = parse_params(
            r#"username="maker", realm="Printer API", nc=00000001, qop=auth, uri="/a?b=1,2""#,
        );
        assert_eq!(p["username"], "maker");
        assert_eq!(p["realm"], "Printer API");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["uri"], "/a?b=1,2");
    }

    #[test]
    fn the_rfc_2617_example_digest_is_reproduced() {
        // RFC 2617 §3.5: Mufasa / "Circle Of Life".
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let r = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }
}
