//! `printscout sync`: how uploads are doing — where they go, which way
//! (direct or which proxy), the last success, what waits and how old it is,
//! what was dropped, the last error in words — and `sync --now`, which
//! uploads at once: through the running service when there is one (its
//! loopback API), else in this process.
//!
//! Invariants: nothing printed holds a secret (URLs are redacted, proxy
//! credentials shown as `***@`); `--now` never runs a second uploader next
//! to a running service (it asks the service); the exit code is 0 when the
//! outbox is empty or drained, 1 when the last attempt failed.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use printscout_engine::config::Config;
use printscout_engine::store::{OutboxSummary, Store, now_ms};
use printscout_engine::uplink::proxy::ProxyReport;
use printscout_engine::uplink::upload::{
    Failure, STATE_KEY, Sent, UplinkState, UploadOptions, Uploader,
};
use printscout_engine::uplink::{proxy, redact_url};
use serde::Serialize;

use crate::service::DataArgs;
use crate::uplink_args::UplinkArgs;

/// `printscout sync [--now] [--json]`.
#[derive(Args, Debug)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    uplink: UplinkArgs,
    /// Upload what is queued now (through the running service if there is one).
    #[arg(long)]
    now: bool,
    /// How long `--now` waits for the service's upload to finish.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Everything `sync` shows.
#[derive(Debug, Serialize)]
struct Report {
    upload_url: Option<String>,
    upload_every: String,
    proxy: ProxyReport,
    outbox: OutboxSummary,
    state: Option<UplinkState>,
    /// What `--now` did, when asked.
    now: Option<NowResult>,
    email: EmailLine,
}

#[derive(Debug, Serialize)]
struct NowResult {
    /// `service` (the running service uploaded) or `here` (this process).
    by: &'static str,
    ok: bool,
    sent: Sent,
    failure: Option<Failure>,
}

#[derive(Debug, Serialize)]
struct EmailLine {
    smtp_url: Option<String>,
    to: Vec<String>,
    last_sent: Option<i64>,
    last_error: Option<String>,
}

