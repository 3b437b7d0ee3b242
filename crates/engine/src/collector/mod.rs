//! The collector service: keeps the device list, polls each device on
//! schedule (status often, a full read of counters and supplies less often),
//! rediscovers the selected networks, writes the daily report, records every
//! result in the [`Store`] and publishes the events it raises to in-process
//! subscribers (the API, notifications and the uplink subscribe).
//!
//! Invariants:
//! - at most one poll of a device is in flight at any time (a full read that
//!   comes due while a status poll runs waits for it; a status poll that comes
//!   due during a full read is skipped — the full read includes status);
//! - polls are spread over each interval by a per-device phase
//!   ([`schedule`]); after a sleep, a pause or a start the missed runs are
//!   caught up once, spread over `catch_up_window`, never once per missed slot;
//! - each poll runs in its own task under a concurrency limit and ends by
//!   its deadline, so one dead printer never delays the others;
//! - the device list is re-read whenever another process (the CLI) changes
//!   the database (`PRAGMA data_version`), so `printscout devices add` works
//!   while the service runs;
//! - on shutdown, polls in flight are abandoned but a reading already being
//!   written is finished: nothing half-written, at most the reading in flight lost.

pub mod clock;
pub mod poller;
pub mod schedule;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Local, NaiveTime, TimeZone};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use self::clock::Clock;
use self::poller::{PollTarget, Poller};
use self::schedule::{Ms, due_after, next_slot_after, phase, spread};
use crate::events::Event;
use crate::store::{PollKind, PollOutcome, PollResult, Rules, ScheduleEntry, Store};

/// How the collector runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Status poll interval.
    pub status_every: Duration,
    /// Full read (counters, supplies) interval.
    pub meters_every: Duration,
    /// 3D job history interval (3D printers arrive with their protocols).
    pub jobs_every: Duration,
    /// Rediscovery interval.
    pub rediscover_every: Duration,
    /// Report interval.
    pub report_every: Duration,
    /// Local time of the first report of a day, when `report_every` is whole days.
    pub report_at: Option<NaiveTime>,
    /// Event rules.
    pub rules: Rules,
    /// Devices polled at once.
    pub concurrency: usize,
    /// Missed runs are caught up spread over this window.
    pub catch_up_window: Duration,
    /// Where the scheduled report is written (`None`: no report).
    pub reports_dir: Option<PathBuf>,
    /// Whether rediscovery runs (it needs selected networks).
    pub rediscovery: bool,
    /// E-mail each scheduled report (`None`: no e-mail). Set with
    /// [`Settings::with_email`].
    pub email: Option<EmailJob>,
}

/// What e-mailing the scheduled report needs: the configuration (`[email]`,
/// and what the report body shows) and the store holding the SMTP password.
#[derive(Clone)]
pub struct EmailJob {
    /// The configuration the report is sent by.
    pub config: Arc<crate::config::Config>,
    /// Where the SMTP password is.
    pub secrets: Arc<dyn crate::secrets::SecretStore>,
}

impl std::fmt::Debug for EmailJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailJob")
            .field("to", &self.config.email.to)
            .field("secrets", &self.secrets.kind())
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            status_every: Duration::from_secs(300),
            meters_every: Duration::from_secs(3600),
            jobs_every: Duration::from_secs(3600),
            rediscover_every: Duration::from_secs(84 * 3600),
            report_every: Duration::from_secs(86_400),
            report_at: NaiveTime::from_hms_opt(6, 0, 0),
            rules: Rules::default(),
            concurrency: 64,
            catch_up_window: Duration::from_secs(60),
            reports_dir: None,
            rediscovery: false,
            email: None,
        }
    }
}

impl Settings {
    /// The settings a configuration file describes, with the daily report
    /// written to `<data_dir>/reports`.
    pub fn from_config(config: &crate::config::Config, data_dir: &std::path::Path) -> Settings {
        let s = &config.schedule;
        Settings {
            status_every: s.status_every,
            meters_every: s.meters_every,
            jobs_every: s.jobs_every,
            rediscover_every: s.rediscover_every,
            report_every: s.report_every,
            report_at: Some(s.report_at),
            rules: rules_from(config),
            concurrency: config.snmp.concurrency,
            reports_dir: Some(data_dir.join("reports")),
            rediscovery: !config.discovery.networks.is_empty(),
            ..Settings::default()
        }
    }

