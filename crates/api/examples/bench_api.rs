//! Benchmark of the loopback API: `GET /api/v1/printers` with 1,000 printers, each
//! with a full, realistic latest reading (supplies, counters, status).
//!
//! What it owns: a temporary data directory seeded with N devices, the collector and
//! the API started in this process exactly as `printscout run` starts them
//! (`crates/cli/src/service.rs`: `collector::start`, `ApiContext::new`,
//! `routes::api`, `server::serve` on 127.0.0.1 and ::1, port 0), a keep-alive HTTP
//! client that hammers the list, and the figures it prints.
//!
//! - **The fleet.** One real read of the colour MFP recording
//!   (`tests/recordings/colour-mfp.snmprec`, a Konica Minolta bizhub C300i) served by
//!   net-snmp `snmpd` on 127.0.93.1, with `printer::read_device`; then cloned N times
//!   with a serial, MAC, host name, address (127.0.30.0 … from testkit's
//!   `loopback_farm`), page counters and supply levels of its own, and stored with
//!   `Store::record` (a full `Meters` read, matched by identity like a discovered
//!   printer). The list therefore carries ten supplies and a page total per printer,
//!   as a real fleet does.
//! - **The collector is paused** (`pause()` right after it starts): the benchmark
//!   measures the API answering from the store, not SNMP traffic. The devices'
//!   addresses are loopback addresses where nothing listens, so even a poll that
//!   slipped in before the pause would stay on 127.0.0.0/8.
//! - **The client** runs on its own tokio runtime (2 threads; the server's runtime is
//!   one worker and at most four blocking threads, as in `printscout run`): C tasks share one reqwest
//!   client with keep-alive (so C connections), each sending the next request when the
//!   previous body has been read in full. For each C (default 1, 4, 16): a warm-up,
//!   then a measured window; it prints requests/s, p50/p90/p99/max latency and the
//!   response size, against the target "p99 under 20 ms". The first request (summary
//!   cache cold: 1,000 readings parsed) is reported apart.
//! - **Where the time goes.** Medians of 20 of each part alone: `Store::devices`,
//!   the open-alert count, the list handler with its JSON encoding called through the
//!   router in-process (no HTTP), a health-check round trip and a list round trip.
//! - **The peer figure.** When `wrk` is installed, `wrk -t2 -c16 -d<secs>s --latency`
//!   against the same URL and token, in the same run; its req/s and latency lines
//!   are printed.
//!
//! Invariants: every packet stays on 127.0.0.0/8 (snmpd on 127.0.93.1, the API on
//! 127.0.0.1); the token is never printed; the run is bounded (about
//! `levels × (warmup + secs) + secs` seconds after a few seconds of set-up).
//!
//! `cargo run --release -p printscout-api --example bench_api -- [--count 1000]
//! [--secs 10] [--warmup 2] [--concurrency 1,4,16] [--no-wrk] [--keep]`
//! (`scripts/bench-api.sh` installs what it needs, builds, and runs it).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use printscout_api::server::{Running, ServeOptions, serve};
use printscout_api::state::ApiContext;
use printscout_engine::collector::clock::SystemClock;
use printscout_engine::collector::{self, CollectorHandle, Settings, poller_from};
use printscout_engine::config::Config;
use printscout_engine::printer::{Reading, read_device};
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store, now_ms};
use printscout_testkit::{Snmpd, free_udp_port, loopback_farm, recordings_dir, workspace_root};

const COMMUNITY: &str = "public";
const TARGET_P99: Duration = Duration::from_millis(20);

struct Opts {
    count: usize,
    secs: u64,
    warmup: u64,
    levels: Vec<usize>,
    wrk: bool,
    keep: bool,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match arg(name) {
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}")),
        None => default,
    }
}

