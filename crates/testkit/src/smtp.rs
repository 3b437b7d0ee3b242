//! A real SMTP server for tests: aiosmtpd 1.4.6 (the venv `scripts/setup.sh` makes)
//! running `scripts/smtp-peer.py` on one loopback address.
//!
//! Owns: starting the peer in one of four TLS modes ([`SmtpTls`]), with or without AUTH
//! (PLAIN and LOGIN, one user), and reading back what it received ([`Received`]: the
//! raw message, the envelope, whether the session was encrypted, the AUTH user).
//!
//! Invariants:
//! - **Loopback only**: the address must be in 127.0.0.0/8 (a panic otherwise); the
//!   port is chosen by the peer itself (`:0`), so there is no race for a free port.
//! - **Secrets never on argv**: the AUTH password reaches the peer through its
//!   environment (`SMTP_PEER_PASSWORD`), which the script removes at once; the peer
//!   never logs or writes it.
//! - **Stopped by PID** on drop (SIGTERM, SIGKILL after 2 s, reaped); its spool, TLS
//!   files and log live in a temp dir removed with it.
//! - A message is visible only once complete (the peer writes, fsyncs and renames).

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;
use crate::{tools_home, workspace_root};

/// How long the peer may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the peer does TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// No TLS at all (STARTTLS not offered).
    None,
    /// STARTTLS offered, not required.
    Starttls,
    /// STARTTLS offered and required before MAIL (`530` otherwise).
    StarttlsRequired,
    /// TLS from the first byte (`smtps://`, port 465 in real life).
    Implicit,
}

/// How to start an [`SmtpPeer`].
#[derive(Clone)]
pub struct SmtpPeerOptions {
    /// The loopback address to listen on (e.g. `127.0.0.41`); the port is picked.
    pub ip: IpAddr,
    /// The TLS mode.
    pub tls: SmtpTls,
    /// The server certificate chain and its key, PEM (needed unless `tls` is `None`).
    pub cert_pem: Option<(String, String)>,
    /// `(user, password)`: AUTH PLAIN/LOGIN offered and required.
    pub auth: Option<(String, String)>,
    /// Also offer AUTH on an unencrypted connection (aiosmtpd offers it only after
    /// STARTTLS otherwise).
    pub auth_over_plain: bool,
}

impl std::fmt::Debug for SmtpPeerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPeerOptions")
            .field("ip", &self.ip)
            .field("tls", &self.tls)
            .field("auth_user", &self.auth.as_ref().map(|(u, _)| u))
            .field("auth_over_plain", &self.auth_over_plain)
            .finish_non_exhaustive()
    }
}

impl SmtpPeerOptions {
    /// A plain server (no TLS, no AUTH) on `ip`.
    pub fn plain(ip: IpAddr) -> SmtpPeerOptions {
        SmtpPeerOptions {
            ip,
            tls: SmtpTls::None,
            cert_pem: None,
            auth: None,
            auth_over_plain: false,
        }
    }

    /// The same with TLS in `mode` and this certificate chain and key (PEM).
    pub fn tls(mut self, mode: SmtpTls, cert_pem: &str, key_pem: &str) -> SmtpPeerOptions {
        self.tls = mode;
        self.cert_pem = Some((cert_pem.to_owned(), key_pem.to_owned()));
        self
    }

    /// The same with AUTH required for `user` / `password`.
    pub fn auth(mut self, user: &str, password: &str) -> SmtpPeerOptions {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

/// One message the peer accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// The message as received (headers and body, CRLF line ends).
    pub raw: Vec<u8>,
    /// `MAIL FROM`.
    pub mail_from: String,
    /// `RCPT TO`, in order.
    pub rcpt_tos: Vec<String>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS) when DATA came.
    pub encrypted: bool,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
}

/// The aiosmtpd peer. Dropping it stops the process by PID.
pub struct SmtpPeer {
    process: PeerProcess,
    /// Where it listens.
    pub addr: SocketAddr,
    spool: PathBuf,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl std::fmt::Debug for SmtpPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPeer")
            .field("addr", &self.addr)
            .field("pid", &self.process.pid())
            .finish_non_exhaustive()
    }
}

/// The Python of the aiosmtpd venv if installed: `$PRINTSCOUT_AIOSMTPD_PYTHON` when it
/// names a file, else `<tools_home>/venv-aiosmtpd/bin/python`.
pub fn find_aiosmtpd_python() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PRINTSCOUT_AIOSMTPD_PYTHON") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Some(bin);
        }
    }
    let bin = tools_home()
        .join("venv-aiosmtpd")
        .join("bin")
        .join("python");
    bin.is_file().then_some(bin)
}

