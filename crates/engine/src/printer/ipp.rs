//! Reading an office printer over IPP (`ipp://` and `ipps://`): one
//! Get-Printer-Attributes with the monitoring attribute list of
//! PROTOCOLS.md §2, mapped into the same [`Reading`] an SNMP read gives, and
//! Get-Jobs for the completed jobs a printer still keeps.
//!
//! Transport: HTTP/1.1 `POST` with `Content-Type: application/ipp` through
//! reqwest, **never through a proxy** (printers are on the site's own
//! network; `HTTP_PROXY` must not capture them), no redirects, rustls with the
//! platform's trust store plus [`IppOptions::extra_roots`]. `ipp://` is plain
//! HTTP, `ipps://` is HTTPS; both default to port 631 and, when the URL has no
//! path, to `/ipp/print`. IPP 2.0 is asked first; on
//! `server-error-version-not-supported` (0x0503) the request is repeated once
//! as IPP 1.1.
//!
//! **Self-signed printer certificates** (most printers ship one): an `ipps://`
//! printer whose certificate the platform does not trust fails with
//! `ipp_tls_failed` and a message saying how to trust it (put the printer's
//! certificate, or the CA that signed it, in the system trust store or in
//! [`IppOptions::extra_roots`]; or read it over `ipp://` on a network you
//! trust). It is never accepted silently. Pinning a certificate by its
//! fingerprint is not built yet.
//!
//! Mapping (what a [`Reading`] gets):
//! - `identity`: vendor from the maker words SNMP knows (`vendors::VENDORS`)
//!   in `printer-make-and-model`, else the device ID's `MFG:`, else its first
//!   word; model from `MDL:` else make-and-model without the maker and
//!   " series"; serial from `printer-serial-number`, else `SN:`/`SERN:`/
//!   `SERIALNUMBER:` of `printer-device-id` (`serial_source` names which, as
//!   `ipp:<attribute>`); firmware from `printer-firmware-string-version`, else
//!   `printer-firmware-version`; `uuid` from `printer-uuid` (lower case, no
//!   `urn:uuid:`); `hostname` = `printer-name`, `location`, `info`,
//!   `description` = make-and-model, `uptime_seconds` = `printer-up-time`.
//!   A duplicated attribute counts by its first occurrence.
//! - `status.printer`: `printer-state` 3 `idle`, 4 `printing`, 5 `stopped`,
//!   else `other(N)`. `printer-state-reasons`: the suffix gives the severity
//!   (`-error` and no suffix: error, per RFC 8011; `-warning`; `-report`:
//!   information); `none` is nothing. Every reason becomes an [`Alert`] in
//!   group `printerStateReasons` whose `code_name` is the keyword exactly as
//!   sent (unknown keywords are kept) and whose severity is `critical`,
//!   `warning` or `other` (reports); warnings and errors that mean an
//!   hrPrinterDetectedErrorState bit (`media-jam` → `jammed`, `toner-empty` →
//!   `noToner`, …) also set that bit in `status.errors`, so events and the
//!   overall status work as for SNMP. `status.device` is `down` (an error
//!   reason, or stopped), `warning` or `running`; `printer-state-message`
//!   goes to `console`. `printer-alert` (PWG 5100.9 `key=value;` strings) maps
//!   to alerts one for one, text from `printer-alert-description`.
//! - `supplies`: from `printer-supply` (+ `printer-supply-description`, by
//!   position) when the printer sends it — it carries class, unit and
//!   maximum, and the RFC 3805 sentinels apply to `level`/`maxcapacity`;
//!   otherwise from the parallel `marker-*` arrays (paired by index, arrays
//!   of different lengths tolerated), whose levels are percentages and whose
//!   negative levels are states, never empty. Types are normalised to the
//!   Printer-MIB spelling (`waste-toner` → `wasteToner`), colours to the
//!   lower-case names the colorant table gives (`#00FFFF` → `cyan`).
//! - `counters`: `printer-impressions-completed` → `total`, its `-col`
//!   members `monochrome` → `mono` and `full-color` → `color`; sheets →
//!   `sheets`, `sheets_mono`, `sheets_color`; pages → `pages`, `pages_mono`,
//!   `pages_color`. Every counter, with other `-col` members, is in
//!   `counter_sources` with `oid` = `ipp:<attribute>[.<member>]`.
//!
//! Invariants: no panic on any bytes from the network (the answer is bounded
//! in size, its structure is checked before the `ipp` crate parses it, and
//! the parse runs under `catch_unwind` as a last guard); every failure has a
//! stable code ([`IppError::code`]); a 401/403 is `ipp_not_authorized`
//! ("rejected"), never "offline"; a URL with a user or password is refused
//! without repeating it.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::io::Cursor;
use std::time::{Duration, Instant};

use ipp::attribute::{IppAttribute, IppAttributeGroup, IppAttributeName};
use ipp::model::{DelimiterTag, IppVersion, Operation};
use ipp::parser::IppParser;
use ipp::request::IppRequestResponse;
use ipp::value::{IppKeyword, IppString, IppValue};
use serde::Serialize;
use url::Url;

use super::model::{Alert, CounterSource, Reading, Supply};
use super::names::error_is_blocking;
use super::standard::{level_state, plausible_serial};
use super::vendors;

/// Default time for one whole exchange (connect, send, answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer accepted (a Get-Printer-Attributes answer is a few KiB).
pub const MAX_RESPONSE: usize = 1 << 20;
/// Default port of `ipp://` and `ipps://`.
pub const DEFAULT_PORT: u16 = 631;
/// Path used when the URL has none.
pub const DEFAULT_PATH: &str = "/ipp/print";
const USER_AGENT: &str = concat!("PrintScout/", env!("CARGO_PKG_VERSION"));
const VERSION_NOT_SUPPORTED: i16 = 0x0503;

/// What one status poll asks for (PROTOCOLS.md §2).
pub const REQUESTED_ATTRIBUTES: &[&str] = &[
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-alert",
    "printer-alert-description",
    "printer-is-accepting-jobs",
    "queued-job-count",
    "printer-up-time",
    "printer-make-and-model",
    "printer-device-id",
    "printer-uuid",
    "printer-serial-number",
    "printer-firmware-name",
    "printer-firmware-string-version",
    "printer-firmware-version",
    "printer-info",
    "printer-location",
    "printer-name",
    "printer-more-info",
    "marker-names",
    "marker-types",
    "marker-colors",
    "marker-levels",
    "marker-low-levels",
    "marker-high-levels",
    "printer-supply",
    "printer-supply-description",
    "printer-impressions-completed",
    "printer-impressions-completed-col",
    "printer-media-sheets-completed",
    "printer-media-sheets-completed-col",
    "printer-pages-completed",
    "printer-pages-completed-col",
];

/// What Get-Jobs asks for.
pub const JOB_ATTRIBUTES: &[&str] = &[
    "job-id",
    "job-name",
    "job-originating-user-name",
    "job-state",
    "job-state-reasons",
    "time-at-creation",
    "time-at-completed",
    "date-time-at-creation",
    "date-time-at-completed",
    "job-impressions-completed",
    "job-media-sheets-completed",
];

/// How to talk to the printer.
#[derive(Clone, Debug)]
pub struct IppOptions {
    /// Time for one whole exchange (connect, send, answer).
    pub timeout: Duration,
    /// `requesting-user-name` sent with each request.
    pub user_name: String,
    /// Certificates trusted for `ipps://` besides the platform's (a site CA,
    /// or a printer's own certificate when it is a CA).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl Default for IppOptions {
    fn default() -> Self {
        IppOptions {
            timeout: DEFAULT_TIMEOUT,
            user_name: "printscout".into(),
            extra_roots: Vec::new(),
        }
    }
}

