//! `printscout`: the command-line face of the engine. This file owns argument
//! parsing, credentials from the environment or a prompt, and output; all
//! protocol work is in `printscout-engine`.
//!
//! Invariants: JSON output is exactly one JSON document on stdout (an object
//! for `read`, an array for `scan`) and logs, progress and notes go to stderr;
//! secrets are read from the environment or a prompt, never from argv, and
//! never printed; exit status 0 = done, 1 = the device could not be read or
//! the scan could not run, 2 = bad usage, 130 = scan cancelled (results so far
//! are still printed).

mod devices;
mod human;
mod read_fab;
mod report;
mod scan;
mod secret;
mod service;
mod sync;
mod uplink_args;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use printscout_engine::printer::read::{build_reading, collect};
use printscout_engine::printer::{Reading, read_device};
use printscout_engine::secret::Secret;
use printscout_engine::snmp::recording::{Recording, RecordingSession};
use printscout_engine::snmp::transport::SnmpTransport;
use printscout_engine::snmp::{AuthProto, Credential, PrivProto, SnmpOptions, Version};

/// PrintScout: finds and reads network printers.
#[derive(Parser)]
#[command(name = "printscout", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read one device over SNMP and show what it is and how it is doing.
    Read(ReadArgs),
    /// Find the printers on the networks you pick (broadcast, sweep, gateway, DNS-SD, local queues).
    Scan(scan::ScanArgs),
    /// Run the collector: poll every device on schedule, store, raise events, write reports.
    Run(service::RunArgs),
    /// List the monitored devices; `devices add` and `devices remove` manage the list.
    Devices(devices::DevicesArgs),
    /// Show a device's counters, supplies, status changes and events over time.
    History(devices::HistoryArgs),
    /// Write the meter report (one row per device, usage in the period) as CSV or Excel.
    Export(devices::ExportArgs),
    /// Store, delete or check the upload token and the SMTP and proxy passwords.
    Secret(secret::SecretArgs),
    /// Send the meter report by e-mail now (`--send-now`); without it, show where reports go
    /// and how the last send went.
    Report(report::ReportArgs),
    /// Show how uploads are doing (last success, queue, errors, proxy); `--now` uploads at once.
    Sync(sync::SyncArgs),
}

#[derive(Args)]
struct ReadArgs {
    /// HOST[:PORT] (IPv6 as [ADDR]:PORT; port 161 when omitted), or ipp://HOST[:PORT]/PATH
    /// (ipps:// for TLS) to read a printer over IPP, or a 3D printer:
    /// octoprint://HOST[:PORT], moonraker://…, prusalink://…, ultimaker://…,
    /// bambu://SERIAL@HOST.
    target: Option<String>,
    #[command(flatten)]
    creds: CredentialArgs,
    /// Time to wait for each answer (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Further attempts after the first.
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
    /// Read from an .snmprec recording instead of the network (offline check).
    #[arg(long, conflicts_with = "target")]
    recording: Option<PathBuf>,
    /// 3D printers: read the job history the printer keeps instead of its status.
    #[arg(long)]
    history: bool,
    /// 3D printers: the environment variable holding the API key, access code or
    /// password (else the one kept by `printscout secret set printer-key:URL`, else a prompt).
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// PrusaLink: the user for digest authentication (default maker).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// A CA certificate (PEM) to trust besides the system's: Bambu's CA, a site CA, or an
    /// ipps:// printer's own self-signed certificate (which pins it).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    #[command(flatten)]
    data: service::DataArgs,
}

