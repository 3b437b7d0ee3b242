//! Discovery peers that cannot run in the root namespace, in network
//! namespaces this test creates (named `psb<pid>-<tag>-<role>`, linked by veth
//! pairs made inside them: the root namespace never gets an interface, and
//! nothing is sent on the machine's real interfaces):
//! - DNS-SD: an mdns-sd responder announces a printer in one namespace and
//!   [`browse`] finds it from another, on the one interface it was given; a
//!   sniffer on the browser's OTHER interface sees no mDNS packet from it
//!   (and does see them when that interface is the one browsed — the control).
//! - Gateway: net-snmp with its normal modules (testkit's `HostAgent`) in a
//!   "gateway" namespace, asked from a "manager" namespace: its other
//!   networks, a remote route, and its ARP table (a permanent entry and the
//!   manager itself) come back.
//!
//! Code that must run inside a namespace runs in a child process: this test
//! binary again, under `ip netns exec`, running one of the `#[ignore]`d
//! `child_*` tests selected by an environment variable (switching namespaces
//! in-process would need `unsafe`). Where `ip netns add` fails (not root, no
//! `ip`), the tests print "skipped: …" and pass.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use printscout_engine::discovery::dnssd::{Announcement, browse};
use printscout_engine::discovery::gateway::ask_gateway;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{Credential, SnmpOptions, Version};
use printscout_testkit::host_agent::HostAgent;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

/// Tells a child which helper to run (the value carries its arguments).
const CHILD_ENV: &str = "PRINTSCOUT_NETNS_CHILD";
const RESULT: &str = "PRINTSCOUT-RESULT ";
const READY: &str = "PRINTSCOUT-READY";

const PRINTER_NAME: &str = "PrintScout Test Printer";
const PRINTER_TXT: &[(&str, &str)] = &[
    ("txtvers", "1"),
    ("ty", "ZZ Test LaserJet 100"),
    ("note", "Room 99"),
    ("UUID", "00000000-0000-4000-8000-00005e005399"),
    ("adminurl", "http://10.99.0.1/"),
    ("product", "(ZZ Test LaserJet 100)"),
    ("usb_MFG", "ZZ"),
    ("usb_MDL", "Test LaserJet 100"),
];

// ---------------------------------------------------------------- namespaces

/// Namespaces this test made; deleted (exactly these) on drop.
struct Namespaces {
    prefix: String,
    made: Vec<String>,
}

