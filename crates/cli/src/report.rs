//! `printscout report`: the e-mailed meter report. `--send-now` builds the
//! report for the last `--period` (default one day) and sends it through the
//! SMTP server `[email]` (or `--smtp-url`) names, to `email.to` (or every
//! `--report-to`), and says who it went to; without `--send-now` it shows
//! where reports go and how the last send went, and sends nothing.
//!
//! Invariants: the SMTP password comes from the secret store only (never a
//! flag, never printed); `--json` prints exactly one JSON object on stdout;
//! exit status 0 = sent (or, without `--send-now`, shown), 1 = the send
//! failed (the error in words and its stable code), 2 = bad usage or
//! configuration.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use printscout_engine::store::now_ms;
use printscout_engine::uplink::email::{self, EmailState, TlsMode};
use serde::Serialize;

use crate::service::DataArgs;
use crate::uplink_args::UplinkArgs;

/// `printscout report [--send-now] [--period 1d] [--json]`.
#[derive(Args, Debug)]
#[command(
    after_help = "Without --send-now nothing is sent: the command shows the SMTP server, \
    the recipients and how the last report e-mail went (sent when, or the last error).\n\
    The SMTP password is never a flag: store it with `printscout secret set smtp-password`."
)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    uplink: UplinkArgs,
    /// Send the meter report for the last --period now (Excel and CSV attached).
    #[arg(long)]
    send_now: bool,
    /// The period the report covers, ending now (e.g. 1d, 12h, 7d).
    #[arg(long, default_value = "1d", value_parser = period)]
    period: Duration,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

fn period(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    if d > Duration::from_secs(366 * 86_400) {
        return Err("must be at most a year".into());
    }
    Ok(d)
}

/// What `--send-now --json` prints.
#[derive(Serialize)]
struct Outcome {
    ok: bool,
    /// `sent`, or the error's stable code.
    code: String,
    message: String,
    recipients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<email::SentReport>,
}

/// What `report --json` (without `--send-now`) prints.
#[derive(Serialize)]
struct Shown {
    configured: bool,
    server: Option<String>,
    tls: Option<TlsMode>,
    from: String,
    recipients: Vec<String>,
    user: Option<String>,
    #[serde(flatten)]
    state: EmailState,
}

fn when(ms: i64) -> String {
    email::rfc3339(ms)
}

pub(crate) async fn run(args: ReportArgs) -> Result<ExitCode> {
    let (mut config, dir, store) = args.data.open()?;
    args.uplink.apply(&mut config)?;
    if !args.send_now {
        let state = email::last_state(&store)?;
        let endpoint = email::parse_smtp_url(&config.email.smtp_url).ok();
        let shown = Shown {
            configured: email::is_configured(&config),
            server: endpoint.as_ref().map(ToString::to_string),
            tls: endpoint.as_ref().map(|e| e.tls),
            from: config.email.from.clone(),
            recipients: config.email.to.clone(),
            user: Some(config.email.user.clone()).filter(|u| !u.is_empty()),
            state,
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&shown)?);
        } else {
            print_shown(&shown, args.period);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let secrets = printscout_engine::secrets::open(&config, &dir);
    let to = now_ms();
    let span = i64::try_from(args.period.as_millis()).unwrap_or(i64::MAX);
    let from = to.saturating_sub(span);
    let path = store.path().to_path_buf();
    drop(store);
    let result = email::send_report(&config, secrets, &path, (from, to)).await;
    let recipients = config.email.to.clone();
    match result {
        Ok(sent) => {
            let message = format!(
                "the report for {} to {} was sent to {} through {} ({}{}); the server answered {}",
                when(sent.from),
                when(sent.to),
                sent.recipients.join(", "),
                sent.server,
                if sent.encrypted {
                    "encrypted"
                } else {
                    "not encrypted"
                },
                if sent.authenticated {
                    format!(", as {}", config.email.user)
                } else {
                    String::new()
                },
                sent.response
            );
            if args.json {
                let out = Outcome {
                    ok: true,
                    code: "sent".into(),
                    message,
                    recipients,
                    sent: Some(sent),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("Sent: {}", sent.subject);
                println!("To: {}", sent.recipients.join(", "));
                println!(
                    "Through: {} ({}{})",
                    sent.server,
                    if sent.encrypted {
                        "encrypted"
                    } else {
                        "not encrypted"
                    },
                    if sent.authenticated {
                        format!(", as {}", config.email.user)
                    } else {
                        String::new()
                    }
                );
                println!("Period: {} to {}", when(sent.from), when(sent.to));
                println!("Attached: {}", sent.attachments.join(", "));
                println!("Server: {}", sent.response);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                let out = Outcome {
                    ok: false,
                    code: e.code().into(),
                    message: e.to_string(),
                    recipients,
                    sent: None,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                eprintln!("printscout: the report was not sent: {e} ({})", e.code());
            }
            Ok(ExitCode::from(match e {
                email::EmailError::NotConfigured(_) | email::EmailError::CaFile { .. } => 2,
                _ => 1,
            }))
        }
    }
}

fn print_shown(s: &Shown, period: Duration) {
    if !s.configured {
        println!(
            "E-mailed reports are off: set [email] smtp_url, from and to in the configuration, \
             or give --smtp-url and --report-to."
        );
    } else {
        println!(
            "Server: {} ({})",
            s.server.as_deref().unwrap_or("(invalid email.smtp_url)"),
            match s.tls {
                Some(TlsMode::Starttls) => "STARTTLS when offered; required to send a password",
                Some(TlsMode::StarttlsRequired) => "STARTTLS required",
                Some(TlsMode::Implicit) => "TLS",
                Some(TlsMode::None) => "no TLS",
                None => "?",
            }
        );
        println!("From: {}", s.from);
        println!("To: {}", s.recipients.join(", "));
        if let Some(u) = &s.user {
            println!("User: {u} (password from the secret store)");
        }
    }
    match s.state.last_email {
        Some(t) => println!("Last report sent: {}", when(t)),
        None => println!("Last report sent: never"),
    }
    if let Some(e) = &s.state.last_error {
        println!(
            "Last failure{}: {e}",
            s.state
                .last_error_at
                .map(|t| format!(" ({})", when(t)))
                .unwrap_or_default()
        );
    }
    println!(
        "Nothing was sent. `printscout report --send-now` sends the report for the last {} now.",
        span(period)
    );
}

/// `1 day`, `12 hours`, `90 minutes`, `45 seconds`.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
