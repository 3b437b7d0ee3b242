//! Benchmark of the collector service: `printscout run` (release build) polling N
//! simulated printers on loopback, measured from outside the process.
//!
//! What it owns: a printer farm (one SNMPv2c agent per loopback address, all in this
//! process on one thread), the set-up of a data directory with N devices, the two
//! measured runs of the real `printscout` binary, and the figures it prints.
//!
//! - **The farm.** Every address (127.0.30.0 … from testkit's `loopback_farm`) is its own
//!   UDP socket answering GET, GETNEXT and GETBULK (v2c, community `public`) from
//!   `tests/recordings/colour-mfp.snmprec` (a Konica Minolta bizhub C300i), with what
//!   makes a device itself and what a real office printer changes over time computed
//!   per request: serial, MAC and sysName per device; page counters that grow at a
//!   per-device rate (10–40 pages an hour, ~70 % black, copy/print split, duplex,
//!   scans); toner, drum and fuser levels that fall with the pages and come back full
//!   when a cartridge is "replaced"; hrPrinterStatus `printing` for the share of time the
//!   pages take at 30 pages a minute. Values follow a simulated clock that runs `scale`
//!   times faster than the wall clock (100× in the simulated run, 1× afterwards).
//!   GETBULK answers are cut to fit `--max-answer` bytes (1472 by default, an Ethernet
//!   payload, as many printers do); a GET or GETNEXT that does not fit gets tooBig.
//!   Codec: async-snmp's message types (the engine's own SNMP library); the farm is
//!   cross-checked once with net-snmp's `snmpwalk`, an independent client.
//! - **Run 1 (simulated hours):** `printscout run --status-every 3s --meters-every 36s`
//!   (5 min / 1 h scaled 100×) for `--sim-secs` seconds (360 = 10 simulated hours), then
//!   SIGTERM, a WAL checkpoint, and the database measured (file, per table via `dbstat`,
//!   rows written).
//! - **Run 2 (default schedule):** `printscout run` with the default intervals on the same
//!   data; after `--settle-secs`, CPU (utime + stime) and memory (VmRSS, VmHWM,
//!   smaps_rollup) of the service process are sampled for `--idle-secs`.
//! - **Run 3 (nothing due):** 100 h intervals, so no poll falls in the `--quiet-secs`
//!   window: what the scheduler costs by itself.
//!
//! Invariants: every packet goes to or from 127.0.0.0/8; the collector is measured by its
//! own PID from `/proc` (the farm's CPU is reported apart); every child is stopped by its
//! PID; the run is bounded in time (about `sim + settle + idle + quiet` seconds plus
//! set-up and stops).
//!
//! `cargo run --release --example bench_collector -- [--count 1000] [--sim-secs 360]
//! [--settle-secs 45] [--idle-secs 120] [--quiet-secs 20] [--max-answer 1472] [--keep]
//! [--printscout PATH]` (another build of the binary, to compare).
//! (`scripts/bench-collector.sh` installs what it needs, builds, and runs it).
//! `--count N --farm-only DIR` only serves N printers for another benchmark
//! (`scripts/bench-app.sh`; see `farm_only`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use printscout_engine::printer::read_device;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_engine::store::{Rules, Store};
use printscout_testkit::{free_udp_port, loopback_farm, netsnmp, recordings_dir, workspace_root};

/// The simulated run's clock speed: 3 s of status interval = 5 min, 36 s = 1 h.
const SCALE: f64 = 100.0;
const COMMUNITY: &str = "public";

struct Opts {
    count: usize,
    sim_secs: u64,
    settle_secs: u64,
    idle_secs: u64,
    quiet_secs: u64,
    max_answer: usize,
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
        Opts {
            count: num("--count", 1000),
            sim_secs: num("--sim-secs", 360),
            settle_secs: num("--settle-secs", 45),
            idle_secs: num("--idle-secs", 120),
            quiet_secs: num("--quiet-secs", 20),
            max_answer: num("--max-answer", 1472),
            keep: std::env::args().any(|a| a == "--keep"),
        }
    }
}

