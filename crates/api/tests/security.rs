//! The loopback API's security list (SECURITY.md §4 items 1–5 and 8–10) against
//! a real server on 127.0.0.1 (and ::1), port 0, with a tiny test router, over
//! real TCP: reqwest, curl, and raw HTTP/1.1 where a client would not send what
//! an attacker can.

use std::net::{Ipv6Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use printscout_api::error::Json;
use printscout_api::security::{UI_CSP, protect};
use printscout_api::server::{Running, ServeError, ServeOptions, serve};
use printscout_api::token::{ApiInfo, Token};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// The shape the typed test route insists on.
#[derive(serde::Deserialize, serde::Serialize)]
struct Typed {
    count: u32,
}

/// `GET /api/v1/ping`, `POST /api/v1/echo`, `POST /api/v1/typed`, `GET /api/v1/panic`.
fn test_router() -> Router {
    Router::new()
        .route(
            "/api/v1/ping",
            get(|| async { Json(json!({"pong": true})) }),
        )
        .route(
            "/api/v1/echo",
            post(|Json(body): Json<Value>| async move { Json(body) }),
        )
        .route(
            "/api/v1/typed",
            post(|Json(body): Json<Typed>| async move { Json(body) }),
        )
        .route("/api/v1/panic", get(panicking))
}

/// A handler with a bug.
async fn panicking() -> &'static str {
    panic!("a handler fault (expected by the test)")
}

async fn start_in(data_dir: &Path, ui_dir: Option<PathBuf>) -> Running {
    serve(
        ServeOptions {
            port: 0,
            data_dir: data_dir.to_owned(),
            ui_dir,
        },
        test_router(),
    )
    .await
    .expect("the server starts on a free port")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A response read off a raw socket.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// Sends `head` (request line and headers, no final blank line) to
/// 127.0.0.1:port exactly as written, with `Connection: close`.
async fn raw(port: u16, head: &str) -> Raw {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the server");
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes))
        .await
        .expect("the server answers and closes in time")
        .expect("read the response");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    Raw {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("a JSON error body");
    body["error"]["code"]
        .as_str()
        .expect("an error code")
        .to_owned()
}

fn ipv6_loopback_available() -> bool {
    StdListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

#[tokio::test]
async fn a_request_must_name_the_loopback_host_and_our_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let port = running.port();
    let auth = format!("Authorization: {}", bearer(running.token().expose()));
    let other = if port == u16::MAX { port - 1 } else { port + 1 };

    for host in [
        format!("evil.example:{port}"),
        "localhost.evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1:{other}"),
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{port}.evil.example"),
        format!("127.0.0.2:{port}"),
    ] {
        let answer = raw(
            port,
            &format!("GET /api/v1/ping HTTP/1.1\r\nHost: {host}\r\n{auth}"),
        )
        .await;
        assert_eq!(answer.status, 403, "Host: {host}");
        assert!(answer.head.contains("x-content-type-options: nosniff"));
        assert!(!answer.head.contains("access-control-allow-origin"));
        assert!(
            answer.body.contains("forbidden_host"),
            "Host: {host}: {}",
            answer.body
        );
    }
    // No Host at all, in HTTP/1.1 and 1.0; two Hosts; an absolute-form target
    // naming another host.
    for head in [
        format!("GET /api/v1/ping HTTP/1.1\r\n{auth}"),
        format!("GET /api/v1/ping HTTP/1.0\r\n{auth}"),
        format!(
            "GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example:{port}\r\n{auth}"
        ),
        format!(
            "GET http://evil.example:{port}/api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        ),
        // The static UI is behind the same check.
        format!("GET / HTTP/1.1\r\nHost: evil.example:{port}"),
    ] {
        let answer = raw(port, &head).await;
        assert_eq!(answer.status, 403, "{head}");
    }

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let answer = raw(
            port,
            &format!("GET /api/v1/ping HTTP/1.1\r\nHost: {host}\r\n{auth}"),
        )
        .await;
        assert_eq!(answer.status, 200, "Host: {host}: {}", answer.body);
        assert!(answer.body.contains("pong"));
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_dns_rebinding_request_made_by_curl_is_refused_even_with_the_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let port = running.port();
    // The token goes in a header file, not on curl's command line.
    let header_file = dir.path().join("curl-auth-header");
    std::fs::write(
        &header_file,
        format!("Authorization: {}\n", bearer(running.token().expose())),
    )
    .expect("write the header file");

    let curl = move |url: String, resolve: Option<String>| {
        let header_file = header_file.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new("curl");
            command.args([
                "--silent",
                "--show-error",
                "--noproxy",
                "*",
                "--max-time",
                "5",
            ]);
            command.args(["--output", "/dev/null", "--write-out", "%{http_code}"]);
            command
                .arg("--header")
                .arg(format!("@{}", header_file.display()));
            if let Some(resolve) = resolve {
                command.args(["--resolve", &resolve]);
            }
            let output = command.arg(url).output().expect("curl runs (apt: curl)");
            assert!(output.status.success(), "curl failed: {output:?}");
            String::from_utf8(output.stdout).expect("a status code")
        })
    };

    let rebound = curl(
        format!("http://evil.test:{port}/api/v1/ping"),
        Some(format!("evil.test:{port}:127.0.0.1")),
    )
    .await
    .expect("curl task");
    assert_eq!(rebound, "403");
    // The same request under our own name succeeds: the header file is right.
    let direct = curl(format!("http://127.0.0.1:{port}/api/v1/ping"), None)
        .await
        .expect("curl task");
    assert_eq!(direct, "200");
    running.shutdown().await;
}