impl Opts {
    fn parse() -> Opts {
        let levels = arg("--concurrency").map_or_else(
            || vec![1, 4, 16],
            |v| {
                v.split(',')
                    .map(|c| {
                        c.trim()
                            .parse()
                            .unwrap_or_else(|_| panic!("--concurrency takes 1,4,16; got {v:?}"))
                    })
                    .collect()
            },
        );
        Opts {
            count: num("--count", 1000),
            secs: num("--secs", 10),
            warmup: num("--warmup", 2),
            levels,
            wrk: !std::env::args().any(|a| a == "--no-wrk"),
            keep: std::env::args().any(|a| a == "--keep"),
        }
    }
}

fn main() {
    let opts = Opts::parse();
    let started = Instant::now();
    // The server's runtime, built as `printscout run` builds its own.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .expect("the server runtime");
    // The client's, apart, so the server's workers serve only the server.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("the client runtime");

    // --- one real read -------------------------------------------------------------------
    let recording = recordings_dir().join("colour-mfp.snmprec");
    let snmp_addr = SocketAddr::from((Ipv4Addr::new(127, 0, 93, 1), free_udp_port()));
    let snmpd = Snmpd::start(&recording, COMMUNITY, &[snmp_addr]);
    let credential = Credential::community(COMMUNITY, Version::V2c, COMMUNITY);
    let template = server_rt
        .block_on(read_device(
            &SnmpTransport::new(0),
            snmp_addr,
            std::slice::from_ref(&credential),
            &SnmpOptions::default(),
        ))
        .expect("snmpd on 127.0.93.1 answers the colour MFP recording");
    drop(snmpd);
    println!(
        "template: {} {} read from snmpd on {snmp_addr}: {} supplies, {} counters",
        template.identity.vendor.as_deref().unwrap_or("?"),
        template.identity.model.as_deref().unwrap_or("?"),
        template.supplies.len(),
        template.counters.len(),
    );

    // --- the data directory with N printers ------------------------------------------------
    let target = workspace_root().join("target");
    std::fs::create_dir_all(&target).expect("create target/");
    let work = tempfile::Builder::new()
        .prefix("bench-api-")
        .tempdir_in(&target)
        .expect("create a work dir under target/");
    let data = work.path().join("data");
    let t = Instant::now();
    seed(&data, &template, &credential, opts.count);
    println!(
        "store: {} printers recorded in {:.1} s (one full Meters read each)",
        opts.count,
        t.elapsed().as_secs_f64()
    );

    // --- the service, in-process -----------------------------------------------------------
    let (handle, api) = server_rt.block_on(start_service(&data));
    let url = format!("{}api/v1/printers", api.url());
    let token = api.token().expose().to_owned();
    println!(
        "service: collector paused (state {:?}), API on {} (the benchmark measures the API, not SNMP)",
        handle.status().state,
        api.url()
    );

    // --- the Rust client -------------------------------------------------------------------
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let (cold, size, printers, supplies) = client_rt.block_on(first_request(&client, &url, &token));
    assert_eq!(printers, opts.count, "the list has every printer");
    println!(
        "first request (summary cache cold): {} ; response {} bytes ({:.1} KB per printer), {printers} printers, {supplies} supply bars",
        ms(cold),
        size,
        size as f64 / 1024.0 / printers.max(1) as f64
    );
    println!();
    println!(
        "GET /api/v1/printers, {} printers, reqwest keep-alive, {} s warm-up + {} s per level:",
        opts.count, opts.warmup, opts.secs
    );
    println!(
        "  {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "connections", "req/s", "p50", "p90", "p99", "max", "MB/s"
    );
    let mut worst_p99 = Duration::ZERO;
    let mut verdicts: Vec<String> = Vec::new();
    // Measures one level, prints its row and keeps its verdict.
    let mut level = |c: usize, while_committing: bool| {
        let r = client_rt.block_on(hammer(
            &client,
            &url,
            &token,
            c,
            Duration::from_secs(opts.warmup),
            Duration::from_secs(opts.secs),
        ));
        worst_p99 = worst_p99.max(r.p99);
        verdicts.push(format!(
            "{c} conn.{}: {}",
            if while_committing { " + commits" } else { "" },
            if r.p99 < TARGET_P99 { "met" } else { "missed" }
        ));
        println!(
            "  {:>11} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>10.1}{}",
            c,
            r.rps,
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            ms(r.max),
            r.rps * r.size as f64 / 1e6,
            if r.errors > 0 {
                format!("  ({} errors)", r.errors)
            } else {
                String::new()
            }
        );
    };
    for &c in &opts.levels {
        level(c, false);
    }
    // The same while another connection commits as the collector does at this
    // fleet size on the default schedule (1,000/300 s status polls + 1,000/3,600 s
    // full reads ≈ 3.6 commits/s): each commit makes the next list a rebuild.
    let commits_per_s = opts.count as f64 / 300.0 + opts.count as f64 / 3600.0;
    println!(
        "  … while another connection commits {commits_per_s:.1} times a second (the collector's rate for {} printers at the default schedule):",
        opts.count
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let data = data.clone();
        let count = i64::try_from(opts.count).expect("count fits i64");
        let every = Duration::from_secs_f64(1.0 / commits_per_s.max(0.1));
        std::thread::spawn(move || {
            let store = Store::open_in(&data).expect("a second connection");
            let mut n = 0i64;
            let mut commits = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store
                    .connection()
                    .execute(
                        "UPDATE devices SET last_seen = ?2, last_status = ?2 WHERE id = ?1",
                        [n % count + 1, now_ms()],
                    )
                    .expect("a status-poll-like commit");
                commits += 1;
                n += 1;
                std::thread::sleep(every);
            }
            commits
        })
    };
    for c in [1usize, 16] {
        level(c, true);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = writer.join().expect("the writer thread");
    println!("  ({commits} commits by the other connection)");
    println!(
        "target: p99 under 20 ms — {} (worst p99 {}; {})",
        if worst_p99 < TARGET_P99 {
            "met at every level"
        } else {
            "NOT met at every level"
        },
        ms(worst_p99),
        verdicts.join(", ")
    );

    // --- where one request's time goes ------------------------------------------------------
    let parts = breakdown(
        &data,
        &handle,
        &server_rt,
        &client_rt,
        &client,
        (api.url(), &url, &token),
    );
    println!(
        "where one request's time goes (medians of 20, one at a time):\n  \
         store.devices() {} · open-alert count {} · list handler with JSON encoding, in-process \
         without HTTP {} · GET /api/v1/health round trip {} · GET /api/v1/printers round trip {}",
        ms(parts.devices),
        ms(parts.alerts),
        ms(parts.handler),
        ms(parts.health),
        ms(parts.list),
    );

    // --- the peer: wrk ---------------------------------------------------------------------
    if opts.wrk {
        run_wrk(&url, &token, opts.secs);
    }

    server_rt.block_on(async {
        api.shutdown().await;
        handle.shutdown().await;
    });
    if opts.keep {
        let kept = work.keep();
        println!("kept {}", kept.display());
    }
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
}

