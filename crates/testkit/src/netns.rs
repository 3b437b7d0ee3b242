//! A discovery lab in Linux network namespaces: one /24 of **real** SNMP agents
//! (snmpsim and net-snmp `snmpd` serving our recordings), a gateway whose routing table
//! names two more networks, and an IPP printer announced over DNS-SD by a real
//! `avahi-daemon`, all reachable only from a manager namespace where the scanner under
//! test runs ([`NetnsLab::mgr_command`]).
//!
//! Layout (10.77.0.0/24, every namespace on bridge `br0` in the hub namespace):
//!
//! | Address | Namespace | What |
//! |---|---|---|
//! | 10.77.0.1 | `<p>gw` | gateway: net-snmp `snmpd` with its normal modules ([`HostAgent`]: real route and ARP tables), community `public`; 10.78.0.1/24 and 10.79.0.1/24 on dummy interfaces (a veth pair kept inside the namespace where the kernel has no dummy driver); no IP forwarding |
//! | 10.77.0.2 | `<p>mgr` | the manager: default route via 10.77.0.1, no agent |
//! | 10.77.0.11 … | `<p>d<host>` | one SNMP agent each on `0.0.0.0:161`: printers and two non-printers from `tests/recordings`, each with its own serial and MAC |
//! | 10.77.0.30 + .31 | `<p>d30` | one printer (snmpd) answering on two addresses of its eth0 |
//! | 10.77.0.50 | `<p>ipp` | IPP-only printer, `_ipp._tcp` over DNS-SD (avahi), no SNMP |
//!
//! By default ([`LabSpec::default`]) 20 addresses answer SNMP (the gateway and both
//! addresses of the two-address printer counted) and the other 234 of the /24 are
//! silent. snmpsim answers both the subnet-directed broadcast and 255.255.255.255; snmpd
//! only the limited one (its reply to a directed broadcast fails with ENETUNREACH), so
//! [`LabDevice::answers_directed`] is false for every snmpd agent, the gateway included.
//! One printer answers only the community `office`, never `public`.
//!
//! Invariants:
//! - **The root namespace never gets an interface.** Each veth pair is created inside the
//!   hub namespace and its peer end is moved straight into the device namespace. Nothing
//!   the lab sends can leave the namespaces it created.
//! - **Unique names.** Namespaces are named `ps<pid>x<n>-…` (process id, lab number in the
//!   process), so parallel runs never collide.
//! - **Stopped by PID, deleted by record.** [`NetnsLab::down`] (and `Drop`, also during a
//!   panic, including one half-way through [`NetnsLab::up`]) sends SIGTERM to every
//!   responder by PID, SIGKILLs and reaps what is left after 2 s, then deletes exactly the
//!   namespaces it recorded as created. It is idempotent.
//! - **No writes outside a temp dir.** Data files, configs, logs and caches live in one
//!   [`tempfile::TempDir`]. avahi's fixed paths (`/etc/avahi/services`, `/run`) are
//!   private bind mounts inside its own mount namespace (`unshare -m`); the real ones are
//!   never touched.
//! - **Ready means answering.** `up` returns only after every SNMP address answered a
//!   unicast GET from the manager namespace and avahi logged its service as established.
//! - `up` returns `Err` only when namespaces cannot be made here (not root, no `ip`, the
//!   kernel refuses a namespace, bridge, veth or dummy link): callers skip. A missing
//!   agent or one that never answers is a panic naming what to install or the agent's log.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::host_agent::HostAgent;
use crate::process::{PeerProcess, tail};
use crate::{SNMPD_DISABLED_MODULES, recordings_dir, snmprec_to_snmpd_overrides, snmpsim_bin};

/// The lab network.
pub const LAB_NETWORK: &str = "10.77.0.0/24";
/// The gateway's address on the lab network (the manager's default route).
pub const GATEWAY_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The manager namespace's address.
pub const MGR_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The networks only the gateway's routing table knows (dummy interfaces, not reachable).
pub const GATEWAY_SEGMENTS: [&str; 2] = ["10.78.0.0/24", "10.79.0.0/24"];
/// The address of the DNS-SD-only IPP printer.
pub const DNS_SD_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 50);
/// The two addresses of the printer that answers on both.
pub const TWO_ADDRESS_PRINTER: [Ipv4Addr; 2] =
    [Ipv4Addr::new(10, 77, 0, 30), Ipv4Addr::new(10, 77, 0, 31)];
/// DNS-SD instance name of the IPP printer.
pub const DNS_SD_INSTANCE: &str = "Lab IPP Printer (room 50)";
/// DNS-SD service type the IPP printer announces.
pub const DNS_SD_SERVICE: &str = "_ipp._tcp";
/// mDNS host name of the IPP printer (without `.local`).
pub const DNS_SD_HOST: &str = "lab-ipp-50";
/// TXT record of the IPP printer (key, value), in announcement order.
pub const DNS_SD_TXT: &[(&str, &str)] = &[
    ("txtvers", "1"),
    ("qtotal", "1"),
    ("rp", "ipp/print"),
    ("ty", "Canon iR-ADV C3826"),
    ("product", "(Canon iR-ADV C3826)"),
    ("note", "Lab, room 50"),
    ("UUID", "6d4ff0ce-6b11-41ee-8000-00005e005350"),
    ("adminurl", "http://10.77.0.50/"),
    ("pdl", "application/pdf,image/urf,image/pwg-raster"),
    ("Color", "T"),
    ("Duplex", "T"),
];

