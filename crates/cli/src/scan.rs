//! `printscout scan`: turns the command line into a scan request, shows
//! progress on a terminal, and prints the devices as a table or JSON.
//!
//! Printers read by URL (IPP-only printers and 3D printers found by DNS-SD)
//! show their URL as their address and their protocol; a 3D printer that
//! needs a key is read with the one kept in the secret store
//! (`printer-key:<url>`), else listed with the command that stores it.
//!
//! Invariants: stdout carries only the result (a table, or one JSON array);
//! progress, notes and warnings go to stderr; Ctrl-C stops the scan and still
//! prints what was found, exiting 130.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use printscout_engine::discovery::candidates::candidates;
use printscout_engine::discovery::interfaces::{self, LocalInterface};
use printscout_engine::discovery::sweep::SweepSettings;
use printscout_engine::discovery::targets::{self, Consent};
use printscout_engine::discovery::{Found, ScanEvent, ScanReport, ScanRequest, scan};
use printscout_engine::snmp::SnmpOptions;
use printscout_engine::snmp::transport::SnmpTransport;
use tokio_util::sync::CancellationToken;

use crate::service::DataArgs;
use crate::{CredentialArgs, credentials, emit};

/// Exit status of a cancelled scan (128 + SIGINT), as shells report it.
const CANCELLED: u8 = 130;

#[derive(Args)]
pub(crate) struct ScanArgs {
    /// Addresses, host names, CIDR blocks (10.1.0.0/22) or ranges (10.1.2.10-10.1.2.50).
    /// None: this computer's networks, by broadcast, sweep, DNS-SD and local queues.
    targets: Vec<String>,
    /// Broadcast an SNMP request on each interface (subnet-directed and 255.255.255.255).
    #[arg(long)]
    broadcast: bool,
    /// List the networks the default gateway knows (scans nothing).
    #[arg(long)]
    gateway: bool,
    /// Printers of this computer's print spooler (CUPS; Windows spooler on Windows).
    #[arg(long)]
    local: bool,
    /// Browse DNS-SD (mDNS) for printer services.
    #[arg(long = "dns-sd")]
    dns_sd: bool,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// List devices that are not printers too.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    creds: CredentialArgs,
    /// Interface to broadcast and browse on (repeat for several; default: all that are up).
    #[arg(long = "interface", short = 'i')]
    interfaces: Vec<String>,
    /// SNMP port of the devices.
    #[arg(long, default_value_t = 161)]
    port: u16,
    /// Packets per second at most.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Addresses probed at once.
    #[arg(long, default_value_t = 1024)]
    concurrency: usize,
    /// Longest wait for an answer; the actual wait is learned from the
    /// network's round-trip time, between --min-timeout and this.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Shortest wait for an answer.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    min_timeout: Duration,
    /// Further attempts for an address that stayed silent.
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// How long to collect broadcast replies.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    broadcast_window: Duration,
    /// How long to listen for DNS-SD announcements.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    dns_sd_window: Duration,
    /// Go ahead with more than 65,536 addresses.
    #[arg(long)]
    yes: bool,
    /// Allow ranges outside private, loopback and link-local space.
    #[arg(long)]
    allow_public: bool,
    /// Where 3D printers' keys are kept (the secret store of this configuration).
    #[command(flatten)]
    data: DataArgs,
}

