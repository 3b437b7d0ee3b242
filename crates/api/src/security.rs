//! The security layer in front of everything the server answers, the static UI
//! included (threats T1–T7 of `SECURITY.md` §1).
//!
//! [`protect`] wraps a router in one middleware that checks, in this order, and
//! answers the first failure as an [`ApiError`]:
//! 1. the peer address is loopback (127/8, `::1`, v4-mapped 127/8) — else 403
//!    `forbidden_peer` (a request without a known peer is refused too);
//! 2. there is exactly one `Host` and it is exactly `127.0.0.1:PORT`,
//!    `localhost:PORT` or `[::1]:PORT` (name case-insensitive, port required) —
//!    else 403 `forbidden_host` (DNS rebinding); an absolute-form request target
//!    must name one of those too;
//! 3. an `Origin`, when present, is exactly one of [`allowed_origins`], compared
//!    whole — else 403 `forbidden_origin` with no CORS header. A CORS preflight
//!    from an allowed origin is answered here (204) without a token;
//! 4. every request except the static UI (paths outside `/api/`), the health
//!    check and preflights carries `Authorization: Bearer <token>` (constant-time
//!    compare) — else 401 `token_missing` / `token_invalid` with
//!    `WWW-Authenticate: Bearer realm="printscout"`;
//! 5. the method is one of GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE (else
//!    405), and POST/PUT/PATCH/DELETE carry `Content-Type: application/json`
//!    (else 415 `unsupported_media_type`).
//!
//! Invariants: `Access-Control-Allow-Origin` is only ever the exact origin of an
//! allowed cross-origin request, never `*`; `Access-Control-Allow-Private-Network`
//! is never sent; every response has `nosniff`, `no-referrer` and framing denied;
//! `/api/` responses are `no-store`, UI responses carry the strict [`UI_CSP`]; an
//! `/api/` error that some inner layer produced without a body is made JSON.
//! Nothing here logs the `Authorization` header or a request body.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::token::Token;

/// The Content-Security-Policy of the static UI.
pub const UI_CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// The Content-Security-Policy of API responses (JSON is never a document).
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The path of the health check, the one API route that needs no token.
pub const HEALTH_PATH: &str = "/api/v1/health";

/// The realm named in `WWW-Authenticate`.
const AUTHENTICATE: &str = "Bearer realm=\"printscout\"";

/// Methods allowed in a CORS preflight answer.
const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers allowed in a CORS preflight answer.
const CORS_HEADERS: &str = "authorization, content-type";
/// How long (seconds) a browser may cache a preflight answer.
const CORS_MAX_AGE: &str = "600";
/// Every method the server accepts at all.
const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE";

/// Origins of the desktop app's webview, allowed besides the loopback ones.
const TAURI_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// What the middleware needs to know: the port we listen on and the token.
#[derive(Debug)]
struct Policy {
    port: u16,
    token: Token,
    hosts: [String; 3],
    origins: Vec<String>,
}

/// Wraps `app` (routes, fallback and all) in the security middleware for a
/// server listening on `port` whose clients present `token`.
pub fn protect(app: Router, port: u16, token: Token) -> Router {
    let policy = Arc::new(Policy {
        port,
        token,
        hosts: allowed_hosts(port),
        origins: allowed_origins(port),
    });
    app.layer(middleware::from_fn_with_state(policy, guard))
}

