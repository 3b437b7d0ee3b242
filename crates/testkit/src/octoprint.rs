//! OctoPrint 1.11.8 with its bundled Virtual Printer, as a real peer on
//! loopback for the OctoPrint reader's tests and figures.
//!
//! What it owns:
//! - [`OctoPrint::start`]: renders a config of its own into a fresh base dir
//!   in a [`tempfile::TempDir`] (first-run wizard done, access control on,
//!   online check and plugin blacklist off, every bundled plugin that reaches
//!   the internet disabled, the Virtual Printer on with autoconnect), writes
//!   two users with per-user API keys ([`OctoPrint::api_key`]: an admin;
//!   [`OctoPrint::viewer_key`]: a plain user, who may not read
//!   `/api/system/info`), runs `octoprint serve` from
//!   `tools_home()/venv-octoprint` on `127.0.0.1:<free port>`, and returns
//!   once the printer is connected and `Operational`;
//! - helpers that drive it over its own API: [`OctoPrint::upload_and_print`]
//!   (a short G-code from [`short_gcode`], folders created as needed),
//!   [`OctoPrint::cancel`], [`OctoPrint::disconnect`], [`OctoPrint::connect`],
//!   [`OctoPrint::wait_for_job_state`], and raw [`OctoPrint::get`] /
//!   [`OctoPrint::request`] calls (a tiny HTTP/1.0 client over std, so no
//!   HTTP library is shared with the code under test).
//!
//! Invariants:
//! - **loopback only**: OctoPrint binds `127.0.0.1`, the helpers talk to it
//!   there; with the plugins below disabled it makes no outbound connection
//!   (PEERS.md: `health_check` fetches the package index even with the other
//!   online features off);
//! - **stopped by PID** on `Drop` (SIGTERM, then SIGKILL after 2 s); the base
//!   dir (config, users, uploads, logs) is removed after;
//! - `start` panics with a message saying what to do when the venv is missing
//!   ("run scripts/peers/octoprint.sh install"), and with the tail of
//!   OctoPrint's log when it dies or is not `Operational` within 60 s; a port
//!   taken between the pick and OctoPrint's bind is retried on another port.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;

/// The admin user's API key (its own per-user key, not the deprecated global one).
pub const ADMIN_KEY: &str = "PSTESTADMINKEY00112233445566778899";
/// A plain user's key: reads the printer and jobs, not `/api/system/info`.
pub const VIEWER_KEY: &str = "PSTESTVIEWERKEY0011223344556677889";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Argon2 hash of the throwaway password `printscout-test-only` (never used
/// to log in: the tests use the API keys; OctoPrint wants a hash on file).
const PASSWORD_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$2htDiPGe0xrjvNdaC4EQQg$fvEKhVhFf4MlTLllXRPYDdFSUyJn91U3vGo2O0wBqkM";

/// Bundled plugins that would reach the internet (or the LAN): discovery =
/// SSDP/zeroconf multicast, tracking = usage pings, announcements = RSS
/// feeds, softwareupdate and pluginmanager = repository checks, errortracking
/// = crash reports to Sentry, health_check = the package index and
/// get.octoprint.org.
pub const DISABLED_PLUGINS: [&str; 7] = [
    "discovery",
    "tracking",
    "announcements",
    "softwareupdate",
    "pluginmanager",
    "errortracking",
    "health_check",
];

/// One HTTP answer from the peer.
#[derive(Clone, Debug)]
pub struct PeerAnswer {
    /// HTTP status.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

impl PeerAnswer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("OctoPrint sent no JSON ({e}): {}", self.body))
    }
}

/// A running OctoPrint with the Virtual Printer connected.
pub struct OctoPrint {
    // Dropped first: the process stops before its base dir is removed.
    process: PeerProcess,
    port: u16,
    startup: Duration,
    tmp: tempfile::TempDir,
}

/// `venv-octoprint/bin/octoprint` under [`crate::tools_home`], if installed.
pub fn find_octoprint_bin() -> Option<PathBuf> {
    let bin = crate::tools_home()
        .join("venv-octoprint")
        .join("bin")
        .join("octoprint");
    bin.is_file().then_some(bin)
}

