//! `printscout-e2e-lab`: the peers of the browser tests (`tests/e2e/`), started on
//! loopback by one process that the Node harness spawns and steers over stdin/stdout.
//!
//! ```text
//! printscout-e2e-lab [--base 127.0.93.0] [--community e2e-lab] [--recordings a,b,c]
//!                    [--fab prusalink]
//! ```
//!
//! What it starts:
//! - **snmpsim 1.2.2** (the venv `scripts/setup.sh` makes) with one SNMP engine per device
//!   (`--v3-engine-id auto --data-dir devN --agent-udpv4-endpoint 127.0.93.(base+N):PORT`),
//!   so each address of the /29 at `--base` answers from its own recording, all on one
//!   free UDP port. Community = `--community` (each device's data dir holds
//!   `<community>.snmprec`). Default recordings: `colour-mfp`, `mono-laser`,
//!   `alerts-errors`, `sentinel-supplies` from `tests/recordings/` (at most 6: a /29 has
//!   six host addresses).
//! - The HTTPS upload receiver (`printscout_testkit::upload_server`) on 127.0.0.1 with its
//!   test CA and a random token.
//! - With `--fab prusalink`: a 3D printer, the PrusaLink fixture
//!   (`printscout_testkit::fab_fixture`, HTTP Digest checked for real, user `maker`, a
//!   random password given in the manifest as `fab.key`) on 127.0.0.1, printing a job
//!   whose progress moves on by 1 % every 2 s (up to 99 %) until told to finish.
//!
//! Protocol: when every device answered an SNMP GET and the receiver listens, it prints
//! **one line of JSON** (see [`manifest`]) on stdout. Then each line on stdin is a
//! command, answered by one line on stdout starting `ok ` or `error `:
//! - `receiver down`: refuse connections (port closed, open connections cut);
//! - `receiver up`: answer normally again on the same port;
//! - `receiver status CODE`: answer every request with that HTTP status;
//! - `receiver count`: `ok <requests> <uploads>` seen so far;
//! - `fab finish`: the 3D printer finishes its job (state `FINISHED`, 100 %);
//! - `fab print NAME`: it starts a new job NAME (a new job id) at 0 %.
//!
//! When stdin closes it stops everything and exits 0. The JSON names the snmpsim PID so
//! that the harness can also stop it by PID should this process be killed.
//!
//! Invariants: loopback only (`--base` must be in 127.0.0.0/8 and a multiple of 8);
//! snmpsim's data, cache and log live in a temp dir removed at exit; snmpsim is stopped
//! by its PID (SIGKILL, then reaped).

use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use printscout_testkit::fab_fixture::{Access, FabFixture};
use printscout_testkit::upload_server::{Mode, UploadServer};
use printscout_testkit::{free_udp_port, recordings_dir, snmpsim_bin, v2c_get_answers};

const USAGE: &str = "usage: printscout-e2e-lab [--base 127.0.93.0] [--community NAME] \
                     [--recordings a,b,c] [--fab prusalink]";
/// How long snmpsim may take until every device answered.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Start attempts when another process took the free port first.
const ATTEMPTS: usize = 3;

struct Options {
    base: Ipv4Addr,
    community: String,
    recordings: Vec<String>,
    /// Also start a 3D printer (`prusalink`).
    fab: Option<String>,
}

fn usage(why: &str) -> ! {
    eprintln!("printscout-e2e-lab: {why}\n{USAGE}");
    std::process::exit(2);
}