/// Why a printer could not be read over IPP. [`IppError::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum IppError {
    /// The address is not an `ipp://` or `ipps://` URL we can use.
    #[error("{0}")]
    BadUrl(String),
    /// No connection (refused, unreachable, name not resolved).
    #[error("{target}: {message}")]
    ConnectFailed {
        /// Who was asked.
        target: String,
        /// What happened, in words.
        message: String,
    },
    /// No whole answer in time.
    #[error("{target}: no answer within {} ms", waited.as_millis())]
    Timeout {
        /// Who was asked.
        target: String,
        /// Time waited.
        waited: Duration,
    },
    /// The printer refused the request (HTTP 401/403/407): it is there and
    /// answering, but wants credentials or forbids this client.
    #[error(
        "{target}: the printer rejected the request (HTTP {status}); it wants a user and password or does not allow this computer"
    )]
    NotAuthorized {
        /// Who was asked.
        target: String,
        /// The HTTP status.
        status: u16,
    },
    /// The TLS handshake of `ipps://` failed (usually an untrusted certificate).
    #[error("{target}: {message}")]
    Tls {
        /// Who was asked.
        target: String,
        /// What happened and how to fix it, in words.
        message: String,
    },
    /// The answer is not a usable IPP response (not HTTP 200, not IPP, malformed, too large).
    #[error("{target}: {message}")]
    BadResponse {
        /// Who was asked.
        target: String,
        /// What was wrong, in words.
        message: String,
    },
    /// The printer answered with an IPP error status.
    #[error("{target}: the printer answered IPP status 0x{status:04x} ({name})")]
    Status {
        /// Who was asked.
        target: String,
        /// The IPP status code.
        status: u16,
        /// Its name (`client-error-not-found`, …).
        name: String,
    },
}

impl IppError {
    /// The stable code: `ipp_bad_url`, `ipp_connect_failed`, `ipp_timeout`,
    /// `ipp_not_authorized`, `ipp_tls_failed`, `ipp_bad_response`, `ipp_status`.
    pub fn code(&self) -> &'static str {
        match self {
            IppError::BadUrl(_) => "ipp_bad_url",
            IppError::ConnectFailed { .. } => "ipp_connect_failed",
            IppError::Timeout { .. } => "ipp_timeout",
            IppError::NotAuthorized { .. } => "ipp_not_authorized",
            IppError::Tls { .. } => "ipp_tls_failed",
            IppError::BadResponse { .. } => "ipp_bad_response",
            IppError::Status { .. } => "ipp_status",
        }
    }
}

/// A printer's IPP address, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IppTarget {
    /// The printer URI as sent in `printer-uri` (`ipp://host:port/path`).
    pub printer_uri: String,
    /// The HTTP(S) URL the request is posted to.
    pub http_url: Url,
    /// Whether it is `ipps://` (TLS).
    pub tls: bool,
}

impl IppTarget {
    /// Parses `ipp://host[:port][/path]` or `ipps://…` (also accepts
    /// `http://`/`https://` as their IPP equivalents). Port 631 and path
    /// `/ipp/print` when absent. A user or password in the URL is refused.
    pub fn parse(text: &str) -> Result<IppTarget, IppError> {
        let url = Url::parse(text.trim()).map_err(|e| {
            IppError::BadUrl(format!(
                "not a printer URL ({e}); write ipp://HOST[:PORT]/PATH"
            ))
        })?;
        let tls = match url.scheme() {
            "ipp" | "http" => false,
            "ipps" | "https" => true,
            other => {
                return Err(IppError::BadUrl(format!(
                    "the scheme {other}:// is not IPP; write ipp://HOST[:PORT]/PATH or ipps://…"
                )));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(IppError::BadUrl(
                "the printer URL holds a user name or password; give the address without them"
                    .into(),
            ));
        }
        let host = match url.host() {
            Some(h) => h.to_string(),
            None => {
                return Err(IppError::BadUrl(
                    "the printer URL has no host; write ipp://HOST[:PORT]/PATH".into(),
                ));
            }
        };
        if host.is_empty() {
            return Err(IppError::BadUrl(
                "the printer URL has no host; write ipp://HOST[:PORT]/PATH".into(),
            ));
        }
        let port = url.port().unwrap_or(DEFAULT_PORT);
        let path = match url.path() {
            "" | "/" => DEFAULT_PATH.to_string(),
            p => p.to_string(),
        };
        let scheme = if tls { "ipps" } else { "ipp" };
        let printer_uri = format!("{scheme}://{host}:{port}{path}");
        let http = if tls { "https" } else { "http" };
        let http_url = Url::parse(&format!("{http}://{host}:{port}{path}"))
            .map_err(|e| IppError::BadUrl(format!("not a usable printer URL ({e})")))?;
        Ok(IppTarget {
            printer_uri,
            http_url,
            tls,
        })
    }
}

/// What one exchange cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    /// HTTP requests sent (2 when the printer wanted IPP 1.1).
    pub requests: u32,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Whether the printer needed IPP 1.1.
    pub fell_back_to_1_1: bool,
}

/// Reads one printer: one Get-Printer-Attributes (two when it wants IPP 1.1).
pub async fn read_ipp(url: &str, options: &IppOptions) -> Result<Reading, IppError> {
    let started = Instant::now();
    let target = IppTarget::parse(url)?;
    let (response, cost) = request(
        &target,
        Operation::GetPrinterAttributes,
        REQUESTED_ATTRIBUTES,
        &[],
        options,
    )
    .await?;
    let group = response
        .attributes()
        .groups_of(DelimiterTag::PrinterAttributes)
        .next()
        .cloned()
        .unwrap_or_else(|| IppAttributeGroup::new(DelimiterTag::PrinterAttributes));
    let mut r = reading_from_attributes(&group);
    r.target = target.printer_uri.clone();
    r.protocol = Some(if target.tls { "ipps" } else { "ipp" }.into());
    if cost.fell_back_to_1_1 {
        r.notes
            .push("the printer does not speak IPP 2.0; read with IPP 1.1".into());
    }
    if group.attributes().is_empty() {
        r.notes
            .push("the printer answered but sent no printer attributes".into());
    }
    r.stats.requests = cost.requests;
    r.stats.bytes_sent = Some(cost.bytes_sent);
    r.stats.bytes_received = Some(cost.bytes_received);
    r.stats.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(r)
}

/// One job the printer keeps (Get-Jobs, `which-jobs=completed`).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IppJob {
    /// `job-id`.
    pub id: Option<i64>,
    /// `job-name` (the document's title as the sender named it).
    pub name: Option<String>,
    /// `job-originating-user-name` (personal data: the caller decides whether it leaves the site).
    pub user: Option<String>,
    /// `job-state`: `pending`, `pending-held`, `processing`, `processing-stopped`,
    /// `canceled`, `aborted`, `completed`, else `other(N)`.
    pub state: Option<String>,
    /// `job-state-reasons` keywords as sent.
    pub state_reasons: Vec<String>,
    /// `time-at-creation`: the printer's up-time in seconds when the job came.
    pub time_at_creation: Option<i64>,
    /// `time-at-completed`: the printer's up-time in seconds when it ended.
    pub time_at_completed: Option<i64>,
    /// `date-time-at-creation`, RFC 3339, when the printer sends it.
    pub created_at: Option<String>,
    /// `date-time-at-completed`, RFC 3339, when the printer sends it.
    pub completed_at: Option<String>,
    /// `job-impressions-completed`.
    pub impressions: Option<i64>,
    /// `job-media-sheets-completed`.
    pub sheets: Option<i64>,
}

/// The completed jobs the printer still keeps (devices keep a short list;
/// none at all is an empty list, not an error).
pub async fn completed_jobs(url: &str, options: &IppOptions) -> Result<Vec<IppJob>, IppError> {
    let target = IppTarget::parse(url)?;
    let which = keyword("completed").map_err(|e| bad_request(&target, &e))?;
    let extra = [IppAttribute::new(
        IppAttributeName::WHICH_JOBS,
        IppValue::Keyword(which),
    )];
    let (response, _) =
        request(&target, Operation::GetJobs, JOB_ATTRIBUTES, &extra, options).await?;
    Ok(response
        .attributes()
        .groups_of(DelimiterTag::JobAttributes)
        .map(job_from)
        .collect())
}

