//! snmpsim 1.2.2 (PyPI) serving a directory of recordings on 127.0.0.1.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;
use crate::{free_udp_port, process_holds_udp_port, snmpsim_bin, v2c_get_answers};

/// How long the first start may take (it indexes every data file into the cache dir).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Start attempts when another process grabbed the free port first.
const ATTEMPTS: usize = 3;
/// How long after "Listening at" the simulator may go without holding its port before
/// the bind counts as failed (pysnmp binds in the background and only logs a failure).
const BIND_GRACE: Duration = Duration::from_secs(3);

/// An SNMPv3 USM user added to the simulator with `--v3-user` and friends.
///
/// Protocol names are spelled as snmpsim spells them: auth `MD5`, `SHA`, `SHA224`,
/// `SHA256`, `SHA384`, `SHA512` (or `NONE`); privacy `DES`, `3DES`, `AES` (= AES-128),
/// `AES192`, `AES256` (or `NONE`). Keys must be longer than 8 characters.
/// snmpsim also keeps its built-in user `simulator` (MD5 `auctoritas`, DES `privatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3User {
    pub user: String,
    pub auth_proto: String,
    pub auth_key: String,
    pub priv_proto: Option<String>,
    pub priv_key: Option<String>,
}

impl V3User {
    /// authNoPriv user.
    pub fn auth(user: &str, auth_proto: &str, auth_key: &str) -> V3User {
        V3User {
            user: user.to_owned(),
            auth_proto: auth_proto.to_owned(),
            auth_key: auth_key.to_owned(),
            priv_proto: None,
            priv_key: None,
        }
    }

    /// authPriv user.
    pub fn auth_priv(
        user: &str,
        auth_proto: &str,
        auth_key: &str,
        priv_proto: &str,
        priv_key: &str,
    ) -> V3User {
        V3User {
            priv_proto: Some(priv_proto.to_owned()),
            priv_key: Some(priv_key.to_owned()),
            ..V3User::auth(user, auth_proto, auth_key)
        }
    }

    fn args(&self) -> Vec<String> {
        // Options left out mean "none" (an explicit `--v3-priv-proto=NONE` without a key is
        // refused: "privacy protocol configured without key").
        let mut args = vec![format!("--v3-user={}", self.user)];
        if !self.auth_proto.eq_ignore_ascii_case("NONE") {
            args.push(format!("--v3-auth-key={}", self.auth_key));
            args.push(format!("--v3-auth-proto={}", self.auth_proto));
        }
        if let (Some(proto), Some(key)) = (&self.priv_proto, &self.priv_key)
            && !proto.eq_ignore_ascii_case("NONE")
        {
            args.push(format!("--v3-priv-key={key}"));
            args.push(format!("--v3-priv-proto={proto}"));
        }
        args
    }
}

/// snmpsim 1.2.2 serving every `*.snmprec` under a data directory on
/// `127.0.0.1:<free port>`.
///
/// - SNMPv1/v2c community = the file's path relative to the data dir without
///   `.snmprec` (`mono-laser.snmprec` → `-c mono-laser`).
/// - SNMPv3 context name = the same stem; the **empty** context reads `self.snmprec`
///   (a hard link or copy; snmpsim ignores symlinks). See [`stage_recordings`].
/// - The index cache and the log are in a temp dir; the data dir is only read.
///
/// Dropping it stops the process by PID (SIGTERM, SIGKILL after 2 s) and reaps it.
pub struct Snmpsim {
    process: PeerProcess,
    /// Where it listens: `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    data_dir: PathBuf,
    startup: Duration,
    _tmp: tempfile::TempDir,
}

impl Snmpsim {
    /// Serve every `.snmprec` in `data_dir` (v1/v2c by community, v3 by context with the
    /// built-in user `simulator`).
    ///
    /// # Panics
    /// If snmpsim is not installed, the dir has no recordings, or the simulator dies or
    /// does not answer an SNMP GET within 60 s (the message carries its log tail).
    pub fn start(data_dir: &Path) -> Snmpsim {
        Snmpsim::start_with_v3(data_dir, &[])
    }

