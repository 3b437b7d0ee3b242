//! The upload benchmark (`scripts/bench-upload.sh`): what the uplink costs
//! on the wire and how fast it drains a backlog.
//!
//! 1. **Bytes on the wire per printer per day.** `--printers` printers (made
//!    from the repository's colour-MFP and mono-laser recordings, each with
//!    its own serial) are recorded through `Store::record` for one simulated
//!    day at the default schedules (a full read every hour, spread over the
//!    hour like the scheduler does, pages printed in office hours; one status
//!    change there and back a day), and every 5 minutes (`[upload] every`)
//!    the real `Uploader` sends what is queued to an HTTPS receiver on
//!    127.0.0.1 (a test CA trusted through `ca_file`). The receiver counts
//!    the bytes of every request (request line, headers, body) and answer.
//! 2. **Throughput of a one-week backlog** for `--printers` printers: the
//!    same simulation for 7 days with no upload, then one `send_pending`
//!    drains it; items/s, MB/s and the CPU time it took. The peer figure:
//!    `curl` posting the same bodies over one kept-alive connection (the
//!    floor any sender over this link has).
//!
//! Packets go to 127.0.0.1 only. Generation runs with `synchronous=OFF` (it
//! only prepares the backlog); the uploader's own connection keeps FULL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use printscout_engine::config::Config;
use printscout_engine::printer::Reading;
use printscout_engine::printer::read::{build_reading, collect};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{MemoryStore, SecretStore, UPLOAD_TOKEN};
use printscout_engine::snmp::recording::{Recording, RecordingSession};
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store};
use printscout_engine::uplink::upload::{UploadOptions, Uploader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const T0: i64 = 1_763_337_600_000; // 2025-11-17 00:00 UTC, a Monday

struct Args {
    printers: usize,
    week_days: i64,
    curl: bool,
}

fn args() -> Args {
    let mut a = Args {
        printers: 1000,
        week_days: 7,
        curl: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--printers" => a.printers = it.next().and_then(|v| v.parse().ok()).unwrap_or(1000),
            "--days" => a.week_days = it.next().and_then(|v| v.parse().ok()).unwrap_or(7),
            "--no-curl" => a.curl = false,
            other => {
                eprintln!(
                    "bench_upload: unknown argument {other} (--printers N, --days N, --no-curl)"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    request_bytes: AtomicU64,
    body_bytes: AtomicU64,
    response_bytes: AtomicU64,
    items: AtomicU64,
}

/// A minimal HTTPS/1.1 receiver: answers every POST with 200 and a small
/// Ack, counting bytes and items; HEAD with 200.
async fn receiver(
    tls: Arc<rustls::ServerConfig>,
    counters: Arc<Counters>,
    keep: Option<PathBuf>,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("address");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let counters = counters.clone();
            let keep = keep.clone();
            n += 1;
            let conn = n;
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                let mut req = 0u64;
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    let body: Vec<u8> = buf[head_end..head_end + len].to_vec();
                    buf.drain(..head_end + len);
                    let answer = if head.starts_with("POST") {
                        let items = printscout_engine::uplink::protocol::decode(&body)
                            .map(|b| b.items.len())
                            .unwrap_or(0);
                        counters.items.fetch_add(items as u64, Ordering::Relaxed);
                        counters.requests.fetch_add(1, Ordering::Relaxed);
                        counters
                            .request_bytes
                            .fetch_add((head_end + len) as u64, Ordering::Relaxed);
                        counters.body_bytes.fetch_add(len as u64, Ordering::Relaxed);
                        if let Some(dir) = &keep {
                            req += 1;
                            let _ = std::fs::write(dir.join(format!("{conn}-{req}.gz")), &body);
                        }
                        format!(r#"{{"accepted":{items}}}"#)
                    } else {
                        String::new()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    counters
                        .response_bytes
                        .fetch_add(response.len() as u64, Ordering::Relaxed);
                    if s.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn test_tls(dir: &Path) -> (PathBuf, Arc<rustls::ServerConfig>) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "PrintScout bench CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("a server key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("write ca.pem");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .expect("a TLS server configuration");
    (ca_file, Arc::new(server))
}

async fn templates() -> Vec<Reading> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/recordings");
    let mut out = Vec::new();
    for name in ["colour-mfp.snmprec", "mono-laser.snmprec"] {
        let text = std::fs::read_to_string(root.join(name)).expect("a recording");
        let session = RecordingSession::new(Recording::parse(&text), Version::V2c);
        let c = collect(&session, &SnmpOptions::default())
            .await
            .expect("read the recording");
        out.push(build_reading(&c.snapshot, c.vendor));
    }
    out
}

struct Fleet {
    readings: Vec<Reading>,
    rng: fastrand::Rng,
}

impl Fleet {
    fn new(templates: &[Reading], n: usize) -> Self {
        let readings = (0..n)
            .map(|i| {
                let mut r = templates[i % templates.len()].clone();
                r.identity.serial = Some(format!("BENCH{i:06}"));
                r.identity.mac = Some(format!(
                    "02:00:00:{:02x}:{:02x}:{:02x}",
                    i >> 16 & 255,
                    i >> 8 & 255,
                    i & 255
                ));
                r
            })
            .collect();
        Self {
            readings,
            rng: fastrand::Rng::with_seed(42),
        }
    }

    /// The polls of printer `i` due in `[from, from + step)`.
    fn polls(&mut self, i: usize, from: i64, step: i64, out: &mut Vec<PollResult>) {
        let n = self.readings.len() as i64;
        // A full read every hour, printer i at minute (i / n) * 60.
        let offset = (i as i64) * HOUR / n;
        let mut t = from - (from - offset).rem_euclid(HOUR);
        if t < from {
            t += HOUR;
        }
        let day_start = from - from.rem_euclid(DAY);
        // One status change a day (a tray empty for an hour), at 10:00 + i min.
        let warn_at = day_start + 10 * HOUR + (i as i64 % 60) * 60_000;
        for (at, warn) in [(warn_at, true), (warn_at + HOUR, false)] {
            if at >= from && at < from + step {
                let mut r = self.readings[i].clone();
                r.status.overall = if warn { "warning".into() } else { "ok".into() };
                out.push(poll(i, at, PollKind::Status, r));
            }
        }
        while t < from + step {
            let hour = (t.rem_euclid(DAY) / HOUR) as u32;
            let pages = if (8..18).contains(&hour) {
                self.rng.i64(0..60)
            } else {
                0
            };
            let r = &mut self.readings[i];
            for v in r.counters.values_mut() {
                *v += pages;
            }
            for s in &mut r.supplies {
                if let Some(p) = s.percent.as_mut()
                    && pages > 0
                {
                    *p = (*p - 0.01 * pages as f64).max(1.0);
                }
            }
            out.push(poll(i, t, PollKind::Meters, self.readings[i].clone()));
            t += HOUR;
        }
    }
}

fn poll(i: usize, at: i64, kind: PollKind, r: Reading) -> PollResult {
    PollResult {
        device_id: None,
        address: format!("10.1.{}.{}:161", i / 250, i % 250 + 1),
        kind,
        at,
        outcome: PollOutcome::Read {
            reading: Box::new(r),
            credential: Some(Credential::community("public", Version::V2c, "public")),
        },
    }
}

fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) * 1000.0 / 100.0
}

fn mb(b: f64) -> String {
    format!("{:.2} MB", b / 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let tmp = tempfile::tempdir().expect("temp dir");
    let (ca_file, tls) = test_tls(tmp.path());
    let templates = templates().await;
    let secrets: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    secrets
        .set(UPLOAD_TOKEN, &Secret::new("bench-token".to_string()))
        .expect("token");
    let rules = Rules {
        outbox_max: 10_000_000,
        ..Rules::default()
    };

    // 1. One day at the default schedules, uploaded every 5 minutes.
    let counters = Arc::new(Counters::default());
    let addr = receiver(tls.clone(), counters.clone(), None).await;
    let mut config = Config::default();
    config.upload.url = format!("https://{addr}/v1/batches");
    config.upload.ca_file = Some(ca_file.clone());
    config.proxy.mode = printscout_engine::config::ProxyMode::None;
    let day_dir = tmp.path().join("day");
    let mut store = Store::open_in(&day_dir).expect("store");
    let uploader = Uploader::new(&config, secrets.clone(), &day_dir, UploadOptions::default())
        .expect("uploader");
    let mut fleet = Fleet::new(&templates, a.printers);
    let step = 5 * 60_000;
    let started = Instant::now();
    let mut polls = Vec::new();
    for k in 0..(DAY / step) {
        let from = T0 + k * step;
        polls.clear();
        for i in 0..a.printers {
            fleet.polls(i, from, step, &mut polls);
        }
        let tx_store = &mut store;
        for p in &polls {
            tx_store.record(p, &rules).expect("record");
        }
        uploader.send_pending().await.expect("upload");
    }
    let n = a.printers as f64;
    let req = counters.request_bytes.load(Ordering::Relaxed) as f64;
    let body = counters.body_bytes.load(Ordering::Relaxed) as f64;
    let resp = counters.response_bytes.load(Ordering::Relaxed) as f64;
    let requests = counters.requests.load(Ordering::Relaxed);
    let items = counters.items.load(Ordering::Relaxed);
    println!(
        "bench_upload: {} printers, default schedules (full read hourly, status every 5 min, upload every 5 min)",
        a.printers
    );
    println!(
        "day on the wire     {:>10}  requests {} · items {}",
        mb(req + resp),
        requests,
        items
    );
    println!(
        "per printer per day {:>10.0} B  (request bodies {:.0} B gzip, headers {:.0} B, answers {:.0} B; HTTP over TLS, TLS record overhead not counted)",
        (req + resp) / n,
        body / n,
        (req - body) / n,
        resp / n
    );
    println!(
        "per item            {:>10.0} B  on the wire ({:.0} B gzip body); a status item alone: see `status item` below",
        (req + resp) / items.max(1) as f64,
        body / items.max(1) as f64
    );
    // A single status report for one printer, compressed on its own.
    {
        let mut s = Store::open_in(&tmp.path().join("one")).expect("store");
        let mut r = templates[0].clone();
        r.identity.serial = Some("ONE".into());
        s.record(&poll(0, T0, PollKind::Meters, r.clone()), &rules)
            .expect("record");
        s.connection()
            .execute("DELETE FROM outbox", [])
            .expect("clear");
        r.status.overall = "warning".into();
        s.record(&poll(0, T0 + 1000, PollKind::Status, r.clone()), &rules)
            .expect("record");
        let b = s
            .pending_batch(500, 1 << 20)
            .expect("batch")
            .expect("a batch");
        println!(
            "status item         {:>10} B  one status change, alone in a batch: {} B JSON, {} B gzip",
            b.body.len(),
            b.json_bytes,
            b.body.len()
        );
        s.connection()
            .execute("DELETE FROM outbox_batches", [])
            .expect("clear");
        s.connection()
            .execute("DELETE FROM outbox", [])
            .expect("clear");
        s.record(&poll(0, T0 + HOUR, PollKind::Meters, r), &rules)
            .expect("record");
        let b = s
            .pending_batch(500, 1 << 20)
            .expect("batch")
            .expect("a batch");
        println!(
            "meters item         {:>10} B  one full read, alone in a batch: {} B JSON, {} B gzip",
            b.body.len(),
            b.json_bytes,
            b.body.len()
        );
    }
    println!(
        "(simulating and uploading the day took {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // 2. A week's backlog, then one drain.
    let counters = Arc::new(Counters::default());
    let keep = tmp.path().join("bodies");
    std::fs::create_dir_all(&keep).expect("bodies dir");
    let addr = receiver(tls.clone(), counters.clone(), a.curl.then(|| keep.clone())).await;
    config.upload.url = format!("https://{addr}/v1/batches");
    let week_dir = tmp.path().join("week");
    let mut store = Store::open_in(&week_dir).expect("store");
    store
        .connection()
        .pragma_update(None, "synchronous", "OFF")
        .expect("pragma");
    let mut fleet = Fleet::new(&templates, a.printers);
    let gen_started = Instant::now();
    let step = HOUR;
    for k in 0..(a.week_days * DAY / step) {
        let from = T0 + k * step;
        polls.clear();
        for i in 0..a.printers {
            fleet.polls(i, from, step, &mut polls);
        }
        for p in &polls {
            store.record(p, &rules).expect("record");
        }
    }
    let backlog = store.outbox_summary().expect("summary");
    let db_bytes = std::fs::metadata(week_dir.join("printscout.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "backlog             {:>10} items ({}) over {} days, database {} (generated in {:.0} s)",
        backlog.queued,
        backlog
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        a.week_days,
        mb(db_bytes as f64),
        gen_started.elapsed().as_secs_f64()
    );
    drop(store);
    let uploader = Uploader::new(
        &config,
        secrets.clone(),
        &week_dir,
        UploadOptions::default(),
    )
    .expect("uploader");
    let cpu0 = cpu_ms();
    let t0 = Instant::now();
    let sent = uploader.send_pending().await.expect("drain");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_ms() - cpu0;
    let left = Store::open_in(&week_dir)
        .and_then(|s| s.outbox_summary())
        .map(|s| s.queued)
        .unwrap_or(-1);
    println!(
        "week drained in     {:>10.1} s  {} items in {} batches · {:.0} items/s · {} gzip ({} JSON) · {:.2} MB/s on the wire · CPU {:.1} s (receiver included) · {} left",
        wall,
        sent.items,
        sent.batches,
        sent.items as f64 / wall,
        mb(sent.body_bytes as f64),
        mb(sent.json_bytes as f64),
        (counters.request_bytes.load(Ordering::Relaxed)
            + counters.response_bytes.load(Ordering::Relaxed)) as f64
            / 1e6
            / wall,
        cpu / 1000.0,
        left
    );
    if a.curl {
        curl_peer(&keep, addr, &ca_file, sent.body_bytes).await;
    }
}

/// `curl` posting the same bodies over one connection: the floor.
async fn curl_peer(dir: &Path, addr: std::net::SocketAddr, ca: &Path, bytes: u64) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        return;
    }
    let mut cfg = String::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            cfg.push_str("next\n");
        }
        cfg.push_str(&format!(
            "url = \"https://{addr}/v1/batches\"\nrequest = \"POST\"\ndata-binary = \"@{}\"\nheader = \"Content-Encoding: gzip\"\nheader = \"Content-Type: application/json\"\nheader = \"Authorization: Bearer bench-token\"\noutput = \"/dev/null\"\ncacert = \"{}\"\nsilent\n",
            f.display(),
            ca.display()
        ));
    }
    let cfg_file = dir.join("curl.cfg");
    std::fs::write(&cfg_file, cfg).expect("curl config");
    let t0 = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .arg("--noproxy")
            .arg("*")
            .arg("-K")
            .arg(&cfg_file)
            .status()
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let wall = t0.elapsed().as_secs_f64();
    match status {
        Ok(s) if s.success() => println!(
            "peer: curl          {:>10.1} s  the same {} bodies ({}) over one connection, posted only (no outbox, no acknowledgement written)",
            wall,
            files.len(),
            mb(bytes as f64)
        ),
        Ok(s) => println!("peer: curl failed ({s})"),
        Err(e) => println!("peer: curl could not run ({e})"),
    }
}
