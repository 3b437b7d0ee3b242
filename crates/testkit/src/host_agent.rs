//! net-snmp `snmpd` with its NORMAL MIB modules, serving this host's (or a
//! network namespace's) real interfaces, routing and ARP/neighbour tables —
//! the "default gateway" peer for tests of the gateway-tables reader. Unlike
//! [`crate::Snmpd`] it serves no recording and disables only `smux` (which
//! would bind TCP 199 and collide between parallel agents).
//!
//! Two ways to start it:
//! - [`HostAgent::start`]: in this namespace, on `127.0.0.1:<free port>`,
//!   read-only community allowed from `127.0.0.0/8` only; ready when it
//!   answers a v2c GET.
//! - [`HostAgent::start_in`]: under a prefix command such as
//!   `["ip", "netns", "exec", "lab-gw"]` (the prefix must `exec` the command,
//!   as `ip netns exec` does, so the PID we hold is snmpd's own), bound where
//!   the caller says (`udp:0.0.0.0:161`), community allowed from anywhere —
//!   the namespace is the fence. Readiness is probed with `snmpget` run under
//!   the same prefix (so it works inside a namespace the root namespace
//!   cannot reach), or not at all with `ready_probe: None` (the caller waits).
//!   With an empty prefix the bind address must be loopback.
//!
//! Invariants: config, log, pid file and persistent state live in a
//! [`tempfile::TempDir`]; `-C` keeps snmpd from reading the system's
//! snmpd.conf; `Drop` stops the process by PID (SIGTERM, SIGKILL after 2 s)
//! and reaps it; nothing is found or killed by name.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;
use crate::snmpd::snmpd_bin;
use crate::{free_udp_port, v2c_get_answers};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running net-snmp agent serving the real tables of where it runs.
pub struct HostAgent {
    process: PeerProcess,
    addr: SocketAddr,
    community: String,
    startup: Duration,
    _tmp: tempfile::TempDir,
}

