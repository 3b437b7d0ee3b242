//! 3D printers ("fabricators"): the model every 3D protocol fills, the target
//! URLs (`octoprint://`, `moonraker://`, `prusalink://`, `bambu://`,
//! `ultimaker://`), the shared HTTP helper and the dispatch to one module per
//! protocol.
//!
//! Invariants:
//! - every protocol maps its printer's state into the one vocabulary of
//!   [`FabState`] and keeps the printer's own words in [`FabStatus::state_text`];
//!   an unknown value is kept and shown, never dropped;
//! - "no current job" answers (204, 404 by design) are an idle printer, not an
//!   error; a wrong key or access code is [`FabError::Rejected`], never "offline";
//! - only job metadata is read (names, times, results, material): never model files;
//! - printers are on the site's own network: HTTP goes **never through a proxy**,
//!   follows no redirects, and answers are capped at [`MAX_BODY`] bytes;
//! - secrets (API keys, access codes, passwords) travel in [`FabOptions`] as
//!   [`Secret`]s and never appear in errors, logs or `Debug` output.

pub mod bambu;
pub mod history;
pub mod http;
pub mod json;
pub mod moonraker;
pub mod octoprint;
pub mod prusalink;
pub mod ultimaker;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::printer::model::{Alert, Identity, ReadStats, Reading, Status};
use crate::secret::Secret;

pub use history::synthesise;

/// Time for one whole exchange with the printer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest HTTP answer read from a printer (history lists included).
pub const MAX_BODY: usize = 4 << 20;

/// The 3D-printer protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FabProtocol {
    /// OctoPrint's REST API (`X-Api-Key`), port 5000 (80 on OctoPi).
    OctoPrint,
    /// Moonraker (Klipper) HTTP API, port 7125.
    Moonraker,
    /// PrusaLink on the printer, HTTP 80, digest auth (user `maker`) or `X-Api-Key`.
    PrusaLink,
    /// Bambu Lab LAN mode: MQTT over TLS on 8883, user `bblp`, the access code.
    Bambu,
    /// Ultimaker S-series `/api/v1` on HTTP 80 (reads need no key).
    Ultimaker,
}

impl FabProtocol {
    /// Every protocol, in the order `--help` lists them.
    pub const ALL: [FabProtocol; 5] = [
        FabProtocol::OctoPrint,
        FabProtocol::Moonraker,
        FabProtocol::PrusaLink,
        FabProtocol::Bambu,
        FabProtocol::Ultimaker,
    ];

    /// The URL scheme and the name stored in `devices.protocol`.
    pub fn scheme(self) -> &'static str {
        match self {
            FabProtocol::OctoPrint => "octoprint",
            FabProtocol::Moonraker => "moonraker",
            FabProtocol::PrusaLink => "prusalink",
            FabProtocol::Bambu => "bambu",
            FabProtocol::Ultimaker => "ultimaker",
        }
    }

    /// The protocol a scheme names, if any.
    pub fn from_scheme(scheme: &str) -> Option<FabProtocol> {
        FabProtocol::ALL
            .into_iter()
            .find(|p| p.scheme().eq_ignore_ascii_case(scheme))
    }

    /// The maker's port.
    pub fn default_port(self) -> u16 {
        match self {
            FabProtocol::OctoPrint => 5000,
            FabProtocol::Moonraker => 7125,
            FabProtocol::PrusaLink | FabProtocol::Ultimaker => 80,
            FabProtocol::Bambu => 8883,
        }
    }

    /// What the secret is called for this protocol, for prompts and errors.
    pub fn secret_name(self) -> &'static str {
        match self {
            FabProtocol::OctoPrint | FabProtocol::Moonraker => "API key",
            FabProtocol::PrusaLink => "password (or API key)",
            FabProtocol::Bambu => "LAN access code",
            FabProtocol::Ultimaker => "key",
        }
    }

    /// Whether a read needs a secret at all (Moonraker trusts LAN clients
    /// by default and Ultimaker's reads are open; the others refuse without one).
    pub fn needs_secret(self) -> bool {
        matches!(
            self,
            FabProtocol::OctoPrint | FabProtocol::PrusaLink | FabProtocol::Bambu
        )
    }

    /// Whether the printer keeps a job history we can read (else it is
    /// synthesised from state changes between polls).
    pub fn has_native_history(self) -> bool {
        matches!(
            self,
            FabProtocol::Moonraker | FabProtocol::Ultimaker | FabProtocol::OctoPrint
        )
    }
}

