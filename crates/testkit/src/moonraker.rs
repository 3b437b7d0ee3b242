//! Moonraker 0.11.0 (the Klipper API server) as a real peer on loopback,
//! **without Klipper**: its own `/server/*`, `/machine/*` and `/access/*`
//! routes answer, `klippy_state` is `disconnected`, and every `/printer/*`
//! route is 404 (they register only once Klippy connects).
//!
//! Owns: the config (written here, never copied from elsewhere), the data path
//! in a [`tempfile::TempDir`] (`config/`, `logs/`, `gcodes/`, `database/`,
//! `comms/`, `misc/`), starting `<tools_home>/venv-moonraker/bin/moonraker`
//! (installed by `scripts/peers/moonraker.sh install`) on `127.0.0.1:<free
//! port>`, and a tiny blocking HTTP GET for tests ([`Moonraker::get`]).
//!
//! Two access modes ([`MoonrakerAccess`]):
//! - `Trusted`: `127.0.0.0/8` is a trusted client, no key needed (the lab's
//!   usual setup and Moonraker's LAN default);
//! - `ApiKey`: only `127.0.0.2/32` is trusted, so clients connecting from
//!   `127.0.0.1` need `X-Api-Key`. The key Moonraker generated is fetched once
//!   at start from `/access/api_key` over a socket bound to `127.0.0.2` and kept
//!   in [`Moonraker::api_key`].
//!
//! Invariants:
//! - **Loopback only**, and **no outbound connections**: `[announcements]
//!   enable_moonlight: False` (else it fetches announcement feeds), an empty
//!   `misc/usb.ids` (else `[machine]` downloads it at start), no
//!   `[update_manager]`, no `[zeroconf]`, `[machine] provider: none`. (At start
//!   `[machine]` `connect()`s UDP sockets to find "its" IP: that sends nothing.)
//! - **Stopped by PID** on drop (SIGTERM, SIGKILL after 2 s, reaped); all its
//!   files live in the temp dir removed with it.
//! - `start` returns only once `/server/info` answers HTTP (200, or 401 in
//!   key mode); a lost race for the port is retried with another port; else it
//!   panics with the tail of Moonraker's logs.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_tcp_port;
use crate::process::PeerProcess;
use crate::tools_home;

/// How long Moonraker may take to answer `/server/info` (it takes about 1 s).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The one loopback address trusted in [`MoonrakerAccess::ApiKey`] mode.
const KEY_FETCH_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Who Moonraker lets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoonrakerAccess {
    /// `127.0.0.0/8` trusted: no key needed (a wrong key is still refused).
    Trusted,
    /// Only `127.0.0.2` trusted: clients from `127.0.0.1` need the API key.
    ApiKey,
}

/// One HTTP answer from [`Moonraker::get`].
#[derive(Clone, Debug)]
pub struct PeerAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body (Moonraker always answers JSON).
    pub body: String,
}

/// A running Moonraker. Dropping it stops the process by PID.
pub struct Moonraker {
    process: PeerProcess,
    /// Where it listens (`127.0.0.1:<port>`).
    pub addr: SocketAddr,
    /// The API key, in [`MoonrakerAccess::ApiKey`] mode.
    pub api_key: Option<String>,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl std::fmt::Debug for Moonraker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moonraker")
            .field("addr", &self.addr)
            .field("pid", &self.process.pid())
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// `moonraker` in the venv if installed: `$PRINTSCOUT_MOONRAKER_BIN` when it
/// names a file, else `<tools_home>/venv-moonraker/bin/moonraker`.
pub fn find_moonraker_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PRINTSCOUT_MOONRAKER_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Some(bin);
        }
    }
    let bin = tools_home()
        .join("venv-moonraker")
        .join("bin")
        .join("moonraker");
    bin.is_file().then_some(bin)
}