    /// Like [`Snmpsim::start`], adding SNMPv3 users after the data-dir arguments.
    pub fn start_with_v3(data_dir: &Path, users: &[V3User]) -> Snmpsim {
        let bin = snmpsim_bin();
        let data_dir = data_dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("snmpsim data dir {}: {e}", data_dir.display()));
        let probe_community = first_community(&data_dir).unwrap_or_else(|| {
            panic!(
                "no .snmprec files under {}: nothing for snmpsim to serve",
                data_dir.display()
            )
        });
        let mut last_failure = String::new();
        for _ in 0..ATTEMPTS {
            match Snmpsim::try_start(&bin, &data_dir, users, &probe_community) {
                Ok(sim) => return sim,
                Err(Failure::PortTaken(log)) => last_failure = log,
                Err(Failure::Fatal(message)) => panic!("{message}"),
            }
        }
        panic!("snmpsim could not bind a free port in {ATTEMPTS} attempts:\n{last_failure}");
    }

    fn try_start(
        bin: &Path,
        data_dir: &Path,
        users: &[V3User],
        probe_community: &str,
    ) -> Result<Snmpsim, Failure> {
        let tmp = tempfile::Builder::new()
            .prefix("printscout-snmpsim-")
            .tempdir()
            .expect("create a temp dir for snmpsim");
        let log = tmp.path().join("snmpsim.log");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_port()));

        let mut command = Command::new(bin);
        command
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!(
                "--cache-dir={}",
                tmp.path().join("cache").display()
            ))
            .arg(format!("--agent-udpv4-endpoint={addr}"))
            .arg("--log-level=error");
        for user in users {
            command.args(user.args());
        }
        // As root snmpsim refuses to run ("Must drop privileges") without this.
        command.env("SNMPSIM_ALLOW_ROOT", "true");
        let out = File::create(&log).expect("create the snmpsim log file");
        let err = out.try_clone().expect("clone the snmpsim log file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));

        let started = Instant::now();
        let mut process = PeerProcess::spawn("snmpsim", command, vec![log.clone()]);
        let mut listening_since: Option<Instant> = None;
        loop {
            if let Some(status) = process.exited() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail = process.log_tail(40);
                if text.contains("Address already in use") {
                    return Err(Failure::PortTaken(tail));
                }
                return Err(Failure::Fatal(format!(
                    "snmpsim exited ({status}) before answering on {addr}:\n{tail}"
                )));
            }
            if v2c_get_answers(addr, probe_community, Duration::from_millis(300)) {
                break;
            }
            // pysnmp opens its socket in a background task: a port taken in the meantime
            // leaves a simulator that says "Listening at" and never answers. Its own
            // sockets in /proc tell.
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            match listening_since {
                None if text.contains("Listening at") => listening_since = Some(Instant::now()),
                Some(since)
                    if since.elapsed() > BIND_GRACE
                        && process_holds_udp_port(process.pid(), addr.port()) == Some(false) =>
                {
                    let tail = process.log_tail(40);
                    drop(process);
                    return Err(Failure::PortTaken(format!(
                        "snmpsim said it listens on {addr} but holds no socket on that \
                         port (taken by someone else):\n{tail}"
                    )));
                }
                _ => {}
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(Failure::Fatal(format!(
                    "snmpsim (pid {}) did not answer an SNMP GET on {addr} (community \
                     {probe_community}) within {READY_TIMEOUT:?}:\n{}",
                    process.pid(),
                    process.log_tail(40)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Snmpsim {
            process,
            addr,
            data_dir: data_dir.to_path_buf(),
            startup: started.elapsed(),
            _tmp: tmp,
        })
    }

    /// The UDP port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// PID of the simulator process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The (canonical) data directory it serves.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Time from spawn until it answered the first GET.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl std::fmt::Debug for Snmpsim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snmpsim")
            .field("name", &self.process.name())
            .field("pid", &self.process.pid())
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

enum Failure {
    PortTaken(String),
    Fatal(String),
}

/// Community of the first recording (sorted, depth-first) under `dir`: its relative
/// path without `.snmprec`.
fn first_community(dir: &Path) -> Option<String> {
    fn walk(root: &Path, dir: &Path, depth: usize) -> Option<String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in &entries {
            // self.snmprec serves only the empty SNMPv3 context, not a community
            if path.is_file()
                && path.extension().is_some_and(|e| e == "snmprec")
                && path.file_stem().is_some_and(|s| s != "self")
            {
                let rel = path.strip_prefix(root).ok()?.with_extension("");
                return Some(rel.to_string_lossy().into_owned());
            }
        }
        if depth == 0 {
            return None;
        }
        entries
            .iter()
            .filter(|p| p.is_dir())
            .find_map(|p| walk(root, p, depth - 1))
    }
    walk(dir, dir, 3)
}

/// Copy `files` into a new temp dir, and `self_snmprec` (if given) as `self.snmprec`
/// too, so snmpsim answers the empty SNMPv3 context from it. Serve the returned dir with
/// [`Snmpsim::start`]; keep the `TempDir` alive while the simulator runs.
pub fn stage_recordings(files: &[&Path], self_snmprec: Option<&Path>) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("printscout-recordings-")
        .tempdir()
        .expect("create a temp dir for recordings");
    for file in files {
        let name = file
            .file_name()
            .unwrap_or_else(|| panic!("{} has no file name", file.display()));
        std::fs::copy(file, dir.path().join(name))
            .unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
    }
    if let Some(file) = self_snmprec {
        std::fs::copy(file, dir.path().join("self.snmprec"))
            .unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
    }
    dir
}