fn parse_options() -> Options {
    let mut options = Options {
        base: Ipv4Addr::new(127, 0, 93, 0),
        community: "e2e-lab".to_owned(),
        recordings: [
            "colour-mfp",
            "mono-laser",
            "alerts-errors",
            "sentinel-supplies",
        ]
        .map(str::to_owned)
        .to_vec(),
        fab: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--base" => {
                options.base = value
                    .parse()
                    .unwrap_or_else(|_| usage("--base is not an IPv4 address"));
            }
            "--community" => options.community = value,
            "--recordings" => {
                options.recordings = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_end_matches(".snmprec").to_owned())
                    .collect();
            }
            "--fab" if value == "prusalink" => options.fab = Some(value),
            "--fab" => usage("--fab: only prusalink is available"),
            _ => usage(&format!("unknown option {arg}")),
        }
    }
    if !options.base.is_loopback() || !options.base.octets()[3].is_multiple_of(8) {
        usage("--base must be a /29 boundary inside 127.0.0.0/8");
    }
    if options.community.is_empty()
        || !options
            .community
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        usage("--community must be letters, digits, '-' or '_' (it names a file)");
    }
    if options.recordings.is_empty() || options.recordings.len() > 6 {
        usage("--recordings: one to six recordings (a /29 has six host addresses)");
    }
    options
}

/// snmpsim with one engine per device; killed by PID on drop.
struct Agents {
    child: Child,
    port: u16,
    addresses: Vec<Ipv4Addr>,
    _tmp: tempfile::TempDir,
}

impl Drop for Agents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn device_address(base: Ipv4Addr, i: usize) -> Ipv4Addr {
    let [a, b, c, d] = base.octets();
    Ipv4Addr::new(a, b, c, d + 1 + i as u8)
}

fn start_agents(options: &Options) -> Agents {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        match try_start_agents(options) {
            Ok(agents) => return agents,
            Err((retry, log)) if retry => last = log,
            Err((_, log)) => {
                eprintln!("printscout-e2e-lab: snmpsim did not start:\n{log}");
                std::process::exit(1);
            }
        }
    }
    eprintln!("printscout-e2e-lab: snmpsim could not bind a free port:\n{last}");
    std::process::exit(1);
}