impl std::fmt::Display for FabProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.scheme())
    }
}

/// Where a 3D printer is: `scheme://host[:port]`, plus the serial for Bambu
/// (`bambu://SERIAL@host` or `bambu://host?serial=SERIAL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabTarget {
    /// Which protocol.
    pub protocol: FabProtocol,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The printer's serial, when the target names it (Bambu needs it: it is
    /// the MQTT topic and the name its certificate is verified against).
    pub serial: Option<String>,
    /// A user name from the URL (`prusalink://maker@host`), never a password.
    pub user: Option<String>,
}

impl FabTarget {
    /// Parses `scheme://[user@]host[:port][/][?serial=…]`. A password in the
    /// URL is refused (secrets never travel in argv or URLs).
    pub fn parse(text: &str) -> Result<FabTarget, FabError> {
        let bad = |why: &str| FabError::BadUrl(format!("{text:?} {why}"));
        let url = Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        let protocol = FabProtocol::from_scheme(url.scheme()).ok_or_else(|| {
            bad("is not a 3D-printer address: use octoprint://, moonraker://, prusalink://, bambu:// or ultimaker://")
        })?;
        if url.password().is_some() {
            return Err(FabError::BadUrl(format!(
                "{}://…: do not put a password or key in the address; give it with --key-env VAR, the keychain or the prompt",
                protocol.scheme()
            )));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("has no host")),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(bad("has a path; give only the printer's host and port"));
        }
        let query_serial = url
            .query_pairs()
            .find(|(k, _)| k == "serial")
            .map(|(_, v)| v.into_owned());
        let user = (!url.username().is_empty()).then(|| url.username().to_owned());
        let (serial, user) = match protocol {
            FabProtocol::Bambu => (query_serial.or(user), None),
            _ => (query_serial, user),
        };
        if protocol == FabProtocol::Bambu && serial.as_deref().is_none_or(str::is_empty) {
            return Err(bad(
                "needs the printer's serial: bambu://SERIAL@host (it is on the printer's screen and its label)",
            ));
        }
        Ok(FabTarget {
            protocol,
            port: url.port().unwrap_or(protocol.default_port()),
            host,
            serial,
            user,
        })
    }

    /// `host:port`, IPv6 in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The target as a URL again, without secrets.
    pub fn url(&self) -> String {
        match (&self.serial, &self.user) {
            (Some(s), _) if self.protocol == FabProtocol::Bambu => {
                format!("bambu://{s}@{}", self.authority())
            }
            (Some(s), _) => format!("{}://{}?serial={s}", self.protocol, self.authority()),
            (None, Some(u)) => format!("{}://{u}@{}", self.protocol, self.authority()),
            (None, None) => format!("{}://{}", self.protocol, self.authority()),
        }
    }

    /// The HTTP base URL (`http://host:port/`) for the HTTP protocols.
    pub fn http_base(&self) -> Result<Url, FabError> {
        Url::parse(&format!("http://{}/", self.authority()))
            .map_err(|e| FabError::BadUrl(format!("{}: {e}", self.url())))
    }
}

/// How to talk to a 3D printer.
#[derive(Clone, Debug)]
pub struct FabOptions {
    /// Time for one whole exchange (Bambu: connect, subscribe, first report).
    pub timeout: Duration,
    /// API key, access code or password (see [`FabProtocol::secret_name`]).
    pub key: Option<Secret>,
    /// User for digest auth (PrusaLink: `maker` by default).
    pub user: Option<String>,
    /// Certificates trusted besides the platform's: Bambu's CA (or a lab CA),
    /// an OctoPrint behind a self-signed proxy.
    pub extra_roots_pem: Vec<Vec<u8>>,
}

impl Default for FabOptions {
    fn default() -> Self {
        FabOptions {
            timeout: DEFAULT_TIMEOUT,
            key: None,
            user: None,
            extra_roots_pem: Vec::new(),
        }
    }
}

/// One state vocabulary for every 3D printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FabState {
    /// Ready, nothing printing.
    Idle,
    /// Printing (heating up for a job and finishing moves included).
    Printing,
    /// A job is paused.
    Paused,
    /// A job finished and the printer waits (plate to clear, "finished" screen).
    Finished,
    /// The printer reports an error.
    Error,
    /// The printer is not connected (the host software is up, the printer is not).
    Offline,
    /// Maintenance, calibration, booting, or waiting for a person to act.
    Maintenance,
}

