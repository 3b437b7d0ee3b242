//! `printscout-lab`: starts real SNMP peers on loopback for the demo and for
//! poking at by hand, prints where they listen, and stops them (by PID) when
//! its standard input closes or it gets Ctrl-C.
//!
//! ```text
//! printscout-lab snmpsim DIR          # every DIR/*.snmprec, community = file stem
//! printscout-lab snmpd FILE [COMMUNITY]
//! printscout-lab netns [--devices N] [--no-dns-sd]
//! ```
//!
//! `netns` brings up the network-namespace discovery lab (`printscout_testkit::netns`),
//! prints its manifest as one line of JSON, then `mgr=<namespace>` (run scanners with
//! `ip netns exec <namespace> …`), and tears it down when standard input closes or the
//! process gets SIGINT, SIGTERM or even SIGKILL: the lab is owned by a child process
//! (`netns-serve`, in its own process group so a terminal's Ctrl-C does not reach it)
//! whose standard input is a pipe from this process; when this process ends for any
//! reason the pipe closes and the child tears the lab down. Exit status 3: namespaces
//! are not available here (the reason is on stderr).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use printscout_testkit::netns::{LabSpec, NetnsLab};
use printscout_testkit::{Snmpd, Snmpsim};

const USAGE: &str = "usage: printscout-lab snmpsim DIR | printscout-lab snmpd FILE [COMMUNITY] \
                     | printscout-lab netns [--devices N] [--no-dns-sd]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (_sim, _snmpd);
    match args.first().map(String::as_str) {
        Some("snmpsim") if args.len() == 2 => {
            let sim = Snmpsim::start(&PathBuf::from(&args[1]));
            println!("snmpsim listening on {} (pid {})", sim.addr, sim.pid());
            _sim = Some(sim);
        }
        Some("snmpd") if args.len() >= 2 => {
            let community = args.get(2).map(String::as_str).unwrap_or("public");
            let d = Snmpd::start_on_free_port(&PathBuf::from(&args[1]), community);
            println!(
                "snmpd listening on {} community {community} (pid {})",
                d.addr(),
                d.pid()
            );
            _snmpd = Some(d);
        }
        Some("netns") => netns_parent(&args[1..]),
        Some("netns-serve") => netns_serve(&args[1..]),
        _ => usage(),
    }
    // Wait until stdin closes (the demo script holds it open), then Drop stops the peer.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn parse_spec(args: &[String]) -> LabSpec {
    let mut spec = LabSpec::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--devices" => {
                spec.responders = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            "--no-dns-sd" => spec.dns_sd = false,
            _ => usage(),
        }
    }
    spec
}

/// Runs `netns-serve` as a child in its own process group with a pipe as its stdin,
/// forwards nothing but the end of our own stdin, and exits with the child's status.
fn netns_parent(args: &[String]) -> ! {
    parse_spec(args); // usage errors here, not in the child
    let exe = std::env::current_exe().unwrap_or_else(|e| {
        eprintln!("printscout-lab: cannot find my own executable: {e}");
        std::process::exit(1);
    });
    let mut child = Command::new(exe)
        .arg("netns-serve")
        .args(args)
        .stdin(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("printscout-lab: cannot start the lab process: {e}");
            std::process::exit(1);
        });
    // Hold the pipe while our stdin is open; SIGINT/SIGTERM/SIGKILL end this process,
    // which closes the pipe just the same.
    let pipe = child.stdin.take();
    let mut sink = [0u8; 4096];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    drop(pipe);
    let status = child.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1);
    std::process::exit(status);
}

/// Owns the lab: up, manifest on stdout, wait for stdin to close, down.
fn netns_serve(args: &[String]) -> ! {
    let spec = parse_spec(args);
    let lab = match NetnsLab::up(spec) {
        Ok(lab) => lab,
        Err(reason) => {
            eprintln!("printscout-lab: network namespaces unavailable: {reason}");
            std::process::exit(3);
        }
    };
    let timings = lab.timings().clone();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", lab.manifest_json());
        let _ = writeln!(out, "mgr={}", lab.mgr());
        let _ = out.flush();
    }
    eprintln!(
        "printscout-lab: lab up in {:.2} s (network {:.2} s, agents {:.2} s, slowest {}): {} \
         answering addresses, manager namespace {}",
        timings.total.as_secs_f64(),
        timings.network.as_secs_f64(),
        timings.agents.as_secs_f64(),
        timings
            .slowest
            .as_ref()
            .map(|(ns, t)| format!("{ns} {:.2} s", t.as_secs_f64()))
            .unwrap_or_else(|| "-".into()),
        lab.responding_addresses(),
        lab.mgr()
    );
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    let started = std::time::Instant::now();
    drop(lab);
    eprintln!(
        "printscout-lab: lab down in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    std::process::exit(0);
}
