//! Test support for PrintScout: starts **real** peers on loopback and stops them.
//!
//! What this crate owns:
//! - [`upload_server`]: the HTTPS upload receiver with a test CA, told at run time to
//!   refuse, fail, drop, hang or answer 413; [`tinyproxy`]: Debian's tinyproxy with Basic
//!   auth; [`smtp`]: an aiosmtpd SMTP server (plain, STARTTLS, implicit TLS, AUTH) saving
//!   what it receives; [`logs`]: this process's log lines in memory (secret checks);
//!   [`cmd`]: running the `printscout` binary with a stdin text.
//! - [`Snmpsim`]: the snmpsim 1.2.2 simulator (installed by `scripts/setup.sh` into a venv)
//!   serving a directory of `.snmprec` recordings; community (and SNMPv3 context) = file stem.
//! - [`Snmpd`]: net-snmp `snmpd` serving one recording, converted by
//!   [`snmprec_to_snmpd_overrides`] into `override` lines, on one or many loopback addresses.
//! - [`netsnmp`]: thin wrappers over the `snmpget`/`snmpwalk` binaries, for tests that want
//!   an independent client to cross-check against.
//! - Paths to the workspace's own recordings ([`recordings_dir`]) and the shared corpus
//!   ([`corpus_dir`]), and [`free_udp_port`].
//!
//! Invariants:
//! - **Loopback only.** Every peer binds and is probed on `127.0.0.0/8` (or `::1`); a
//!   non-loopback address is refused with a panic before anything starts.
//! - **Stopped by PID.** Each peer is a child process we spawned; `Drop` sends SIGTERM to
//!   that PID, waits up to 2 s, then SIGKILLs and reaps it. Nothing is ever found or
//!   killed by name, so parallel tests and other suites on the machine are safe.
//! - **No writes outside a temp dir.** Configs, logs, pid files, snmpsim's index cache and
//!   snmpd's persistent state live in a per-peer [`tempfile::TempDir`] removed on `Drop`.
//!   The recordings directory is only read.
//! - **Ready means answering.** `start` returns only after the peer answered a real SNMPv2c
//!   GET (hand-built packet over a std `UdpSocket`); if the process dies or never answers
//!   within 60 s, `start` panics with the tail of the peer's log.
//! - Functions panic with a message saying what to do (e.g. "run scripts/setup.sh") instead
//!   of returning errors: this is test support, a panic is a clear test failure.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};

pub mod cmd;
pub mod cups;
pub mod fab_fixture;
pub mod host_agent;
pub mod ippeve;
pub mod logs;
pub mod moonraker;
pub mod mosquitto;
pub mod netns;
pub mod netsnmp;
pub mod octoprint;
mod probe;
mod process;
pub mod service;
pub mod smtp;
mod snmpd;
mod snmprec;
mod snmpsim;
pub mod tinyproxy;
pub mod upload_server;

pub use probe::v2c_get_answers;
pub use snmpd::{SNMPD_DISABLED_MODULES, Snmpd, loopback_farm};
pub use snmprec::snmprec_to_snmpd_overrides;
pub use snmpsim::{Snmpsim, V3User, stage_recordings};

/// Root of the workspace (from `CARGO_MANIFEST_DIR/../..`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .expect("crates/testkit has two parent directories")
        .to_path_buf()
}

/// `tests/recordings` in the workspace: our own synthetic `.snmprec` files.
pub fn recordings_dir() -> PathBuf {
    workspace_root().join("tests").join("recordings")
}

/// The shared SNMP corpus if present: `$PRINTSCOUT_CORPUS`, else
/// `<workspace>/../shared/corpus`; `None` if that directory has no `devices/` folder.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PRINTSCOUT_CORPUS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().parent()?.join("shared").join("corpus"),
    };
    dir.join("devices").is_dir().then_some(dir)
}

/// Where `scripts/setup.sh` puts tools: `$PRINTSCOUT_TOOLS_HOME`, else
/// `$HOME/.cache/printscout`.
pub fn tools_home() -> PathBuf {
    match std::env::var_os("PRINTSCOUT_TOOLS_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache").join("printscout")
        }
    }
}