fn main() {
    let opts = Opts::parse();
    let bin = arg("--printscout").map_or_else(printscout_bin, PathBuf::from);
    let started = Instant::now();

    // --- the farm ---------------------------------------------------------------------
    check_fd_limit(opts.count);
    let port = free_udp_port();
    let addrs = loopback_farm(opts.count, port);
    let recording = recordings_dir().join("colour-mfp.snmprec");
    let farm = farm::Farm::start(&recording, COMMUNITY, &addrs, opts.max_answer);
    farm.set_scale(SCALE);
    cross_check(&addrs);
    if let Some(dir) = arg("--farm-only") {
        farm_only(Path::new(&dir), &addrs, port);
        return;
    }
    println!(
        "farm: {} simulated printers on {} … {} (one socket each, port {port}), answers ≤ {} bytes",
        addrs.len(),
        addrs[0].ip(),
        addrs[addrs.len() - 1].ip(),
        opts.max_answer
    );

    // --- the data directory with N devices ---------------------------------------------
    let target = workspace_root().join("target");
    std::fs::create_dir_all(&target).expect("create target/");
    let work = tempfile::Builder::new()
        .prefix("bench-collector-")
        .tempdir_in(&target)
        .expect("create a work dir under target/");
    let data = work.path().join("data");
    let fast_cfg = work.path().join("simulated.toml");
    let default_cfg = work.path().join("default.toml");
    // The simulated run sends 100× the real schedule's packets: lift the politeness cap
    // so the schedule, not the cap, sets the pace. The default run uses every default.
    std::fs::write(&fast_cfg, format!("[snmp]\nport = {port}\nrate = 100000\n"))
        .expect("write config");
    std::fs::write(&default_cfg, format!("[snmp]\nport = {port}\n")).expect("write config");
    let t = Instant::now();
    let added = add_devices(&data, &addrs);
    println!(
        "store: {added}/{} devices added in {:.1} s (read once each, as `devices add` does)",
        addrs.len(),
        t.elapsed().as_secs_f64()
    );
    let before = db::measure(&data, 0);

    // --- run 1: simulated hours --------------------------------------------------------
    let sim_hours = opts.sim_secs as f64 * SCALE / 3600.0;
    println!(
        "run 1: {} s at 3 s status / 36 s meters = {sim_hours:.1} simulated hours …",
        opts.sim_secs
    );
    let farm0 = farm.stats();
    let t0_ms = now_ms();
    let mut svc = Service::start(
        &bin,
        &data,
        &fast_cfg,
        &[
            "--status-every",
            "3s",
            "--meters-every",
            "36s",
            "--catch-up-window",
            "10s",
        ],
        &work.path().join("run1.log"),
    );
    let s0 = svc.sample();
    let mut peak_rss = 0;
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(opts.sim_secs) {
        std::thread::sleep(Duration::from_millis(1000));
        peak_rss = peak_rss.max(svc.sample().rss_kib);
    }
    let s1 = svc.sample();
    let run1_secs = t1.elapsed().as_secs_f64();
    let others1 = s1.others_since(&s0);
    let farm1 = farm.stats();
    svc.stop();
    let errors1 = count_lines(&work.path().join("run1.log"), " ERROR ");
    let after = db::measure(&data, t0_ms);
    let run1 = Run1 {
        secs: run1_secs,
        sim_hours,
        cpu: s1.cpu_secs - s0.cpu_secs,
        written: s1.write_bytes.saturating_sub(s0.write_bytes),
        peak_rss_kib: peak_rss.max(s1.hwm_kib),
        farm: farm1.minus(&farm0),
        errors: errors1,
        others: others1,
    };

    // --- run 2: the default schedule ---------------------------------------------------
    let idle = if opts.idle_secs > 0 {
        farm.set_scale(1.0);
        println!(
            "run 2: default schedule (5 min / 1 h), settle {} s, then sample {} s …",
            opts.settle_secs, opts.idle_secs
        );
        let mut svc = Service::start(
            &bin,
            &data,
            &default_cfg,
            &["--catch-up-window", "30s"],
            &work.path().join("run2.log"),
        );
        std::thread::sleep(Duration::from_secs(opts.settle_secs));
        let f0 = farm.stats();
        let w0_ms = now_ms();
        let a = svc.sample();
        let mut rss = Vec::new();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(opts.idle_secs) {
            std::thread::sleep(Duration::from_millis(1000));
            rss.push(svc.sample().rss_kib);
        }
        let b = svc.sample();
        let secs = t.elapsed().as_secs_f64();
        let f1 = farm.stats();
        let rollup = svc.smaps_rollup();
        let threads = svc.status_field("Threads:");
        svc.stop();
        let full_reads = db::rows_since(&data, "meter_readings", w0_ms);
        Some(Idle {
            secs,
            cpu: b.cpu_secs - a.cpu_secs,
            others: b.others_since(&a),
            written: b.write_bytes.saturating_sub(a.write_bytes),
            rss_now_kib: b.rss_kib,
            rss_min_kib: rss.iter().copied().min().unwrap_or(0),
            rss_max_kib: rss.iter().copied().max().unwrap_or(0),
            hwm_kib: b.hwm_kib,
            anon_kib: b.anon_kib,
            file_kib: b.file_kib,
            rollup,
            threads,
            farm: f1.minus(&f0),
            full_reads,
            errors: count_lines(&work.path().join("run2.log"), " ERROR "),
        })
    } else {
        None
    };

    // --- run 3: nothing due (the scheduler alone) -----------------------------------------
    let quiet = if opts.quiet_secs > 0 {
        println!(
            "run 3: 100 h intervals, nothing due: the scheduler alone, sampled {} s …",
            opts.quiet_secs
        );
        let mut svc = Service::start(
            &bin,
            &data,
            &default_cfg,
            &[
                "--status-every",
                "100h",
                "--meters-every",
                "100h",
                "--catch-up-window",
                "30s",
            ],
            &work.path().join("run3.log"),
        );
        std::thread::sleep(Duration::from_secs(5));
        let f0 = farm.stats();
        let a = svc.sample();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(opts.quiet_secs));
        let b = svc.sample();
        let secs = t.elapsed().as_secs_f64();
        let polls = farm.stats().minus(&f0).polls;
        svc.stop();
        Some(Quiet {
            secs,
            cpu: b.cpu_secs - a.cpu_secs,
            others: b.others_since(&a),
            rss_kib: b.rss_kib,
            polls,
        })
    } else {
        None
    };

    report(
        &opts,
        &before,
        &after,
        &run1,
        (idle.as_ref(), quiet.as_ref()),
        farm.cpu_secs(),
        started,
    );
    if opts.keep {
        let kept = work.keep();
        println!("kept: {}", kept.display());
    }
}

// ---------------------------------------------------------------------------------------
// The service process and /proc
// ---------------------------------------------------------------------------------------

/// One `printscout run` child, measured and stopped by its PID.
struct Service {
    child: Child,
    pid: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    cpu_secs: f64,
    rss_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    write_bytes: u64,
    /// CPU seconds of every process on the machine, and of this one (the farm).
    machine_cpu: f64,
    own_cpu: f64,
}

impl Sample {
    /// CPU seconds that processes other than the collector and the farm used since `a`.
    fn others_since(&self, a: &Sample) -> f64 {
        ((self.machine_cpu - a.machine_cpu)
            - (self.cpu_secs - a.cpu_secs)
            - (self.own_cpu - a.own_cpu))
            .max(0.0)
    }
}

impl Service {
    fn start(bin: &Path, data: &Path, config: &Path, extra: &[&str], log: &Path) -> Service {
        let log_file = std::fs::File::create(log).expect("create the service log");
        let child = Command::new(bin)
            .arg("run")
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(config)
            // The loopback API runs too (it is part of the service), on any free port.
            .args(["--api-port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .env_remove("PRINTSCOUT_LOG")
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let pid = child.id();
        let mut s = Service { child, pid };
        std::thread::sleep(Duration::from_millis(300));
        if let Ok(Some(status)) = s.child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("printscout run exited at once ({status}):\n{text}");
        }
        s
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.pid)).unwrap_or_default()
    }

    fn status_field(&self, key: &str) -> u64 {
        field_kib(&self.proc_file("status"), key)
    }

    fn sample(&self) -> Sample {
        let stat = self.proc_file("stat");
        // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let status = self.proc_file("status");
        let io = self.proc_file("io");
        Sample {
            cpu_secs: (ticks(11) + ticks(12)) / clock_ticks(),
            rss_kib: field_kib(&status, "VmRSS:"),
            hwm_kib: field_kib(&status, "VmHWM:"),
            anon_kib: field_kib(&status, "RssAnon:"),
            file_kib: field_kib(&status, "RssFile:"),
            write_bytes: field_kib(&io, "write_bytes:"),
            machine_cpu: machine_cpu_secs(),
            own_cpu: self_cpu_secs(),
        }
    }

    fn smaps_rollup(&self) -> Vec<(String, u64)> {
        self.proc_file("smaps_rollup")
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let kib = v.split_whitespace().next()?.parse().ok()?;
                Some((k.trim().to_string(), kib))
            })
            .collect()
    }

    /// SIGTERM by PID (a clean stop), SIGKILL after 40 s.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "printscout run (pid {}) did not stop in 40 s: killed",
            self.pid
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first number after `key` (kB for /proc/PID/status, bytes for /proc/PID/io).
fn field_kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l[key.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// USER_HZ: 100 on every Linux this runs on (getconf asks when it can).
fn clock_ticks() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn self_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Busy CPU seconds of the whole machine (user, nice, system, irq, softirq) from /proc/stat.
fn machine_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let t = |i: usize| ticks.get(i).copied().unwrap_or(0.0);
    (t(0) + t(1) + t(2) + t(5) + t(6)) / clock_ticks()
}

