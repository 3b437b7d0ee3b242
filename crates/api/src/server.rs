//! The server: binds the loopback interface, writes the token and `api.json`,
//! and serves the caller's `/api/v1` router, the health check and the static UI
//! behind the security layer ([`crate::security::protect`]).
//!
//! Invariants:
//! - it listens on 127.0.0.1:PORT and [::1]:PORT only; the address is hard-coded
//!   and nothing can ask for another (the port is the only choice, 0 = any free
//!   port, the same on both families);
//! - a taken port fails closed with [`ServeError::PortInUse`]: no other port is
//!   tried, so a program squatting on ours never gets a client (or the token)
//!   that expected PrintScout. Sockets get no `SO_REUSEPORT`; on Unix they get
//!   `SO_REUSEADDR` as std sets it (restart over TIME_WAIT; Linux still refuses a
//!   second listener). Windows TODO: `SO_EXCLUSIVEADDRUSE`;
//! - [::1] is skipped with a warning only when IPv6 is unavailable; a taken
//!   [::1]:PORT fails like a taken 127.0.0.1:PORT;
//! - the port is bound before the token or `api.json` are touched, and
//!   `api.json` is rewritten at every start so it names the port in use;
//! - everything — API, health, UI, 404s — goes through the security layer, and
//!   every `/api/` answer (unknown routes and handler panics included) is JSON.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::{ApiError, Json};
use crate::security::{self, HEALTH_PATH};
use crate::token::{ApiInfo, TOKEN_FILE_NAME, Token, TokenError};

/// The documented default port of the loopback API (`--api-port` changes it;
/// 0 = any free port).
pub const DEFAULT_PORT: u16 = 9161;

/// How long [`Running::shutdown`] waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How many times port 0 is retried when the port 127.0.0.1 got is taken on ::1.
const ANY_PORT_ATTEMPTS: usize = 8;

/// What to serve and where to keep the token.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The port on 127.0.0.1 and ::1; 0 = any free port.
    pub port: u16,
    /// The data directory: `api.json` and the token file go here (created if missing).
    pub data_dir: PathBuf,
    /// The built web UI (`ui/dist`); `None` or a directory without
    /// `index.html` → a small built-in page saying the UI is not built.
    pub ui_dir: Option<PathBuf>,
}

impl ServeOptions {
    /// Options for the default port, no UI directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port: DEFAULT_PORT,
            data_dir: data_dir.into(),
            ui_dir: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Another program holds the port; PrintScout refuses to move elsewhere.
    #[error(
        "port {port} on {ip} is already in use by another program; PrintScout will not pick \
         another port silently (a program squatting on it could receive the UI's token). \
         Stop the other program or choose a port with --api-port"
    )]
    PortInUse {
        /// The port asked for (or, for port 0, the one that clashed).
        port: u16,
        /// The loopback address on which it is taken.
        ip: IpAddr,
    },
    /// Binding failed for another reason (e.g. a privileged port).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The data directory could not be created or resolved.
    #[error("cannot use the data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The token or `api.json` could not be read or written.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// A running server. Dropping it also stops the server (gracefully, in the
/// background); [`Running::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct Running {
    url: String,
    port: u16,
    token: Token,
    local_addrs: Vec<SocketAddr>,
    token_file: PathBuf,
    api_json: PathBuf,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The URL to open: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port, the same on 127.0.0.1 and ::1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The token clients must present.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The addresses actually listened on: 127.0.0.1:PORT and, when IPv6 is
    /// available, [::1]:PORT.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The absolute path of the token file.
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// The absolute path of `api.json`.
    pub fn api_json(&self) -> &Path {
        &self.api_json
    }

    /// Stops accepting, lets open requests finish (up to 5 s, then drops the
    /// listeners' tasks) and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                tracing::warn!("the API server did not stop within 5 s; stopping it anyway");
                task.abort();
            }
        }
    }
}

/// Starts the server: binds 127.0.0.1:PORT and [::1]:PORT, loads or creates the
/// token, rewrites `api.json`, and serves `api` (a router whose routes carry
/// their full `/api/v1/...` paths and no fallback), the health check and the
/// static UI, all behind the security layer.
pub async fn serve(opts: ServeOptions, api: Router) -> Result<Running, ServeError> {
    let listeners = bind(opts.port).await?;
    let local_addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<io::Result<Vec<_>>>()
        .map_err(|source| ServeError::Bind {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, opts.port)),
            source,
        })?;
    let port = local_addrs
        .first()
        .map(SocketAddr::port)
        .unwrap_or(opts.port);

    let data_dir_error = |source| ServeError::DataDir {
        path: opts.data_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&opts.data_dir).map_err(data_dir_error)?;
    let data_dir = std::fs::canonicalize(&opts.data_dir).map_err(data_dir_error)?;
    let token_file = data_dir.join(TOKEN_FILE_NAME);
    let token = Token::load_or_create(&token_file)?;
    let url = format!("http://127.0.0.1:{port}/");
    let api_json = ApiInfo {
        url: url.clone(),
        token_file: token_file.clone(),
    }
    .write(&data_dir)?;

    let ui = Ui::new(opts.ui_dir.as_deref(), port);
    let app = Router::new()
        .route(HEALTH_PATH, get(health))
        .merge(api)
        .fallback(move |request: Request| fallback(ui.clone(), request))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the server failed while answering this request").into_response()
        }));
    let app = security::protect(app, port, token.clone());

    let (stop, stopped) = watch::channel(false);
    let tasks = listeners
        .into_iter()
        .map(|listener| {
            let service = app
                .clone()
                .into_make_service_with_connect_info::<SocketAddr>();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let server = axum::serve(listener, service).with_graceful_shutdown(async move {
                    // Resolves on `shutdown` or when `Running` is dropped.
                    let _ = stopped.wait_for(|stop| *stop).await;
                });
                if let Err(error) = server.await {
                    tracing::error!(%error, "the API server stopped");
                }
            })
        })
        .collect();
    tracing::info!(%url, addresses = ?local_addrs, "the PrintScout API is listening");
    Ok(Running {
        url,
        port,
        token,
        local_addrs,
        token_file,
        api_json,
        stop,
        tasks,
    })
}

