//! When each device's next poll is due: pure arithmetic, tested on its own.
//!
//! Each (device, job) has a fixed *phase* inside its interval, derived from
//! the device id, so a fleet is spread evenly over the interval instead of
//! bursting, and adding a device does not reshuffle the others. A run is due
//! at `phase + k × interval` (wall-clock milliseconds).
//!
//! Invariants: after a run at `now` the next one is the first slot strictly
//! after `now`, so however many slots a sleep or pause skipped, the device
//! runs once, never once per missed slot; a missed run is caught up within a
//! short window (spread by the same phase) rather than all at one instant.

/// Milliseconds.
pub type Ms = i64;

/// A job's place in its interval for this device (0 ≤ phase < interval).
pub fn phase(device_id: i64, job: u8, interval: Ms) -> Ms {
    if interval <= 0 {
        return 0;
    }
    // SplitMix64: cheap and well spread even for consecutive ids.
    let mut z = (device_id as u64)
        .wrapping_mul(31)
        .wrapping_add(u64::from(job))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % interval as u64) as Ms
}

/// The first slot strictly after `t`.
pub fn next_slot_after(t: Ms, interval: Ms, phase: Ms) -> Ms {
    if interval <= 0 {
        return t + 1;
    }
    let k = (t - phase).div_euclid(interval) + 1;
    phase + k * interval
}

/// When a job that last ran at `last` (if ever) should next run, seen at
/// `now`: its next slot if that is still ahead, else (it was missed) a
/// catch-up time spread over `catch_up` by the phase.
pub fn due_after(last: Option<Ms>, now: Ms, interval: Ms, phase: Ms, catch_up: Ms) -> Ms {
    match last {
        Some(l) if next_slot_after(l, interval, phase) > now => next_slot_after(l, interval, phase),
        _ => now + spread(phase, interval, catch_up),
    }
}

/// The phase scaled into a catch-up window (never longer than the interval).
pub fn spread(phase: Ms, interval: Ms, window: Ms) -> Ms {
    if interval <= 0 || window <= 0 {
        return 0;
    }
    let window = window.min(interval);
    ((phase as i128 * window as i128) / interval as i128) as Ms
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Ms = 60_000;

    #[test]
    fn phases_spread_a_fleet_evenly_over_the_interval() {
        let interval = 5 * MIN;
        let mut buckets = [0u32; 10];
        for id in 1..=1000 {
            let p = phase(id, 0, interval);
            assert!((0..interval).contains(&p));
            buckets[(p * 10 / interval) as usize] += 1;
        }
        // 100 expected per tenth of the interval.
        assert!(
            buckets.iter().all(|&b| (60..=140).contains(&b)),
            "{buckets:?}"
        );
    }

    #[test]
    fn the_next_slot_is_strictly_after_the_given_time() {
        assert_eq!(next_slot_after(0, 100, 30), 30);
        assert_eq!(next_slot_after(30, 100, 30), 130);
        assert_eq!(next_slot_after(129, 100, 30), 130);
        assert_eq!(next_slot_after(-5, 100, 30), 30);
    }

    #[test]
    fn a_job_that_missed_many_slots_runs_once_soon_not_once_per_slot() {
        let interval = 5 * MIN;
        let last = 0;
        let now = 10 * interval + 7;
        let due = due_after(Some(last), now, interval, 1234, MIN);
        assert!(due >= now && due < now + MIN);
        // After it runs, the next is one interval-slot later, not a backlog.
        let next = next_slot_after(due, interval, 1234);
        assert!(next > due && next <= due + interval);
    }

    #[test]
    fn a_job_whose_slot_is_ahead_keeps_its_slot() {
        let interval = 60 * MIN;
        let p = phase(7, 1, interval);
        let last = next_slot_after(0, interval, p);
        let now = last + 10;
        assert_eq!(
            due_after(Some(last), now, interval, p, MIN),
            last + interval
        );
    }
}
