//! net-snmp `snmpd` serving one recording's values as `override`s on loopback addresses.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::PeerProcess;
use crate::snmprec::convert;
use crate::{free_udp_port, v2c_get_answers};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// snmpd modules disabled with `-I -mod,...`: every module net-snmp 5.9.3 (Debian 12)
/// initialises except `override` (serves the recording) and `vacm_conf` (parses
/// `rocommunity`). With these off, a walk of `.1` returns exactly the overrides: no host
/// interfaces, MACs, processes, disks, routes, sysORTable or agent statistics, and no
/// module polls the host in the background. Found with `snmpd -Dmib_init`; the test
/// `snmpd_serves_only_the_recording_not_the_host` fails if a new build leaks data.
pub const SNMPD_DISABLED_MODULES: &[&str] = &[
    "at",
    "cpu",
    "cpu_linux",
    "disk_hw",
    "diskio",
    "dlmod",
    "dot3StatsTable",
    "errormib",
    "extend",
    "file",
    "hrSWInstalledTable",
    "hrSWRunPerfTable",
    "hrSWRunTable",
    "hr_device",
    "hr_disk",
    "hr_network",
    "hr_other",
    "hr_partition",
    "hr_print",
    "hr_proc",
    "hr_system",
    "hrh_filesys",
    "hrh_storage",
    "hw_fsys",
    "hw_mem",
    "hw_sensors",
    "icmp",
    "ifTable",
    "ifXTable",
    "inetCidrRouteTable",
    "inetNetToMediaTable",
    "interface",
    "ip",
    "ipAddressPrefixTable",
    "ipAddressTable",
    "ipCidrRouteTable",
    "ipDefaultRouterTable",
    "ipIfStatsTable",
    "ipSystemStatsTable",
    "ip_scalars",
    "ipv6",
    "ipv6ScopeZoneIndexTable",
    "iquery",
    "lmsensorsMib",
    "loadave",
    "logmatch",
    "memory",
    "mta_sendmail",
    "mteEvent",
    "mteEventConf",
    "mteEventNotificationTable",
    "mteEventSetTable",
    "mteEventTable",
    "mteObjects",
    "mteObjectsConf",
    "mteObjectsTable",
    "mteScalars",
    "mteTrigger",
    "mteTriggerBooleanTable",
    "mteTriggerConf",
    "mteTriggerDeltaTable",
    "mteTriggerExistenceTable",
    "mteTriggerTable",
    "mteTriggerThresholdTable",
    "notification_log",
    "nsCache",
    "nsDebug",
    "nsLogging",
    "nsModuleTable",
    "nsTransactionTable",
    "nsVacmAccessTable",
    "pass",
    "pass_persist",
    "proc",
    "proxy",
    "schedConf",
    "schedCore",
    "schedTable",
    "setSerialNo",
    "smux",
    "snmpEngine",
    "snmpMPDStats",
    "snmpNotifyFilterProfileTable",
    "snmpNotifyFilterProfileTable_data",
    "snmpNotifyFilterTable",
    "snmpNotifyFilterTable_data_storage",
    "snmpNotifyTable",
    "snmpNotifyTable_data",
    "snmpTargetAddrEntry",
    "snmpTargetAddrEntry_data",
    "snmpTargetParamsEntry",
    "snmpTargetParamsEntry_data",
    "snmp_mib",
    "swinst",
    "swrun",
    "sysORTable",
    "system_mib",
    "target_counters",
    "tcp",
    "tcpConnectionTable",
    "tcpListenerTable",
    "tcpTable",
    "udp",
    "udpEndpointTable",
    "udpTable",
    "usmConf",
    "usmStats",
    "usmUser",
    "vacm_context",
    "vacm_vars",
    "var_route",
    "versioninfo",
    "vmstat",
];

/// `count` loopback addresses on one port: 127.0.30.0, 127.0.30.1, … 127.0.30.255,
/// 127.0.31.0, … (1,000 addresses end at 127.0.33.231). Linux answers on all of
/// 127.0.0.0/8 without any setup.
pub fn loopback_farm(count: usize, port: u16) -> Vec<SocketAddr> {
    assert!(count <= 225 * 256, "at most {} farm addresses", 225 * 256);
    (0..count)
        .map(|i| {
            let third = u8::try_from(30 + i / 256).expect("checked above");
            let fourth = u8::try_from(i % 256).expect("i % 256 fits");
            SocketAddr::from((Ipv4Addr::new(127, 0, third, fourth), port))
        })
        .collect()
}