pub(crate) async fn run(args: ScanArgs) -> Result<ExitCode> {
    let creds = credentials(&args.creds)?;
    let consent = Consent {
        large: args.yes,
        public: args.allow_public,
    };
    if args.rate == 0 {
        bail!("--rate must be at least 1 packet per second");
    }
    let chosen = interfaces::choose(&args.interfaces)?;
    let any_method = args.broadcast || args.local || args.dns_sd;
    if args.gateway {
        if any_method || !args.targets.is_empty() {
            bail!(
                "--gateway lists the networks the gateway knows and scans nothing; run it on its own, then scan the networks you choose"
            );
        }
        return list_candidates(&args, &chosen, &creds).await;
    }
    let mut request = ScanRequest {
        credentials: creds,
        sweep_settings: SweepSettings {
            concurrency: args.concurrency.max(1),
            retries: args.retries,
            port: args.port,
        },
        timeout_floor: args.min_timeout,
        timeout_ceiling: args.timeout.max(args.min_timeout),
        broadcast_window: args.broadcast_window,
        dns_sd_window: args.dns_sd_window,
        read_options: SnmpOptions::default(),
        // Opening is lazy: the store is asked only for a printer that needs a key.
        secrets: match args.data.resolve() {
            Ok((config, dir)) => Some(printscout_engine::secrets::open(&config, &dir)),
            Err(e) => {
                tracing::debug!("no secret store for 3D printers' keys: {e:#}");
                None
            }
        },
        ..ScanRequest::default()
    };
    let names: Vec<String> = chosen.iter().map(|i| i.name.clone()).collect();
    if args.targets.is_empty() && !any_method {
        // "My network": every local subnet, by every method.
        let subnets: Vec<String> = chosen
            .iter()
            .flat_map(LocalInterface::subnets)
            .map(|n| n.to_string())
            .collect();
        if subnets.is_empty() {
            bail!("this computer has no network interface with an IPv4 address to scan");
        }
        let resolved = targets::resolve(&subnets, consent)
            .await
            .context("scanning this computer's networks")?;
        request.sweep = resolved.sweep;
        request.broadcast_on = chosen.clone();
        request.dns_sd_on = names;
        request.local_spooler = true;
    } else {
        let resolved = targets::resolve(&args.targets, consent).await?;
        request.sweep = resolved.sweep;
        request.manual = resolved.manual;
        if args.broadcast {
            request.broadcast_on = chosen.clone();
        }
        if args.dns_sd {
            request.dns_sd_on = names;
        }
        request.local_spooler = args.local;
    }
    if (args.broadcast || args.dns_sd) && chosen.is_empty() {
        eprintln!("printscout: no network interface is up to broadcast or browse on");
    }

    let transport = SnmpTransport::new(args.rate);
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("printscout: stopping; printing what was found so far");
                cancel.cancel();
            }
        });
    }
    let bar = progress_bar(&request);
    let sink = {
        let bar = bar.clone();
        Arc::new(move |e: ScanEvent| match e {
            ScanEvent::Progress {
                probed, printers, ..
            } => {
                bar.set_position(probed);
                bar.set_message(format!("{printers} printers found"));
            }
            ScanEvent::Note { text } => bar.println(format!("note: {text}")),
            _ => {}
        })
    };
    let report = scan(&transport, &request, &cancel, sink).await;
    bar.finish_and_clear();
    print_report(&report, &args)?;
    Ok(if report.cancelled {
        ExitCode::from(CANCELLED)
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar(req: &ScanRequest) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total = u64::try_from(req.sweep.len()).unwrap_or(u64::MAX) + req.manual.len() as u64;
    if total == 0 {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} listening for answers · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("0 printers found");
        return bar;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed} [{wide_bar}] {human_pos}/{human_len} addresses · {msg} · {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("0 printers found");
    bar
}

fn print_report(report: &ScanReport, args: &ScanArgs) -> Result<()> {
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.devices)?
        ))?;
    } else {
        emit(&table(&report.devices, args.all))?;
        // Reads by URL that failed (a needs-key hint is already a note).
        for d in report.devices.iter().filter(|d| d.url.is_some()) {
            if let Some(e) = &d.error
                && !report.notes.iter().any(|n| e.contains(n.as_str()))
            {
                match &d.url {
                    Some(url) if e.contains(url.as_str()) => eprintln!("not read: {e}"),
                    _ => eprintln!("not read: {}: {e}", d.address),
                }
            }
        }
    }
    let printers = report.devices.iter().filter(|d| d.is_printer).count();
    let others = report.devices.len() - printers;
    let s = &report.stats;
    eprintln!(
        "{}{printers} printer{} and {others} other device{} found in {:.2} s; {} addresses probed, {} answered; learned timeout {} ms",
        if report.cancelled { "cancelled: " } else { "" },
        if printers == 1 { "" } else { "s" },
        if others == 1 { "" } else { "s" },
        s.elapsed_ms as f64 / 1000.0,
        s.addresses_probed,
        s.responders,
        s.timeout_ms,
    );
    if others > 0 && !args.all && !args.json {
        eprintln!("(--all lists the devices that are not printers)");
    }
    Ok(())
}

