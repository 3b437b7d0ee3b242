//! `scan` and rediscovery find printers SNMP does not reach, by DNS-SD, in
//! network namespaces this test creates (`pss<pid>-<tag>-<role>`, linked by a
//! veth pair made inside them: the root namespace never gets an interface and
//! nothing is sent on the machine's real interfaces):
//! - a "printer host" namespace (10.98.0.1 on its eth0) runs a real
//!   `avahi-daemon` announcing on that eth0 only, and a real `ippeveprinter`
//!   listening on 10.98.0.1:8631 that registers its `_ipp._tcp` service
//!   (`rp=ipp/print`) through that avahi; avahi also announces, from static
//!   service files written here, a Moonraker (`_moonraker._tcp`, port 7125,
//!   nothing listening), an OctoPrint (`_octoprint._tcp`, port 5000, with a
//!   basic-auth password in its TXT record, as OctoPrint does when one is set)
//!   and a PrusaLink (`_prusalink._tcp` plus the `_octoprint._tcp` it announces
//!   for older slicers, port 8080). No SNMP agent runs there;
//! - a "scanner" namespace (10.98.0.2) runs the scan in a child process (this
//!   test binary again under `ip netns exec`, running an `#[ignore]`d
//!   `child_*` test selected by an environment variable).
//!
//! avahi and ippeveprinter reach each other over a private `dbus-daemon`
//! (a Unix socket in the temp dir, never the system bus); avahi's fixed paths
//! (`/run`, `/etc/avahi/services`) and ippeveprinter's `/etc/hosts` (which
//! names 10.98.0.1, the only way to make it listen there) are private bind
//! mounts inside their own mount namespaces (`unshare -m`). Every process is
//! stopped by its PID; the namespaces made are deleted by name. Where
//! namespaces cannot be made (not root, no `ip`) or a program is missing, the
//! tests print "skipped: …" and pass.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use printscout_engine::collector::poller::{Poller, Rediscovery, SnmpPoller};
use printscout_engine::discovery::{ScanRequest, scan};
use printscout_engine::secrets::SecretStore;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

const CHILD_ENV: &str = "PRINTSCOUT_NETNS_SCAN_CHILD";
const RESULT: &str = "PRINTSCOUT-RESULT ";

const PRINTER: &str = "10.98.0.1";
const SCANNER: &str = "10.98.0.2";
const IPP_PORT: u16 = 8631;
const HOST_NAME: &str = "psb-fabhost";
/// A password OctoPrint puts in its TXT record when HTTP basic auth is set:
/// it must never come out of a scan.
const SENTINEL: &str = "SENTINEL-TXT-PASSWORD-7731";
/// The PrusaLink key kept in the scan's secret store.
const KEY_SENTINEL: &str = "SENTINEL-PRUSALINK-KEY-5512";

// ---------------------------------------------------------------- namespaces

/// Namespaces this test made; deleted (exactly these) on drop.
struct Namespaces {
    prefix: String,
    made: Vec<String>,
}

