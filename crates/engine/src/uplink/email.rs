//! The e-mailed report: builds the report e-mail for a period (a short text
//! body — devices read and not read, errors open, supplies low — and the
//! meter report as Excel and CSV attachments) and sends it through the site's
//! SMTP server with lettre over rustls.
//!
//! Owns: the `email.smtp_url` forms ([`parse_smtp_url`]: `smtp://` =
//! STARTTLS when offered, `smtps://` = implicit TLS, `?tls=required|none`),
//! the message ([`build_report_email`]), the SMTP conversation
//! ([`send_email`]), the stable error codes ([`EmailError::code`]) and the
//! `meta` keys that remember the last send ([`last_state`]).
//!
//! Invariants:
//! - the SMTP password travels as a [`Secret`] from the secret store straight
//!   into lettre's `Credentials` (whose `Debug` hides it); it is never in an
//!   error, a log line, `Debug` output or a file. Server answers quoted in
//!   errors are scrubbed of it (and of its base64 forms) anyway. lettre's
//!   `tracing` feature stays off: it would log the AUTH line.
//! - the password is sent only over TLS (STARTTLS or `smtps://`): with
//!   `email.user` set, `smtp://` requires STARTTLS, and a server that does
//!   not offer it is refused before AUTH. Only `?tls=none` (the user's
//!   explicit choice for a LAN relay) sends it in clear.
//! - TLS is rustls (aws-lc-rs) with the platform's trust store plus
//!   `email.ca_file`; a certificate problem is `smtp_tls_error` in words and
//!   is never bypassed.
//! - the whole send is bounded: connecting (through the greeting and EHLO)
//!   by [`SendOptions::connect_timeout`], everything by
//!   [`SendOptions::send_timeout`]; either expiry is `smtp_timeout`.
//! - [`send_report`] records every outcome in the store's `meta` table
//!   (`last_email` on success, `last_email_error` and `last_email_error_at`
//!   on failure; the error is removed by the next success).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Local, TimeZone};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde::Serialize;

use crate::config::Config;
use crate::secret::Secret;
use crate::secrets::{SMTP_PASSWORD, SecretError, SecretStore};
use crate::store::{DeviceRecord, Store};

/// Default time to connect, read the greeting and say EHLO.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time for the whole conversation, attachments included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// `meta` key: when the last report e-mail was accepted (ms since epoch).
pub const META_LAST_EMAIL: &str = "last_email";
/// `meta` key: why the last send failed, in words and code (removed by the
/// next success).
pub const META_LAST_EMAIL_ERROR: &str = "last_email_error";
/// `meta` key: when the last send failed (ms).
pub const META_LAST_EMAIL_ERROR_AT: &str = "last_email_error_at";
/// `meta` key: the end of the period the last *scheduled* report that was
/// sent covered (ms). The collector's next scheduled report starts there,
/// so a failed send leaves no gap.
pub const META_COVERED_UNTIL: &str = "email_covered_until";

/// `X-PrintScout-Period: <from>/<to>` (RFC 3339, local offset): the period
/// the report covers, for people and for filters.
const PERIOD_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-PrintScout-Period");

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// Why the report could not be sent. No variant holds the password or
/// anything derived from it.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// `[email]` is not set up (no `smtp_url`, no sender or no recipient),
    /// or `smtp_url` is not a form this accepts. Code `email_not_configured`.
    #[error("the e-mailed report is not configured: {0}")]
    NotConfigured(String),
    /// `email.ca_file` cannot be read or holds no certificate. Code
    /// `ca_file_invalid`.
    #[error("email.ca_file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `email.user` is set but no SMTP password is stored. Code
    /// `smtp_password_missing`.
    #[error(
        "email.user is set but no SMTP password is stored: run `printscout secret set smtp-password`"
    )]
    PasswordMissing,
    /// The secret store failed (its own codes: `secret_store_unavailable`, …).
    #[error("the SMTP password could not be read: {0}")]
    Secret(#[from] SecretError),
    /// The meter report could not be built from the store. Code
    /// `report_failed`.
    #[error("the report could not be built: {0}")]
    Report(String),
    /// Nothing answers, the name does not resolve, or the connection was
    /// closed. Code `smtp_connect_failed`.
    #[error("{0}")]
    Connect(String),
    /// TLS failed: a certificate problem, no STARTTLS where it is needed, a
    /// server that does not speak TLS. Code `smtp_tls_error`.
    #[error("{0}")]
    Tls(String),
    /// The server refused the user or password, or wants authentication
    /// that is not configured. Code `smtp_auth_failed`.
    #[error("{0}")]
    Auth(String),
    /// The server refused the sender, a recipient or the message. Code
    /// `smtp_rejected`.
    #[error("{0}")]
    Rejected(String),
    /// No answer in time. Code `smtp_timeout`.
    #[error("{0}")]
    Timeout(String),
    /// Anything else in the SMTP conversation. Code `smtp_failed`.
    #[error("{0}")]
    Failed(String),
}

