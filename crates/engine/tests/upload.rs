//! Store-and-forward against a real receiver (SECURITY.md §4 tests 14, 15,
//! 18, 19, 21 and the sentinel test): the outbox in a SQLite file in a temp
//! data directory, [`Uploader::send_pending`] over real sockets to testkit's
//! [`UploadServer`] (axum over HTTPS with a test CA, or plain HTTP), told at
//! run time to refuse, fail, drop, hang or shrink, and Debian's tinyproxy
//! with Basic authentication in between for the proxy tests.
//!
//! Invariants of this file:
//! - network: every packet goes to 127.0.0.0/8 (the receivers on 127.0.0.x,
//!   tinyproxy on 127.0.0.1 and its upstream connections to our receivers);
//!   no test reads the process environment or the desktop's proxy setting
//!   (each uploader gets an empty [`Sources`]);
//! - "N cycles" are N calls of `send_pending`, with short backoff options;
//!   nothing asserts on speed, so a slow machine only makes it slower;
//! - every test uses the same sentinel secrets ([`TOKEN`], [`PROXY_PW`]);
//!   one process-wide tracing subscriber (TRACE, every target, and the `log`
//!   records of reqwest, hyper and rustls) keeps every line, and the
//!   sentinel test searches them, the `Debug` of what the sender returns,
//!   and every file in its data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use printscout_engine::config::{Config, ProxyMode};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{MemoryStore, PROXY_PASSWORD, SecretStore, UPLOAD_TOKEN};
use printscout_engine::store::Store;
use printscout_engine::uplink::upload::{
    Failure, Sent, UploadOptions, Uploader, backoff, next_delay,
};
use printscout_engine::uplink::{ProxyEnv, Sources, SystemSource};
use printscout_testkit::tinyproxy::Tinyproxy;
use printscout_testkit::upload_server::{Answer, Mode, UploadServer};

/// The site token: a sentinel that must never be seen outside the wire.
const TOKEN: &str = "sentinel-tok-5c1e9a";
/// The proxy password: the same.
const PROXY_PW: &str = "sentinel-px-83b0d7";
/// The proxy user.
const PROXY_USER: &str = "lab";
/// The common start of both sentinels.
const SENTINEL: &str = "sentinel-";
/// Large enough never to drop anything, where a test is not about dropping.
const NO_BOUND: usize = 1_000_000;

// ---------------------------------------------------------------------------
// Logs

use printscout_testkit::logs::{capture_logs, logs_text};

// ---------------------------------------------------------------------------
// Helpers

/// Short waits, a short request timeout: the tests call `send_pending`
/// themselves, so backoff only matters to the backoff test.
fn fast() -> UploadOptions {
    UploadOptions {
        timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(200),
        ..UploadOptions::default()
    }
}

/// A valid configuration uploading to `server` (trusting its CA).
fn config(server: &UploadServer) -> Config {
    let mut c = Config::default();
    c.upload.url = server.url();
    c.upload.ca_file = server.ca_file().map(Path::to_path_buf);
    c.validate().expect("a valid test configuration");
    c
}

/// The same through tinyproxy as the manual proxy, with `user` (empty =
/// none).
fn via_proxy(server: &UploadServer, proxy: &Tinyproxy, user: &str) -> Config {
    let mut c = config(server);
    c.proxy.mode = ProxyMode::Manual;
    c.proxy.url = proxy.url();
    c.proxy.user = user.to_string();
    c.validate().expect("a valid proxy configuration");
    c
}

fn secrets(pairs: &[(&str, &str)]) -> Arc<dyn SecretStore> {
    let s = MemoryStore::new();
    for (name, value) in pairs {
        s.set(name, &Secret::new(*value))
            .expect("the memory store keeps it");
    }
    Arc::new(s)
}

fn token_only() -> Arc<dyn SecretStore> {
    secrets(&[(UPLOAD_TOKEN, TOKEN)])
}

/// No environment proxy, no desktop setting.
fn isolated() -> Sources {
    Sources {
        env: ProxyEnv::default(),
        system: SystemSource::Off,
    }
}

/// A data directory with an outbox, and a sender over it.
struct Site {
    dir: Arc<tempfile::TempDir>,
    store: Store,
    uploader: Uploader,
}

impl Site {
    fn new(config: &Config, secrets: Arc<dyn SecretStore>, options: UploadOptions) -> Site {
        let dir = Arc::new(tempfile::tempdir().expect("a temp data dir"));
        Self::open(dir, config, secrets, options)
    }