/// How long every agent gets to answer its first GET (snmpsim start-up on 2 busy cores
/// is the slow part).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Recordings in `tests/recordings` that are not printers.
const NON_PRINTERS: &[&str] = &["windows-print-server", "network-switch"];
/// Printers the roster cycles through after the fixed roles.
const PRINTERS: &[&str] = &[
    "mono-laser",
    "alerts-errors",
    "brother-blob",
    "sentinel-supplies",
    "colour-mfp",
];
/// Where a recording keeps its serial number (first found wins).
const SERIAL_OIDS: &[&str] = &["1.3.6.1.2.1.43.5.1.1.17.1", "1.3.6.1.2.1.47.1.1.1.1.11.1"];
/// ifPhysAddress column.
const IF_PHYS_ADDRESS: &str = "1.3.6.1.2.1.2.2.1.6.";
/// Fewest / most SNMP-answering addresses a lab can have.
const MIN_RESPONDERS: usize = 6;
const MAX_RESPONDERS: usize = 40;

/// Labs started by this process (part of the namespace prefix).
static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabSpec {
    /// Addresses on the /24 that answer SNMP, the gateway and both addresses of the
    /// two-address printer included (default 20; clamped to 6..=40).
    pub responders: usize,
    /// Start the DNS-SD (avahi) IPP printer (default true).
    pub dns_sd: bool,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            responders: 20,
            dns_sd: true,
        }
    }
}

/// Which program answers for a lab device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentKind {
    /// snmpsim 1.2.2 serving a recording (answers directed and limited broadcasts).
    Snmpsim,
    /// net-snmp `snmpd` serving a recording as overrides (answers only the limited
    /// broadcast).
    Snmpd,
    /// net-snmp `snmpd` with its normal modules: the gateway.
    Gateway,
    /// `avahi-daemon` announcing an IPP printer; no SNMP.
    Avahi,
}

impl AgentKind {
    /// Lower-case name used in the manifest (`snmpsim`, `snmpd`, `gateway`, `avahi`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Snmpsim => "snmpsim",
            AgentKind::Snmpd => "snmpd",
            AgentKind::Gateway => "gateway",
            AgentKind::Avahi => "avahi",
        }
    }
}

/// One device of the lab, as the tests expect to find it (the manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabDevice {
    /// Its network namespace.
    pub namespace: String,
    /// Every address it answers at (sorted; the first is the primary one).
    pub addresses: Vec<Ipv4Addr>,
    /// What answers.
    pub kind: AgentKind,
    /// File stem of the recording it serves (`None` for the gateway and the IPP printer).
    pub recording: Option<String>,
    /// Its serial number after the per-device rewrite (`None` without one).
    pub serial: Option<String>,
    /// Its MAC (`00:00:5e:00:53:xx`), also set on its eth0.
    pub mac: Option<String>,
    /// Whether discovery must call it a printer.
    pub is_printer: bool,
    /// The only SNMP community it answers (`None`: no SNMP agent).
    pub community: Option<String>,
    /// Answers an SNMP GET sent to the subnet-directed broadcast (10.77.0.255).
    pub answers_directed: bool,
    /// Answers an SNMP GET sent to the limited broadcast (255.255.255.255).
    pub answers_limited: bool,
    /// Time from the agents' start until it answered its first GET (or, for avahi,
    /// logged its service as established).
    pub ready_after: Option<Duration>,
}

impl LabDevice {
    /// Its primary (lowest) address.
    pub fn address(&self) -> Ipv4Addr {
        self.addresses[0]
    }

    /// Whether it runs an SNMP agent.
    pub fn answers_snmp(&self) -> bool {
        self.community.is_some()
    }

    /// One JSON object (hand-written: this crate has no serde).
    pub fn to_json(&self) -> String {
        let addresses: Vec<String> = self
            .addresses
            .iter()
            .map(|a| json_str(&a.to_string()))
            .collect();
        format!(
            "{{\"address\":{},\"addresses\":[{}],\"namespace\":{},\"kind\":{},\"recording\":{},\
             \"serial\":{},\"mac\":{},\"is_printer\":{},\"community\":{},\
             \"answers_directed\":{},\"answers_limited\":{},\"ready_ms\":{}}}",
            json_str(&self.address().to_string()),
            addresses.join(","),
            json_str(&self.namespace),
            json_str(self.kind.as_str()),
            json_opt(self.recording.as_deref()),
            json_opt(self.serial.as_deref()),
            json_opt(self.mac.as_deref()),
            self.is_printer,
            json_opt(self.community.as_deref()),
            self.answers_directed,
            self.answers_limited,
            self.ready_after
                .map_or_else(|| "null".to_owned(), |d| d.as_millis().to_string()),
        )
    }
}

/// How long `up` took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabTimings {
    /// Creating namespaces, links and addresses.
    pub network: Duration,
    /// From starting the agents until the last one answered.
    pub agents: Duration,
    /// The whole `up`.
    pub total: Duration,
    /// The agent that took longest, and how long.
    pub slowest: Option<(String, Duration)>,
}

/// A running lab. See the module docs; dropping it tears everything down.
pub struct NetnsLab {
    prefix: String,
    namespaces: Vec<String>,
    /// (index into `devices`, process)
    processes: Vec<(usize, PeerProcess)>,
    /// The gateway's agent ([`HostAgent`]: snmpd with its normal modules).
    gateway_agent: Option<HostAgent>,
    devices: Vec<LabDevice>,
    mgr: String,
    hub: String,
    /// `unshare` and the manager's private resolv.conf (see [`NetnsLab::mgr_command`]).
    unshare: PathBuf,
    resolv_conf: PathBuf,
    timings: LabTimings,
    tmp: Option<tempfile::TempDir>,
}

/// One device of the roster, before it has an address.
struct Role {
    recording: &'static str,
    kind: AgentKind,
    community: &'static str,
    two_addresses: bool,
}

