//! A real upload receiver for tests: an HTTPS (or plain HTTP) server on a
//! loopback address that speaks the engine's upload format
//! (`printscout_engine::uplink::protocol`) and can be told, while it runs, to
//! misbehave the ways a real server and network do.
//!
//! What it owns:
//! - [`UploadServer`]: axum over hyper's HTTP/1 connections, TLS by
//!   tokio-rustls with a certificate from a per-server [`TestCa`] (its PEM in
//!   [`UploadServer::ca_file`], for `[upload] ca_file`), on its own tokio
//!   runtime so sync tests (the CLI's) and async tests (any runtime flavour)
//!   use it alike;
//! - [`Mode`]: how it answers now — normally, not at all (`Refuse`: the port
//!   is closed and every open connection with it), with a status
//!   (500/503/429 with an optional `Retry-After`), by applying a batch and then
//!   closing the connection without an answer (`CommitThenDrop`), by reading
//!   the request and never answering (`Hang`), with 413 above a number of
//!   items (`TooLarge`), or with 401 to everything (`Unauthorized`);
//! - the record of every request ([`Received`]: headers, raw body, the
//!   decoded batch's id, site and item seqs, the time, the mode met and the
//!   answer given), a counter of requests per mode, and what was applied:
//!   per `Idempotency-Key` and per `(site_id, seq)` how often.
//!
//! Invariants:
//! - **loopback only**: [`UploadServer::start`] refuses (panics on) any
//!   address outside `127.0.0.0/8`;
//! - **a batch is applied at most once per `Idempotency-Key`**: a repeat
//!   answers the stored [`Ack`] with `duplicate: true` and applies nothing;
//!   [`UploadServer::applied`] therefore counts how often an item arrived in
//!   *different* batches (more than 1 = a sender that re-batched an item
//!   under a new key);
//! - in `Normal`, `CommitThenDrop` and `TooLarge` modes a request must carry
//!   `Authorization: Bearer <token>` (else 401), `Content-Encoding: gzip`, a
//!   body [`protocol::decode`] accepts and an `Idempotency-Key` equal to its
//!   `batch_id` (else 400) — the checks a strict real server makes; a
//!   `GET` or `HEAD` (the connectivity test) is answered 200, or 401 when
//!   it carries a wrong token;
//! - mode changes are synchronous: when [`UploadServer::set_mode`] returns,
//!   the port is closed (`Refuse`) or accepting again (anything else, on the
//!   same port), and requests read from then on meet the new mode;
//! - stopped on `Drop`: the listener and every connection are closed before
//!   `drop` returns; the runtime's threads end in the background.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use printscout_engine::uplink::protocol::{self, Ack, Batch, IDEMPOTENCY_KEY};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The path [`UploadServer::url`] names (any path is answered alike).
pub const UPLOAD_PATH: &str = "/v1/batches";

/// The largest body the receiver reads (64 MiB, the decoder's own limit).
const MAX_BODY: usize = 64 << 20;

/// How long a synchronous mode change or stop waits for the runtime.
const CONTROL_WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Modes and records

/// How the receiver answers, set with [`UploadServer::set_mode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Checks, applies (once per key) and answers 200 with an [`Ack`].
    Normal,
    /// Not listening: connecting is refused, and every connection open when
    /// the mode was set is closed.
    Refuse,
    /// Answers this status (500, 503, 429, …) with `Retry-After: <value>`
    /// when given, without looking at the request.
    Status(u16, Option<String>),
    /// Applies the batch as `Normal` would, then closes the connection
    /// without answering (a server that committed and then crashed or lost
    /// the connection).
    CommitThenDrop,
    /// Reads the whole request and never answers (the connection stays open
    /// until the client gives up, the mode becomes `Refuse` or the server
    /// stops).
    Hang,
    /// As `Normal`, but a batch with more than `max_items` items is answered
    /// 413 (and not applied).
    TooLarge {
        /// The most items a batch may carry.
        max_items: usize,
    },
    /// 401 (`WWW-Authenticate: Bearer`) to every request, whatever its token.
    Unauthorized,
}

impl Mode {
    /// `Status(code, Some(seconds))`: a status with `Retry-After: <seconds>`.
    pub fn retry_after(code: u16, seconds: u64) -> Mode {
        Mode::Status(code, Some(seconds.to_string()))
    }