/// A G-code that prints for about `seconds` on the Virtual Printer: a home,
/// then moves with half-second dwells (`G4 P500`), 2 mm of filament per move.
pub fn short_gcode(seconds: u32) -> String {
    let mut out = String::from("; printscout test print\nG21\nG90\nM82\nG28\nG92 E0\n");
    for i in 0..seconds.max(1) * 2 {
        let x = 10 + (i % 2) * 10;
        let y = 10 + (i / 2 % 2) * 10;
        let e = (i + 1) * 2;
        out.push_str(&format!("G1 X{x} Y{y} E{e} F3000\nG4 P500\n"));
    }
    out.push_str("M400\n");
    out
}

impl OctoPrint {
    /// Starts OctoPrint on a free loopback port and waits until the Virtual
    /// Printer is `Operational`.
    ///
    /// # Panics
    /// When the venv is missing, or OctoPrint does not come up (see the module doc).
    pub fn start() -> OctoPrint {
        let bin = find_octoprint_bin().unwrap_or_else(|| {
            panic!(
                "OctoPrint is not installed: run scripts/peers/octoprint.sh install (looked for {})",
                crate::tools_home()
                    .join("venv-octoprint/bin/octoprint")
                    .display()
            )
        });
        let mut last = String::new();
        for _ in 0..3 {
            match OctoPrint::try_start(&bin, crate::free_tcp_port()) {
                Ok(peer) => return peer,
                Err(message) => last = message,
            }
        }
        panic!("{last}")
    }

