//! The fleet's state at a glance: which tray icon to show and the status
//! line of the tray menu, from the collector's in-memory counts and the
//! upload loop's state (no database read, so the tray can ask every few
//! seconds).
//!
//! Invariant: the look has one order of precedence — paused, then a printer
//! in error, then sync failing, then something needing attention, then all
//! OK — so the icon never says "OK" while anything worse is true.

use printscout_engine::collector::CollectorStatus;
use printscout_engine::uplink::upload::UplinkState;

/// What the tray icon shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Every printer answers and none needs anything.
    Ok,
    /// A printer warns (supply low, offline, a warning alert).
    Attention,
    /// A printer is in error (jam, door open, out of paper, toner empty…).
    Error,
    /// Uploads are failing.
    SyncFailing,
    /// Monitoring is paused.
    Paused,
}

impl Look {
    /// The tray icon file (in `icons/tray/`) for this look.
    pub fn icon(self) -> &'static [u8] {
        match self {
            Look::Ok => include_bytes!("../../icons/tray/ok.png"),
            Look::Attention => include_bytes!("../../icons/tray/attention.png"),
            Look::Error => include_bytes!("../../icons/tray/error.png"),
            Look::SyncFailing => include_bytes!("../../icons/tray/sync-failing.png"),
            Look::Paused => include_bytes!("../../icons/tray/paused.png"),
        }
    }

    /// In words, for the tooltip and the logs.
    pub fn words(self) -> &'static str {
        match self {
            Look::Ok => "all printers OK",
            Look::Attention => "a printer needs attention",
            Look::Error => "a printer is in error",
            Look::SyncFailing => "sending the data is failing",
            Look::Paused => "monitoring is paused",
        }
    }
}

/// The look for these counts.
pub fn look(st: &CollectorStatus, up: &UplinkState) -> Look {
    if st.state == "paused" {
        Look::Paused
    } else if st.error > 0 {
        Look::Error
    } else if up.configured && up.failures > 0 {
        Look::SyncFailing
    } else if st.warning > 0 || st.offline > 0 {
        Look::Attention
    } else {
        Look::Ok
    }
}

/// The tray menu's first line: "12 printers, 1 error, synced 3 min ago".
pub fn status_line(st: &CollectorStatus, up: &UplinkState, now_ms: i64) -> String {
    let mut parts = vec![match st.devices {
        0 => "no printers yet".to_string(),
        1 => "1 printer".to_string(),
        n => format!("{n} printers"),
    }];
    let count = |n: usize, one: &str, many: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {many}")),
    };
    parts.extend(count(st.error, "error", "errors"));
    parts.extend(count(st.offline, "offline", "offline"));
    parts.extend(count(st.warning, "warning", "warnings"));
    if st.state == "paused" {
        parts.push("paused".into());
    }
    if up.configured {
        parts.push(if up.failures > 0 {
            "sync failing".to_string()
        } else {
            match up.last_success {
                Some(at) => format!("synced {}", ago(now_ms.saturating_sub(at))),
                None => "not synced yet".to_string(),
            }
        });
    }
    parts.join(", ")
}

/// "just now", "3 min ago", "2 h ago", "4 days ago".
fn ago(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        ..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => match s / 86_400 {
            1 => "1 day ago".into(),
            d => format!("{d} days ago"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(devices: usize, error: usize, warning: usize, offline: usize) -> CollectorStatus {
        CollectorStatus {
            state: "running".into(),
            devices,
            ok: devices - error - warning - offline,
            error,
            warning,
            offline,
            ..CollectorStatus::default()
        }
    }

    fn synced(at: i64) -> UplinkState {
        UplinkState {
            configured: true,
            last_success: Some(at),
            ..UplinkState::default()
        }
    }

    #[test]
    fn the_status_line_counts_printers_errors_and_the_last_sync() {
        let now = 1_000_000_000;
        assert_eq!(
            status_line(&status(12, 1, 0, 0), &synced(now - 180_000), now),
            "12 printers, 1 error, synced 3 min ago"
        );
        assert_eq!(
            status_line(&status(3, 0, 2, 1), &UplinkState::default(), now),
            "3 printers, 1 offline, 2 warnings"
        );
        assert_eq!(
            status_line(&status(1, 0, 0, 0), &UplinkState::default(), now),
            "1 printer"
        );
        assert_eq!(
            status_line(&CollectorStatus::default(), &UplinkState::default(), now),
            "no printers yet"
        );
        let failing = UplinkState {
            failures: 3,
            ..synced(0)
        };
        assert_eq!(
            status_line(&status(2, 0, 0, 0), &failing, now),
            "2 printers, sync failing"
        );
        assert_eq!(
            status_line(
                &status(2, 0, 0, 0),
                &UplinkState {
                    configured: true,
                    ..UplinkState::default()
                },
                now
            ),
            "2 printers, not synced yet"
        );
    }

    #[test]
    fn the_look_shows_the_worst_state_first() {
        let up = UplinkState::default();
        assert_eq!(look(&status(3, 0, 0, 0), &up), Look::Ok);
        assert_eq!(look(&status(3, 0, 1, 0), &up), Look::Attention);
        assert_eq!(look(&status(3, 0, 0, 1), &up), Look::Attention);
        assert_eq!(look(&status(3, 1, 1, 0), &up), Look::Error);
        let failing = UplinkState {
            configured: true,
            failures: 1,
            ..UplinkState::default()
        };
        assert_eq!(look(&status(3, 0, 1, 0), &failing), Look::SyncFailing);
        assert_eq!(look(&status(3, 1, 0, 0), &failing), Look::Error);
        let paused = CollectorStatus {
            state: "paused".into(),
            ..status(3, 1, 0, 0)
        };
        assert_eq!(look(&paused, &failing), Look::Paused);
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(5_000), "just now");
        assert_eq!(ago(61_000), "1 min ago");
        assert_eq!(ago(7_200_000), "2 h ago");
        assert_eq!(ago(86_400_000), "1 day ago");
        assert_eq!(ago(4 * 86_400_000), "4 days ago");
    }
}