/// SNMP credential options shared by `read` and `scan`.
#[derive(Args)]
pub(crate) struct CredentialArgs {
    /// Community string; repeat to try several in order (default: public).
    #[arg(long = "community", short = 'c')]
    communities: Vec<String>,
    /// SNMP version.
    #[arg(long = "version", short = 'v', value_enum, default_value = "2c")]
    snmp_version: VersionArg,
    /// SNMPv3 user name (selects version 3).
    #[arg(long)]
    v3_user: Option<String>,
    /// SNMPv3 authentication protocol.
    #[arg(long, value_enum)]
    auth_proto: Option<AuthArg>,
    /// SNMPv3 privacy protocol.
    #[arg(long, value_enum)]
    priv_proto: Option<PrivArg>,
    /// SNMPv3 context name (HP JetDirect: Jetdirect).
    #[arg(long, default_value = "")]
    context: String,
    /// Environment variable holding the SNMPv3 authentication passphrase (else a prompt).
    #[arg(long, default_value = "PRINTSCOUT_AUTH_PASS")]
    auth_pass_env: String,
    /// Environment variable holding the SNMPv3 privacy passphrase (else a prompt).
    #[arg(long, default_value = "PRINTSCOUT_PRIV_PASS")]
    priv_pass_env: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum VersionArg {
    #[value(name = "1")]
    V1,
    #[value(name = "2c")]
    V2c,
    #[value(name = "3")]
    V3,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuthArg {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrivArg {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` sets up its own logging (stderr and a file in the data directory).
    if !matches!(cli.command, Command::Run(_)) {
        init_stderr_logging();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, Command::Run(_)) {
        // The service: one worker is plenty for the polls and the API (their
        // blocking work runs on the blocking pool), and every thread that
        // allocates costs a malloc arena of its own (decision 0005).
        builder.worker_threads(1).max_blocking_threads(4);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("printscout: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Read(args) => read(args).await,
            Command::Scan(args) => scan::run(args).await,
            Command::Run(args) => service::run(args).await,
            Command::Devices(args) => devices::devices(args).await,
            Command::History(args) => devices::history(args),
            Command::Export(args) => devices::export(args),
            Command::Secret(args) => secret::run(args),
            Command::Report(args) => report::run(args).await,
            Command::Sync(args) => sync::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("printscout: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_stderr_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PRINTSCOUT_LOG")
                // Our own messages say what failed; the SNMP library's are for debugging.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,async_snmp=off")),
        )
        .init();
}

async fn read(args: ReadArgs) -> Result<ExitCode> {
    if let Some(url) = args.target.as_deref().filter(|t| is_ipp_url(t)) {
        return read_ipp(url, &args).await;
    }
    if let Some(url) = args.target.as_deref().filter(|t| read_fab::is_fab_url(t)) {
        return read_fab::read(url, &args).await;
    }
    if args.history {
        bail!(
            "--history reads a printer's job history: give ipp://…, octoprint://, moonraker:// or ultimaker://…"
        );
    }
    let options = SnmpOptions {
        timeout: args.timeout,
        retries: args.retries,
        ..SnmpOptions::default()
    };
    let reading = if let Some(path) = &args.recording {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let session = RecordingSession::new(Recording::parse(&text), Version::V2c);
        let c = collect(&session, &options).await?;
        let mut r = build_reading(&c.snapshot, c.vendor);
        r.target = path.display().to_string();
        r.stats.requests = c.stats.requests;
        r
    } else {
        let Some(target) = args.target.as_deref() else {
            bail!("give a HOST[:PORT] to read, or --recording FILE");
        };
        let addr = resolve(target).await?;
        let credentials = credentials(&args.creds)?;
        let transport = SnmpTransport::new(0);
        match read_device(&transport, addr, &credentials, &options).await {
            Ok(r) => r,
            Err(e) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "target": addr.to_string(), "error": e.to_string() })
                    );
                }
                eprintln!("printscout: {e}");
                return Ok(ExitCode::from(1));
            }
        }
    };
    print_reading(&reading, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `ipp://…` and `ipps://…` targets are read over IPP, not SNMP.
fn is_ipp_url(target: &str) -> bool {
    let t = target.trim().to_ascii_lowercase();
    t.starts_with("ipp://") || t.starts_with("ipps://")
}

/// Reads an IPP printer: one Get-Printer-Attributes, waiting up to
/// `--timeout` × (`--retries` + 1) for the whole exchange. Community and
/// SNMPv3 options do not apply.
async fn read_ipp(url: &str, args: &ReadArgs) -> Result<ExitCode> {
    use printscout_engine::printer::ipp::{IppError, IppOptions, read_ipp};
    let mut options = IppOptions {
        timeout: args.timeout.saturating_mul(args.retries.saturating_add(1)),
        ..IppOptions::default()
    };
    if let Some(path) = &args.ca_file {
        // A site CA, or the printer's own self-signed certificate (pinning it).
        let pem = std::fs::read(path)
            .with_context(|| format!("--ca-file: cannot read {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
        if certs.is_empty() {
            bail!(
                "--ca-file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        options.extra_roots = certs;
    }
    if args.history {
        return ipp_history(url, &options, args.json).await;
    }
    match read_ipp(url, &options).await {
        Ok(r) => {
            print_reading(&r, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ IppError::BadUrl(_)) => bail!("{e}"),
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "target": url, "error": e.to_string(), "code": e.code() })
                );
            }
            eprintln!("printscout: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `read ipp://… --history`: the completed jobs the printer still keeps
/// (Get-Jobs, `which-jobs=completed`; most keep a short list).
async fn ipp_history(
    url: &str,
    options: &printscout_engine::printer::ipp::IppOptions,
    json: bool,
) -> Result<ExitCode> {
    use printscout_engine::printer::ipp::{IppError, completed_jobs};
    match completed_jobs(url, options).await {
        Ok(jobs) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "target": url, "jobs": jobs })
                    )?
                );
            } else {
                let mut out = format!(
                    "{url}: {} completed job(s) kept by the printer\n",
                    jobs.len()
                );
                for j in &jobs {
                    out.push_str(&format!(
                        "  {:>6}  {:<32} {:<10} {}  {} impressions\n",
                        j.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                        j.name.as_deref().unwrap_or("-"),
                        j.state.as_deref().unwrap_or("-"),
                        j.completed_at.as_deref().unwrap_or("-"),
                        j.impressions
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ));
                }
                print!("{out}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ IppError::BadUrl(_)) => bail!("{e}"),
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "target": url, "error": e.to_string(), "code": e.code() })
                );
            }
            eprintln!("printscout: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn print_reading(r: &Reading, json: bool) -> Result<()> {
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(r)?))
    } else {
        emit(&human::summary(r))
    }
}