fn table(devices: &[Found], all: bool) -> String {
    let rows: Vec<[String; 8]> = devices
        .iter()
        .filter(|d| all || d.is_printer)
        .map(|d| {
            let id = &d.identity;
            let dash = || "-".to_string();
            let mut address = d.url.clone().unwrap_or_else(|| d.address.clone());
            if d.addresses.len() > 1 {
                address.push_str(&format!(" (+{})", d.addresses.len() - 1));
            }
            let model = match (&id.model, d.is_printer) {
                (Some(m), true) => m.clone(),
                (Some(m), false) => format!("{m} (not a printer)"),
                (None, true) => dash(),
                (None, false) => "(not a printer)".into(),
            };
            [
                address,
                id.vendor.clone().unwrap_or_else(dash),
                model,
                id.serial.clone().unwrap_or_else(dash),
                id.mac.clone().unwrap_or_else(dash),
                d.protocol.clone().unwrap_or_else(dash),
                d.credential.clone().unwrap_or_else(dash),
                d.found_by
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let header = [
        "ADDRESS",
        "VENDOR",
        "MODEL",
        "SERIAL",
        "MAC",
        "PROTOCOL",
        "CREDENTIAL",
        "FOUND BY",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    if rows.is_empty() {
        return "No printers found.\n".into();
    }
    out.push_str(&line(&header.map(String::from)));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

async fn list_candidates(
    args: &ScanArgs,
    chosen: &[LocalInterface],
    creds: &[printscout_engine::snmp::Credential],
) -> Result<ExitCode> {
    let transport = SnmpTransport::new(args.rate);
    let options = SnmpOptions {
        timeout: args.timeout.max(Duration::from_secs(1)),
        retries: 1,
        ..SnmpOptions::default()
    };
    let c = candidates(&transport, chosen, creds, &options, args.port).await;
    for n in &c.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&c.networks)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if let (Some(gw), Some(cred)) = (c.gateway, &c.gateway_credential) {
        out.push_str(&format!("Default gateway {gw} answered with '{cred}'.\n"));
    }
    out.push_str("Networks you can scan (none is scanned until you choose it):\n");
    for n in &c.networks {
        let mut detail = Vec::new();
        match n.source {
            "interface" => detail.push(format!(
                "this computer's network on {}",
                n.interface.as_deref().unwrap_or("?")
            )),
            _ => {
                detail.push("known to the gateway".into());
                if let Some(h) = n.next_hop {
                    detail.push(format!("via {h}"));
                }
                if let Some(i) = &n.interface {
                    detail.push(format!("on its {i}"));
                }
            }
        }
        if n.hosts_seen > 0 {
            detail.push(format!("{} hosts in its ARP table", n.hosts_seen));
        }
        out.push_str(&format!(
            "  {:<20} {}\n",
            n.network.to_string(),
            detail.join(", ")
        ));
    }
    let gw_nets: Vec<String> = c
        .networks
        .iter()
        .filter(|n| n.source == "gateway")
        .map(|n| n.network.to_string())
        .collect();
    if !gw_nets.is_empty() {
        out.push_str(&format!(
            "Scan them with: printscout scan {}\n",
            gw_nets.join(" ")
        ));
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