/// The SNMP devices for `responders` answering addresses (gateway not included in the
/// list but counted): fixed roles first, then printers alternating snmpd / snmpsim.
fn roster(responders: usize) -> Vec<Role> {
    let fixed = [
        // snmpd, not snmpsim: snmpsim (bound to 0.0.0.0) replies from the interface's
        // primary address whatever address was asked, so .31 would look silent; snmpd
        // replies from the address the request was sent to, as a real printer does.
        Role {
            recording: "colour-mfp",
            kind: AgentKind::Snmpd,
            community: "public",
            two_addresses: true,
        },
        Role {
            recording: "windows-print-server",
            kind: AgentKind::Snmpsim,
            community: "public",
            two_addresses: false,
        },
        Role {
            recording: "network-switch",
            kind: AgentKind::Snmpd,
            community: "public",
            two_addresses: false,
        },
        Role {
            recording: "mono-laser",
            kind: AgentKind::Snmpsim,
            community: "office",
            two_addresses: false,
        },
    ];
    let mut budget = responders.clamp(MIN_RESPONDERS, MAX_RESPONDERS) - 1;
    let mut roles = Vec::new();
    for role in fixed {
        let cost = if role.two_addresses { 2 } else { 1 };
        if cost <= budget {
            budget -= cost;
            roles.push(role);
        }
    }
    let mut k = 0;
    while budget > 0 {
        roles.push(Role {
            recording: PRINTERS[k % PRINTERS.len()],
            kind: if k % 2 == 0 {
                AgentKind::Snmpd
            } else {
                AgentKind::Snmpsim
            },
            community: "public",
            two_addresses: false,
        });
        budget -= 1;
        k += 1;
    }
    roles
}

/// A recording rewritten for one lab device.
struct Prepared {
    text: String,
    serial: Option<String>,
    mac: Option<String>,
}

/// `00005e005321` → `00:00:5e:00:53:21`.
fn colon_mac(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn hex_of(text: &str) -> String {
    text.bytes().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The serial of a lab device: the recording's serial with its last two characters
/// replaced by the device's host number (two digits), so the maker's layout stays.
fn lab_serial(original: &str, host: u8) -> String {
    let keep: String = original
        .chars()
        .take(original.chars().count().saturating_sub(2))
        .collect();
    format!("{keep}{:02}", host % 100)
}

/// Rewrite every occurrence of the recording's serial (plain and hex-encoded) and of
/// each ifPhysAddress MAC (hex, upper-case hex as in Brother's `BRN…` names, and
/// colon form) so the device is a different one. New MACs come from `next_mac`
/// (`00:00:5e:00:53:<next_mac>`, then incremented).
fn prepare_recording(text: &str, host: u8, next_mac: &mut u8) -> Prepared {
    let records: Vec<(&str, &str, &str)> = text
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '|');
            Some((parts.next()?, parts.next()?, parts.next()?))
        })
        .collect();
    let serial = SERIAL_OIDS.iter().find_map(|oid| {
        records
            .iter()
            .find(|(o, tag, value)| o == oid && *tag == "4" && !value.is_empty())
            .map(|(_, _, value)| (*value).to_owned())
    });
    let new_serial = serial.as_deref().map(|s| lab_serial(s, host));

    let mut macs: Vec<(String, String)> = Vec::new();
    for (oid, tag, value) in &records {
        if oid.starts_with(IF_PHYS_ADDRESS)
            && *tag == "4x"
            && value.len() == 12
            && !macs.iter().any(|(old, _)| old.eq_ignore_ascii_case(value))
        {
            let new = format!("00005e0053{:02x}", *next_mac);
            *next_mac = next_mac
                .checked_add(1)
                .expect("the lab ran out of documentation-range MACs");
            macs.push((value.to_ascii_lowercase(), new));
        }
    }

    let mut out = String::with_capacity(text.len());
    for (oid, tag, value) in &records {
        let mut value = (*value).to_owned();
        if let (Some(old), Some(new)) = (&serial, &new_serial) {
            if *tag == "4x" {
                value = value
                    .replace(&hex_of(old), &hex_of(new))
                    .replace(&hex_of(old).to_uppercase(), &hex_of(new).to_uppercase());
            } else {
                value = value.replace(old.as_str(), new);
            }
        }
        for (old, new) in &macs {
            value = value
                .replace(old.as_str(), new)
                .replace(&old.to_uppercase(), &new.to_uppercase());
            if *tag != "4x" {
                value = value.replace(&colon_mac(old), &colon_mac(new));
            }
        }
        let _ = writeln!(out, "{oid}|{tag}|{value}");
    }
    Prepared {
        text: out,
        serial: new_serial,
        mac: macs.first().map(|(_, new)| colon_mac(new)),
    }
}

/// Runs a command to completion; `Err` carries the command line and its stderr.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `program` from `PATH` or the usual sbin/bin directories.
fn find_program(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn require_program(program: &str, package: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!("`{program}` is not installed: apt-get install {package} (scripts/setup.sh does)")
    })
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_owned(), json_str)
}

/// A file for a process's stdout and stderr.
fn log_file(path: &Path) -> (Stdio, Stdio) {
    let out = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let err = out.try_clone().expect("clone a log file handle");
    (Stdio::from(out), Stdio::from(err))
}