/// `Err((true, log))`: the port was taken, try another one.
fn try_start_agents(options: &Options) -> Result<Agents, (bool, String)> {
    let tmp = tempfile::Builder::new()
        .prefix("printscout-e2e-lab-")
        .tempdir()
        .map_err(|e| (false, format!("temp dir: {e}")))?;
    let port = free_udp_port();
    let mut command = Command::new(snmpsim_bin());
    command
        .arg(format!(
            "--cache-dir={}",
            tmp.path().join("cache").display()
        ))
        .arg("--log-level=error");
    let mut addresses = Vec::new();
    for (i, recording) in options.recordings.iter().enumerate() {
        let source = recordings_dir().join(format!("{recording}.snmprec"));
        let dir = tmp.path().join(format!("dev{}", i + 1));
        std::fs::create_dir_all(&dir).map_err(|e| (false, format!("{}: {e}", dir.display())))?;
        std::fs::copy(&source, dir.join(format!("{}.snmprec", options.community)))
            .map_err(|e| (false, format!("{}: {e}", source.display())))?;
        let address = device_address(options.base, i);
        command
            .arg("--v3-engine-id=auto")
            .arg(format!("--data-dir={}", dir.display()))
            .arg(format!("--agent-udpv4-endpoint={address}:{port}"));
        addresses.push(address);
    }
    let log = tmp.path().join("snmpsim.log");
    let out = std::fs::File::create(&log).map_err(|e| (false, format!("log: {e}")))?;
    let err = out.try_clone().map_err(|e| (false, format!("log: {e}")))?;
    // As root snmpsim refuses to run ("Must drop privileges") without this.
    command
        .env("SNMPSIM_ALLOW_ROOT", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let child = command
        .spawn()
        .map_err(|e| (false, format!("spawn snmpsim: {e}")))?;
    let mut agents = Agents {
        child,
        port,
        addresses,
        _tmp: tmp,
    };
    let started = Instant::now();
    let mut waiting: Vec<Ipv4Addr> = agents.addresses.clone();
    while !waiting.is_empty() {
        if let Ok(Some(status)) = agents.child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = tail(&text, 30);
            return Err((
                text.contains("Address already in use"),
                format!("snmpsim exited ({status}):\n{tail}"),
            ));
        }
        waiting.retain(|ip| {
            !v2c_get_answers(
                SocketAddr::from((*ip, port)),
                &options.community,
                Duration::from_millis(300),
            )
        });
        if started.elapsed() > READY_TIMEOUT {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err((
                false,
                format!(
                    "no answer from {waiting:?} on port {port} within {READY_TIMEOUT:?}:\n{}",
                    tail(&text, 30)
                ),
            ));
        }
        if !waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(agents)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// 32 random hex digits from the OS.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if let Err(e) = read {
        eprintln!("printscout-e2e-lab: /dev/urandom: {e}");
        std::process::exit(1);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line the harness reads: where everything listens.
///
/// ```json
/// {"pid": 1, "snmpsim_pid": 2,
///  "snmp": {"port": 40000, "block": "127.0.93.0/29", "community": "e2e-lab",
///           "devices": [{"address": "127.0.93.1", "recording": "colour-mfp"}, …]},
///  "receiver": {"url": "https://127.0.0.1:P/v1/batches", "ca_file": "/tmp/…/ca.pem",
///               "token": "…"}}
/// ```
fn manifest(
    options: &Options,
    agents: &Agents,
    receiver: &UploadServer,
    fab: Option<&FabPrinter>,
) -> serde_json::Value {
    let devices: Vec<serde_json::Value> = agents
        .addresses
        .iter()
        .zip(&options.recordings)
        .map(|(address, recording)| {
            serde_json::json!({"address": address.to_string(), "recording": recording})
        })
        .collect();
    serde_json::json!({
        "pid": std::process::id(),
        "snmpsim_pid": agents.child.id(),
        "snmp": {
            "port": agents.port,
            "block": format!("{}/29", options.base),
            "community": options.community,
            "devices": devices,
        },
        "receiver": {
            "url": receiver.url(),
            "ca_file": receiver.ca_file().map(Path::to_path_buf).unwrap_or_default(),
            "token": receiver.token(),
        },
        "fab": fab.map(|f| serde_json::json!({
            "protocol": "prusalink",
            "url": format!("prusalink://127.0.0.1:{}", f.fixture.port()),
            "key": f.key,
            "job": FAB_JOB,
            "serial": FAB_SERIAL,
            "model": "MK4",
        })),
    })
}

/// The job the 3D printer prints at start.
const FAB_JOB: &str = "gearbox_housing_0.4n_0.2mm_PETG_MK4_2h10m.bgcode";
/// The 3D printer's serial.
const FAB_SERIAL: &str = "10589-3742441632105";

/// What the 3D printer is doing.
#[derive(Clone, Debug)]
struct FabJob {
    id: u32,
    name: String,
    progress: f64,
    printing_s: u64,
    finished: bool,
}

/// The PrusaLink fixture and the thread that moves its job on.
struct FabPrinter {
    fixture: Arc<FabFixture>,
    key: String,
    job: Arc<Mutex<FabJob>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FabPrinter {
    fn start() -> FabPrinter {
        let key = format!("fab-{}", &random_token()[..20]);
        let fixture = Arc::new(FabFixture::start(Access::Digest {
            user: "maker".into(),
            password: key.clone(),
            qop: true,
        }));
        assert!(
            fixture.addr().ip().is_loopback(),
            "the 3D printer is on loopback"
        );
        fixture.set_json(
            "/api/v1/info",
            200,
            &serde_json::json!({"mmu": false, "name": "MK4 bench", "location": "Workshop",
                "serial": FAB_SERIAL, "hostname": "prusa-mk4", "nozzle_diameter": 0.4}),
        );
        fixture.set_json(
            "/api/version",
            200,
            &serde_json::json!({"api": "2.0.0", "server": "2.1.2", "text": "PrusaLink",
                "hostname": "prusa-mk4", "firmware": "6.1.3+7898"}),
        );
        let job = Arc::new(Mutex::new(FabJob {
            id: 41,
            name: FAB_JOB.to_owned(),
            progress: 37.0,
            printing_s: 2890,
            finished: false,
        }));
        publish_fab(&fixture, &lock(&job));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (fixture, job, stop) = (fixture.clone(), job.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut ticks = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    ticks += 1;
                    if !ticks.is_multiple_of(8) {
                        continue;
                    }
                    let mut j = lock(&job);
                    if !j.finished {
                        j.progress = (j.progress + 1.0).min(99.0);
                        j.printing_s += 2;
                    }
                    publish_fab(&fixture, &j);
                }
            })
        };
        FabPrinter {
            fixture,
            key,
            job,
            stop,
            thread: Some(thread),
        }
    }

    fn command(&self, words: &[&str]) -> String {
        let mut j = lock(&self.job);
        match words {
            ["finish"] => {
                j.finished = true;
                j.progress = 100.0;
            }
            ["print", name @ ..] if !name.is_empty() => {
                *j = FabJob {
                    id: j.id + 1,
                    name: name.join(" "),
                    progress: 0.0,
                    printing_s: 0,
                    finished: false,
                };
            }
            _ => return format!("error unknown fab command: {}", words.join(" ")),
        }
        publish_fab(&self.fixture, &j);
        format!("ok fab {}", words.join(" "))
    }
}