fn assert_no_wildcard_cors(headers: &HeaderMap, what: &str) {
    for value in headers.get_all(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        assert_ne!(value, "*", "{what}: a CORS wildcard");
    }
    assert!(
        !headers.contains_key("access-control-allow-private-network"),
        "{what}: Access-Control-Allow-Private-Network"
    );
}

#[tokio::test]
async fn only_our_origins_are_answered_and_never_with_a_wildcard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let port = running.port();
    let base = format!("http://127.0.0.1:{port}");
    let auth = bearer(running.token().expose());
    let http = client();
    let other = if port == u16::MAX { port - 1 } else { port + 1 };

    for origin in [
        "https://evil.example".to_owned(),
        format!("http://127.0.0.1:{port}.evil.example"),
        "null".to_owned(),
        format!("http://localhost:{other}"),
        "http://127.0.0.1".to_owned(),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/"),
        "tauri://localhost.evil.example".to_owned(),
        "http://tauri.localhost.evil.example".to_owned(),
    ] {
        for (method, path) in [(Method::GET, "/api/v1/ping"), (Method::GET, "/")] {
            let response = http
                .request(method, format!("{base}{path}"))
                .header(header::AUTHORIZATION, &auth)
                .header(header::ORIGIN, &origin)
                .send()
                .await
                .expect("request");
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "Origin: {origin} {path}"
            );
            assert!(
                !response
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
                "Origin: {origin}: no CORS header on a refusal"
            );
            assert_no_wildcard_cors(response.headers(), &origin);
            assert_eq!(error_code(response).await, "forbidden_origin");
        }
        // A preflight from a foreign origin is refused the same way.
        let preflight = http
            .request(Method::OPTIONS, format!("{base}/api/v1/echo"))
            .header(header::ORIGIN, &origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header("access-control-request-private-network", "true")
            .send()
            .await
            .expect("preflight");
        assert_eq!(
            preflight.status(),
            StatusCode::FORBIDDEN,
            "preflight from {origin}"
        );
        assert!(
            !preflight
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        assert_no_wildcard_cors(preflight.headers(), &origin);
    }

    // The desktop app's origins, and another loopback name than the Host's, are
    // cross-origin: answered with the exact origin.
    for origin in [
        "tauri://localhost".to_owned(),
        "http://tauri.localhost".to_owned(),
        "https://tauri.localhost".to_owned(),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ] {
        let response = http
            .get(format!("{base}/api/v1/ping"))
            .header(header::AUTHORIZATION, &auth)
            .header(header::ORIGIN, &origin)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "Origin: {origin}");
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin.as_str()
        );
        assert_eq!(response.headers()[header::VARY], "origin");
        assert_no_wildcard_cors(response.headers(), &origin);

        let preflight = http
            .request(Method::OPTIONS, format!("{base}/api/v1/echo"))
            .header(header::ORIGIN, &origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, content-type",
            )
            .header("access-control-request-private-network", "true")
            .send()
            .await
            .expect("preflight");
        assert_eq!(
            preflight.status(),
            StatusCode::NO_CONTENT,
            "preflight from {origin}"
        );
        let headers = preflight.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin.as_str()
        );
        assert_eq!(headers[header::VARY], "origin");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, PUT, PATCH, DELETE"
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, content-type"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_no_wildcard_cors(headers, &origin);

        // A refusal to an allowed origin carries CORS so the UI can read it.
        let refused = http
            .get(format!("{base}/api/v1/ping"))
            .header(header::ORIGIN, &origin)
            .send()
            .await
            .expect("request");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin.as_str()
        );
    }

    // Same origin: allowed, and no CORS header is needed.
    let response = http
        .get(format!("{base}/api/v1/ping"))
        .header(header::AUTHORIZATION, &auth)
        .header(header::ORIGIN, &base)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    running.shutdown().await;
}