    /// A short stable name: `normal`, `refuse`, `status`, `commit_then_drop`,
    /// `hang`, `too_large`, `unauthorized` (the keys of
    /// [`UploadServer::requests_per_mode`]).
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Refuse => "refuse",
            Mode::Status(..) => "status",
            Mode::CommitThenDrop => "commit_then_drop",
            Mode::Hang => "hang",
            Mode::TooLarge { .. } => "too_large",
            Mode::Unauthorized => "unauthorized",
        }
    }
}

/// What the receiver did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answered with this status.
    Status(u16),
    /// Closed the connection without answering.
    Dropped,
    /// Never answered.
    Hung,
}

/// The batch a request carried, as decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSeen {
    /// `batch_id` (which a correct sender also sends as `Idempotency-Key`).
    pub batch_id: String,
    /// `site_id`.
    pub site_id: String,
    /// `schema`.
    pub schema: u32,
    /// `agent.version`.
    pub agent_version: String,
    /// `created_at` (ms).
    pub created_at: i64,
    /// The items' `seq`s, in body order.
    pub seqs: Vec<i64>,
    /// The items' `kind`s, in body order.
    pub kinds: Vec<String>,
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    /// When its body had been read.
    pub received: Instant,
    /// The same moment, ms since the Unix epoch.
    pub at_ms: i64,
    /// The [`Mode::name`] it met.
    pub mode: &'static str,
    /// `POST`, normally.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Every header, names in lower case, in arrival order (this includes
    /// `authorization`: test data, never log it).
    pub headers: Vec<(String, String)>,
    /// The body exactly as received (gzip).
    pub body: Vec<u8>,
    /// The decoded batch, when the body was one.
    pub batch: Option<BatchSeen>,
    /// Why the body was not a batch, when it was not.
    pub decode_error: Option<String>,
    /// What the receiver did.
    pub answer: Answer,
}

impl Received {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Idempotency-Key` header.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header(IDEMPOTENCY_KEY)
    }

    /// The item seqs of the batch (empty when the body was not one).
    pub fn seqs(&self) -> Vec<i64> {
        self.batch
            .as_ref()
            .map(|b| b.seqs.clone())
            .unwrap_or_default()
    }
}

/// An item as first applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredItem {
    /// The batch's `site_id`.
    pub site_id: String,
    /// `seq`.
    pub seq: i64,
    /// `kind`.
    pub kind: String,
    /// `at` (ms).
    pub at: i64,
    /// `data`, the JSON text exactly as sent.
    pub data: String,
    /// The `Idempotency-Key` of the batch that first applied it.
    pub key: String,
}

#[derive(Default)]
struct Record {
    requests: Vec<Received>,
    per_mode: BTreeMap<&'static str, usize>,
    /// The answer stored per applied key.
    acks: HashMap<String, Ack>,
    /// How often each key was applied (1, by construction).
    key_applied: BTreeMap<String, u32>,
    /// How often each `(site_id, seq)` was applied.
    applied: BTreeMap<(String, i64), u32>,
    /// The first application of each `(site_id, seq)`.
    items: BTreeMap<(String, i64), StoredItem>,
}

struct Shared {
    token: String,
    mode: Mutex<Mode>,
    record: Mutex<Record>,
    changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// TLS

/// A throw-away CA (its PEM written to [`TestCa::ca_file`]) and a rustls
/// server configuration with a certificate it signed for the given hosts
/// (IP addresses become IP SANs). Kept files live in a temp dir removed on
/// drop.
pub struct TestCa {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A CA and a server certificate for `hosts` (e.g. `["127.0.0.5",
    /// "127.0.0.1", "localhost"]`).
    pub fn new(hosts: &[&str]) -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "PrintScout test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let leaf_key = KeyPair::generate().expect("a server key");
        let names: Vec<String> = hosts.iter().map(|h| (*h).to_string()).collect();
        let mut leaf = CertificateParams::new(names).expect("server params");
        leaf.distinguished_name.push(
            DnType::CommonName,
            hosts.first().copied().unwrap_or("localhost"),
        );
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf
            .signed_by(&leaf_key, &issuer)
            .expect("the server certificate");

        let dir = tempfile::tempdir().expect("a temp dir for the CA");
        let ca_file = dir.path().join("ca.pem");
        let ca_pem = ca_cert.pem();
        std::fs::write(&ca_file, &ca_pem).expect("write ca.pem");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![leaf_cert.der().clone()], key)
            .expect("a TLS server configuration");
        TestCa {
            _dir: dir,
            ca_file,
            ca_pem,
            server: Arc::new(server),
        }
    }

    /// The CA certificate's PEM file (for `[upload] ca_file` / `--ca-file`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate as PEM text.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server side: the certificate the CA signed and its key.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }
}