impl Drop for FabPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The PrusaLink answers for `job` (PROTOCOLS.md §5 shapes).
fn publish_fab(fixture: &FabFixture, job: &FabJob) {
    let state = if job.finished { "FINISHED" } else { "PRINTING" };
    // About 2 h 10 min in all, as the file name says.
    let total = 7800.0_f64;
    let remaining = (total * (100.0 - job.progress) / 100.0).round() as u64;
    fixture.set_json(
        "/api/v1/status",
        200,
        &serde_json::json!({
            "storage": {"path": "/usb/", "name": "usb", "read_only": false},
            "job": {"id": job.id, "progress": job.progress, "time_remaining": remaining,
                    "time_printing": job.printing_s},
            "printer": {"state": state, "temp_bed": if job.finished { 41.5 } else { 80.2 },
                        "target_bed": if job.finished { 0.0 } else { 80.0 },
                        "temp_nozzle": if job.finished { 62.0 } else { 239.6 },
                        "target_nozzle": if job.finished { 0.0 } else { 240.0 },
                        "axis_z": 12.4, "flow": 100, "speed": 100}
        }),
    );
    fixture.set_json(
        "/api/v1/job",
        200,
        &serde_json::json!({
            "id": job.id, "state": state, "progress": job.progress,
            "time_remaining": remaining, "time_printing": job.printing_s,
            "file": {"name": "GEARBO~1.BGC", "display_name": job.name, "path": "/usb",
                     "size": 2_254_911, "m_timestamp": 1_700_000_000,
                     "meta": {"filament used [g]": 31.5, "filament used [mm]": 10_410.2,
                              "filament_type": "PETG"}}
        }),
    );
}

/// Runs one command line; the answer line without its newline.
fn command(line: &str, receiver: &UploadServer, fab: Option<&FabPrinter>) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["fab", rest @ ..] => match fab {
            Some(f) => f.command(rest),
            None => "error no 3D printer: start the lab with --fab prusalink".to_owned(),
        },
        ["receiver", "down"] => {
            receiver.set_mode(Mode::Refuse);
            "ok receiver down".to_owned()
        }
        ["receiver", "up"] => {
            receiver.set_mode(Mode::Normal);
            "ok receiver up".to_owned()
        }
        ["receiver", "status", code] => match code.parse::<u16>() {
            Ok(code) if (100..600).contains(&code) => {
                receiver.set_mode(Mode::Status(code, None));
                format!("ok receiver status {code}")
            }
            _ => format!("error not an HTTP status: {code}"),
        },
        ["receiver", "count"] => format!(
            "ok {} {}",
            receiver.request_count(),
            receiver.uploads().len()
        ),
        [] => "error empty command".to_owned(),
        _ => format!("error unknown command: {line}"),
    }
}

fn main() {
    let options = parse_options();
    let agents = start_agents(&options);
    let receiver = UploadServer::start_https("127.0.0.1", &random_token());
    let fab = options.fab.as_ref().map(|_| FabPrinter::start());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        manifest(&options, &agents, &receiver, fab.as_ref())
    );
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = command(line.trim(), &receiver, fab.as_ref());
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    drop(fab);
    drop(receiver);
    drop(agents);
}