impl Moonraker {
    /// Starts Moonraker without Klipper in `access` mode and returns once it
    /// answers.
    ///
    /// # Panics
    /// When Moonraker is not installed ("run scripts/peers/moonraker.sh
    /// install"), or it does not answer within 30 s (with its logs).
    pub fn start(access: MoonrakerAccess) -> Moonraker {
        let bin = find_moonraker_bin().unwrap_or_else(|| {
            panic!(
                "Moonraker is not installed: run scripts/peers/moonraker.sh install (looked for \
                 $PRINTSCOUT_MOONRAKER_BIN and {})",
                tools_home().join("venv-moonraker/bin/moonraker").display()
            )
        });
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(&bin, access) {
                Ok(peer) => return peer,
                Err(why) => last = why,
            }
        }
        panic!("Moonraker did not start:\n{last}");
    }

    /// One attempt on one port: `Err` (with the logs) when the process died
    /// before answering (a lost race for the port, most likely).
    fn try_start(bin: &PathBuf, access: MoonrakerAccess) -> Result<Moonraker, String> {
        let tmp = tempfile::Builder::new()
            .prefix("printscout-moonraker-")
            .tempdir()
            .expect("create a temp dir for Moonraker");
        let data = tmp.path().to_path_buf();
        for dir in ["config", "logs", "gcodes", "database", "comms", "misc"] {
            std::fs::create_dir_all(data.join(dir)).expect("create Moonraker's data folders");
        }
        // An empty usb.ids: else [machine] downloads it from the internet at start.
        std::fs::write(data.join("misc").join("usb.ids"), "").expect("write misc/usb.ids");
        let port = free_tcp_port();
        let config = data.join("config").join("moonraker.conf");
        std::fs::write(&config, config_text(port, &data, access)).expect("write moonraker.conf");
        let log = data.join("logs").join("moonraker.log");
        let stdout_log = data.join("stdout.log");
        let out = File::create(&stdout_log).expect("create Moonraker's stdout log");
        let err = out.try_clone().expect("clone the log file handle");
        let mut command = Command::new(bin);
        command
            .arg("-d")
            .arg(&data)
            .arg("-c")
            .arg(&config)
            .arg("-l")
            .arg(&log)
            .current_dir(&data)
            .env("HOME", &data)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let mut process = PeerProcess::spawn("moonraker", command, vec![stdout_log, log.clone()]);
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        loop {
            if let Some(status) = process.exited() {
                return Err(format!(
                    "Moonraker on port {port} exited ({status}) before answering:\n{}",
                    process.log_tail(30)
                ));
            }
            if let Ok(answer) = http_get(addr, "/server/info", None, None)
                && matches!(answer.status, 200 | 401)
            {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                panic!(
                    "Moonraker ({}, pid {}) did not answer /server/info within {READY_TIMEOUT:?}:\n{}",
                    process.name(),
                    process.pid(),
                    process.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let api_key = match access {
            MoonrakerAccess::Trusted => None,
            MoonrakerAccess::ApiKey => {
                let answer = http_get(addr, "/access/api_key", Some(KEY_FETCH_SOURCE), None)
                    .unwrap_or_else(|e| panic!("fetch Moonraker's API key from 127.0.0.2: {e}"));
                let json: serde_json::Value = serde_json::from_str(&answer.body)
                    .unwrap_or_else(|e| panic!("/access/api_key is not JSON ({e})"));
                let key = json["result"].as_str().unwrap_or_else(|| {
                    panic!(
                        "/access/api_key answered HTTP {} without a key:\n{}",
                        answer.status,
                        process.log_tail(20)
                    )
                });
                Some(key.to_owned())
            }
        };
        Ok(Moonraker {
            process,
            addr,
            api_key,
            log,
            _tmp: tmp,
        })
    }

    /// `moonraker://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("moonraker://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A blocking `GET path` from `127.0.0.1`, with `X-Api-Key: key` when given.
    ///
    /// # Panics
    /// When the connection fails (the peer is gone).
    pub fn get(&self, path: &str, key: Option<&str>) -> PeerAnswer {
        http_get(self.addr, path, None, key)
            .unwrap_or_else(|e| panic!("GET {path} from Moonraker at {}: {e}", self.addr))
    }

    /// Moonraker's own log (requests with their status, components, errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (stopped on drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// The config: loopback only, nothing that reaches the internet, no Klipper
/// (the socket path names a file nobody creates).
fn config_text(port: u16, data: &std::path::Path, access: MoonrakerAccess) -> String {
    let trusted = match access {
        MoonrakerAccess::Trusted => "127.0.0.0/8",
        MoonrakerAccess::ApiKey => "127.0.0.2/32",
    };
    format!(
        "# Written by printscout-testkit (moonraker.rs): loopback only, no internet.\n\
         [server]\n\
         host: 127.0.0.1\n\
         port: {port}\n\
         klippy_uds_address: {sock}\n\
         \n\
         [machine]\n\
         provider: none\n\
         validate_service: False\n\
         validate_config: False\n\
         \n\
         [authorization]\n\
         force_logins: False\n\
         trusted_clients:\n  {trusted}\n\
         \n\
         [announcements]\n\
         enable_moonlight: False\n\
         \n\
         [file_manager]\n\
         enable_object_processing: False\n\
         \n\
         [history]\n",
        sock = data.join("comms").join("klippy.sock").display(),
    )
}

/// `GET path` over HTTP/1.0 (the server closes; read to the end), from
/// `source` when given (bound before connecting).
fn http_get(
    addr: SocketAddr,
    path: &str,
    source: Option<Ipv4Addr>,
    key: Option<&str>,
) -> std::io::Result<PeerAnswer> {
    assert!(addr.ip().is_loopback(), "loopback only, not {addr}");
    let mut stream: TcpStream = match source {
        None => TcpStream::connect_timeout(&addr, Duration::from_secs(2))?,
        Some(ip) => {
            assert!(ip.is_loopback(), "loopback only, not {ip}");
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            socket.bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())?;
            socket.connect_timeout(&addr.into(), Duration::from_secs(2))?;
            socket.into()
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    if let Some(key) = key {
        request.push_str(&format!("X-Api-Key: {key}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    Ok(PeerAnswer {
        status,
        body: body.to_owned(),
    })
}
