//! Which collector events become a desktop notification, and when: the pure
//! policy behind the tray app's pop-ups (the app owns showing them).
//!
//! - An event is announced only if its problem is one the user picked
//!   ([`NotifyOn`]): paper jam, door open, out of paper, toner empty, offline,
//!   supply low.
//! - **Grouped**: the first problem opens a window of [`Policy::GROUP_WINDOW`];
//!   everything that arrives meanwhile goes out as one notification (ten
//!   printers going offline at once is one pop-up).
//! - **One line per printer and kind of problem**: the same jam reported as an
//!   error bit and as an alert is said once.
//! - **Debounced**: a problem that clears inside the window is not announced
//!   at all, and the same printer and problem is not announced again within
//!   `repeat_after` (a flapping door sensor is one pop-up an hour, not twenty).
//!
//! - **Never blocking**: [`run`] shows each notification through a
//!   [`Notifier`] under [`SHOW_TIMEOUT`]; a hung notification daemon costs one
//!   timeout per group and is counted, never waited on, never retried in a
//!   loop.
//!
//! Invariants: [`Policy`] holds no I/O and no clock; time comes in as
//! milliseconds, so the tests drive it exactly. It keeps one entry per
//! announced (printer, problem) and forgets entries older than
//! `repeat_after`, so its memory is bounded by the problems of the last hour.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::config::{NotificationSettings, NotifyOn};
use crate::events::{Event, EventKind, Severity};

/// One notification to show.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The title ("Paper jam", "3 printers offline").
    pub summary: String,
    /// The details, one line per problem (at most [`Policy::MAX_LINES`], then
    /// "and N more").
    pub body: String,
    /// Where a click leads in the UI: `#/printers/<id>` for one printer,
    /// `#/printers` for several.
    pub target: String,
    /// The worst severity in it.
    pub severity: Severity,
    /// How many problems it announces.
    pub count: usize,
    /// The store ids of the events it announces.
    pub event_ids: Vec<i64>,
}

/// A problem waiting for its group window to close.
#[derive(Clone, Debug)]
struct Pending {
    on: NotifyOn,
    device_id: Option<i64>,
    key: String,
    event_id: i64,
    severity: Severity,
    message: String,
}

/// The notification policy; feed it every collector event with
/// [`Policy::offer`] and call [`Policy::flush`] when [`Policy::due`] says.
#[derive(Debug)]
pub struct Policy {
    settings: NotificationSettings,
    pending: Vec<Pending>,
    window_ends: Option<i64>,
    /// (device, problem key) → when it was last announced (ms).
    announced: HashMap<(Option<i64>, String), i64>,
}

impl Policy {
    /// How long the first problem waits for others to join it, in ms.
    pub const GROUP_WINDOW: i64 = 10_000;
    /// Lines in a grouped notification's body before "and N more".
    pub const MAX_LINES: usize = 5;

    /// A policy with these settings.
    pub fn new(settings: NotificationSettings) -> Self {
        Self {
            settings,
            pending: Vec::new(),
            window_ends: None,
            announced: HashMap::new(),
        }
    }

    /// New settings (what is pending and what was announced are kept; a
    /// problem no longer picked is dropped from the pending group).
    pub fn reconfigure(&mut self, settings: NotificationSettings) {
        self.settings = settings;
        let on = self.settings.on.clone();
        let enabled = self.settings.enabled;
        self.pending.retain(|p| enabled && on.contains(&p.on));
        if self.pending.is_empty() {
            self.window_ends = None;
        }
    }

    /// Takes one event at `now` (ms).
    pub fn offer(&mut self, e: &Event, now: i64) {
        let key = problem_key(e);
        if matches!(
            e.kind,
            EventKind::ErrorCleared | EventKind::Back | EventKind::SupplyOk
        ) {
            // Cleared before its window closed: not worth a pop-up.
            let cleared = match e.kind {
                EventKind::Back => "offline".to_string(),
                _ => key,
            };
            self.pending
                .retain(|p| !(p.device_id == e.device_id && p.key == cleared));
            if self.pending.is_empty() {
                self.window_ends = None;
            }
            return;
        }
        if !self.settings.enabled {
            return;
        }
        let Some(on) = classify(e) else { return };
        if !self.settings.on.contains(&on) {
            return;
        }
        let repeat = i64::try_from(self.settings.repeat_after.as_millis()).unwrap_or(i64::MAX);
        if let Some(at) = self.announced.get(&(e.device_id, key.clone()))
            && now.saturating_sub(*at) < repeat
        {
            return;
        }
        // One line per printer and kind of problem: printers report the same
        // jam as an error bit and as an alert ("paper jam", "Paper jam in
        // tray 2"), and a pop-up should not say it twice.
        if self
            .pending
            .iter()
            .any(|p| p.device_id == e.device_id && (p.key == key || p.on == on))
        {
            return;
        }
        self.pending.push(Pending {
            on,
            device_id: e.device_id,
            key,
            event_id: e.id,
            severity: e.severity,
            message: e.message.clone(),
        });
        self.window_ends
            .get_or_insert(now.saturating_add(Self::GROUP_WINDOW));
    }

