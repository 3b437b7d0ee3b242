//! A spawned peer process that is stopped by its PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a peer gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// A child process we spawned. Dropping it sends SIGTERM to its PID (via `kill`, since
/// std can only send SIGKILL and this workspace forbids `unsafe`), waits up to 2 s, then
/// SIGKILLs and reaps it, so no zombie stays behind.
pub(crate) struct PeerProcess {
    child: Child,
    name: String,
    logs: Vec<PathBuf>,
}

impl PeerProcess {
    pub(crate) fn spawn(name: &str, mut command: Command, logs: Vec<PathBuf>) -> PeerProcess {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name} ({command:?}): {e}"));
        PeerProcess {
            child,
            name: name.to_owned(),
            logs,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status text)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last `lines` lines of each log file, for panic messages.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for log in &self.logs {
            out.push_str(&format!("--- {} (last {lines} lines)\n", log.display()));
            out.push_str(&tail(log, lines));
        }
        out
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if sent {
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if self.exited().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // SIGKILL to our own child by PID, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            let mut out = all[start..].join("\n");
            out.push('\n');
            out
        }
        Err(e) => format!("(cannot read: {e})\n"),
    }
}
