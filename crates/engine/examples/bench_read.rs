//! Benchmark: read N devices served by ONE net-snmp `snmpd` listening on N
//! loopback addresses (127.0.30.0 …), through one shared transport, and time
//! `snmpbulkwalk` of the same subtrees over the same addresses (`xargs -P 64`)
//! as the peer figure. Prints devices/s, requests per device and peak RSS.
//!
//! `cargo run --release --example bench_read -- [--count 1000] [--recording FILE] [--concurrency 512] [--no-peer]`
//! (scripts/bench-read.sh runs it after installing what it needs.)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use futures::StreamExt;
use printscout_engine::printer::read_device;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_testkit::{Snmpd, free_udp_port, loopback_farm, recordings_dir};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) used so far by a process.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let count: usize = arg("--count").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let concurrency: usize = arg("--concurrency")
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let recording = arg("--recording")
        .map(PathBuf::from)
        .unwrap_or_else(|| recordings_dir().join("colour-mfp.snmprec"));
    let peer = !std::env::args().any(|a| a == "--no-peer");

    let port = free_udp_port();
    let addrs = loopback_farm(count, port);
    let started = Instant::now();
    let snmpd = Snmpd::start(&recording, "public", &addrs);
    println!(
        "snmpd (pid {}) serving {} on {} loopback addresses, port {port}, started in {:.2} s",
        snmpd.pid(),
        recording
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?"),
        addrs.len(),
        started.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let before_rss = peak_rss_kib();
    let snmpd_pid = snmpd.pid().to_string();
    let (cpu0, agent0) = (cpu_secs("self"), cpu_secs(&snmpd_pid));
    let (ok, failed, requests, secs, example) = rt.block_on(read_all(&addrs, concurrency));
    let (cpu1, agent1) = (cpu_secs("self"), cpu_secs(&snmpd_pid));
    let rss = peak_rss_kib();
    println!(
        "printscout: read {ok}/{count} devices in {secs:.3} s = {:.0} devices/s",
        ok as f64 / secs
    );
    println!(
        "printscout: {:.2} requests (round trips) per device",
        requests as f64 / count as f64
    );
    println!(
        "printscout: peak RSS {:.1} MB (before reading {:.1} MB)",
        rss as f64 / 1024.0,
        before_rss as f64 / 1024.0
    );
    println!(
        "cpu: printscout {:.2} s, snmpd {:.2} s (2 cores shared by both)",
        cpu1 - cpu0,
        agent1 - agent0
    );
    if failed > 0 {
        println!("printscout: {failed} devices failed");
    }
    if let Some(e) = example {
        println!("printscout: sample reading: {e}");
    }

    if peer {
        let secs_peer = snmpbulkwalk_peer(&addrs);
        println!(
            "peer: snmpbulkwalk (xargs -P 64) of the same subtrees over {count} addresses: {secs_peer:.3} s"
        );
        println!(
            "ratio: printscout is {:.1}x faster than snmpbulkwalk",
            secs_peer / secs
        );
    }
    drop(snmpd);
}

async fn read_all(
    addrs: &[SocketAddr],
    concurrency: usize,
) -> (usize, usize, u64, f64, Option<String>) {
    let transport = SnmpTransport::new(0);
    let result = read_with(&transport, addrs, concurrency).await;
    println!("transport: {:?}", transport.stats());
    result
}

async fn read_with(
    transport: &SnmpTransport,
    addrs: &[SocketAddr],
    concurrency: usize,
) -> (usize, usize, u64, f64, Option<String>) {
    let creds = [Credential::community("public", Version::V2c, "public")];
    let options = SnmpOptions::default();
    let t0 = Instant::now();
    // Each reading is summarised and dropped as it arrives, as a collector that
    // stores readings would do.
    let mut ok = 0;
    let mut requests = 0u64;
    let mut example = None;
    let mut failed = 0;
    let mut results = futures::stream::iter(addrs.iter().copied())
        .map(|a| read_device(transport, a, &creds, &options))
        .buffer_unordered(concurrency);
    while let Some(r) = results.next().await {
        match r {
            Ok(r) => {
                ok += 1;
                requests += u64::from(r.stats.requests);
                if example.is_none() {
                    example = Some(format!(
                        "{} {} serial {:?}, {} counters, {} supplies",
                        r.identity.vendor.clone().unwrap_or_default(),
                        r.identity.model.clone().unwrap_or_default(),
                        r.identity.serial,
                        r.counters.len(),
                        r.supplies.len()
                    ));
                }
            }
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("failed: {e}");
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    (ok, failed, requests, secs, example)
}

/// The subtrees a reader needs, one `snmpbulkwalk` each, per device.
const PEER_SUBTREES: &[&str] = &[
    "1.3.6.1.2.1.1",
    "1.3.6.1.2.1.2.2.1.6",
    "1.3.6.1.2.1.25.3",
    "1.3.6.1.2.1.43",
    "1.3.6.1.4.1",
];

fn snmpbulkwalk_peer(addrs: &[SocketAddr]) -> f64 {
    let list: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let walks: Vec<String> = PEER_SUBTREES
        .iter()
        .map(|o| {
            format!("snmpbulkwalk -v2c -c public -Cr25 -On -Oq -t 2 -r 1 \"$0\" {o} >/dev/null")
        })
        .collect();
    let script = format!("xargs -P 64 -I{{}} sh -c '{}' {{}}", walks.join("; "));
    let t0 = Instant::now();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(list.as_bytes());
    }
    let _ = child.wait();
    t0.elapsed().as_secs_f64()
}
