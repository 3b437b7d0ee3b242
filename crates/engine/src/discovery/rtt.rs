//! The network's round-trip time, learned from the devices that answer, and
//! the probe timeout derived from it — the way TCP (RFC 6298) and nmap set
//! theirs: smoothed RTT plus four deviations, kept between a floor and a
//! ceiling. Silent addresses are what a sweep spends its time on; waiting a
//! fixed second for each is what makes other tools slow.
//!
//! Invariants: before any answer the timeout is the ceiling; it never leaves
//! [floor, ceiling]; one estimator is shared by every probe of a scan.

use std::sync::Mutex;
use std::time::Duration;

/// Shared RTT estimate.
#[derive(Debug)]
pub struct RttEstimator {
    floor: Duration,
    ceiling: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    samples: u64,
    srtt: f64,
    rttvar: f64,
}

impl RttEstimator {
    /// An estimator whose timeout stays within `[floor, ceiling]`.
    pub fn new(floor: Duration, ceiling: Duration) -> Self {
        Self {
            floor: floor.min(ceiling),
            ceiling,
            state: Mutex::new(State::default()),
        }
    }

    /// Records one answered request's round trip.
    pub fn sample(&self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        let Ok(mut s) = self.state.lock() else { return };
        if s.samples == 0 {
            s.srtt = r;
            s.rttvar = r / 2.0;
        } else {
            s.rttvar = 0.75 * s.rttvar + 0.25 * (s.srtt - r).abs();
            s.srtt = 0.875 * s.srtt + 0.125 * r;
        }
        s.samples += 1;
    }

    /// Answers seen so far.
    pub fn samples(&self) -> u64 {
        self.state.lock().map(|s| s.samples).unwrap_or(0)
    }

    /// Smoothed round-trip time, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        let s = self.state.lock().ok()?;
        (s.samples > 0).then(|| Duration::from_secs_f64(s.srtt))
    }

    /// How long to wait for an answer now.
    pub fn timeout(&self) -> Duration {
        let Ok(s) = self.state.lock().map(|s| *s) else {
            return self.ceiling;
        };
        if s.samples == 0 {
            return self.ceiling;
        }
        Duration::from_secs_f64((s.srtt + 4.0 * s.rttvar).max(0.0)).clamp(self.floor, self.ceiling)
    }

    /// How long to wait after sending one credential before sending the next
    /// to the same address: long enough that a device which answers the
    /// first almost always has, so it never sees a wrong community.
    pub fn stagger(&self) -> Duration {
        let Ok(s) = self.state.lock().map(|s| *s) else {
            return self.floor;
        };
        if s.samples == 0 {
            return self.floor / 2;
        }
        Duration::from_secs_f64(2.0 * s.srtt + 4.0 * s.rttvar)
            .clamp(Duration::from_millis(10), self.timeout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn without_answers_the_timeout_is_the_ceiling() {
        let e = RttEstimator::new(100 * MS, 1000 * MS);
        assert_eq!(e.timeout(), 1000 * MS);
        assert_eq!(e.samples(), 0);
    }

    #[test]
    fn a_fast_network_brings_the_timeout_down_to_the_floor() {
        let e = RttEstimator::new(100 * MS, 1000 * MS);
        for _ in 0..20 {
            e.sample(2 * MS);
        }
        assert_eq!(e.timeout(), 100 * MS);
        assert!(e.stagger() >= 10 * MS && e.stagger() <= 100 * MS);
    }

    #[test]
    fn a_slow_and_jittery_network_keeps_a_longer_timeout() {
        let e = RttEstimator::new(100 * MS, 1000 * MS);
        for ms in [150, 300, 120, 400, 200, 350] {
            e.sample(ms * MS);
        }
        let t = e.timeout();
        assert!(t > 300 * MS && t <= 1000 * MS, "{t:?}");
    }

    #[test]
    fn the_timeout_never_exceeds_the_ceiling() {
        let e = RttEstimator::new(100 * MS, 1000 * MS);
        e.sample(Duration::from_secs(5));
        assert_eq!(e.timeout(), 1000 * MS);
    }
}