impl Namespaces {
    fn create(tag: &str, roles: &[&str]) -> Result<Namespaces, String> {
        let mut ns = Namespaces {
            prefix: format!("pss{}-{tag}", std::process::id()),
            made: Vec::new(),
        };
        for role in roles {
            let name = ns.name(role);
            let out = Command::new("ip")
                .args(["netns", "add", &name])
                .output()
                .map_err(|e| format!("cannot run ip: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`ip netns add {name}` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            ns.made.push(name.clone());
            ip(&["-n", &name, "link", "set", "lo", "up"]);
        }
        Ok(ns)
    }

    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// eth0 in `a` (10.98.0.1) ↔ eth0 in `b` (10.98.0.2), made inside `a`.
    fn link(&self, a: &str, b: &str) {
        let (na, nb) = (self.name(a), self.name(b));
        ip(&[
            "-n", &na, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &nb,
        ]);
        for (ns, addr) in [(&na, PRINTER), (&nb, SCANNER)] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
        }
        // ippeveprinter insists on an IPv6 listener too.
        ip(&[
            "-n",
            &na,
            "addr",
            "add",
            "fd98::1/64",
            "dev",
            "eth0",
            "nodad",
        ]);
        wait_oper_up(&na);
        wait_oper_up(&nb);
    }

    /// `ip netns exec <role> <this test binary> <test>` with `arg` for the child.
    fn child(&self, role: &str, test: &str, arg: &str) -> Command {
        let exe = std::env::current_exe().expect("this test binary");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name(role)])
            .arg(exe)
            .args([
                test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, arg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        c
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.made.drain(..) {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new veth's carrier comes up to a second late; mdns-sd and avahi ignore
/// an interface that is not up yet.
fn wait_oper_up(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new("ip")
            .args(["-n", ns, "-j", "link", "show", "eth0"])
            .output()
            .expect("run ip link");
        let v: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
        if v[0]["operstate"] == "UP" {
            return;
        }
        assert!(Instant::now() < deadline, "eth0 in {ns} is not up: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

// ----------------------------------------------------------------- processes

/// A process we started; stopped by its PID on drop (SIGTERM, then SIGKILL
/// after 2 s, reaped).
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(mut command: Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).expect("create a log");
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log"))
            .stderr(file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.alive() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `ready` holds, else panics with `what` and the log.
fn wait_until(proc: &mut Proc, what: &str, timeout: Duration, ready: impl Fn(&Proc) -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready(proc) {
        assert!(proc.alive(), "exited before {what}:\n{}", proc.log());
        assert!(
            Instant::now() < deadline,
            "no {what} within {timeout:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

// ----------------------------------------------------------------------- lab

/// The printer host: D-Bus, avahi and ippeveprinter (dropped in reverse
/// order of start: printer, avahi, bus), then the namespaces.
struct Lab {
    _printer: Proc,
    _avahi: Proc,
    _dbus: Proc,
    ns: Namespaces,
    _tmp: tempfile::TempDir,
    started_in: Duration,
}

/// One service of an avahi service file: type, port, TXT record.
type ServiceSpec<'a> = (&'a str, u16, &'a [(&'a str, &'a str)]);

fn avahi_service(name: &str, services: &[ServiceSpec<'_>]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" standalone='no'?>\n\
         <!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n",
    );
    s.push_str(&format!("  <name>{name}</name>\n"));
    for (service, port, txt) in services {
        s.push_str(&format!(
            "  <service>\n    <type>{service}</type>\n    <port>{port}</port>\n"
        ));
        for (k, v) in *txt {
            s.push_str(&format!("    <txt-record>{k}={v}</txt-record>\n"));
        }
        s.push_str("  </service>\n");
    }
    s.push_str("</service-group>\n");
    s
}

/// Starts the lab, or says why it cannot run here.
fn lab(tag: &str) -> Option<Lab> {
    let started = Instant::now();
    let programs: Vec<PathBuf> = ["ippeveprinter", "avahi-daemon", "dbus-daemon", "unshare"]
        .iter()
        .filter_map(|p| find_program(p))
        .collect();
    let [ippeveprinter, avahi, dbus, unshare] = programs.as_slice() else {
        eprintln!(
            "skipped: needs ippeveprinter, avahi-daemon, dbus-daemon and unshare \
             (apt-get install cups-ipp-utils avahi-daemon dbus util-linux)"
        );
        return None;
    };
    let ns = match Namespaces::create(tag, &["host", "scan"]) {
        Ok(ns) => ns,
        Err(reason) => {
            eprintln!("skipped: network namespaces are not available here ({reason})");
            return None;
        }
    };
    ns.link("host", "scan");
    let tmp = tempfile::Builder::new()
        .prefix("printscout-netns-scan-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path();
    for sub in ["run/avahi-daemon", "services", "spool", "ssl"] {
        std::fs::create_dir_all(dir.join(sub)).expect("create dirs");
    }

    let socket = dir.join("dbus.sock");
    let bus = format!("unix:path={}", socket.display());
    let mut command = Command::new(dbus);
    command
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address={bus}"));
    let mut dbus = Proc::spawn(command, dir.join("dbus.log"));
    wait_until(&mut dbus, "its socket", Duration::from_secs(5), |_| {
        socket.exists()
    });

    std::fs::write(
        dir.join("avahi-daemon.conf"),
        format!(
            "[server]\nhost-name={HOST_NAME}\ndomain-name=local\nuse-ipv4=yes\nuse-ipv6=no\n\
             allow-interfaces=eth0\nenable-dbus=yes\nratelimit-interval-usec=0\n\
             [wide-area]\nenable-wide-area=no\n\
             [publish]\npublish-addresses=yes\npublish-hinfo=no\npublish-workstation=no\n\
             publish-domain=no\npublish-aaaa-on-ipv4=no\n[reflector]\nenable-reflector=no\n"
        ),
    )
    .expect("write avahi-daemon.conf");
    let files = [
        (
            "moonraker.service",
            avahi_service(
                &format!("Moonraker-5e1f0a2b @ {HOST_NAME}"),
                &[(
                    "_moonraker._tcp",
                    7125,
                    &[
                        ("uuid", "5e1f0a2b-0000-4000-8000-00005e005301"),
                        ("https_port", ""),
                        ("version", "v0.9.3"),
                    ],
                )],
            ),
        ),
        (
            "octoprint.service",
            avahi_service(
                &format!("OctoPrint instance on {HOST_NAME}"),
                &[(
                    "_octoprint._tcp",
                    5000,
                    &[
                        ("path", "/"),
                        ("u", "maker"),
                        ("p", SENTINEL),
                        ("version", "1.11.8"),
                        ("api", "0.1"),
                    ],
                )],
            ),
        ),
        (
            "prusalink.service",
            avahi_service(
                &format!("PrusaLink at {HOST_NAME}:8080"),
                &[
                    ("_prusalink._tcp", 8080, &[("path", "/")]),
                    ("_octoprint._tcp", 8080, &[("path", "/")]),
                ],
            ),
        ),
    ];
    for (file, text) in &files {
        std::fs::write(dir.join("services").join(file), text).expect("write a service file");
    }
    // ip netns exec → unshare → sh → avahi-daemon: each execs the next, so
    // the PID held is avahi's.
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &ns.name("host")])
        .arg(unshare)
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "set -e; mount --bind \"$1\" /run; mount --bind \"$2\" /etc/avahi/services; \
             exec \"$3\" -f \"$4\" --no-drop-root --no-chroot --no-rlimits --no-proc-title",
        )
        .arg("printscout-avahi")
        .arg(dir.join("run"))
        .arg(dir.join("services"))
        .arg(avahi)
        .arg(dir.join("avahi-daemon.conf"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus);
    let mut avahi = Proc::spawn(command, dir.join("avahi.log"));
    wait_until(
        &mut avahi,
        "all three service files established",
        Duration::from_secs(15),
        |p| p.log().matches("successfully established").count() >= files.len(),
    );

    std::fs::write(
        dir.join("hosts"),
        format!("127.0.0.1 localhost\n{PRINTER} {HOST_NAME}\nfd98::1 {HOST_NAME}\n"),
    )
    .expect("write hosts");
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &ns.name("host")])
        .arg(unshare)
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("set -e; mount --bind \"$1\" /etc/hosts; shift; exec \"$@\"")
        .arg("printscout-ippeve")
        .arg(dir.join("hosts"))
        .arg(ippeveprinter)
        .args(["-n", HOST_NAME, "-p", &IPP_PORT.to_string()])
        .arg("-d")
        .arg(dir.join("spool"))
        .arg("-K")
        .arg(dir.join("ssl"))
        .args(["-M", "ACME", "-m", "LaserWriter IPP", "PrintScout NetNS"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus);
    let mut printer = Proc::spawn(command, dir.join("ippeveprinter.log"));
    let host_ns = ns.name("host");
    wait_until(
        &mut printer,
        "a listener on 10.98.0.1",
        Duration::from_secs(15),
        |_| {
            Command::new("ip")
                .args(["netns", "exec", &host_ns, "ss", "-Hltn"])
                .output()
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout).contains(&format!("{PRINTER}:{IPP_PORT}"))
                })
        },
    );
    Some(Lab {
        _printer: printer,
        _avahi: avahi,
        _dbus: dbus,
        ns,
        _tmp: tmp,
        started_in: started.elapsed(),
    })
}

/// Runs a child in the scanner namespace and returns what it printed.
fn run_child(lab: &Lab, test: &str, arg: &str) -> Json {
    let mut child = lab
        .ns
        .child("scan", test, arg)
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut result = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the child");
        if let Some(at) = line.find(RESULT) {
            result = Some(serde_json::from_str(&line[at + RESULT.len()..]).expect("JSON"));
        }
    }
    let status = child.wait().expect("wait for the child");
    assert!(status.success(), "the child failed: {status}");
    result.expect("the child printed a result")
}

fn child_arg() -> Option<String> {
    std::env::var(CHILD_ENV).ok().filter(|v| !v.is_empty())
}

fn print_result(value: &impl serde::Serialize) {
    println!(
        "\n{RESULT}{}",
        serde_json::to_string(value).expect("serializable")
    );
}

fn device<'a>(devices: &'a [Json], address: &str) -> &'a Json {
    devices
        .iter()
        .find(|d| d["address"] == address)
        .unwrap_or_else(|| panic!("{address} is found: {devices:#?}"))
}

// --------------------------------------------------------------------- tests

#[tokio::test]
async fn a_scan_finds_an_ipp_only_printer_and_3d_printers_announced_over_dns_sd() {
    let Some(lab) = lab("sc") else { return };
    let started = Instant::now();
    let report = run_child(&lab, "child_scans", "eth0");
    eprintln!(
        "lab up in {:?}; scan child took {:?}",
        lab.started_in,
        started.elapsed()
    );
    let text = report.to_string();
    assert!(
        !text.contains(SENTINEL),
        "the password in OctoPrint's TXT record never comes out: {text}"
    );
    let devices = report["devices"].as_array().expect("devices");
    for d in devices {
        eprintln!(
            "found {} over {} ({}): error {}, read cost {}",
            d["address"], d["protocol"], d["device_kind"], d["error"], d["reading"]["stats"]
        );
    }
    eprintln!(
        "notes: {}; scan stats: {}",
        report["notes"], report["stats"]
    );

    // IPP only (no SNMP agent): read over IPP at the announced URL.
    let url = format!("ipp://{PRINTER}:{IPP_PORT}/ipp/print");
    let ipp = device(devices, PRINTER);
    assert_eq!(ipp["protocol"], "ipp", "{ipp:#}");
    assert_eq!(ipp["url"], url.as_str());
    assert_eq!(ipp["credential"], Json::Null);
    assert_eq!(ipp["is_printer"], true);
    assert!(
        ipp["found_by"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("dns-sd")))
    );
    assert_eq!(ipp["reading"]["protocol"], "ipp");
    assert_eq!(ipp["reading"]["target"], url.as_str());
    assert!(
        ipp["identity"]["model"]
            .as_str()
            .is_some_and(|m| m.contains("LaserWriter IPP")),
        "make and model from the printer itself: {:#}",
        ipp["identity"]
    );
    assert_eq!(ipp["error"], Json::Null);

    // Moonraker: a device of its own at its URL; nothing listens, so the
    // read fails, in words, naming the URL.
    let moon_url = format!("moonraker://{PRINTER}:7125");
    let moon = device(devices, &moon_url);
    assert_eq!(moon["url"], moon_url.as_str());
    assert_eq!(moon["protocol"], "moonraker");
    assert_eq!(moon["device_kind"], "3d_printer");
    assert_eq!(moon["reading"], Json::Null);
    let error = moon["error"].as_str().expect("an error");
    assert!(error.contains(&moon_url), "{error}");
    assert!(
        error.contains("refused") || error.contains("connect"),
        "connect failed, in words: {error}"
    );

    // OctoPrint needs its API key: found, not read, and the note says how.
    let octo_url = format!("octoprint://{PRINTER}:5000");
    let octo = device(devices, &octo_url);
    assert_eq!(octo["protocol"], "octoprint");
    let hint = format!("printscout secret set printer-key:{octo_url}");
    let error = octo["error"].as_str().expect("an error");
    assert!(
        error.contains("API key") && error.contains(&hint),
        "{error}"
    );
    let notes = report["notes"].as_array().expect("notes");
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains(&hint))),
        "{notes:?}"
    );

    // PrusaLink's legacy _octoprint._tcp is PrusaLink, not a second OctoPrint.
    // Its key is kept, so it was read (nothing listens there).
    let prusa_url = format!("prusalink://{PRINTER}:8080");
    let prusa = device(devices, &prusa_url);
    assert_eq!(prusa["protocol"], "prusalink");
    let error = prusa["error"].as_str().expect("an error");
    assert!(
        error.contains(&prusa_url) && error.contains("refused"),
        "read with the kept key, not 'needs its key': {error}"
    );
    assert!(!text.contains(KEY_SENTINEL), "the key never comes out");
    assert!(
        !devices
            .iter()
            .any(|d| d["address"] == format!("octoprint://{PRINTER}:8080")),
        "{devices:#?}"
    );
    assert_eq!(devices.len(), 4, "{devices:#?}");
}