impl HostAgent {
    /// snmpd with normal modules on `127.0.0.1:<free port>`, answering
    /// `community` (v1/v2c, read-only) from 127.0.0.0/8.
    ///
    /// # Panics
    /// If snmpd is missing, or does not answer within 30 s (the message
    /// carries its log tail).
    pub fn start(community: &str) -> HostAgent {
        let mut last = String::new();
        for _ in 0..3 {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_port()));
            let bind = format!("udp:{addr}");
            match HostAgent::try_start(&[], &bind, community, Some(addr)) {
                Ok(agent) => return agent,
                Err(message) => last = message,
            }
        }
        panic!("{last}")
    }

    /// snmpd with normal modules run as `<prefix…> snmpd … <bind>`, e.g.
    /// prefix `["ip", "netns", "exec", "lab-gw"]` and bind `udp:0.0.0.0:161`.
    /// With `ready_probe: Some(addr)` it returns once `<prefix…> snmpget`
    /// gets an answer from `addr`; with `None` it returns right after the
    /// spawn and the caller waits.
    ///
    /// # Panics
    /// If snmpd is missing, the prefix is empty and `bind` is not a loopback
    /// address, the community is not a plain word, or the agent dies or does
    /// not answer the probe within 30 s.
    pub fn start_in(
        prefix: &[&str],
        bind: &str,
        community: &str,
        ready_probe: Option<SocketAddr>,
    ) -> HostAgent {
        match HostAgent::try_start(prefix, bind, community, ready_probe) {
            Ok(agent) => agent,
            Err(message) => panic!("{message}"),
        }
    }

    fn try_start(
        prefix: &[&str],
        bind: &str,
        community: &str,
        ready_probe: Option<SocketAddr>,
    ) -> Result<HostAgent, String> {
        assert!(
            !community.is_empty()
                && community
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b)),
            "community {community:?} must be a plain word (letters, digits, - _ . @)"
        );
        let addr = ready_probe.or_else(|| parse_bind(bind)).unwrap_or_else(|| {
            panic!("cannot tell the agent's address from bind {bind:?}; pass a ready_probe")
        });
        if prefix.is_empty() {
            let bound = parse_bind(bind);
            assert!(
                bound.is_some_and(|a| a.ip().is_loopback()),
                "refusing to start a host agent outside a namespace on non-loopback {bind:?}"
            );
        }
        let tmp = tempfile::Builder::new()
            .prefix("printscout-host-agent-")
            .tempdir()
            .expect("create a temp dir for snmpd");
        let conf = tmp.path().join("host-agent.conf");
        let log = tmp.path().join("snmpd.log");
        let out_log = tmp.path().join("snmpd.out");
        let state = tmp.path().join("state");
        std::fs::create_dir(&state).expect("create snmpd's persistent dir");
        let source = if prefix.is_empty() {
            "127.0.0.0/8"
        } else {
            "default"
        };
        let mut text = format!(
            "# generated by printscout-testkit (host agent)\n\
             rocommunity {community} {source}\n\
             dontLogTCPWrappersConnects yes\n"
        );
        if !prefix.is_empty() {
            text.push_str(&format!("rocommunity6 {community} default\n"));
        }
        std::fs::write(&conf, text).expect("write snmpd.conf");

        let bin = snmpd_bin();
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        command
            .args(["-f", "-Lf"])
            .arg(&log)
            .args(["-C", "-c"])
            .arg(&conf)
            .args(["-m", "", "-r", "-p"])
            .arg(tmp.path().join("snmpd.pid"))
            .arg(format!("--persistentDir={}", state.display()))
            .args(["-I", "-smux"])
            .arg(bind)
            .env("SNMP_PERSISTENT_DIR", &state)
            .env("SNMPCONFPATH", tmp.path())
            .env("MIBS", "");
        let out = File::create(&out_log).expect("create the snmpd output file");
        let err = out.try_clone().expect("clone the snmpd output file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));

        let started = Instant::now();
        let mut process = PeerProcess::spawn("snmpd (host agent)", command, vec![log, out_log]);
        if let Some(probe) = ready_probe {
            loop {
                if let Some(status) = process.exited() {
                    return Err(format!(
                        "{} exited ({status}) before answering on {probe}:\n{}",
                        process.name(),
                        process.log_tail(30)
                    ));
                }
                let answered = if prefix.is_empty() {
                    v2c_get_answers(probe, community, Duration::from_millis(300))
                } else {
                    snmpget_answers(prefix, probe, community)
                };
                if answered {
                    break;
                }
                if started.elapsed() > READY_TIMEOUT {
                    return Err(format!(
                        "snmpd host agent (pid {}) did not answer on {probe} within \
                         {READY_TIMEOUT:?}:\n{}",
                        process.pid(),
                        process.log_tail(30)
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(HostAgent {
            process,
            addr,
            community: community.to_owned(),
            startup: started.elapsed(),
            _tmp: tmp,
        })
    }

    /// Where it answers: the ready probe's address, else the bind address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The community it answers.
    pub fn community(&self) -> &str {
        &self.community
    }

    /// PID of the snmpd process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Time from spawn until ready (until spawned, without a probe).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// `Some(status)` once the agent has exited.
    pub fn exited(&mut self) -> Option<String> {
        self.process.exited()
    }

    /// The last `lines` lines of its logs.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl std::fmt::Debug for HostAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostAgent")
            .field("pid", &self.process.pid())
            .field("addr", &self.addr)
            .finish()
    }
}

/// `udp:1.2.3.4:161`, `1.2.3.4:161`, `udp:161`, `udp6:[::1]:161` → address
/// (a port alone means 0.0.0.0).
fn parse_bind(bind: &str) -> Option<SocketAddr> {
    let rest = bind
        .strip_prefix("udp6:")
        .or_else(|| bind.strip_prefix("udp:"))
        .unwrap_or(bind);
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return Some(addr);
    }
    let port = rest.parse::<u16>().ok()?;
    Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
}

/// True when `<prefix…> snmpget` gets an answer for sysUpTime.0 from `addr`.
fn snmpget_answers(prefix: &[&str], addr: SocketAddr, community: &str) -> bool {
    let target = match addr {
        SocketAddr::V4(a) => format!("udp:{a}"),
        SocketAddr::V6(a) => format!("udp6:{a}"),
    };
    let Some((first, rest)) = prefix.split_first() else {
        return false;
    };
    Command::new(first)
        .args(rest)
        .args([
            "snmpget", "-v2c", "-c", community, "-t", "0.3", "-r", "0", "-m", "",
        ])
        .arg(target)
        .arg("1.3.6.1.2.1.1.3.0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_strings_give_the_agent_address() {
        assert_eq!(
            parse_bind("udp:127.0.0.1:1161"),
            Some("127.0.0.1:1161".parse().expect("addr"))
        );
        assert_eq!(
            parse_bind("udp:161"),
            Some("0.0.0.0:161".parse().expect("addr"))
        );
        assert_eq!(
            parse_bind("udp6:[::1]:161"),
            Some("[::1]:161".parse().expect("addr"))
        );
        assert_eq!(parse_bind("tcp:host:161"), None);
    }

    #[test]
    fn the_host_agent_serves_this_hosts_interface_table() {
        let agent = HostAgent::start("hostagenttest");
        // ifDescr of ifIndex 1 is the loopback interface on Linux.
        assert!(
            v2c_get_answers(agent.addr(), "hostagenttest", Duration::from_secs(2)),
            "answers a GET"
        );
        let walk = Command::new("snmpwalk")
            .args(["-v2c", "-c", "hostagenttest", "-On", "-m", ""])
            .arg(format!("udp:{}", agent.addr()))
            .arg("1.3.6.1.2.1.2.2.1.2")
            .output()
            .expect("run snmpwalk");
        let text = String::from_utf8_lossy(&walk.stdout);
        assert!(text.contains("\"lo\""), "ifDescr lists lo: {text}");
    }
}