    /// A new store and sender over the same data directory (a restart).
    fn reopen(
        &self,
        config: &Config,
        secrets: Arc<dyn SecretStore>,
        options: UploadOptions,
    ) -> Site {
        Self::open(self.dir.clone(), config, secrets, options)
    }

    fn open(
        dir: Arc<tempfile::TempDir>,
        config: &Config,
        secrets: Arc<dyn SecretStore>,
        options: UploadOptions,
    ) -> Site {
        capture_logs();
        let store = Store::open_in(dir.path()).expect("the store opens");
        let uploader = Uploader::new(config, secrets, dir.path(), options)
            .expect("an uploader")
            .with_sources(isolated());
        Site {
            dir,
            store,
            uploader,
        }
    }

    /// Queues `n` items of `kind`; returns their seqs.
    fn enqueue(&mut self, kind: &str, n: usize, max: usize) -> Vec<i64> {
        (0..n)
            .map(|i| {
                let payload = format!(r#"{{"kind":"{kind}","i":{i},"pages":{}}}"#, 1000 + i);
                self.store
                    .enqueue(kind, 1_700_000_000_000 + i as i64, &payload, max)
                    .expect("enqueue")
            })
            .collect()
    }

    fn queued(&self) -> i64 {
        self.store.outbox_stats().expect("outbox stats").0
    }

    fn dropped(&self) -> i64 {
        self.store.outbox_stats().expect("outbox stats").1
    }

    /// The seqs waiting in the outbox, by kind.
    fn waiting(&self) -> BTreeMap<String, Vec<i64>> {
        let mut st = self
            .store
            .connection()
            .prepare("SELECT kind, id FROM outbox ORDER BY id")
            .expect("a query");
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("rows");
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for row in rows {
            let (kind, id) = row.expect("a row");
            out.entry(kind).or_default().push(id);
        }
        out
    }

    fn site_id(&self) -> String {
        self.store.site_id().expect("the site id")
    }

    async fn send(&self) -> Result<Sent, Failure> {
        self.uploader.send_pending().await
    }
}

/// Asserts the receiver applied exactly `seqs` of `site`, each once, and
/// every key once.
fn assert_each_applied_once(server: &UploadServer, site: &str, seqs: &[i64]) {
    let applied = server.applied();
    let want: BTreeSet<(String, i64)> = seqs.iter().map(|s| (site.to_string(), *s)).collect();
    let got: BTreeSet<(String, i64)> = applied.keys().cloned().collect();
    assert_eq!(
        got,
        want,
        "missing: {:?}, unexpected: {:?}",
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>()
    );
    let twice: Vec<_> = applied.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "items applied in more than one batch: {twice:?}"
    );
    assert!(
        server.keys_applied().values().all(|n| *n == 1),
        "{:?}",
        server.keys_applied()
    );
}

// ---------------------------------------------------------------------------
// 14. Down for N cycles, then back.

#[tokio::test]
async fn readings_queued_while_the_server_refuses_or_fails_all_arrive_once_when_it_is_back() {
    let server = UploadServer::start_https("127.0.0.2", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let mut all = site.enqueue("meters", 5, NO_BOUND);

    server.set_mode(Mode::Refuse);
    for cycle in 0..3 {
        all.extend(site.enqueue("status", 4, NO_BOUND));
        let f = site.send().await.expect_err("the port is closed");
        assert_eq!(f.code, "connect_failed", "cycle {cycle}: {f:?}");
        assert!(f.retry, "{f:?}");
        assert_eq!(f.status, None);
        assert_eq!(f.sent.items, 0);
        assert_eq!(
            site.queued(),
            all.len() as i64,
            "cycle {cycle}: accumulates"
        );
    }
    assert_eq!(server.request_count(), 0);

    server.set_mode(Mode::Status(503, None));
    for cycle in 0..3 {
        all.extend(site.enqueue("event", 2, NO_BOUND));
        let f = site.send().await.expect_err("503");
        assert_eq!(
            (f.code.as_str(), f.status, f.retry),
            ("server_error", Some(503), true),
            "cycle {cycle}: {f:?}"
        );
        assert_eq!(site.queued(), all.len() as i64);
    }
    let failed = server.requests();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|r| r.answer == Answer::Status(503)));
    // The batch formed at the first attempt went again, the same bytes
    // under the same key.
    assert!(
        failed
            .iter()
            .all(|r| r.idempotency_key() == failed[0].idempotency_key() && r.body == failed[0].body),
        "every 503 attempt resends the first batch"
    );
    // It holds what was queued before that first (refused) attempt.
    assert_eq!(failed[0].seqs(), all[..9].to_vec());

    server.set_mode(Mode::Normal);
    let sent = site.send().await.expect("the server is back");
    assert_eq!(sent.items, all.len());
    assert_eq!(site.queued(), 0, "the outbox is empty");
    assert_each_applied_once(&server, &site.site_id(), &all);
    assert_eq!(server.requests_in("refuse"), 0);
    assert_eq!(server.requests_in("status"), 3);

    // What arrived is what was queued.
    let items = server.items();
    assert_eq!(items[0].kind, "meters");
    assert_eq!(items[0].data, r#"{"kind":"meters","i":0,"pages":1000}"#);
    for r in server.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("PrintScout/")),
            "{:?}",
            r.header("user-agent")
        );
    }
    // A second round finds nothing to send.
    assert_eq!(site.send().await.expect("idle").batches, 0);
}