/// Child (in the scanner namespace): a DNS-SD scan on `eth0`, no sweep;
/// prints the report.
#[tokio::test]
#[ignore = "a helper run inside a namespace"]
async fn child_scans() {
    let Some(interface) = child_arg() else {
        return;
    };
    // The PrusaLink's key is kept: it is read (and fails: nothing listens).
    let secrets = printscout_engine::secrets::MemoryStore::new();
    secrets
        .set(
            &format!("printer-key:prusalink://{PRINTER}:8080"),
            &printscout_engine::secret::Secret::new(KEY_SENTINEL),
        )
        .expect("keep the key");
    let req = ScanRequest {
        secrets: Some(Arc::new(secrets)),
        dns_sd_on: vec![interface],
        dns_sd_window: Duration::from_millis(2500),
        credentials: vec![Credential::community("public", Version::V2c, "public")],
        timeout_ceiling: Duration::from_millis(500),
        ..ScanRequest::default()
    };
    let report = scan(
        &SnmpTransport::new(0),
        &req,
        &CancellationToken::new(),
        Arc::new(|_| {}),
    )
    .await;
    print_result(&report);
}

#[tokio::test]
async fn rediscovery_finds_the_ipp_only_printer_by_its_url_and_leaves_out_unread_ones() {
    let Some(lab) = lab("rd") else { return };
    let started = Instant::now();
    let found = run_child(&lab, "child_rediscovers", "10.98.0.0/24");
    eprintln!("rediscovery child took {:?}: {found:#}", started.elapsed());
    let found = found.as_array().expect("a list");
    assert_eq!(found.len(), 1, "only what was read is stored: {found:#?}");
    let ipp = &found[0];
    assert_eq!(
        ipp["address"],
        format!("ipp://{PRINTER}:{IPP_PORT}/ipp/print")
    );
    assert_eq!(ipp["protocol"], "ipp");
    assert_eq!(ipp["credential"], false);
    assert_eq!(ipp["reading_protocol"], "ipp");
    // The store takes it as a URL device.
    assert_eq!(ipp["stored_protocol"], "ipp");
    assert_eq!(
        ipp["stored_address"],
        format!("ipp://{PRINTER}:{IPP_PORT}/ipp/print")
    );
}

