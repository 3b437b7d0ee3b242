//! `printscout scan` against the discovery lab in network namespaces
//! (`printscout_testkit::netns`): 20 SNMP-answering addresses on 10.77.0.0/24 (snmpsim
//! and net-snmp agents, two non-printers, a printer answering only the community
//! `office`, snmpd printers that answer only the limited broadcast, a printer on two
//! addresses), a gateway whose routing table names 10.78.0.0/24 and 10.79.0.0/24, and an
//! IPP printer announced over DNS-SD by avahi.
//!
//! Custom harness (`harness = false`, libtest-mimic): the lab comes up ONCE, the trials
//! run one after another (`--test-threads` defaults to 1: scans share two cores with
//! twenty agents), every `printscout` runs inside the manager namespace with `--json`,
//! then the lab is torn down (also when a trial panicked: libtest-mimic catches it) and
//! the process exits with the conclusion. Where namespaces cannot be made (not root, no
//! `ip`, a kernel without veth/bridge), it prints "netns_lab skipped: <reason>", reports
//! every trial as ignored and exits 0. `--list`, or a filter that matches no trial, never
//! starts the lab.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use printscout_testkit::netns::{
    AgentKind, DNS_SD_ADDRESS, DNS_SD_INSTANCE, DNS_SD_SERVICE, DNS_SD_TXT, GATEWAY_ADDRESS,
    GATEWAY_SEGMENTS, LabDevice, LabSpec, NetnsLab, TWO_ADDRESS_PRINTER,
};
use serde_json::Value;

const PRINTSCOUT: &str = env!("CARGO_BIN_EXE_printscout");
/// Longest any one scan may take before the trial fails (and the scan is killed).
const SCAN_DEADLINE: Duration = Duration::from_secs(120);
/// Packets the gateway may receive while `--gateway` lists its networks: its table
/// walks, ARP and multicast noise. Sweeping one of its /24s would add 254 or more.
const GATEWAY_RX_BUDGET: u64 = 250;

/// A finished `printscout scan`.
#[derive(Clone, Debug)]
struct Scan {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Scan {
    fn json_array(&self) -> Result<Vec<Value>, Failed> {
        match serde_json::from_str::<Value>(&self.stdout) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(other) => Err(format!("stdout is JSON but not an array: {other}").into()),
            Err(e) => Err(format!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                excerpt(&self.stdout),
                excerpt(&self.stderr)
            )
            .into()),
        }
    }
}

/// What the trials know about the running lab (the lab itself stays in `main`, which
/// alone tears it down).
struct Ctx {
    /// `lab.mgr_command(PRINTSCOUT)` as program and arguments.
    printscout: Vec<OsString>,
    gateway_namespace: String,
    devices: Vec<LabDevice>,
    scans: Mutex<HashMap<Vec<String>, Scan>>,
}

type Shared = Arc<OnceLock<Ctx>>;

fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.len() <= 3000 {
        return text.to_owned();
    }
    let mut cut = 3000;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &text[..cut], text.len())
}

/// Reads a child's stdout and stderr to the end on two threads.
fn collect(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<String>,
    std::thread::JoinHandle<String>,
) {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (out, err)
}

/// Waits for `child` until `deadline` after `started`; kills it (our own child, by its
/// handle) when the deadline passes.
fn wait_until(
    child: &mut Child,
    started: Instant,
    deadline: Duration,
) -> Result<Option<i32>, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.code()),
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {deadline:?}; killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