impl NetnsLab {
    /// Create the namespaces, start every agent and wait until each answers.
    ///
    /// `Err(reason)` when network namespaces cannot be made here (not root, no `ip`,
    /// the kernel refuses a namespace or link): callers print "skipped: reason".
    ///
    /// # Panics
    /// When an agent program is missing (the message names the package) or an agent
    /// does not answer within 120 s (the message carries its log tail). Everything
    /// already started is torn down first.
    pub fn up(spec: LabSpec) -> Result<NetnsLab, String> {
        let started = Instant::now();
        if find_program("ip").is_none() {
            return Err("no `ip` command (apt-get install iproute2)".into());
        }
        let tmp = tempfile::Builder::new()
            .prefix("printscout-netns-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let mut lab = NetnsLab {
            mgr: String::new(),
            hub: String::new(),
            prefix: String::new(),
            unshare: PathBuf::from("unshare"),
            resolv_conf: PathBuf::new(),
            namespaces: Vec::new(),
            processes: Vec::new(),
            gateway_agent: None,
            devices: Vec::new(),
            timings: LabTimings::default(),
            tmp: Some(tmp),
        };
        // The first namespace tells whether we may create them at all. One left behind
        // by a killed process whose PID we now have: take the next number.
        for attempt in 0.. {
            let number = LAB_COUNTER.fetch_add(1, Ordering::SeqCst);
            lab.prefix = format!("ps{}x{number}-", std::process::id());
            lab.mgr = format!("{}mgr", lab.prefix);
            lab.hub = format!("{}hub", lab.prefix);
            match lab.add_namespace("hub") {
                Ok(_) => break,
                Err(e) if e.contains("exists") && attempt < 20 => {}
                Err(e) => return Err(format!("cannot create network namespaces ({e})")),
            }
        }

        // Tools: checked before anything else starts, so a missing one fails fast.
        let tools = Tools {
            snmpd: require_program("snmpd", "snmpd"),
            snmpget: require_program("snmpget", "snmp"),
            snmpsim: snmpsim_bin(),
            avahi: spec
                .dns_sd
                .then(|| require_program("avahi-daemon", "avahi-daemon")),
            unshare: require_program("unshare", "util-linux"),
        };

        lab.unshare = tools.unshare.clone();
        lab.resolv_conf = lab.dir().join("mgr-resolv.conf");
        std::fs::write(
            &lab.resolv_conf,
            "# PrintScout netns lab: no DNS server, so lookups fail at once\n\
             nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write the manager's resolv.conf");

        lab.build_network(&spec)?;
        lab.timings.network = started.elapsed();

        let agents_started = Instant::now();
        lab.start_agents(&tools);
        lab.wait_ready(&tools.snmpget, agents_started);
        lab.timings.agents = agents_started.elapsed();
        lab.timings.slowest = lab
            .devices
            .iter()
            .filter_map(|d| d.ready_after.map(|t| (d.namespace.clone(), t)))
            .max_by_key(|(_, t)| *t);
        lab.timings.total = started.elapsed();
        Ok(lab)
    }

    /// The manager namespace (run the scanner here).
    pub fn mgr(&self) -> &str {
        &self.mgr
    }