// ---------------------------------------------------------------------------
// The server

/// The accept loop now running.
struct Listening {
    stop: tokio::sync::oneshot::Sender<()>,
    done: std::sync::mpsc::Receiver<()>,
}

/// The upload receiver (see the module documentation). Stopped on drop.
pub struct UploadServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca: Option<TestCa>,
    runtime: Option<tokio::runtime::Runtime>,
    listening: Mutex<Option<Listening>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for UploadServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadServer")
            .field("addr", &self.addr)
            .field("tls", &self.ca.is_some())
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

impl UploadServer {
    /// An HTTPS receiver on `ip` (in `127.0.0.0/8`), a free port, accepting
    /// `Authorization: Bearer <token>`, in [`Mode::Normal`].
    pub fn start_https(ip: &str, token: &str) -> UploadServer {
        Self::start(ip, 0, true, token)
    }

    /// The same over plain HTTP (`http://127.0.0.x:P/…`).
    pub fn start_http(ip: &str, token: &str) -> UploadServer {
        Self::start(ip, 0, false, token)
    }

    /// A receiver on `ip:port` (`port` 0 = a free one), HTTPS when `tls`.
    ///
    /// # Panics
    /// When `ip` is not an IPv4 loopback address or the port cannot be bound.
    pub fn start(ip: &str, port: u16, tls: bool, token: &str) -> UploadServer {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("{ip} is not an IP address: {e}"));
        assert!(
            matches!(ip, IpAddr::V4(v4) if v4.is_loopback()),
            "the upload receiver listens on 127.0.0.0/8 only, not {ip}"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("upload-server")
            .enable_all()
            .build()
            .expect("a tokio runtime for the upload receiver");
        let listener = StdListener::bind((ip, port))
            .unwrap_or_else(|e| panic!("bind the upload receiver on {ip}:{port}: {e}"));
        let addr = listener.local_addr().expect("the receiver's address");
        let ca = tls.then(|| {
            let ip_text = ip.to_string();
            TestCa::new(&[ip_text.as_str(), "127.0.0.1", "localhost"])
        });
        let server = UploadServer {
            shared: Arc::new(Shared {
                token: token.to_string(),
                mode: Mutex::new(Mode::Normal),
                record: Mutex::new(Record::default()),
                changed: Condvar::new(),
            }),
            addr,
            ca,
            runtime: Some(runtime),
            listening: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        server.listen_on(listener);
        server
    }

    /// `https://127.0.0.x:P/v1/batches` (or `http://`).
    pub fn url(&self) -> String {
        format!("{}{UPLOAD_PATH}", self.base_url())
    }

    /// `https://127.0.0.x:P` (or `http://`), no path.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The address it listens on (also while refusing: the port it will
    /// listen on again).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token it accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The test CA's PEM file (HTTPS only).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(TestCa::ca_file)
    }

    /// The test CA (HTTPS only).
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// The mode now.
    pub fn mode(&self) -> Mode {
        lock(&self.shared.mode).clone()
    }