impl Ctx {
    fn from_lab(lab: &NetnsLab) -> Ctx {
        let command = lab.mgr_command(PRINTSCOUT);
        let printscout = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(OsStr::to_os_string)
            .collect();
        Ctx {
            printscout,
            gateway_namespace: lab.gateway().namespace.clone(),
            devices: lab.devices().to_vec(),
            scans: Mutex::new(HashMap::new()),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.printscout[0]);
        command
            .args(&self.printscout[1..])
            .args(args)
            .env_remove("PRINTSCOUT_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `printscout ARGS` in the manager namespace, run once per distinct argument list
    /// (trials that read the same scan share it). Fails unless it exits 0.
    fn scan(&self, args: &[&str]) -> Result<Scan, Failed> {
        let key: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        if let Some(scan) = self.scans.lock().map_err(|_| "poisoned")?.get(&key) {
            return Ok(scan.clone());
        }
        let started = Instant::now();
        let mut child = self
            .command(args)
            .spawn()
            .map_err(|e| format!("cannot start printscout: {e}"))?;
        let (out, err) = collect(&mut child);
        let status = wait_until(&mut child, started, SCAN_DEADLINE)
            .map_err(|e| format!("printscout {}: {e}", args.join(" ")))?;
        let scan = Scan {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            elapsed: started.elapsed(),
        };
        eprintln!(
            "    printscout {}: exit {:?} in {:.2} s",
            args.join(" "),
            scan.status,
            scan.elapsed.as_secs_f64()
        );
        if scan.status != Some(0) {
            return Err(format!(
                "printscout {} exited {:?}\nstderr:\n{}\nstdout:\n{}",
                args.join(" "),
                scan.status,
                excerpt(&scan.stderr),
                excerpt(&scan.stdout)
            )
            .into());
        }
        self.scans
            .lock()
            .map_err(|_| "poisoned")?
            .insert(key, scan.clone());
        Ok(scan)
    }

    fn snmp_devices(&self) -> impl Iterator<Item = &LabDevice> {
        self.devices.iter().filter(|d| d.answers_snmp())
    }

    fn with_community<'a>(&'a self, community: &'a str) -> impl Iterator<Item = &'a LabDevice> {
        self.snmp_devices()
            .filter(move |d| d.community.as_deref() == Some(community))
    }

    fn office_printer(&self) -> Result<&LabDevice, Failed> {
        self.snmp_devices()
            .find(|d| d.community.as_deref() == Some("office"))
            .ok_or_else(|| "the lab has no office-community printer".into())
    }

    fn rx_packets(&self, namespace: &str) -> Result<u64, Failed> {
        let out = Command::new("ip")
            .args(["netns", "exec", namespace, "cat"])
            .arg("/sys/class/net/eth0/statistics/rx_packets")
            .output()
            .map_err(|e| format!("read rx_packets: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("rx_packets of {namespace}: {e}").into())
    }
}

// --- reading the scan output --------------------------------------------------------

/// Every address an object answered at (`addresses`, plus `address`).
fn addresses_of(item: &Value) -> BTreeSet<Ipv4Addr> {
    let mut out: BTreeSet<Ipv4Addr> = item["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str()?.parse().ok())
        .collect();
    if let Some(a) = item["address"].as_str().and_then(|a| a.parse().ok()) {
        out.insert(a);
    }
    out
}

fn found_by(item: &Value) -> Vec<&str> {
    item["found_by"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn text<'a>(item: &'a Value, pointer: &str) -> Option<&'a str> {
    item.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Objects that answered at any of the device's addresses.
fn objects_for<'a>(items: &'a [Value], device: &LabDevice) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|item| {
            let addresses = addresses_of(item);
            device.addresses.iter().any(|a| addresses.contains(a))
        })
        .collect()
}

fn describe(device: &LabDevice) -> String {
    format!(
        "{} ({} {}, serial {})",
        device.address(),
        device.kind.as_str(),
        device.recording.as_deref().unwrap_or("-"),
        device.serial.as_deref().unwrap_or("-")
    )
}

fn summary(items: &[Value]) -> String {
    items
        .iter()
        .map(|item| {
            format!(
                "  {:?} printer={} serial={} found_by={:?} credential={}",
                addresses_of(item),
                item["is_printer"],
                text(item, "/identity/serial").unwrap_or("-"),
                found_by(item),
                item["credential"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `problems` empty → Ok, else one failure listing them and what the scan returned.
fn verdict(problems: Vec<String>, items: &[Value]) -> Result<(), Failed> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\nthe scan returned {} objects:\n{}",
            problems.join("\n"),
            items.len(),
            summary(items)
        )
        .into())
    }
}

/// The one object for `device`, with "its" serial when it has one.
fn expect_one<'a>(
    items: &'a [Value],
    device: &LabDevice,
    problems: &mut Vec<String>,
) -> Option<&'a Value> {
    let objects = objects_for(items, device);
    match objects.as_slice() {
        [] => {
            problems.push(format!("not found: {}", describe(device)));
            None
        }
        [one] => {
            if device.is_printer
                && let Some(serial) = &device.serial
                && text(one, "/identity/serial") != Some(serial.as_str())
            {
                problems.push(format!(
                    "{}: serial {:?}, expected {serial}",
                    describe(device),
                    text(one, "/identity/serial")
                ));
            }
            Some(one)
        }
        many => {
            problems.push(format!(
                "{} appears in {} objects",
                describe(device),
                many.len()
            ));
            many.first().copied()
        }
    }
}

// --- trials ---------------------------------------------------------------------------

fn broadcast_finds_every_device_that_answers_a_broadcast(ctx: &Ctx) -> Result<(), Failed> {
    let scan = ctx.scan(&["scan", "--broadcast", "--json"])?;
    let items = scan.json_array()?;
    let mut problems = Vec::new();
    let mut directed_found = 0;
    let mut limited_only_found = 0;
    for device in ctx
        .with_community("public")
        .filter(|d| d.answers_directed || d.answers_limited)
    {
        let Some(item) = expect_one(&items, device, &mut problems) else {
            continue;
        };
        if !found_by(item).contains(&"broadcast") {
            problems.push(format!(
                "{}: found_by {:?} lacks \"broadcast\"",
                describe(device),
                found_by(item)
            ));
        } else if device.answers_directed {
            directed_found += 1;
        } else {
            limited_only_found += 1;
        }
    }
    let office = ctx.office_printer()?;
    if !objects_for(&items, office).is_empty() {
        problems.push(format!(
            "{} answers only the community office, yet the public broadcast found it",
            describe(office)
        ));
    }
    if limited_only_found == 0 {
        problems.push("no limited-only (snmpd) device found: was 255.255.255.255 sent?".into());
    }
    if directed_found == 0 {
        problems.push("no snmpsim device found by broadcast".into());
    }
    verdict(problems, &items)
}

fn the_sweep(ctx: &Ctx) -> Result<Vec<Value>, Failed> {
    ctx.scan(&[
        "scan",
        "10.77.0.0/24",
        "-c",
        "public",
        "-c",
        "office",
        "--json",
    ])?
    .json_array()
}

fn the_sweep_finds_every_printer_and_no_non_printer(ctx: &Ctx) -> Result<(), Failed> {
    let items = the_sweep(ctx)?;
    let mut problems = Vec::new();
    let expected: BTreeSet<&str> = ctx
        .snmp_devices()
        .filter(|d| d.is_printer)
        .filter_map(|d| d.serial.as_deref())
        .collect();
    let printers: Vec<&Value> = items
        .iter()
        .filter(|i| i["is_printer"] == Value::Bool(true))
        .collect();
    let found: BTreeSet<&str> = printers
        .iter()
        .filter_map(|i| text(i, "/identity/serial"))
        .collect();
    if found != expected {
        problems.push(format!(
            "printer serials differ: missing {:?}, unexpected {:?}",
            expected.difference(&found).collect::<Vec<_>>(),
            found.difference(&expected).collect::<Vec<_>>()
        ));
    }
    for item in &printers {
        for field in ["model", "serial"] {
            if text(item, &format!("/identity/{field}")).is_none() {
                problems.push(format!(
                    "printer at {:?} has no {field}",
                    addresses_of(item)
                ));
            }
        }
    }
    for device in ctx.snmp_devices() {
        let Some(item) = expect_one(&items, device, &mut problems) else {
            continue;
        };
        if item["is_printer"] != Value::Bool(device.is_printer) {
            problems.push(format!(
                "{}: is_printer {}, expected {}",
                describe(device),
                item["is_printer"],
                device.is_printer
            ));
        }
        if !found_by(item).contains(&"sweep") {
            problems.push(format!(
                "{}: found_by {:?} lacks \"sweep\"",
                describe(device),
                found_by(item)
            ));
        }
    }
    let lab_addresses: BTreeSet<Ipv4Addr> = ctx
        .snmp_devices()
        .flat_map(|d| d.addresses.iter().copied())
        .collect();
    for item in &items {
        if addresses_of(item).is_disjoint(&lab_addresses) {
            problems.push(format!(
                "an object at {:?} matches no lab device",
                addresses_of(item)
            ));
        }
    }
    verdict(problems, &items)
}

fn the_printer_that_answers_only_the_second_community_is_found_with_it(
    ctx: &Ctx,
) -> Result<(), Failed> {
    let items = the_sweep(ctx)?;
    let mut problems = Vec::new();
    let office = ctx.office_printer()?;
    if let Some(item) = expect_one(&items, office, &mut problems)
        && item["credential"] != "community #2"
    {
        problems.push(format!(
            "{}: credential {}, expected \"community #2\"",
            describe(office),
            item["credential"]
        ));
    }
    for device in ctx.with_community("public") {
        for item in objects_for(&items, device) {
            if item["credential"] != "public" {
                problems.push(format!(
                    "{}: credential {}, expected \"public\"",
                    describe(device),
                    item["credential"]
                ));
            }
        }
    }
    verdict(problems, &items)
}

fn gateway_segments_are_listed_and_not_scanned(ctx: &Ctx) -> Result<(), Failed> {
    let before = ctx.rx_packets(&ctx.gateway_namespace)?;
    let scan = ctx.scan(&["scan", "--gateway", "--json"])?;
    let after = ctx.rx_packets(&ctx.gateway_namespace)?;
    let items = scan.json_array()?;
    let mut problems = Vec::new();
    for segment in GATEWAY_SEGMENTS {
        let candidate = items
            .iter()
            .find(|c| c["network"].as_str() == Some(segment));
        match candidate {
            None => problems.push(format!("{segment} is not among the candidates")),
            Some(c) => {
                if c["source"].as_str() != Some("gateway") {
                    problems.push(format!(
                        "{segment}: source {}, expected \"gateway\"",
                        c["source"]
                    ));
                }
                if c["gateway"].as_str() != Some(GATEWAY_ADDRESS.to_string().as_str()) {
                    problems.push(format!(
                        "{segment}: gateway {}, expected \"{GATEWAY_ADDRESS}\"",
                        c["gateway"]
                    ));
                }
            }
        }
    }
    let received = after.saturating_sub(before);
    if received > GATEWAY_RX_BUDGET {
        problems.push(format!(
            "the gateway received {received} packets while --gateway ran (budget \
             {GATEWAY_RX_BUDGET}): were its networks swept?"
        ));
    }
    if problems.is_empty() {
        eprintln!(
            "    {} candidates; the gateway received {received} packets",
            items.len()
        );
        Ok(())
    } else {
        Err(format!(
            "{}\ncandidates:\n{}",
            problems.join("\n"),
            serde_json::to_string_pretty(&items).unwrap_or_default()
        )
        .into())
    }
}

fn a_device_on_two_addresses_is_reported_once(ctx: &Ctx) -> Result<(), Failed> {
    let items = the_sweep(ctx)?;
    let mut problems = Vec::new();
    let device = ctx
        .snmp_devices()
        .find(|d| d.addresses.len() == 2)
        .ok_or("the lab has no two-address device")?;
    if let Some(item) = expect_one(&items, device, &mut problems) {
        let addresses = addresses_of(item);
        for address in TWO_ADDRESS_PRINTER {
            if !addresses.contains(&address) {
                problems.push(format!(
                    "{}: addresses {addresses:?} lack {address}",
                    describe(device)
                ));
            }
        }
        if item["address"].as_str() != Some(TWO_ADDRESS_PRINTER[0].to_string().as_str()) {
            problems.push(format!(
                "primary address {}, expected the lowest ({})",
                item["address"], TWO_ADDRESS_PRINTER[0]
            ));
        }
    }
    verdict(problems, &items)
}

fn txt_value<'a>(txt: &'a Value, key: &str) -> Option<&'a str> {
    match txt {
        Value::Object(map) => map.get(key).and_then(Value::as_str),
        Value::Array(pairs) => pairs.iter().find_map(|p| match p {
            Value::String(s) => s.strip_prefix(key)?.strip_prefix('='),
            Value::Array(kv) if kv.first().and_then(Value::as_str) == Some(key) => {
                kv.get(1).and_then(Value::as_str)
            }
            _ => None,
        }),
        _ => None,
    }
}