    /// The same settings, e-mailing each scheduled report as `config`'s
    /// `[email]` says (nothing changes when it names no SMTP server), with
    /// the SMTP password from `secrets`.
    pub fn with_email(
        mut self,
        config: &crate::config::Config,
        secrets: Arc<dyn crate::secrets::SecretStore>,
    ) -> Settings {
        self.email = crate::uplink::email::is_configured(config).then(|| EmailJob {
            config: Arc::new(config.clone()),
            secrets,
        });
        self
    }
}

/// The event rules a configuration file describes.
pub fn rules_from(config: &crate::config::Config) -> Rules {
    Rules {
        thresholds: crate::events::SupplyThresholds {
            low_percent: config.thresholds.supply_low_percent,
            empty_percent: config.thresholds.supply_empty_percent,
        },
        offline_after: config.thresholds.offline_after,
        outbox_max: config.store.outbox_max,
        queue: !config.upload.url.trim().is_empty(),
    }
}

/// The SNMP poller a configuration file describes.
pub fn poller_from(
    config: &crate::config::Config,
) -> Result<poller::SnmpPoller, crate::config::ConfigError> {
    let d = &config.discovery;
    Ok(poller::SnmpPoller::new(
        config.snmp.rate,
        d.rate,
        crate::snmp::SnmpOptions {
            timeout: config.snmp.timeout,
            retries: config.snmp.retries,
            ..crate::snmp::SnmpOptions::default()
        },
        config.snmp.port,
        config.effective_credentials()?,
        poller::Rediscovery {
            networks: d.networks.clone(),
            broadcast: d.broadcast,
            dns_sd: d.dns_sd,
            local_queues: d.local_queues,
            allow_public: d.allow_public,
        },
    ))
}

/// The collector's state, for the API and the tray.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectorStatus {
    /// `starting`, `running`, `paused` or `stopped`.
    pub state: String,
    /// Devices monitored.
    pub devices: usize,
    /// Devices whose latest status is ok.
    pub ok: usize,
    /// … warning.
    pub warning: usize,
    /// … error.
    pub error: usize,
    /// … offline.
    pub offline: usize,
    /// Polls in flight now.
    pub polling: usize,
    /// Next status poll due (ms since epoch).
    pub next_status: Option<i64>,
    /// Next full read due.
    pub next_meters: Option<i64>,
    /// Next rediscovery due.
    pub next_rediscovery: Option<i64>,
    /// Next report due.
    pub next_report: Option<i64>,
    /// Polls finished since start.
    pub polls: u64,
    /// Of which failed.
    pub failed_polls: u64,
}

struct Shared {
    store: Mutex<Store>,
    events: broadcast::Sender<Event>,
    paused: AtomicBool,
    status: Mutex<CollectorStatus>,
    wake: Notify,
    poll_now: Mutex<Vec<i64>>,
    rediscover_now: AtomicBool,
    reconfigure: Mutex<Option<(Settings, Arc<dyn Poller>)>>,
    reload: AtomicBool,
    poller: Mutex<Arc<dyn Poller>>,
    rules: Mutex<Rules>,
    polls: AtomicU64,
    failed: AtomicU64,
}

/// The running collector: [`Collector`] to steer it (it derefs to one),
/// plus the task, for [`shutdown`](Self::shutdown).
pub struct CollectorHandle {
    control: Collector,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// A cheap, cloneable way to see and steer the running collector (the API
/// and the tray hold one each).
#[derive(Clone)]
pub struct Collector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").finish_non_exhaustive()
    }
}

impl std::ops::Deref for CollectorHandle {
    type Target = Collector;
    fn deref(&self) -> &Collector {
        &self.control
    }
}

impl std::fmt::Debug for CollectorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorHandle").finish_non_exhaustive()
    }
}

/// Starts the collector on the current tokio runtime.
pub fn start(
    settings: Settings,
    store: Store,
    poller: Arc<dyn Poller>,
    clock: Arc<dyn Clock>,
) -> CollectorHandle {
    let (events, _) = broadcast::channel(1024);
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        events,
        paused: AtomicBool::new(false),
        status: Mutex::new(CollectorStatus {
            state: "starting".into(),
            ..CollectorStatus::default()
        }),
        wake: Notify::new(),
        poll_now: Mutex::new(Vec::new()),
        rediscover_now: AtomicBool::new(false),
        reconfigure: Mutex::new(None),
        reload: AtomicBool::new(false),
        poller: Mutex::new(poller.clone()),
        rules: Mutex::new(settings.rules),
        polls: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let cancel = CancellationToken::new();
    let task = tokio::spawn(
        Scheduler {
            shared: shared.clone(),
            settings,
            poller,
            clock,
            cancel: cancel.clone(),
        }
        .run(),
    );
    CollectorHandle {
        control: Collector { shared },
        cancel,
        task,
    }
}

