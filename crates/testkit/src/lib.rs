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
//!   ([`corpus_dir`]).
//! - Ports: [`free_udp_port`]/[`free_tcp_port`] for peers, [`ClosedTcpPort`] and
//!   [`SilentUdpPort`] where a test needs nothing to answer.
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
mod ports;
mod probe;
mod process;
pub mod service;
pub mod smtp;
mod snmpd;
mod snmprec;
mod snmpsim;
pub mod tinyproxy;
pub mod upload_server;

pub use ports::{
    ClosedTcpPort, SilentUdpPort, free_tcp_port, free_udp_port, process_holds_udp_port,
};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest_and_recordings() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(recordings_dir().is_dir());
    }
}