/// Writes the result to stdout. A reader that went away (`| head`) is not an
/// error worth more than stopping.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write the result"))
        }
        _ => Ok(()),
    }
}

async fn resolve(target: &str) -> Result<SocketAddr> {
    resolve_with_port(target, 161).await
}

/// Resolves `HOST[:PORT]` (IPv6 as `[ADDR]:PORT`), `port` when none is given.
pub(crate) async fn resolve_with_port(target: &str, port: u16) -> Result<SocketAddr> {
    Ok(printscout_engine::discovery::targets::resolve_one(target, port).await?)
}

impl CredentialArgs {
    /// Whether no credential option was given (so the configured profiles apply).
    pub(crate) fn is_default(&self) -> bool {
        self.communities.is_empty()
            && self.v3_user.is_none()
            && !matches!(self.snmp_version, VersionArg::V3 | VersionArg::V1)
    }
}

pub(crate) fn credentials(a: &CredentialArgs) -> Result<Vec<Credential>> {
    let v3 = matches!(a.snmp_version, VersionArg::V3) || a.v3_user.is_some();
    if v3 {
        let Some(user) = a.v3_user.clone() else {
            bail!("SNMPv3 needs --v3-user");
        };
        let auth = match a.auth_proto {
            Some(p) => Some((
                auth_proto(p),
                passphrase(&a.auth_pass_env, "authentication")?,
            )),
            None => None,
        };
        let privacy = match a.priv_proto {
            Some(p) if auth.is_some() => {
                Some((priv_proto(p), passphrase(&a.priv_pass_env, "privacy")?))
            }
            Some(_) => bail!("--priv-proto needs --auth-proto too"),
            None => None,
        };
        return Ok(vec![Credential::V3 {
            name: user.clone(),
            user,
            auth,
            privacy,
            context: a.context.clone(),
        }]);
    }
    let version = match a.snmp_version {
        VersionArg::V1 => Version::V1,
        _ => Version::V2c,
    };
    let list = if a.communities.is_empty() {
        vec!["public".to_string()]
    } else {
        a.communities.clone()
    };
    let n = list.len();
    Ok(list
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let name = if c == "public" {
                "public".to_string()
            } else if n == 1 {
                "community #1".to_string()
            } else {
                format!("community #{}", i + 1)
            };
            Credential::community(name, version, c)
        })
        .collect())
}

fn passphrase(env: &str, what: &str) -> Result<Secret> {
    if let Ok(v) = std::env::var(env)
        && !v.is_empty()
    {
        return Ok(Secret::new(v));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!("the SNMPv3 {what} passphrase is not set: put it in the environment variable {env}");
    }
    let v = rpassword::prompt_password(format!("SNMPv3 {what} passphrase: "))
        .context("cannot read the passphrase")?;
    Ok(Secret::new(v))
}

fn auth_proto(a: AuthArg) -> AuthProto {
    match a {
        AuthArg::Md5 => AuthProto::Md5,
        AuthArg::Sha1 => AuthProto::Sha1,
        AuthArg::Sha224 => AuthProto::Sha224,
        AuthArg::Sha256 => AuthProto::Sha256,
        AuthArg::Sha384 => AuthProto::Sha384,
        AuthArg::Sha512 => AuthProto::Sha512,
    }
}

fn priv_proto(p: PrivArg) -> PrivProto {
    match p {
        PrivArg::Des => PrivProto::Des,
        PrivArg::Aes128 => PrivProto::Aes128,
        PrivArg::Aes192 => PrivProto::Aes192,
        PrivArg::Aes256 => PrivProto::Aes256,
    }
}