    /// Changes how it answers from now on (see the module invariants:
    /// synchronous). Leaving `Refuse` listens again on the same port.
    ///
    /// # Panics
    /// When the port was taken by someone else meanwhile.
    pub fn set_mode(&self, mode: Mode) {
        let refuse = mode == Mode::Refuse;
        *lock(&self.shared.mode) = mode;
        if refuse {
            self.stop_listening();
            self.close_connections();
        } else if lock(&self.listening).is_none() {
            let listener = StdListener::bind(self.addr)
                .unwrap_or_else(|e| panic!("listen again on {}: {e}", self.addr));
            self.listen_on(listener);
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.shared.record).requests.clone()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.record).requests.len()
    }

    /// The requests that carried a batch (the uploads, without the
    /// connectivity test's HEAD and GET requests).
    pub fn uploads(&self) -> Vec<Received> {
        lock(&self.shared.record)
            .requests
            .iter()
            .filter(|r| r.batch.is_some())
            .cloned()
            .collect()
    }

    /// Requests per [`Mode::name`] met.
    pub fn requests_per_mode(&self) -> BTreeMap<&'static str, usize> {
        lock(&self.shared.record).per_mode.clone()
    }

    /// Requests that met the mode called `name`.
    pub fn requests_in(&self, name: &str) -> usize {
        lock(&self.shared.record)
            .per_mode
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// How often each `(site_id, seq)` was applied (in different batches).
    pub fn applied(&self) -> BTreeMap<(String, i64), u32> {
        lock(&self.shared.record).applied.clone()
    }

    /// How often each `Idempotency-Key` was applied (1 each, by design).
    pub fn keys_applied(&self) -> BTreeMap<String, u32> {
        lock(&self.shared.record).key_applied.clone()
    }

    /// The applied items, by `(site_id, seq)`, as first applied.
    pub fn items(&self) -> Vec<StoredItem> {
        lock(&self.shared.record).items.values().cloned().collect()
    }

    /// Waits (blocking this thread) until `done` holds for the requests so
    /// far or `timeout` passes; whether it held.
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&[Received]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut record = lock(&self.shared.record);
        loop {
            if done(&record.requests) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            record = self
                .shared
                .changed
                .wait_timeout(record, left.min(Duration::from_millis(100)))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// [`wait_until`](Self::wait_until) at least `n` requests arrived.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |r| r.len() >= n)
    }

    /// The same for async tests: polls every 10 ms with the caller's timer.
    pub async fn requests_reach(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.request_count() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the server is dropped")
    }

    fn listen_on(&self, listener: StdListener) {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let shared = self.shared.clone();
        let acceptor = self
            .ca
            .as_ref()
            .map(|ca| TlsAcceptor::from(ca.server_config()));
        let connections = self.connections.clone();
        self.runtime().spawn(async move {
            accept_loop(listener, acceptor, shared, connections, stop_rx).await;
            let _ = done_tx.send(());
        });
        *lock(&self.listening) = Some(Listening { stop, done });
    }

    fn stop_listening(&self) {
        let listening = lock(&self.listening).take();
        if let Some(Listening { stop, done }) = listening {
            let _ = stop.send(());
            let _ = done.recv_timeout(CONTROL_WAIT);
        }
    }

    /// Aborts every connection task and waits until they are gone (their
    /// sockets closed).
    fn close_connections(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.connections));
        for t in &tasks {
            t.abort();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime().spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(CONTROL_WAIT);
    }
}

impl Drop for UploadServer {
    fn drop(&mut self) {
        self.stop_listening();
        self.close_connections();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: StdListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let task = tokio::spawn(serve(stream, acceptor.clone(), shared.clone()));
                let mut open = lock(&connections);
                open.retain(|t| !t.is_finished());
                open.push(task);
            }
        }
    }
}

/// What a request's handler shares with its connection.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    /// Notified to close this connection without answering.
    kill: Arc<Notify>,
}

async fn serve(stream: tokio::net::TcpStream, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let kill = Arc::new(Notify::new());
    let router = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Ctx {
            shared,
            kill: kill.clone(),
        });
    let service = TowerToHyperService::new(router);
    let http = hyper::server::conn::http1::Builder::new();
    match acceptor {
        Some(acceptor) => {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            tokio::select! {
                _ = http.serve_connection(TokioIo::new(tls), service) => {}
                _ = kill.notified() => {}
            }
        }
        None => {
            tokio::select! {
                _ = http.serve_connection(TokioIo::new(stream), service) => {}
                _ = kill.notified() => {}
            }
        }
    }
}

/// What to do once the request is recorded.
enum Outcome {
    Respond(Response),
    Drop,
    Hang,
}