/// Maps one job-attributes group.
pub fn job_from(g: &IppAttributeGroup) -> IppJob {
    let a = Attrs(g);
    IppJob {
        id: a.int("job-id"),
        name: a.text("job-name"),
        user: a.text("job-originating-user-name"),
        state: a.int("job-state").map(|s| {
            match s {
                3 => "pending",
                4 => "pending-held",
                5 => "processing",
                6 => "processing-stopped",
                7 => "canceled",
                8 => "aborted",
                9 => "completed",
                _ => return format!("other({s})"),
            }
            .to_string()
        }),
        state_reasons: a.texts("job-state-reasons"),
        time_at_creation: a.int("time-at-creation"),
        time_at_completed: a.int("time-at-completed"),
        created_at: a.date("date-time-at-creation"),
        completed_at: a.date("date-time-at-completed"),
        impressions: a.int("job-impressions-completed"),
        sheets: a.int("job-media-sheets-completed"),
    }
}

fn keyword(k: &str) -> Result<IppKeyword, String> {
    IppKeyword::try_from(k).map_err(|e| e.to_string())
}

fn bad_request(t: &IppTarget, e: &str) -> IppError {
    IppError::BadResponse {
        target: t.printer_uri.clone(),
        message: format!("cannot build the request: {e}"),
    }
}

/// Builds the request body for `operation` at `version`.
fn encode(
    target: &IppTarget,
    version: IppVersion,
    operation: Operation,
    requested: &[&str],
    extra: &[IppAttribute],
    user: &str,
) -> Result<Vec<u8>, IppError> {
    let mut req = IppRequestResponse::new(version, operation, None)
        .map_err(|e| bad_request(target, &e.to_string()))?;
    let uri = IppString::new(target.printer_uri.clone())
        .map_err(|e| bad_request(target, &e.to_string()))?;
    let user = IppValue::new_name_without_language(user.to_string())
        .map_err(|e| bad_request(target, &e.to_string()))?;
    let keywords = requested
        .iter()
        .map(|k| keyword(k).map(IppValue::Keyword))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_request(target, &e))?;
    let ops = DelimiterTag::OperationAttributes;
    let attrs = req.attributes_mut();
    attrs.add(
        ops,
        IppAttribute::new(IppAttributeName::PRINTER_URI, IppValue::Uri(uri)),
    );
    attrs.add(
        ops,
        IppAttribute::new(IppAttributeName::REQUESTING_USER_NAME, user),
    );
    for a in extra {
        attrs.add(ops, a.clone());
    }
    attrs.add(
        ops,
        IppAttribute::new(
            IppAttributeName::REQUESTED_ATTRIBUTES,
            IppValue::Array(keywords),
        ),
    );
    Ok(req.to_bytes().to_vec())
}

/// Sends `operation` (IPP 2.0, then 1.1 if the printer wants it) and returns
/// the successful response.
async fn request(
    target: &IppTarget,
    operation: Operation,
    requested: &[&str],
    extra: &[IppAttribute],
    options: &IppOptions,
) -> Result<(IppRequestResponse, Exchange), IppError> {
    let client = client(target, options)?;
    let mut cost = Exchange::default();
    for version in [IppVersion::v2_0(), IppVersion::v1_1()] {
        let body = encode(
            target,
            version,
            operation,
            requested,
            extra,
            &options.user_name,
        )?;
        cost.requests += 1;
        cost.bytes_sent += body.len() as u64;
        let answer = tokio::time::timeout(options.timeout, post(&client, target, body, options))
            .await
            .map_err(|_| IppError::Timeout {
                target: target.printer_uri.clone(),
                waited: options.timeout,
            })??;
        cost.bytes_received += answer.len() as u64;
        let response = parse_response(target, answer)?;
        let status = response.header().operation_or_status;
        if status == VERSION_NOT_SUPPORTED && version == IppVersion::v2_0() {
            cost.fell_back_to_1_1 = true;
            continue;
        }
        // 0x0000–0x00FF are the successful-ok family.
        if !(0..=0xff).contains(&status) {
            return Err(IppError::Status {
                target: target.printer_uri.clone(),
                status: status as u16,
                name: status_name(status as u16),
            });
        }
        return Ok((response, cost));
    }
    Err(IppError::Status {
        target: target.printer_uri.clone(),
        status: VERSION_NOT_SUPPORTED as u16,
        name: status_name(VERSION_NOT_SUPPORTED as u16),
    })
}

/// The HTTP client: one shared client when no extra roots are given
/// (building rustls' platform verifier costs milliseconds per read), else
/// one for this read. No connection pooling: printers drop idle
/// connections, and a poll every few minutes gains nothing from one.
fn client(target: &IppTarget, options: &IppOptions) -> Result<reqwest::Client, IppError> {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let build = |roots: &[reqwest::Certificate]| {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_rustls();
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots.iter().cloned());
        }
        builder.build().map_err(|e| IppError::ConnectFailed {
            target: target.printer_uri.clone(),
            message: format!("cannot set up the HTTP client: {e}"),
        })
    };
    if !options.extra_roots.is_empty() {
        return build(&options.extra_roots);
    }
    if let Some(c) = SHARED.get() {
        return Ok(c.clone());
    }
    let c = build(&[])?;
    Ok(SHARED.get_or_init(|| c).clone())
}

/// One HTTP POST; the body of a 200 answer, bounded by [`MAX_RESPONSE`].
async fn post(
    client: &reqwest::Client,
    target: &IppTarget,
    body: Vec<u8>,
    options: &IppOptions,
) -> Result<Vec<u8>, IppError> {
    let t = || target.printer_uri.clone();
    let mut response = client
        .post(target.http_url.clone())
        .timeout(options.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/ipp")
        .body(body)
        .send()
        .await
        .map_err(|e| judge(&e, target, options.timeout))?;
    let status = response.status().as_u16();
    match status {
        200 => {}
        401 | 403 | 407 => {
            return Err(IppError::NotAuthorized {
                target: t(),
                status,
            });
        }
        426 => {
            return Err(IppError::BadResponse {
                target: t(),
                message: "the printer demands TLS (HTTP 426 Upgrade Required): use ipps://".into(),
            });
        }
        404 => {
            return Err(IppError::BadResponse {
                target: t(),
                message: format!(
                    "no IPP printer at the path {} (HTTP 404); most printers use /ipp/print, CUPS queues /printers/NAME",
                    target.http_url.path()
                ),
            });
        }
        other => {
            return Err(IppError::BadResponse {
                target: t(),
                message: format!("the printer answered HTTP {other}, not 200"),
            });
        }
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(n) = response.content_length()
        && n > MAX_RESPONSE as u64
    {
        return Err(IppError::BadResponse {
            target: t(),
            message: format!("the answer is larger than {MAX_RESPONSE} bytes ({n})"),
        });
    }
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > MAX_RESPONSE {
                    return Err(IppError::BadResponse {
                        target: t(),
                        message: format!("the answer is larger than {MAX_RESPONSE} bytes"),
                    });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(judge(&e, target, options.timeout)),
        }
    }
    if !content_type.is_empty() && !content_type.starts_with("application/ipp") {
        // Still an answer worth a look: some printers mislabel it. Parsing decides.
        tracing::debug!(target = %target.printer_uri, %content_type, "IPP answer with an odd content type");
    }
    Ok(out)
}

/// What a failed reqwest call means.
fn judge(e: &reqwest::Error, target: &IppTarget, timeout: Duration) -> IppError {
    let t = target.printer_uri.clone();
    // hyper-rustls wraps the TLS error in io::Errors (two deep), whose
    // `source()` skips it: look inside them.
    let tls = find_rustls(e);
    if let Some(tls) = tls {
        return IppError::Tls {
            target: t,
            message: describe_tls(tls, &target.http_url),
        };
    }
    if e.is_timeout() {
        return IppError::Timeout {
            target: t,
            waited: timeout,
        };
    }
    let cause = crate::printer::net::cause_of(e);
    let (root, io) = (&cause.root, cause.io);
    use std::io::ErrorKind as K;
    let host = target.http_url.host_str().unwrap_or_default();
    let port = target.http_url.port().unwrap_or(DEFAULT_PORT);
    if e.is_connect() {
        let message = crate::printer::net::connect_failure(&cause, host, port);
        return IppError::ConnectFailed { target: t, message };
    }
    if matches!(
        io,
        Some(K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe)
    ) {
        return IppError::BadResponse {
            target: t,
            message: "the printer closed the connection before a whole answer".into(),
        };
    }
    IppError::BadResponse {
        target: t,
        message: format!("not a usable HTTP answer: {root}"),
    }
}

pub(crate) fn find_rustls<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        let inner: &(dyn StdError + 'static) = inner;
        if let Some(r) = find_rustls(inner) {
            return Some(r);
        }
    }
    e.source().and_then(find_rustls)
}