/// Records `count` printers cloned from `template`, each with its own identity,
/// address, counters and supply levels.
fn seed(data: &Path, template: &Reading, credential: &Credential, count: usize) {
    let mut store = Store::open_in(data).expect("open the store");
    let rules = Rules::default();
    let addrs = loopback_farm(count, 161);
    let at = now_ms();
    for (i, addr) in addrs.iter().enumerate() {
        let n = i64::try_from(i).expect("count fits i64");
        let mut r = template.clone();
        r.target = addr.to_string();
        r.identity.serial = Some(format!("ZZBENCH{i:05}"));
        r.identity.mac = Some(format!("02:00:5e:00:{:02x}:{:02x}", i / 256, i % 256));
        r.identity.hostname = Some(format!("mfp-bench-{i:04}"));
        r.identity.location = Some(format!("Floor {}, room {}", i % 12, 100 + i % 40));
        // An office fleet: every printer at its own point of life.
        for v in r.counters.values_mut() {
            *v += n * 1_379 + (n * n) % 10_007;
        }
        for (k, s) in r.supplies.iter_mut().enumerate() {
            let k = i64::try_from(k).expect("few supplies");
            let pct = (n * 37 + k * 53) % 101;
            if let Some(max) = s.max.filter(|m| *m > 0)
                && s.percent.is_some()
            {
                s.level = Some(max * pct / 100);
                s.percent = Some(pct as f64);
            }
        }
        let p = PollResult {
            device_id: None,
            address: addr.to_string(),
            kind: PollKind::Meters,
            at: at - 60_000 + n,
            outcome: PollOutcome::Read {
                reading: Box::new(r),
                credential: Some(credential.clone()),
            },
        };
        let rec = store.record(&p, &rules).expect("record a printer");
        assert!(rec.device_id.is_some(), "printer {i} was stored");
    }
    let devices = store.devices(false).expect("list the devices").len();
    assert_eq!(devices, count, "every clone is a device of its own");
}

