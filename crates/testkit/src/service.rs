//! `printscout run` (or any service under test) as a child process: started
//! from a command the test builds, its stderr kept in a log file, stopped
//! with SIGTERM (and its exit status checked) or SIGKILL, and killed and
//! reaped on drop so no test leaves a service behind.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running service.
pub struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Spawns `command` with stdin closed and stderr written to `log`
    /// (stdout stays as the command set it).
    ///
    /// # Panics
    /// If the log file cannot be created or the command cannot start.
    pub fn spawn(mut command: Command, log: &Path) -> Service {
        let file = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("create the service log {}: {e}", log.display()));
        let child = command
            .stdin(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the service");
        Service {
            child,
            log: log.to_path_buf(),
        }
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its stdout, when the command piped it.
    pub fn stdout(&mut self) -> Option<&mut ChildStdout> {
        self.child.stdout.as_mut()
    }

    /// SIGTERM, then its exit status within 15 s.
    ///
    /// # Panics
    /// If it has not exited by then.
    pub fn stop(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait for the service") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop on SIGTERM; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (our own child, by its PID) and reap it; it must not have
    /// exited successfully.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL the service");
        let status = self.child.wait().expect("reap it");
        assert!(!status.success(), "{status:?}");
    }

    /// Waits until `done`, at most `timeout`, checking every 100 ms.
    ///
    /// # Panics
    /// On timeout, with `what` and the service's log.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; service log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