    /// When the pending group should be flushed (ms), if anything is pending.
    pub fn due(&self) -> Option<i64> {
        self.window_ends
    }

    /// The notification for the pending group, if its window has closed at
    /// `now`; the problems in it count as announced from `now`.
    pub fn flush(&mut self, now: i64) -> Option<Notification> {
        let ends = self.window_ends?;
        if now < ends {
            return None;
        }
        self.window_ends = None;
        let group = std::mem::take(&mut self.pending);
        let repeat = i64::try_from(self.settings.repeat_after.as_millis()).unwrap_or(i64::MAX);
        self.announced
            .retain(|_, at| now.saturating_sub(*at) < repeat);
        for p in &group {
            self.announced.insert((p.device_id, p.key.clone()), now);
        }
        compose(&group)
    }
}

/// The stable key of the problem an event is about (its condition key, or
/// `offline`).
fn problem_key(e: &Event) -> String {
    match e.kind {
        EventKind::Offline | EventKind::Back => "offline".into(),
        _ => e
            .data
            .get("condition")
            .and_then(|c| c.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}:{}", e.kind.as_str(), e.message)),
    }
}

/// Which announceable problem an event is, if any.
pub fn classify(e: &Event) -> Option<NotifyOn> {
    match e.kind {
        EventKind::Offline => Some(NotifyOn::Offline),
        EventKind::SupplyLow => Some(NotifyOn::SupplyLow),
        EventKind::SupplyEmpty => Some(NotifyOn::TonerEmpty),
        EventKind::PrinterError => classify_error(&problem_key(e), &e.message),
        _ => None,
    }
}

/// A printer error by its condition key (`error:jammed`, `alert:…:text`) and
/// words.
fn classify_error(key: &str, message: &str) -> Option<NotifyOn> {
    let k = format!("{key} {message}").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| k.contains(w));
    if has(&["jam"]) {
        return Some(NotifyOn::PaperJam);
    }
    if has(&["door", "cover", "interlock"]) && !has(&["closed"]) {
        return Some(NotifyOn::DoorOpen);
    }
    if has(&[
        "nopaper",
        "no paper",
        "out of paper",
        "paper out",
        "inputtrayempty",
        "tray empty",
        "tray is empty",
        "media empty",
        "mediaempty",
        "inputmediasupplyempty",
        "media-empty",
        "load paper",
    ]) {
        return Some(NotifyOn::OutOfPaper);
    }
    if has(&[
        "notoner",
        "no toner",
        "toner empty",
        "tonerempty",
        "out of toner",
        "toner is empty",
        "ink empty",
        "out of ink",
    ]) {
        return Some(NotifyOn::TonerEmpty);
    }
    None
}

/// The title of one problem of this kind.
fn title(on: NotifyOn) -> &'static str {
    match on {
        NotifyOn::PaperJam => "Paper jam",
        NotifyOn::DoorOpen => "Door open",
        NotifyOn::OutOfPaper => "Out of paper",
        NotifyOn::TonerEmpty => "Toner or ink empty",
        NotifyOn::Offline => "Printer offline",
        NotifyOn::SupplyLow => "Supply low",
    }
}

/// The title of several problems of one kind.
fn plural(on: NotifyOn, printers: usize, problems: usize) -> String {
    match on {
        NotifyOn::PaperJam => format!("{printers} printers jammed"),
        NotifyOn::DoorOpen => format!("{printers} printers with a door open"),
        NotifyOn::OutOfPaper => format!("{printers} printers out of paper"),
        NotifyOn::TonerEmpty => format!("{problems} supplies empty"),
        NotifyOn::Offline => format!("{printers} printers offline"),
        NotifyOn::SupplyLow => format!("{problems} supplies low"),
    }
}