async fn receive(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mode = lock(&ctx.shared.mode).clone();
    let (batch, decode_error) = match protocol::decode(&body) {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let outcome = {
        let mut record = lock(&ctx.shared.record);
        let (answer, outcome) = decide(
            &mode,
            &ctx.shared.token,
            &method,
            &headers,
            batch.as_ref(),
            decode_error.as_deref(),
            &mut record,
        );
        let seen = Received {
            received: Instant::now(),
            at_ms: now_ms(),
            mode: mode.name(),
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), ToString::to_string),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            batch: batch.as_ref().map(|b| BatchSeen {
                batch_id: b.batch_id.clone(),
                site_id: b.site_id.clone(),
                schema: b.schema,
                agent_version: b.agent.version.clone(),
                created_at: b.created_at,
                seqs: b.items.iter().map(|i| i.seq).collect(),
                kinds: b.items.iter().map(|i| i.kind.clone()).collect(),
            }),
            decode_error,
            answer,
        };
        record.requests.push(seen);
        *record.per_mode.entry(mode.name()).or_insert(0) += 1;
        ctx.shared.changed.notify_all();
        outcome
    };
    match outcome {
        Outcome::Respond(r) => r,
        Outcome::Drop => {
            ctx.kill.notify_one();
            std::future::pending().await
        }
        Outcome::Hang => std::future::pending().await,
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

/// Decides the answer; applies the batch when it is accepted.
fn decide(
    mode: &Mode,
    token: &str,
    method: &Method,
    headers: &HeaderMap,
    batch: Option<&Batch>,
    decode_error: Option<&str>,
    record: &mut Record,
) -> (Answer, Outcome) {
    let respond = |r: Response| (Answer::Status(r.status().as_u16()), Outcome::Respond(r));
    match mode {
        Mode::Refuse => return (Answer::Dropped, Outcome::Drop),
        Mode::Hang => return (Answer::Hung, Outcome::Hang),
        Mode::Unauthorized => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "token_rejected",
                "the site token is not valid",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return respond(r);
        }
        Mode::Status(code, retry_after) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = error(status, "told_to", "the test told the receiver to say this");
            if let Some(value) = retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                r.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return respond(r);
        }
        Mode::Normal | Mode::CommitThenDrop | Mode::TooLarge { .. } => {}
    }

    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")));
    if method == Method::GET || method == Method::HEAD {
        // The connectivity test: any answer is "reachable"; a token, when
        // sent, is checked.
        if authorization.is_some_and(|bearer| bearer != Some(token)) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "token_rejected",
                "the site token is not valid",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return respond(r);
        }
        let body = serde_json::json!({ "service": "printscout test receiver" });
        return respond((StatusCode::OK, axum::Json(body)).into_response());
    }
    if method != Method::POST {
        return respond(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "batches are POSTed",
        ));
    }
    if authorization.flatten() != Some(token) {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "token_rejected",
            "the site token is missing or not valid",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return respond(r);
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return respond(error(
            StatusCode::BAD_REQUEST,
            "bad_encoding",
            "the body must be sent with Content-Encoding: gzip",
        ));
    }
    let Some(batch) = batch else {
        return respond(error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            decode_error.unwrap_or("not a batch"),
        ));
    };
    let Some(key) = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return respond(error(
            StatusCode::BAD_REQUEST,
            "no_idempotency_key",
            "the Idempotency-Key header is missing",
        ));
    };
    if key != batch.batch_id {
        return respond(error(
            StatusCode::BAD_REQUEST,
            "key_mismatch",
            "the Idempotency-Key differs from the batch_id",
        ));
    }
    if let Mode::TooLarge { max_items } = mode
        && batch.items.len() > *max_items
    {
        return respond(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "a batch may carry {max_items} items, this one has {}",
                batch.items.len()
            ),
        ));
    }

    let ack = match record.acks.get(&key) {
        Some(stored) => Ack {
            duplicate: true,
            ..stored.clone()
        },
        None => {
            for item in &batch.items {
                let id = (batch.site_id.clone(), item.seq);
                *record.applied.entry(id.clone()).or_insert(0) += 1;
                record.items.entry(id).or_insert_with(|| StoredItem {
                    site_id: batch.site_id.clone(),
                    seq: item.seq,
                    kind: item.kind.clone(),
                    at: item.at,
                    data: item.data.get().to_string(),
                    key: key.clone(),
                });
            }
            *record.key_applied.entry(key.clone()).or_insert(0) += 1;
            let ack = Ack {
                batch_id: batch.batch_id.clone(),
                accepted: batch.items.len() as u64,
                duplicate: false,
                rejected: Vec::new(),
            };
            record.acks.insert(key, ack.clone());
            ack
        }
    };
    if *mode == Mode::CommitThenDrop {
        return (Answer::Dropped, Outcome::Drop);
    }
    respond((StatusCode::OK, axum::Json(ack)).into_response())
}

#[cfg(test)]
mod tests {
    //! The receiver against an independent client (`curl`), on loopback.

    use super::*;
    use printscout_engine::uplink::protocol::{Agent, Item, SCHEMA_VERSION, encode};
    use serde_json::value::RawValue;
    use std::process::Command;

