//! Debian's tinyproxy (1.11) as an HTTP forward proxy for tests (PEERS.md
//! "HTTP forward proxy: tinyproxy"), run in the foreground with a generated
//! configuration.
//!
//! Invariants:
//! - it listens on 127.0.0.1 only and allows only 127.0.0.1 as a client;
//!   what it forwards to is the test's business (keep it on loopback);
//! - with Basic authentication, tinyproxy answers no credentials with 407
//!   and *wrong* credentials with 401 (not 407);
//! - its configuration and log live in a temp dir removed on drop; the
//!   process is stopped by its PID on drop (SIGTERM, then SIGKILL).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_tcp_port;
use crate::process::PeerProcess;

/// A running tinyproxy (see the module documentation).
pub struct Tinyproxy {
    process: PeerProcess,
    port: u16,
    dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// tinyproxy with `BasicAuth user password`, on 127.0.0.1:<free port>.
    ///
    /// # Panics
    /// When tinyproxy is not installed (`apt-get install tinyproxy`) or does
    /// not listen within 5 s.
    pub fn start(user: &str, password: &str) -> Tinyproxy {
        Self::start_with(Some((user, password)))
    }

    /// tinyproxy without authentication.
    pub fn start_open() -> Tinyproxy {
        Self::start_with(None)
    }

    fn start_with(auth: Option<(&str, &str)>) -> Tinyproxy {
        let dir = tempfile::tempdir().expect("a temp dir for tinyproxy");
        let port = free_tcp_port();
        let conf = dir.path().join("tinyproxy.conf");
        let log = dir.path().join("tinyproxy.log");
        let auth = auth
            .map(|(u, p)| format!("BasicAuth {u} {p}\n"))
            .unwrap_or_default();
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 50\nAllow 127.0.0.1\n{auth}DisableViaHeader Yes\n",
                log.display()
            ),
        )
        .expect("write tinyproxy.conf");
        let mut command = Command::new("tinyproxy");
        command
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process =
            PeerProcess::spawn("tinyproxy (apt-get install tinyproxy)", command, vec![log]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = process.exited() {
                panic!("tinyproxy exited ({status}):\n{}", process.log_tail(30));
            }
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}:\n{}",
                process.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy { process, port, dir }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("tinyproxy.log")
    }

    /// The log so far (`CONNECT` lines show what went through it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}