impl EmailError {
    /// A stable, machine-readable code (the API and `printscout report
    /// --json` report it).
    pub fn code(&self) -> &'static str {
        match self {
            EmailError::NotConfigured(_) => "email_not_configured",
            EmailError::CaFile { .. } => "ca_file_invalid",
            EmailError::PasswordMissing => "smtp_password_missing",
            EmailError::Secret(e) => e.code(),
            EmailError::Report(_) => "report_failed",
            EmailError::Connect(_) => "smtp_connect_failed",
            EmailError::Tls(_) => "smtp_tls_error",
            EmailError::Auth(_) => "smtp_auth_failed",
            EmailError::Rejected(_) => "smtp_rejected",
            EmailError::Timeout(_) => "smtp_timeout",
            EmailError::Failed(_) => "smtp_failed",
        }
    }
}

// ---------------------------------------------------------------------------
// The SMTP URL.

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// `smtp://`: STARTTLS when the server offers it; required when a
    /// password is to be sent.
    Starttls,
    /// `smtp://…?tls=required`: STARTTLS always required.
    StarttlsRequired,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: never TLS (a LAN relay); a password, if
    /// configured, is sent in clear because the user said so.
    None,
}

/// Where and how to reach the SMTP server (`email.smtp_url` parsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpEndpoint {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port: as given, else 25 (`smtp://`) or 465 (`smtps://`).
    pub port: u16,
    /// The TLS mode.
    pub tls: TlsMode,
}

impl fmt::Display for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses `email.smtp_url`: `smtp://host[:port]` (port 25; STARTTLS when
/// offered), `smtp://host[:port]?tls=required` (STARTTLS required),
/// `smtp://host[:port]?tls=none` (never TLS), `smtps://host[:port]` (port
/// 465, implicit TLS). Refused, in words that never repeat the URL: another
/// scheme, a user or password inside the URL, a path, a fragment, any other
/// option. Usable by configuration validation.
pub fn parse_smtp_url(text: &str) -> Result<SmtpEndpoint, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return Err(format!(
                "must be smtp://host[:port] or smtps://host[:port] (got {other}://)"
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not hold a user or password: set email.user and store the password with \
             `printscout secret set smtp-password`"
                .into(),
        );
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        _ => return Err("must name a host (smtp://host[:port])".into()),
    };
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err("must be just smtp://host[:port] or smtps://host[:port] (no path)".into());
    }
    let tls = match (implicit, url.query()) {
        (true, None) => TlsMode::Implicit,
        (true, Some(_)) => {
            return Err(
                "smtps:// is always TLS: options such as ?tls= apply to smtp:// only".into(),
            );
        }
        (false, None | Some("")) => TlsMode::Starttls,
        (false, Some("tls=required")) => TlsMode::StarttlsRequired,
        (false, Some("tls=none")) => TlsMode::None,
        (false, Some(_)) => {
            return Err("the only option is ?tls=required or ?tls=none".into());
        }
    };
    let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
    if port == 0 {
        return Err("port 0 is not a port".into());
    }
    Ok(SmtpEndpoint { host, port, tls })
}