impl CollectorHandle {
    /// A handle to steer the collector from elsewhere.
    pub fn control(&self) -> Collector {
        self.control.clone()
    }

    /// Stops: no new polls; waits (up to 30 s) for readings being written.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

impl Collector {
    /// Events as they are raised (stored first, then published).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Stops polling until [`resume`](Self::resume); missed runs are caught up once.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Resumes polling.
    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Polls a device (full read) as soon as it is free.
    pub fn poll_now(&self, device_id: i64) {
        if let Ok(mut v) = self.shared.poll_now.lock() {
            v.push(device_id);
        }
        self.shared.wake.notify_one();
    }

    /// Runs a rediscovery now.
    pub fn rediscover_now(&self) {
        self.shared.rediscover_now.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Applies new settings (intervals, rules, credentials through a new
    /// poller) without a restart: polls in flight finish under the old ones,
    /// and every device is rescheduled from its last polls.
    pub fn reconfigure(&self, settings: Settings, poller: Arc<dyn Poller>) {
        if let Ok(mut p) = self.shared.poller.lock() {
            *p = poller.clone();
        }
        if let Ok(mut r) = self.shared.rules.lock() {
            *r = settings.rules;
        }
        if let Ok(mut p) = self.shared.reconfigure.lock() {
            *p = Some((settings, poller));
        }
        self.shared.wake.notify_one();
    }

    /// The collector's state now.
    pub fn status(&self) -> CollectorStatus {
        self.shared
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Runs `f` with the store (for reads by the API).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> Option<T> {
        self.shared.store.lock().ok().map(|mut s| f(&mut s))
    }

    /// Tells the scheduler that the device list changed through its own
    /// connection (which `PRAGMA data_version` does not show).
    pub fn devices_changed(&self) {
        self.shared.reload.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Publishes events raised outside a poll (a device added by hand, a
    /// scan's findings) to the subscribers, as the collector does its own.
    pub fn publish(&self, events: Vec<Event>) {
        for e in events {
            tracing::info!(
                device = e.device_id,
                kind = e.kind.as_str(),
                "{}",
                e.message
            );
            let _ = self.shared.events.send(e);
        }
    }

    /// The poller in use now (the one the last settings made).
    pub fn poller(&self) -> Arc<dyn Poller> {
        self.shared
            .poller
            .lock()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The event rules in use now.
    pub fn rules(&self) -> Rules {
        self.shared
            .rules
            .lock()
            .map(|r| *r)
            .unwrap_or_else(|e| *e.into_inner())
    }
}

/// What a device's latest status counts as in [`CollectorStatus`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Health {
    Ok,
    Warning,
    Error,
    Offline,
    Unknown,
}

impl Health {
    fn of(d: &ScheduleEntry) -> Health {
        if d.offline {
            return Health::Offline;
        }
        match d.status.as_deref() {
            Some("ok") => Health::Ok,
            Some("warning") => Health::Warning,
            Some("error") => Health::Error,
            _ => Health::Unknown,
        }
    }
}

struct Slot {
    device: ScheduleEntry,
    status_due: Ms,
    meters_due: Ms,
    busy: bool,
}

impl Slot {
    /// Idle and with somewhere to poll.
    fn pollable(&self) -> bool {
        !self.busy && (self.device.address.is_some() || self.device.added_as.is_some())
    }
}

/// The devices with their due times, kept sorted so that a wake-up costs
/// the polls it starts, not the size of the fleet (walking 1,000 slots on
/// every wake-up was a third of the service's CPU, decision 0005), and the
/// status counts kept up to date as devices change.
#[derive(Default)]
struct Slots {
    slots: HashMap<i64, Slot>,
    /// `(status_due, id)` of every pollable slot.
    status_q: BTreeSet<(Ms, i64)>,
    /// `(meters_due, id)` of every pollable slot.
    meters_q: BTreeSet<(Ms, i64)>,
    /// Devices per [`Health`], indexed by its discriminant.
    counts: [usize; 5],
}

impl Slots {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn get(&self, id: i64) -> Option<&Slot> {
        self.slots.get(&id)
    }

    fn ids(&self) -> Vec<i64> {
        self.slots.keys().copied().collect()
    }

    fn insert(&mut self, slot: Slot) {
        let id = slot.device.id;
        self.remove(id);
        self.counts[Health::of(&slot.device) as usize] += 1;
        if slot.pollable() {
            self.status_q.insert((slot.status_due, id));
            self.meters_q.insert((slot.meters_due, id));
        }
        self.slots.insert(id, slot);
    }

    fn remove(&mut self, id: i64) -> Option<Slot> {
        let slot = self.slots.remove(&id)?;
        self.status_q.remove(&(slot.status_due, id));
        self.meters_q.remove(&(slot.meters_due, id));
        let c = &mut self.counts[Health::of(&slot.device) as usize];
        *c = c.saturating_sub(1);
        Some(slot)
    }

    /// Changes a slot, keeping the queues and counts right.
    fn update(&mut self, id: i64, f: impl FnOnce(&mut Slot)) {
        if let Some(mut slot) = self.remove(id) {
            f(&mut slot);
            self.insert(slot);
        }
    }

    /// The pollable slot due first, if it is due by `now`.
    fn due(&self, now: Ms) -> Option<i64> {
        let s = self.status_q.first().filter(|(d, _)| *d <= now);
        let m = self.meters_q.first().filter(|(d, _)| *d <= now);
        match (s, m) {
            (Some(s), Some(m)) => Some(if m.0 <= s.0 { m.1 } else { s.1 }),
            (Some(x), None) | (None, Some(x)) => Some(x.1),
            (None, None) => None,
        }
    }

    fn next_status(&self) -> Option<Ms> {
        self.status_q.first().map(|x| x.0)
    }

    fn next_meters(&self) -> Option<Ms> {
        self.meters_q.first().map(|x| x.0)
    }

    fn count(&self, h: Health) -> usize {
        self.counts[h as usize]
    }
}

struct Done {
    device_id: i64,
    mismatch: bool,
    /// The device as the store has it after the poll (`None`: removed).
    entry: Option<ScheduleEntry>,
}

struct Scheduler {
    shared: Arc<Shared>,
    settings: Settings,
    poller: Arc<dyn Poller>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
}

fn ms(d: Duration) -> Ms {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

const STATUS_JOB: u8 = 0;
const METERS_JOB: u8 = 1;
/// The longest the scheduler sleeps before looking at the wall clock again.
const TICK: Ms = 1000;
/// A loop that did not run for this long means the machine slept (or the clock jumped).
const JUMP: Ms = 5000;
/// How often the scheduler asks the database whether another process changed it.
const VERSION_EVERY: Ms = 500;

/// Whether a protocol reads office printers (counters every `meters_every`)
/// rather than 3D printers (job history every `jobs_every`).
fn office(protocol: &str) -> bool {
    matches!(protocol, "snmp" | "ipp" | "ipps")
}

/// The intervals the scheduler works with, in ms.
#[derive(Clone, Copy)]
struct Intervals {
    status: Ms,
    meters: Ms,
    jobs: Ms,
    catch_up: Ms,
}

impl Intervals {
    fn of(s: &Settings) -> Intervals {
        Intervals {
            status: ms(s.status_every),
            meters: ms(s.meters_every),
            jobs: ms(s.jobs_every),
            catch_up: ms(s.catch_up_window),
        }
    }

    /// The full-read interval of a device: for a 3D printer the full read is
    /// its status plus its job history, every `jobs_every`.
    fn full(&self, d: &ScheduleEntry) -> Ms {
        if office(&d.protocol) {
            self.meters
        } else {
            self.jobs
        }
    }
}

impl Scheduler {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> Option<T> {
        self.shared.store.lock().ok().map(|mut s| f(&mut s))
    }

    async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let mut sem = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut slots = Slots::default();
        let mut version = None;
        let mut version_checked = Ms::MIN;
        let mut force_reload = true;
        let mut in_flight = 0usize;
        let mut tasks = tokio::task::JoinSet::new();
        let mut iv = Intervals::of(&self.settings);
        let mut last_loop = self.clock.now_ms();
        let mut was_paused = false;
        let (mut rediscover_due, mut report_due) = self.initial_global_dues(last_loop);
        let mut rediscovering = false;
        loop {
            let now = self.clock.now_ms();
            let paused = self.shared.paused.load(Ordering::SeqCst);
            // New settings from the API: new intervals, dues from the last polls.
            let pending = self
                .shared
                .reconfigure
                .lock()
                .ok()
                .and_then(|mut p| p.take());
            if let Some((settings, poller)) = pending {
                tracing::info!("settings changed: rescheduling");
                if settings.concurrency != self.settings.concurrency {
                    sem = Arc::new(Semaphore::new(settings.concurrency.max(1)));
                }
                self.settings = settings;
                self.poller = poller;
                iv = Intervals::of(&self.settings);
                for id in slots.ids() {
                    slots.update(id, |s| {
                        let (st, me) = initial_dues(&s.device, now, iv);
                        s.status_due = st;
                        s.meters_due = me;
                    });
                }
                (rediscover_due, report_due) = self.initial_global_dues(now);
            }
            // A sleep, a wall-clock jump or the end of a pause: spread what was missed.
            let respread = now - last_loop > JUMP || (was_paused && !paused);
            if respread {
                tracing::info!(
                    gap_ms = now - last_loop,
                    "catching up on runs missed while asleep or paused"
                );
                for id in slots.ids() {
                    slots.update(id, |s| {
                        if s.meters_due <= now {
                            // One full read catches up both; the status grid resumes after it.
                            let full = iv.full(&s.device);
                            s.meters_due =
                                now + spread(phase(id, METERS_JOB, full), full, iv.catch_up);
                            s.status_due = after_full_read(s.meters_due, id, iv.status);
                        } else if s.status_due <= now {
                            s.status_due = now
                                + spread(phase(id, STATUS_JOB, iv.status), iv.status, iv.catch_up);
                        }
                    });
                }
            }
            last_loop = now;
            was_paused = paused;
            // Another process changed the devices: re-read the list.
            force_reload |= self.shared.reload.swap(false, Ordering::SeqCst);
            if force_reload || now - version_checked >= VERSION_EVERY {
                version_checked = now;
                let v = self.with_store(|s| s.data_version().ok()).flatten();
                if force_reload || v != version {
                    version = v;
                    self.reload(&mut slots, now, iv);
                }
                force_reload = false;
            }
            if let Ok(mut ids) = self.shared.poll_now.lock() {
                for id in ids.drain(..) {
                    slots.update(id, |s| s.meters_due = now);
                }
            }
            if !paused {
                while let Some(id) = slots.due(now) {
                    let Some(s) = slots.get(id) else { break };
                    let snmp = s.device.protocol == "snmp";
                    let kind = if s.meters_due <= now || (snmp && s.device.credential.is_none()) {
                        // Without a working credential only a full read can find one.
                        PollKind::Meters
                    } else {
                        PollKind::Status
                    };
                    let before = s.device.clone();
                    let target = PollTarget {
                        device_id: id,
                        address: s.device.address.clone(),
                        added_as: s.device.added_as.clone(),
                        credential: s.device.credential.clone(),
                        kind,
                        protocol: s.device.protocol.clone(),
                    };
                    slots.update(id, |s| {
                        if kind == PollKind::Meters {
                            let full = iv.full(&s.device);
                            s.meters_due = next_slot_after(now, full, phase(id, METERS_JOB, full));
                            s.status_due = after_full_read(now, id, iv.status);
                        } else {
                            s.status_due =
                                next_slot_after(now, iv.status, phase(id, STATUS_JOB, iv.status));
                        }
                        s.busy = true;
                    });
                    in_flight += 1;
                    tasks.spawn(self.poll_task(target, before, sem.clone(), done_tx.clone()));
                }
                let asked = self.shared.rediscover_now.swap(false, Ordering::SeqCst);
                if (asked || rediscover_due.is_some_and(|d| d <= now)) && !rediscovering {
                    rediscovering = true;
                    if self.settings.rediscovery {
                        rediscover_due = Some(now + ms(self.settings.rediscover_every));
                    }
                    tasks.spawn(self.rediscover_task(done_tx.clone()));
                }
                if report_due.is_some_and(|d| d <= now) {
                    report_due = Some(self.next_report_after(now));
                    tasks.spawn(self.report_task(now));
                }
            }
            // Finished tasks are reaped here, not woken for: one wake-up per poll.
            while tasks.try_join_next().is_some() {}
            self.publish_status(&slots, in_flight, paused, rediscover_due, report_due);
            let next = [slots.next_status(), slots.next_meters()]
                .into_iter()
                .flatten()
                .chain(rediscover_due.filter(|_| !rediscovering))
                .chain(report_due)
                .min()
                .unwrap_or(i64::MAX);
            // While paused nothing can start: just watch the clock.
            let wait = if paused {
                TICK
            } else {
                (next - now).clamp(0, TICK)
            };
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                Some(d) = done_rx.recv() => {
                    let mut reload = self.finish(d, &mut slots, &mut in_flight, &mut rediscovering);
                    while let Ok(d) = done_rx.try_recv() {
                        reload |= self.finish(d, &mut slots, &mut in_flight, &mut rediscovering);
                    }
                    // Our own writes do not move data_version: look again.
                    force_reload |= reload;
                }
                _ = tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))) => {}
                _ = self.shared.wake.notified() => {}
            }
        }
        // Readings already being written finish; polls still waiting are dropped.
        if let Ok(mut st) = self.shared.status.lock() {
            st.state = "stopping".into();
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(30), drain).await;
        if let Ok(mut st) = self.shared.status.lock() {
            st.state = "stopped".into();
        }
    }

    /// Takes a finished job back; returns whether the device list must be
    /// re-read (a rediscovery may have added devices).
    fn finish(
        &self,
        d: Done,
        slots: &mut Slots,
        in_flight: &mut usize,
        rediscovering: &mut bool,
    ) -> bool {
        if d.device_id == REDISCOVERY {
            *rediscovering = false;
            return true;
        }
        *in_flight = in_flight.saturating_sub(1);
        let Some(entry) = d.entry else {
            // Removed (or gone) while it was being polled.
            slots.remove(d.device_id);
            return false;
        };
        let now = self.clock.now_ms();
        slots.update(d.device_id, |s| {
            s.busy = false;
            s.device = entry;
            if d.mismatch {
                s.meters_due = now;
            }
        });
        false
    }

    fn reload(&self, slots: &mut Slots, now: Ms, iv: Intervals) {
        let Some(Ok(devices)) = self.with_store(|s| s.schedule_entries()) else {
            return;
        };
        let ids: std::collections::HashSet<i64> = devices.iter().map(|d| d.id).collect();
        for id in slots.ids() {
            if !ids.contains(&id) && slots.get(id).is_some_and(|s| !s.busy) {
                slots.remove(id);
            }
        }
        for d in devices {
            match slots.get(d.id) {
                Some(s) if s.busy => {}
                Some(_) => slots.update(d.id, |s| s.device = d),
                None => {
                    let (status_due, meters_due) = initial_dues(&d, now, iv);
                    slots.insert(Slot {
                        device: d,
                        status_due,
                        meters_due,
                        busy: false,
                    });
                }
            }
        }
    }

    fn poll_task(
        &self,
        target: PollTarget,
        before: ScheduleEntry,
        sem: Arc<Semaphore>,
        done: mpsc::UnboundedSender<Done>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let poller = self.poller.clone();
        let clock = self.clock.clone();
        let rules = self.settings.rules;
        let cancel = self.cancel.clone();
        async move {
            let device_id = target.device_id;
            let polled = async {
                let _permit = sem.acquire_owned().await.ok()?;
                Some(poller.poll(&target).await)
            };
            let result = tokio::select! {
                r = polled => r,
                _ = cancel.cancelled() => None,
            };
            let mut mismatch = false;
            // Unless the store says otherwise after the poll, the device is as it was.
            let mut entry = Some(before);
            if let Some((address, outcome)) = result {
                if matches!(
                    outcome,
                    PollOutcome::Failed { .. } | PollOutcome::Refused { .. }
                ) {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                }
                shared.polls.fetch_add(1, Ordering::Relaxed);
                let p = PollResult {
                    device_id: Some(device_id),
                    address,
                    kind: target.kind,
                    at: clock.now_ms(),
                    outcome,
                };
                let writer = shared.clone();
                let written = tokio::task::spawn_blocking(move || {
                    writer.store.lock().ok().map(|mut s| {
                        let rec = s.record(&p, &rules);
                        (rec, s.schedule_entry(device_id).ok().flatten())
                    })
                })
                .await;
                match written {
                    Ok(Some((Ok(rec), fresh))) => {
                        entry = fresh;
                        mismatch = rec.identity_mismatch;
                        for e in rec.events {
                            tracing::info!(
                                device = e.device_id,
                                kind = e.kind.as_str(),
                                "{}",
                                e.message
                            );
                            let _ = shared.events.send(e);
                        }
                    }
                    Ok(Some((Err(e), fresh))) => {
                        entry = fresh;
                        tracing::error!(device = device_id, "could not store the poll result: {e}")
                    }
                    _ => tracing::error!(device = device_id, "the store is unavailable"),
                }
            }
            // The done message wakes the scheduler; no other wake-up is needed.
            let _ = done.send(Done {
                device_id,
                mismatch,
                entry,
            });
        }
    }

    fn rediscover_task(
        &self,
        done: mpsc::UnboundedSender<Done>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let poller = self.poller.clone();
        let clock = self.clock.clone();
        let rules = self.settings.rules;
        async move {
            tracing::info!("rediscovery started");
            match poller.rediscover().await {
                Ok(found) => {
                    let n = found.len();
                    let writer = shared.clone();
                    let at = clock.now_ms();
                    let events = tokio::task::spawn_blocking(move || {
                        let mut events = Vec::new();
                        let Ok(mut store) = writer.store.lock() else {
                            return events;
                        };
                        for f in found {
                            let p = PollResult {
                                device_id: None,
                                address: f.address,
                                kind: PollKind::Meters,
                                at,
                                outcome: PollOutcome::Read {
                                    reading: Box::new(f.reading),
                                    credential: f.credential,
                                },
                            };
                            match store.record(&p, &rules) {
                                Ok(r) => events.extend(r.events),
                                Err(e) => {
                                    tracing::error!("could not store a discovered device: {e}")
                                }
                            }
                        }
                        let _ = store.set_meta("last_rediscovery", &at.to_string());
                        events
                    })
                    .await
                    .unwrap_or_default();
                    tracing::info!(printers = n, "rediscovery finished");
                    for e in events {
                        tracing::info!(
                            device = e.device_id,
                            kind = e.kind.as_str(),
                            "{}",
                            e.message
                        );
                        let _ = shared.events.send(e);
                    }
                }
                Err(e) => tracing::warn!("rediscovery failed: {e}"),
            }
            let _ = done.send(Done {
                device_id: REDISCOVERY,
                mismatch: false,
                entry: None,
            });
        }
    }

    /// Writes the scheduled report into `reports_dir`, then e-mails it when
    /// `[email]` is configured. The e-mail covers everything since the end
    /// of the last scheduled report that was sent (`email_covered_until`),
    /// so a failed send (logged, recorded in `meta.last_email_error`) is made
    /// up by the next one, which is tried at the next interval: no gap.
    fn report_task(&self, now: Ms) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let dir = self.settings.reports_dir.clone();
        let period = ms(self.settings.report_every);
        let email = self.settings.email.clone();
        async move {
            if let Some(dir) = dir {
                let shared = shared.clone();
                let written = tokio::task::spawn_blocking(move || {
                    let store = shared
                        .store
                        .lock()
                        .map_err(|_| "the store is unavailable".to_string())?;
                    let files = write_daily_report(&store, &dir, now - period, now)?;
                    let _ = store.set_meta("last_report", &now.to_string());
                    Ok::<_, String>(files)
                })
                .await;
                match written {
                    Ok(Ok(files)) => tracing::info!(?files, "report written"),
                    Ok(Err(e)) => tracing::error!("could not write the report: {e}"),
                    Err(e) => tracing::error!("the report task failed: {e}"),
                }
            }
            let Some(job) = email else { return };
            use crate::uplink::email::{META_COVERED_UNTIL, send_report};
            let reader = shared.clone();
            let found = tokio::task::spawn_blocking(move || {
                reader.store.lock().ok().map(|s| {
                    let covered = s
                        .meta(META_COVERED_UNTIL)
                        .ok()
                        .flatten()
                        .and_then(|v| v.parse::<i64>().ok());
                    (s.path().to_path_buf(), covered)
                })
            })
            .await;
            let Ok(Some((path, covered))) = found else {
                tracing::error!("the report was not e-mailed: the store is unavailable");
                return;
            };
            let from = covered.filter(|c| *c < now).unwrap_or(now - period);
            // Logged and recorded in `meta` by `send_report` either way.
            if send_report(&job.config, job.secrets.clone(), &path, (from, now))
                .await
                .is_ok()
            {
                let _ = tokio::task::spawn_blocking(move || {
                    if let Ok(s) = shared.store.lock() {
                        let _ = s.set_meta(META_COVERED_UNTIL, &now.to_string());
                    }
                })
                .await;
            }
        }
    }