/// Path to `snmpsim-command-responder` if installed: `$PRINTSCOUT_SNMPSIM_BIN` when it
/// names a file, else `<tools_home>/venv-snmpsim/bin/snmpsim-command-responder`.
pub fn find_snmpsim_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PRINTSCOUT_SNMPSIM_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Some(bin);
        }
    }
    let bin = tools_home()
        .join("venv-snmpsim")
        .join("bin")
        .join("snmpsim-command-responder");
    bin.is_file().then_some(bin)
}

/// Path to `snmpsim-command-responder` (see [`find_snmpsim_bin`]).
///
/// # Panics
/// With "snmpsim is not installed: run scripts/setup.sh" when it is missing.
pub fn snmpsim_bin() -> PathBuf {
    find_snmpsim_bin().unwrap_or_else(|| {
        panic!(
            "snmpsim is not installed: run scripts/setup.sh (looked for $PRINTSCOUT_SNMPSIM_BIN \
             and {})",
            tools_home()
                .join("venv-snmpsim/bin/snmpsim-command-responder")
                .display()
        )
    })
}

/// A free UDP port on 127.0.0.1, chosen **below the kernel's ephemeral range**.
///
/// Ports from `bind(:0)` come from the ephemeral range, where every client socket of a
/// concurrent test also gets its port: one of them can take the port between this call
/// and the peer's bind. snmpsim (pysnmp on asyncio) does not even notice a failed bind:
/// it logs "Listening at" and never answers. Ports below the range are never handed
/// out implicitly, so only another explicit pick can collide; picks within a process
/// step through the range, and different processes start at different places.
/// Falls back to `bind(:0)` when the range starts too low to leave room below it.
pub fn free_udp_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let range_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    if range_start > LOW + 1_000 {
        let span = range_start - LOW;
        let seed = std::process::id().wrapping_mul(7_919)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
        for _ in 0..200 {
            let step = NEXT.fetch_add(1, Ordering::Relaxed);
            let offset = seed.wrapping_add(step.wrapping_mul(97)) % span;
            let Ok(port) = u16::try_from(LOW + offset) else {
                continue;
            };
            // Free on the wildcard address too, so neither an any-address nor a
            // loopback bind by someone else is in the way.
            if UdpSocket::bind(("0.0.0.0", port)).is_ok() {
                return port;
            }
        }
    }
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on 127.0.0.1:0");
    socket
        .local_addr()
        .expect("local address of a bound UDP socket")
        .port()
}

/// Whether process `pid` holds a UDP socket bound to local `port` (IPv4 or IPv6), read
/// from `/proc`. `None` when `/proc` cannot tell (not Linux, or the process is gone).
pub fn process_holds_udp_port(pid: u32, port: u16) -> Option<bool> {
    let fd_dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let inodes: std::collections::HashSet<String> = fd_dir
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let wanted = format!(":{port:04X}");
    let mut any_table = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any_table = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[1].ends_with(&wanted) && inodes.contains(fields[9]) {
                return Some(true);
            }
        }
    }
    any_table.then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest_and_recordings() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(recordings_dir().is_dir());
    }

    #[test]
    fn free_udp_port_returns_a_bindable_loopback_port() {
        let port = free_udp_port();
        assert_ne!(port, 0);
        UdpSocket::bind(("127.0.0.1", port)).expect("the port is free right after");
    }

    #[test]
    fn free_udp_ports_stay_below_the_ephemeral_range_and_differ_within_a_process() {
        let a = free_udp_port();
        let b = free_udp_port();
        assert_ne!(a, b);
        assert!(a < 32_768 && b < 32_768, "{a} {b}");
    }

    #[test]
    fn proc_tells_which_udp_ports_this_process_holds() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        assert_eq!(process_holds_udp_port(std::process::id(), port), Some(true));
        assert_eq!(
            process_holds_udp_port(std::process::id(), free_udp_port()),
            Some(false)
        );
    }
}