/// The endpoint, sender and recipients of `[email]`, or
/// [`EmailError::NotConfigured`] saying what is missing.
fn check_configured(config: &Config) -> Result<(SmtpEndpoint, Mailbox, Vec<Mailbox>), EmailError> {
    let e = &config.email;
    if e.smtp_url.trim().is_empty() {
        return Err(EmailError::NotConfigured(
            "no SMTP server: set email.smtp_url (or give --smtp-url)".into(),
        ));
    }
    let endpoint = parse_smtp_url(&e.smtp_url)
        .map_err(|w| EmailError::NotConfigured(format!("email.smtp_url {w}")))?;
    let from: Mailbox = e.from.trim().parse().map_err(|_| {
        EmailError::NotConfigured(
            "email.from is missing or not an address (or give --report-from)".into(),
        )
    })?;
    if e.to.is_empty() {
        return Err(EmailError::NotConfigured(
            "no recipient: set email.to (or give --report-to)".into(),
        ));
    }
    let to =
        e.to.iter()
            .enumerate()
            .map(|(i, t)| {
                t.trim().parse::<Mailbox>().map_err(|_| {
                    EmailError::NotConfigured(format!("email.to[{i}] is not an address: {t:?}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
    Ok((endpoint, from, to))
}

/// Whether `[email]` names a server (it may still be incomplete).
pub fn is_configured(config: &Config) -> bool {
    !config.email.smtp_url.trim().is_empty()
}

// ---------------------------------------------------------------------------
// The message.

/// One attached file.
#[derive(Clone)]
pub struct EmailAttachment {
    /// File name, e.g. `printscout-meters-2026-11-21.xlsx`.
    pub name: String,
    /// MIME type.
    pub content_type: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for EmailAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailAttachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// The numbers in the subject line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// Devices monitored (not removed).
    pub devices: usize,
    /// Of which read (a full reading) in the period.
    pub read: usize,
    /// Of which not read in the period.
    pub not_read: usize,
    /// Open error conditions (not supplies).
    pub errors: usize,
    /// Open warnings (not supplies).
    pub warnings: usize,
    /// Supplies low.
    pub supplies_low: usize,
    /// Supplies empty (or waste full).
    pub supplies_empty: usize,
}

/// The report e-mail for one period, ready to send.
#[derive(Clone, Debug)]
pub struct ReportEmail {
    /// Start of the period (ms since epoch).
    pub from: i64,
    /// End of the period (ms, exclusive).
    pub to: i64,
    /// `PrintScout report 2026-11-21: 12 printers, 1 error, 2 supplies low`.
    pub subject: String,
    /// The text body.
    pub body: String,
    /// The meter report as XLSX, then as CSV.
    pub attachments: Vec<EmailAttachment>,
    /// The counts behind the subject.
    pub summary: ReportSummary,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn local_time(ms: i64, format: &str) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// RFC 3339 to the second in local time (`2026-11-21T06:00:00+01:00`).
pub fn rfc3339(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_else(|| ms.to_string())
}

fn device_label(d: &DeviceRecord) -> String {
    let name = d.display_name();
    let mut extra = Vec::new();
    if let Some(model) = d.model.as_deref().filter(|m| !name.contains(*m)) {
        extra.push(model.to_string());
    }
    if let Some(serial) = &d.serial {
        extra.push(format!("serial {serial}"));
    }
    if let Some(address) = d.address.as_deref().filter(|a| !name.contains(*a)) {
        extra.push(address.to_string());
    }
    if extra.is_empty() {
        name
    } else {
        format!("{name} ({})", extra.join(", "))
    }
}

/// Builds the report e-mail for `[from, to)` (ms) from the store: the
/// meter report (as `printscout export` writes it, times in local time)
/// attached as `printscout-meters-<day of to>.xlsx` and `.csv`, and a text
/// body with the devices read and not read, the errors and warnings open
/// and the supplies low or empty now, and the upload queue when an upload
/// is configured.
pub fn build_report_email(
    store: &Store,
    config: &Config,
    period: (i64, i64),
) -> Result<ReportEmail, EmailError> {
    let (from, to) = period;
    let report_err = |e: &dyn fmt::Display| EmailError::Report(e.to_string());
    let report = store
        .meter_report(Some(from), Some(to), &Local, &mut |_, _| {})
        .map_err(|e| report_err(&e))?;
    let xlsx = crate::export::xlsx_bytes(&report, &mut |_| {}).map_err(|e| report_err(&e))?;
    let mut csv = Vec::new();
    crate::export::write_csv(&report, &mut csv, &mut |_| {}).map_err(|e| report_err(&e))?;
    // 3D printers: the jobs and utilisation CSV files `printscout export` writes beside it.
    let mut csv_companions = Vec::new();
    for part in crate::export::CsvPart::parts_of(&report)
        .into_iter()
        .skip(1)
    {
        let mut bytes = Vec::new();
        crate::export::write_csv_part(&report, part, &mut bytes, &mut |_| {})
            .map_err(|e| report_err(&e))?;
        csv_companions.push((part, bytes));
    }

    let devices = store.devices(false).map_err(|e| report_err(&e))?;
    let read_ids: std::collections::HashSet<i64> = report
        .devices
        .iter()
        .filter(|r| r.first_reading_at.is_some())
        .map(|r| r.device_id)
        .collect();
    let names: std::collections::HashMap<i64, &DeviceRecord> =
        devices.iter().map(|d| (d.id, d)).collect();

    // Open conditions of monitored devices, oldest first per device.
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut low = Vec::new();
    let mut empty = Vec::new();
    {
        let mut st = store
            .connection()
            .prepare(
                "SELECT a.device_id, a.source, a.severity, a.message, a.key FROM alerts a \
                 JOIN devices d ON d.id = a.device_id \
                 WHERE a.cleared_at IS NULL AND d.removed_at IS NULL \
                 ORDER BY a.device_id, a.raised_at, a.id",
            )
            .map_err(|e| report_err(&e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| report_err(&e))?;
        for row in rows {
            let (device_id, source, severity, message, key) = row.map_err(|e| report_err(&e))?;
            let who = names
                .get(&device_id)
                .map(|d| device_label(d))
                .unwrap_or_else(|| format!("device {device_id}"));
            let line = format!("{who}: {message}");
            if source == "supply" {
                if key.starts_with("supply:empty:") {
                    empty.push(line);
                } else {
                    low.push(line);
                }
            } else if severity == "error" {
                errors.push(line);
            } else {
                warnings.push(line);
            }
        }
    }

    let not_read: Vec<&DeviceRecord> = devices
        .iter()
        .filter(|d| !read_ids.contains(&d.id))
        .collect();
    let summary = ReportSummary {
        devices: devices.len(),
        read: devices.len() - not_read.len(),
        not_read: not_read.len(),
        errors: errors.len(),
        warnings: warnings.len(),
        supplies_low: low.len(),
        supplies_empty: empty.len(),
    };

    let day = local_time(to, "%Y-%m-%d");
    let mut parts = vec![plural(summary.devices, "printer", "printers")];
    if summary.not_read > 0 {
        parts.push(format!("{} not read", summary.not_read));
    }
    parts.push(plural(summary.errors, "error", "errors"));
    if summary.supplies_empty > 0 {
        parts.push(plural(
            summary.supplies_empty,
            "supply empty",
            "supplies empty",
        ));
    }
    parts.push(plural(summary.supplies_low, "supply low", "supplies low"));
    let subject = format!("PrintScout report {day}: {}", parts.join(", "));

    let when = |ms| local_time(ms, "%Y-%m-%d %H:%M");
    let mut body = String::new();
    let mut line = |s: &str| {
        body.push_str(s);
        body.push('\n');
    };
    line(&format!(
        "PrintScout meter report for {} to {} ({}).",
        when(from),
        when(to),
        Local
            .timestamp_millis_opt(to)
            .single()
            .map(|t| t.format("UTC%:z").to_string())
            .unwrap_or_default()
    ));
    line("");
    line(&format!(
        "{} monitored: {} read in this period, {} not read.",
        plural(summary.devices, "printer", "printers"),
        summary.read,
        summary.not_read
    ));
    let section = |line: &mut dyn FnMut(&str), title: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        line("");
        line(&format!("{title} ({}):", items.len()));
        for i in items {
            line(&format!("  - {i}"));
        }
    };
    let not_read_lines: Vec<String> = not_read
        .iter()
        .map(|d| {
            let why = if d.offline {
                format!(
                    "offline{}",
                    d.last_error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )
            } else if let Some(e) = &d.last_error {
                e.clone()
            } else if let Some(seen) = d.last_meters {
                format!("last read {}", when(seen))
            } else {
                "never read".to_string()
            };
            format!("{}: {why}", device_label(d))
        })
        .collect();
    section(&mut line, "Not read in this period", &not_read_lines);
    section(&mut line, "Errors open", &errors);
    section(&mut line, "Warnings open", &warnings);
    section(&mut line, "Supplies empty", &empty);
    section(&mut line, "Supplies low", &low);
    if summary.errors == 0 && summary.supplies_low == 0 && summary.supplies_empty == 0 {
        line("");
        line("No errors open and no supply low.");
    }
    if !config.upload.url.trim().is_empty()
        && let Ok((queued, dropped)) = store.outbox_stats()
    {
        line("");
        line(&format!(
            "Upload: {} waiting to be sent{}.",
            plural(usize::try_from(queued).unwrap_or(0), "item", "items"),
            if dropped > 0 {
                format!(", {dropped} dropped because the queue was full")
            } else {
                String::new()
            }
        ));
    }
    let xlsx_name = format!("printscout-meters-{day}.xlsx");
    let csv_name = format!("printscout-meters-{day}.csv");
    line("");
    line(&format!(
        "Attached: the meter report for the period, one row per printer with its first and \
         last counters and the pages printed, as Excel ({xlsx_name}) and CSV ({csv_name})."
    ));
    let companions: Vec<EmailAttachment> = csv_companions
        .into_iter()
        .map(|(part, bytes)| EmailAttachment {
            name: part.file_name(&format!("printscout-meters-{day}")),
            content_type: CSV_TYPE,
            bytes,
        })
        .collect();
    if let [jobs, utilisation] = companions.as_slice() {
        line(&format!(
            "3D printers: their jobs and their use per day are in the workbook's Jobs and \
             Utilisation sheets, and as CSV ({} and {}).",
            jobs.name, utilisation.name
        ));
    }
    line("");
    line("-- ");
    line(&format!(
        "Sent by PrintScout {} on {}.",
        env!("CARGO_PKG_VERSION"),
        ClientId::default()
    ));

    Ok(ReportEmail {
        from,
        to,
        subject,
        body,
        attachments: vec![
            EmailAttachment {
                name: xlsx_name,
                content_type: XLSX_TYPE,
                bytes: xlsx,
            },
            EmailAttachment {
                name: csv_name,
                content_type: CSV_TYPE,
                bytes: csv,
            },
        ]
        .into_iter()
        .chain(companions)
        .collect(),
        summary,
    })
}

// ---------------------------------------------------------------------------
// Sending.

/// Time limits of one send.
#[derive(Clone, Copy, Debug)]
pub struct SendOptions {
    /// Connect, greeting and EHLO (and the TLS handshake for `smtps://`).
    pub connect_timeout: Duration,
    /// The whole conversation.
    pub send_timeout: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            connect_timeout: CONNECT_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
        }
    }
}

/// What a successful send did.
#[derive(Clone, Debug, Serialize)]
pub struct SentReport {
    /// The recipients, as configured.
    pub recipients: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// Start of the period (ms).
    pub from: i64,
    /// End of the period (ms).
    pub to: i64,
    /// The server, `host:port`.
    pub server: String,
    /// Whether the connection was encrypted when the message went.
    pub encrypted: bool,
    /// Whether the client authenticated (as `email.user`).
    pub authenticated: bool,
    /// The attachment names.
    pub attachments: Vec<String>,
    /// Size of the message sent, in bytes.
    pub bytes: usize,
    /// The server's final answer, e.g. `250 Message accepted for delivery`.
    pub response: String,
    /// The counts in the subject.
    pub summary: ReportSummary,
}

/// The state of the last sends, from the store's `meta` table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EmailState {
    /// When a report e-mail was last accepted by the server (ms).
    pub last_email: Option<i64>,
    /// The last failure in words, when the last send failed.
    pub last_error: Option<String>,
    /// When that failure happened (ms).
    pub last_error_at: Option<i64>,
    /// End of the period the last scheduled report sent covered (ms).
    pub covered_until: Option<i64>,
}

/// The state of the last sends.
pub fn last_state(store: &Store) -> Result<EmailState, crate::store::StoreError> {
    let num = |k: &str| -> Result<Option<i64>, crate::store::StoreError> {
        Ok(store.meta(k)?.and_then(|v| v.parse().ok()))
    };
    Ok(EmailState {
        last_email: num(META_LAST_EMAIL)?,
        last_error: store.meta(META_LAST_EMAIL_ERROR)?.filter(|e| !e.is_empty()),
        last_error_at: num(META_LAST_EMAIL_ERROR_AT)?,
        covered_until: num(META_COVERED_UNTIL)?,
    })
}

/// Records the outcome of a send in `meta`: `error` is `None` for a
/// success, else the failure in words (with its code).
pub fn record_outcome(
    store: &Store,
    at: i64,
    error: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    match error {
        None => {
            store.set_meta(META_LAST_EMAIL, &at.to_string())?;
            store
                .connection()
                .execute("DELETE FROM meta WHERE key = ?1", [META_LAST_EMAIL_ERROR])?;
        }
        Some(words) => {
            store.set_meta(META_LAST_EMAIL_ERROR, words)?;
            store.set_meta(META_LAST_EMAIL_ERROR_AT, &at.to_string())?;
        }
    }
    Ok(())
}

/// How a failure is remembered: the words and the code.
pub fn error_words(e: &EmailError) -> String {
    format!("{e} ({})", e.code())
}

/// Builds the report for `period` from the store at `store_path`, sends it
/// as `[email]` says (the password from `secrets` when `email.user` is set)
/// and records the outcome in `meta`. Logs the outcome (never a secret).
pub async fn send_report(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    store_path: &Path,
    period: (i64, i64),
) -> Result<SentReport, EmailError> {
    send_report_with(config, secrets, store_path, period, &SendOptions::default()).await
}

/// [`send_report`] with explicit time limits.
pub async fn send_report_with(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    store_path: &Path,
    period: (i64, i64),
    options: &SendOptions,
) -> Result<SentReport, EmailError> {
    let result = prepare_and_send(config, secrets, store_path, period, options).await;
    let path = store_path.to_path_buf();
    let error = result.as_ref().err().map(error_words);
    let recorded = tokio::task::spawn_blocking(move || {
        let store = Store::open(&path)?;
        record_outcome(&store, crate::store::now_ms(), error.as_deref())
    })
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("could not record the e-mail outcome: {e}"),
        Err(e) => tracing::warn!("could not record the e-mail outcome: {e}"),
    }
    match &result {
        Ok(sent) => tracing::info!(
            server = %sent.server,
            recipients = %sent.recipients.join(", "),
            bytes = sent.bytes,
            "report e-mailed"
        ),
        Err(e) => tracing::warn!(code = e.code(), "the report e-mail was not sent: {e}"),
    }
    result
}

async fn prepare_and_send(
    config: &Config,
    secrets: Arc<dyn SecretStore>,
    store_path: &Path,
    period: (i64, i64),
    options: &SendOptions,
) -> Result<SentReport, EmailError> {
    check_configured(config)?;
    let config_for_build = config.clone();
    let path = store_path.to_path_buf();
    let (email, password) = tokio::task::spawn_blocking(move || {
        let password = password_for(&config_for_build, secrets.as_ref())?;
        let store = Store::open(&path).map_err(|e| EmailError::Report(e.to_string()))?;
        let email = build_report_email(&store, &config_for_build, period)?;
        Ok::<_, EmailError>((email, password))
    })
    .await
    .map_err(|e| EmailError::Report(format!("the report task failed: {e}")))??;
    send_email(config, password, &email, options).await
}

/// The SMTP password when `email.user` is set.
fn password_for(config: &Config, secrets: &dyn SecretStore) -> Result<Option<Secret>, EmailError> {
    if config.email.user.trim().is_empty() {
        return Ok(None);
    }
    match secrets.get(SMTP_PASSWORD)? {
        Some(p) if !p.expose().is_empty() => Ok(Some(p)),
        _ => Err(EmailError::PasswordMissing),
    }
}

/// `email.ca_file`'s certificates (none when unset).
fn load_ca(config: &Config) -> Result<Vec<Certificate>, EmailError> {
    let Some(path) = &config.email.ca_file else {
        return Ok(Vec::new());
    };
    let bad = |reason: String| EmailError::CaFile {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("it holds no PEM certificate".into()));
    }
    let cert =
        Certificate::from_pem(&bytes).map_err(|_| bad("not a PEM certificate file".into()))?;
    Ok(vec![cert])
}

/// Replaces the password (and its base64 forms in AUTH PLAIN and LOGIN) in
/// text quoted from the server or an error.
struct Scrub(Vec<String>);

impl Scrub {
    fn new(user: &str, password: Option<&Secret>) -> Scrub {
        let Some(p) = password else {
            return Scrub(Vec::new());
        };
        let p = p.expose();
        Scrub(
            [
                p.to_string(),
                base64(p.as_bytes()),
                base64(format!("\0{user}\0{p}").as_bytes()),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
        )
    }

    fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The step of the conversation an error happened in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Starttls,
    Auth,
    Send,
}

/// Sends a built report e-mail as `[email]` says, with `password` for
/// `email.user` (required when the user is set).
pub async fn send_email(
    config: &Config,
    password: Option<Secret>,
    email: &ReportEmail,
    options: &SendOptions,
) -> Result<SentReport, EmailError> {
    let (endpoint, from, to) = check_configured(config)?;
    let user = config.email.user.trim().to_string();
    if !user.is_empty() && password.is_none() {
        return Err(EmailError::PasswordMissing);
    }
    let roots = load_ca(config)?;
    let mut multipart = MultiPart::mixed().singlepart(SinglePart::plain(email.body.clone()));
    for a in &email.attachments {
        let content_type = ContentType::parse(a.content_type)
            .map_err(|e| EmailError::Report(format!("content type {}: {e}", a.content_type)))?;
        multipart = multipart
            .singlepart(Attachment::new(a.name.clone()).body(a.bytes.clone(), content_type));
    }
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(None)
        .user_agent(format!("PrintScout {}", env!("CARGO_PKG_VERSION")))
        .raw_header(HeaderValue::new(
            PERIOD_HEADER,
            format!("{}/{}", rfc3339(email.from), rfc3339(email.to)),
        ));
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    let message = builder
        .multipart(multipart)
        .map_err(|e| EmailError::Report(format!("the message could not be built: {e}")))?;
    let bytes = message.formatted();
    let scrub = Scrub::new(&user, password.as_ref());
    let credentials = password.map(|p| Credentials::new(user.clone(), p.expose().to_string()));

    let conversation = converse(
        &endpoint,
        roots,
        credentials,
        message.envelope(),
        &bytes,
        options,
        &scrub,
        &user,
    );
    let (encrypted, response) = match tokio::time::timeout(options.send_timeout, conversation).await
    {
        Ok(r) => r?,
        Err(_) => {
            return Err(EmailError::Timeout(format!(
                "sending to {endpoint} took longer than {} s",
                options.send_timeout.as_secs()
            )));
        }
    };
    Ok(SentReport {
        recipients: config.email.to.clone(),
        subject: email.subject.clone(),
        from: email.from,
        to: email.to,
        server: endpoint.to_string(),
        encrypted,
        authenticated: !user.is_empty(),
        attachments: email.attachments.iter().map(|a| a.name.clone()).collect(),
        bytes: bytes.len(),
        response: scrub.apply(&response),
        summary: email.summary,
    })
}

#[allow(clippy::too_many_arguments)]
async fn converse(
    endpoint: &SmtpEndpoint,
    roots: Vec<Certificate>,
    credentials: Option<Credentials>,
    envelope: &lettre::address::Envelope,
    bytes: &[u8],
    options: &SendOptions,
    scrub: &Scrub,
    user: &str,
) -> Result<(bool, String), EmailError> {
    let tls_params = || -> Result<TlsParameters, EmailError> {
        let mut b = TlsParameters::builder(endpoint.host.clone());
        for r in &roots {
            b = b.add_root_certificate(r.clone());
        }
        b.build_rustls().map_err(|e| {
            EmailError::Tls(format!(
                "TLS could not be set up: {}",
                scrub.apply(&root_cause(&e))
            ))
        })
    };
    let fail = |phase: Phase, e: lettre::transport::smtp::Error| {
        classify(&e, phase, endpoint, scrub, user, options)
    };
    let hello = ClientId::default();
    let wrapper = match endpoint.tls {
        TlsMode::Implicit => Some(tls_params()?),
        _ => None,
    };
    let connect = AsyncSmtpConnection::connect_tokio1(
        (endpoint.host.as_str(), endpoint.port),
        Some(options.connect_timeout),
        &hello,
        wrapper,
        None,
    );
    let mut conn = match tokio::time::timeout(options.connect_timeout, connect).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(fail(Phase::Connect, e)),
        Err(_) => {
            return Err(EmailError::Timeout(format!(
                "{endpoint} did not greet within {} s{}",
                options.connect_timeout.as_secs(),
                if endpoint.tls == TlsMode::Implicit {
                    ""
                } else {
                    " (if it expects TLS from the start, use smtps://)"
                }
            )));
        }
    };
    // A failed STARTTLS leaves lettre's stream unusable (even for QUIT).
    let mut upgrade_failed = false;
    let result = async {
        let must_starttls = match endpoint.tls {
            TlsMode::StarttlsRequired => true,
            TlsMode::Starttls => credentials.is_some(),
            TlsMode::Implicit | TlsMode::None => false,
        };
        let want_starttls = matches!(endpoint.tls, TlsMode::Starttls | TlsMode::StarttlsRequired);
        if want_starttls {
            if conn.can_starttls() {
                let params = tls_params()?;
                if let Err(e) = conn.starttls(params, &hello).await {
                    upgrade_failed = true;
                    return Err(fail(Phase::Starttls, e));
                }
            } else if must_starttls {
                return Err(EmailError::Tls(if credentials.is_some() {
                    format!(
                        "{endpoint} does not offer STARTTLS, and the password is only sent over \
                         TLS: use smtps:// if the server has it, or add ?tls=none to email.smtp_url \
                         to send the password unencrypted on this network"
                    )
                } else {
                    format!("{endpoint} does not offer STARTTLS (email.smtp_url asks for ?tls=required)")
                }));
            }
        }
        if let Some(credentials) = &credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| fail(Phase::Auth, e))?;
        }
        let response = conn
            .send(envelope, bytes)
            .await
            .map_err(|e| fail(Phase::Send, e))?;
        let words: Vec<&str> = response.message().collect();
        Ok((
            conn.is_encrypted(),
            format!("{} {}", response.code(), words.join(" ")),
        ))
    }
    .await;
    match &result {
        Ok(_) => {
            let _ = conn.quit().await;
        }
        // Dropping the connection closes it.
        Err(_) if upgrade_failed => {}
        Err(_) => conn.abort().await,
    }
    result
}