    /// The namespace prefix (`ps<pid>x<n>-`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every namespace this lab created, in creation order.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// `program` in the manager namespace: add arguments and run it.
    ///
    /// It runs as `ip netns exec <mgr> unshare -m sh -c 'mount --bind <lab resolv.conf>
    /// /etc/resolv.conf && exec "$@"' <program> …`: in a private mount namespace whose
    /// `/etc/resolv.conf` names a resolver on the manager's own loopback where nothing
    /// listens, so name lookups (reverse lookups by peer tools, say) fail at once instead
    /// of waiting 10 s each for the host's DNS server, which the lab cannot reach. `/etc/hosts`
    /// still works. Each step execs the next, so the child's PID is the program's own
    /// (a signal sent to it reaches the program).
    pub fn mgr_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = self.exec_command(&self.mgr, &self.unshare);
        command
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"")
            .arg(&self.resolv_conf)
            .arg(program);
        command
    }

    /// The resolv.conf [`NetnsLab::mgr_command`] mounts over `/etc/resolv.conf`.
    pub fn mgr_resolv_conf(&self) -> &Path {
        &self.resolv_conf
    }

    /// `ip netns exec <namespace> <program>`.
    pub fn exec_command(&self, namespace: &str, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", namespace]).arg(program);
        command
    }

    /// The manifest: gateway first, then the SNMP devices by address, the IPP printer
    /// last.
    pub fn devices(&self) -> &[LabDevice] {
        &self.devices
    }

    /// The gateway device.
    pub fn gateway(&self) -> &LabDevice {
        self.devices
            .iter()
            .find(|d| d.kind == AgentKind::Gateway)
            .expect("every lab has a gateway")
    }

    /// Number of addresses that answer SNMP.
    pub fn responding_addresses(&self) -> usize {
        self.devices
            .iter()
            .filter(|d| d.answers_snmp())
            .map(|d| d.addresses.len())
            .sum()
    }

    /// How long `up` took.
    pub fn timings(&self) -> &LabTimings {
        &self.timings
    }

    /// Packets received so far on `interface` inside `namespace` (its
    /// `/sys/class/net/<if>/statistics/rx_packets`).
    pub fn rx_packets(&self, namespace: &str, interface: &str) -> Option<u64> {
        let out = self
            .exec_command(namespace, "cat")
            .arg(format!("/sys/class/net/{interface}/statistics/rx_packets"))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// The last `lines` lines of the logs of the agent serving `device`.
    pub fn log_tail(&self, device: &LabDevice, lines: usize) -> String {
        if device.kind == AgentKind::Gateway {
            return self
                .gateway_agent
                .as_ref()
                .map(|agent| agent.log_tail(lines))
                .unwrap_or_default();
        }
        self.processes
            .iter()
            .filter(|(i, _)| self.devices[*i].namespace == device.namespace)
            .map(|(_, p)| p.log_tail(lines))
            .collect()
    }

    /// The whole manifest as one line of JSON: `{"mgr": …, "mgr_resolv_conf": …,
    /// "prefix": …, "network": …, "gateway_segments": […], "responding_addresses": …,
    /// "up_ms": …, "agents_ms": …, "devices": [LabDevice::to_json …]}`.
    pub fn manifest_json(&self) -> String {
        let devices: Vec<String> = self.devices.iter().map(LabDevice::to_json).collect();
        let segments: Vec<String> = GATEWAY_SEGMENTS.iter().map(|s| json_str(s)).collect();
        format!(
            "{{\"mgr\":{},\"mgr_resolv_conf\":{},\"prefix\":{},\"network\":{},\
             \"gateway_segments\":[{}],\"responding_addresses\":{},\"up_ms\":{},\
             \"agents_ms\":{},\"devices\":[{}]}}",
            json_str(&self.mgr),
            json_str(&self.resolv_conf.to_string_lossy()),
            json_str(&self.prefix),
            json_str(LAB_NETWORK),
            segments.join(","),
            self.responding_addresses(),
            self.timings.total.as_millis(),
            self.timings.agents.as_millis(),
            devices.join(",")
        )
    }

    /// Stop every agent by PID and delete the namespaces this lab created. Idempotent
    /// (`Drop` calls it too).
    pub fn down(&mut self) {
        let mut pids = Vec::new();
        for (_, process) in &mut self.processes {
            if process.exited().is_none() {
                pids.push(process.pid().to_string());
            }
        }
        if let Some(agent) = &mut self.gateway_agent
            && agent.exited().is_none()
        {
            pids.push(agent.pid().to_string());
        }
        if !pids.is_empty() {
            // One SIGTERM for all of them, so they stop in parallel; each PeerProcess's
            // Drop then waits (2 s at most), SIGKILLs a straggler and reaps it.
            let _ = Command::new("kill")
                .arg("-TERM")
                .args(&pids)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        self.processes.clear();
        self.gateway_agent = None;
        while let Some(namespace) = self.namespaces.pop() {
            let _ = run("ip", &["netns", "del", &namespace]);
        }
        self.tmp = None;
    }

    fn dir(&self) -> &Path {
        self.tmp
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("the lab's temp dir lives until down()")
    }

    fn add_namespace(&mut self, short: &str) -> Result<String, String> {
        let name = format!("{}{short}", self.prefix);
        run("ip", &["netns", "add", &name])?;
        self.namespaces.push(name.clone());
        run("ip", &["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// A veth pair from the hub's bridge to `eth0` in `namespace` (created in the hub,
    /// peer moved straight into the namespace), with `mac` and `/24` addresses.
    fn attach(
        &self,
        namespace: &str,
        port: &str,
        mac: &str,
        addresses: &[Ipv4Addr],
    ) -> Result<(), String> {
        let hub = self.hub.as_str();
        run(
            "ip",
            &[
                "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                namespace,
            ],
        )?;
        run(
            "ip",
            &["-n", hub, "link", "set", port, "master", "br0", "up"],
        )?;
        run(
            "ip",
            &["-n", namespace, "link", "set", "eth0", "address", mac],
        )?;
        for address in addresses {
            run(
                "ip",
                &[
                    "-n",
                    namespace,
                    "addr",
                    "add",
                    &format!("{address}/24"),
                    "brd",
                    "+",
                    "dev",
                    "eth0",
                ],
            )?;
        }
        run("ip", &["-n", namespace, "link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// Namespaces, links and addresses; fills `devices` (the manifest) and writes each
    /// device's recording into the temp dir.
    fn build_network(&mut self, spec: &LabSpec) -> Result<(), String> {
        let hub = self.hub.clone();
        // No multicast snooping: mDNS must reach every port.
        run(
            "ip",
            &[
                "-n",
                &hub,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;

        // Manager.
        let mgr = self.add_namespace("mgr")?;
        self.attach(&mgr, "vmgr", "00:00:5e:00:53:02", &[MGR_ADDRESS])?;
        run(
            "ip",
            &[
                "-n",
                &mgr,
                "route",
                "add",
                "default",
                "via",
                &GATEWAY_ADDRESS.to_string(),
            ],
        )?;

        // Gateway: two dummy networks, no forwarding.
        let gw = self.add_namespace("gw")?;
        self.attach(&gw, "vgw", "00:00:5e:00:53:01", &[GATEWAY_ADDRESS])?;
        for (name, net, mac) in [
            ("dum78", "10.78.0.1/24", "00:00:5e:00:53:78"),
            ("dum79", "10.79.0.1/24", "00:00:5e:00:53:79"),
        ] {
            // A dummy interface; kernels without the dummy driver (some containers) get
            // a veth pair whose both ends stay in the gateway namespace instead.
            let dummy = run(
                "ip",
                &[
                    "-n", &gw, "link", "add", name, "address", mac, "type", "dummy",
                ],
            );
            if dummy.is_err() {
                let peer = format!("{name}p");
                run(
                    "ip",
                    &[
                        "-n", &gw, "link", "add", name, "address", mac, "type", "veth", "peer",
                        "name", &peer,
                    ],
                )?;
                run("ip", &["-n", &gw, "link", "set", &peer, "up"])?;
            }
            run("ip", &["-n", &gw, "addr", "add", net, "dev", name])?;
            run("ip", &["-n", &gw, "link", "set", name, "up"])?;
        }
        // IPv4 settings of a new namespace may be inherited from the host's: say it.
        run(
            "ip",
            &[
                "netns",
                "exec",
                &gw,
                "sh",
                "-c",
                "echo 0 > /proc/sys/net/ipv4/ip_forward",
            ],
        )?;
        self.devices.push(LabDevice {
            namespace: gw,
            addresses: vec![GATEWAY_ADDRESS],
            kind: AgentKind::Gateway,
            recording: None,
            serial: None,
            mac: Some("00:00:5e:00:53:01".into()),
            is_printer: false,
            community: Some("public".into()),
            answers_directed: false,
            answers_limited: true,
            ready_after: None,
        });

        // SNMP devices.
        let mut hosts = (11u8..50).filter(|h| !matches!(h, 30 | 31));
        let mut next_mac = 0x80u8;
        let mut snmp_devices = Vec::new();
        for role in roster(spec.responders) {
            let addresses: Vec<Ipv4Addr> = if role.two_addresses {
                TWO_ADDRESS_PRINTER.to_vec()
            } else {
                let host = hosts.next().expect("the roster fits in 10.77.0.11-49");
                vec![Ipv4Addr::new(10, 77, 0, host)]
            };
            let host = addresses[0].octets()[3];
            let source = recordings_dir().join(format!("{}.snmprec", role.recording));
            let text = std::fs::read_to_string(&source)
                .unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
            let prepared = prepare_recording(&text, host, &mut next_mac);
            let namespace = self.add_namespace(&format!("d{host}"))?;
            let mac = prepared
                .mac
                .clone()
                .unwrap_or_else(|| format!("00:00:5e:00:53:{host:02x}"));
            self.attach(&namespace, &format!("v{host}"), &mac, &addresses)?;

            let dir = self.dir().join(format!("d{host}"));
            std::fs::create_dir_all(dir.join("data")).expect("create a device dir");
            // snmpsim: community = file stem.
            std::fs::write(
                dir.join("data").join(format!("{}.snmprec", role.community)),
                &prepared.text,
            )
            .expect("write the device's recording");
            snmp_devices.push(LabDevice {
                namespace,
                addresses,
                kind: role.kind,
                recording: Some(role.recording.to_owned()),
                serial: prepared.serial,
                mac: Some(mac),
                is_printer: !NON_PRINTERS.contains(&role.recording),
                community: Some(role.community.to_owned()),
                answers_directed: role.kind == AgentKind::Snmpsim,
                answers_limited: true,
                ready_after: None,
            });
        }
        snmp_devices.sort_by_key(LabDevice::address);
        self.devices.extend(snmp_devices);

        if spec.dns_sd {
            let namespace = self.add_namespace("ipp")?;
            self.attach(&namespace, "vipp", "00:00:5e:00:53:50", &[DNS_SD_ADDRESS])?;
            self.devices.push(LabDevice {
                namespace,
                addresses: vec![DNS_SD_ADDRESS],
                kind: AgentKind::Avahi,
                recording: None,
                serial: None,
                mac: Some("00:00:5e:00:53:50".into()),
                is_printer: true,
                community: None,
                answers_directed: false,
                answers_limited: false,
                ready_after: None,
            });
        }
        Ok(())
    }

    fn start_agents(&mut self, tools: &Tools) {
        for index in 0..self.devices.len() {
            let device = self.devices[index].clone();
            let process = match device.kind {
                AgentKind::Snmpsim => self.start_snmpsim(&device, &tools.snmpsim),
                AgentKind::Snmpd => self.start_snmpd(&device, &tools.snmpd),
                AgentKind::Gateway => {
                    // Normal modules: its real routing and ARP tables. Readiness is
                    // probed with the others in wait_ready.
                    let prefix = ["ip", "netns", "exec", device.namespace.as_str()];
                    let community = device.community.as_deref().unwrap_or("public");
                    self.gateway_agent = Some(HostAgent::start_in(
                        &prefix,
                        "udp:0.0.0.0:161",
                        community,
                        None,
                    ));
                    continue;
                }
                AgentKind::Avahi => {
                    let Some(avahi) = &tools.avahi else { continue };
                    self.start_avahi(&device, avahi, &tools.unshare)
                }
            };
            self.processes.push((index, process));
        }
    }

    fn device_dir(&self, device: &LabDevice) -> PathBuf {
        let short = device
            .namespace
            .strip_prefix(&self.prefix)
            .unwrap_or(&device.namespace);
        let dir = self.dir().join(short);
        std::fs::create_dir_all(&dir).expect("create a device dir");
        dir
    }

    fn start_snmpsim(&self, device: &LabDevice, bin: &Path) -> PeerProcess {
        let dir = self.device_dir(device);
        let log = dir.join("snmpsim.log");
        let (out, err) = log_file(&log);
        let mut command = self.exec_command(&device.namespace, bin);
        command
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .arg(format!("--cache-dir={}", dir.join("cache").display()))
            .arg("--agent-udpv4-endpoint=0.0.0.0:161")
            .arg("--log-level=error")
            // As root snmpsim refuses to run ("Must drop privileges") without this.
            .env("SNMPSIM_ALLOW_ROOT", "true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        PeerProcess::spawn("snmpsim", command, vec![log])
    }

    /// snmpd on `0.0.0.0:161` in the device's namespace serving its recording as
    /// overrides, with the host's modules off ([`SNMPD_DISABLED_MODULES`]).
    fn start_snmpd(&self, device: &LabDevice, bin: &Path) -> PeerProcess {
        let dir = self.device_dir(device);
        let state = dir.join("state");
        std::fs::create_dir_all(&state).expect("create snmpd's persistent dir");
        let conf = dir.join("snmpd.conf");
        let log = dir.join("snmpd.log");
        let out_log = dir.join("snmpd.out");
        let community = device.community.as_deref().unwrap_or("public");
        let mut text = format!(
            "rocommunity {community} 10.77.0.0/16\n\
             dontLogTCPWrappersConnects yes\n\
             serverRecvBuf 1048576\n"
        );
        let file = dir.join("data").join(format!("{community}.snmprec"));
        let recording = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let (overrides, _skipped) = snmprec_to_snmpd_overrides(&recording);
        text.push_str(&overrides);
        std::fs::write(&conf, text).expect("write snmpd.conf");

        let (out, err) = log_file(&out_log);
        let mut command = self.exec_command(&device.namespace, bin);
        command
            .args(["-f", "-Lf"])
            .arg(&log)
            .args(["-C", "-c"])
            .arg(&conf)
            .args(["-m", "", "-r", "-p"])
            .arg(dir.join("snmpd.pid"))
            .arg(format!("--persistentDir={}", state.display()))
            .arg("-I")
            .arg(format!("-{}", SNMPD_DISABLED_MODULES.join(",")))
            .arg("udp:0.0.0.0:161")
            .env("SNMP_PERSISTENT_DIR", &state)
            .env("SNMPCONFPATH", &dir)
            .env("MIBS", "")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        PeerProcess::spawn("snmpd", command, vec![log, out_log])
    }

    /// avahi-daemon in its own mount namespace, with private directories bind-mounted
    /// over `/etc/avahi/services` (our static service file) and `/run` (its pid file and
    /// socket), so the real ones are never touched.
    fn start_avahi(&self, device: &LabDevice, avahi: &Path, unshare: &Path) -> PeerProcess {
        let dir = self.device_dir(device);
        let services = dir.join("services");
        let run_dir = dir.join("run");
        std::fs::create_dir_all(&services).expect("create avahi's service dir");
        std::fs::create_dir_all(run_dir.join("avahi-daemon")).expect("create avahi's run dir");
        let conf = dir.join("avahi-daemon.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhost-name={DNS_SD_HOST}\ndomain-name=local\nuse-ipv4=yes\n\
                 use-ipv6=no\nallow-interfaces=eth0\nenable-dbus=no\nratelimit-interval-usec=0\n\
                 [wide-area]\nenable-wide-area=no\n\
                 [publish]\npublish-addresses=yes\npublish-hinfo=no\npublish-workstation=no\n\
                 publish-domain=no\npublish-aaaa-on-ipv4=no\npublish-a-on-ipv6=no\n\
                 [reflector]\nenable-reflector=no\n"
            ),
        )
        .expect("write avahi-daemon.conf");
        let mut service = String::from(
            "<?xml version=\"1.0\" standalone='no'?>\n\
             <!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n",
        );
        let _ = writeln!(service, "  <name>{DNS_SD_INSTANCE}</name>\n  <service>");
        let _ = writeln!(
            service,
            "    <type>{DNS_SD_SERVICE}</type>\n    <port>631</port>"
        );
        for (key, value) in DNS_SD_TXT {
            let _ = writeln!(service, "    <txt-record>{key}={value}</txt-record>");
        }
        service.push_str("  </service>\n</service-group>\n");
        std::fs::write(services.join("lab-ipp-printer.service"), service)
            .expect("write the avahi service file");

        let log = dir.join("avahi.log");
        let (out, err) = log_file(&log);
        // ip netns exec → unshare → sh → avahi-daemon: each execs the next, so the PID we
        // hold is avahi-daemon's.
        let mut command = self.exec_command(&device.namespace, unshare);
        command
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(
                "set -e; mount --bind \"$1\" /etc/avahi/services; mount --bind \"$2\" /run; \
                 exec \"$3\" -f \"$4\" --no-drop-root --no-chroot --no-rlimits --no-proc-title",
            )
            .arg("printscout-avahi")
            .arg(&services)
            .arg(&run_dir)
            .arg(avahi)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        PeerProcess::spawn("avahi-daemon", command, vec![log])
    }

    /// Poll until every SNMP address answers a unicast GET from the manager namespace
    /// (all probed in parallel, one `snmpget` each per round) and avahi has logged its
    /// service; panics with the log tails after [`READY_TIMEOUT`].
    fn wait_ready(&mut self, snmpget: &Path, started: Instant) {
        // (device index, address, community)
        let mut pending: Vec<(usize, Ipv4Addr, String)> = Vec::new();
        let mut pending_avahi: Vec<usize> = Vec::new();
        let mut first_answer: Vec<Option<Duration>> = vec![None; self.devices.len()];
        let mut remaining: Vec<usize> = vec![0; self.devices.len()];
        for (index, device) in self.devices.iter().enumerate() {
            match &device.community {
                Some(community) => {
                    for address in &device.addresses {
                        pending.push((index, *address, community.clone()));
                        remaining[index] += 1;
                    }
                }
                None if device.kind == AgentKind::Avahi => pending_avahi.push(index),
                None => {}
            }
        }
        let mut avahi_logs: Vec<(usize, PathBuf)> = Vec::new();
        for index in &pending_avahi {
            let dir = self.device_dir(&self.devices[*index]);
            avahi_logs.push((*index, dir.join("avahi.log")));
        }

        loop {
            for (index, process) in &mut self.processes {
                if let Some(status) = process.exited() {
                    let message = format!(
                        "{} for {} (namespace {}) exited ({status}) before the lab was ready:\n{}",
                        process.name(),
                        self.devices[*index].address(),
                        self.devices[*index].namespace,
                        process.log_tail(30)
                    );
                    panic!("{message}");
                }
            }
            if let Some(agent) = &mut self.gateway_agent
                && let Some(status) = agent.exited()
            {
                let message = format!(
                    "the gateway's snmpd exited ({status}) before the lab was ready:\n{}",
                    agent.log_tail(30)
                );
                panic!("{message}");
            }
            let probes: Vec<(usize, Option<Child>)> = pending
                .iter()
                .enumerate()
                .map(|(slot, (_, address, community))| {
                    let child = self
                        .exec_command(&self.mgr, snmpget)
                        .args(["-v2c", "-c", community, "-t", "0.5", "-r", "0", "-On"])
                        .arg(address.to_string())
                        .arg("1.3.6.1.2.1.1.5.0")
                        .env("MIBS", "")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                        .ok();
                    (slot, child)
                })
                .collect();
            let mut answered = Vec::new();
            for (slot, child) in probes {
                let Some(child) = child else { continue };
                if let Ok(output) = child.wait_with_output()
                    && String::from_utf8_lossy(&output.stdout).contains(" = ")
                {
                    answered.push(slot);
                }
            }
            for slot in answered.into_iter().rev() {
                let (index, _, _) = pending.remove(slot);
                remaining[index] -= 1;
                if remaining[index] == 0 {
                    first_answer[index] = Some(started.elapsed());
                }
            }
            avahi_logs.retain(|(index, log)| {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                if text.contains("successfully established") {
                    first_answer[*index] = Some(started.elapsed());
                    false
                } else {
                    true
                }
            });
            if pending.is_empty() && avahi_logs.is_empty() {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                let mut message =
                    format!("the netns lab was not ready after {READY_TIMEOUT:?}; still silent:");
                for (index, address, _) in &pending {
                    let _ = write!(message, " {address} ({})", self.devices[*index].namespace);
                }
                for (index, log) in &avahi_logs {
                    let _ = write!(
                        message,
                        "\navahi in {} never established its service:\n{}",
                        self.devices[*index].namespace,
                        tail(log, 20)
                    );
                }
                let mut seen = Vec::new();
                for (index, _, _) in &pending {
                    if !seen.contains(index) {
                        seen.push(*index);
                        let _ = write!(message, "\n{}", self.log_tail(&self.devices[*index], 20));
                    }
                }
                panic!("{message}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        for (device, ready) in self.devices.iter_mut().zip(first_answer) {
            device.ready_after = ready;
        }
    }
}

/// Programs the agents need.
struct Tools {
    snmpd: PathBuf,
    snmpget: PathBuf,
    snmpsim: PathBuf,
    avahi: Option<PathBuf>,
    unshare: PathBuf,
}

impl Drop for NetnsLab {
    fn drop(&mut self) {
        self.down();
    }
}

impl std::fmt::Debug for NetnsLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetnsLab")
            .field("mgr", &self.mgr)
            .field("namespaces", &self.namespaces.len())
            .field("agents", &self.processes.len())
            .field("devices", &self.devices.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(name: &str) -> String {
        std::fs::read_to_string(recordings_dir().join(format!("{name}.snmprec")))
            .expect("read a recording")
    }

    #[test]
    fn the_default_roster_has_twenty_answering_addresses() {
        let roles = roster(20);
        let addresses: usize = 1 + roles
            .iter()
            .map(|r| if r.two_addresses { 2 } else { 1 })
            .sum::<usize>();
        assert_eq!(addresses, 20);
        assert_eq!(roles.iter().filter(|r| r.two_addresses).count(), 1);
        assert_eq!(roles.iter().filter(|r| r.community == "office").count(), 1);
        for non_printer in NON_PRINTERS {
            assert!(roles.iter().any(|r| r.recording == *non_printer));
        }
        assert!(roles.iter().any(|r| r.kind == AgentKind::Snmpd));
        assert!(roles.iter().any(|r| r.kind == AgentKind::Snmpsim));
    }

    #[test]
    fn a_rewritten_recording_has_a_new_serial_and_mac_everywhere() {
        let mut next = 0x80;
        let brother = prepare_recording(&text_of("brother-blob"), 17, &mut next);
        assert_eq!(brother.serial.as_deref(), Some("U64ZZ2N00017"));
        assert_eq!(brother.mac.as_deref(), Some("00:00:5e:00:53:80"));
        assert!(!brother.text.contains("U64ZZ2N00042"));
        assert!(!brother.text.to_lowercase().contains("00005e005326"));
        assert!(brother.text.contains("BRN00005E005380"));
        assert_eq!(next, 0x81);

        let hp = prepare_recording(&text_of("mono-laser"), 30, &mut next);
        assert_eq!(hp.serial.as_deref(), Some("VNBZZ00430"));
        assert!(hp.text.contains("SN VNBZZ00430"));
        assert!(!hp.text.contains("VNBZZ00421"));
        assert_eq!(
            hp.text.lines().count(),
            text_of("mono-laser").lines().count()
        );
    }

    #[test]
    fn the_switch_keeps_its_layout_and_gets_new_port_macs() {
        let mut next = 0x90;
        let original = text_of("network-switch");
        let switch = prepare_recording(&original, 22, &mut next);
        assert_eq!(switch.serial.as_deref(), Some("SG7ZZ0Q022"));
        assert_eq!(switch.mac.as_deref(), Some("00:00:5e:00:53:90"));
        assert_eq!(next, 0x95, "five interfaces, five new MACs");
        let oids = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| l.split('|').next().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(oids(&switch.text), oids(&original));
    }

    #[test]
    fn the_manifest_is_json_with_escaped_strings() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        let device = LabDevice {
            namespace: "ps1x0-d11".into(),
            addresses: vec![Ipv4Addr::new(10, 77, 0, 11)],
            kind: AgentKind::Snmpsim,
            recording: Some("mono-laser".into()),
            serial: Some("VNBZZ00411".into()),
            mac: None,
            is_printer: true,
            community: Some("public".into()),
            answers_directed: true,
            answers_limited: true,
            ready_after: Some(Duration::from_millis(1500)),
        };
        let json = device.to_json();
        assert!(json.starts_with("{\"address\":\"10.77.0.11\",\"addresses\":[\"10.77.0.11\"]"));
        assert!(json.contains("\"mac\":null"));
        assert!(json.contains("\"kind\":\"snmpsim\""));
        assert!(json.ends_with("\"ready_ms\":1500}"));
    }
}