fn count_lines(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

fn now_ms() -> i64 {
    printscout_engine::store::now_ms()
}

/// `target/release/printscout` next to this example's own directory.
fn printscout_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("examples/ has a parent");
    let bin = dir.join("printscout");
    assert!(
        bin.is_file(),
        "{} is missing: build with `cargo build --release --workspace --bins --examples`",
        bin.display()
    );
    bin
}

/// One socket per farm address: the soft open-file limit must fit them.
fn check_fd_limit(count: usize) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft {
        assert!(
            soft >= count + 64,
            "the open-file limit ({soft}) is below the {count} farm sockets: run `ulimit -n {}` first \
             (scripts/bench-collector.sh does)",
            count + 256
        );
    }
}

/// net-snmp's snmpwalk (an independent client) walks the first and the last printer
/// whole (it fails on OIDs that do not increase) and sees two different serials.
fn cross_check(addrs: &[SocketAddr]) {
    let serial = "1.3.6.1.2.1.43.5.1.1.17.1";
    let mut serials = Vec::new();
    for addr in [addrs[0], addrs[addrs.len() - 1]] {
        let walk = netsnmp::walk_v2c(addr, COMMUNITY, ".1")
            .unwrap_or_else(|e| panic!("snmpwalk of the farm at {addr} failed: {e}"));
        assert!(
            walk.len() > 150,
            "snmpwalk of {addr} returned only {} varbinds",
            walk.len()
        );
        let s = netsnmp::get_v2c(addr, COMMUNITY, serial)
            .unwrap_or_else(|e| panic!("snmpget of {addr} failed: {e}"));
        serials.push(s);
    }
    assert!(
        addrs.len() == 1 || serials[0] != serials[1],
        "two farm printers share a serial: {serials:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Adding the devices
// ---------------------------------------------------------------------------------------

/// Reads every printer once and adds it, as `printscout devices add` does.
/// `--farm-only DIR`: the farm and nothing else, for other benchmarks
/// (scripts/bench-app.sh): adds every printer to the store in DIR (read once
/// each), writes DIR/printscout.toml naming the farm's port, prints one line
/// `ready <count> <port>`, and serves until standard input closes.
fn farm_only(dir: &Path, addrs: &[SocketAddr], port: u16) {
    let added = add_devices(dir, addrs);
    std::fs::write(
        dir.join("printscout.toml"),
        format!("[snmp]\nport = {port}\n[secrets]\nstore = \"file\"\n[discovery]\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n"),
    )
    .expect("write the configuration");
    println!("ready {added} {port}");
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
}

fn add_devices(data: &Path, addrs: &[SocketAddr]) -> usize {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let creds = vec![Credential::community(COMMUNITY, Version::V2c, COMMUNITY)];
    let options = SnmpOptions::default();
    let readings = rt.block_on(async {
        let transport = SnmpTransport::new(0);
        futures::stream::iter(addrs.iter().copied())
            .map(|a| {
                let (transport, creds, options) = (&transport, &creds, &options);
                async move { (a, read_device(transport, a, creds, options).await) }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await
    });
    let mut store = Store::open_in(data).expect("open the store");
    let mut added = 0;
    for (addr, r) in readings {
        match r {
            Ok(reading) => {
                let rec = store
                    .add_device(
                        &addr.to_string(),
                        None,
                        Some((reading, creds[0].clone())),
                        (None, None),
                        &Rules::default(),
                    )
                    .expect("add a device");
                if rec.created {
                    added += 1;
                }
            }
            Err(e) => eprintln!("not added: {addr}: {e}"),
        }
    }
    assert_eq!(
        added,
        addrs.len(),
        "every farm printer must be a device of its own"
    );
    added
}

// ---------------------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------------------

mod db {
    use std::collections::BTreeMap;
    use std::path::Path;

    use printscout_engine::store::DB_FILE;
    use rusqlite::Connection;

    /// The database after a checkpoint.
    #[derive(Debug, Default)]
    pub struct Figures {
        /// Main file, WAL and shm, in bytes, after `wal_checkpoint(TRUNCATE)`.
        pub file: u64,
        pub wal: u64,
        /// Bytes per table or index (`dbstat`: pages, so free space inside pages counts).
        pub by_object: BTreeMap<String, u64>,
        /// Rows per table.
        pub rows: BTreeMap<String, i64>,
        /// Rows written at or after `since` (ms) per table, and by kind for events.
        pub meter_rows: i64,
        pub meter_counters: i64,
        pub meter_supplies: i64,
        pub meter_counters_bytes: i64,
        pub meter_supplies_bytes: i64,
        pub status_rows: i64,
        pub event_kinds: BTreeMap<String, i64>,
        pub outbox_rows: i64,
        pub outbox_bytes: i64,
        pub devices_bytes: i64,
        pub failing_devices: i64,
        pub page_size: i64,
        pub free_pages: i64,
    }

    impl Figures {
        /// Bytes of a table with its indexes (`dbstat` names an index by its own name).
        pub fn table(&self, table: &str, indexes: &[&str]) -> u64 {
            self.by_object.get(table).copied().unwrap_or(0)
                + indexes
                    .iter()
                    .map(|i| self.by_object.get(*i).copied().unwrap_or(0))
                    .sum::<u64>()
        }
    }

    fn count(c: &Connection, sql: &str, since: i64) -> i64 {
        c.query_row(sql, [since], |r| r.get::<_, Option<i64>>(0))
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Checkpoints and measures; `since` (ms) selects the rows a run wrote.
    pub fn measure(data: &Path, since: i64) -> Figures {
        let path = data.join(DB_FILE);
        let c = Connection::open(&path).expect("open the database");
        c.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        let _: (i64, i64, i64) = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("checkpoint");
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let mut f = Figures {
            file: size(&path),
            wal: size(Path::new(&wal)),
            ..Figures::default()
        };
        let mut st = c
            .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
            .expect("dbstat (bundled SQLite has it)");
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("dbstat");
        for (name, bytes) in rows.flatten() {
            f.by_object
                .insert(name, u64::try_from(bytes).unwrap_or_default());
        }
        for t in [
            "devices",
            "addresses",
            "meter_readings",
            "status_changes",
            "alerts",
            "events",
            "outbox",
        ] {
            f.rows.insert(
                t.to_string(),
                count(&c, &format!("SELECT count(*) FROM {t} WHERE ?1 = ?1"), 0),
            );
        }
        f.meter_rows = count(
            &c,
            "SELECT count(*) FROM meter_readings WHERE at >= ?1",
            since,
        );
        f.meter_counters = count(
            &c,
            "SELECT count(counters) FROM meter_readings WHERE at >= ?1",
            since,
        );
        f.meter_supplies = count(
            &c,
            "SELECT count(supplies) FROM meter_readings WHERE at >= ?1",
            since,
        );
        f.meter_counters_bytes = count(
            &c,
            "SELECT sum(length(counters)) FROM meter_readings WHERE at >= ?1",
            since,
        );
        f.meter_supplies_bytes = count(
            &c,
            "SELECT sum(length(supplies)) FROM meter_readings WHERE at >= ?1",
            since,
        );
        f.status_rows = count(
            &c,
            "SELECT count(*) FROM status_changes WHERE at >= ?1",
            since,
        );
        f.outbox_rows = count(&c, "SELECT count(*) FROM outbox WHERE ?1 = ?1", 0);
        f.outbox_bytes = count(
            &c,
            "SELECT sum(length(payload)) FROM outbox WHERE ?1 = ?1",
            0,
        );
        f.devices_bytes = count(
            &c,
            "SELECT sum(length(latest_reading)) + sum(length(last_counters)) + sum(length(status_detail)) FROM devices WHERE ?1 = ?1",
            0,
        );
        f.failing_devices = count(
            &c,
            "SELECT count(*) FROM devices WHERE failures > 0 OR offline != 0 OR ?1 != ?1",
            0,
        );
        f.page_size = count(
            &c,
            "SELECT page_size FROM pragma_page_size() WHERE ?1 = ?1",
            0,
        );
        f.free_pages = count(
            &c,
            "SELECT freelist_count FROM pragma_freelist_count() WHERE ?1 = ?1",
            0,
        );
        let mut st = c
            .prepare("SELECT kind, count(*) FROM events WHERE at >= ?1 GROUP BY kind")
            .expect("events by kind");
        let rows = st
            .query_map([since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .expect("events by kind");
        f.event_kinds = rows.flatten().collect();
        f
    }

    /// Rows of `table` with `at >= since` (read while the service runs: WAL readers
    /// do not block it).
    pub fn rows_since(data: &Path, table: &str, since: i64) -> i64 {
        let c = Connection::open(data.join(DB_FILE)).expect("open the database");
        count(
            &c,
            &format!("SELECT count(*) FROM {table} WHERE at >= ?1"),
            since,
        )
    }
}

// ---------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------

struct Run1 {
    secs: f64,
    others: f64,
    sim_hours: f64,
    cpu: f64,
    written: u64,
    peak_rss_kib: u64,
    farm: farm::Stats,
    errors: usize,
}

struct Quiet {
    secs: f64,
    cpu: f64,
    others: f64,
    rss_kib: u64,
    polls: u64,
}

struct Idle {
    secs: f64,
    cpu: f64,
    others: f64,
    written: u64,
    rss_now_kib: u64,
    rss_min_kib: u64,
    rss_max_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    rollup: Vec<(String, u64)>,
    threads: u64,
    farm: farm::Stats,
    full_reads: i64,
    errors: usize,
}

fn mb(bytes: f64) -> String {
    format!("{:.2} MB", bytes / 1_000_000.0)
}

fn kib_mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1_000_000.0)
}

fn report(
    opts: &Opts,
    before: &db::Figures,
    after: &db::Figures,
    r: &Run1,
    (idle, quiet): (Option<&Idle>, Option<&Quiet>),
    farm_cpu: f64,
    started: Instant,
) {
    let n = opts.count as f64;
    let month = 720.0 / r.sim_hours;
    let full = after.meter_rows as f64;
    let polls = r.farm.polls as f64;
    let status = (polls - full).max(0.0);
    let growth = |t: &str, ix: &[&str]| after.table(t, ix) as f64 - before.table(t, ix) as f64;
    let meters_b = growth("meter_readings", &["meter_readings_device_at"]);
    let status_b = growth("status_changes", &["status_changes_device_at"]);
    let events_b = growth("events", &["events_at", "events_device"]);
    let alerts_b = growth("alerts", &["alerts_open", "sqlite_autoindex_alerts_1"]);
    let outbox_b = growth("outbox", &[]);
    let series = meters_b + status_b + events_b + alerts_b;
    let total_after = (after.file + after.wal) as f64;
    let total_before = (before.file + before.wal) as f64;
    let fixed = before.table(
        "devices",
        &[
            "devices_mac",
            "devices_address",
            "sqlite_autoindex_devices_1",
        ],
    ) + before.table("addresses", &["sqlite_autoindex_addresses_1"]);
    let outbox_row = if after.outbox_rows > 0 {
        after.table("outbox", &[]) as f64 / after.outbox_rows as f64
    } else {
        0.0
    };

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "== PrintScout collector benchmark: {} devices, {:.1} simulated hours ==",
        opts.count, r.sim_hours
    );
    let _ = writeln!(
        w,
        "machine: {} cores, {}; {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        cpu_model(),
        os_name()
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "-- run 1: status every 3 s, meters every 36 s ({:.0} s) --",
        r.secs
    );
    let _ = writeln!(
        w,
        "polls                 {:>10.0}  ({:.0}/s; status {:.0}, full reads {:.0}; scheduled ≈ {:.0} + {:.0})",
        polls,
        polls / r.secs,
        status,
        full,
        n * r.secs / 3.0 - n * r.secs / 36.0,
        n * r.secs / 36.0
    );
    let _ = writeln!(
        w,
        "SNMP requests         {:>10}  ({:.1} per status poll + full read mix; {:.0}/s; {} not answered)",
        r.farm.requests,
        r.farm.requests as f64 / polls.max(1.0),
        r.farm.requests as f64 / r.secs,
        r.farm.unanswered
    );
    let _ = writeln!(
        w,
        "commits (1 per poll)  {:>10.0}/s   rows: meter_readings {} (counters {} / supplies {} non-NULL), status_changes {}, events {}",
        polls / r.secs,
        after.meter_rows,
        after.meter_counters,
        after.meter_supplies,
        after.status_rows,
        after.event_kinds.values().sum::<i64>()
    );
    let _ = writeln!(
        w,
        "events by kind        {}",
        after
            .event_kinds
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        w,
        "disk writes           {:>10}  ({}/s, WAL + checkpoints, /proc/PID/io)",
        mb(r.written as f64),
        mb(r.written as f64 / r.secs)
    );
    let _ = writeln!(
        w,
        "collector CPU         {:>9.1} s  ({:.1} % of one core; {:.2} ms per poll); peak RSS {}",
        r.cpu,
        100.0 * r.cpu / r.secs,
        1000.0 * r.cpu / polls.max(1.0),
        kib_mb(r.peak_rss_kib)
    );
    let _ = writeln!(
        w,
        "farm CPU (this proc.) {:>9.1} s  in total; devices failing at the end {}; ERROR log lines {}",
        farm_cpu, after.failing_devices, r.errors
    );
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get()) as f64;
    let _ = writeln!(
        w,
        "other processes       {:>9.1} s  of CPU during the run ({:.0} % of the machine)",
        r.others,
        100.0 * r.others / (r.secs * cores)
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "-- database (after a TRUNCATE checkpoint) --");
    let _ = writeln!(
        w,
        "size                  {:>10}  (file {} + WAL {}); before run 1: {} ({:.1} KB per device)",
        mb(total_after),
        mb(after.file as f64),
        mb(after.wal as f64),
        mb(total_before),
        total_before / n / 1000.0
    );
    let _ = writeln!(
        w,
        "growth in run 1       {:>10}  meter_readings {} · status_changes {} · events {} · alerts {} · outbox {}",
        mb(total_after - total_before),
        mb(meters_b),
        mb(status_b),
        mb(events_b),
        mb(alerts_b),
        mb(outbox_b)
    );
    let _ = writeln!(
        w,
        "per meter reading     {:>10.0} B  (JSON: counters {:.0} B, supplies {:.0} B when stored)",
        meters_b / full.max(1.0),
        after.meter_counters_bytes as f64 / (after.meter_counters.max(1)) as f64,
        after.meter_supplies_bytes as f64 / (after.meter_supplies.max(1)) as f64
    );
    let _ = writeln!(
        w,
        "fixed per device      {:>10.1} KB (devices row with the latest reading JSON, addresses)",
        fixed as f64 / n / 1000.0
    );
    let _ = writeln!(
        w,
        "outbox                {:>10} rows, {:.0} B each; bounded by store.outbox_max (100,000 rows ≈ {})",
        after.outbox_rows,
        outbox_row,
        mb(outbox_row * 100_000.0)
    );
    let _ = writeln!(
        w,
        "PER DEVICE PER MONTH  {:>10}  history (readings, status, events, alerts: growth × {:.0} / {})",
        mb(series / n * month),
        month,
        opts.count
    );
    let _ = writeln!(
        w,
        "                      {:>10}  whole file / {} × {:.0} (the issue's formula; counts the fixed part and the outbox as if they grew)",
        mb(total_after / n * month),
        opts.count,
        month
    );
    let _ = writeln!(
        w,
        "                      {:>10}  with the outbox growing too until its cap (no uplink)",
        mb((series + outbox_b) / n * month)
    );

    if let Some(i) = idle {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "-- run 2: default schedule (status 5 min, meters 1 h), sampled {:.0} s --",
            i.secs
        );
        let _ = writeln!(
            w,
            "polls in the window   {:>10}  ({} full reads; {} SNMP requests)",
            i.farm.polls, i.full_reads, i.farm.requests
        );
        let cpu_pct = 100.0 * i.cpu / i.secs;
        let _ = writeln!(
            w,
            "CPU                   {:>9.3} s  = {:.3} % of one core   [target < 1 %: {}]",
            i.cpu,
            cpu_pct,
            if cpu_pct < 1.0 { "met" } else { "MISSED" }
        );
        let status_polls = i
            .farm
            .polls
            .saturating_sub(u64::try_from(i.full_reads).unwrap_or(0));
        let _ = writeln!(
            w,
            "window's mix          {:>10}  status polls : full reads = {} : {} = {:.1} : 1 (an hour's is 12 : 1, so this is the hour's average); {:.2} ms CPU per poll",
            "",
            status_polls,
            i.full_reads,
            status_polls as f64 / (i.full_reads.max(1)) as f64,
            1000.0 * i.cpu / (i.farm.polls.max(1)) as f64
        );
        let _ = writeln!(
            w,
            "disk writes           {:>10}  in the window = {} a day (/proc/PID/io)",
            mb(i.written as f64),
            mb(i.written as f64 / i.secs * 86_400.0)
        );
        let _ = writeln!(
            w,
            "other processes       {:>9.1} s  of CPU in the window ({:.0} % of the machine)",
            i.others,
            100.0 * i.others / (i.secs * cores)
        );
        let _ = writeln!(
            w,
            "RSS                   {:>10}  now (min {}, max {} in the window), peak VmHWM {}   [target < 20 MB: {}]",
            kib_mb(i.rss_now_kib),
            kib_mb(i.rss_min_kib),
            kib_mb(i.rss_max_kib),
            kib_mb(i.hwm_kib),
            if (i.rss_max_kib as f64) * 1024.0 < 20_000_000.0 {
                "met"
            } else {
                "MISSED"
            }
        );
        let pick = |k: &str| i.rollup.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
        let _ = writeln!(
            w,
            "RSS breakdown         anon {} · file-backed {} · Pss {} · Private_Dirty {} · {} threads",
            kib_mb(i.anon_kib),
            kib_mb(i.file_kib),
            kib_mb(pick("Pss")),
            kib_mb(pick("Private_Dirty")),
            i.threads
        );
        let _ = writeln!(w, "ERROR log lines       {:>10}", i.errors);
    }
    if let Some(q) = quiet {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "-- run 3: nothing due (100 h intervals), sampled {:.0} s --",
            q.secs
        );
        let _ = writeln!(
            w,
            "CPU                   {:>9.3} s  = {:.3} % of one core with {} polls: the scheduler alone; RSS {}",
            q.cpu,
            100.0 * q.cpu / q.secs,
            q.polls,
            kib_mb(q.rss_kib)
        );
        let _ = writeln!(
            w,
            "other processes       {:>9.1} s  of CPU in the window ({:.0} % of the machine)",
            q.others,
            100.0 * q.others / (q.secs * cores)
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "benchmark took {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    print!("{out}");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".into(), |(_, m)| m.trim().to_string())
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or_else(|| "Linux".into(), |s| s.trim_matches('"').to_string())
}

// ---------------------------------------------------------------------------------------
// The farm
// ---------------------------------------------------------------------------------------

mod farm {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::ops::Bound;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use async_snmp::message::CommunityMessage;
    use async_snmp::{
        DecodeConfig, Oid, OutboundErrorStatus, PduBody, ResponsePdu, StandardPduType, Value,
        VarBind,
    };
    use bytes::Bytes;

    /// hrPrinterStatus: every poll (status or full) walks this column from its root once.
    const POLL_MARK: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 5, 1, 1];

    /// What the farm saw.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Stats {
        /// Datagrams received.
        pub requests: u64,
        /// Of which not answered (not v2c, wrong community, undecodable).
        pub unanswered: u64,
        /// Polls begun (requests that walk hrPrinterStatus from its root).
        pub polls: u64,
    }

    impl Stats {
        pub fn minus(&self, o: &Stats) -> Stats {
            Stats {
                requests: self.requests - o.requests,
                unanswered: self.unanswered - o.unanswered,
                polls: self.polls - o.polls,
            }
        }
    }

    #[derive(Default)]
    struct Counters {
        requests: AtomicU64,
        unanswered: AtomicU64,
        polls: AtomicU64,
    }

    /// A value computed per device and per moment.
    #[derive(Clone, Copy, Debug)]
    enum Dyn {
        SysName,
        Uptime,
        Mac,
        Serial,
        PrinterStatus,
        LifeCount,
        KmTotal,
        Duplex,
        CopyBlack,
        PrintBlack,
        CopyColour,
        PrintColour,
        Scans,
        /// A supply row (1-based, as in prtMarkerSuppliesTable).
        Supply(usize),
    }

    enum Cell {
        Static(Value),
        Dyn(Dyn),
    }

    /// The simulated clock: `sim0 + (now - real0) × scale` seconds.
    struct Clock {
        real0: Instant,
        sim0: f64,
        scale: f64,
    }

    impl Clock {
        fn now(&self) -> f64 {
            self.sim0 + self.real0.elapsed().as_secs_f64() * self.scale
        }
    }

    struct Shared {
        table: BTreeMap<Vec<u32>, Cell>,
        community: Vec<u8>,
        max_answer: usize,
        clock: Mutex<Clock>,
        counters: Counters,
        trace: bool,
    }

    /// The running farm (its thread ends with the process).
    pub struct Farm {
        shared: Arc<Shared>,
    }

    fn splitmix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    fn h(i: usize, salt: u64) -> u64 {
        splitmix((i as u64) << 8 ^ salt)
    }

    fn parse_oid(s: &str) -> Option<Vec<u32>> {
        s.trim_start_matches('.')
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    }

    fn hex(s: &str) -> Option<Vec<u8>> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    /// One `.snmprec` line (`OID|TAG|VALUE`, `TAGx` for hex) as an async-snmp value.
    fn parse_line(line: &str) -> Option<(Vec<u32>, Value)> {
        let mut p = line.splitn(3, '|');
        let oid = parse_oid(p.next()?)?;
        let tag = p.next()?;
        let raw = p.next().unwrap_or("");
        let (tag, is_hex) = match tag.strip_suffix('x') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let bytes = || {
            if is_hex {
                hex(raw)
            } else {
                Some(raw.as_bytes().to_vec())
            }
        };
        let value = match tag {
            "2" => Value::Integer(raw.trim().parse().ok()?),
            "4" => Value::OctetString(Bytes::from(bytes()?)),
            "5" => Value::Null,
            "6" => Value::ObjectIdentifier(Oid::parse(raw.trim()).ok()?),
            "64" => {
                let b = bytes()?;
                let ip: std::net::Ipv4Addr = if is_hex {
                    <[u8; 4]>::try_from(b.as_slice()).ok()?.into()
                } else {
                    raw.trim().parse().ok()?
                };
                Value::IpAddress(ip.octets())
            }
            "65" => Value::Counter32(raw.trim().parse().ok()?),
            "66" => Value::Gauge32(raw.trim().parse().ok()?),
            "67" => Value::TimeTicks(raw.trim().parse().ok()?),
            "70" => Value::Counter64(raw.trim().parse().ok()?),
            _ => return None,
        };
        Some((oid, value))
    }

    /// Where each per-device value lives (the bizhub C300i's layout).
    fn dynamic_cells() -> Vec<(&'static str, Dyn)> {
        let mut v = vec![
            ("1.3.6.1.2.1.1.3.0", Dyn::Uptime),
            ("1.3.6.1.2.1.1.5.0", Dyn::SysName),
            ("1.3.6.1.2.1.2.2.1.6.1", Dyn::Mac),
            ("1.3.6.1.2.1.25.3.5.1.1.1", Dyn::PrinterStatus),
            ("1.3.6.1.2.1.43.5.1.1.17.1", Dyn::Serial),
            ("1.3.6.1.2.1.43.10.2.1.4.1.1", Dyn::LifeCount),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0", Dyn::KmTotal),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.1.3.0", Dyn::Duplex),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.1", Dyn::CopyBlack),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.2", Dyn::PrintBlack),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.1", Dyn::CopyColour),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.2", Dyn::PrintColour),
            ("1.3.6.1.4.1.18334.1.1.1.5.7.2.3.1.5.1", Dyn::Scans),
        ];
        // Toners C, M, Y, K (rows 1-4), drums C, M, Y, K (5-8), fuser (10); the waste
        // toner box (9) stays "some remaining".
        const LEVELS: [&str; 9] = [
            "1.3.6.1.2.1.43.11.1.1.9.1.1",
            "1.3.6.1.2.1.43.11.1.1.9.1.2",
            "1.3.6.1.2.1.43.11.1.1.9.1.3",
            "1.3.6.1.2.1.43.11.1.1.9.1.4",
            "1.3.6.1.2.1.43.11.1.1.9.1.5",
            "1.3.6.1.2.1.43.11.1.1.9.1.6",
            "1.3.6.1.2.1.43.11.1.1.9.1.7",
            "1.3.6.1.2.1.43.11.1.1.9.1.8",
            "1.3.6.1.2.1.43.11.1.1.9.1.10",
        ];
        for (k, oid) in LEVELS.iter().enumerate() {
            let row = if k == 8 { 10 } else { k + 1 };
            v.push((oid, Dyn::Supply(row)));
        }
        v
    }

    /// A printer's life at simulated second `t`.
    struct Printer {
        i: usize,
        base: u64,
        pages_per_hour: f64,
    }

    impl Printer {
        fn new(i: usize) -> Printer {
            Printer {
                i,
                base: 20_000 + h(i, 1) % 400_000,
                pages_per_hour: 10.0 + (h(i, 2) % 3001) as f64 / 100.0,
            }
        }

        /// Impressions since the simulation began.
        fn pages(&self, t: f64) -> u64 {
            (self.pages_per_hour * t / 3600.0) as u64
        }

        fn total(&self, t: f64) -> u64 {
            self.base + self.pages(t)
        }

        fn black(&self, t: f64) -> u64 {
            self.total(t) * 69 / 100
        }

        fn colour(&self, t: f64) -> u64 {
            self.total(t) - self.black(t)
        }

        /// A level that falls by one per `per` pages from a per-device start and is
        /// back at `max` when the part is replaced.
        fn level(&self, row: usize, used: u64, max: u64, per: u64) -> i32 {
            let span = max * per;
            let start = h(self.i, 10 + row as u64) % span;
            let left = span - 1 - (start + used) % span;
            i32::try_from(left / per + 1).unwrap_or(i32::MAX)
        }

        fn value(&self, d: Dyn, t: f64) -> Value {
            let int = |v: u64| Value::Integer(i32::try_from(v % (1 << 31)).unwrap_or(0));
            match d {
                Dyn::SysName => Value::OctetString(Bytes::from(format!("mfp-bench-{:04}", self.i))),
                Dyn::Uptime => Value::TimeTicks((31_536_842 + (t * 100.0) as u64) as u32),
                Dyn::Mac => {
                    let b = (self.i as u32).to_be_bytes();
                    Value::OctetString(Bytes::copy_from_slice(&[
                        0x02, 0x00, 0x5e, b[1], b[2], b[3],
                    ]))
                }
                Dyn::Serial => Value::OctetString(Bytes::from(format!("AA2JZZ{:05}", self.i))),
                Dyn::PrinterStatus => {
                    // Printing for pages/h ÷ 1800 of the time (30 pages a minute), in
                    // whole simulated minutes.
                    let minute = (t / 60.0) as u64;
                    let duty = (self.pages_per_hour / 1800.0 * 10_000.0) as u64;
                    let printing = splitmix(h(self.i, 3) ^ minute) % 10_000 < duty;
                    Value::Integer(if printing { 4 } else { 3 })
                }
                Dyn::LifeCount => Value::Counter32((self.total(t) % (1 << 32)) as u32),
                Dyn::KmTotal => int(self.total(t)),
                Dyn::Duplex => int(self.total(t) * 22 / 100),
                Dyn::CopyBlack => int(self.black(t) * 24 / 100),
                Dyn::PrintBlack => int(self.black(t) - self.black(t) * 24 / 100),
                Dyn::CopyColour => int(self.colour(t) * 21 / 100),
                Dyn::PrintColour => int(self.colour(t) - self.colour(t) * 21 / 100),
                Dyn::Scans => int(self.base / 20 + self.pages(t) * 3 / 10),
                Dyn::Supply(row) => {
                    let p = self.pages(t);
                    let colour = self.colour(t) - self.colour(0.0);
                    Value::Integer(match row {
                        // Toner, percent: 5,000 colour pages / 6,000 pages a cartridge.
                        1..=3 => self.level(row, colour, 100, 50),
                        4 => self.level(row, p, 100, 60),
                        // Drums and fuser, in impressions left.
                        5..=7 => self.level(row, colour, 75_000, 1),
                        8 => self.level(row, p, 90_000, 1),
                        _ => self.level(row, p, 300_000, 1),
                    })
                }
            }
        }
    }

    impl Farm {
        /// Binds one UDP socket per address and serves them all on one thread.
        ///
        /// # Panics
        /// If the recording cannot be read, an address is not loopback or cannot be bound.
        pub fn start(
            recording: &Path,
            community: &str,
            addrs: &[SocketAddr],
            max_answer: usize,
        ) -> Farm {
            let text = std::fs::read_to_string(recording)
                .unwrap_or_else(|e| panic!("read {}: {e}", recording.display()));
            let mut table: BTreeMap<Vec<u32>, Cell> = text
                .lines()
                .filter_map(parse_line)
                .map(|(o, v)| (o, Cell::Static(v)))
                .collect();
            for (oid, d) in dynamic_cells() {
                let key = parse_oid(oid).expect("a dotted OID");
                assert!(table.contains_key(&key), "{oid} is not in the recording");
                table.insert(key, Cell::Dyn(d));
            }
            let shared = Arc::new(Shared {
                table,
                community: community.as_bytes().to_vec(),
                max_answer,
                clock: Mutex::new(Clock {
                    real0: Instant::now(),
                    sim0: 0.0,
                    scale: 1.0,
                }),
                counters: Counters::default(),
                trace: std::env::var_os("BENCH_FARM_TRACE").is_some(),
            });
            let sockets: Vec<std::net::UdpSocket> = addrs
                .iter()
                .map(|a| {
                    assert!(
                        a.ip().is_loopback(),
                        "the farm serves loopback only, not {a}"
                    );
                    let s = std::net::UdpSocket::bind(a)
                        .unwrap_or_else(|e| panic!("bind the farm socket {a}: {e}"));
                    s.set_nonblocking(true).expect("non-blocking socket");
                    s
                })
                .collect();
            let s = shared.clone();
            std::thread::Builder::new()
                .name("farm".into())
                .spawn(move || serve(s, sockets))
                .expect("start the farm thread");
            Farm { shared }
        }

        /// Runs the simulated clock at `scale` × the wall clock from now on.
        pub fn set_scale(&self, scale: f64) {
            if let Ok(mut c) = self.shared.clock.lock() {
                c.sim0 = c.now();
                c.real0 = Instant::now();
                c.scale = scale;
            }
        }

        pub fn stats(&self) -> Stats {
            let c = &self.shared.counters;
            Stats {
                requests: c.requests.load(Ordering::Relaxed),
                unanswered: c.unanswered.load(Ordering::Relaxed),
                polls: c.polls.load(Ordering::Relaxed),
            }
        }

        /// CPU seconds of this whole process (the farm is nearly all of it).
        pub fn cpu_secs(&self) -> f64 {
            super::self_cpu_secs()
        }
    }

    fn serve(shared: Arc<Shared>, sockets: Vec<std::net::UdpSocket>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("farm runtime");
        rt.block_on(async move {
            for (i, s) in sockets.into_iter().enumerate() {
                let socket = tokio::net::UdpSocket::from_std(s).expect("tokio socket");
                let shared = shared.clone();
                tokio::spawn(async move {
                    let printer = Printer::new(i);
                    let mut buf = vec![0u8; 65_536];
                    loop {
                        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                            continue;
                        };
                        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
                        match shared.answer(&printer, &buf[..n]) {
                            Some(out) => {
                                let _ = socket.send_to(&out, from).await;
                            }
                            None => {
                                shared.counters.unanswered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
            std::future::pending::<()>().await;
        });
    }

    impl Shared {
        fn value(&self, p: &Printer, cell: &Cell, t: f64) -> Value {
            match cell {
                Cell::Static(v) => v.clone(),
                Cell::Dyn(d) => p.value(*d, t),
            }
        }

        fn next(&self, p: &Printer, after: &[u32], t: f64) -> VarBind {
            match self
                .table
                .range::<[u32], _>((Bound::Excluded(after), Bound::Unbounded))
                .next()
            {
                Some((k, cell)) => VarBind::new(Oid::from_slice(k), self.value(p, cell, t)),
                None => VarBind::new(Oid::from_slice(after), Value::EndOfMibView),
            }
        }

        fn answer(&self, p: &Printer, datagram: &[u8]) -> Option<Bytes> {
            let msg =
                CommunityMessage::decode(Bytes::copy_from_slice(datagram), DecodeConfig::default())
                    .ok()?
                    .value;
            if msg.version() != async_snmp::Version::V2c
                || msg.community().as_bytes() != self.community
            {
                return None;
            }
            let pdu = msg.into_pdu()?;
            let (request_id, body, asked) = pdu.into_raw_parts();
            if asked.iter().any(|vb| vb.oid.arcs() == POLL_MARK) {
                self.counters.polls.fetch_add(1, Ordering::Relaxed);
            }
            if self.trace {
                eprintln!(
                    "farm {}: {body:?} {:?}",
                    p.i,
                    asked.iter().map(|v| v.oid.to_string()).collect::<Vec<_>>()
                );
            }
            let t = self.clock.lock().map(|c| c.now()).unwrap_or(0.0);
            let (answer, fixed) = match body {
                PduBody::Standard {
                    pdu_type: StandardPduType::GetRequest,
                    ..
                } => (
                    asked
                        .iter()
                        .map(|vb| match self.table.get(vb.oid.arcs()) {
                            Some(cell) => VarBind::new(vb.oid.clone(), self.value(p, cell, t)),
                            None => VarBind::new(vb.oid.clone(), Value::NoSuchObject),
                        })
                        .collect::<Vec<_>>(),
                    usize::MAX,
                ),
                PduBody::Standard {
                    pdu_type: StandardPduType::GetNextRequest,
                    ..
                } => (
                    asked
                        .iter()
                        .map(|vb| self.next(p, vb.oid.arcs(), t))
                        .collect(),
                    usize::MAX,
                ),
                PduBody::GetBulk {
                    non_repeaters,
                    max_repetitions,
                } => {
                    let nr = (non_repeaters as usize).min(asked.len());
                    let mut out: Vec<VarBind> = asked[..nr]
                        .iter()
                        .map(|vb| self.next(p, vb.oid.arcs(), t))
                        .collect();
                    let mut cursors: Vec<Oid> =
                        asked[nr..].iter().map(|vb| vb.oid.clone()).collect();
                    // Enough rows to fill the largest answer; the size cut below trims.
                    let reps = (max_repetitions as usize).min(64);
                    for _ in 0..reps {
                        if cursors.is_empty() {
                            break;
                        }
                        let mut all_end = true;
                        for c in cursors.iter_mut() {
                            let vb = self.next(p, c.arcs(), t);
                            if !matches!(vb.value, Value::EndOfMibView) {
                                all_end = false;
                            }
                            *c = vb.oid.clone();
                            out.push(vb);
                        }
                        if all_end || out.len() > 2048 {
                            break;
                        }
                    }
                    (out, nr)
                }
                _ => return None,
            };
            self.encode(
                Bytes::copy_from_slice(&self.community),
                request_id,
                answer,
                fixed,
            )
        }

        /// Encodes the response; a GETBULK answer is cut (whole varbinds, after the
        /// `fixed` non-repeaters) to fit `max_answer`, anything else that does not fit
        /// becomes tooBig.
        fn encode(
            &self,
            community: Bytes,
            request_id: i32,
            mut vbs: Vec<VarBind>,
            fixed: usize,
        ) -> Option<Bytes> {
            loop {
                let pdu = ResponsePdu::new(
                    async_snmp::Version::V2c,
                    request_id,
                    OutboundErrorStatus::NoError,
                    None,
                    vbs.clone(),
                )
                .ok()?;
                let bytes = CommunityMessage::v2c(community.clone(), pdu)
                    .ok()?
                    .encode()
                    .ok()?;
                if bytes.len() <= self.max_answer {
                    return Some(bytes);
                }
                if fixed == usize::MAX || vbs.len() <= fixed.max(1) {
                    let pdu = ResponsePdu::new(
                        async_snmp::Version::V2c,
                        request_id,
                        OutboundErrorStatus::TooBig,
                        None,
                        Vec::new(),
                    )
                    .ok()?;
                    return CommunityMessage::v2c(community, pdu).ok()?.encode().ok();
                }
                // Keep the share that fits (at least one fewer).
                let keep = (vbs.len() * self.max_answer / bytes.len()).min(vbs.len() - 1);
                vbs.truncate(keep.max(fixed.max(1)));
            }
        }
    }
}