/// Every error in `e`'s chain, including what an `io::Error` wraps.
fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        out.push(err);
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            out.extend(chain(inner));
            return out;
        }
        next = err.source();
    }
    out
}

fn root_cause(e: &lettre::transport::smtp::Error) -> String {
    chain(e)
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn classify(
    e: &lettre::transport::smtp::Error,
    phase: Phase,
    endpoint: &SmtpEndpoint,
    scrub: &Scrub,
    user: &str,
    options: &SendOptions,
) -> EmailError {
    let errors = chain(e);
    if let Some(t) = errors
        .iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
    {
        return EmailError::Tls(describe_tls(t, endpoint));
    }
    let root = scrub.apply(&root_cause(e));
    if e.is_tls() {
        return EmailError::Tls(format!("the TLS handshake with {endpoint} failed: {root}"));
    }
    let io_kind = errors
        .iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    if e.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return EmailError::Timeout(format!(
            "no answer from {endpoint} within {} s",
            options.connect_timeout.as_secs()
        ));
    }
    if let Some(code) = e.status() {
        let code = u16::from(code);
        let said = format!("{code} {root}");
        return match phase {
            Phase::Auth => EmailError::Auth(format!(
                "{endpoint} refused the user {user:?} or its password (it answered {said})"
            )),
            Phase::Send if code == 530 && user.is_empty() => EmailError::Auth(format!(
                "{endpoint} wants a user and password (it answered {said}): set email.user and \
                 run `printscout secret set smtp-password`"
            )),
            Phase::Send if code == 530 || code == 535 => EmailError::Auth(format!(
                "{endpoint} did not accept the sender (it answered {said})"
            )),
            Phase::Send if code < 500 => EmailError::Rejected(format!(
                "{endpoint} refused the message for now (it answered {said}); it is sent again at the next report"
            )),
            Phase::Send => EmailError::Rejected(format!(
                "{endpoint} refused the message (it answered {said})"
            )),
            Phase::Starttls => {
                EmailError::Tls(format!("{endpoint} refused STARTTLS (it answered {said})"))
            }
            Phase::Connect => EmailError::Connect(format!(
                "{endpoint} refused the connection (it answered {said})"
            )),
        };
    }
    use std::io::ErrorKind as K;
    match io_kind {
        Some(K::ConnectionRefused) => {
            return EmailError::Connect(format!(
                "nothing answers at {endpoint} (connection refused)"
            ));
        }
        Some(K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe) => {
            return EmailError::Connect(format!(
                "{endpoint} closed the connection{}",
                match phase {
                    Phase::Connect => " before greeting",
                    Phase::Starttls => " during STARTTLS",
                    Phase::Auth => " during authentication",
                    Phase::Send => " while the message was sent",
                }
            ));
        }
        Some(K::HostUnreachable | K::NetworkUnreachable) => {
            return EmailError::Connect(format!(
                "{endpoint} cannot be reached from here (no route)"
            ));
        }
        _ => {}
    }
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    if texts.iter().any(|t| {
        t.contains("failed to lookup address")
            || t.contains("Name or service not known")
            || t.contains("nodename nor servname")
            || t.contains("No such host")
    }) {
        return EmailError::Connect(format!("the name {} could not be resolved", endpoint.host));
    }
    match phase {
        Phase::Connect => EmailError::Connect(format!("could not talk to {endpoint}: {root}")),
        Phase::Starttls => EmailError::Tls(format!("STARTTLS with {endpoint} failed: {root}")),
        Phase::Auth if root.contains("No compatible authentication mechanism") => {
            EmailError::Auth(format!(
                "{endpoint} offers no AUTH PLAIN or LOGIN on this connection{}",
                if endpoint.tls == TlsMode::None {
                    " (many servers offer it only over TLS: drop ?tls=none)"
                } else {
                    ""
                }
            ))
        }
        Phase::Auth => EmailError::Auth(format!("authentication with {endpoint} failed: {root}")),
        Phase::Send => EmailError::Failed(format!("sending to {endpoint} failed: {root}")),
    }
}