/// Binds 127.0.0.1:port, then [::1] on the port that got.
async fn bind(port: u16) -> Result<Vec<TcpListener>, ServeError> {
    let attempts = if port == 0 { ANY_PORT_ATTEMPTS } else { 1 };
    let mut clash = port;
    for _ in 0..attempts {
        let v4_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let v4 = listen(v4_addr).map_err(|source| bind_error(v4_addr, source))?;
        let actual = v4
            .local_addr()
            .map_err(|source| bind_error(v4_addr, source))?
            .port();
        let v6_addr = SocketAddr::from((Ipv6Addr::LOCALHOST, actual));
        match listen(v6_addr) {
            Ok(v6) => return Ok(vec![v4, v6]),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => {
                // For port 0, ::1 holds the port 127.0.0.1 gave us: try another.
                clash = actual;
                if port != 0 {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "IPv6 loopback (::1) is not available; the API listens on 127.0.0.1 only");
                return Ok(vec![v4]);
            }
        }
    }
    Err(ServeError::PortInUse {
        port: clash,
        ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
    })
}

/// One listening socket on `addr`.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // What std and mio do on Unix: lets a restart reuse the port over TIME_WAIT;
    // Linux still refuses to bind a port another socket listens on. Never
    // SO_REUSEPORT. On Windows SO_REUSEADDR would allow hijacking, so it is not set.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn bind_error(addr: SocketAddr, source: io::Error) -> ServeError {
    if source.kind() == io::ErrorKind::AddrInUse {
        ServeError::PortInUse {
            port: addr.port(),
            ip: addr.ip(),
        }
    } else {
        ServeError::Bind { addr, source }
    }
}

/// The health check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` while the server answers.
    #[schema(example = "ok")]
    pub status: String,
    /// The PrintScout version.
    #[schema(example = "0.1.0")]
    pub version: String,
}

/// `GET /api/v1/health`: answers without a token.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    responses((status = 200, description = "The server is up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// What answers paths outside the API.
#[derive(Clone)]
enum Ui {
    /// The built UI; unknown paths get `index.html` (client-side routes).
    Static(ServeDir<ServeFile>),
    /// The "UI not built" page.
    Builtin(Arc<str>),
}

impl Ui {
    fn new(dir: Option<&Path>, port: u16) -> Self {
        match dir {
            Some(dir) if dir.join("index.html").is_file() => {
                Self::Static(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
            }
            Some(dir) => {
                tracing::warn!(dir = %dir.display(), "the web UI directory has no index.html; serving a placeholder page");
                Self::Builtin(builtin_page(port).into())
            }
            None => Self::Builtin(builtin_page(port).into()),
        }
    }
}

/// Everything no route matched: JSON 404 under `/api/`, else the UI.
async fn fallback(ui: Ui, request: Request) -> Response {
    if security::is_api_path(request.uri().path()) {
        return ApiError::not_found(format!(
            "there is no API route {} {}",
            request.method(),
            request.uri().path()
        ))
        .into_response();
    }
    match ui {
        Ui::Static(dir) => match dir.oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        },
        Ui::Builtin(page) => {
            if request.method() == Method::GET || request.method() == Method::HEAD {
                Html(page.to_string()).into_response()
            } else {
                StatusCode::METHOD_NOT_ALLOWED.into_response()
            }
        }
    }
}

/// The page served when the web UI is not built.
fn builtin_page(port: u16) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>PrintScout</title>
<style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}code{{background:#eee;padding:0 .2em}}</style>
</head>
<body>
<h1>PrintScout is running</h1>
<p>The web UI is not built, so there is nothing to show here yet. Build it
(<code>npm run build</code>, which writes <code>ui/dist</code>) and start PrintScout again.</p>
<p>The API is at <code>http://127.0.0.1:{port}/api/v1/</code>.
<a href="/api/v1/health">/api/v1/health</a> answers without a token; every other route
needs the header <code>Authorization: Bearer &lt;token&gt;</code>, with the token from the file
that <code>api.json</code> in PrintScout's data directory names. The routes are described
in <code>/api/v1/openapi.json</code>.</p>
</body>
</html>
"#
    )
}
