//! Running a command-line tool under test (the `printscout` binary): with
//! an optional stdin text, capturing stdout and stderr, and showing the
//! outcome in one text for assertion messages.
//!
//! Invariant: the child never inherits the test's terminal (stdin is a pipe
//! or null), so a command that would prompt fails instead of waiting.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `command` to its end, writing `stdin` (when given) to it.
///
/// # Panics
/// When the command cannot be started or waited for.
pub fn output_with_stdin(mut command: Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command under test");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("a stdin pipe")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("the command finishes")
}

/// `status …`, then stdout and stderr: the whole outcome, for messages.
pub fn shown(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