// ---------------------------------------------------------------------------
// 15. Commit, then the connection drops.

#[tokio::test]
async fn a_batch_the_server_applied_before_the_connection_dropped_is_resent_with_its_key_and_bytes()
{
    let server = UploadServer::start_https("127.0.0.3", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let seqs = site.enqueue("meters", 7, NO_BOUND);

    server.set_mode(Mode::CommitThenDrop);
    let f = site.send().await.expect_err("no answer");
    assert!(f.retry, "a dropped connection is retried: {f:?}");
    assert_eq!(f.status, None);
    assert_eq!(site.queued(), 7, "nothing deleted without a 2xx");

    server.set_mode(Mode::Normal);
    let sent = site.send().await.expect("the retry is acknowledged");
    assert_eq!(sent.items, 7);
    assert_eq!(site.queued(), 0);

    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].answer, Answer::Dropped);
    assert_eq!(seen[1].answer, Answer::Status(200));
    assert!(seen[0].idempotency_key().is_some());
    assert_eq!(seen[0].idempotency_key(), seen[1].idempotency_key());
    assert_eq!(seen[0].body, seen[1].body, "the same bytes");
    assert_each_applied_once(&server, &site.site_id(), &seqs);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_the_retry_reuses_the_key() {
    let server = UploadServer::start_http("127.0.0.4", TOKEN);
    let options = UploadOptions {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    let mut site = Site::new(&config(&server), token_only(), options);
    let seqs = site.enqueue("event", 3, NO_BOUND);

    server.set_mode(Mode::Hang);
    let f = site.send().await.expect_err("no answer");
    assert_eq!((f.code.as_str(), f.retry), ("timeout", true), "{f:?}");
    server.set_mode(Mode::Normal);
    site.send().await.expect("acknowledged");
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].answer, Answer::Hung);
    assert_eq!(seen[0].idempotency_key(), seen[1].idempotency_key());
    assert_eq!(seen[0].body, seen[1].body);
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    assert_eq!(site.queued(), 0);
}

#[tokio::test]
async fn a_batch_pending_when_the_sender_stopped_goes_again_after_a_restart_and_seqs_are_never_reused()
 {
    let server = UploadServer::start_https("127.0.0.15", TOKEN);
    let cfg = config(&server);
    let mut site = Site::new(&cfg, token_only(), fast());
    let mut all = site.enqueue("meters", 6, NO_BOUND);
    server.set_mode(Mode::Status(503, None));
    site.send().await.expect_err("503");
    let restarted = site.reopen(&cfg, token_only(), fast());
    drop(site);
    let mut site = restarted;

    server.set_mode(Mode::Normal);
    all.extend(site.enqueue("event", 2, NO_BOUND));
    let sent = site.send().await.expect("sent after the restart");
    assert_eq!((sent.batches, sent.items), (2, 8));
    let seen = server.uploads();
    assert_eq!(seen.len(), 3, "the 503, its retry, then the newer items");
    assert_eq!(seen[0].idempotency_key(), seen[1].idempotency_key());
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(seen[1].seqs(), all[..6].to_vec());
    assert_eq!(seen[2].seqs(), all[6..].to_vec());
    assert_each_applied_once(&server, &site.site_id(), &all);
    assert_eq!(site.queued(), 0);

    // The outbox is empty: new items still get new seqs, for the server
    // de-duplicates by (site_id, seq).
    let next = site.enqueue("meters", 1, NO_BOUND);
    assert!(next[0] > all[all.len() - 1], "{next:?} after {all:?}");
    let again = site.reopen(&cfg, token_only(), fast());
    assert_eq!(again.site_id(), site.site_id(), "the site id is kept");
    again.send().await.expect("sent");
    all.extend(next);
    assert_each_applied_once(&server, &site.site_id(), &all);
}