    const TOKEN: &str = "receiver-test-token";

    fn batch(id: &str, seqs: std::ops::RangeInclusive<i64>) -> Batch {
        Batch {
            schema: SCHEMA_VERSION,
            batch_id: id.into(),
            site_id: "site-a".into(),
            agent: Agent::this(),
            created_at: 1,
            items: seqs
                .map(|seq| Item {
                    seq,
                    kind: "meters".into(),
                    at: seq * 10,
                    data: RawValue::from_string(format!(r#"{{"total":{seq}}}"#)).expect("json"),
                })
                .collect(),
        }
    }

    /// What curl saw: its exit code, the status (0 = none) and the body.
    struct Reply {
        exit: i32,
        status: u16,
        headers: String,
        body: String,
    }

    fn post(server: &UploadServer, b: &Batch, key: Option<&str>, token: &str) -> Reply {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (gz, _) = encode(b).expect("encode");
        let body_file = dir.path().join("body.gz");
        std::fs::write(&body_file, gz).expect("write the body");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--max-time", "2", "-o"])
            .arg(dir.path().join("out"))
            .arg("-D")
            .arg(dir.path().join("head"))
            .args(["-w", "%{http_code}", "-X", "POST"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-H", "Content-Type: application/json"])
            .args(["-H", "Content-Encoding: gzip"])
            .arg("--data-binary")
            .arg(format!("@{}", body_file.display()));
        if let Some(key) = key {
            cmd.args(["-H", &format!("{IDEMPOTENCY_KEY}: {key}")]);
        }
        if let Some(ca) = server.ca_file() {
            cmd.arg("--cacert").arg(ca);
        }
        cmd.arg(server.url());
        let out = cmd.output().expect("curl runs (apt-get install curl)");
        Reply {
            exit: out.status.code().unwrap_or(-1),
            status: String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0),
            headers: std::fs::read_to_string(dir.path().join("head")).unwrap_or_default(),
            body: std::fs::read_to_string(dir.path().join("out")).unwrap_or_default(),
        }
    }

    #[test]
    fn a_batch_is_applied_once_and_its_repeat_answers_the_stored_ack_as_a_duplicate() {
        let server = UploadServer::start_https("127.0.0.1", TOKEN);
        let b = batch("k1", 1..=3);
        let first = post(&server, &b, Some("k1"), TOKEN);
        assert_eq!((first.exit, first.status), (0, 200), "{}", first.body);
        let ack: Ack = serde_json::from_str(&first.body).expect("an ack");
        assert_eq!((ack.accepted, ack.duplicate), (3, false));
        let again = post(&server, &b, Some("k1"), TOKEN);
        let ack: Ack = serde_json::from_str(&again.body).expect("an ack");
        assert_eq!(
            (ack.batch_id.as_str(), ack.accepted, ack.duplicate),
            ("k1", 3, true)
        );
        assert_eq!(server.keys_applied().get("k1"), Some(&1));
        assert!(server.applied().values().all(|n| *n == 1));
        assert_eq!(server.items().len(), 3);
        assert_eq!(server.items()[1].data, r#"{"total":2}"#);
        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].idempotency_key(), Some("k1"));
        assert_eq!(seen[0].seqs(), vec![1, 2, 3]);
        assert_eq!(seen[0].body, seen[1].body);
        assert_eq!(seen[0].path, UPLOAD_PATH);
        assert_eq!(server.requests_in("normal"), 2);
    }

    #[test]
    fn a_wrong_token_a_missing_key_or_a_key_unlike_the_batch_id_is_refused() {
        let server = UploadServer::start_http("127.0.0.1", TOKEN);
        let b = batch("k2", 1..=1);
        let r = post(&server, &b, Some("k2"), "wrong");
        assert_eq!(r.status, 401);
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
        assert_eq!(post(&server, &b, None, TOKEN).status, 400);
        assert_eq!(post(&server, &b, Some("other"), TOKEN).status, 400);
        assert!(server.applied().is_empty());
        server.set_mode(Mode::Unauthorized);
        assert_eq!(post(&server, &b, Some("k2"), TOKEN).status, 401);
        assert!(server.applied().is_empty());
    }

    #[test]
    fn refusing_closes_the_port_and_listening_again_reopens_the_same_one() {
        let server = UploadServer::start_https("127.0.0.3", TOKEN);
        let addr = server.addr();
        server.set_mode(Mode::Refuse);
        let r = post(&server, &batch("k3", 1..=1), Some("k3"), TOKEN);
        assert_eq!((r.exit, r.status), (7, 0), "curl: could not connect");
        assert_eq!(server.request_count(), 0);
        server.set_mode(Mode::Normal);
        assert_eq!(server.addr(), addr);
        assert_eq!(
            post(&server, &batch("k3", 1..=1), Some("k3"), TOKEN).status,
            200
        );
    }

    #[test]
    fn a_status_mode_answers_with_its_retry_after_and_applies_nothing() {
        let server = UploadServer::start_http("127.0.0.1", TOKEN);
        server.set_mode(Mode::retry_after(429, 2));
        let r = post(&server, &batch("k4", 1..=2), Some("k4"), TOKEN);
        assert_eq!(r.status, 429);
        assert!(
            r.headers.to_ascii_lowercase().contains("retry-after: 2"),
            "{}",
            r.headers
        );
        server.set_mode(Mode::Status(503, None));
        assert_eq!(
            post(&server, &batch("k4", 1..=2), Some("k4"), TOKEN).status,
            503
        );
        assert!(server.applied().is_empty());
        assert_eq!(server.requests_in("status"), 2);
        assert_eq!(server.requests()[0].answer, Answer::Status(429));
    }

    #[test]
    fn too_large_answers_413_above_its_limit_and_applies_below_it() {
        let server = UploadServer::start_http("127.0.0.1", TOKEN);
        server.set_mode(Mode::TooLarge { max_items: 2 });
        assert_eq!(
            post(&server, &batch("k5", 1..=3), Some("k5"), TOKEN).status,
            413
        );
        assert_eq!(
            post(&server, &batch("k6", 1..=2), Some("k6"), TOKEN).status,
            200
        );
        assert_eq!(server.applied().len(), 2);
    }

    #[test]
    fn commit_then_drop_applies_and_closes_without_an_answer() {
        let server = UploadServer::start_https("127.0.0.1", TOKEN);
        server.set_mode(Mode::CommitThenDrop);
        let r = post(&server, &batch("k7", 1..=2), Some("k7"), TOKEN);
        assert_ne!(r.exit, 0);
        assert_eq!(r.status, 0);
        assert_eq!(server.keys_applied().get("k7"), Some(&1));
        assert_eq!(server.requests()[0].answer, Answer::Dropped);
        server.set_mode(Mode::Normal);
        let again = post(&server, &batch("k7", 1..=2), Some("k7"), TOKEN);
        let ack: Ack = serde_json::from_str(&again.body).expect("an ack");
        assert!(ack.duplicate);
        assert_eq!(server.keys_applied().get("k7"), Some(&1));
    }

    #[test]
    fn a_hanging_receiver_reads_the_request_and_never_answers() {
        let server = UploadServer::start_http("127.0.0.1", TOKEN);
        server.set_mode(Mode::Hang);
        let r = post(&server, &batch("k8", 1..=1), Some("k8"), TOKEN);
        assert_eq!((r.exit, r.status), (28, 0), "curl timed out");
        assert!(server.wait_for_requests(1, Duration::from_secs(1)));
        assert_eq!(server.requests()[0].seqs(), vec![1]);
        assert!(server.applied().is_empty());
    }

    #[test]
    fn the_connectivity_tests_head_is_answered_and_a_wrong_token_on_it_is_401() {
        let server = UploadServer::start_https("127.0.0.1", TOKEN);
        let ca = server.ca_file().expect("a CA").to_path_buf();
        let head = |auth: Option<&str>| {
            let mut cmd = Command::new("curl");
            cmd.args([
                "-s",
                "-I",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
            ])
            .arg(&ca);
            if let Some(token) = auth {
                cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
            }
            let out = cmd.arg(server.url()).output().expect("curl runs");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert_eq!(head(None), "200");
        assert_eq!(head(Some(TOKEN)), "200");
        assert_eq!(head(Some("wrong")), "401");
        assert!(server.uploads().is_empty());
        assert_eq!(server.request_count(), 3);
    }

    #[test]
    #[should_panic(expected = "127.0.0.0/8 only")]
    fn an_address_off_loopback_is_refused() {
        let _ = UploadServer::start_http("0.0.0.0", TOKEN);
    }
}