fn describe_tls(e: &rustls::Error, endpoint: &SmtpEndpoint) -> String {
    use rustls::CertificateError as C;
    let host = &endpoint.host;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => format!(
                "the certificate of {host} is not signed by an authority this computer trusts \
                 (unknown issuer); if your organisation uses its own CA, give it as email.ca_file \
                 (or --ca-file)"
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the certificate presented is not valid for {host}")
            }
            C::Expired | C::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet (check this computer's clock)")
            }
            C::Revoked => format!("the certificate of {host} has been revoked"),
            other => format!("the certificate of {host} was refused ({other:?})"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "{endpoint} did not answer with TLS{}",
            if endpoint.tls == TlsMode::Implicit {
                " (is it smtp:// with STARTTLS rather than smtps://?)"
            } else {
                ""
            }
        ),
        rustls::Error::AlertReceived(alert) => {
            format!("{host} ended the TLS handshake ({alert:?})")
        }
        other => format!("the TLS handshake with {host} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smtp_url_forms_parse_to_their_tls_modes_and_ports() {
        let p = |t: &str| parse_smtp_url(t).expect(t);
        assert_eq!(
            p("smtp://mail.example"),
            SmtpEndpoint {
                host: "mail.example".into(),
                port: 25,
                tls: TlsMode::Starttls
            }
        );
        assert_eq!(p("smtp://mail.example:587").port, 587);
        assert_eq!(p("smtps://mail.example").port, 465);
        assert_eq!(p("smtps://mail.example").tls, TlsMode::Implicit);
        assert_eq!(p("smtp://10.0.0.5/?tls=none").tls, TlsMode::None);
        assert_eq!(
            p("smtp://10.0.0.5:2525?tls=required").tls,
            TlsMode::StarttlsRequired
        );
        let v6 = p("smtp://[::1]:2525");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:2525");
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_repeating_a_password() {
        for bad in [
            "http://mail.example",
            "smtp://user:SENTINEL-pw@mail.example",
            "smtp://mail.example/path",
            "smtp://mail.example?tls=maybe",
            "smtps://mail.example?tls=none",
            "smtp://",
            "mail.example:25",
        ] {
            let e = parse_smtp_url(bad).expect_err(bad);
            assert!(!e.contains("SENTINEL"), "{bad}: {e}");
        }
    }

    #[test]
    fn base64_matches_the_rfc_4648_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn the_scrubber_hides_the_password_and_its_auth_encodings() {
        let s = Scrub::new("mailer", Some(&Secret::new("SENTINEL-pw")));
        let plain = base64(b"\0mailer\0SENTINEL-pw");
        let login = base64(b"SENTINEL-pw");
        let text = format!("535 bad SENTINEL-pw {plain} {login}");
        let shown = s.apply(&text);
        assert!(!shown.contains("SENTINEL"));
        assert!(!shown.contains(&plain));
        assert!(!shown.contains(&login));
    }

    #[test]
    fn every_error_has_a_stable_code() {
        let codes = [
            EmailError::NotConfigured(String::new()).code(),
            EmailError::PasswordMissing.code(),
            EmailError::Connect(String::new()).code(),
            EmailError::Tls(String::new()).code(),
            EmailError::Auth(String::new()).code(),
            EmailError::Rejected(String::new()).code(),
            EmailError::Timeout(String::new()).code(),
        ];
        assert_eq!(
            codes,
            [
                "email_not_configured",
                "smtp_password_missing",
                "smtp_connect_failed",
                "smtp_tls_error",
                "smtp_auth_failed",
                "smtp_rejected",
                "smtp_timeout"
            ]
        );
    }
}
