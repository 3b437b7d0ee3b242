//! `printscout devices`, `devices add`, `devices remove`, `history` and
//! `export`: the store seen from a terminal, usable while the service runs
//! (SQLite WAL lets them read and write beside it; the service notices
//! devices added or removed here within a second).
//!
//! Invariants: `--json` prints exactly one JSON document on stdout;
//! credentials are shown by name only; an export is written completely or
//! not at all (the engine writes a temporary file and renames it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Local, NaiveDate, TimeZone};
use clap::{Args, Subcommand};
use printscout_engine::collector::rules_from;
use printscout_engine::export::{Format, write_report};
use printscout_engine::printer::read_device;
use printscout_engine::snmp::SnmpOptions;
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::store::{DeviceRecord, Store};

use crate::service::DataArgs;
use crate::{CredentialArgs, credentials, emit};

/// `printscout devices`.
#[derive(Args)]
pub(crate) struct DevicesArgs {
    #[command(subcommand)]
    action: Option<DevicesAction>,
    #[command(flatten)]
    data: DataArgs,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// Include devices that were removed.
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
enum DevicesAction {
    /// Read a device once and add it to the monitored list.
    Add(Box<AddArgs>),
    /// Stop monitoring a device (its history stays for reports).
    Remove(RemoveArgs),
}

#[derive(Args)]
struct AddArgs {
    /// HOST[:PORT] (port from the configuration, 161 by default), or a printer's
    /// URL: ipp://HOST[:PORT]/PATH, ipps://…, octoprint://HOST[:PORT],
    /// moonraker://…, prusalink://…, bambu://SERIAL@HOST, ultimaker://…
    target: String,
    /// A 3D printer's API key, access code or password: the name of the
    /// environment variable holding it. It is saved in the secret store as
    /// `printer-key:<url>` for the service (without it, the one already saved is used).
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// An ipps:// or Bambu printer: a CA certificate (PEM) to trust for it, or the
    /// printer's own self-signed certificate. Kept in the data directory's `trust/`.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    #[command(flatten)]
    creds: CredentialArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Your name for it.
    #[arg(long)]
    name: Option<String>,
    /// Where it is.
    #[arg(long)]
    location: Option<String>,
    /// Add it even if it does not answer now (it is polled like the others).
    #[arg(long)]
    anyway: bool,
    /// Time to wait for each answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Args)]
struct RemoveArgs {
    /// Device id (see `printscout devices`), serial or address.
    device: String,
    #[command(flatten)]
    data: DataArgs,
}

/// `printscout history`.
#[derive(Args)]
pub(crate) struct HistoryArgs {
    /// Serial number, address, id or name of the device.
    device: String,
    #[command(flatten)]
    data: DataArgs,
    /// From this date (YYYY-MM-DD, local time) or RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Up to and including this date (or before this RFC 3339 time).
    #[arg(long)]
    to: Option<String>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

/// `printscout export`.
#[derive(Args)]
pub(crate) struct ExportArgs {
    /// csv or xlsx.
    #[arg(long)]
    format: Format,
    /// From this date (YYYY-MM-DD, local time) or RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Up to and including this date (or before this RFC 3339 time).
    #[arg(long)]
    to: Option<String>,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

/// Parses a period bound: a date is local midnight (for `--to`, the midnight
/// after it, so the day is included); an RFC 3339 time is taken as is.
fn bound(text: &str, end: bool) -> Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("'{text}' is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let day = if end {
        day.succ_opt().context("date out of range")?
    } else {
        day
    };
    Local
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).context("date out of range")?)
        .earliest()
        .map(|t| t.timestamp_millis())
        .with_context(|| format!("'{text}' has no local midnight"))
}

fn period(from: &Option<String>, to: &Option<String>) -> Result<(Option<i64>, Option<i64>)> {
    let f = from.as_deref().map(|t| bound(t, false)).transpose()?;
    let t = to.as_deref().map(|t| bound(t, true)).transpose()?;
    if let (Some(a), Some(b)) = (f, t)
        && a >= b
    {
        bail!("--from must be before --to");
    }
    Ok((f, t))
}

fn local(ms: Option<i64>) -> String {
    ms.and_then(|m| Local.timestamp_millis_opt(m).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

fn state(d: &DeviceRecord) -> String {
    if d.removed {
        "removed".into()
    } else if d.offline {
        "offline".into()
    } else if d.address.is_none() {
        "lost".into()
    } else {
        d.status.clone().unwrap_or_else(|| "not read yet".into())
    }
}

fn find(store: &Store, query: &str) -> Result<DeviceRecord> {
    store
        .find_device(query)?
        .with_context(|| format!("no device matches '{query}' (see `printscout devices`)"))
}

pub(crate) async fn devices(args: DevicesArgs) -> Result<ExitCode> {
    match args.action {
        Some(DevicesAction::Add(a)) => return add(*a).await,
        Some(DevicesAction::Remove(r)) => return remove(r),
        None => {}
    }
    let (_, _, store) = args.data.open()?;
    let list = store.devices(args.all)?;
    if args.json {
        return emit(&format!("{}\n", serde_json::to_string_pretty(&list)?))
            .map(|()| ExitCode::SUCCESS);
    }
    if list.is_empty() {
        eprintln!(
            "No devices yet: add one with `printscout devices add ADDRESS`, or let `printscout run` rediscover the networks in the configuration."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{:>4}  {:<24} {:<28} {:<14} {:<21} {:<12} {:>10}  {}\n",
        "ID", "NAME", "MODEL", "SERIAL", "ADDRESS", "STATUS", "TOTAL", "LAST SEEN"
    );
    for d in &list {
        let total = d
            .counters
            .get("total")
            .and_then(serde_json::Value::as_i64)
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:>4}  {:<24} {:<28} {:<14} {:<21} {:<12} {:>10}  {}\n",
            d.id,
            clip(&d.display_name(), 24),
            clip(d.model.as_deref().unwrap_or("-"), 28),
            clip(d.serial.as_deref().unwrap_or("-"), 14),
            d.address.as_deref().unwrap_or("-"),
            state(d),
            total,
            local(d.last_seen),
        ));
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

async fn add(a: AddArgs) -> Result<ExitCode> {
    if a.target.contains("://") {
        return add_url(a).await;
    }
    let (config, _, mut store) = a.data.open()?;
    let addr = crate::resolve_with_port(&a.target, config.snmp.port).await?;
    // Added by name: the name is kept and resolved again on every poll (DHCP).
    let added_as = printscout_engine::discovery::targets::host_name(&a.target);
    let creds = if a.creds.is_default() && !config.credentials.is_empty() {
        config.effective_credentials()?
    } else {
        credentials(&a.creds)?
    };
    let options = SnmpOptions {
        timeout: a.timeout,
        retries: 1,
        ..SnmpOptions::default()
    };
    let rules = rules_from(&config);
    let transport = SnmpTransport::new(0);
    let found = match read_device(&transport, addr, &creds, &options).await {
        Ok(r) => {
            let c = creds
                .iter()
                .find(|c| Some(c.name()) == r.credential.as_deref())
                .or(creds.first())
                .cloned()
                .context("no credential")?;
            Some((r, c))
        }
        Err(e) if a.anyway => {
            eprintln!("printscout: {e}; adding it anyway");
            None
        }
        Err(e) => {
            eprintln!("printscout: not added: {e} (use --anyway to add it and keep trying)");
            return Ok(ExitCode::from(1));
        }
    };
    let unread = found.is_none();
    let rec = store.add_device(
        &addr.to_string(),
        added_as.as_deref(),
        found,
        (a.name.as_deref(), a.location.as_deref()),
        &rules,
    )?;
    let id = rec.device_id.context("the device was not stored")?;
    if unread && creds.len() == 1 {
        store.set_credential(id, &creds[0])?;
    }
    let d = store.device(id)?.context("the device vanished")?;
    println!(
        "{} device {}: {}{} at {}",
        if rec.created { "Added" } else { "Updated" },
        d.id,
        d.display_name(),
        d.serial
            .as_deref()
            .map(|s| format!(" (serial {s})"))
            .unwrap_or_default(),
        d.address.as_deref().unwrap_or("-")
    );
    Ok(ExitCode::SUCCESS)
}

/// `devices add URL`: an IPP printer or a 3D printer, polled over its protocol.
async fn add_url(a: AddArgs) -> Result<ExitCode> {
    use printscout_engine::printer::fab::{FabOptions, FabTarget, read_fab};
    use printscout_engine::printer::ipp::{IppOptions, read_ipp};
    use printscout_engine::secret::Secret;
    let (config, dir, mut store) = a.data.open()?;
    let rules = rules_from(&config);
    if let Some(path) = &a.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("--ca-file: cannot read {}", path.display()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            bail!("--ca-file: {} holds no PEM certificate", path.display());
        }
        let trust = dir.join(printscout_engine::secrets::TRUST_DIR);
        std::fs::create_dir_all(&trust)
            .with_context(|| format!("cannot create {}", trust.display()))?;
        let name: String = a
            .target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let kept = trust.join(format!("{name}.pem"));
        std::fs::write(&kept, &pem).with_context(|| format!("cannot write {}", kept.display()))?;
    }
    let trusted = printscout_engine::secrets::trusted_certificates(
        &dir.join(printscout_engine::secrets::TRUST_DIR),
    );
    let scheme = a
        .target
        .split("://")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (protocol, url, read) = if scheme == "ipp" || scheme == "ipps" {
        let options = IppOptions {
            timeout: a.timeout.max(Duration::from_secs(2)),
            extra_roots: trusted
                .iter()
                .flat_map(|pem| reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default())
                .collect(),
            ..IppOptions::default()
        };
        let read = read_ipp(&a.target, &options)
            .await
            .map_err(|e| e.to_string());
        (scheme, a.target.clone(), read)
    } else {
        let target = match FabTarget::parse(&a.target) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("printscout: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let secrets = printscout_engine::secrets::open(&config, &dir);
        let name = printscout_engine::secrets::printer_key_name_of(&target);
        let key = match &a.key_env {
            Some(var) => {
                let value = std::env::var(var).unwrap_or_default();
                if value.is_empty() {
                    bail!(
                        "the environment variable {var} is not set or empty (it should hold the printer's {})",
                        target.protocol.secret_name()
                    );
                }
                let key = Secret::new(value);
                secrets
                    .set(&name, &key)
                    .with_context(|| format!("cannot save the printer's key as {name}"))?;
                Some(key)
            }
            None => secrets.get(&name).ok().flatten(),
        };
        let options = FabOptions {
            key,
            timeout: a.timeout.max(Duration::from_secs(2)),
            extra_roots_pem: trusted,
            ..FabOptions::default()
        };
        let read = read_fab(&target, &options).await.map_err(|e| e.to_string());
        (target.protocol.scheme().to_owned(), target.url(), read)
    };
    let reading = match read {
        Ok(r) => Some(r),
        Err(e) if a.anyway => {
            eprintln!("printscout: {e}; adding it anyway");
            None
        }
        Err(e) => {
            eprintln!("printscout: not added: {e} (use --anyway to add it and keep trying)");
            return Ok(ExitCode::from(1));
        }
    };
    let rec = store.add_printer_url(
        &protocol,
        &url,
        reading,
        (a.name.as_deref(), a.location.as_deref()),
        &rules,
    )?;
    let id = rec.device_id.context("the device was not stored")?;
    let d = store.device(id)?.context("the device vanished")?;
    if rec.merged {
        println!(
            "Device {} ({}) is the same printer over SNMP: its IPP address was added to it",
            d.id,
            d.display_name()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} device {}: {}{} at {} ({})",
        if rec.created { "Added" } else { "Updated" },
        d.id,
        d.display_name(),
        d.serial
            .as_deref()
            .map(|s| format!(" (serial {s})"))
            .unwrap_or_default(),
        d.address.as_deref().unwrap_or("-"),
        d.protocol
    );
    Ok(ExitCode::SUCCESS)
}

fn remove(r: RemoveArgs) -> Result<ExitCode> {
    let (_, _, mut store) = r.data.open()?;
    let d = find(&store, &r.device)?;
    if store.remove_device(d.id, printscout_engine::store::now_ms())? {
        println!(
            "Removed device {}: {} (its history stays for reports)",
            d.id,
            d.display_name()
        );
    } else {
        println!("Device {} was already removed", d.id);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn history(args: HistoryArgs) -> Result<ExitCode> {
    let (_, _, store) = args.data.open()?;
    let d = find(&store, &args.device)?;
    let (from, to) = period(&args.from, &args.to)?;
    let h = store.history(d.id, from, to)?;
    if args.json {
        return emit(&format!("{}\n", serde_json::to_string_pretty(&h)?))
            .map(|()| ExitCode::SUCCESS);
    }
    let mut out = format!(
        "Device {}: {} — {} {} serial {} at {} ({})\n",
        d.id,
        d.display_name(),
        d.vendor.as_deref().unwrap_or(""),
        d.model.as_deref().unwrap_or(""),
        d.serial.as_deref().unwrap_or("-"),
        d.address.as_deref().unwrap_or("unknown address"),
        state(&d)
    );
    if h.addresses.len() > 1 {
        out.push_str("Addresses:\n");
        for (a, first, last) in &h.addresses {
            out.push_str(&format!(
                "  {a:<22} {} – {}\n",
                local(Some(*first)),
                local(Some(*last))
            ));
        }
    }
    let keys: Vec<String> = {
        let mut k: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for p in &h.readings {
            k.extend(p.counters.keys().cloned());
        }
        let mut v: Vec<String> = k.into_iter().collect();
        if let Some(i) = v.iter().position(|x| x == "total") {
            let t = v.remove(i);
            v.insert(0, t);
        }
        v
    };
    out.push_str(&format!(
        "Readings ({}):\n  {:<17}",
        h.readings.len(),
        "TIME"
    ));
    for k in &keys {
        out.push_str(&format!(" {:>12}", clip(k, 12)));
    }
    out.push_str("  SUPPLIES\n");
    for p in &h.readings {
        out.push_str(&format!("  {:<17}", local(Some(p.at))));
        for k in &keys {
            let v = p
                .counters
                .get(k)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into());
            let flag = if p.regressed.contains(k) { "!" } else { "" };
            out.push_str(&format!(" {:>12}", format!("{v}{flag}")));
        }
        let supplies: Vec<String> = p
            .supplies
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let d = s.get("d").and_then(|v| v.as_str()).unwrap_or("?");
                        match s.get("p").and_then(serde_json::Value::as_f64) {
                            Some(p) => format!("{d} {p:.0}%"),
                            None => format!(
                                "{d} {}",
                                s.get("s").and_then(|v| v.as_str()).unwrap_or("?")
                            ),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&format!("  {}\n", supplies.join(", ")));
    }
    if h.readings.iter().any(|p| !p.regressed.is_empty()) {
        out.push_str("  (! = the counter went backwards at this reading)\n");
    }
    if !h.status.is_empty() {
        out.push_str("Status changes:\n");
        for s in &h.status {
            out.push_str(&format!("  {:<17} {}\n", local(Some(s.at)), s.status));
        }
    }
    if !h.events.is_empty() {
        out.push_str("Events (newest first):\n");
        for e in &h.events {
            out.push_str(&format!(
                "  {:<17} {:<8} {}\n",
                local(Some(e.at)),
                e.severity.as_str(),
                e.message
            ));
        }
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export(args: ExportArgs) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let (_, _, store) = args.data.open()?;
    let (from, to) = period(&args.from, &args.to)?;
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg:<18} {bar:30} {pos}/{len} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message("reading devices");
    let report = store.meter_report(from, to, &Local, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.set_message(format!("writing {}", args.format));
    bar.set_position(0);
    write_report(&report, args.format, &args.out, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    let jobs = if report.has_jobs() {
        format!(", {} 3D jobs", report.jobs.len())
    } else {
        String::new()
    };
    eprintln!(
        "Wrote {} ({} devices, {} supplies, {} events{jobs})",
        args.out.display(),
        report.devices.len(),
        report.supplies.len(),
        report.events.len()
    );
    if args.format == Format::Csv {
        for part in printscout_engine::export::CsvPart::parts_of(&report)
            .into_iter()
            .skip(1)
        {
            eprintln!("Wrote {}", part.path_for(&args.out).display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
