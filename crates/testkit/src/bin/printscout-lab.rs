//! `printscout-lab`: starts real SNMP peers on loopback for the demo and for
//! poking at by hand, prints where they listen, and stops them (by PID) when
//! its standard input closes or it gets Ctrl-C.
//!
//! ```text
//! printscout-lab snmpsim DIR          # every DIR/*.snmprec, community = file stem
//! printscout-lab snmpd FILE [COMMUNITY]
//! ```

use std::io::Read;
use std::path::PathBuf;

use printscout_testkit::{Snmpd, Snmpsim};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: printscout-lab snmpsim DIR | printscout-lab snmpd FILE [COMMUNITY]";
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
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
    // Wait until stdin closes (the demo script holds it open), then Drop stops the peer.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