impl FabState {
    /// The word used in JSON and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            FabState::Idle => "idle",
            FabState::Printing => "printing",
            FabState::Paused => "paused",
            FabState::Finished => "finished",
            FabState::Error => "error",
            FabState::Offline => "offline",
            FabState::Maintenance => "maintenance",
        }
    }

    /// Whether a job is under way (printing or paused).
    pub fn in_job(self) -> bool {
        matches!(self, FabState::Printing | FabState::Paused)
    }
}

/// The job on the printer now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CurrentJob {
    /// The printer's id for it, when it has one (PrusaLink `job.id`, Ultimaker
    /// `uuid`, Moonraker history `job_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// File or job name (never the file itself).
    pub name: Option<String>,
    /// 0–100.
    pub progress_percent: Option<f64>,
    /// Seconds printed so far.
    pub elapsed_s: Option<u64>,
    /// Seconds left, as the printer estimates.
    pub remaining_s: Option<u64>,
    /// Unix seconds when it started, when the printer says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Material used so far, in the printer's words (`1234 mm`, `12.3 g`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
}

/// One temperature sensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    /// `tool0`, `bed`, `chamber`, `extruder1`, …
    pub name: String,
    /// °C now.
    pub actual: Option<f64>,
    /// °C asked for (0 = off).
    pub target: Option<f64>,
}

/// A 3D printer's state at one poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FabStatus {
    /// The state in the common vocabulary.
    pub state: FabState,
    /// The printer's own words for it (`Operational`, `RUNNING`, `wait_cleanup`, …).
    pub state_text: String,
    /// The current (or just finished) job.
    pub job: Option<CurrentJob>,
    /// Temperatures.
    pub temperatures: Vec<Temperature>,
    /// Error messages and codes the printer reports now (kept verbatim).
    pub errors: Vec<String>,
}

/// How a job ended, normalised; anything else is kept as the printer said it.
pub fn normalise_result(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    let word = match lower.as_str() {
        "completed" | "complete" | "finished" | "finish" | "success" | "succeeded" | "done"
        | "printed" => "completed",
        "cancelled" | "canceled" | "aborted" | "stopped" | "cancel" => "cancelled",
        "error" | "failed" | "failure" | "klippy_shutdown" | "klippy_disconnect" => "failed",
        "interrupted" => "interrupted",
        "in_progress" | "printing" | "running" => "in_progress",
        _ => return raw.trim().to_owned(),
    };
    word.to_owned()
}

/// One job in the history (from the printer, or synthesised from state changes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Idempotency key, unique per printer: the printer's own job id where it
    /// has one (`moonraker:000012`, `ultimaker:<uuid>`), else a key built from
    /// what identifies the job (`syn:<name>:<start>`).
    pub key: String,
    /// Job or file name.
    pub name: Option<String>,
    /// Unix seconds.
    pub started_at: Option<i64>,
    /// Unix seconds; `None` while it runs.
    pub ended_at: Option<i64>,
    /// Seconds of printing (not wall time when the printer says so).
    pub duration_s: Option<u64>,
    /// `completed`, `cancelled`, `failed`, `interrupted`, `in_progress`, or the
    /// printer's own word when it is none of those (see [`normalise_result`]).
    pub result: String,
    /// Material used, in words with its unit (`1520.3 mm`, `PLA 12.5 g`).
    pub material: Option<String>,
    /// Built from state changes between polls, not read from a printer's history.
    pub synthesised: bool,
}

/// What a history poll found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct History {
    /// Jobs, newest first where the printer orders them.
    pub jobs: Vec<JobRecord>,
    /// What the poll cost.
    pub stats: ReadStats,
}

/// Why a 3D printer could not be read. [`FabError::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum FabError {
    /// The address is not a 3D-printer URL we can use.
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
    /// The printer is there and answering, but refused our key, access code
    /// or password ("rejected", not "offline").
    #[error("{target}: the printer rejected the {what}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Rejected {
        /// Who was asked.
        target: String,
        /// Which secret (`API key`, `LAN access code`, …), or "request".
        what: String,
        /// The HTTP status, when HTTP.
        status: Option<u16>,
    },
    /// A secret is needed and none was given.
    #[error(
        "{target}: this printer needs its {what}: give it with --key-env VAR, the keychain, or at the prompt"
    )]
    NeedsKey {
        /// Who was asked.
        target: String,
        /// Which secret.
        what: String,
    },
    /// TLS failed (an untrusted certificate, or one not issued to the serial).
    #[error("{target}: {message}")]
    Tls {
        /// Who was asked.
        target: String,
        /// What happened and how to fix it, in words.
        message: String,
    },
    /// The answer is not what this protocol sends (not JSON, wrong shape, too large).
    #[error("{target}: {message}")]
    BadResponse {
        /// Who was asked.
        target: String,
        /// What was wrong, in words.
        message: String,
    },
    /// An HTTP status the protocol does not expect there.
    #[error("{target}: the printer answered HTTP {status} to {path}")]
    HttpStatus {
        /// Who was asked.
        target: String,
        /// The status.
        status: u16,
        /// The path asked.
        path: String,
    },
}