fn compose(group: &[Pending]) -> Option<Notification> {
    let first = group.first()?;
    let mut devices: Vec<Option<i64>> = group.iter().map(|p| p.device_id).collect();
    devices.sort_unstable();
    devices.dedup();
    let severity = group
        .iter()
        .map(|p| p.severity)
        .max()
        .unwrap_or(first.severity);
    let same_kind = group.iter().all(|p| p.on == first.on);
    let summary = match (group.len(), same_kind, devices.len()) {
        (1, _, _) => title(first.on).to_string(),
        (_, true, 1) if matches!(first.on, NotifyOn::TonerEmpty | NotifyOn::SupplyLow) => {
            plural(first.on, 1, group.len())
        }
        (_, true, n) if n > 1 => plural(first.on, n, group.len()),
        (n, _, 1) => format!("{n} problems on one printer"),
        (n, _, d) => format!("{n} printer problems on {d} printers"),
    };
    let mut lines: Vec<&str> = group
        .iter()
        .take(Policy::MAX_LINES)
        .map(|p| p.message.as_str())
        .collect();
    let more = group.len().saturating_sub(Policy::MAX_LINES);
    let more_line = format!("and {more} more");
    if more > 0 {
        lines.push(&more_line);
    }
    let target = match devices.as_slice() {
        [Some(id)] => format!("#/printers/{id}"),
        _ => "#/printers".to_string(),
    };
    Some(Notification {
        summary,
        body: lines.join("\n"),
        target,
        severity,
        count: group.len(),
        event_ids: group.iter().map(|p| p.event_id).collect(),
    })
}

/// How long showing one notification may take before it is given up.
pub const SHOW_TIMEOUT: Duration = Duration::from_secs(3);

/// Shows notifications on the desktop (the tray app implements it with the
/// freedesktop notification service).
pub trait Notifier: Send + Sync + 'static {
    /// Shows one; an error is said in words.
    fn show(&self, n: Notification) -> BoxFuture<'static, Result<(), String>>;
}

/// What the notification loop did, for the logs and the tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Notifications shown.
    pub shown: AtomicU64,
    /// Notifications that failed (no service, an error).
    pub failed: AtomicU64,
    /// Notifications given up after [`SHOW_TIMEOUT`] (a hung daemon).
    pub timed_out: AtomicU64,
}