impl SmtpPeer {
    /// Starts the peer and returns once it accepts connections.
    ///
    /// # Panics
    /// If the address is not loopback, aiosmtpd is not installed ("run
    /// scripts/setup.sh"), or the peer does not listen within 30 s (with its log).
    pub fn start(options: &SmtpPeerOptions) -> SmtpPeer {
        assert!(
            options.ip.is_loopback(),
            "the SMTP peer listens on loopback only, not {}",
            options.ip
        );
        let python = find_aiosmtpd_python().unwrap_or_else(|| {
            panic!(
                "aiosmtpd is not installed: run scripts/setup.sh (looked for \
                 $PRINTSCOUT_AIOSMTPD_PYTHON and {})",
                tools_home().join("venv-aiosmtpd/bin/python").display()
            )
        });
        let tmp = tempfile::Builder::new()
            .prefix("printscout-smtp-")
            .tempdir()
            .expect("create a temp dir for the SMTP peer");
        let spool = tmp.path().join("spool");
        let ready = tmp.path().join("ready");
        let log = tmp.path().join("smtp-peer.log");
        let script = workspace_root().join("scripts").join("smtp-peer.py");

        let mut command = Command::new(python);
        command
            .arg(&script)
            .arg(format!("--listen={}:0", options.ip))
            .arg(format!("--spool={}", spool.display()))
            .arg(format!("--ready-file={}", ready.display()));
        if options.tls != SmtpTls::None {
            let (cert, key) = options
                .cert_pem
                .as_ref()
                .expect("a TLS mode needs cert_pem (certificate chain and key)");
            let cert_file = tmp.path().join("server.crt");
            let key_file = tmp.path().join("server.key");
            std::fs::write(&cert_file, cert).expect("write the peer's certificate");
            std::fs::write(&key_file, key).expect("write the peer's key");
            command
                .arg(format!("--tls-cert={}", cert_file.display()))
                .arg(format!("--tls-key={}", key_file.display()))
                .arg(match options.tls {
                    SmtpTls::Starttls => "--starttls",
                    SmtpTls::StarttlsRequired => "--starttls-required",
                    _ => "--implicit-tls",
                });
        }
        command.env_remove("SMTP_PEER_PASSWORD");
        if let Some((user, password)) = &options.auth {
            command.arg(format!("--auth-user={user}"));
            command.env("SMTP_PEER_PASSWORD", password);
            if options.auth_over_plain {
                command.arg("--auth-over-plain");
            }
        }
        let out = File::create(&log).expect("create the SMTP peer's log");
        let err = out.try_clone().expect("clone the log file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));

        let started = Instant::now();
        let mut process = PeerProcess::spawn("smtp-peer", command, vec![log.clone()]);
        let port = loop {
            if let Some(status) = process.exited() {
                panic!(
                    "the SMTP peer exited ({status}) before listening:\n{}",
                    process.log_tail(40)
                );
            }
            if let Some(port) = std::fs::read_to_string(&ready)
                .ok()
                .and_then(|t| t.trim().parse::<u16>().ok())
            {
                break port;
            }
            if started.elapsed() > READY_TIMEOUT {
                panic!(
                    "the SMTP peer (pid {}) did not listen within {READY_TIMEOUT:?}:\n{}",
                    process.pid(),
                    process.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let addr = SocketAddr::new(options.ip, port);
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_or_else(|e| {
            panic!(
                "the SMTP peer says it listens on {addr} but a connection failed: {e}\n{}",
                process.log_tail(40)
            )
        });
        SmtpPeer {
            process,
            addr,
            spool,
            log,
            _tmp: tmp,
        }
    }

    /// `smtp://ADDR:PORT` (or `smtps://` — the caller picks the scheme).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let Ok(entries) = std::fs::read_dir(&self.spool) else {
            return Vec::new();
        };
        let mut stems: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "meta"))
            .collect();
        stems.sort();
        stems
            .iter()
            .filter_map(|meta| read_message(&meta.with_extension("")))
            .collect()
    }

    /// Waits up to `timeout` until at least `n` messages arrived and returns them all.
    ///
    /// # Panics
    /// When fewer arrived in time (with the peer's log).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "the SMTP peer received {} message(s), expected {n} within {timeout:?}:\n{}",
                    got.len(),
                    self.process.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The peer's log (connections, AUTH outcomes by user, messages); never a password.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (stopped on drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// `stem.eml` with `stem.meta` (`key=value` lines; `rcpt_to` repeated).
fn read_message(stem: &Path) -> Option<Received> {
    let raw = std::fs::read(stem.with_extension("eml")).ok()?;
    let meta = std::fs::read_to_string(stem.with_extension("meta")).ok()?;
    let mut received = Received {
        raw,
        mail_from: String::new(),
        rcpt_tos: Vec::new(),
        encrypted: false,
        auth_user: None,
    };
    for line in meta.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "mail_from" => received.mail_from = value.to_owned(),
            "rcpt_to" => received.rcpt_tos.push(value.to_owned()),
            "encrypted" => received.encrypted = value == "1",
            "auth_user" if !value.is_empty() => received.auth_user = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(received)
}
