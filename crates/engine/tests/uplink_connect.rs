//! Proxy discovery and the connectivity test against real peers: Debian's
//! tinyproxy (run here in the foreground with a generated configuration and
//! Basic authentication, stopped by its PID), and HTTP and HTTPS servers
//! written in this file (the HTTPS one with a certificate from a test CA made
//! with rcgen), plus `gsettings` over a keyfile backend for GNOME's setting.
//!
//! Invariants of this file:
//! - network: every packet goes to 127.0.0.1 (our servers, our tinyproxy,
//!   and tinyproxy's upstream connections to our servers);
//! - the process environment is never changed: discovery gets an explicit
//!   snapshot, and the one test of `ProxyEnv::from_process` runs in a child
//!   process with its own environment;
//! - every secret in these tests contains `SENTINEL` where a leak would
//!   matter; one global tracing subscriber (TRACE, every target, and the
//!   `log` records of reqwest and hyper) keeps every log line so the sentinel
//!   test can search them.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use printscout_engine::config::{Config, ProxyMode};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{MemoryStore, PROXY_PASSWORD, SecretStore, UPLOAD_TOKEN};
use printscout_engine::uplink::{
    ConnectOptions, Outcome, PathKind, PathResult, ProxyEnv, Sources, SystemSource, discover_with,
    parse_target, test_paths_with,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// The secret whose leak the tests look for.
const SENTINEL: &str = "SENTINEL-uplink-9d2b";
/// The proxy user and the ordinary lab password (PEERS.md).
const USER: &str = "lab";
const PASSWORD: &str = "lab-secret";
/// The site token the token-checking server accepts.
const TOKEN: &str = "site-token-right";

// ---------------------------------------------------------------------------
// Logs

use printscout_testkit::logs::{capture_logs, logs_text};

// ---------------------------------------------------------------------------
// tinyproxy

/// tinyproxy in the foreground on 127.0.0.1:<free port>, `BasicAuth user
/// password`; stopped by its PID on drop.
struct Tinyproxy {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start(user: &str, password: &str) -> Tinyproxy {
        let dir = tempfile::tempdir().expect("a temp dir for tinyproxy");
        let port = free_port();
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 50\nAllow 127.0.0.1\nBasicAuth {user} {password}\nDisableViaHeader Yes\n",
                dir.path().join("tinyproxy.log").display()
            ),
        )
        .expect("write tinyproxy.conf");
        let mut child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy runs (apt-get install tinyproxy)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "tinyproxy exited ({status}): {}",
                    std::fs::read_to_string(dir.path().join("tinyproxy.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy { child, port, dir }
    }

    /// `http://127.0.0.1:PORT`, no credentials.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        // Our own child, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 nobody listens on now.
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ---------------------------------------------------------------------------
// The upload server stand-in

/// How the test server answers.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// 200 to everything.
    Ok,
    /// 200 with `Authorization: Bearer TOKEN`, else 401.
    RequireToken,
    /// 405 to HEAD, 200 to GET.
    NoHead,
    /// Reads the request and never answers.
    Hang,
    /// 302 to the same path on 127.0.0.1:PORT, or on itself (`None`).
    Redirect(Option<u16>),
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    authorization: Option<String>,
}

/// An HTTP or HTTPS server on 127.0.0.1 (stopped on drop).
struct Server {
    addr: SocketAddr,
    tls: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(behaviour: Behaviour, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        Self::start_on("127.0.0.1", behaviour, tls).await
    }

    /// On another loopback address.
    async fn start_on(
        ip: &str,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        let listener = TcpListener::bind((ip, 0))
            .await
            .expect("bind the test server");
        let addr = listener.local_addr().expect("its address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(s) = a.accept(stream).await {
                                answer(s, behaviour, addr.port(), log).await;
                            }
                        }
                        None => answer(stream, behaviour, addr.port(), log).await,
                    }
                });
            }
        });
        Server {
            addr,
            tls: tls.is_some(),
            seen,
            task,
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/v1/ping", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    behaviour: Behaviour,
    own_port: u16,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let method = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let authorization = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    let ok_token = authorization.as_deref() == Some(&format!("Bearer {TOKEN}"));
    if let Ok(mut l) = log.lock() {
        l.push(Seen {
            method: method.clone(),
            authorization,
        });
    }
    let location;
    let (status, extra) = match behaviour {
        Behaviour::Redirect(port) => {
            location = format!(
                "Location: http://127.0.0.1:{}/v1/ping\r\n",
                port.unwrap_or(own_port)
            );
            ("302 Found", location.as_str())
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Behaviour::Ok => ("200 OK", ""),
        Behaviour::RequireToken if ok_token => ("200 OK", ""),
        Behaviour::RequireToken => ("401 Unauthorized", "WWW-Authenticate: Bearer\r\n"),
        Behaviour::NoHead if method == "HEAD" => ("405 Method Not Allowed", "Allow: GET\r\n"),
        Behaviour::NoHead => ("200 OK", ""),
    };
    let response =
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n");
    let _ = s.write_all(response.as_bytes()).await;
    let _ = s.shutdown().await;
}

// ---------------------------------------------------------------------------
// TLS

/// A test CA (its PEM in `ca_file`) and a server configuration whose
/// certificate it signed, for 127.0.0.1 and localhost.
struct TestTls {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

fn test_tls() -> TestTls {
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
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");

    let dir = tempfile::tempdir().expect("a temp dir for the CA");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("write ca.pem");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .expect("a TLS server configuration");
    TestTls {
        _dir: dir,
        ca_file,
        server: Arc::new(server),
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// A valid configuration uploading to `upload`, with `[upload] ca_file` and
/// a manual proxy (`url`, `user`) when given.
fn config(upload: &str, ca_file: Option<&Path>, manual: Option<(&str, &str)>) -> Config {
    let mut c = Config::default();
    c.upload.url = upload.to_string();
    c.upload.ca_file = ca_file.map(Path::to_path_buf);
    if let Some((url, user)) = manual {
        c.proxy.mode = ProxyMode::Manual;
        c.proxy.url = url.to_string();
        c.proxy.user = user.to_string();
    }
    c.validate().expect("a valid test configuration");
    c
}

fn store(pairs: &[(&str, &str)]) -> Arc<dyn SecretStore> {
    let s = MemoryStore::new();
    for (name, value) in pairs {
        s.set(name, &Secret::new(*value))
            .expect("the memory store keeps it");
    }
    Arc::new(s)
}

/// No environment proxy, no system setting.
fn isolated() -> Sources {
    Sources {
        env: ProxyEnv::default(),
        system: SystemSource::Off,
    }
}

fn env(pairs: &[(&str, &str)]) -> Sources {
    Sources {
        env: ProxyEnv::from_vars(pairs.iter().copied()),
        system: SystemSource::Off,
    }
}

async fn run(config: &Config, secrets: Arc<dyn SecretStore>, sources: Sources) -> Vec<PathResult> {
    capture_logs();
    test_paths_with(config, secrets, None, sources, &ConnectOptions::default())
        .await
        .expect("the test runs")
}

fn path(results: &[PathResult], kind: PathKind) -> &PathResult {
    results
        .iter()
        .find(|r| r.path == kind)
        .unwrap_or_else(|| panic!("no {kind:?} path in {results:#?}"))
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_server_reached_directly_answers_ok() {
    let server = Server::start(Behaviour::Ok, None).await;
    let results = run(&config(&server.url(), None, None), store(&[]), isolated()).await;
    assert_eq!(results.len(), 1, "only the direct path: {results:#?}");
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::Ok, "{direct:#?}");
    assert!(direct.ok);
    assert_eq!(direct.status, Some(200));
    assert_eq!(direct.method.as_deref(), Some("HEAD"));
    assert_eq!(direct.proxy, None);
    assert!(!direct.token_sent);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_server_that_refuses_head_is_asked_with_get() {
    let server = Server::start(Behaviour::NoHead, None).await;
    let results = run(&config(&server.url(), None, None), store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::Ok, "{direct:#?}");
    assert_eq!(direct.method.as_deref(), Some("GET"));
    assert_eq!(direct.status, Some(200));
    let methods: Vec<String> = server.seen().into_iter().map(|s| s.method).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
}

#[tokio::test]
async fn the_manual_proxy_with_the_right_password_reaches_the_server() {
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, PASSWORD);
    let https = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;
    let http = Server::start(Behaviour::Ok, None).await;
    let secrets = store(&[(PROXY_PASSWORD, PASSWORD)]);

    // https:// goes through a CONNECT tunnel, with the extra CA trusted.
    let cfg = config(&https.url(), Some(&tls.ca_file), Some((&proxy.url(), USER)));
    let results = run(&cfg, secrets.clone(), isolated()).await;
    assert_eq!(results.len(), 2, "direct and manual: {results:#?}");
    let manual = path(&results, PathKind::Manual);
    assert_eq!(manual.code, Outcome::Ok, "{manual:#?}");
    assert_eq!(manual.status, Some(200));
    assert_eq!(
        manual.proxy.as_deref(),
        Some(format!("http://***@127.0.0.1:{}", proxy.port).as_str())
    );
    assert_eq!(path(&results, PathKind::Direct).code, Outcome::Ok);

    // http:// is forwarded in absolute form.
    let cfg = config(&http.url(), None, Some((&proxy.url(), USER)));
    let results = run(&cfg, secrets, isolated()).await;
    assert_eq!(
        path(&results, PathKind::Manual).code,
        Outcome::Ok,
        "{results:#?}"
    );

    let log = proxy.log();
    assert!(
        log.contains("CONNECT") && log.contains(&format!("127.0.0.1:{}", https.addr.port())),
        "tinyproxy's log shows the tunnel: {log}"
    );
    assert!(
        log.contains(&format!("{}", http.addr.port())),
        "tinyproxy's log shows the forwarded request: {log}"
    );
}

#[tokio::test]
async fn a_wrong_proxy_password_is_proxy_auth_failed() {
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, PASSWORD);
    let https = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;
    let http = Server::start(Behaviour::Ok, None).await;
    let secrets = store(&[(PROXY_PASSWORD, "not-the-password")]);

    for (url, ca) in [
        (https.url(), Some(tls.ca_file.as_path())),
        (http.url(), None),
    ] {
        let cfg = config(&url, ca, Some((&proxy.url(), USER)));
        let results = run(&cfg, secrets.clone(), isolated()).await;
        let manual = path(&results, PathKind::Manual);
        assert_eq!(manual.code, Outcome::ProxyAuthFailed, "{url}: {manual:#?}");
        assert_eq!(
            manual.status,
            Some(401),
            "tinyproxy answers 401: {manual:#?}"
        );
        assert!(!manual.ok);
        assert!(
            manual
                .message
                .contains("proxy refused the user or password"),
            "{}",
            manual.message
        );
    }
    assert!(
        https.seen().len() == 1 && http.seen().len() == 1,
        "only direct reached them"
    );
}

#[tokio::test]
async fn a_proxy_without_a_password_is_proxy_auth_failed() {
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, PASSWORD);
    let https = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;
    let http = Server::start(Behaviour::Ok, None).await;

    for (url, ca) in [
        (https.url(), Some(tls.ca_file.as_path())),
        (http.url(), None),
    ] {
        let cfg = config(&url, ca, Some((&proxy.url(), "")));
        let results = run(&cfg, store(&[]), isolated()).await;
        let manual = path(&results, PathKind::Manual);
        assert_eq!(manual.code, Outcome::ProxyAuthFailed, "{url}: {manual:#?}");
        assert_eq!(manual.status, Some(407), "{manual:#?}");
        assert_eq!(manual.proxy.as_deref(), Some(proxy.url().as_str()));
    }
}

#[tokio::test]
async fn a_refused_site_token_is_token_rejected_and_a_right_one_is_ok() {
    let server = Server::start(Behaviour::RequireToken, None).await;
    let cfg = config(&server.url(), None, None);

    let results = run(
        &cfg,
        store(&[(UPLOAD_TOKEN, "site-token-wrong")]),
        isolated(),
    )
    .await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::TokenRejected, "{direct:#?}");
    assert_eq!(direct.status, Some(401));
    assert!(direct.token_sent);
    assert!(
        direct.message.contains("refused the site token"),
        "{}",
        direct.message
    );

    let results = run(&cfg, store(&[(UPLOAD_TOKEN, TOKEN)]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::Ok, "{direct:#?}");
    assert_eq!(
        server.seen().last().and_then(|s| s.authorization.clone()),
        Some(format!("Bearer {TOKEN}")),
        "the token goes as a bearer token"
    );

    // No token at all: the server's 401 is an answer, not a rejection.
    let results = run(&cfg, store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!((direct.code, direct.status), (Outcome::Ok, Some(401)));
    assert!(
        direct.message.contains("no site token is set"),
        "{}",
        direct.message
    );
}

#[tokio::test]
async fn the_site_token_is_not_sent_to_an_address_other_than_the_upload_server() {
    let upload = Server::start(Behaviour::Ok, None).await;
    let other = Server::start(Behaviour::Ok, None).await;
    capture_logs();
    let results = test_paths_with(
        &config(&upload.url(), None, None),
        store(&[(UPLOAD_TOKEN, TOKEN)]),
        Some(parse_target(&other.url()).expect("a URL")),
        isolated(),
        &ConnectOptions::default(),
    )
    .await
    .expect("the test runs");
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::Ok);
    assert!(!direct.token_sent);
    assert_eq!(other.seen().len(), 1);
    assert!(other.seen().iter().all(|s| s.authorization.is_none()));
    assert!(upload.seen().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_and_the_ca_file_fixes_it() {
    let tls = test_tls();
    let server = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;

    let results = run(&config(&server.url(), None, None), store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::TlsError, "{direct:#?}");
    assert!(
        direct.message.contains("unknown issuer"),
        "{}",
        direct.message
    );
    assert_eq!(direct.status, None);

    let cfg = config(&server.url(), Some(&tls.ca_file), None);
    let results = run(&cfg, store(&[]), isolated()).await;
    assert_eq!(
        path(&results, PathKind::Direct).code,
        Outcome::Ok,
        "{results:#?}"
    );

    // The certificate is for 127.0.0.1 and localhost, not for 127.0.0.2
    // (also loopback on Linux).
    let elsewhere = Server::start_on("127.0.0.2", Behaviour::Ok, Some(tls.server.clone())).await;
    let cfg = config(&elsewhere.url(), Some(&tls.ca_file), None);
    let results = run(&cfg, store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::TlsError, "{direct:#?}");
    assert!(
        direct.message.contains("not valid for 127.0.0.2"),
        "{}",
        direct.message
    );
}

#[tokio::test]
async fn a_redirect_elsewhere_is_followed_without_the_site_token() {
    let elsewhere = Server::start(Behaviour::Ok, None).await;
    let upload = Server::start(Behaviour::Redirect(Some(elsewhere.addr.port())), None).await;
    let results = run(
        &config(&upload.url(), None, None),
        store(&[(UPLOAD_TOKEN, TOKEN)]),
        isolated(),
    )
    .await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(
        (direct.code, direct.status),
        (Outcome::Ok, Some(200)),
        "{direct:#?}"
    );
    assert_eq!(
        upload.seen()[0].authorization,
        Some(format!("Bearer {TOKEN}"))
    );
    assert_eq!(elsewhere.seen().len(), 1);
    assert_eq!(
        elsewhere.seen()[0].authorization,
        None,
        "the token stays with its origin"
    );
}

#[tokio::test]
async fn redirects_are_followed_three_times_at_most() {
    let looping = Server::start(Behaviour::Redirect(None), None).await;
    let results = run(&config(&looping.url(), None, None), store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(
        (direct.code, direct.status),
        (Outcome::Ok, Some(302)),
        "{direct:#?}"
    );
    assert_eq!(looping.seen().len(), 4, "the request and three redirects");
}

#[tokio::test]
async fn a_closed_port_is_connect_failed_directly_and_through_a_proxy() {
    let closed = free_port();
    let upload = format!("http://127.0.0.1:{closed}/");
    let dead_proxy = format!("http://127.0.0.1:{}", free_port());
    let cfg = config(&upload, None, Some((&dead_proxy, "")));
    let results = run(&cfg, store(&[]), isolated()).await;
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::ConnectFailed, "{direct:#?}");
    assert!(
        direct.message.contains("connection refused"),
        "{}",
        direct.message
    );
    let manual = path(&results, PathKind::Manual);
    assert_eq!(manual.code, Outcome::ConnectFailed, "{manual:#?}");
    assert!(manual.message.contains("the proxy"), "{}", manual.message);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let server = Server::start(Behaviour::Hang, None).await;
    let options = ConnectOptions {
        timeout: Duration::from_millis(300),
        ..ConnectOptions::default()
    };
    capture_logs();
    let started = Instant::now();
    let results = test_paths_with(
        &config(&server.url(), None, None),
        store(&[]),
        None,
        isolated(),
        &options,
    )
    .await
    .expect("the test runs");
    let direct = path(&results, PathKind::Direct);
    assert_eq!(direct.code, Outcome::Timeout, "{direct:#?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_environment_proxy_is_taken_from_the_snapshot_and_no_proxy_is_honoured() {
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, PASSWORD);
    let server = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;
    let with_password = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", proxy.port);
    let cfg = {
        let mut c = config(&server.url(), Some(&tls.ca_file), None);
        c.proxy.mode = ProxyMode::Environment;
        c
    };

    let sources = env(&[("https_proxy", with_password.as_str())]);
    let report = discover_with(&cfg, &MemoryStore::new(), &sources);
    assert_eq!(report.in_use.path, PathKind::Environment, "{report:#?}");
    let shown = format!("http://***@127.0.0.1:{}", proxy.port);
    assert_eq!(report.in_use.url.as_deref(), Some(shown.as_str()));
    let var = &report.environment.variables[0];
    assert_eq!(
        (var.name.as_str(), var.credentials, var.used),
        ("https_proxy", true, true)
    );

    let results = run(&cfg, store(&[]), sources).await;
    let through = path(&results, PathKind::Environment);
    assert_eq!(through.code, Outcome::Ok, "{through:#?}");
    assert_eq!(through.proxy.as_deref(), Some(shown.as_str()));
    assert!(proxy.log().contains("CONNECT"), "{}", proxy.log());

    // NO_PROXY lists the server: the environment path goes direct.
    let sources = env(&[
        ("HTTPS_PROXY", with_password.as_str()),
        ("NO_PROXY", "localhost,127.0.0.0/8"),
    ]);
    let report = discover_with(&cfg, &MemoryStore::new(), &sources);
    assert_eq!(report.in_use.path, PathKind::Direct, "{report:#?}");
    assert!(
        report.in_use.reason.contains("NO_PROXY"),
        "{}",
        report.in_use.reason
    );
    let results = run(&cfg, store(&[]), sources).await;
    let bypass = path(&results, PathKind::Environment);
    assert_eq!((bypass.code, bypass.proxy.as_deref()), (Outcome::Ok, None));
    assert!(
        bypass
            .note
            .as_deref()
            .is_some_and(|n| n.contains("NO_PROXY"))
    );
}

#[tokio::test]
async fn a_socks_proxy_in_the_environment_is_reported_as_unusable() {
    let server = Server::start(Behaviour::Ok, None).await;
    let cfg = config(&server.url(), None, None);
    let results = run(
        &cfg,
        store(&[]),
        env(&[("ALL_PROXY", "socks5://127.0.0.1:1")]),
    )
    .await;
    let through = path(&results, PathKind::Environment);
    assert_eq!(through.code, Outcome::ProxyInvalid, "{through:#?}");
    assert!(through.message.contains("SOCKS"), "{}", through.message);
}

/// Writes GNOME's proxy setting for `gsettings` with a keyfile backend.
fn gnome_keyfile(dir: &Path, mode: &str, port: u16, user: &str, password: &str) -> SystemSource {
    let settings = dir.join("glib-2.0/settings");
    std::fs::create_dir_all(&settings).expect("the keyfile directory");
    std::fs::write(
        settings.join("keyfile"),
        format!(
            "[system/proxy]\nmode='{mode}'\nignore-hosts=['localhost', '::1']\n\n\
             [system/proxy/http]\nhost='127.0.0.1'\nport={port}\nuse-authentication=true\n\
             authentication-user='{user}'\nauthentication-password='{password}'\n"
        ),
    )
    .expect("write the keyfile");
    SystemSource::Gsettings {
        program: PathBuf::from("gsettings"),
        env: vec![
            ("GSETTINGS_BACKEND".into(), "keyfile".into()),
            ("XDG_CONFIG_HOME".into(), dir.display().to_string()),
        ],
    }
}

#[tokio::test]
async fn gnomes_manual_proxy_is_the_system_path() {
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, PASSWORD);
    let server = Server::start(Behaviour::Ok, Some(tls.server.clone())).await;
    let dir = tempfile::tempdir().expect("a temp XDG_CONFIG_HOME");
    let sources = Sources {
        env: ProxyEnv::default(),
        system: gnome_keyfile(dir.path(), "manual", proxy.port, USER, PASSWORD),
    };
    let cfg = config(&server.url(), Some(&tls.ca_file), None);

    let report = discover_with(&cfg, &MemoryStore::new(), &sources);
    assert!(
        report.system.available,
        "gsettings and the GNOME schemas are installed (apt-get install libglib2.0-bin gsettings-desktop-schemas): {:#?}",
        report.system
    );
    assert_eq!(report.system.source, "gnome");
    assert_eq!(report.system.mode.as_deref(), Some("manual"));
    assert!(report.system.credentials);
    assert_eq!(report.in_use.path, PathKind::System, "{report:#?}");

    let results = run(&cfg, store(&[]), sources).await;
    let system = path(&results, PathKind::System);
    assert_eq!(system.code, Outcome::Ok, "{system:#?}");
    assert!(proxy.log().contains("CONNECT"));

    // GNOME's proxy with the wrong password.
    let dir = tempfile::tempdir().expect("a temp XDG_CONFIG_HOME");
    let sources = Sources {
        env: ProxyEnv::default(),
        system: gnome_keyfile(dir.path(), "manual", proxy.port, USER, "wrong"),
    };
    let results = run(&cfg, store(&[]), sources).await;
    assert_eq!(
        path(&results, PathKind::System).code,
        Outcome::ProxyAuthFailed
    );
}

#[tokio::test]
async fn a_missing_or_hanging_gsettings_is_not_available_within_two_seconds() {
    let cfg = config("https://upload.example/", None, None);
    let missing = Sources {
        env: ProxyEnv::default(),
        system: SystemSource::Gsettings {
            program: PathBuf::from("/nonexistent/gsettings"),
            env: Vec::new(),
        },
    };
    let report = discover_with(&cfg, &MemoryStore::new(), &missing);
    assert!(!report.system.available);
    assert!(
        report.system.detail.contains("not installed"),
        "{}",
        report.system.detail
    );
    assert_eq!(
        report.in_use.path,
        PathKind::Direct,
        "system, then the environment: none"
    );

    let dir = tempfile::tempdir().expect("a temp dir");
    let slow = dir.path().join("gsettings");
    std::fs::write(&slow, "#!/bin/sh\nexec sleep 30\n").expect("write a slow gsettings");
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod it");
    let hanging = Sources {
        env: ProxyEnv::default(),
        system: SystemSource::Gsettings {
            program: slow,
            env: Vec::new(),
        },
    };
    let started = Instant::now();
    let report = discover_with(&cfg, &MemoryStore::new(), &hanging);
    let took = started.elapsed();
    assert!(!report.system.available);
    assert!(
        report.system.detail.contains("within 2 s"),
        "{}",
        report.system.detail
    );
    assert!(took < Duration::from_millis(2500), "gave up after {took:?}");
}

#[tokio::test]
async fn no_secret_reaches_a_report_a_result_an_error_or_a_log() {
    capture_logs();
    let tls = test_tls();
    let proxy = Tinyproxy::start(USER, SENTINEL);
    let server = Server::start(Behaviour::RequireToken, Some(tls.server.clone())).await;
    let in_env = format!("http://{USER}:{SENTINEL}@127.0.0.1:{}", proxy.port);
    let dir = tempfile::tempdir().expect("a temp XDG_CONFIG_HOME");
    let sources = Sources {
        env: ProxyEnv::from_vars([
            ("HTTPS_PROXY", in_env.as_str()),
            ("HTTP_PROXY", in_env.as_str()),
            ("ALL_PROXY", "lab:SENTINEL-uplink-9d2b@@127.0.0.1:1"),
        ]),
        system: gnome_keyfile(dir.path(), "manual", proxy.port, USER, SENTINEL),
    };
    let token = format!("{SENTINEL}-token");
    let secrets = store(&[(PROXY_PASSWORD, SENTINEL), (UPLOAD_TOKEN, &token)]);
    let mut cfg = config(
        &server.url(),
        Some(&tls.ca_file),
        Some((&proxy.url(), USER)),
    );
    cfg.proxy.mode = ProxyMode::System;

    let report = discover_with(&cfg, secrets.as_ref(), &sources);
    assert!(report.manual.password_set);
    let results = test_paths_with(
        &cfg,
        secrets.clone(),
        None,
        sources.clone(),
        &ConnectOptions::default(),
    )
    .await
    .expect("the test runs");
    assert_eq!(
        results.len(),
        4,
        "direct, environment, system, manual: {results:#?}"
    );
    for r in &results {
        // Every path carries the proxy password (or none); the server refuses the token.
        assert_eq!(r.code, Outcome::TokenRejected, "{r:#?}");
    }

    // A wrong password on every proxy, an unreachable one, errors.
    let wrong = format!("http://{USER}:wrong-{SENTINEL}@127.0.0.1:{}", proxy.port);
    let wrong_sources = Sources {
        env: ProxyEnv::from_vars([("HTTPS_PROXY", wrong.as_str())]),
        system: SystemSource::Off,
    };
    let failed = test_paths_with(
        &cfg,
        store(&[
            (PROXY_PASSWORD, &format!("wrong-{SENTINEL}")),
            (UPLOAD_TOKEN, &token),
        ]),
        None,
        wrong_sources,
        &ConnectOptions::default(),
    )
    .await
    .expect("the test runs");
    assert_eq!(
        path(&failed, PathKind::Environment).code,
        Outcome::ProxyAuthFailed
    );
    let refused = parse_target(&format!("https://user:{SENTINEL}@127.0.0.1/"))
        .expect_err("credentials in the address are refused");

    let everything = format!(
        "{}\n{report:?}\n{}\n{results:?}\n{}\n{failed:?}\n{refused}\n{refused:?}\n{sources:?}\n{secrets:?}",
        serde_json::to_string(&report).expect("the report serialises"),
        serde_json::to_string(&results).expect("results serialise"),
        serde_json::to_string(&failed).expect("results serialise"),
    );
    assert!(
        !everything.contains(SENTINEL),
        "a secret leaked:\n{everything}"
    );
    let logs = logs_text();
    assert!(!logs.is_empty(), "the subscriber captured something");
    for needle in [
        SENTINEL.to_string(),
        basic(&format!("{USER}:{SENTINEL}")),
        basic(&format!("{USER}:wrong-{SENTINEL}")),
    ] {
        assert!(!logs.contains(&needle), "{needle} is in the logs");
    }
}

/// The Basic credential text a header would carry.
fn basic(pair: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(pair)
}

/// Runs in a child process only (`UPLINK_TEST_CHILD=1`): prints the report
/// discovery makes from this process's own environment.
#[test]
fn child_prints_the_report_from_its_own_environment() {
    if std::env::var_os("UPLINK_TEST_CHILD").is_none() {
        return;
    }
    let mut cfg = config("https://upload.example/", None, None);
    cfg.proxy.mode = ProxyMode::Environment;
    let sources = Sources {
        env: ProxyEnv::from_process(),
        system: SystemSource::Off,
    };
    let report = discover_with(&cfg, &MemoryStore::new(), &sources);
    println!(
        "REPORT>{}<REPORT",
        serde_json::to_string(&report).expect("the report serialises")
    );
}

#[test]
fn the_process_environment_is_read_in_a_child_with_its_own_variables() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_prints_the_report_from_its_own_environment",
            "--nocapture",
        ])
        .env("UPLINK_TEST_CHILD", "1")
        .env(
            "HTTPS_PROXY",
            format!("http://{USER}:{SENTINEL}@127.0.0.1:9"),
        )
        .env("NO_PROXY", "intranet.example")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let json = stdout
        .split_once("REPORT>")
        .and_then(|(_, r)| r.split_once("<REPORT"))
        .map(|(j, _)| j)
        .unwrap_or_else(|| panic!("no report in {stdout}"));
    let report: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(report["in_use"]["path"], "environment", "{report:#}");
    assert_eq!(report["in_use"]["url"], "http://***@127.0.0.1:9");
    assert_eq!(report["environment"]["no_proxy"][0], "intranet.example");
    assert!(!stdout.contains(SENTINEL), "{stdout}");
}