/// Child (in the scanner namespace): the collector's rediscovery of the
/// named network with DNS-SD; records what it found in a fresh store the way
/// the collector does and prints, per device, what was found and stored.
#[tokio::test]
#[ignore = "a helper run inside a namespace"]
async fn child_rediscovers() {
    use printscout_engine::store::{PollKind, PollOutcome, PollResult, Rules, Store};
    let Some(network) = child_arg() else {
        return;
    };
    let poller = SnmpPoller::new(
        0,
        0,
        SnmpOptions {
            timeout: Duration::from_millis(300),
            retries: 0,
            ..SnmpOptions::default()
        },
        161,
        vec![Credential::community("public", Version::V2c, "public")],
        Rediscovery::default(),
    );
    let what = Rediscovery {
        networks: vec![network],
        dns_sd: true,
        ..Rediscovery::default()
    };
    let found = poller
        .discover(&what, Arc::new(|_| {}), &CancellationToken::new())
        .await
        .expect("rediscovery runs");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open_in(&dir.path().join("data")).expect("open a store");
    let mut out = Vec::new();
    for f in found {
        let summary = json!({
            "address": f.address,
            "protocol": f.protocol,
            "credential": f.credential.is_some(),
            "reading_protocol": f.reading.protocol,
        });
        let recorded = store
            .record(
                &PollResult {
                    device_id: None,
                    address: f.address,
                    kind: PollKind::Meters,
                    at: printscout_engine::store::now_ms(),
                    outcome: PollOutcome::Read {
                        reading: Box::new(f.reading),
                        credential: f.credential,
                    },
                },
                &Rules::default(),
            )
            .expect("recorded");
        let id = recorded.device_id.expect("a device");
        let device = store
            .devices(false)
            .expect("devices")
            .into_iter()
            .find(|d| d.id == id)
            .expect("the device");
        let mut summary = summary;
        summary["stored_protocol"] = json!(device.protocol);
        summary["stored_address"] = json!(device.address);
        out.push(summary);
    }
    print_result(&out);
}