// ---------------------------------------------------------------------------
// 18. The outbox past its limit.

/// The documented policy, as a model: after each insert, while more than
/// `max` wait, drop the oldest `status`, else the oldest `meters`, else the
/// oldest of the rest.
fn model(kinds: &[&str], max: usize) -> (Vec<(i64, String)>, usize) {
    let mut kept: Vec<(i64, String)> = Vec::new();
    let mut dropped = 0;
    for (i, kind) in kinds.iter().enumerate() {
        kept.push((i as i64 + 1, kind.to_string()));
        while kept.len() > max {
            let at = ["status", "meters"]
                .iter()
                .find_map(|k| kept.iter().position(|(_, kk)| kk == k))
                .unwrap_or(0);
            kept.remove(at);
            dropped += 1;
        }
    }
    (kept, dropped)
}

#[tokio::test]
async fn past_its_limit_the_outbox_drops_status_first_then_meters_and_counts_every_drop() {
    let server = UploadServer::start_https("127.0.0.5", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let max = 10;
    // Interleaved, as a service would queue them.
    let pattern = [
        "status", "meters", "event", "status", "job", "meters", "status",
    ];
    let kinds: Vec<&str> = pattern.iter().copied().cycle().take(40).collect();
    let mut seqs = Vec::new();
    for kind in &kinds {
        seqs.extend(site.enqueue(kind, 1, max));
    }
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>(), "seqs are row ids");
    let (kept, dropped) = model(&kinds, max);
    assert_eq!(site.queued(), max as i64);
    assert_eq!(site.dropped(), dropped as i64, "every drop is counted");
    let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (seq, kind) in &kept {
        want.entry(kind.clone()).or_default().push(*seq);
    }
    assert_eq!(site.waiting(), want);
    // Events and jobs are kept longest: all 11 of them fill the outbox's
    // ten places but one, the oldest.
    assert_eq!(site.waiting().get("status"), None);
    assert_eq!(site.waiting().get("meters"), None);
    let summary = site.store.outbox_summary().expect("summary");
    assert_eq!((summary.queued, summary.dropped), (10, dropped as i64));

    // What is left arrives, and nothing else.
    site.send().await.expect("sent");
    let kept_seqs: Vec<i64> = kept.iter().map(|(s, _)| *s).collect();
    assert_each_applied_once(&server, &site.site_id(), &kept_seqs);
    assert_eq!(site.dropped(), dropped as i64, "the count stays");
}