#[tokio::test]
async fn api_requests_need_the_exact_token_but_health_and_the_ui_do_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let base = format!("http://127.0.0.1:{}", running.port());
    let token = running.token().expose().to_owned();
    let http = client();
    let echo = |authorization: Option<String>| {
        let mut request = http
            .post(format!("{base}/api/v1/echo"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"hello":"world"}"#);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.send()
    };

    let mut last_byte_changed = token.clone().into_bytes();
    let last = last_byte_changed.len() - 1;
    last_byte_changed[last] = if last_byte_changed[last] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let last_byte_changed = String::from_utf8(last_byte_changed).expect("hex");
    let other = Token::generate().expect("random").expose().to_owned();

    let response = echo(None).await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="printscout""#
    );
    assert_eq!(error_code(response).await, "token_missing");
    for (what, value) in [
        ("a wrong token", bearer(&other)),
        (
            "the token with its last byte changed",
            bearer(&last_byte_changed),
        ),
        (
            "the token without its last byte",
            bearer(&token[..token.len() - 1]),
        ),
        ("the token with one byte more", bearer(&format!("{token}0"))),
        ("an empty bearer", "Bearer ".to_owned()),
        ("the token without a scheme", token.clone()),
        ("the token as Basic credentials", format!("Basic {token}")),
    ] {
        let response = echo(Some(value)).await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(error_code(response).await, "token_invalid", "{what}");
    }
    let response = echo(Some(format!("bearer {token}")))
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
    assert_eq!(
        response.json::<Value>().await.expect("JSON"),
        json!({"hello": "world"})
    );

    let response = http
        .get(format!("{base}/api/v1/ping"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "token_missing");
    let response = http
        .get(format!("{base}/api/v1/ping"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    // Unknown API routes need the token too, and then are a JSON 404.
    let response = http
        .get(format!("{base}/api/v1/nothing"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = http
        .get(format!("{base}/api/v1/nothing"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "not_found");

    let response = http
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let health: Value = response.json().await.expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let response = http.get(format!("{base}/")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("page").contains("not built"));

    // Other spellings of an API path never reach the API without the token.
    for path in [
        "/API/v1/ping",
        "//api/v1/ping",
        "/%61pi/v1/ping",
        "/api/v1/./ping",
    ] {
        let answer = raw(
            running.port(),
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}", running.port()),
        )
        .await;
        assert!(
            !answer.body.contains("pong"),
            "{path} reached the ping route"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn state_changes_must_be_json_and_malformed_json_is_a_json_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let base = format!("http://127.0.0.1:{}", running.port());
    let token = running.token().expose().to_owned();
    let http = client();

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        None,
    ] {
        let mut request = http
            .post(format!("{base}/api/v1/echo"))
            .bearer_auth(&token)
            .body(r#"{"a":1}"#);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(error_code(response).await, "unsupported_media_type");
    }
    let response = http
        .delete(format!("{base}/api/v1/echo"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "DELETE without a type"
    );

    let post = |content_type: &'static str, body: &'static str, path: &'static str| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let response = post(
        "application/json; charset=utf-8",
        r#"{"a":1}"#,
        "/api/v1/echo",
    )
    .await
    .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let response = post("application/json", r#"{"a":"#, "/api/v1/echo")
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ASCII")
            .starts_with("application/json")
    );
    assert_eq!(error_code(response).await, "malformed_json");
    let response = post("application/json", r#"{"count":"many"}"#, "/api/v1/typed")
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "invalid_body");

    // Wrong method on a known route, an unknown method, a handler panic: JSON too.
    let response = http
        .put(format!("{base}/api/v1/ping"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(response).await, "method_not_allowed");
    let response = http
        .request(Method::TRACE, format!("{base}/api/v1/ping"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = http
        .get(format!("{base}/api/v1/panic"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(response).await, "internal");
    running.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_the_hardening_headers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let base = format!("http://127.0.0.1:{}", running.port());
    let http = client();

    for (path, token, api) in [
        ("/api/v1/ping", true, true),
        ("/api/v1/ping", false, true),
        ("/api/v1/health", false, true),
        ("/", false, false),
        ("/printers/7", false, false),
    ] {
        let mut request = http.get(format!("{base}{path}"));
        if token {
            request = request.bearer_auth(running.token().expose());
        }
        let response = request.send().await.expect("request");
        let headers = response.headers();
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        if api {
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        } else {
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], UI_CSP, "{path}");
        }
    }
    running.shutdown().await;
}

#[tokio::test]
async fn the_built_ui_is_served_with_index_html_for_client_side_routes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ui = dir.path().join("dist");
    std::fs::create_dir_all(ui.join("assets")).expect("ui dir");
    std::fs::write(
        ui.join("index.html"),
        "<!doctype html><title>UI</title>index-page",
    )
    .expect("index");
    std::fs::write(ui.join("assets/app.js"), "console.log('app')").expect("script");
    let running = start_in(&dir.path().join("data"), Some(ui)).await;
    let base = format!("http://127.0.0.1:{}", running.port());
    let http = client();

    for (path, expected) in [
        ("/", "index-page"),
        ("/assets/app.js", "console.log"),
        ("/printers/42", "index-page"),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], UI_CSP);
        assert!(
            response.text().await.expect("body").contains(expected),
            "{path}"
        );
    }
    let response = http
        .get(format!("{base}/../data/api-token"))
        .send()
        .await
        .expect("request");
    assert!(
        !response
            .text()
            .await
            .expect("body")
            .contains(running.token().expose())
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_request_from_a_peer_that_is_not_loopback_is_refused() {
    let token = Token::generate().expect("random");
    let app = protect(test_router(), 9161, token.clone());
    for (peer, expected) in [
        (Some("192.0.2.7:40000"), StatusCode::FORBIDDEN),
        (Some("[2001:db8::7]:40000"), StatusCode::FORBIDDEN),
        (Some("[::ffff:192.0.2.7]:40000"), StatusCode::FORBIDDEN),
        (None, StatusCode::FORBIDDEN),
        (Some("127.0.0.1:40000"), StatusCode::OK),
        (Some("[::ffff:127.0.0.1]:40000"), StatusCode::OK),
        (Some("[::1]:40000"), StatusCode::OK),
    ] {
        let mut request = axum::http::Request::get("/api/v1/ping")
            .header(header::HOST, "127.0.0.1:9161")
            .header(header::AUTHORIZATION, bearer(token.expose()))
            .body(Body::empty())
            .expect("request");
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().expect("address");
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), expected, "peer {peer:?}");
        if expected == StatusCode::FORBIDDEN {
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .expect("body");
            assert!(String::from_utf8_lossy(&body).contains("forbidden_peer"));
        }
    }
}

#[tokio::test]
async fn the_server_listens_on_loopback_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_in(dir.path(), None).await;
    let port = running.port();
    let addrs = running.local_addrs();
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == port),
        "{addrs:?}"
    );
    assert!(addrs.contains(&SocketAddr::from(([127, 0, 0, 1], port))));
    if ipv6_loopback_available() {
        assert!(
            addrs.contains(&SocketAddr::from((Ipv6Addr::LOCALHOST, port))),
            "{addrs:?}"
        );
        let response = client()
            .get(format!("http://[::1]:{port}/api/v1/health"))
            .send()
            .await
            .expect("request over ::1");
        assert_eq!(response.status(), StatusCode::OK);
    } else {
        eprintln!("IPv6 loopback unavailable: only 127.0.0.1 checked");
    }
    assert_eq!(running.url(), format!("http://127.0.0.1:{port}/"));
    running.shutdown().await;
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_token_and_api_json_are_private_and_the_token_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let first = start_in(&data, None).await;
    let token = first.token().expose().to_owned();
    let token_file = first.token_file().to_owned();
    assert!(token_file.is_absolute());
    assert_eq!(
        std::fs::read_to_string(&token_file)
            .expect("token file")
            .trim(),
        token
    );
    let info = ApiInfo::read(&data).expect("api.json");
    assert_eq!(info.url, format!("http://127.0.0.1:{}/", first.port()));
    assert_eq!(info.token_file, token_file);
    #[cfg(unix)]
    {
        assert_eq!(mode(&token_file), 0o600);
        assert_eq!(mode(first.api_json()), 0o600);
    }
    // Taking the port for the next start proves api.json follows the port.
    let first_port = first.port();
    first.shutdown().await;
    let holder = StdListener::bind(("127.0.0.1", first_port)).expect("rebind the old port");

    let second = start_in(&data, None).await;
    assert_ne!(second.port(), first_port);
    assert_eq!(second.token().expose(), token, "the token persists");
    let info = ApiInfo::read(&data).expect("api.json");
    assert_eq!(info.url, format!("http://127.0.0.1:{}/", second.port()));
    second.shutdown().await;
    drop(holder);

    // A damaged token file is replaced, privately.
    std::fs::write(&token_file, "not a token").expect("damage the token");
    let third = start_in(&data, None).await;
    let replaced = third.token().expose().to_owned();
    assert_ne!(replaced, token);
    assert_eq!(replaced.len(), 64);
    #[cfg(unix)]
    assert_eq!(mode(&token_file), 0o600);
    third.shutdown().await;

    // A token others could read is no longer a secret: replaced too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let fourth = start_in(&data, None).await;
        assert_ne!(fourth.token().expose(), replaced);
        assert_eq!(mode(&token_file), 0o600);
        fourth.shutdown().await;
    }
}

/// Accepts on `squatter` for a short while: `true` if anything connected.
fn anyone_connected(squatter: &StdListener) -> bool {
    squatter.set_nonblocking(true).expect("non-blocking");
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        match squatter.accept() {
            Ok(_) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    false
}

#[tokio::test]
async fn a_taken_port_fails_closed_and_the_squatter_hears_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let squatter = StdListener::bind("127.0.0.1:0").expect("squat a port");
    let port = squatter.local_addr().expect("address").port();

    let options = ServeOptions {
        port,
        data_dir: data.clone(),
        ui_dir: None,
    };
    let error = serve(options.clone(), test_router())
        .await
        .expect_err("the port is taken");
    assert!(
        matches!(error, ServeError::PortInUse { port: p, .. } if p == port),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("port {port} on 127.0.0.1")),
        "{message}"
    );
    assert!(message.contains("--api-port"), "{message}");
    assert!(
        !anyone_connected(&squatter),
        "the squatter received a connection"
    );
    assert!(
        !data.join("api.json").exists(),
        "api.json must not name a squatted port"
    );
    assert!(!data.join("api-token").exists());
    drop(squatter);

    // Taken on ::1 only: the same refusal, and 127.0.0.1 is let go again.
    if ipv6_loopback_available() {
        let squatter = StdListener::bind((Ipv6Addr::LOCALHOST, 0)).expect("squat on ::1");
        let port = squatter.local_addr().expect("address").port();
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            let error = serve(ServeOptions { port, ..options }, test_router())
                .await
                .expect_err("the port is taken on ::1");
            assert!(
                matches!(error, ServeError::PortInUse { port: p, ip } if p == port && ip == Ipv6Addr::LOCALHOST),
                "{error:?}"
            );
            assert!(!anyone_connected(&squatter));
            StdListener::bind(("127.0.0.1", port)).expect("127.0.0.1 was released");
        }
    }
}