/// Starts the collector (then pauses it) and the API over it, as
/// `printscout run` does.
async fn start_service(data: &Path) -> (CollectorHandle, Running) {
    let config = Config::default();
    let store = Store::open_in(data).expect("open the store");
    let settings = Settings::from_config(&config, data);
    let poller = poller_from(&config).expect("a poller from the default configuration");
    let handle = collector::start(settings, store, Arc::new(poller), Arc::new(SystemClock));
    handle.pause();
    for _ in 0..200 {
        if handle.status().state == "paused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secrets = printscout_engine::secrets::open(&config, data);
    let ctx = ApiContext::new(
        handle.control(),
        data.to_path_buf(),
        data.join(printscout_engine::config::FILE_NAME),
        config,
        secrets,
    )
    .expect("the API opens the store");
    let (router, _) = printscout_api::routes::api(ctx);
    let api = serve(
        ServeOptions {
            port: 0,
            data_dir: data.to_path_buf(),
            ui_dir: None,
        },
        router,
    )
    .await
    .expect("the API starts on a free loopback port");
    (handle, api)
}

/// The first request: its latency, the body size, and how many printers and
/// supply bars the list holds.
async fn first_request(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> (Duration, usize, usize, usize) {
    let t = Instant::now();
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let body = response.bytes().await.expect("the body");
    let cold = t.elapsed();
    let list: serde_json::Value = serde_json::from_slice(&body).expect("the list is JSON");
    let list = list.as_array().expect("the list is an array");
    let supplies = list
        .iter()
        .filter_map(|p| p["supplies"].as_array())
        .map(Vec::len)
        .sum();
    (cold, body.len(), list.len(), supplies)
}

/// One level's figures.
struct Figures {
    rps: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    size: usize,
    errors: usize,
}

/// `connections` tasks, each sending its next request when the previous body is
/// in; latencies from the measured window only.
async fn hammer(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    connections: usize,
    warmup: Duration,
    window: Duration,
) -> Figures {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut size = 0;
                loop {
                    let t = Instant::now();
                    if t >= end {
                        break;
                    }
                    let ok = match client.get(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status().is_success() => match r.bytes().await {
                            Ok(b) => {
                                size = b.len();
                                true
                            }
                            Err(_) => false,
                        },
                        _ => false,
                    };
                    if t >= measure_from {
                        if ok {
                            latencies.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors, size)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut size = 0;
    for task in tasks {
        let (l, e, s) = task.await.expect("a client task");
        all.extend(l);
        errors += e;
        size = size.max(s);
    }
    all.sort_unstable();
    let q = |p: f64| -> Duration {
        if all.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p * all.len() as f64).ceil() as usize).clamp(1, all.len());
        all[rank - 1]
    };
    Figures {
        rps: all.len() as f64 / window.as_secs_f64(),
        p50: q(0.50),
        p90: q(0.90),
        p99: q(0.99),
        max: all.last().copied().unwrap_or_default(),
        size,
        errors,
    }
}

/// Medians of 20 runs of what a list request costs, one part at a time.
struct Parts {
    /// `Store::devices(false)` on a connection of its own (as the API's reader).
    devices: Duration,
    /// The open-alert count query.
    alerts: Duration,
    /// The list handler and its JSON encoding, called in-process through the
    /// router (a context of its own with a warm summary cache): no HTTP, no
    /// security layer.
    handler: Duration,
    /// A `GET /api/v1/health` round trip: HTTP, the security layer, keep-alive.
    health: Duration,
    /// A `GET /api/v1/printers` round trip.
    list: Duration,
}

fn median(mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn breakdown(
    data: &Path,
    handle: &CollectorHandle,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    (base, url, token): (&str, &str, &str),
) -> Parts {
    use tower::ServiceExt;

    let store = Store::open_in(data).expect("open the store");
    let devices = median(|| {
        store.devices(false).expect("the devices");
    });
    let alerts = median(|| {
        let mut st = store
            .connection()
            .prepare_cached(
                "SELECT device_id, count(*) FROM alerts WHERE cleared_at IS NULL GROUP BY device_id",
            )
            .expect("the alert query");
        let n = st
            .query_map([], |r| r.get::<_, i64>(1))
            .expect("alert counts")
            .count();
        assert!(n > 0, "the fleet has open alerts");
    });

    let config = Config::default();
    let ctx = ApiContext::new(
        handle.control(),
        data.to_path_buf(),
        data.join(printscout_engine::config::FILE_NAME),
        config.clone(),
        printscout_engine::secrets::open(&config, data),
    )
    .expect("a second API context");
    let (router, _) = printscout_api::routes::api(ctx);
    let call = || {
        server_rt.block_on(async {
            let request = axum::http::Request::get("/api/v1/printers")
                .body(axum::body::Body::empty())
                .expect("a request");
            let response = router.clone().oneshot(request).await.expect("an answer");
            assert!(response.status().is_success(), "{}", response.status());
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body")
                .len()
        })
    };
    call(); // fills this context's summary cache
    let handler = median(|| {
        call();
    });

    let round_trip = |u: &str| {
        median(|| {
            client_rt.block_on(async {
                client
                    .get(u)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("an answer")
                    .bytes()
                    .await
                    .expect("a body");
            });
        })
    };
    Parts {
        devices,
        alerts,
        handler,
        health: round_trip(&format!("{base}api/v1/health")),
        list: round_trip(url),
    }
}

/// `wrk -t2 -c16 -d<secs>s --latency` against the same URL, when installed.
fn run_wrk(url: &str, token: &str, secs: u64) {
    let Some(wrk) = find_program("wrk") else {
        println!("\nwrk: not installed (apt-get install wrk): peer figure skipped");
        return;
    };
    println!("\nwrk -t2 -c16 -d{secs}s --latency -H 'Authorization: Bearer <token>' {url}");
    let out = Command::new(wrk)
        .args(["-t2", "-c16", &format!("-d{secs}s"), "--latency", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!(
            "  wrk failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    // The latency line, the percentile block, requests/s and transfer/s; a
    // non-2xx count would say the benchmark measured errors.
    let mut in_distribution = false;
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("Latency Distribution") {
            in_distribution = true;
        } else if in_distribution && !l.contains('%') {
            in_distribution = false;
        }
        if l.starts_with("Latency ")
            || in_distribution
            || l.starts_with("Requests/sec")
            || l.starts_with("Transfer/sec")
            || l.contains("requests in")
            || l.starts_with("Non-2xx")
            || l.starts_with("Socket errors")
        {
            println!("  {l}");
        }
    }
}

fn find_program(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