impl Namespaces {
    /// Creates `<prefix>-<role>` for each role, loopback up. `Err` when
    /// namespaces cannot be made here.
    fn create(tag: &str, roles: &[&str]) -> Result<Namespaces, String> {
        let mut ns = Namespaces {
            prefix: format!("psb{}-{tag}", std::process::id()),
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
            ns.ip(&["-n", &name, "link", "set", "lo", "up"]);
        }
        Ok(ns)
    }

    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// Runs `ip ARGS`, panicking with its error on failure.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A veth pair `a_if` in namespace `a` ↔ `b_if` in namespace `b` (created
    /// inside `a`, the peer moved straight into `b`), addressed and up.
    fn link(&self, a: &str, a_if: &str, a_addr: &str, b: &str, b_if: &str, b_addr: &str) {
        let (na, nb) = (self.name(a), self.name(b));
        self.ip(&[
            "-n", &na, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &nb,
        ]);
        for (ns, dev, addr) in [(&na, a_if, a_addr), (&nb, b_if, b_addr)] {
            self.ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            self.ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        wait_oper_up(&na, a_if);
        wait_oper_up(&nb, b_if);
    }

    /// `ip netns exec <role> <this test binary> <test> …` with `arg` for the child.
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
            .stdin(Stdio::piped())
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

/// Waits until `dev` in `ns` is operationally up. The kernel reports a new
/// veth's carrier up to a second late (linkwatch), and mdns-sd ignores an
/// interface that is not up until its next address check, 5 s later.
fn wait_oper_up(ns: &str, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new("ip")
            .args(["-n", ns, "-j", "link", "show", dev])
            .output()
            .expect("run ip link");
        let v: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
        if v[0]["operstate"] == "UP" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{dev} in {ns} is not up after 5 s: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn namespaces_or_skip(tag: &str, roles: &[&str]) -> Option<Namespaces> {
    match Namespaces::create(tag, roles) {
        Ok(ns) => Some(ns),
        Err(reason) => {
            eprintln!("skipped: network namespaces are not available here ({reason})");
            None
        }
    }
}

/// A child running a helper; stopped by PID on drop (stdin closed first,
/// which ends the helpers that wait on it).
struct Helper {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    fn start(mut command: Command) -> Helper {
        let mut child = command.spawn().expect("start a child in a namespace");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Helper { child, stdout }
    }

    /// Waits for a line starting with `marker`; returns the rest.
    fn wait_for(&mut self, marker: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read the child");
            assert!(n > 0, "the child ended before printing {marker:?}");
            // The harness prints "test NAME ... " before the output, on
            // the same line.
            if let Some(at) = line.find(marker) {
                return line[at + marker.len()..].trim_end().to_string();
            }
        }
    }

    fn result(&mut self) -> Json {
        serde_json::from_str(&self.wait_for(RESULT)).expect("the child prints JSON")
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The argument a child helper was started with, or `None` when this is an
/// ordinary test run (the helper then does nothing).
fn child_arg() -> Option<String> {
    std::env::var(CHILD_ENV).ok().filter(|v| !v.is_empty())
}

fn print_result(value: &impl serde::Serialize) {
    println!(
        "\n{RESULT}{}",
        serde_json::to_string(value).expect("serializable")
    );
}

// ------------------------------------------------------------------- DNS-SD

#[tokio::test]
async fn browse_finds_a_printer_announced_on_its_interface_and_sends_nothing_elsewhere() {
    let Some(ns) = namespaces_or_skip("sd", &["pub", "br", "spy"]) else {
        return;
    };
    ns.link("pub", "eth0", "10.99.0.1/24", "br", "eth0", "10.99.0.2/24");
    ns.link("spy", "eth0", "10.99.6.1/24", "br", "eth1", "10.99.6.2/24");

    let mut responder = Helper::start(ns.child("pub", "child_announces_a_printer", "eth0"));
    responder.wait_for(READY);
    let mut sniffer = Helper::start(ns.child("spy", "child_counts_mdns_packets", "eth0,2500"));
    sniffer.wait_for(READY);

    let started = Instant::now();
    let found = Helper::start(ns.child("br", "child_browses", "eth0,1500")).result();
    let browse_took = started.elapsed();
    let found: Vec<Announcement> = found
        .as_array()
        .expect("a list")
        .iter()
        .map(announcement_from_json)
        .collect();
    let seen_on_other_interface = sniffer.result();
    eprintln!("browse took {browse_took:?}; found {found:#?}");

    let ipp = found
        .iter()
        .find(|a| a.service == "_ipp._tcp")
        .unwrap_or_else(|| panic!("the _ipp._tcp printer is found: {found:?}"));
    assert_eq!(ipp.instance, PRINTER_NAME);
    assert_eq!(ipp.host, "psb-printer.local");
    assert_eq!(ipp.port, 631);
    assert!(
        ipp.addresses
            .contains(&IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1))),
        "{ipp:?}"
    );
    assert_eq!(
        ipp.make_and_model().as_deref(),
        Some("ZZ Test LaserJet 100")
    );
    assert_eq!(ipp.vendor().as_deref(), Some("ZZ"));
    assert_eq!(ipp.location().as_deref(), Some("Room 99"));
    assert_eq!(
        ipp.uuid().as_deref(),
        Some("00000000-0000-4000-8000-00005e005399")
    );
    assert_eq!(ipp.admin_url().as_deref(), Some("http://10.99.0.1/"));
    let pdl = found
        .iter()
        .find(|a| a.service == "_pdl-datastream._tcp")
        .expect("the same printer's _pdl-datastream._tcp is its own announcement");
    assert_eq!(pdl.port, 9100);
    assert_eq!(found.len(), 2, "{found:?}");

    assert_eq!(
        seen_on_other_interface["from_browser"], 0,
        "no mDNS packet from the browser on the interface it was not given: \
         {seen_on_other_interface}"
    );

    // Control: browsing the spy's link, the sniffer does see the queries.
    let mut sniffer = Helper::start(ns.child("spy", "child_counts_mdns_packets", "eth0,1500"));
    sniffer.wait_for(READY);
    let _ = Helper::start(ns.child("br", "child_browses", "eth1,800")).result();
    let control = sniffer.result();
    eprintln!("mDNS packets on the other interface: {seen_on_other_interface}; control: {control}");
    assert!(
        control["from_browser"].as_u64().unwrap_or(0) > 0,
        "the sniffer hears a browse on its own link: {control}"
    );
}

fn announcement_from_json(v: &Json) -> Announcement {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Announcement {
        instance: s("instance"),
        service: s("service"),
        host: s("host"),
        addresses: v["addresses"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
            .unwrap_or_default(),
        port: v["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        txt: v["txt"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Child (in `pub`): announces the test printer as `_ipp._tcp` and
/// `_pdl-datastream._tcp` on the named interface, prints READY, and keeps
/// announcing until stdin closes (at most 60 s).
#[test]
#[ignore = "a helper run by browse_finds_… inside a namespace"]
fn child_announces_a_printer() {
    let Some(interface) = child_arg() else {
        return;
    };
    let daemon = mdns_sd::ServiceDaemon::new().expect("mDNS daemon");
    daemon
        .disable_interface(mdns_sd::IfKind::All)
        .expect("disable all");
    daemon
        .enable_interface(mdns_sd::IfKind::Name(interface))
        .expect("enable one");
    for (service, port) in [
        ("_ipp._tcp.local.", 631),
        ("_pdl-datastream._tcp.local.", 9100),
    ] {
        let info = mdns_sd::ServiceInfo::new(
            service,
            PRINTER_NAME,
            "psb-printer.local.",
            "10.99.0.1",
            port,
            PRINTER_TXT,
        )
        .expect("service info");
        daemon.register(info).expect("register");
    }
    println!("\n{READY}");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = done_tx.send(());
    });
    let _ = done_rx.recv_timeout(Duration::from_secs(60));
    if let Ok(rx) = daemon.shutdown() {
        let _ = rx.recv_timeout(Duration::from_secs(2));
    }
}

/// Child (in `br`): `browse` on the named interface for the window (ms);
/// prints the announcements as JSON.
#[tokio::test]
#[ignore = "a helper run by browse_finds_… inside a namespace"]
async fn child_browses() {
    let Some(arg) = child_arg() else {
        return;
    };
    let (interface, window) = arg.split_once(',').expect("interface,window_ms");
    let window = Duration::from_millis(window.parse().expect("window in ms"));
    let found = browse(&[interface.to_string()], window, &CancellationToken::new())
        .await
        .expect("browse runs");
    print_result(&found);
}

/// Child (in `spy`): listens on UDP 5353 (IPv4 224.0.0.251 and IPv6
/// ff02::fb on the named interface) for the window (ms); prints how many
/// packets came and how many from the browser's side of the link.
#[test]
#[ignore = "a helper run by browse_finds_… inside a namespace"]
fn child_counts_mdns_packets() {
    let Some(arg) = child_arg() else {
        return;
    };
    let (interface, window) = arg.split_once(',').expect("interface,window_ms");
    let window = Duration::from_millis(window.parse().expect("window in ms"));
    let v4 = UdpSocket::bind("0.0.0.0:5353").expect("bind 5353");
    v4.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 251), &Ipv4Addr::new(10, 99, 6, 1))
        .expect("join 224.0.0.251");
    let index: u32 = std::fs::read_to_string(format!("/sys/class/net/{interface}/ifindex"))
        .expect("ifindex")
        .trim()
        .parse()
        .expect("a number");
    let v6 = UdpSocket::bind("[::]:5353").ok();
    if let Some(s) = &v6 {
        let _ = s.join_multicast_v6(&"ff02::fb".parse::<Ipv6Addr>().expect("ff02::fb"), index);
    }
    for s in std::iter::once(&v4).chain(v6.as_ref()) {
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
    }
    println!("\n{READY}");
    let deadline = Instant::now() + window;
    let mut total = 0u32;
    let mut from_browser = 0u32;
    let mut buf = [0u8; 9000];
    while Instant::now() < deadline {
        for s in std::iter::once(&v4).chain(v6.as_ref()) {
            if let Ok((_, from)) = s.recv_from(&mut buf) {
                total += 1;
                // Everything that is not the spy itself came from the browser.
                if from.ip() != IpAddr::V4(Ipv4Addr::new(10, 99, 6, 1)) && !is_own(from, index) {
                    from_browser += 1;
                }
            }
        }
    }
    print_result(&serde_json::json!({ "total": total, "from_browser": from_browser }));
}

/// True when `from` is one of the spy's own IPv6 addresses (its own
/// multicast loops back).
fn is_own(from: SocketAddr, index: u32) -> bool {
    let IpAddr::V6(ip) = from.ip() else {
        return false;
    };
    netdev::get_interfaces()
        .iter()
        .filter(|i| i.index == index)
        .any(|i| i.ipv6.iter().any(|n| n.addr() == ip))
}

// ------------------------------------------------------------------ gateway

#[tokio::test]
async fn a_gateway_in_a_namespace_lists_its_networks_and_its_neighbours() {
    let Some(ns) = namespaces_or_skip("gw", &["gw", "mgr"]) else {
        return;
    };
    let gw = ns.name("gw");
    ns.link("gw", "eth0", "10.99.0.1/24", "mgr", "eth0", "10.99.0.2/24");
    // A second connected network on a veth pair kept inside the gateway.
    ns.ip(&[
        "-n", &gw, "link", "add", "side1", "type", "veth", "peer", "name", "side1p",
    ]);
    ns.ip(&["-n", &gw, "addr", "add", "10.99.1.1/24", "dev", "side1"]);
    ns.ip(&["-n", &gw, "link", "set", "side1", "up"]);
    ns.ip(&["-n", &gw, "link", "set", "side1p", "up"]);
    ns.ip(&[
        "-n",
        &gw,
        "route",
        "add",
        "10.99.128.0/20",
        "via",
        "10.99.0.2",
    ]);
    ns.ip(&[
        "-n",
        &gw,
        "neigh",
        "add",
        "10.99.0.50",
        "lladdr",
        "00:00:5e:00:53:50",
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    let mgr_mac = mac_of(&ns.name("mgr"), "eth0");

    let agent_addr = SocketAddr::from(([10, 99, 0, 1], 161));
    let _agent = HostAgent::start_in(
        &["ip", "netns", "exec", &gw],
        "udp:10.99.0.1:161",
        "labgw",
        Some(agent_addr),
    );
    let json =
        Helper::start(ns.child("mgr", "child_asks_the_gateway", "10.99.0.1:161,labgw")).result();
    eprintln!("gateway tables: {json:#}");
    let tables = tables_from_json(&json);

    let seg = |net: &str| {
        tables
            .segments
            .iter()
            .find(|s| s.network == net)
            .unwrap_or_else(|| panic!("{net} listed: {json}"))
    };
    let lan = seg("10.99.0.0/24");
    assert_eq!(lan.route_type.as_deref(), Some("direct"));
    assert_eq!(lan.interface.as_deref(), Some("eth0"));
    assert!(
        lan.hosts_seen >= 2,
        "the manager and the permanent entry: {lan:?}"
    );
    let side = seg("10.99.1.0/24");
    assert_eq!(side.interface.as_deref(), Some("side1"));
    let remote = seg("10.99.128.0/20");
    assert_eq!(remote.route_type.as_deref(), Some("remote"));
    assert_eq!(remote.next_hop.as_deref(), Some("10.99.0.2"));

    let neighbour = |addr: &str| tables.neighbours.iter().find(|n| n.0 == addr).cloned();
    assert_eq!(
        neighbour("10.99.0.50"),
        Some((
            "10.99.0.50".into(),
            "00:00:5e:00:53:50".into(),
            Some("eth0".into())
        ))
    );
    assert_eq!(
        neighbour("10.99.0.2").map(|n| n.1),
        Some(mgr_mac),
        "the manager's own MAC, learned from its SNMP requests"
    );
}

/// Child (in `mgr`): `ask_gateway` at ADDR with community; prints the tables.
#[tokio::test]
#[ignore = "a helper run by a_gateway_in_a_namespace_… inside a namespace"]
async fn child_asks_the_gateway() {
    let Some(arg) = child_arg() else {
        return;
    };
    let (addr, community) = arg.split_once(',').expect("addr,community");
    let (_, tables) = ask_gateway(
        &SnmpTransport::new(0),
        addr.parse().expect("an address"),
        &[Credential::community("lab", Version::V2c, community)],
        &SnmpOptions {
            timeout: Duration::from_millis(1000),
            retries: 1,
            ..SnmpOptions::default()
        },
    )
    .await
    .expect("the gateway answers");
    print_result(&tables);
}

/// The parts of the child's JSON the test checks.
struct Tables {
    segments: Vec<Seg>,
    /// (address, mac, interface)
    neighbours: Vec<(String, String, Option<String>)>,
}

#[derive(Debug)]
struct Seg {
    network: String,
    next_hop: Option<String>,
    interface: Option<String>,
    route_type: Option<String>,
    hosts_seen: u64,
}

fn tables_from_json(v: &Json) -> Tables {
    let opt = |x: &Json| x.as_str().map(str::to_string);
    Tables {
        segments: v["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .map(|s| Seg {
                network: s["network"].as_str().unwrap_or_default().to_string(),
                next_hop: opt(&s["next_hop"]),
                interface: opt(&s["interface"]),
                route_type: opt(&s["route_type"]),
                hosts_seen: s["hosts_seen"].as_u64().unwrap_or(0),
            })
            .collect(),
        neighbours: v["neighbours"]
            .as_array()
            .expect("neighbours")
            .iter()
            .map(|n| {
                (
                    n["address"].as_str().unwrap_or_default().to_string(),
                    n["mac"].as_str().unwrap_or_default().to_string(),
                    opt(&n["interface"]),
                )
            })
            .collect(),
    }
}

/// MAC of `dev` in namespace `ns` (`ip -j link show`).
fn mac_of(ns: &str, dev: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "link", "show", dev])
        .output()
        .expect("run ip link");
    let v: Json = serde_json::from_slice(&out.stdout).expect("ip -j prints JSON");
    v[0]["address"]
        .as_str()
        .expect("a link address")
        .to_lowercase()
}