    fn initial_global_dues(&self, now: Ms) -> (Option<Ms>, Option<Ms>) {
        let meta = |k: &str| {
            self.with_store(|s| s.meta(k).ok().flatten())
                .flatten()
                .and_then(|v| v.parse::<i64>().ok())
        };
        let rediscover = self.settings.rediscovery.then(|| {
            let iv = ms(self.settings.rediscover_every);
            match meta("last_rediscovery") {
                Some(last) if last + iv > now => last + iv,
                _ => now,
            }
        });
        let reporting = self.settings.reports_dir.is_some() || self.settings.email.is_some();
        let report = reporting.then(|| {
            let iv = ms(self.settings.report_every);
            match meta("last_report") {
                Some(last) if last + iv > now => last + iv,
                Some(_) => now,
                None => self.next_report_after(now),
            }
        });
        (rediscover, report)
    }

    /// The next report time: the next `report_at` local time for whole-day
    /// intervals, else one interval on.
    fn next_report_after(&self, now: Ms) -> Ms {
        let iv = ms(self.settings.report_every);
        const DAY: Ms = 86_400_000;
        if let Some(at) = self.settings.report_at
            && iv % DAY == 0
            && let Some(local) = Local.timestamp_millis_opt(now).single()
        {
            let mut day = local.date_naive();
            loop {
                if let Some(t) = Local
                    .from_local_datetime(&day.and_time(at))
                    .earliest()
                    .map(|t| t.timestamp_millis())
                    && t > now
                {
                    return t;
                }
                match day.succ_opt() {
                    Some(d) => day = d,
                    None => return now + iv,
                }
            }
        }
        now + iv
    }