fn describe_tls(e: &rustls::Error, url: &Url) -> String {
    use rustls::CertificateError as C;
    let host = url.host_str().unwrap_or_default();
    let how = "to trust it, give the printer's certificate (or the CA that signed it) with --ca-file, or add it to this computer's trust store, or read it over ipp:// on a network you trust";
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => format!(
                "the printer's certificate is not signed by an authority this computer trusts (most printers use a self-signed one); {how}"
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the printer's certificate is not valid for the name {host}; use the name it was issued for, or {how}"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                format!("the printer's certificate has expired; renew it on the printer, or {how}")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the printer's certificate is not valid yet (check this computer's and the printer's clocks)".into()
            }
            other => format!("the printer's certificate was refused ({other:?}); {how}"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("{host} did not answer with TLS (use ipp:// rather than ipps://?)")
        }
        rustls::Error::AlertReceived(alert) => {
            format!("{host} ended the TLS handshake ({alert:?})")
        }
        other => format!("the TLS handshake with {host} failed: {other}"),
    }
}

/// Checks the structure of an IPP message (header, tags, lengths, the inner
/// lengths of text/name-with-language values) so the parser never meets a
/// length that runs past the data.
pub fn check_structure(data: &[u8]) -> Result<(), String> {
    if data.len() < 9 {
        return Err(format!(
            "{} bytes are too few for an IPP message",
            data.len()
        ));
    }
    let mut pos = 8;
    let u16_at = |p: usize| -> Option<usize> {
        data.get(p..p + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    loop {
        let Some(&tag) = data.get(pos) else {
            return Err("the message ends before end-of-attributes".into());
        };
        pos += 1;
        match tag {
            0x03 => return Ok(()),
            0x01..=0x0a => continue,
            0x10..=0x4a => {
                let name_len = u16_at(pos).ok_or("a cut attribute name")?;
                pos += 2 + name_len;
                let value_len = u16_at(pos).ok_or("a cut attribute value")?;
                pos += 2;
                let value = data
                    .get(pos..pos + value_len)
                    .ok_or("an attribute value longer than the message")?;
                if tag == 0x35 || tag == 0x36 {
                    let lang = value
                        .get(0..2)
                        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                        .ok_or("a cut language tag")?;
                    let text = value
                        .get(2 + lang..4 + lang)
                        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                        .ok_or("a cut text-with-language value")?;
                    if 4 + lang + text > value.len() {
                        return Err("a text-with-language value longer than itself".into());
                    }
                }
                pos += value_len;
            }
            other => return Err(format!("an invalid tag 0x{other:02x}")),
        }
    }
}

/// Parses an IPP response body; never panics.
pub fn parse_ipp(data: Vec<u8>) -> Result<IppRequestResponse, String> {
    check_structure(&data)?;
    let parsed = std::panic::catch_unwind(move || IppParser::new(Cursor::new(data)).parse());
    match parsed {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the IPP parser failed on this answer".into()),
    }
}

fn parse_response(target: &IppTarget, body: Vec<u8>) -> Result<IppRequestResponse, IppError> {
    let len = body.len();
    parse_ipp(body).map_err(|e| IppError::BadResponse {
        target: target.printer_uri.clone(),
        message: format!("the answer ({len} bytes) is not an IPP response: {e}"),
    })
}

/// The RFC 8011 / PWG name of an IPP status code.
pub fn status_name(code: u16) -> String {
    match code {
        0x0000 => "successful-ok",
        0x0001 => "successful-ok-ignored-or-substituted-attributes",
        0x0002 => "successful-ok-conflicting-attributes",
        0x0400 => "client-error-bad-request",
        0x0401 => "client-error-forbidden",
        0x0402 => "client-error-not-authenticated",
        0x0403 => "client-error-not-authorized",
        0x0404 => "client-error-not-possible",
        0x0405 => "client-error-timeout",
        0x0406 => "client-error-not-found",
        0x0407 => "client-error-gone",
        0x0408 => "client-error-request-entity-too-large",
        0x0409 => "client-error-request-value-too-long",
        0x040a => "client-error-document-format-not-supported",
        0x040b => "client-error-attributes-or-values-not-supported",
        0x040c => "client-error-uri-scheme-not-supported",
        0x040d => "client-error-charset-not-supported",
        0x040e => "client-error-conflicting-attributes",
        0x0500 => "server-error-internal-error",
        0x0501 => "server-error-operation-not-supported",
        0x0502 => "server-error-service-unavailable",
        0x0503 => "server-error-version-not-supported",
        0x0504 => "server-error-device-error",
        0x0505 => "server-error-temporary-error",
        0x0506 => "server-error-not-accepting-jobs",
        0x0507 => "server-error-busy",
        _ => return format!("unknown-0x{code:04x}"),
    }
    .to_string()
}

// ---------------------------------------------------------------------------
// Mapping: attributes → Reading (pure).

/// Typed access to one attribute group (first occurrence of a name wins).
struct Attrs<'a>(&'a IppAttributeGroup);

impl Attrs<'_> {
    fn values(&self, name: &str) -> Vec<&IppValue> {
        match self.0.get(name).map(IppAttribute::value) {
            None => Vec::new(),
            Some(IppValue::Array(v)) => v.iter().collect(),
            Some(v) => vec![v],
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.values(name).into_iter().find_map(value_text)
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.values(name)
            .into_iter()
            .map(|v| value_text(v).unwrap_or_default())
            .collect()
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.values(name).into_iter().find_map(value_int)
    }

    fn ints(&self, name: &str) -> Vec<Option<i64>> {
        self.values(name).into_iter().map(value_int).collect()
    }

    fn date(&self, name: &str) -> Option<String> {
        match self.values(name).first() {
            Some(IppValue::DateTime(d)) => Some(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
                d.year,
                d.month,
                d.day,
                d.hour,
                d.minutes,
                d.seconds,
                if d.utc_dir == '-' { '-' } else { '+' },
                d.utc_hours,
                d.utc_mins
            )),
            _ => None,
        }
    }

    fn collection(&self, name: &str) -> Vec<(String, i64)> {
        match self.values(name).first() {
            Some(IppValue::Collection(m)) => m
                .iter()
                .filter_map(|(k, v)| value_int(v).map(|n| (k.as_str().to_string(), n)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Text of a string-like value, trimmed, `None` when empty or not text.
fn value_text(v: &IppValue) -> Option<String> {
    let s = match v {
        IppValue::TextWithoutLanguage(t) => t.to_string(),
        IppValue::TextWithLanguage { text, .. } => text.to_string(),
        IppValue::NameWithoutLanguage(n) | IppValue::Keyword(n) => n.as_str().to_string(),
        IppValue::NameWithLanguage { name, .. } => name.as_str().to_string(),
        IppValue::Uri(u) | IppValue::UriScheme(u) => u.as_str().to_string(),
        IppValue::OctetString(b) => String::from_utf8_lossy(b).into_owned(),
        IppValue::NonUtf8 { data, .. } => String::from_utf8_lossy(data).into_owned(),
        IppValue::MimeMediaType(m) => m.as_str().to_string(),
        _ => return None,
    };
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn value_int(v: &IppValue) -> Option<i64> {
    match v {
        IppValue::Integer(i) | IppValue::Enum(i) => Some(i64::from(*i)),
        _ => None,
    }
}

/// Severity of a `printer-state-reasons` keyword, from its suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonSeverity {
    /// `-report`: information.
    Report,
    /// `-warning`.
    Warning,
    /// `-error`, or no suffix (RFC 8011).
    Error,
}

/// Splits a reason keyword into its condition and severity:
/// `toner-low-report` → (`toner-low`, Report); `media-jam` → (`media-jam`, Error).
pub fn split_reason(keyword: &str) -> (&str, ReasonSeverity) {
    for (suffix, sev) in [
        ("-report", ReasonSeverity::Report),
        ("-warning", ReasonSeverity::Warning),
        ("-error", ReasonSeverity::Error),
    ] {
        if let Some(c) = keyword.strip_suffix(suffix)
            && !c.is_empty()
        {
            return (c, sev);
        }
    }
    (keyword, ReasonSeverity::Error)
}

/// The hrPrinterDetectedErrorState bit a reason condition means, if any.
pub fn reason_error_bit(condition: &str) -> Option<&'static str> {
    Some(match condition {
        "media-low" => "lowPaper",
        "media-empty" | "media-needed" => "noPaper",
        "toner-low" | "marker-supply-low" | "ink-low" => "lowToner",
        "toner-empty" | "marker-supply-empty" | "ink-empty" => "noToner",
        "door-open" | "cover-open" | "interlock-open" => "doorOpen",
        "media-jam" | "input-media-jam" | "output-media-jam" => "jammed",
        "offline" | "shutdown" => "offline",
        "input-tray-missing" => "inputTrayMissing",
        "output-tray-missing" => "outputTrayMissing",
        "marker-supply-missing" | "toner-missing" | "ink-missing" => "markerSupplyMissing",
        "output-area-almost-full" => "outputNearFull",
        "output-area-full" => "outputFull",
        _ => return None,
    })
}

/// A reason condition in words (the keyword with spaces when not known).
pub fn reason_words(condition: &str) -> String {
    match condition {
        "media-jam" => "paper jam".into(),
        "media-empty" => "out of paper".into(),
        "media-low" => "paper low".into(),
        "media-needed" => "paper needed".into(),
        "toner-low" => "toner low".into(),
        "toner-empty" => "toner empty".into(),
        "marker-supply-low" => "supply low".into(),
        "marker-supply-empty" => "supply empty".into(),
        "marker-waste-almost-full" => "waste container almost full".into(),
        "marker-waste-full" => "waste container full".into(),
        "door-open" | "cover-open" => "door open".into(),
        other => other.replace('-', " "),
    }
}

/// Fields of an IEEE 1284 device ID (`MFG:…;MDL:…;SN:…;`), keys upper case.
pub fn parse_device_id(id: &str) -> BTreeMap<String, String> {
    id.split(';')
        .filter_map(|part| part.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

/// Fields of a PWG `key=value;` string (`printer-supply`, `printer-alert`);
/// keys lower case, unknown keys kept, split on the first `=`.
pub fn parse_kv(s: &str) -> BTreeMap<String, String> {
    s.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// `waste-toner` → `wasteToner`; already camel-case names are kept.
pub fn camel_kind(kind: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kind.trim().chars() {
        if c == '-' || c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A colour name from `marker-colors` (`#RRGGBB`, several for multi-colour
/// markers) or a colorant name; `None` for `none`/`unknown`/empty.
pub fn colour_name(raw: &str) -> Option<String> {
    let t = raw.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "" | "none" | "unknown" | "no-color" | "other") {
        return None;
    }
    if !t.starts_with('#') {
        return Some(t);
    }
    let names: Vec<String> = t
        .split('#')
        .filter(|p| !p.is_empty())
        .map(|hex| {
            match hex {
                "000000" => "black",
                "00ffff" => "cyan",
                "ff00ff" => "magenta",
                "ffff00" => "yellow",
                "ffffff" => "white",
                "ff0000" => "red",
                "00ff00" => "green",
                "0000ff" => "blue",
                "808080" | "7f7f7f" => "gray",
                "77ffff" | "e0ffff" | "66ffff" => "light cyan",
                "ff77ff" | "ffe0ff" | "ff66ff" => "light magenta",
                "c0c0c0" | "cccccc" | "bfbfbf" => "light gray",
                _ => return format!("#{hex}"),
            }
            .to_string()
        })
        .collect();
    (!names.is_empty()).then(|| names.join("+"))
}

/// Turns a Get-Printer-Attributes answer's printer group into a reading
/// (pure; see the module doc for the mapping). `target`, `protocol` and
/// `stats` are the caller's to fill.
pub fn reading_from_attributes(group: &IppAttributeGroup) -> Reading {
    let a = Attrs(group);
    let mut r = Reading {
        is_printer: true,
        device_kind: "printer".into(),
        classification: "answers IPP Get-Printer-Attributes (a print service)".into(),
        ..Reading::default()
    };
    identity(&a, &mut r);
    status(&a, &mut r);
    alerts(&a, &mut r);
    supplies(&a, &mut r);
    counters(&a, &mut r);
    r.status.overall = overall(&a, &r).to_string();
    r
}

fn identity(a: &Attrs<'_>, r: &mut Reading) {
    let id = &mut r.identity;
    let make_model = a.text("printer-make-and-model");
    let device_id = a
        .text("printer-device-id")
        .map(|d| parse_device_id(&d))
        .unwrap_or_default();
    let field = |keys: &[&str]| keys.iter().find_map(|k| device_id.get(*k).cloned());
    id.description = make_model.clone();
    let brand = vendors::brand_in_sysdescr(&Reading {
        identity: super::model::Identity {
            description: make_model
                .clone()
                .or_else(|| field(&["MFG", "MANUFACTURER"])),
            ..Default::default()
        },
        ..Default::default()
    });
    let first_word = make_model
        .as_deref()
        .filter(|m| m.split_whitespace().count() >= 2)
        .and_then(|m| m.split_whitespace().next())
        .map(str::to_string);
    id.vendor = brand
        .map(|b| b.name.to_string())
        .or_else(|| field(&["MFG", "MANUFACTURER"]))
        .or(first_word);
    let model = field(&["MDL", "MODEL"]).or_else(|| make_model.clone());
    id.model = model.and_then(|m| tidy_model(&m, id.vendor.as_deref(), &device_id));
    let sn = a
        .text("printer-serial-number")
        .filter(|s| plausible_serial(s));
    if let Some(s) = sn {
        id.serial = Some(s);
        id.serial_source = Some("ipp:printer-serial-number".into());
    } else if let Some(s) =
        field(&["SN", "SERN", "SERIALNUMBER", "SERIAL"]).filter(|s| plausible_serial(s))
    {
        id.serial = Some(s);
        id.serial_source = Some("ipp:printer-device-id".into());
    }
    id.firmware = a
        .text("printer-firmware-string-version")
        .or_else(|| a.text("printer-firmware-version"));
    id.uuid = a.text("printer-uuid").map(|u| {
        let l = u.to_ascii_lowercase();
        l.strip_prefix("urn:uuid:").unwrap_or(&l).to_string()
    });
    id.hostname = a.text("printer-name");
    id.location = a.text("printer-location");
    id.info = a.text("printer-info");
    id.uptime_seconds = a.int("printer-up-time").and_then(|s| u64::try_from(s).ok());
}

/// The model without the maker's name(s) in front and without " series".
fn tidy_model(
    model: &str,
    vendor: Option<&str>,
    device_id: &BTreeMap<String, String>,
) -> Option<String> {
    let mut m = model.trim().to_string();
    let mut prefixes: Vec<&str> = vendor.into_iter().collect();
    prefixes.extend(device_id.get("MFG").map(String::as_str));
    prefixes.extend(["Hewlett-Packard", "Hewlett Packard"]);
    if let Some(b) = vendor.and_then(|v| vendors::VENDORS.iter().find(|m| m.name == v)) {
        prefixes.extend(b.words.iter().copied());
    }
    for p in prefixes {
        if m.len() > p.len()
            && m.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
            && m.as_bytes().get(p.len()) == Some(&b' ')
        {
            m = m.get(p.len()..).unwrap_or_default().trim().to_string();
        }
    }
    for suffix in [" series", " Series", " SERIES"] {
        if let Some(s) = m.strip_suffix(suffix) {
            m = s.trim().to_string();
        }
    }
    (!m.is_empty()).then_some(m)
}

fn status(a: &Attrs<'_>, r: &mut Reading) {
    r.status.printer = a.int("printer-state").map(|s| {
        match s {
            3 => "idle",
            4 => "printing",
            5 => "stopped",
            _ => return format!("other({s})"),
        }
        .to_string()
    });
    if let Some(m) = a.text("printer-state-message") {
        r.console.push(m);
    }
    for (i, keyword) in a.texts("printer-state-reasons").into_iter().enumerate() {
        if keyword.is_empty() || keyword == "none" {
            continue;
        }
        let (condition, severity) = split_reason(&keyword);
        if severity != ReasonSeverity::Report
            && let Some(bit) = reason_error_bit(condition)
            && !r.status.errors.iter().any(|e| e == bit)
        {
            r.status.errors.push(bit.to_string());
        }
        r.alerts.push(Alert {
            index: u32::try_from(i + 1).unwrap_or(u32::MAX),
            severity: Some(
                match severity {
                    ReasonSeverity::Error => "critical",
                    ReasonSeverity::Warning => "warning",
                    ReasonSeverity::Report => "other",
                }
                .into(),
            ),
            group: Some("printerStateReasons".into()),
            group_index: None,
            location: None,
            code: None,
            code_name: Some(keyword.clone()),
            description: Some(reason_words(condition)),
            time_ticks: None,
        });
    }
    let has = |s: ReasonSeverity| {
        a.texts("printer-state-reasons")
            .iter()
            .filter(|k| !k.is_empty() && k.as_str() != "none")
            .any(|k| split_reason(k).1 == s)
    };
    r.status.device = r.status.printer.as_ref().map(|p| {
        if p == "stopped" || has(ReasonSeverity::Error) {
            "down"
        } else if has(ReasonSeverity::Warning) {
            "warning"
        } else {
            "running"
        }
        .to_string()
    });
}

fn alerts(a: &Attrs<'_>, r: &mut Reading) {
    let descriptions = a.texts("printer-alert-description");
    for (i, v) in a.values("printer-alert").into_iter().enumerate() {
        let Some(text) = value_text(v) else { continue };
        let kv = parse_kv(&text);
        let num = |k: &str| kv.get(k).and_then(|v| v.parse::<i64>().ok());
        let code = kv.get("code").cloned();
        r.alerts.push(Alert {
            index: num("index")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_else(|| u32::try_from(i + 1).unwrap_or(u32::MAX)),
            severity: kv.get("severity").cloned(),
            group: kv.get("group").cloned(),
            group_index: num("groupindex"),
            location: num("location"),
            code: code.as_deref().and_then(|c| c.parse::<i64>().ok()),
            code_name: code.filter(|c| c.parse::<i64>().is_err()),
            description: descriptions.get(i).filter(|d| !d.is_empty()).cloned(),
            time_ticks: num("time"),
        });
    }
}

fn supplies(a: &Attrs<'_>, r: &mut Reading) {
    let pwg = a.values("printer-supply");
    if !pwg.is_empty() {
        let descriptions = a.texts("printer-supply-description");
        for (i, v) in pwg.into_iter().enumerate() {
            let Some(text) = value_text(v) else { continue };
            let kv = parse_kv(&text);
            let num = |k: &str| kv.get(k).and_then(|v| v.parse::<i64>().ok());
            let class = kv.get("class").cloned();
            let receptacle = class.as_deref() == Some("receptacleThatIsFilled");
            let unit = kv.get("unit").cloned();
            let (level, max) = (num("level"), num("maxcapacity"));
            let (percent, state) =
                level_state(level, max, receptacle, unit.as_deref() == Some("percent"));
            let kind = kv.get("type").map(|t| camel_kind(t));
            let description = descriptions
                .get(i)
                .filter(|d| !d.is_empty())
                .cloned()
                .or_else(|| kind.clone())
                .unwrap_or_default();
            r.supplies.push(Supply {
                index: num("index").and_then(|n| u32::try_from(n).ok()),
                description,
                kind,
                color: kv.get("colorantname").and_then(|c| colour_name(c)),
                class,
                unit,
                level,
                max,
                percent,
                state,
                remaining_pages: None,
                source: None,
            });
        }
        return;
    }
    let names = a.texts("marker-names");
    let types = a.texts("marker-types");
    let colours = a.texts("marker-colors");
    let levels = a.ints("marker-levels");
    let n = names.len().max(levels.len());
    for i in 0..n {
        let kind = types
            .get(i)
            .filter(|t| !t.is_empty())
            .map(|t| camel_kind(t));
        let receptacle = kind
            .as_deref()
            .is_some_and(|k| k.starts_with("waste") || k.contains("Waste"));
        let level = levels.get(i).copied().flatten();
        let (percent, state) = level_state(level, Some(100), receptacle, true);
        // A marker level is a percentage only when it is one.
        let percent = percent.filter(|_| level.is_some_and(|l| (0..=100).contains(&l)));
        r.supplies.push(Supply {
            index: u32::try_from(i + 1).ok(),
            description: names
                .get(i)
                .filter(|d| !d.is_empty())
                .cloned()
                .or_else(|| kind.clone())
                .unwrap_or_default(),
            kind,
            color: colours.get(i).and_then(|c| colour_name(c)),
            class: Some(
                if receptacle {
                    "receptacleThatIsFilled"
                } else {
                    "supplyThatIsConsumed"
                }
                .into(),
            ),
            unit: Some("percent".into()),
            level,
            max: Some(100),
            percent,
            state,
            remaining_pages: None,
            source: Some("ipp:marker-levels".into()),
        });
    }
}

fn counters(a: &Attrs<'_>, r: &mut Reading) {
    for (attr, total_key, mono_key, color_key, unit) in [
        (
            "printer-impressions-completed",
            "total",
            "mono",
            "color",
            "impressions",
        ),
        (
            "printer-media-sheets-completed",
            "sheets",
            "sheets_mono",
            "sheets_color",
            "sheets",
        ),
        (
            "printer-pages-completed",
            "pages",
            "pages_mono",
            "pages_color",
            "pages",
        ),
    ] {
        let mut put = |key: String, value: i64, source: String, normalised: bool| {
            if normalised {
                r.counters.insert(key.clone(), value);
            }
            r.counter_sources.push(CounterSource {
                key,
                value,
                oid: format!("ipp:{source}"),
                unit: Some(unit.into()),
                description: Some(source.clone()),
            });
        };
        if let Some(n) = a.int(attr).filter(|n| *n >= 0) {
            put(total_key.into(), n, attr.into(), true);
        }
        let col = format!("{attr}-col");
        for (member, n) in a.collection(&col) {
            if n < 0 {
                continue;
            }
            let (key, normalised) = match member.as_str() {
                "monochrome" => (mono_key.to_string(), true),
                "full-color" => (color_key.to_string(), true),
                other => (format!("{}_{}", total_key, other.replace('-', "_")), false),
            };
            put(key, n, format!("{col}.{member}"), normalised);
        }
    }
}

fn overall(a: &Attrs<'_>, r: &Reading) -> &'static str {
    let reasons = a.texts("printer-state-reasons");
    let severities: Vec<ReasonSeverity> = reasons
        .iter()
        .filter(|k| !k.is_empty() && k.as_str() != "none")
        .map(|k| split_reason(k).1)
        .collect();
    let blocking_bit = r.status.errors.iter().any(|e| error_is_blocking(e));
    let critical_alert = r
        .alerts
        .iter()
        .any(|al| al.severity.as_deref() == Some("critical"));
    if r.status.printer.as_deref() == Some("stopped")
        || severities.contains(&ReasonSeverity::Error)
        || blocking_bit
        || critical_alert
    {
        return "error";
    }
    if severities.contains(&ReasonSeverity::Warning)
        || !r.status.errors.is_empty()
        || r.alerts
            .iter()
            .any(|al| al.severity.as_deref() == Some("warning"))
    {
        return "warning";
    }
    match r.status.printer.as_deref() {
        Some("idle" | "printing") => "ok",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::SupplyState;

    fn attr(name: &str, value: IppValue) -> IppAttribute {
        IppAttribute::with_name(name, value).expect("a valid attribute name")
    }
    fn text(s: &str) -> IppValue {
        IppValue::new_text_without_language(s).expect("short text")
    }
    fn kw(s: &str) -> IppValue {
        IppValue::Keyword(IppKeyword::try_from(s).expect("short keyword"))
    }
    fn ints(v: &[i32]) -> IppValue {
        IppValue::Array(v.iter().map(|i| IppValue::Integer(*i)).collect())
    }
    fn octets(v: &[&str]) -> IppValue {
        IppValue::Array(
            v.iter()
                .map(|s| IppValue::OctetString(bytes::Bytes::copy_from_slice(s.as_bytes())))
                .collect(),
        )
    }
    fn group(attrs: Vec<IppAttribute>) -> IppAttributeGroup {
        let mut g = IppAttributeGroup::new(DelimiterTag::PrinterAttributes);
        g.attributes_mut().extend(attrs);
        g
    }

    #[test]
    fn reason_suffixes_give_the_severity_and_no_suffix_is_an_error() {
        assert_eq!(
            split_reason("toner-low-report"),
            ("toner-low", ReasonSeverity::Report)
        );
        assert_eq!(
            split_reason("toner-low-warning"),
            ("toner-low", ReasonSeverity::Warning)
        );
        assert_eq!(
            split_reason("media-jam-error"),
            ("media-jam", ReasonSeverity::Error)
        );
        assert_eq!(
            split_reason("media-jam"),
            ("media-jam", ReasonSeverity::Error)
        );
        assert_eq!(split_reason("-report"), ("-report", ReasonSeverity::Error));
    }

    #[test]
    fn state_reasons_become_alerts_error_bits_and_an_overall_status() {
        let g = group(vec![
            attr("printer-state", IppValue::Enum(5)),
            attr(
                "printer-state-reasons",
                IppValue::Array(vec![
                    kw("media-jam-error"),
                    kw("toner-low-warning"),
                    kw("marker-waste-almost-full-report"),
                    kw("acme-fuser-grumpy"),
                ]),
            ),
            attr("printer-state-message", text("Paper jam in tray 2")),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.status.printer.as_deref(), Some("stopped"));
        assert_eq!(r.status.device.as_deref(), Some("down"));
        assert_eq!(r.status.overall, "error");
        assert_eq!(r.status.errors, vec!["jammed", "lowToner"]);
        assert_eq!(r.console, vec!["Paper jam in tray 2"]);
        let by_kw: Vec<(&str, &str)> = r
            .alerts
            .iter()
            .map(|a| {
                (
                    a.code_name.as_deref().unwrap_or(""),
                    a.severity.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            by_kw,
            vec![
                ("media-jam-error", "critical"),
                ("toner-low-warning", "warning"),
                ("marker-waste-almost-full-report", "other"),
                ("acme-fuser-grumpy", "critical"),
            ]
        );
        assert_eq!(
            r.alerts[3].description.as_deref(),
            Some("acme fuser grumpy")
        );
    }

    #[test]
    fn an_idle_printer_with_only_reports_is_ok_and_none_is_no_reason() {
        let g = group(vec![
            attr("printer-state", IppValue::Enum(3)),
            attr("printer-state-reasons", kw("toner-low-report")),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.status.overall, "ok");
        assert!(r.status.errors.is_empty(), "a report sets no error bit");
        let g = group(vec![
            attr("printer-state", IppValue::Enum(4)),
            attr("printer-state-reasons", kw("none")),
        ]);
        let r = reading_from_attributes(&g);
        assert!(r.alerts.is_empty());
        assert_eq!(r.status.printer.as_deref(), Some("printing"));
        assert_eq!(r.status.device.as_deref(), Some("running"));
    }

    #[test]
    fn identity_takes_the_serial_from_the_device_id_when_the_attribute_is_missing() {
        let g = group(vec![
            attr(
                "printer-make-and-model",
                text("HP LaserJet Pro M404dn series"),
            ),
            attr(
                "printer-device-id",
                text("MFG:HP;MDL:HP LaserJet Pro M404dn;CMD:PJL,PCL;SN:VNB3K12345;"),
            ),
            attr(
                "printer-uuid",
                IppValue::new_uri("urn:uuid:ABCDEF01-2222-3333-4444-555555555555").expect("uri"),
            ),
            attr("printer-firmware-string-version", text("20240101")),
            attr("printer-up-time", IppValue::Integer(3600)),
            attr("printer-location", text("")),
        ]);
        let r = reading_from_attributes(&g);
        let id = &r.identity;
        assert_eq!(id.vendor.as_deref(), Some("HP"));
        assert_eq!(id.model.as_deref(), Some("LaserJet Pro M404dn"));
        assert_eq!(id.serial.as_deref(), Some("VNB3K12345"));
        assert_eq!(id.serial_source.as_deref(), Some("ipp:printer-device-id"));
        assert_eq!(
            id.uuid.as_deref(),
            Some("abcdef01-2222-3333-4444-555555555555")
        );
        assert_eq!(id.firmware.as_deref(), Some("20240101"));
        assert_eq!(id.uptime_seconds, Some(3600));
        assert_eq!(id.location, None, "an empty location is no location");
    }

    #[test]
    fn printer_serial_number_wins_over_the_device_id() {
        let g = group(vec![
            attr("printer-serial-number", text("CNB1234567")),
            attr(
                "printer-device-id",
                text("MFG:ACME;MDL:Laser 9;SERN:OTHER123;"),
            ),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.identity.serial.as_deref(), Some("CNB1234567"));
        assert_eq!(
            r.identity.serial_source.as_deref(),
            Some("ipp:printer-serial-number")
        );
        assert_eq!(r.identity.vendor.as_deref(), Some("ACME"));
        assert_eq!(r.identity.model.as_deref(), Some("Laser 9"));
    }

    #[test]
    fn printer_supply_strings_keep_sentinels_and_map_colour_and_kind() {
        let g = group(vec![
            attr(
                "printer-supply",
                octets(&[
                    "index=1;class=receptacleThatIsFilled;type=wasteToner;unit=percent;maxcapacity=100;level=25;colorantname=unknown;",
                    "index=2;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;level=-3;colorantname=black;",
                    "index=3;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;level=0;colorantname=cyan;futurekey=x;",
                    "garbage without equals",
                ]),
            ),
            attr(
                "printer-supply-description",
                IppValue::Array(vec![text("Waste"), text("Black Toner")]),
            ),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.supplies.len(), 4);
        let s = &r.supplies;
        assert_eq!(s[0].kind.as_deref(), Some("wasteToner"));
        assert_eq!(s[0].color, None);
        assert_eq!(s[0].state, SupplyState::Percent(25.0));
        assert_eq!(s[1].description, "Black Toner");
        assert_eq!(s[1].color.as_deref(), Some("black"));
        assert_eq!(s[1].state, SupplyState::SomeRemaining);
        assert_eq!(s[1].percent, None);
        assert_eq!(s[2].description, "toner", "no description: its kind");
        assert_eq!(s[2].state, SupplyState::Empty);
        assert_eq!(s[3].state, SupplyState::Unknown);
    }

    #[test]
    fn marker_arrays_pair_by_index_and_a_negative_level_is_unknown_not_empty() {
        let g = group(vec![
            attr(
                "marker-names",
                IppValue::Array(vec![
                    IppValue::new_name_without_language("Black").expect("name"),
                    IppValue::new_name_without_language("CMY").expect("name"),
                    IppValue::new_name_without_language("Waste").expect("name"),
                ]),
            ),
            attr(
                "marker-types",
                IppValue::Array(vec![kw("toner"), kw("ink-cartridge")]),
            ),
            attr(
                "marker-colors",
                IppValue::Array(vec![
                    IppValue::new_name_without_language("#000000").expect("name"),
                    IppValue::new_name_without_language("#00FFFF#FF00FF#FFFF00").expect("name"),
                ]),
            ),
            attr("marker-levels", ints(&[64, -2, -1, 50])),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.supplies.len(), 4);
        let s = &r.supplies;
        assert_eq!(s[0].state, SupplyState::Percent(64.0));
        assert_eq!(s[0].percent, Some(64.0));
        assert_eq!(s[0].color.as_deref(), Some("black"));
        assert_eq!(s[1].kind.as_deref(), Some("inkCartridge"));
        assert_eq!(s[1].color.as_deref(), Some("cyan+magenta+yellow"));
        assert_eq!(s[1].state, SupplyState::Unknown);
        assert_eq!(s[1].percent, None);
        assert_eq!(s[2].state, SupplyState::NotApplicable);
        assert_eq!(s[3].description, "", "a level without a name is kept");
    }

    #[test]
    fn counters_use_the_snmp_keys_and_keep_their_sources() {
        let mut col = BTreeMap::new();
        col.insert(
            ipp::value::IppName::try_from("monochrome").expect("name"),
            IppValue::Integer(10000),
        );
        col.insert(
            ipp::value::IppName::try_from("full-color").expect("name"),
            IppValue::Integer(2345),
        );
        col.insert(
            ipp::value::IppName::try_from("blank").expect("name"),
            IppValue::Integer(7),
        );
        let g = group(vec![
            attr("printer-impressions-completed", IppValue::Integer(12345)),
            attr(
                "printer-impressions-completed-col",
                IppValue::Collection(col),
            ),
            attr("printer-media-sheets-completed", IppValue::Integer(6789)),
            attr("printer-pages-completed", IppValue::Integer(12000)),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.counters.get("total"), Some(&12345));
        assert_eq!(r.counters.get("mono"), Some(&10000));
        assert_eq!(r.counters.get("color"), Some(&2345));
        assert_eq!(r.counters.get("sheets"), Some(&6789));
        assert_eq!(r.counters.get("pages"), Some(&12000));
        assert!(!r.counters.contains_key("total_blank"));
        assert!(
            r.counter_sources.iter().any(|c| c.key == "total_blank"
                && c.oid == "ipp:printer-impressions-completed-col.blank")
        );
    }

    #[test]
    fn printer_alerts_map_one_for_one() {
        let g = group(vec![
            attr(
                "printer-alert",
                octets(&["code=tonerLow;index=2;severity=warning;group=marker;groupindex=2"]),
            ),
            attr("printer-alert-description", text("Cyan toner low")),
        ]);
        let r = reading_from_attributes(&g);
        assert_eq!(r.alerts.len(), 1);
        let al = &r.alerts[0];
        assert_eq!(al.index, 2);
        assert_eq!(al.code_name.as_deref(), Some("tonerLow"));
        assert_eq!(al.severity.as_deref(), Some("warning"));
        assert_eq!(al.group.as_deref(), Some("marker"));
        assert_eq!(al.group_index, Some(2));
        assert_eq!(al.description.as_deref(), Some("Cyan toner low"));
        assert_eq!(r.status.overall, "warning");
    }

    #[test]
    fn urls_get_a_port_and_a_path_and_refuse_passwords() {
        let t = IppTarget::parse("ipp://127.0.0.1").expect("valid");
        assert_eq!(t.printer_uri, "ipp://127.0.0.1:631/ipp/print");
        assert_eq!(t.http_url.as_str(), "http://127.0.0.1:631/ipp/print");
        let t = IppTarget::parse("ipps://[::1]:8631/printers/q").expect("valid");
        assert!(t.tls);
        assert_eq!(t.http_url.as_str(), "https://[::1]:8631/printers/q");
        let e = IppTarget::parse("ipp://admin:hunter2@10.0.0.5/ipp/print").expect_err("refused");
        assert_eq!(e.code(), "ipp_bad_url");
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(
            IppTarget::parse("snmp://x").expect_err("no").code(),
            "ipp_bad_url"
        );
    }

    #[test]
    fn a_request_round_trips_through_the_parser() {
        let t = IppTarget::parse("ipp://127.0.0.1:8631/ipp/print").expect("valid");
        let body = encode(
            &t,
            IppVersion::v2_0(),
            Operation::GetPrinterAttributes,
            REQUESTED_ATTRIBUTES,
            &[],
            "printscout",
        )
        .expect("encodes");
        let parsed = parse_ipp(body).expect("parses");
        let ops = parsed
            .attributes()
            .groups_of(DelimiterTag::OperationAttributes)
            .next()
            .expect("operation group");
        let a = Attrs(ops);
        assert_eq!(
            a.text("printer-uri").as_deref(),
            Some("ipp://127.0.0.1:8631/ipp/print")
        );
        assert_eq!(
            a.texts("requested-attributes").len(),
            REQUESTED_ATTRIBUTES.len()
        );
    }

    #[test]
    fn hostile_bytes_are_errors_never_panics() {
        // A text-with-language value whose inner length runs past it (the
        // `ipp` crate would slice out of bounds).
        let mut m = vec![
            2, 0, 0, 0, 0, 0, 0, 1, 0x04, 0x35, 0, 1, b'x', 0, 6, 0, 2, b'e', b'n', 0xff, 0xff, 3,
        ];
        assert!(parse_ipp(m.clone()).is_err());
        m.truncate(5);
        assert!(parse_ipp(m).is_err());
        assert!(parse_ipp(b"HTTP/1.1 200 OK\r\n\r\nhello".to_vec()).is_err());
        // Pseudo-random bytes behind a valid header.
        let mut seed: u32 = 12345;
        for len in 0..400usize {
            let mut v = vec![2, 0, 0, 0, 0, 0, 0, 1];
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((seed >> 16) as u8);
            }
            let _ = parse_ipp(v);
        }
    }

    #[test]
    fn a_completed_job_keeps_its_metadata() {
        let mut g = IppAttributeGroup::new(DelimiterTag::JobAttributes);
        g.attributes_mut().extend(vec![
            attr("job-id", IppValue::Integer(17)),
            attr(
                "job-name",
                IppValue::new_name_without_language("quarterly.pdf").expect("name"),
            ),
            attr("job-state", IppValue::Enum(9)),
            attr(
                "job-state-reasons",
                IppValue::Array(vec![kw("job-completed-successfully")]),
            ),
            attr("time-at-creation", IppValue::Integer(100)),
            attr("time-at-completed", IppValue::Integer(130)),
            attr("job-impressions-completed", IppValue::Integer(4)),
            attr("job-media-sheets-completed", IppValue::Integer(2)),
        ]);
        let j = job_from(&g);
        assert_eq!(j.id, Some(17));
        assert_eq!(j.name.as_deref(), Some("quarterly.pdf"));
        assert_eq!(j.state.as_deref(), Some("completed"));
        assert_eq!(j.state_reasons, vec!["job-completed-successfully"]);
        assert_eq!(
            (j.time_at_creation, j.time_at_completed),
            (Some(100), Some(130))
        );
        assert_eq!((j.impressions, j.sheets), (Some(4), Some(2)));
        assert_eq!(j.created_at, None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_behind_an_ipp_header_parse_or_fail_without_panicking(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..600)
        ) {
            let mut v = vec![2, 0, 0, 0, 0, 0, 0, 1];
            v.extend(body);
            if let Ok(r) = parse_ipp(v) {
                for g in r.attributes().groups() {
                    let _ = reading_from_attributes(g);
                    let _ = job_from(g);
                }
            }
        }
    }

    #[test]
    fn colours_have_names() {
        assert_eq!(colour_name("#000000").as_deref(), Some("black"));
        assert_eq!(colour_name("#FF00FF").as_deref(), Some("magenta"));
        assert_eq!(colour_name("#123456").as_deref(), Some("#123456"));
        assert_eq!(colour_name("none"), None);
        assert_eq!(colour_name("Cyan").as_deref(), Some("cyan"));
    }
}