impl FabError {
    /// The stable code: `fab_bad_url`, `fab_connect_failed`, `fab_timeout`,
    /// `fab_rejected`, `fab_needs_key`, `fab_tls_failed`, `fab_bad_response`,
    /// `fab_http_status`.
    pub fn code(&self) -> &'static str {
        match self {
            FabError::BadUrl(_) => "fab_bad_url",
            FabError::ConnectFailed { .. } => "fab_connect_failed",
            FabError::Timeout { .. } => "fab_timeout",
            FabError::Rejected { .. } => "fab_rejected",
            FabError::NeedsKey { .. } => "fab_needs_key",
            FabError::Tls { .. } => "fab_tls_failed",
            FabError::BadResponse { .. } => "fab_bad_response",
            FabError::HttpStatus { .. } => "fab_http_status",
        }
    }

    /// Whether the printer answered (so it is not offline): rejected keys,
    /// odd answers and HTTP statuses come from a printer that is there.
    pub fn printer_answered(&self) -> bool {
        matches!(
            self,
            FabError::Rejected { .. }
                | FabError::BadResponse { .. }
                | FabError::HttpStatus { .. }
                | FabError::Tls { .. }
        )
    }
}

/// Builds the [`Reading`] for a 3D printer from what its protocol module read:
/// `device_kind` `3d_printer`, `protocol` the scheme, `status.printer` the
/// state word, `status.overall` from the state (error → `error`; offline and
/// maintenance → `warning`; else `ok`), one critical alert per error message.
pub fn build_reading(
    target: &FabTarget,
    identity: Identity,
    status: FabStatus,
    stats: ReadStats,
) -> Reading {
    let overall = match status.state {
        FabState::Error => "error",
        FabState::Offline | FabState::Maintenance => "warning",
        _ if !status.errors.is_empty() => "warning",
        _ => "ok",
    };
    let alerts = status
        .errors
        .iter()
        .enumerate()
        .map(|(i, e)| Alert {
            index: u32::try_from(i + 1).unwrap_or(u32::MAX),
            severity: Some(if status.state == FabState::Error {
                "critical".into()
            } else {
                "warning".into()
            }),
            group: Some("printer".into()),
            group_index: None,
            location: None,
            code: None,
            code_name: None,
            description: Some(e.clone()),
            time_ticks: None,
        })
        .collect();
    let classification = format!("a 3D printer read over {}", target.protocol);
    Reading {
        target: target.url(),
        credential: None,
        snmp_version: None,
        protocol: Some(target.protocol.scheme().to_owned()),
        is_printer: true,
        device_kind: "3d_printer".into(),
        classification,
        identity,
        counters: BTreeMap::new(),
        counter_sources: Vec::new(),
        supplies: Vec::new(),
        status: Status {
            device: None,
            printer: Some(status.state.as_str().to_owned()),
            errors: Vec::new(),
            error_state_hex: None,
            overall: overall.into(),
        },
        alerts,
        trays: Vec::new(),
        console: Vec::new(),
        notes: Vec::new(),
        stats,
        fab: Some(status),
        jobs: Vec::new(),
    }
}

/// Reads a 3D printer's identity and status (one status poll).
pub async fn read_fab(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    if target.protocol.needs_secret() && options.key.is_none() {
        return Err(FabError::NeedsKey {
            target: target.url(),
            what: target.protocol.secret_name().into(),
        });
    }
    match target.protocol {
        FabProtocol::OctoPrint => octoprint::read(target, options).await,
        FabProtocol::Moonraker => moonraker::read(target, options).await,
        FabProtocol::PrusaLink => prusalink::read(target, options).await,
        FabProtocol::Bambu => bambu::read(target, options).await,
        FabProtocol::Ultimaker => ultimaker::read(target, options).await,
    }
}

