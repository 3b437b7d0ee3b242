//! Captures this test process's tracing output (and the `log` records of
//! reqwest, hyper and rustls, which `tracing-subscriber` forwards) in
//! memory, at TRACE level, so a test can assert that no secret was logged.
//!
//! Invariants: one process-wide subscriber, installed on the first call;
//! if the test binary installed another one first, nothing is captured and
//! [`logs_text`] stays empty (the tests that use it install none).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once) and returns its buffer.
pub fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogBuffer(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .try_init();
        buffer
    })
    .clone()
}

/// Everything logged since [`capture_logs`] was first called.
pub fn logs_text() -> String {
    let bytes = capture_logs().lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
