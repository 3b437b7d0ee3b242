//! Wall-clock time for the scheduler, behind a trait so tests can run hours
//! of schedule under tokio's paused clock and jump the wall clock to
//! simulate a laptop that slept.
//!
//! Invariant: the scheduler never trusts a monotonic clock alone for "what
//! is due" — CLOCK_MONOTONIC stops while a machine sleeps, so a run missed
//! during sleep would never be noticed. It sleeps on tokio time in short
//! steps and asks [`Clock::now_ms`] what time it really is.

use std::sync::atomic::{AtomicI64, Ordering};

/// The current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that follows tokio time (so `tokio::time::pause` drives it) plus
/// jumps, for tests.
#[derive(Debug)]
pub struct TestClock {
    base_ms: i64,
    start: tokio::time::Instant,
    jumped_ms: AtomicI64,
}

impl TestClock {
    /// Starts at `base_ms`.
    pub fn new(base_ms: i64) -> Self {
        Self {
            base_ms,
            start: tokio::time::Instant::now(),
            jumped_ms: AtomicI64::new(0),
        }
    }

    /// Moves the wall clock forward without tokio time passing, like a
    /// machine waking from sleep.
    pub fn jump(&self, by: std::time::Duration) {
        self.jumped_ms.fetch_add(
            i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms + elapsed + self.jumped_ms.load(Ordering::SeqCst)
    }
}