/// Feeds every collector event to a [`Policy`] and shows what it composes,
/// until `stop` fires or the event channel closes. `settings` is asked for
/// the current settings at every event (so a change through the API applies
/// at once).
pub async fn run(
    mut events: broadcast::Receiver<Event>,
    settings: impl Fn() -> NotificationSettings + Send + 'static,
    notifier: Arc<dyn Notifier>,
    counters: Arc<Counters>,
    stop: CancellationToken,
) {
    let mut policy = Policy::new(settings());
    // The policy's clock: monotonic milliseconds since the loop started (a
    // wall-clock jump neither floods nor silences notifications).
    let base = tokio::time::Instant::now();
    let now_ms = || i64::try_from(base.elapsed().as_millis()).unwrap_or(i64::MAX);
    loop {
        let wait = policy.due().map(|due| {
            Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0))
        });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {
                if let Some(n) = policy.flush(now_ms()) {
                    show(&*notifier, n, &counters).await;
                }
            }
            e = events.recv() => match e {
                Ok(e) => {
                    let s = settings();
                    if s != policy.settings {
                        policy.reconfigure(s);
                    }
                    policy.offer(&e, now_ms());
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the notification loop fell behind the collector's events");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

async fn show(notifier: &dyn Notifier, n: Notification, counters: &Counters) {
    let summary = n.summary.clone();
    match tokio::time::timeout(SHOW_TIMEOUT, notifier.show(n)).await {
        Ok(Ok(())) => {
            counters.shown.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%summary, "notification shown");
        }
        Ok(Err(e)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%summary, error = %e, "the desktop notification could not be shown");
        }
        Err(_) => {
            counters.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %summary,
                timeout = ?SHOW_TIMEOUT,
                "the notification service did not answer; notification dropped"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn event(id: i64, device: i64, kind: EventKind, condition: &str, message: &str) -> Event {
        Event {
            id,
            at: 0,
            device_id: Some(device),
            kind,
            severity: Severity::Error,
            message: message.into(),
            data: json!({ "condition": condition }),
        }
    }

    fn jam(id: i64, device: i64) -> Event {
        event(
            id,
            device,
            EventKind::PrinterError,
            "error:jammed",
            &format!("Printer {device}: paper jam"),
        )
    }

    fn offline(id: i64, device: i64) -> Event {
        Event {
            id,
            at: 0,
            device_id: Some(device),
            kind: EventKind::Offline,
            severity: Severity::Warning,
            message: format!("Printer {device} is offline"),
            data: json!({ "failures": 3 }),
        }
    }

    fn back(id: i64, device: i64) -> Event {
        Event {
            kind: EventKind::Back,
            severity: Severity::Info,
            ..offline(id, device)
        }
    }

    fn policy() -> Policy {
        Policy::new(NotificationSettings::default())
    }

    const W: i64 = Policy::GROUP_WINDOW;

    #[test]
    fn one_jam_is_one_notification_after_the_group_window_that_opens_its_printer() {
        let mut p = policy();
        p.offer(&jam(1, 7), 1_000);
        assert_eq!(p.due(), Some(1_000 + W));
        assert_eq!(p.flush(1_000 + W - 1), None, "not before the window closes");
        let n = p.flush(1_000 + W).expect("a notification");
        assert_eq!(n.summary, "Paper jam");
        assert_eq!(n.body, "Printer 7: paper jam");
        assert_eq!(n.target, "#/printers/7");
        assert_eq!(n.event_ids, vec![1]);
        assert_eq!(p.due(), None);
    }

    #[test]
    fn ten_printers_going_offline_at_once_are_one_notification() {
        let mut p = policy();
        for d in 0..10 {
            p.offer(&offline(d, d), 1_000 + d * 100);
        }
        let n = p.flush(1_000 + W).expect("one notification");
        assert_eq!(n.summary, "10 printers offline");
        assert_eq!(n.count, 10);
        assert_eq!(n.target, "#/printers");
        assert_eq!(n.body.lines().count(), Policy::MAX_LINES + 1);
        assert!(n.body.ends_with("and 5 more"), "{}", n.body);
        assert_eq!(p.flush(1_000 + 2 * W), None, "nothing is left");
    }

    #[test]
    fn a_flapping_printer_is_announced_once_per_repeat_period() {
        let mut p = policy();
        let mut shown = 0;
        let mut now = 0;
        // A door sensor that flaps every 30 s for 40 minutes.
        for i in 0..80 {
            p.offer(
                &event(
                    i * 2,
                    3,
                    EventKind::PrinterError,
                    "error:doorOpen",
                    "Printer 3: door open",
                ),
                now,
            );
            now += 15_000;
            if p.flush(now).is_some() {
                shown += 1;
            }
            p.offer(
                &event(
                    i * 2 + 1,
                    3,
                    EventKind::ErrorCleared,
                    "error:doorOpen",
                    "cleared",
                ),
                now,
            );
            now += 15_000;
        }
        assert_eq!(shown, 1, "one pop-up in 40 minutes of flapping");
        // After repeat_after (1 h) it is news again.
        now += 3_600_000;
        p.offer(
            &event(
                999,
                3,
                EventKind::PrinterError,
                "error:doorOpen",
                "Printer 3: door open",
            ),
            now,
        );
        assert!(p.flush(now + W).is_some());
    }

    #[test]
    fn a_problem_that_clears_inside_the_window_is_not_announced() {
        let mut p = policy();
        p.offer(&offline(1, 4), 0);
        p.offer(&back(2, 4), 5_000);
        assert_eq!(p.due(), None);
        assert_eq!(p.flush(W), None);
    }

    #[test]
    fn problems_the_user_did_not_pick_are_not_announced() {
        let mut p = Policy::new(NotificationSettings {
            on: vec![NotifyOn::Offline],
            ..NotificationSettings::default()
        });
        p.offer(&jam(1, 1), 0);
        assert_eq!(p.due(), None);
        p.offer(&offline(2, 1), 0);
        assert_eq!(
            p.flush(W).map(|n| n.summary),
            Some("Printer offline".into())
        );

        let mut off = Policy::new(NotificationSettings {
            enabled: false,
            ..NotificationSettings::default()
        });
        off.offer(&offline(3, 1), 0);
        assert_eq!(off.due(), None);
    }

    #[test]
    fn mixed_problems_name_their_count_and_printers() {
        let mut p = policy();
        p.offer(&jam(1, 1), 0);
        p.offer(&offline(2, 2), 10);
        let n = p.flush(W).expect("a notification");
        assert_eq!(n.summary, "2 printer problems on 2 printers");
        assert_eq!(n.body, "Printer 1: paper jam\nPrinter 2 is offline");
        let mut p = policy();
        p.offer(&jam(1, 1), 0);
        p.offer(
            &event(
                2,
                1,
                EventKind::PrinterError,
                "error:doorOpen",
                "Printer 1: door open",
            ),
            0,
        );
        let n = p.flush(W).expect("a notification");
        assert_eq!(n.summary, "2 problems on one printer");
        assert_eq!(n.target, "#/printers/1");
    }

    #[test]
    fn the_same_problem_reported_twice_by_one_printer_is_one_line() {
        let mut p = policy();
        p.offer(&jam(1, 1), 0);
        p.offer(
            &event(
                2,
                1,
                EventKind::PrinterError,
                "alert:8:8:Paper jam in tray 2",
                "Printer 1: Paper jam in tray 2",
            ),
            0,
        );
        p.offer(&jam(3, 2), 0);
        let n = p.flush(W).expect("a notification");
        assert_eq!(n.summary, "2 printers jammed");
        assert_eq!(n.body, "Printer 1: paper jam\nPrinter 2: paper jam");
    }

    #[test]
    fn errors_are_classified_by_their_condition_and_words() {
        let c = |key: &str, msg: &str| classify_error(key, msg);
        assert_eq!(c("error:jammed", ""), Some(NotifyOn::PaperJam));
        assert_eq!(
            c("alert:5:8:Paper jam in tray 2", ""),
            Some(NotifyOn::PaperJam)
        );
        assert_eq!(c("error:doorOpen", ""), Some(NotifyOn::DoorOpen));
        assert_eq!(c("alert:6:3:Cover open", ""), Some(NotifyOn::DoorOpen));
        assert_eq!(c("error:noPaper", ""), Some(NotifyOn::OutOfPaper));
        assert_eq!(c("error:inputTrayEmpty", ""), Some(NotifyOn::OutOfPaper));
        assert_eq!(c("ipp:media-empty-error", ""), Some(NotifyOn::OutOfPaper));
        assert_eq!(c("error:noToner", ""), Some(NotifyOn::TonerEmpty));
        assert_eq!(c("error:lowPaper", "paper low"), None);
        assert_eq!(c("error:serviceRequested", "service requested"), None);
        let low = Event {
            kind: EventKind::SupplyLow,
            ..jam(1, 1)
        };
        assert_eq!(classify(&low), Some(NotifyOn::SupplyLow));
        let empty = Event {
            kind: EventKind::SupplyEmpty,
            ..jam(1, 1)
        };
        assert_eq!(classify(&empty), Some(NotifyOn::TonerEmpty));
        let new = Event {
            kind: EventKind::NewDevice,
            ..jam(1, 1)
        };
        assert_eq!(classify(&new), None);
    }

    #[test]
    fn a_repeat_period_of_zero_announces_every_occurrence() {
        let mut p = Policy::new(NotificationSettings {
            repeat_after: Duration::ZERO,
            ..NotificationSettings::default()
        });
        p.offer(&jam(1, 1), 0);
        assert!(p.flush(W).is_some());
        p.offer(&jam(2, 1), W + 1);
        assert!(p.flush(2 * W + 1).is_some());
    }

    struct Hung(Arc<AtomicU64>);
    impl Notifier for Hung {
        fn show(&self, _: Notification) -> BoxFuture<'static, Result<(), String>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Box::pin(futures::future::pending())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_notification_service_costs_one_timeout_and_blocks_nothing() {
        let (tx, rx) = broadcast::channel(16);
        let calls = Arc::new(AtomicU64::new(0));
        let counters = Arc::new(Counters::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            rx,
            NotificationSettings::default,
            Arc::new(Hung(calls.clone())),
            counters.clone(),
            stop.clone(),
        ));
        tx.send(jam(1, 1)).expect("the loop listens");
        tokio::time::sleep(Duration::from_millis(W as u64) + SHOW_TIMEOUT + Duration::from_secs(1))
            .await;
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(counters.timed_out.load(Ordering::Relaxed), 1);
        // The loop is still taking events.
        tx.send(offline(2, 2)).expect("the loop still listens");
        tokio::time::sleep(Duration::from_millis(W as u64) + SHOW_TIMEOUT + Duration::from_secs(1))
            .await;
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        stop.cancel();
        task.await.expect("the loop ends when told");
    }

    #[test]
    fn the_memory_of_announced_problems_is_bounded_by_the_repeat_period() {
        let mut p = policy();
        for d in 0..1_000 {
            p.offer(&offline(d, d), d * W);
            p.flush((d + 1) * W);
        }
        // 1,000 announcements 10 s apart: only those of the last hour remain.
        assert!(p.announced.len() <= 361, "{}", p.announced.len());
    }
}