#[tokio::test]
async fn the_policy_never_drops_an_item_of_the_batch_waiting_for_its_answer() {
    let server = UploadServer::start_https("127.0.0.6", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let max = 6;
    let first = site.enqueue("status", 4, max);
    // The batch is formed and sent; the server is down.
    server.set_mode(Mode::Status(500, None));
    site.send().await.expect_err("500");
    let batch_key = server.requests()[0]
        .idempotency_key()
        .map(str::to_string)
        .expect("a key");
    assert_eq!(server.requests()[0].seqs(), first);

    // Far past the limit while it waits: the batch's four status items stay.
    let later = site.enqueue("status", 10, max);
    let waiting = site.waiting();
    for seq in &first {
        assert!(
            waiting["status"].contains(seq),
            "{seq} of the batch was dropped: {waiting:?}"
        );
    }
    assert_eq!(site.dropped(), 8, "14 queued, 6 kept");

    server.set_mode(Mode::Normal);
    site.send().await.expect("sent");
    let seen = server.requests();
    assert_eq!(seen[1].idempotency_key(), Some(batch_key.as_str()));
    assert_eq!(seen[1].seqs(), first);
    let mut arrived: Vec<i64> = first.clone();
    arrived.extend(&later[later.len() - 2..]);
    assert_each_applied_once(&server, &site.site_id(), &arrived);
    assert_eq!(site.queued(), 0);
}

// ---------------------------------------------------------------------------
// 19. Backoff, Retry-After, what is not retried, 413.

#[test]
fn every_backoff_is_within_zero_and_the_capped_doubling_and_spans_it() {
    let mut rng = fastrand::Rng::with_seed(19);
    let base = Duration::from_millis(250);
    let cap = Duration::from_secs(60);
    for attempt in 0..64u32 {
        let ceiling = base
            .checked_mul(2u32.saturating_pow(attempt.min(31)))
            .unwrap_or(cap)
            .min(cap);
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let d = backoff(attempt, base, cap, &mut rng);
            assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            low = low.min(d);
            high = high.max(d);
        }
        // Full jitter: the draws cover the range, not just its top.
        assert!(low < ceiling / 10, "attempt {attempt}: lowest {low:?}");
        assert!(
            high > ceiling * 9 / 10,
            "attempt {attempt}: highest {high:?}"
        );
    }
    // The defaults: 5 s doubling to 15 min.
    let o = UploadOptions::default();
    for attempt in [0u32, 3, 8, 100] {
        for _ in 0..500 {
            assert!(next_delay(attempt, &o, None, &mut rng) <= Duration::from_secs(15 * 60));
        }
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_no_sooner_than_it_asks() {
    let server = UploadServer::start_https("127.0.0.7", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    site.enqueue("meters", 2, NO_BOUND);
    server.set_mode(Mode::retry_after(429, 2));
    let f = site.send().await.expect_err("429");
    assert_eq!(
        (f.code.as_str(), f.status, f.retry, f.retry_after),
        (
            "rate_limited",
            Some(429),
            true,
            Some(Duration::from_secs(2))
        ),
        "{f:?}"
    );
    let mut rng = fastrand::Rng::with_seed(429);
    for attempt in 0..10 {
        let d = next_delay(attempt, site.uploader.options(), f.retry_after, &mut rng);
        assert!(d >= Duration::from_secs(2), "attempt {attempt}: {d:?}");
    }
    // A 503 with Retry-After too.
    server.set_mode(Mode::retry_after(503, 7));
    let f = site.send().await.expect_err("503");
    assert_eq!(f.retry_after, Some(Duration::from_secs(7)));
    assert!(f.retry);
    assert_eq!(site.queued(), 2);
}

#[tokio::test]
async fn a_400_401_or_407_stops_retrying_and_a_401_says_the_token_was_rejected() {
    let server = UploadServer::start_https("127.0.0.8", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    site.enqueue("meters", 1, NO_BOUND);

    server.set_mode(Mode::Unauthorized);
    let f = site.send().await.expect_err("401");
    assert_eq!(
        (f.code.as_str(), f.status, f.retry),
        ("token_rejected", Some(401), false),
        "{f:?}"
    );
    assert!(
        f.message.contains("token") && f.message.contains("refused"),
        "in words: {}",
        f.message
    );
    assert!(
        !f.message.to_lowercase().contains("network"),
        "a 401 is not a network problem: {}",
        f.message
    );

    server.set_mode(Mode::Status(400, None));
    let f = site.send().await.expect_err("400");
    assert_eq!(
        (f.code.as_str(), f.status, f.retry),
        ("bad_request", Some(400), false),
        "{f:?}"
    );

    server.set_mode(Mode::Status(407, None));
    let f = site.send().await.expect_err("407");
    assert_eq!(
        (f.code.as_str(), f.status, f.retry),
        ("proxy_auth_failed", Some(407), false),
        "{f:?}"
    );
    assert_eq!(site.queued(), 1, "kept for when a person fixed it");

    // A wrong token in the store: the receiver's own check says 401.
    server.set_mode(Mode::Normal);
    let wrong = Site::new(
        &config(&server),
        secrets(&[(UPLOAD_TOKEN, "sentinel-tok-wrong")]),
        fast(),
    );
    let mut wrong = wrong;
    wrong.enqueue("meters", 1, NO_BOUND);
    let f = wrong.send().await.expect_err("wrong token");
    assert_eq!((f.code.as_str(), f.retry), ("token_rejected", false));

    // No token at all: nothing is sent.
    let before = server.request_count();
    let mut none = Site::new(&config(&server), secrets(&[]), fast());
    none.enqueue("meters", 1, NO_BOUND);
    let f = none.send().await.expect_err("no token");
    assert_eq!((f.code.as_str(), f.retry), ("no_token", false));
    assert_eq!(server.request_count(), before);
}

#[tokio::test]
async fn a_batch_too_large_for_the_server_is_split_until_everything_arrives() {
    let server = UploadServer::start_https("127.0.0.9", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let seqs = site.enqueue("meters", 20, NO_BOUND);
    server.set_mode(Mode::TooLarge { max_items: 3 });
    let sent = site.send().await.expect("split until it fits");
    assert_eq!(sent.items, 20);
    assert_eq!(site.queued(), 0);
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    let refused: Vec<usize> = server
        .requests()
        .iter()
        .filter(|r| r.answer == Answer::Status(413))
        .map(|r| r.seqs().len())
        .collect();
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|n| *n > 3), "{refused:?}");
    // Each refused batch's next attempt is half as large (20 → 10 → 5 → 2).
    let sizes: Vec<usize> = server.requests().iter().map(|r| r.seqs().len()).collect();
    assert_eq!(&sizes[..4], &[20, 10, 5, 2], "{sizes:?}");
    assert_eq!(site.store.outbox_summary().expect("summary").rejected, 0);
}

#[tokio::test]
async fn an_item_too_large_even_alone_is_set_aside_and_counted() {
    let server = UploadServer::start_https("127.0.0.10", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    site.enqueue("event", 2, NO_BOUND);
    server.set_mode(Mode::TooLarge { max_items: 0 });
    let outcome = site.send().await;
    assert_eq!(site.queued(), 0, "{outcome:?}");
    let summary = site.store.outbox_summary().expect("summary");
    assert_eq!(summary.rejected, 2);
    assert!(server.applied().is_empty());
}

// ---------------------------------------------------------------------------
// Plain HTTP on loopback.

#[tokio::test]
async fn a_plain_http_server_on_loopback_receives_the_batches() {
    let server = UploadServer::start_http("127.0.0.11", TOKEN);
    assert!(server.url().starts_with("http://127.0.0.11:"));
    let mut site = Site::new(&config(&server), token_only(), fast());
    let seqs = site.enqueue("job", 3, NO_BOUND);
    let sent = site.send().await.expect("sent over HTTP");
    assert_eq!((sent.batches, sent.items), (1, 3));
    assert!(sent.body_bytes > 0 && sent.json_bytes > sent.body_bytes);
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    let batch = server.requests()[0].batch.clone().expect("a batch");
    assert_eq!(batch.schema, 1);
    assert_eq!(batch.agent_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        server.requests()[0].idempotency_key(),
        Some(batch.batch_id.as_str())
    );
}

// ---------------------------------------------------------------------------
// 21. Through tinyproxy with Basic authentication.

#[tokio::test]
async fn uploads_go_through_an_authenticating_proxy_and_its_refusals_stop_with_proxy_auth_failed() {
    let server = UploadServer::start_https("127.0.0.12", TOKEN);
    let proxy = Tinyproxy::start(PROXY_USER, PROXY_PW);

    // The right user and password.
    let mut site = Site::new(
        &via_proxy(&server, &proxy, PROXY_USER),
        secrets(&[(UPLOAD_TOKEN, TOKEN), (PROXY_PASSWORD, PROXY_PW)]),
        fast(),
    );
    let seqs = site.enqueue("meters", 4, NO_BOUND);
    let sent = site.send().await.expect("through the proxy");
    assert_eq!(sent.items, 4);
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    let log = proxy.log();
    assert!(
        log.contains("CONNECT") && log.contains(&server.addr().to_string()),
        "tinyproxy's log shows the tunnel:\n{log}"
    );

    // No credentials: 407.
    let mut anonymous = Site::new(&via_proxy(&server, &proxy, ""), token_only(), fast());
    anonymous.enqueue("meters", 1, NO_BOUND);
    let f = anonymous.send().await.expect_err("407");
    assert_eq!(
        (f.code.as_str(), f.retry),
        ("proxy_auth_failed", false),
        "{f:?}"
    );

    // The wrong password: tinyproxy says 401, still the proxy's refusal.
    let mut wrong = Site::new(
        &via_proxy(&server, &proxy, PROXY_USER),
        secrets(&[(UPLOAD_TOKEN, TOKEN), (PROXY_PASSWORD, "sentinel-px-wrong")]),
        fast(),
    );
    wrong.enqueue("meters", 1, NO_BOUND);
    let f = wrong.send().await.expect_err("401 from the proxy");
    assert_eq!(
        (f.code.as_str(), f.retry),
        ("proxy_auth_failed", false),
        "{f:?}"
    );
    assert!(!f.message.contains("site token"), "{}", f.message);
    assert_eq!(
        server.request_count(),
        1,
        "the refused ones never reached the server"
    );
    assert_no_credential_in_logs();
}

#[tokio::test]
async fn plain_http_uploads_go_through_the_proxy_too_and_a_wrong_password_is_the_proxys_refusal() {
    let server = UploadServer::start_http("127.0.0.13", TOKEN);
    let proxy = Tinyproxy::start(PROXY_USER, PROXY_PW);
    let mut site = Site::new(
        &via_proxy(&server, &proxy, PROXY_USER),
        secrets(&[(UPLOAD_TOKEN, TOKEN), (PROXY_PASSWORD, PROXY_PW)]),
        fast(),
    );
    let seqs = site.enqueue("status", 2, NO_BOUND);
    site.send().await.expect("forwarded by the proxy");
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    assert!(
        proxy.log().contains(&server.addr().to_string()),
        "{}",
        proxy.log()
    );

    let mut wrong = Site::new(
        &via_proxy(&server, &proxy, PROXY_USER),
        secrets(&[(UPLOAD_TOKEN, TOKEN), (PROXY_PASSWORD, "sentinel-px-wrong")]),
        fast(),
    );
    wrong.enqueue("status", 1, NO_BOUND);
    let f = wrong.send().await.expect_err("401 from the proxy");
    assert_eq!(
        (f.code.as_str(), f.retry),
        ("proxy_auth_failed", false),
        "a 401 from the proxy is not the token's fault: {f:?}"
    );
    assert_eq!(server.request_count(), 1);
    assert_no_credential_in_logs();
}

/// The Basic credential text a header would carry.
fn basic(pair: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(pair)
}

fn assert_no_credential_in_logs() {
    let logs = logs_text();
    assert!(!logs.is_empty(), "the subscriber captured something");
    for needle in [
        SENTINEL.to_string(),
        basic(&format!("{PROXY_USER}:{PROXY_PW}")),
        basic(&format!("{PROXY_USER}:sentinel-px-wrong")),
    ] {
        if let Some(at) = logs.find(&needle) {
            let from = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let to = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!("{needle} is in the logs: {}", &logs[from..to]);
        }
    }
}

// ---------------------------------------------------------------------------
// The sentinel: every path, then the logs, the Debug output and the files.

#[tokio::test]
async fn the_token_and_the_proxy_password_appear_in_no_log_debug_output_or_file() {
    capture_logs();
    let tls = UploadServer::start_https("127.0.0.14", TOKEN);
    let http = UploadServer::start_http("127.0.0.14", TOKEN);
    let proxy = Tinyproxy::start(PROXY_USER, PROXY_PW);
    let both = || secrets(&[(UPLOAD_TOKEN, TOKEN), (PROXY_PASSWORD, PROXY_PW)]);
    let options = UploadOptions {
        timeout: Duration::from_millis(700),
        ..fast()
    };
    let mut debug = String::new();
    let mut dirs = Vec::new();

    for (server, through) in [(&tls, false), (&http, false), (&tls, true), (&http, true)] {
        let cfg = if through {
            via_proxy(server, &proxy, PROXY_USER)
        } else {
            config(server)
        };
        let mut site = Site::new(&cfg, both(), options.clone());
        debug.push_str(&format!("{:?}\n{cfg:?}\n", site.uploader));
        for mode in [
            Mode::Normal,
            Mode::Unauthorized,
            Mode::Status(503, Some("1".into())),
            Mode::CommitThenDrop,
            Mode::Hang,
            Mode::TooLarge { max_items: 1 },
            Mode::Refuse,
            Mode::Normal,
        ] {
            server.set_mode(mode.clone());
            site.enqueue("meters", 3, NO_BOUND);
            let outcome = site.send().await;
            debug.push_str(&format!("{mode:?} {outcome:?}\n"));
            if let Err(f) = &outcome {
                debug.push_str(&format!("{f}\n", f = f.message));
                debug.push_str(&serde_json::to_string(f).expect("a failure serialises"));
            }
        }
        assert_eq!(site.queued(), 0, "through proxy {through}: {debug}");
        dirs.push(site);
    }
    // The proxy's refusals.
    for password in [None, Some("sentinel-px-wrong")] {
        let mut pairs = vec![(UPLOAD_TOKEN, TOKEN)];
        if let Some(p) = password {
            pairs.push((PROXY_PASSWORD, p));
        }
        let user = if password.is_some() { PROXY_USER } else { "" };
        let mut site = Site::new(
            &via_proxy(&tls, &proxy, user),
            secrets(&pairs),
            options.clone(),
        );
        site.enqueue("event", 1, NO_BOUND);
        let f = site.send().await.expect_err("refused by the proxy");
        debug.push_str(&format!("{f:?}\n{}\n{:?}\n", f.message, site.uploader));
        dirs.push(site);
    }

    assert!(
        !debug.contains(SENTINEL),
        "a secret is in Debug or an error:\n{debug}"
    );
    assert_no_credential_in_logs();
    for site in &dirs {
        for entry in walk(site.dir.path()) {
            let bytes = std::fs::read(&entry).expect("read a data file");
            assert!(
                !bytes
                    .windows(SENTINEL.len())
                    .any(|w| w == SENTINEL.as_bytes()),
                "{} holds a secret",
                entry.display()
            );
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read a dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Uploading while the collector writes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_keep_working_while_the_collector_queues_items_on_its_own_connection() {
    let server = UploadServer::start_http("127.0.0.16", TOKEN);
    let cfg = config(&server);
    let options = UploadOptions {
        batch_items: 5,
        ..fast()
    };
    let site = Site::new(&cfg, token_only(), options);
    // The collector: its own connection to the same database, queuing
    // readings one transaction at a time, as `Store::record` does, at most
    // 50 a second (a site of a few thousand printers).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let path = site.dir.path().to_path_buf();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut store = Store::open_in(&path).expect("the collector's connection");
            let mut seqs = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 100 {
                i += 1;
                let payload = format!(r#"{{"i":{i}}}"#);
                seqs.push(
                    store
                        .enqueue("meters", i, &payload, NO_BOUND)
                        .expect("enqueue"),
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            seqs
        })
    };
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut example = None;
    for _ in 0..100 {
        if let Err(f) = site.send().await {
            *failures.entry(f.code.clone()).or_default() += 1;
            example.get_or_insert(f);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seqs = writer.join().expect("the writer");
    for _ in 0..50 {
        if site.send().await.is_ok() {
            break;
        }
    }
    assert_eq!(site.queued(), 0);
    assert_each_applied_once(&server, &site.site_id(), &seqs);
    assert!(
        failures.is_empty(),
        "rounds failed while the collector wrote: {failures:?}, e.g. {example:?}"
    );
}

// ---------------------------------------------------------------------------
// 3D jobs leave the site as `job` items (metadata only).

#[tokio::test]
async fn a_finished_3d_job_is_uploaded_once_as_a_job_item_with_its_metadata_only() {
    use printscout_engine::printer::fab::{
        CurrentJob, FabState, FabStatus, FabTarget, build_reading,
    };
    use printscout_engine::printer::model::{Identity, ReadStats};
    use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules};
    let server = UploadServer::start_https("127.0.0.17", TOKEN);
    let mut site = Site::new(&config(&server), token_only(), fast());
    let target = FabTarget::parse("prusalink://127.0.0.1:8080").expect("target");
    let reading = |state: FabState, progress: f64| {
        let status = FabStatus {
            state,
            state_text: format!("{state:?}").to_uppercase(),
            job: Some(CurrentJob {
                id: Some("31".into()),
                name: Some("hinge.bgcode".into()),
                progress_percent: Some(progress),
                elapsed_s: Some(600),
                material: Some("PLA 9.5 g".into()),
                ..CurrentJob::default()
            }),
            temperatures: vec![],
            errors: vec![],
        };
        let identity = Identity {
            vendor: Some("Prusa Research".into()),
            serial: Some("10589-0000000042".into()),
            ..Identity::default()
        };
        build_reading(&target, identity, status, ReadStats::default())
    };
    let mut device = None;
    for (minute, state, progress) in [
        (0, FabState::Printing, 40.0),
        (5, FabState::Finished, 100.0),
        (10, FabState::Finished, 100.0),
    ] {
        let rec = site
            .store
            .record(
                &PollResult {
                    device_id: device,
                    address: "prusalink://127.0.0.1:8080".into(),
                    kind: PollKind::Status,
                    at: 1_793_606_400_000 + minute * 60_000,
                    outcome: PollOutcome::Read {
                        reading: Box::new(reading(state, progress)),
                        credential: None,
                    },
                },
                &Rules::default(),
            )
            .expect("recorded");
        device = rec.device_id;
    }
    site.send().await.expect("uploaded");
    let jobs: Vec<_> = server
        .items()
        .into_iter()
        .filter(|i| i.kind == "job")
        .collect();
    assert_eq!(jobs.len(), 1, "one finished job, once: {jobs:?}");
    let data: serde_json::Value = serde_json::from_str(&jobs[0].data).expect("JSON");
    assert_eq!(data["name"], "hinge.bgcode");
    assert_eq!(data["result"], "completed");
    assert_eq!(data["material"], "PLA 9.5 g");
    assert_eq!(data["synthesised"], true);
    assert_eq!(data["identity_key"], "sn:prusa research:10589-0000000042");
    let keys: BTreeSet<&str> = data
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "device_id",
            "identity_key",
            "job_key",
            "name",
            "started_at",
            "ended_at",
            "duration_s",
            "result",
            "material",
            "synthesised"
        ]),
        "metadata only"
    );
    assert_eq!(site.queued(), 0);
}