    fn try_start(bin: &Path, port: u16) -> Result<OctoPrint, String> {
        let started = Instant::now();
        let tmp = tempfile::Builder::new()
            .prefix("printscout-octoprint-")
            .tempdir()
            .expect("create a temp dir for OctoPrint");
        let base = tmp.path().join("base");
        std::fs::create_dir_all(&base).expect("create OctoPrint's base dir");
        std::fs::write(base.join("config.yaml"), render_config(port))
            .expect("write OctoPrint's config.yaml");
        std::fs::write(base.join("users.yaml"), render_users()).expect("write users.yaml");
        let log = tmp.path().join("serve.log");
        let out = File::create(&log).expect("create OctoPrint's log");
        let err = out.try_clone().expect("clone the log handle");
        let mut command = Command::new(bin);
        command
            .arg("--basedir")
            .arg(&base)
            // Refused as root without it; harmless otherwise.
            .args([
                "serve",
                "--iknowwhatimdoing",
                "--host",
                "127.0.0.1",
                "--port",
            ])
            .arg(port.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("HOME", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let mut process = PeerProcess::spawn("octoprint", command, vec![log.clone()]);
        let deadline = started + READY_TIMEOUT;
        let peer_fail = |process: &mut PeerProcess, what: &str| -> Option<String> {
            if let Some(status) = process.exited() {
                return Some(format!(
                    "OctoPrint on port {port} exited ({status}) {what}:\n{}",
                    process.log_tail(30)
                ));
            }
            if Instant::now() > deadline {
                return Some(format!(
                    "OctoPrint on port {port} was not ready within {READY_TIMEOUT:?} ({what}):\n{}",
                    process.log_tail(30)
                ));
            }
            None
        };
        // 1. The server answers.
        loop {
            if request_on(port, "GET", "/api/version", ADMIN_KEY, None)
                .is_some_and(|a| a.status == 200)
            {
                break;
            }
            if let Some(message) = peer_fail(&mut process, "waiting for /api/version") {
                return Err(message);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // 2. The Virtual Printer is connected (autoconnect may race the
        // virtual port: connect explicitly after a while).
        let mut asked = Instant::now();
        loop {
            let state = request_on(port, "GET", "/api/connection", ADMIN_KEY, None)
                .and_then(|a| {
                    let v: serde_json::Value = serde_json::from_str(&a.body).ok()?;
                    v.pointer("/current/state")?.as_str().map(str::to_owned)
                })
                .unwrap_or_default();
            if state == "Operational" {
                break;
            }
            if (state.starts_with("Offline") || state == "Closed")
                && asked.elapsed() > Duration::from_secs(3)
            {
                let _ = request_on(
                    port,
                    "POST",
                    "/api/connection",
                    ADMIN_KEY,
                    Some(connect_body()),
                );
                asked = Instant::now();
            }
            if let Some(message) = peer_fail(&mut process, "waiting for Operational") {
                return Err(message);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(OctoPrint {
            process,
            port,
            startup: started.elapsed(),
            tmp,
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `octoprint://127.0.0.1:PORT` (what `printscout read` takes).
    pub fn url(&self) -> String {
        format!("octoprint://127.0.0.1:{}", self.port)
    }

    /// The admin user's API key.
    pub fn api_key(&self) -> &'static str {
        ADMIN_KEY
    }

    /// A plain user's API key (no `/api/system/info`).
    pub fn viewer_key(&self) -> &'static str {
        VIEWER_KEY
    }

    /// OctoPrint's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Time from spawn until the printer was `Operational`.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The temp dir holding the base dir and `serve.log`.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// The last `lines` lines of OctoPrint's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// `GET path` with the admin key.
    ///
    /// # Panics
    /// When OctoPrint does not answer.
    pub fn get(&self, path: &str) -> PeerAnswer {
        self.request("GET", path, None)
    }

    /// `method path` with the admin key and an optional `(content type, body)`.
    ///
    /// # Panics
    /// When OctoPrint does not answer.
    pub fn request(&self, method: &str, path: &str, body: Option<(String, Vec<u8>)>) -> PeerAnswer {
        request_on(self.port, method, path, ADMIN_KEY, body).unwrap_or_else(|| {
            panic!(
                "OctoPrint did not answer {method} {path}:\n{}",
                self.log_tail(20)
            )
        })
    }

    /// Uploads `gcode` as `path` in local storage (folders in the path are
    /// created first), selects it and starts printing it.
    ///
    /// # Panics
    /// When an upload or folder creation is refused.
    pub fn upload_and_print(&self, path: &str, gcode: &str) {
        self.upload(path, gcode, true);
    }

    /// Uploads `gcode` as `path` in local storage, printing it when `print`.
    ///
    /// # Panics
    /// When an upload or folder creation is refused.
    pub fn upload(&self, path: &str, gcode: &str, print: bool) {
        let (folder, name) = match path.rsplit_once('/') {
            Some((folder, name)) => (folder, name),
            None => ("", path),
        };
        let mut parent = String::new();
        for part in folder.split('/').filter(|p| !p.is_empty()) {
            let answer = self.request(
                "POST",
                "/api/files/local",
                Some(multipart(&[("foldername", part), ("path", &parent)], None)),
            );
            assert!(
                matches!(answer.status, 201 | 409),
                "creating folder {part} in {parent:?}: HTTP {} {}",
                answer.status,
                answer.body
            );
            parent = if parent.is_empty() {
                part.to_owned()
            } else {
                format!("{parent}/{part}")
            };
        }
        let flag = if print { "true" } else { "false" };
        let answer = self.request(
            "POST",
            "/api/files/local",
            Some(multipart(
                &[("path", folder), ("select", flag), ("print", flag)],
                Some((name, gcode.as_bytes())),
            )),
        );
        assert_eq!(
            answer.status, 201,
            "uploading {path}: HTTP {} {}",
            answer.status, answer.body
        );
    }

    /// Cancels the running print (it is then logged as a failure).
    ///
    /// # Panics
    /// When OctoPrint refuses.
    pub fn cancel(&self) {
        let answer = self.request(
            "POST",
            "/api/job",
            Some(json_body(r#"{"command":"cancel"}"#)),
        );
        assert_eq!(answer.status, 204, "cancel: {}", answer.body);
    }

    /// `/api/job`'s `state` (`Operational`, `Printing`, `Offline`, …).
    pub fn job_state(&self) -> String {
        self.get("/api/job").json()["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until `/api/job`'s state satisfies `done`; returns it.
    ///
    /// # Panics
    /// After `limit`, with the last state and the log.
    pub fn wait_for_job_state(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.job_state();
            if done(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "OctoPrint's job state is still {state:?} after {limit:?}:\n{}",
                self.log_tail(20)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Disconnects the printer (OctoPrint stays up; `/api/printer` then
    /// answers 409) and waits until OctoPrint says `Offline`.
    pub fn disconnect(&self) {
        let answer = self.request(
            "POST",
            "/api/connection",
            Some(json_body(r#"{"command":"disconnect"}"#)),
        );
        assert_eq!(answer.status, 204, "disconnect: {}", answer.body);
        self.wait_for_job_state(Duration::from_secs(20), |s| s.starts_with("Offline"));
    }

    /// Connects the Virtual Printer again and waits until it is `Operational`.
    pub fn connect(&self) {
        let answer = self.request("POST", "/api/connection", Some(connect_body()));
        assert_eq!(answer.status, 204, "connect: {}", answer.body);
        self.wait_for_job_state(Duration::from_secs(30), |s| s == "Operational");
    }
}

fn connect_body() -> (String, Vec<u8>) {
    json_body(r#"{"command":"connect","port":"VIRTUAL","baudrate":115200,"autoconnect":false}"#)
}

fn json_body(text: &str) -> (String, Vec<u8>) {
    ("application/json".into(), text.as_bytes().to_vec())
}

/// A `multipart/form-data` body with text fields and at most one file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "printscout-octoprint-boundary-7d93a1";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// One HTTP/1.0 exchange with 127.0.0.1:`port`; `None` when nothing answers.
fn request_on(
    port: u16,
    method: &str,
    path: &str,
    key: &str,
    body: Option<(String, Vec<u8>)>,
) -> Option<PeerAnswer> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT)).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nX-Api-Key: {key}\r\n\
         User-Agent: printscout-testkit\r\n"
    );
    let payload = match body {
        Some((content_type, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => Vec::new(),
    };
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&payload).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(PeerAnswer {
        status,
        body: body.to_owned(),
    })
}

fn render_config(port: u16) -> String {
    let disabled = DISABLED_PLUGINS.join(", ");
    format!(
        "# printscout-testkit: OctoPrint on loopback, nothing that reaches the network\n\
         server:\n\
         \x20 host: 127.0.0.1\n\
         \x20 port: {port}\n\
         \x20 firstRun: false\n\
         \x20 onlineCheck: {{enabled: false}}\n\
         \x20 pluginBlacklist: {{enabled: false}}\n\
         \x20 seenWizards: {{corewizard: 4}}\n\
         accessControl:\n\
         \x20 salt: printscouttestsaltprintscouttest\n\
         api:\n\
         \x20 key: null\n\
         serial:\n\
         \x20 port: VIRTUAL\n\
         \x20 baudrate: 115200\n\
         \x20 autoconnect: true\n\
         \x20 additionalPorts: []\n\
         plugins:\n\
         \x20 _disabled: [{disabled}]\n\
         \x20 virtual_printer:\n\
         \x20   enabled: true\n\
         \x20   throttle: 0.001\n\
         \x20   waitInterval: 0.2\n\
         \x20 tracking: {{enabled: false}}\n\
         \x20 errortracking: {{enabled: false}}\n"
    )
}

fn render_users() -> String {
    let user = |name: &str, key: &str, groups: &str, roles: &str| {
        format!(
            "{name}:\n  active: true\n  apikey: {key}\n  groups: [{groups}]\n  \
             password: '{PASSWORD_HASH}'\n  permissions: []\n  roles: [{roles}]\n  settings: {{}}\n"
        )
    };
    format!(
        "_version: 2\n{}{}",
        user("admin", ADMIN_KEY, "admins", "user, admin"),
        user("viewer", VIEWER_KEY, "users", "user")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_gcode_dwells_half_a_second_per_move() {
        let g = short_gcode(3);
        assert_eq!(g.matches("G4 P500").count(), 6);
        assert!(g.ends_with("M400\n"));
    }

    #[test]
    fn the_config_disables_every_plugin_that_reaches_the_network() {
        let c = render_config(5123);
        assert!(c.contains("port: 5123"));
        for p in DISABLED_PLUGINS {
            assert!(c.contains(p), "{p}");
        }
        assert!(c.contains("onlineCheck: {enabled: false}"));
    }
}