/// Whether a peer address is the loopback interface: 127.0.0.0/8, `::1`, or an
/// IPv4-mapped 127.0.0.0/8.
pub fn is_loopback_peer(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The three `Host` values accepted for a server on `port`.
pub fn allowed_hosts(port: u16) -> [String; 3] {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// Whether `host` (a `Host` header or request-target authority) names this
/// server: exactly one of [`allowed_hosts`], the name compared case-insensitively.
pub fn is_allowed_host(host: &str, port: u16) -> bool {
    allowed_hosts(port)
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
}

/// The origins allowed to call the API on `port`: the three loopback origins of
/// the server itself and the desktop app's webview origins.
pub fn allowed_origins(port: u16) -> Vec<String> {
    let mut origins = vec![
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ];
    origins.extend(TAURI_ORIGINS.iter().map(|o| (*o).to_owned()));
    origins
}

/// Whether a request to `path` must carry the token.
pub fn needs_token(path: &str) -> bool {
    is_api_path(path) && path != HEALTH_PATH
}

/// Whether `path` belongs to the API (rather than the static UI).
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The middleware itself.
async fn guard(State(policy): State<Arc<Policy>>, request: Request, next: Next) -> Response {
    let api = is_api_path(request.uri().path());
    let mut response = match admit(&policy, &request) {
        Err(rejection) => rejection.into_response(),
        Ok(Admission::Preflight { cors }) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Some(origin) = cors {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.append(header::VARY, HeaderValue::from_static("origin"));
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(CORS_METHODS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(CORS_HEADERS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(CORS_MAX_AGE),
                );
            }
            response
        }
        Ok(Admission::Pass { cors }) => {
            let response = next.run(request).await;
            let mut response = if api { json_errors(response) } else { response };
            if let Some(origin) = cors {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.append(header::VARY, HeaderValue::from_static("origin"));
            }
            response
        }
    };
    harden(response.headers_mut(), api);
    response
}

/// A request that passed the checks.
enum Admission {
    /// A CORS preflight from an allowed origin: answered here with 204.
    Preflight { cors: Option<HeaderValue> },
    /// Anything else: goes on to the router.
    Pass { cors: Option<HeaderValue> },
}

/// A refused request: the error, and the CORS origin to echo when the origin
/// was allowed, so the desktop UI can read why.
struct Rejection {
    error: ApiError,
    cors: Option<HeaderValue>,
}

impl Rejection {
    fn new(error: ApiError, cors: Option<HeaderValue>) -> Self {
        Self { error, cors }
    }

    fn into_response(self) -> Response {
        let unauthorized = self.error.status == StatusCode::UNAUTHORIZED;
        let not_allowed = self.error.status == StatusCode::METHOD_NOT_ALLOWED;
        let mut response = self.error.into_response();
        let headers = response.headers_mut();
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(AUTHENTICATE),
            );
        }
        if not_allowed {
            headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        }
        if let Some(origin) = self.cors {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    }
}

impl From<ApiError> for Rejection {
    fn from(error: ApiError) -> Self {
        Self::new(error, None)
    }
}

/// Runs the five checks in order.
fn admit(policy: &Policy, request: &Request) -> Result<Admission, Rejection> {
    let path = request.uri().path();
    let method = request.method();

    // 1. The peer is loopback.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match peer {
        Some(ip) if is_loopback_peer(ip) => {}
        Some(ip) => {
            tracing::warn!(peer = %ip, "refused a connection from a non-loopback peer");
            return Err(ApiError::forbidden(
                "forbidden_peer",
                "only this computer may use the PrintScout API",
            )
            .into());
        }
        None => {
            tracing::warn!("refused a request whose peer address is unknown");
            return Err(ApiError::forbidden(
                "forbidden_peer",
                "only this computer may use the PrintScout API",
            )
            .into());
        }
    }

    // 2. Host names the loopback interface and our port (DNS rebinding).
    let host = single_header(request.headers(), &header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| policy.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
    let authority_ok = request
        .uri()
        .authority()
        .is_none_or(|a| is_allowed_host(a.as_str(), policy.port));
    let Some(host) = host.filter(|_| authority_ok) else {
        tracing::info!(
            host = ?request.headers().get(header::HOST),
            path,
            "refused a request whose Host is not this server's loopback address (DNS rebinding?)"
        );
        return Err(ApiError::forbidden(
            "forbidden_host",
            format!(
                "the Host header must be 127.0.0.1:{port}, localhost:{port} or [::1]:{port}",
                port = policy.port
            ),
        )
        .into());
    };

    // 3. Origin, when present, is one of ours; cross-origin ones get CORS.
    let cors = match origin(policy, request.headers()) {
        Ok(None) => None,
        Ok(Some(origin)) => {
            let own = format!("http://{host}");
            if origin.eq_ignore_ascii_case(&own) {
                None
            } else {
                HeaderValue::from_str(origin).ok()
            }
        }
        Err(()) => {
            tracing::info!(
                origin = ?request.headers().get(header::ORIGIN),
                path,
                "refused a request from a foreign origin"
            );
            return Err(ApiError::forbidden(
                "forbidden_origin",
                "requests from this origin are not allowed",
            )
            .into());
        }
    };
    if method == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Ok(Admission::Preflight { cors });
    }

    // 4. The token.
    if needs_token(path)
        && let Err(error) = check_token(&policy.token, request.headers())
    {
        tracing::debug!(
            path,
            code = error.code,
            "refused a request without a valid token"
        );
        return Err(Rejection::new(error, cors));
    }

    // 5. Methods, and JSON for state changes.
    let changes_state = match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => true,
        _ => {
            return Err(Rejection::new(
                ApiError::method_not_allowed(format!("method {method} is not supported")),
                cors,
            ));
        }
    };
    if changes_state && !is_json(request.headers()) {
        tracing::debug!(path, %method, "refused a state change that is not application/json");
        return Err(Rejection::new(
            ApiError::unsupported_media_type(
                "POST, PUT, PATCH and DELETE requests need Content-Type: application/json",
            ),
            cors,
        ));
    }
    Ok(Admission::Pass { cors })
}