/// Reads the printer's own job history (one history poll). `Ok(None)` when
/// the printer keeps none (PrusaLink, Bambu): their jobs are synthesised from
/// status polls by [`synthesise`].
pub async fn read_history(
    target: &FabTarget,
    options: &FabOptions,
) -> Result<Option<History>, FabError> {
    if target.protocol.needs_secret() && options.key.is_none() {
        return Err(FabError::NeedsKey {
            target: target.url(),
            what: target.protocol.secret_name().into(),
        });
    }
    match target.protocol {
        FabProtocol::OctoPrint => octoprint::history(target, options).await.map(Some),
        FabProtocol::Moonraker => moonraker::history(target, options).await.map(Some),
        FabProtocol::Ultimaker => ultimaker::history(target, options).await.map(Some),
        FabProtocol::PrusaLink | FabProtocol::Bambu => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_with_its_makers_port() {
        let t = FabTarget::parse("octoprint://127.0.0.1").expect("parse");
        assert_eq!((t.protocol, t.port), (FabProtocol::OctoPrint, 5000));
        let t = FabTarget::parse("moonraker://printer.local:7130").expect("parse");
        assert_eq!((t.host.as_str(), t.port), ("printer.local", 7130));
        let t = FabTarget::parse("prusalink://maker@10.0.0.5").expect("parse");
        assert_eq!((t.port, t.user.as_deref()), (80, Some("maker")));
        let t = FabTarget::parse("ultimaker://[::1]:8080/").expect("parse");
        assert_eq!(
            (t.host.as_str(), t.authority()),
            ("::1", "[::1]:8080".into())
        );
    }

    #[test]
    fn a_bambu_target_needs_its_serial_in_the_user_part_or_the_query() {
        let t = FabTarget::parse("bambu://01P00A000000001@127.0.0.1").expect("parse");
        assert_eq!(t.serial.as_deref(), Some("01P00A000000001"));
        assert_eq!(t.port, 8883);
        let t = FabTarget::parse("bambu://127.0.0.1:8884?serial=01S00").expect("parse");
        assert_eq!(t.serial.as_deref(), Some("01S00"));
        assert_eq!(t.url(), "bambu://01S00@127.0.0.1:8884");
        let e = FabTarget::parse("bambu://127.0.0.1").expect_err("no serial");
        assert!(e.to_string().contains("serial"), "{e}");
    }

    #[test]
    fn a_key_in_the_address_is_refused_without_repeating_it() {
        let e = FabTarget::parse("octoprint://admin:SECRETKEY@127.0.0.1").expect_err("password");
        assert_eq!(e.code(), "fab_bad_url");
        assert!(!e.to_string().contains("SECRETKEY"), "{e}");
        assert!(e.to_string().contains("--key-env"), "{e}");
    }

    #[test]
    fn other_schemes_and_paths_are_refused_in_words() {
        assert!(FabTarget::parse("http://127.0.0.1").is_err());
        assert!(FabTarget::parse("octoprint://127.0.0.1/api/job").is_err());
    }

    #[test]
    fn results_normalise_and_unknown_words_are_kept() {
        assert_eq!(normalise_result("Finished"), "completed");
        assert_eq!(normalise_result("klippy_shutdown"), "failed");
        assert_eq!(normalise_result("canceled"), "cancelled");
        assert_eq!(normalise_result("Aborted_by_gremlin"), "Aborted_by_gremlin");
    }

    #[test]
    fn the_reading_says_error_for_a_printer_in_error_and_lists_its_messages() {
        let t = FabTarget::parse("octoprint://127.0.0.1").expect("parse");
        let status = FabStatus {
            state: FabState::Error,
            state_text: "Offline after error".into(),
            job: None,
            temperatures: vec![],
            errors: vec!["Thermal runaway".into()],
        };
        let r = build_reading(&t, Identity::default(), status, ReadStats::default());
        assert_eq!(r.status.overall, "error");
        assert_eq!(r.status.printer.as_deref(), Some("error"));
        assert_eq!(r.device_kind, "3d_printer");
        assert_eq!(r.alerts[0].description.as_deref(), Some("Thermal runaway"));
        assert_eq!(r.protocol.as_deref(), Some("octoprint"));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output_of_the_options() {
        let o = FabOptions {
            key: Some(Secret::new("ACCESSCODE42")),
            ..FabOptions::default()
        };
        assert!(!format!("{o:?}").contains("ACCESSCODE42"));
    }
}