    fn publish_status(
        &self,
        slots: &Slots,
        in_flight: usize,
        paused: bool,
        rediscover_due: Option<Ms>,
        report_due: Option<Ms>,
    ) {
        let st = CollectorStatus {
            state: if paused { "paused" } else { "running" }.into(),
            devices: slots.len(),
            ok: slots.count(Health::Ok),
            warning: slots.count(Health::Warning),
            error: slots.count(Health::Error),
            offline: slots.count(Health::Offline),
            polling: in_flight,
            next_status: slots.next_status(),
            next_meters: slots.next_meters(),
            next_rediscovery: rediscover_due,
            next_report: report_due,
            polls: self.shared.polls.load(Ordering::Relaxed),
            failed_polls: self.shared.failed.load(Ordering::Relaxed),
        };
        if let Ok(mut cur) = self.shared.status.lock() {
            *cur = st;
        }
    }
}

/// When a device (new to the scheduler, or after new settings) is next due:
/// from its last polls, missed runs caught up within the window.
fn initial_dues(d: &ScheduleEntry, now: Ms, iv: Intervals) -> (Ms, Ms) {
    let id = d.id;
    (
        due_after(
            d.last_status,
            now,
            iv.status,
            phase(id, STATUS_JOB, iv.status),
            iv.catch_up,
        ),
        due_after(
            if office(&d.protocol) {
                d.last_meters
            } else {
                d.last_jobs
            },
            now,
            iv.full(d),
            phase(id, METERS_JOB, iv.full(d)),
            iv.catch_up,
        ),
    )
}

/// The status slot after a full read at `t`: a full read includes the
/// status, so the status slot within half an interval after it is skipped.
fn after_full_read(t: Ms, device_id: i64, status_iv: Ms) -> Ms {
    next_slot_after(
        t + status_iv / 2,
        status_iv,
        phase(device_id, STATUS_JOB, status_iv),
    )
}

/// The pseudo device id that marks a finished rediscovery.
const REDISCOVERY: i64 = i64::MIN;

/// Writes the meter report for `[from, to)` as Excel and CSV into `dir`,
/// named by the day, and returns the files written.
pub fn write_daily_report(
    store: &Store,
    dir: &std::path::Path,
    from: Ms,
    to: Ms,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let report = store
        .meter_report(Some(from), Some(to), &Local, &mut |_, _| {})
        .map_err(|e| e.to_string())?;
    let stamp = Local
        .timestamp_millis_opt(to)
        .single()
        .map(|t| t.format("%Y-%m-%d-%H%M").to_string())
        .unwrap_or_else(|| to.to_string());
    let mut files = Vec::new();
    for format in [crate::export::Format::Xlsx, crate::export::Format::Csv] {
        let path = dir.join(format!("meter-report-{stamp}.{format}"));
        crate::export::write_report(&report, format, &path, &mut |_| {})
            .map_err(|e| e.to_string())?;
        files.push(path);
    }
    Ok(files)
}