/// The value of a header that must appear at most once: `None` when absent or
/// repeated.
fn single_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// The request's `Origin` if it is allowed (`Ok(None)` without one); `Err` for
/// a foreign, repeated, malformed or `null` origin.
fn origin<'p>(policy: &'p Policy, headers: &HeaderMap) -> Result<Option<&'p str>, ()> {
    if !headers.contains_key(header::ORIGIN) {
        return Ok(None);
    }
    let value = single_header(headers, &header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or(())?;
    policy
        .origins
        .iter()
        .find(|allowed| allowed.eq_ignore_ascii_case(value))
        .map(|allowed| Some(allowed.as_str()))
        .ok_or(())
}

/// Checks `Authorization: Bearer <token>`.
fn check_token(token: &Token, headers: &HeaderMap) -> Result<(), ApiError> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::unauthorized(
            "token_missing",
            "this request needs the API token: Authorization: Bearer <token> (the token is in the file named by api.json)",
        ));
    }
    let invalid = || ApiError::unauthorized("token_invalid", "the API token is not valid");
    let value = single_header(headers, &header::AUTHORIZATION)
        .ok_or_else(invalid)?
        .as_bytes();
    let (scheme, credentials) = value
        .iter()
        .position(|b| *b == b' ')
        .map(|at| value.split_at(at))
        .ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(invalid());
    }
    if token.matches(credentials.trim_ascii()) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Whether the request says its body is JSON (`application/json`, parameters
/// such as `; charset=utf-8` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Gives an `/api/` error response that has no body type (axum's own 405, a
/// body limit, ...) the JSON error shape, keeping its `Allow` header.
fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = ApiError::from_status(status).into_response();
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

/// The headers every response carries.
fn harden(headers: &mut HeaderMap, api: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.remove("access-control-allow-private-network");
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    } else {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(UI_CSP),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_peers_are_127_8_and_colon_colon_1_and_their_mapped_forms() {
        for ok in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback_peer(ok.parse().expect("address")), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "fe80::1",
            "192.168.1.5",
            "::127.0.0.1",
        ] {
            assert!(!is_loopback_peer(bad.parse().expect("address")), "{bad}");
        }
    }

    #[test]
    fn a_host_must_be_a_loopback_name_with_our_port() {
        for ok in ["127.0.0.1:9161", "LOCALHOST:9161", "[::1]:9161"] {
            assert!(is_allowed_host(ok, 9161), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "localhost",
            "127.0.0.1:9162",
            "localhost.evil.example:9161",
            "evil.example:9161",
            "127.0.0.1:9161.evil.example",
            "127.0.0.2:9161",
            "[::1]",
            "localhost.:9161",
            "",
        ] {
            assert!(!is_allowed_host(bad, 9161), "{bad}");
        }
    }

    #[test]
    fn only_api_paths_but_health_need_the_token() {
        assert!(needs_token("/api/v1/printers"));
        assert!(needs_token("/api"));
        assert!(needs_token("/api/v1/health/x"));
        assert!(!needs_token("/api/v1/health"));
        assert!(!needs_token("/"));
        assert!(!needs_token("/apiary"));
        assert!(!needs_token("/assets/app.js"));
    }

    #[test]
    fn json_content_types_may_carry_parameters() {
        let mut headers = HeaderMap::new();
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(value).expect("header"),
            );
            assert_eq!(is_json(&headers), ok, "{value}");
        }
        headers.clear();
        assert!(!is_json(&headers));
    }
}