fn dns_sd_finds_the_announced_ipp_printer(ctx: &Ctx) -> Result<(), Failed> {
    let scan = ctx.scan(&["scan", "--dns-sd", "--json"])?;
    let items = scan.json_array()?;
    let mut problems = Vec::new();
    let device = ctx
        .devices
        .iter()
        .find(|d| d.kind == AgentKind::Avahi)
        .ok_or("the lab has no DNS-SD printer")?;
    if let Some(item) = expect_one(&items, device, &mut problems) {
        if !found_by(item).contains(&"dns-sd") {
            problems.push(format!("found_by {:?} lacks \"dns-sd\"", found_by(item)));
        }
        if item["is_printer"] != Value::Bool(true) {
            problems.push(format!("is_printer {}, expected true", item["is_printer"]));
        }
        if !item["credential"].is_null() {
            problems.push(format!(
                "credential {}, expected null (no SNMP agent)",
                item["credential"]
            ));
        }
        let services = item["services"].as_array().cloned().unwrap_or_default();
        let ipp = services.iter().find(|s| {
            s["service"]
                .as_str()
                .is_some_and(|t| t.starts_with(DNS_SD_SERVICE))
        });
        match ipp {
            None => problems.push(format!(
                "no {DNS_SD_SERVICE} service: {}",
                Value::Array(services.clone())
            )),
            Some(service) => {
                if !service["instance"]
                    .as_str()
                    .is_some_and(|i| i.starts_with(DNS_SD_INSTANCE))
                {
                    problems.push(format!(
                        "instance {}, expected {DNS_SD_INSTANCE:?}",
                        service["instance"]
                    ));
                }
                if service["port"].as_u64() != Some(631) {
                    problems.push(format!("port {}, expected 631", service["port"]));
                }
                let has_address = service["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a.as_str() == Some(DNS_SD_ADDRESS.to_string().as_str()));
                if !has_address {
                    problems.push(format!(
                        "service addresses {} lack {DNS_SD_ADDRESS}",
                        service["addresses"]
                    ));
                }
                for key in ["ty", "note", "UUID", "adminurl", "product"] {
                    let want = DNS_SD_TXT.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
                    let got = txt_value(&service["txt"], key);
                    if got != want {
                        problems.push(format!("TXT {key} = {got:?}, expected {want:?}"));
                    }
                }
            }
        }
    }
    verdict(problems, &items)
}

fn the_default_scan_covers_the_local_network(ctx: &Ctx) -> Result<(), Failed> {
    let scan = ctx.scan(&["scan", "--json"])?;
    let items = scan.json_array()?;
    let mut problems = Vec::new();
    for device in ctx.with_community("public") {
        let Some(item) = expect_one(&items, device, &mut problems) else {
            continue;
        };
        if item["is_printer"] != Value::Bool(device.is_printer) {
            problems.push(format!(
                "{}: is_printer {}, expected {}",
                describe(device),
                item["is_printer"],
                device.is_printer
            ));
        }
        let by = found_by(item);
        for method in ["broadcast", "sweep"] {
            if !by.contains(&method) {
                problems.push(format!(
                    "{}: found_by {by:?} lacks {method:?}",
                    describe(device)
                ));
            }
        }
    }
    if let Some(device) = ctx.devices.iter().find(|d| d.kind == AgentKind::Avahi)
        && let Some(item) = expect_one(&items, device, &mut problems)
        && !found_by(item).contains(&"dns-sd")
    {
        problems.push(format!(
            "{}: found_by {:?} lacks \"dns-sd\"",
            describe(device),
            found_by(item)
        ));
    }
    verdict(problems, &items)
}

fn ctrl_c_ends_the_scan_with_what_was_found_so_far(ctx: &Ctx) -> Result<(), Failed> {
    let args = ["scan", "10.77.0.0/16", "--rate", "500", "--json"];
    let started = Instant::now();
    let mut child = ctx
        .command(&args)
        .spawn()
        .map_err(|e| format!("cannot start printscout: {e}"))?;
    let (out, err) = collect(&mut child);
    // Long enough for the /24 with the lab's devices (the first 256 addresses at 500/s).
    std::thread::sleep(Duration::from_secs(3));
    if let Ok(Some(status)) = child.try_wait() {
        return Err(format!(
            "a 65,536-address scan at 500/s finished in 3 s ({status}): \
             stderr:\n{}",
            excerpt(&err.join().unwrap_or_default())
        )
        .into());
    }
    // `ip netns exec`, `unshare` and `sh` each exec the next (NetnsLab::mgr_command), so
    // the child's PID is printscout's own.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .map_err(|e| format!("kill -INT: {e}"))?;
    if !sent.success() {
        return Err("kill -INT failed".into());
    }
    let interrupted = Instant::now();
    let status = wait_until(&mut child, started, Duration::from_secs(30))?;
    let scan = Scan {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    };
    eprintln!(
        "    printscout {}: SIGINT after 3 s, exit {:?} {:.2} s later",
        args.join(" "),
        scan.status,
        interrupted.elapsed().as_secs_f64()
    );
    if scan.status != Some(130) {
        return Err(format!(
            "exit status {:?}, expected 130\nstderr:\n{}",
            scan.status,
            excerpt(&scan.stderr)
        )
        .into());
    }
    let items = scan.json_array()?;
    eprintln!("    {} devices printed after the interruption", items.len());
    Ok(())
}

// --- harness --------------------------------------------------------------------------

type TrialFn = fn(&Ctx) -> Result<(), Failed>;

const TRIALS: &[(&str, TrialFn)] = &[
    (
        "broadcast_finds_every_device_that_answers_a_broadcast",
        broadcast_finds_every_device_that_answers_a_broadcast,
    ),
    (
        "the_sweep_finds_every_printer_and_no_non_printer",
        the_sweep_finds_every_printer_and_no_non_printer,
    ),
    (
        "the_printer_that_answers_only_the_second_community_is_found_with_it",
        the_printer_that_answers_only_the_second_community_is_found_with_it,
    ),
    (
        "gateway_segments_are_listed_and_not_scanned",
        gateway_segments_are_listed_and_not_scanned,
    ),
    (
        "a_device_on_two_addresses_is_reported_once",
        a_device_on_two_addresses_is_reported_once,
    ),
    (
        "dns_sd_finds_the_announced_ipp_printer",
        dns_sd_finds_the_announced_ipp_printer,
    ),
    (
        "the_default_scan_covers_the_local_network",
        the_default_scan_covers_the_local_network,
    ),
    (
        "ctrl_c_ends_the_scan_with_what_was_found_so_far",
        ctrl_c_ends_the_scan_with_what_was_found_so_far,
    ),
];

fn trials(shared: &Shared) -> Vec<Trial> {
    TRIALS
        .iter()
        .map(|(name, run)| {
            let shared = Arc::clone(shared);
            let run = *run;
            Trial::test(*name, move || match shared.get() {
                Some(ctx) => run(ctx),
                // Only reachable with --include-ignored after a skip.
                None => Ok(()),
            })
        })
        .collect()
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let shared: Shared = Arc::default();
    let list = trials(&shared);
    let wanted = !args.list
        && list
            .iter()
            .any(|t| !args.is_filtered_out(t) && !args.is_ignored(t));
    let mut lab = None;
    let mut list = list;
    if wanted {
        match NetnsLab::up(LabSpec::default()) {
            Ok(up) => {
                let t = up.timings();
                eprintln!(
                    "netns lab up in {:.2} s (network {:.2} s, agents {:.2} s; slowest {}): \
                     {} answering addresses, manager namespace {}",
                    t.total.as_secs_f64(),
                    t.network.as_secs_f64(),
                    t.agents.as_secs_f64(),
                    t.slowest
                        .as_ref()
                        .map(|(ns, d)| format!("{ns} {:.2} s", d.as_secs_f64()))
                        .unwrap_or_else(|| "-".into()),
                    up.responding_addresses(),
                    up.mgr()
                );
                if shared.set(Ctx::from_lab(&up)).is_err() {
                    unreachable!("the context is set once");
                }
                lab = Some(up);
            }
            Err(reason) => {
                println!("netns_lab skipped: {reason}");
                list = list
                    .into_iter()
                    .map(|t| t.with_ignored_flag(true))
                    .collect();
            }
        }
    }
    let conclusion = libtest_mimic::run(&args, list);
    if let Some(mut lab) = lab {
        let started = Instant::now();
        lab.down();
        eprintln!("netns lab down in {:.2} s", started.elapsed().as_secs_f64());
    }
    conclusion.exit();
}