/// net-snmp `snmpd` serving one `.snmprec` file's values on the given loopback
/// addresses (every address serves the same data).
///
/// The recording is converted by [`crate::snmprec_to_snmpd_overrides`] (IpAddress,
/// Counter64 and NULL records cannot be served and are skipped: see
/// [`Snmpd::skipped`]). snmpd runs as
/// `snmpd -f -Lf LOG -C -c CONF -m "" -r -p PIDFILE --persistentDir=TMP -I -<modules> ADDRS`
/// with `rocommunity <community> 127.0.0.0/8`, with the host's MIB modules disabled
/// ([`SNMPD_DISABLED_MODULES`]), and the addresses on the command line (`agentAddress` in
/// the conf silently stops after ~120). Its soft open-file limit is raised to fit the
/// sockets. Config, log, pid file and persistent state live in a temp dir.
///
/// Dropping it stops the process by PID (SIGTERM, SIGKILL after 2 s) and reaps it.
pub struct Snmpd {
    process: PeerProcess,
    /// The addresses it listens on, in the order given.
    pub addrs: Vec<SocketAddr>,
    community: String,
    skipped: usize,
    startup: Duration,
    conf: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Snmpd {
    /// Serve `snmprec` with `community` on `addrs` (all loopback; IPv4 or `::1`).
    ///
    /// # Panics
    /// If snmpd is not installed, an address is not loopback, the community is not a plain
    /// word, or snmpd dies or does not answer a GET on the first and last address within
    /// 60 s (the message carries its log tail).
    pub fn start(snmprec: &Path, community: &str, addrs: &[SocketAddr]) -> Snmpd {
        match Snmpd::try_start(snmprec, community, addrs) {
            Ok(snmpd) => snmpd,
            Err(message) => panic!("{message}"),
        }
    }

    /// [`Snmpd::start`] on `127.0.0.1:<free port>`, retrying with a new port if another
    /// process takes it first.
    pub fn start_on_free_port(snmprec: &Path, community: &str) -> Snmpd {
        let mut last = String::new();
        for _ in 0..3 {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_port()));
            match Snmpd::try_start(snmprec, community, &[addr]) {
                Ok(snmpd) => return snmpd,
                Err(message) => last = message,
            }
        }
        panic!("{last}")
    }

    fn try_start(snmprec: &Path, community: &str, addrs: &[SocketAddr]) -> Result<Snmpd, String> {
        assert!(!addrs.is_empty(), "Snmpd::start needs at least one address");
        for addr in addrs {
            assert!(
                addr.ip().is_loopback(),
                "refusing to start snmpd on non-loopback address {addr}"
            );
        }
        assert!(
            !community.is_empty()
                && community
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b)),
            "community {community:?} must be a plain word (letters, digits, - _ . @)"
        );
        let bin = snmpd_bin();
        let data = std::fs::read(snmprec)
            .unwrap_or_else(|e| panic!("read recording {}: {e}", snmprec.display()));
        let (overrides, skipped) = convert(&data);

        let tmp = tempfile::Builder::new()
            .prefix("printscout-snmpd-")
            .tempdir()
            .expect("create a temp dir for snmpd");
        let conf = tmp.path().join("printscout-snmpd.conf");
        let log = tmp.path().join("snmpd.log");
        let out_log = tmp.path().join("snmpd.out");
        let state = tmp.path().join("state");
        std::fs::create_dir(&state).expect("create snmpd's persistent dir");

        let mut text = format!(
            "# generated by printscout-testkit from {}\nrocommunity {community} 127.0.0.0/8\n",
            snmprec.display()
        );
        if addrs.iter().any(SocketAddr::is_ipv6) {
            text.push_str(&format!("rocommunity6 {community} ::1/128\n"));
        }
        text.push_str("# per-request connection logging halves throughput\n");
        text.push_str("dontLogTCPWrappersConnects yes\n");
        // Many devices on one agent: a burst of requests must not overflow its socket.
        text.push_str("serverRecvBuf 4194304\nserverSendBuf 4194304\n");
        text.push_str(&overrides);
        std::fs::write(&conf, text).expect("write snmpd.conf");

        let endpoints: Vec<String> = addrs
            .iter()
            .map(|a| match a.ip() {
                IpAddr::V4(ip) => format!("udp:{ip}:{}", a.port()),
                IpAddr::V6(ip) => format!("udp6:[{ip}]:{}", a.port()),
            })
            .collect();
        let wanted_files = addrs.len() + 256;

        // `sh` raises the soft open-file limit (one socket per address), then execs snmpd,
        // so the child's PID is snmpd's own.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(
                "n=$1; shift; cur=$(ulimit -S -n); \
                 if [ \"$cur\" != unlimited ] && [ \"$cur\" -lt \"$n\" ]; then \
                 ulimit -S -n \"$n\" 2>/dev/null || ulimit -n \"$n\" 2>/dev/null \
                 || ulimit -S -n \"$(ulimit -H -n)\" 2>/dev/null || true; fi; \
                 exec \"$@\"",
            )
            .arg("printscout-snmpd")
            .arg(wanted_files.to_string())
            .arg(&bin)
            .args(["-f", "-Lf"])
            .arg(&log)
            .args(["-C", "-c"])
            .arg(&conf)
            .args(["-m", "", "-r", "-p"])
            .arg(tmp.path().join("snmpd.pid"))
            .arg(format!("--persistentDir={}", state.display()))
            .arg("-I")
            .arg(format!("-{}", SNMPD_DISABLED_MODULES.join(",")))
            .arg(endpoints.join(","))
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
        let mut process = PeerProcess::spawn("snmpd", command, vec![log, out_log]);
        let probes = [addrs[0], addrs[addrs.len() - 1]];
        let mut ready = [false, false];
        loop {
            if let Some(status) = process.exited() {
                let hint = if addrs.len() > 500 {
                    " (many addresses: is the open-file limit high enough? snmpd needs one \
                     socket per address)"
                } else {
                    ""
                };
                return Err(format!(
                    "snmpd exited ({status}) before answering on {}{hint}:\n{}",
                    addrs[0],
                    process.log_tail(30)
                ));
            }
            for (done, addr) in ready.iter_mut().zip(probes) {
                if !*done {
                    *done = v2c_get_answers(addr, community, Duration::from_millis(300));
                }
            }
            if ready.iter().all(|r| *r) {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "snmpd (pid {}) did not answer an SNMP GET on {probes:?} within \
                     {READY_TIMEOUT:?}:\n{}",
                    process.pid(),
                    process.log_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Snmpd {
            process,
            addrs: addrs.to_vec(),
            community: community.to_owned(),
            skipped,
            startup: started.elapsed(),
            conf,
            _tmp: tmp,
        })
    }

    /// The first address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The port of the first address.
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// The community it answers (read-only, from 127.0.0.0/8).
    pub fn community(&self) -> &str {
        &self.community
    }

    /// How many records of the recording could not be expressed as overrides.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Time from spawn until the first and last address answered a GET.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The generated snmpd.conf (for debugging a test).
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// PID of the snmpd process.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The last `lines` lines of its logs.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl std::fmt::Debug for Snmpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snmpd")
            .field("pid", &self.process.pid())
            .field("addrs", &self.addrs.len())
            .field("first", &self.addrs.first())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// `snmpd` from `PATH`, else `/usr/sbin/snmpd`.
pub(crate) fn snmpd_bin() -> PathBuf {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("snmpd"))
            .find(|p| p.is_file())
    });
    from_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/snmpd")).filter(|p| p.is_file()))
        .unwrap_or_else(|| panic!("snmpd is not installed: run scripts/setup.sh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_farm_of_a_thousand_addresses_ends_at_127_0_33_231() {
        let farm = loopback_farm(1000, 1161);
        assert_eq!(farm[0], "127.0.30.0:1161".parse().expect("addr"));
        assert_eq!(farm[256], "127.0.31.0:1161".parse().expect("addr"));
        assert_eq!(farm[999], "127.0.33.231:1161".parse().expect("addr"));
    }

    #[test]
    fn the_override_and_community_modules_stay_enabled() {
        assert!(!SNMPD_DISABLED_MODULES.contains(&"override"));
        assert!(!SNMPD_DISABLED_MODULES.contains(&"vacm_conf"));
    }
}