pub(crate) async fn run(args: SyncArgs) -> Result<ExitCode> {
    let (mut config, dir) = args.data.resolve()?;
    args.uplink.apply(&mut config)?;
    let secrets = printscout_engine::secrets::open(&config, &dir);
    let mut now = None;
    if args.now {
        if config.upload.url.is_empty() {
            anyhow::bail!(
                "no upload URL is configured: set [upload] url in the configuration or pass --upload-url"
            );
        }
        now = Some(match through_service(&dir, args.wait).await {
            Some(r) => r?,
            None => here(&config, secrets.clone(), &dir, args.json).await?,
        });
    }
    let store = Store::open_in(&dir)
        .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    let cfg = config.clone();
    let s2 = secrets.clone();
    let proxy = tokio::task::spawn_blocking(move || proxy::discover(&cfg, s2.as_ref()))
        .await
        .context("proxy discovery failed")?;
    let state: Option<UplinkState> = store
        .meta(STATE_KEY)?
        .and_then(|t| serde_json::from_str(&t).ok());
    let meta_ms =
        |k: &str| -> Result<Option<i64>> { Ok(store.meta(k)?.and_then(|v| v.parse().ok())) };
    let report = Report {
        upload_url: (!config.upload.url.is_empty()).then(|| redact_url(&config.upload.url)),
        upload_every: humantime::format_duration(config.upload.every).to_string(),
        proxy,
        outbox: store.outbox_summary()?,
        state,
        email: EmailLine {
            smtp_url: (!config.email.smtp_url.is_empty())
                .then(|| redact_url(&config.email.smtp_url)),
            to: config.email.to.clone(),
            last_sent: meta_ms("last_email")?,
            last_error: store.meta("last_email_error")?,
        },
        now,
    };
    let failed = report.now.as_ref().is_some_and(|n| !n.ok)
        || (report.now.is_none() && report.state.as_ref().is_some_and(|s| s.failure.is_some()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", words(&report, &config, now_ms()));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks the running service (its loopback API) to upload now and waits.
/// `None` when no service answers.
async fn through_service(dir: &Path, wait: Duration) -> Option<Result<NowResult>> {
    let info = printscout_api::token::ApiInfo::read(dir).ok()?;
    let token = std::fs::read_to_string(&info.token_file).ok()?;
    let url = format!("{}api/v1/sync", info.url);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(wait + Duration::from_secs(10))
        .build()
        .ok()?;
    let response = client
        .post(&url)
        .bearer_auth(token.trim())
        .header("content-type", "application/json")
        .body(format!(r#"{{"wait_s":{}}}"#, wait.as_secs()))
        .send()
        .await
        .ok()?;
    let status = response.status();
    let body: serde_json::Value = match response.json().await {
        Ok(b) => b,
        Err(e) => return Some(Err(anyhow::anyhow!("the service answered {status}: {e}"))),
    };
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no detail");
        return Some(Err(anyhow::anyhow!(
            "the service refused to upload now ({status}): {message}"
        )));
    }
    let state: UplinkState = serde_json::from_value(body["state"].clone()).unwrap_or_default();
    Some(Ok(NowResult {
        by: "service",
        ok: state.failure.is_none(),
        sent: state.last_sent,
        failure: state.failure,
    }))
}

/// Uploads in this process, with a spinner counting down the queue.
async fn here(
    config: &Config,
    secrets: Arc<dyn printscout_engine::secrets::SecretStore>,
    dir: &Path,
    quiet: bool,
) -> Result<NowResult> {
    let uploader = Uploader::new(config, secrets, dir, UploadOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_message(format!("uploading to {}", uploader.target()));
    bar.enable_steady_tick(Duration::from_millis(120));
    let watch_dir = dir.to_path_buf();
    let watch_bar = bar.clone();
    let watcher = tokio::spawn(async move {
        let Ok(store) = Store::open_in(&watch_dir) else {
            return;
        };
        loop {
            if let Ok(s) = store.outbox_summary() {
                watch_bar.set_message(format!("uploading: {} items left", s.queued));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let result = uploader.send_pending().await;
    watcher.abort();
    bar.finish_and_clear();
    let store = Store::open_in(dir)?;
    Ok(match result {
        Ok(sent) => {
            // Seen by `sync` afterwards, like the service's rounds.
            let mut st: UplinkState = store
                .meta(STATE_KEY)?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            st.last_success = Some(now_ms());
            st.last_sent = sent;
            st.failure = None;
            st.failures = 0;
            st.stopped = false;
            store.set_meta(STATE_KEY, &serde_json::to_string(&st)?)?;
            store.connection().execute(
                "DELETE FROM meta WHERE key IN ('last_upload_error', 'last_upload_code')",
                [],
            )?;
            NowResult {
                by: "here",
                ok: true,
                sent,
                failure: None,
            }
        }
        Err(f) => {
            store.set_meta("last_upload_error", &f.message)?;
            store.set_meta("last_upload_code", &f.code)?;
            let mut st: UplinkState = store
                .meta(STATE_KEY)?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            st.failure = Some(f.clone());
            st.failed_at = Some(now_ms());
            st.failures = st.failures.saturating_add(1);
            st.stopped = !f.retry;
            store.set_meta(STATE_KEY, &serde_json::to_string(&st)?)?;
            NowResult {
                by: "here",
                ok: false,
                sent: f.sent,
                failure: Some(f),
            }
        }
    })
}

fn when(ms: i64, now: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| ms.to_string());
    format!("{at} ({})", age(now - ms))
}

fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    let text = match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} days {} h", s / 86_400, s % 86_400 / 3600),
    };
    if ms < 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

fn words(r: &Report, config: &Config, now: i64) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<13}{v}\n"));
    match &r.upload_url {
        Some(url) => line("Upload", format!("{url} (every {})", r.upload_every)),
        None => line(
            "Upload",
            "off (no [upload] url; readings are not queued while it is off)".into(),
        ),
    }
    let in_use = &r.proxy.in_use;
    let path = match &in_use.url {
        Some(url) => format!("{} proxy {url}", in_use.path.as_str()),
        None => "direct".into(),
    };
    let preferred = r
        .state
        .as_ref()
        .and_then(|s| s.path.clone())
        .filter(|p| *p != path);
    line("Proxy", format!("{path} — {}", in_use.reason));
    if let Some(p) = preferred {
        line(
            "",
            format!("uploads go: {p} (the way the last check found working)"),
        );
    }
    if let Some(n) = &r.now {
        match &n.failure {
            None => line(
                "Sync now",
                format!(
                    "done{}: {} items in {} batches, {} bytes sent",
                    if n.by == "service" {
                        " by the running service"
                    } else {
                        ""
                    },
                    n.sent.items,
                    n.sent.batches,
                    n.sent.body_bytes
                ),
            ),
            Some(f) => line(
                "Sync now",
                format!(
                    "failed after {} items: {} [{}]",
                    n.sent.items, f.message, f.code
                ),
            ),
        }
    }
    let last = r
        .state
        .as_ref()
        .and_then(|s| s.last_success)
        .map(|t| when(t, now))
        .unwrap_or_else(|| "never".into());
    line("Last success", last);
    let o = &r.outbox;
    let queue = if o.queued == 0 {
        "empty".to_string()
    } else {
        let kinds: Vec<String> = o.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let oldest = o
            .oldest
            .map(|t| format!(", oldest queued {}", age(now - t)))
            .unwrap_or_default();
        format!("{} items ({}){oldest}", o.queued, kinds.join(", "))
    };
    line("Queue", queue);
    if let Some((id, items, attempts)) = &o.pending {
        line(
            "",
            format!(
                "batch {id} ({items} items) waits for the server's answer, {attempts} attempts so far"
            ),
        );
    }
    line(
        "Dropped",
        format!(
            "{} (outbox full; limit store.outbox_max = {}), rejected by the server: {}",
            o.dropped, config.store.outbox_max, o.rejected
        ),
    );
    match r
        .state
        .as_ref()
        .and_then(|s| s.failure.as_ref().map(|f| (s, f)))
    {
        Some((s, f)) => {
            let next = s
                .next_attempt
                .map(|t| format!("; next try {}", when(t, now)))
                .unwrap_or_default();
            let how = if s.stopped {
                "not retried automatically until something changes (fix it, then `printscout sync --now`)"
            } else {
                "retried with backoff"
            };
            line(
                "Last error",
                format!(
                    "{} [{}], {} failures in a row, {how}{next}",
                    f.message, f.code, s.failures
                ),
            );
        }
        None => line("Last error", "none".into()),
    }
    if let Some(s) = &r.state
        && !s.paths.is_empty()
    {
        for p in &s.paths {
            line(
                "Check",
                format!(
                    "{}{}: {} — {}",
                    p.path.as_str(),
                    p.proxy
                        .as_deref()
                        .map(|x| format!(" via {x}"))
                        .unwrap_or_default(),
                    p.code.as_str(),
                    p.message
                ),
            );
        }
    }
    match &r.email.smtp_url {
        Some(url) => {
            let last = r
                .email
                .last_sent
                .map(|t| when(t, now))
                .unwrap_or_else(|| "never".into());
            line(
                "E-mail",
                format!("{url} → {}; last report sent {last}", r.email.to.join(", ")),
            );
            if let Some(e) = &r.email.last_error {
                line("", format!("last send failed: {e}"));
            }
        }
        None => line("E-mail", "off (no [email] smtp_url)".into()),
    }
    out
}
