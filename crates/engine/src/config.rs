//! The configuration file (`printscout.toml`): its shape, its defaults, where it
//! lives, and the checks that turn a typo into a clear message.
//!
//! Owns: [`Config`] and its tables, [`ConfigError`], [`default_paths`] (the
//! OS-conventional config file and data directory), [`resolve`] (which file
//! a command uses) and saving ([`Config::save`]). The user documentation is `docs/configuration.md`; a test
//! keeps its example equal to [`Config::default`].
//!
//! Invariants:
//! - An empty file is the built-in defaults; every key is optional.
//! - An unknown key anywhere is an error that names the key (every table
//!   denies unknown fields).
//! - A [`Config`] returned by [`Config::from_toml_str`], [`Config::load`] or
//!   [`resolve`] has passed [`Config::validate`]; every validation error names
//!   the dotted key (`schedule.status_every`, `credentials[1].user`).
//! - No secret value (community, passphrase) ever appears in an error message
//!   or in `Debug` output: secrets are [`Secret`]s, parse errors never quote
//!   the source text, and errors inside `credentials` have quoted values
//!   removed.
//! - The upload token and the SMTP and proxy passwords are never keys: a
//!   secret-looking key (`password`, `token`, …) is refused with a pointer
//!   to `printscout secret set NAME` (see [`crate::secrets`]), and so is a
//!   user or password inside a URL.
//! - `[api]` has no address: `address`, `bind`, `host`, `listen` and the
//!   like are refused (the API listens on loopback only).
//! - [`Config::to_toml_string`] round-trips: `from_toml_str(to_toml_string(c))
//!   == c` for every valid `c`; [`Config::save`] writes it atomically, 0600.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::discovery::targets;
use crate::secret::Secret;
use crate::snmp::{AuthProto, Credential, PrivProto, Version};

/// The name of the configuration file inside the configuration directory.
pub const FILE_NAME: &str = "printscout.toml";

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[schedule]`: how often each kind of work runs.
    pub schedule: Schedule,
    /// `[thresholds]`: when a supply is low or empty and a device offline.
    pub thresholds: Thresholds,
    /// `[snmp]`: how devices are polled.
    pub snmp: SnmpSettings,
    /// `[[credentials]]`: SNMP credential profiles, tried in this order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialConfig>,
    /// `[discovery]`: what rediscovery looks at.
    pub discovery: DiscoverySettings,
    /// `[log]`: log level and retention.
    pub log: LogSettings,
    /// `[store]`: the data directory and the outbox.
    pub store: StoreSettings,
    /// `[api]`: the loopback API's port.
    pub api: ApiSettings,
    /// `[upload]`: where readings are uploaded (the token is a secret).
    pub upload: UploadSettings,
    /// `[email]`: the e-mailed report's SMTP server and recipients.
    pub email: EmailSettings,
    /// `[proxy]`: how the uplink reaches the internet.
    pub proxy: ProxySettings,
    /// `[secrets]`: where the upload token and passwords are kept.
    pub secrets: SecretsSettings,
    /// `[notifications]`: which events the desktop app announces.
    pub notifications: NotificationSettings,
}

/// `[notifications]`: the desktop app's notifications of printer problems
/// (the headless service shows none). See [`crate::notify`] for how they are
/// debounced and grouped.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationSettings {
    /// Whether any notification is shown. Default true.
    pub enabled: bool,
    /// Which problems are announced. Default: all of them.
    pub on: Vec<NotifyOn>,
    /// The same printer and problem is not announced again within this time,
    /// even if it cleared and came back meanwhile (a flapping sensor).
    /// Default 1 hour.
    #[serde(with = "duration")]
    pub repeat_after: Duration,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            on: NotifyOn::ALL.to_vec(),
            repeat_after: Duration::from_secs(60 * 60),
        }
    }
}

/// A kind of problem a notification can announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// A paper jam.
    PaperJam,
    /// A door or cover open.
    DoorOpen,
    /// A tray or the printer out of paper.
    OutOfPaper,
    /// Toner or ink empty (or a waste container full).
    TonerEmpty,
    /// The printer stopped answering.
    Offline,
    /// A supply low.
    SupplyLow,
}

impl NotifyOn {
    /// Every kind, in the order the settings show them.
    pub const ALL: [NotifyOn; 6] = [
        NotifyOn::PaperJam,
        NotifyOn::DoorOpen,
        NotifyOn::OutOfPaper,
        NotifyOn::TonerEmpty,
        NotifyOn::Offline,
        NotifyOn::SupplyLow,
    ];

    /// The name written in the configuration (`paper_jam`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::PaperJam => "paper_jam",
            NotifyOn::DoorOpen => "door_open",
            NotifyOn::OutOfPaper => "out_of_paper",
            NotifyOn::TonerEmpty => "toner_empty",
            NotifyOn::Offline => "offline",
            NotifyOn::SupplyLow => "supply_low",
        }
    }
}

/// `[schedule]`: intervals are written as durations (`"30s"`, `"5m"`, `"1h"`,
/// `"84h"`, `"1d"`), each between 1 second and 366 days.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Status (state, errors, alerts) of every device. Default 5 minutes.
    #[serde(with = "duration")]
    pub status_every: Duration,
    /// Counters and supplies (a full read). Default 1 hour.
    #[serde(with = "duration")]
    pub meters_every: Duration,
    /// 3D-printer job history. Default 1 hour.
    #[serde(with = "duration")]
    pub jobs_every: Duration,
    /// Rediscovery of `discovery.networks`. Default 84 hours (twice a week).
    #[serde(with = "duration")]
    pub rediscover_every: Duration,
    /// The report written to the data directory. Default 1 day.
    #[serde(with = "duration")]
    pub report_every: Duration,
    /// Local time of day of the first report (used when `report_every` is a
    /// whole number of days). Default 06:00. Written `"06:00"` or `"06:00:00"`.
    #[serde(with = "time_of_day")]
    pub report_at: NaiveTime,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            status_every: Duration::from_secs(5 * 60),
            meters_every: Duration::from_secs(60 * 60),
            jobs_every: Duration::from_secs(60 * 60),
            rediscover_every: Duration::from_secs(84 * 60 * 60),
            report_every: Duration::from_secs(24 * 60 * 60),
            report_at: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

/// `[thresholds]`: when events fire.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// A supply at or below this percentage is "low". Default 20.
    pub supply_low_percent: f64,
    /// A supply at or below this percentage is "empty". Default 0.
    pub supply_empty_percent: f64,
    /// Consecutive failed polls before a device is "offline". Default 3.
    pub offline_after: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            supply_low_percent: 20.0,
            supply_empty_percent: 0.0,
            offline_after: 3,
        }
    }
}

/// `[snmp]`: how devices are polled.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnmpSettings {
    /// UDP port of the agents. Default 161.
    pub port: u16,
    /// Time to wait for each attempt (10ms to 60s). Default 2s.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Further attempts after the first (0 to 10). Default 1.
    pub retries: u32,
    /// Packets per second, all polling together. Default 500.
    pub rate: u32,
    /// Devices read at once (1 to 4096). Default 64.
    pub concurrency: usize,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        Self {
            port: 161,
            timeout: Duration::from_secs(2),
            retries: 1,
            rate: 500,
            concurrency: 64,
        }
    }
}

/// One `[[credentials]]` entry: an SNMP credential profile. Secrets are
/// [`Secret`]s, so `Debug` shows `***`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialConfig {
    /// Shown in output instead of the secret; non-empty and unique.
    pub name: String,
    /// `"1"`, `"2c"` (the default) or `"3"`; a bare number (`3`) is accepted too.
    #[serde(deserialize_with = "version_text")]
    pub version: String,
    /// The community string: required for versions 1 and 2c, refused for 3.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    pub community: Option<Secret>,
    /// The USM user name: required for version 3, refused otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `md5`, `sha` (= `sha1`), `sha1`, `sha224`, `sha256`, `sha384` or
    /// `sha512`, in any case; version 3 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_protocol: Option<String>,
    /// The authentication passphrase, at least 8 characters (RFC 3414).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    pub auth_passphrase: Option<Secret>,
    /// `des`, `aes` (= `aes128`), `aes128`, `aes192` or `aes256`; needs
    /// authentication; version 3 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_protocol: Option<String>,
    /// The privacy passphrase, at least 8 characters.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    pub privacy_passphrase: Option<Secret>,
    /// SNMP context: the v3 context name, or for v1/v2c community-string
    /// indexing (`community@context`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

impl Default for CredentialConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            version: "2c".into(),
            community: None,
            user: None,
            auth_protocol: None,
            auth_passphrase: None,
            privacy_protocol: None,
            privacy_passphrase: None,
            context: None,
        }
    }
}

impl CredentialConfig {
    /// Checks this profile on its own and turns it into the engine's
    /// [`Credential`]. Errors name the profile (`credentials['office'].user`),
    /// never a secret. The name is kept as written, also with a context.
    pub fn to_credential(&self) -> Result<Credential, ConfigError> {
        self.checked(&format!("credentials['{}']", self.name))
    }

    fn checked(&self, at: &str) -> Result<Credential, ConfigError> {
        let key = |field: &str| format!("{at}.{field}");
        if self.name.trim().is_empty() {
            return Err(invalid(
                key("name"),
                "must not be empty: the name is shown in output instead of the secret",
            ));
        }
        let version = parse_version(&self.version).ok_or_else(|| {
            invalid(
                key("version"),
                format!(
                    "'{}' is not an SNMP version: write \"1\", \"2c\" or \"3\"",
                    self.version
                ),
            )
        })?;
        let context = self.context.clone().unwrap_or_default();
        match version {
            Version::V1 | Version::V2c => {
                for (field, set) in [
                    ("user", self.user.is_some()),
                    ("auth_protocol", self.auth_protocol.is_some()),
                    ("auth_passphrase", self.auth_passphrase.is_some()),
                    ("privacy_protocol", self.privacy_protocol.is_some()),
                    ("privacy_passphrase", self.privacy_passphrase.is_some()),
                ] {
                    if set {
                        return Err(invalid(
                            key(field),
                            format!(
                                "is only for version \"3\" (this credential is version \"{version}\")"
                            ),
                        ));
                    }
                }
                let community = self.community.as_ref().ok_or_else(|| {
                    invalid(
                        key("community"),
                        format!("is required for version \"{version}\""),
                    )
                })?;
                if community.expose().is_empty() {
                    return Err(invalid(key("community"), "must not be empty"));
                }
                let community = if context.is_empty() {
                    community.clone()
                } else {
                    Secret::new(format!("{}@{context}", community.expose()))
                };
                Ok(Credential::Community {
                    name: self.name.clone(),
                    version,
                    community,
                })
            }
            Version::V3 => {
                if self.community.is_some() {
                    return Err(invalid(
                        key("community"),
                        "is not used by version \"3\": set user and the passphrases instead",
                    ));
                }
                let user = self
                    .user
                    .as_deref()
                    .filter(|u| !u.trim().is_empty())
                    .ok_or_else(|| invalid(key("user"), "is required for version \"3\""))?;
                let auth = match (&self.auth_protocol, &self.auth_passphrase) {
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(invalid(
                            key("auth_passphrase"),
                            "is required when auth_protocol is set",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(invalid(
                            key("auth_protocol"),
                            "is required when auth_passphrase is set (md5, sha1, sha224, sha256, sha384 or sha512)",
                        ));
                    }
                    (Some(p), Some(pass)) => {
                        let proto = AuthProto::parse(p).ok_or_else(|| {
                            invalid(
                                key("auth_protocol"),
                                format!(
                                    "'{p}' is not one of md5, sha, sha1, sha224, sha256, sha384, sha512"
                                ),
                            )
                        })?;
                        check_passphrase(&key("auth_passphrase"), pass)?;
                        Some((proto, pass.clone()))
                    }
                };
                let privacy = match (&self.privacy_protocol, &self.privacy_passphrase) {
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(invalid(
                            key("privacy_passphrase"),
                            "is required when privacy_protocol is set",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(invalid(
                            key("privacy_protocol"),
                            "is required when privacy_passphrase is set (des, aes128, aes192 or aes256)",
                        ));
                    }
                    (Some(p), Some(pass)) => {
                        if auth.is_none() {
                            return Err(invalid(
                                key("privacy_protocol"),
                                "privacy needs authentication too: set auth_protocol and auth_passphrase",
                            ));
                        }
                        let proto = PrivProto::parse(p).ok_or_else(|| {
                            invalid(
                                key("privacy_protocol"),
                                format!("'{p}' is not one of des, aes, aes128, aes192, aes256"),
                            )
                        })?;
                        check_passphrase(&key("privacy_passphrase"), pass)?;
                        Some((proto, pass.clone()))
                    }
                };
                Ok(Credential::V3 {
                    name: self.name.clone(),
                    user: user.to_string(),
                    auth,
                    privacy,
                    context,
                })
            }
        }
    }
}

/// `[discovery]`: what rediscovery looks at.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySettings {
    /// Targets to rediscover: CIDR blocks, ranges, addresses or host names
    /// (as `printscout scan` takes them). Default none.
    pub networks: Vec<String>,
    /// Broadcast SNMP requests, only on interfaces inside a selected network. Default true.
    pub broadcast: bool,
    /// DNS-SD browsing, only on interfaces inside a selected network. Default true.
    pub dns_sd: bool,
    /// This computer's print queues. Default true.
    pub local_queues: bool,
    /// Public address blocks are refused unless this is true. Default false.
    pub allow_public: bool,
    /// Packets per second for rediscovery sweeps. Default 500.
    pub rate: u32,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        Self {
            networks: Vec::new(),
            broadcast: true,
            dns_sd: true,
            local_queues: true,
            allow_public: false,
            rate: 500,
        }
    }
}

/// `[log]`: log level and retention.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `error`, `warn`, `info` (the default), `debug` or `trace`.
    pub level: String,
    /// Rotated log files kept in the data directory (at least 1). Default 7.
    pub keep_files: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            keep_files: 7,
        }
    }
}

/// `[store]`: where the data lives.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// The data directory (database, logs, reports); `None` = the OS default
    /// ([`default_paths`]). A relative path in a file is taken relative to
    /// that file's directory by [`Config::load`].
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "path_text")]
    pub data_dir: Option<PathBuf>,
    /// Most items kept in the outbox waiting to be sent (at least 1). Default
    /// 250,000: a week of 1,000 printers at the default schedules.
    pub outbox_max: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            data_dir: None,
            outbox_max: 250_000,
        }
    }
}

/// The loopback API's default port (`[api] port`).
pub const DEFAULT_API_PORT: u16 = 9161;

/// `[api]`: the loopback HTTP API. It always listens on 127.0.0.1 and ::1
/// only; there is deliberately no address key (one is refused).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// The port on 127.0.0.1 and ::1; 0 = any free port. Default 9161.
    pub port: u16,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            port: DEFAULT_API_PORT,
        }
    }
}

/// `[upload]`: the HTTPS upload. The site token is the secret
/// [`crate::secrets::UPLOAD_TOKEN`], never a key here.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// `https://…`; empty = no upload. `http://` only for a loopback host.
    pub url: String,
    /// An extra trusted CA certificate (PEM) on top of the system's; `None`
    /// (written `""`) = none. A relative path in a file is taken relative to
    /// that file's directory by [`Config::load`].
    #[serde(with = "optional_path")]
    pub ca_file: Option<PathBuf>,
    /// How often what is queued is sent (at least 1 s). Default 5 minutes.
    #[serde(with = "duration")]
    pub every: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            every: Duration::from_secs(5 * 60),
        }
    }
}

/// `[email]`: the e-mailed report. The SMTP password is the secret
/// [`crate::secrets::SMTP_PASSWORD`], never a key here.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// `smtp://host[:port]` (STARTTLS when the server offers it) or
    /// `smtps://host[:port]` (implicit TLS); empty = no e-mail.
    pub smtp_url: String,
    /// The sender, `name@example.com` or `PrintScout <name@example.com>`.
    pub from: String,
    /// The recipients, in the same forms.
    pub to: Vec<String>,
    /// The SMTP user; empty = no authentication.
    pub user: String,
    /// An extra trusted CA certificate (PEM) for the SMTP server's TLS; `None`
    /// (written `""`) = none. Relative to the file's directory, like
    /// `upload.ca_file`.
    #[serde(with = "optional_path")]
    pub ca_file: Option<PathBuf>,
}

/// How the uplink finds its proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// The operating system's setting (macOS, Windows, GNOME), then the
    /// environment. The default.
    #[default]
    System,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` only.
    Environment,
    /// `[proxy] url`, with `[proxy] user` and the secret
    /// [`crate::secrets::PROXY_PASSWORD`].
    Manual,
    /// Connect directly.
    None,
}

impl ProxyMode {
    /// The name written in the file (`"system"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::System => "system",
            ProxyMode::Environment => "environment",
            ProxyMode::Manual => "manual",
            ProxyMode::None => "none",
        }
    }
}

/// `[proxy]`: how the uplink reaches the internet.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    /// `system` (the default), `environment`, `manual` or `none`.
    pub mode: ProxyMode,
    /// For `manual`: `http://host:port` (or `https://`). Kept, unused, in
    /// the other modes.
    pub url: String,
    /// For `manual`: the proxy user; empty = no authentication.
    pub user: String,
}

/// Where secrets are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretStoreKind {
    /// The OS keychain (Secret Service, Keychain, Credential Manager). The
    /// default.
    #[default]
    Keyring,
    /// `<data_dir>/secrets.json`, readable only by the service user (opt-in,
    /// for machines without a keychain).
    File,
}

impl SecretStoreKind {
    /// The name written in the file (`"keyring"` or `"file"`).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStoreKind::Keyring => "keyring",
            SecretStoreKind::File => "file",
        }
    }
}

/// `[secrets]`: where the upload token and the passwords are kept.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// `keyring` (the default) or `file`.
    pub store: SecretStoreKind,
}

/// Why a configuration was refused. No variant ever holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not TOML or does not fit the shape (unknown key, wrong type).
    #[error("{}{message}", parse_prefix(.path))]
    Parse {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The dotted key when known, line and column, and what is wrong.
        message: String,
    },
    /// The file could not be written ([`Config::save`]).
    #[error("cannot write config file {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A value is out of range or inconsistent.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key (`schedule.status_every`, `credentials[0].user`).
        key: String,
        /// What is wrong, in words.
        message: String,
    },
}

fn parse_prefix(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("cannot parse config file {}: ", p.display()),
        None => "cannot parse the configuration: ".to_string(),
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Config {
    /// Parses a TOML document and validates it.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        refuse_forbidden_keys(text)?;
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: None,
            message: parse_message(text, &e),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a file and parses and validates it. A relative `store.data_dir`
    /// is taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })?;
        if let Some(parent) = path.parent() {
            for p in [
                &mut config.store.data_dir,
                &mut config.upload.ca_file,
                &mut config.email.ca_file,
            ] {
                if let Some(rel) = p.as_ref().filter(|d| d.is_relative()) {
                    *p = Some(parent.join(rel));
                }
            }
        }
        Ok(config)
    }

    /// The configuration as a TOML document that [`Config::from_toml_str`]
    /// reads back as an equal `Config`, starting with [`SAVED_HEADER`]. It
    /// holds the SNMP communities and passphrases (the file is 0600); the
    /// upload token and the passwords are never part of a `Config`.
    pub fn to_toml_string(&self) -> String {
        match self.render() {
            Ok(text) => text,
            // Every field serializes; this arm only keeps the signature total.
            Err(e) => format!("{SAVED_HEADER}\n# cannot be written: {e}\n"),
        }
    }

    fn render(&self) -> Result<String, toml::ser::Error> {
        let body = toml::to_string(self)?;
        Ok(format!("{SAVED_HEADER}\n\n{body}"))
    }

    /// Validates and writes the configuration to `path` atomically: a
    /// temporary file in the same directory (mode 0600), fsync, rename, so a
    /// reader sees the old file or the new one. The file ends up 0600 (it
    /// holds SNMP communities). The directory is created when missing.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        self.validate()?;
        let write_err = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text = self
            .render()
            .map_err(|e| write_err(std::io::Error::other(e)))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            crate::store::create_private_dir(dir).map_err(write_err)?;
        }
        crate::secrets::write_private_atomically(path, text.as_bytes()).map_err(write_err)
    }

    /// Checks every value; the first problem found is returned, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.schedule;
        for (key, d) in [
            ("schedule.status_every", s.status_every),
            ("schedule.meters_every", s.meters_every),
            ("schedule.jobs_every", s.jobs_every),
            ("schedule.rediscover_every", s.rediscover_every),
            ("schedule.report_every", s.report_every),
        ] {
            check_interval(key, d)?;
        }
        // 0 is allowed: every occurrence is announced (after grouping).
        if self.notifications.repeat_after > Duration::from_secs(366 * 24 * 3600) {
            return Err(invalid(
                "notifications.repeat_after",
                "must be at most 366 days".to_string(),
            ));
        }

        let t = &self.thresholds;
        for (key, v) in [
            ("thresholds.supply_low_percent", t.supply_low_percent),
            ("thresholds.supply_empty_percent", t.supply_empty_percent),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(invalid(key, format!("must be from 0 to 100 (got {v})")));
            }
        }
        if t.supply_empty_percent > t.supply_low_percent {
            return Err(invalid(
                "thresholds.supply_empty_percent",
                format!(
                    "must not be above thresholds.supply_low_percent ({} > {})",
                    t.supply_empty_percent, t.supply_low_percent
                ),
            ));
        }
        if t.offline_after < 1 {
            return Err(invalid("thresholds.offline_after", "must be at least 1"));
        }

        let n = &self.snmp;
        if n.port < 1 {
            return Err(invalid("snmp.port", "must be from 1 to 65535"));
        }
        if n.timeout < Duration::from_millis(10) || n.timeout > Duration::from_secs(60) {
            return Err(invalid(
                "snmp.timeout",
                format!(
                    "must be from 10ms to 60s (got {})",
                    humantime::format_duration(n.timeout)
                ),
            ));
        }
        if n.retries > 10 {
            return Err(invalid(
                "snmp.retries",
                format!("must be from 0 to 10 (got {})", n.retries),
            ));
        }
        if n.rate < 1 {
            return Err(invalid("snmp.rate", "must be at least 1 packet per second"));
        }
        if !(1..=4096).contains(&n.concurrency) {
            return Err(invalid(
                "snmp.concurrency",
                format!("must be from 1 to 4096 (got {})", n.concurrency),
            ));
        }

        self.checked_credentials()?;

        let d = &self.discovery;
        for (i, input) in d.networks.iter().enumerate() {
            check_network(&format!("discovery.networks[{i}]"), input, d.allow_public)?;
        }
        if d.rate < 1 {
            return Err(invalid(
                "discovery.rate",
                "must be at least 1 packet per second",
            ));
        }

        if !LOG_LEVELS.contains(&self.log.level.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                "log.level",
                format!(
                    "'{}' is not a level: write error, warn, info, debug or trace",
                    self.log.level
                ),
            ));
        }
        if self.log.keep_files < 1 {
            return Err(invalid("log.keep_files", "must be at least 1"));
        }

        if self
            .store
            .data_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "store.data_dir",
                "must not be empty (leave it out for the default)",
            ));
        }
        if self.store.outbox_max < 1 {
            return Err(invalid("store.outbox_max", "must be at least 1"));
        }

        self.validate_uplink()
    }

    /// `[upload]`, `[email]` and `[proxy]` (`[api]` and `[secrets]` cannot
    /// hold a wrong value once parsed).
    fn validate_uplink(&self) -> Result<(), ConfigError> {
        let u = &self.upload;
        if !u.url.trim().is_empty() {
            let url = parse_url("upload.url", &u.url)?;
            match url.scheme() {
                "https" => {}
                "http" if is_loopback_host(&url) => {}
                "http" => {
                    return Err(invalid(
                        "upload.url",
                        "must be https:// (http:// is only accepted for a loopback host such as 127.0.0.1)",
                    ));
                }
                other => {
                    return Err(invalid(
                        "upload.url",
                        format!("must be an https:// address (got {other}://)"),
                    ));
                }
            }
            refuse_credentials_in_url("upload.url", &url, crate::secrets::UPLOAD_TOKEN)?;
        }
        if u.ca_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(invalid(
                "upload.ca_file",
                "must not be empty (leave it out for none)",
            ));
        }
        if u.every < Duration::from_secs(1) {
            return Err(invalid("upload.every", "must be at least 1s"));
        }
        if self
            .email
            .ca_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "email.ca_file",
                "must not be empty (leave it out for none)",
            ));
        }

        let e = &self.email;
        if !e.smtp_url.trim().is_empty() {
            let url = parse_url("email.smtp_url", &e.smtp_url)?;
            refuse_credentials_in_url("email.smtp_url", &url, crate::secrets::SMTP_PASSWORD)?;
            crate::uplink::email::parse_smtp_url(&e.smtp_url)
                .map_err(|words| invalid("email.smtp_url", words))?;
            if e.from.trim().is_empty() {
                return Err(invalid(
                    "email.from",
                    "is required when email.smtp_url is set (the sender's address)",
                ));
            }
            if e.to.is_empty() {
                return Err(invalid(
                    "email.to",
                    "needs at least one recipient when email.smtp_url is set",
                ));
            }
        }
        if !e.from.trim().is_empty() {
            check_address("email.from", &e.from)?;
        }
        for (i, to) in e.to.iter().enumerate() {
            check_address(&format!("email.to[{i}]"), to)?;
        }
        if e.user != e.user.trim() {
            return Err(invalid("email.user", "must not start or end with a space"));
        }

        let p = &self.proxy;
        if p.mode == ProxyMode::Manual && p.url.trim().is_empty() {
            return Err(invalid(
                "proxy.url",
                "is required when proxy.mode is \"manual\" (e.g. \"http://proxy.example:3128\")",
            ));
        }
        if !p.url.trim().is_empty() {
            let url = parse_url("proxy.url", &p.url)?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(
                    "proxy.url",
                    format!(
                        "must be http://host:port or https://host:port (got {}://)",
                        url.scheme()
                    ),
                ));
            }
            refuse_credentials_in_url("proxy.url", &url, crate::secrets::PROXY_PASSWORD)?;
            if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some()
            {
                return Err(invalid(
                    "proxy.url",
                    "must be just http://host:port (no path or options)",
                ));
            }
        }
        if p.user != p.user.trim() {
            return Err(invalid("proxy.user", "must not start or end with a space"));
        }
        Ok(())
    }

    /// The configured credentials in order, or `public` v2c when none are configured.
    pub fn effective_credentials(&self) -> Result<Vec<Credential>, ConfigError> {
        if self.credentials.is_empty() {
            return Ok(vec![Credential::community(
                "public",
                Version::V2c,
                "public",
            )]);
        }
        self.checked_credentials()
    }

    fn checked_credentials(&self) -> Result<Vec<Credential>, ConfigError> {
        let mut out: Vec<Credential> = Vec::with_capacity(self.credentials.len());
        for (i, c) in self.credentials.iter().enumerate() {
            let at = format!("credentials[{i}]");
            let cred = c.checked(&at)?;
            if let Some(j) = self.credentials[..i].iter().position(|o| o.name == c.name) {
                return Err(invalid(
                    format!("{at}.name"),
                    format!("'{}' is already the name of credentials[{j}]", c.name),
                ));
            }
            out.push(cred);
        }
        Ok(out)
    }
}

/// The first line [`Config::save`] writes.
pub const SAVED_HEADER: &str =
    "# PrintScout configuration — written by PrintScout; see docs/configuration.md";

const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Keys that would bind the API elsewhere than loopback.
const API_ADDRESS_KEYS: [&str; 9] = [
    "address",
    "addr",
    "bind",
    "bind_address",
    "host",
    "interface",
    "ip",
    "listen",
    "listen_address",
];

/// Refuses, before the shape is checked, what must never be a setting: an
/// address for the API (it listens on loopback only) and a secret value in
/// the sections where users might try one. The value is never quoted. A
/// document that is not TOML is left to the parser's own message.
fn refuse_forbidden_keys(text: &str) -> Result<(), ConfigError> {
    use crate::secrets::{PROXY_PASSWORD, SMTP_PASSWORD, UPLOAD_TOKEN};
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    if let Some(toml::Value::Table(api)) = doc.get("api") {
        for key in api.keys() {
            if API_ADDRESS_KEYS.contains(&normal_key(key).as_str()) {
                return Err(invalid(
                    format!("api.{key}"),
                    "the API listens on 127.0.0.1 and ::1 only and cannot be exposed to the \
                     network; only api.port can be set",
                ));
            }
        }
    }
    let use_secret = |name: &str| {
        format!(
            "secrets are not kept in the configuration file: store it with \
             `printscout secret set {name}`"
        )
    };
    let any_secret = || {
        "secrets are not kept in the configuration file: store them with \
         `printscout secret set NAME` (upload-token, smtp-password or proxy-password)"
            .to_string()
    };
    for key in doc.keys() {
        if looks_secret(key) {
            return Err(invalid(key.clone(), any_secret()));
        }
    }
    for (section, message) in [
        (
            "api",
            "the API token is created by PrintScout in the data directory; it is not a setting"
                .to_string(),
        ),
        ("upload", use_secret(UPLOAD_TOKEN)),
        ("email", use_secret(SMTP_PASSWORD)),
        ("proxy", use_secret(PROXY_PASSWORD)),
        ("secrets", any_secret()),
    ] {
        if let Some(toml::Value::Table(t)) = doc.get(section)
            && let Some(key) = t.keys().find(|k| looks_secret(k))
        {
            return Err(invalid(format!("{section}.{key}"), message));
        }
    }
    Ok(())
}

fn normal_key(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace('-', "_")
}

/// A key whose value would be a secret (`password`, `token`, `smtp_password`, …).
fn looks_secret(key: &str) -> bool {
    let k = normal_key(key);
    const EXACT: [&str; 8] = [
        "password",
        "passwd",
        "pass",
        "token",
        "secret",
        "key",
        "apikey",
        "passphrase",
    ];
    const SUFFIX: [&str; 7] = [
        "_password",
        "_passwd",
        "_pass",
        "_token",
        "_secret",
        "_key",
        "_passphrase",
    ];
    EXACT.contains(&k.as_str()) || SUFFIX.iter().any(|s| k.ends_with(s))
}

/// Parses a URL; the message never quotes it (it might hold a password).
fn parse_url(key: &str, text: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(text).map_err(|e| invalid(key, format!("is not a URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(key, "must name a host (scheme://host:port)"));
    }
    Ok(url)
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A user or password inside a URL is refused: the password is a secret
/// (`secret_name`) and the user has its own key.
fn refuse_credentials_in_url(
    key: &str,
    url: &url::Url,
    secret_name: &str,
) -> Result<(), ConfigError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    let user_key = match key.split_once('.') {
        Some(("upload", _)) => None,
        Some((section, _)) => Some(format!("{section}.user")),
        None => None,
    };
    let message = match user_key {
        Some(user) => format!(
            "must not hold a user or password: put the user in {user} and store the password \
             with `printscout secret set {secret_name}`"
        ),
        None => format!(
            "must not hold a user or password: the site token is stored with \
             `printscout secret set {secret_name}`"
        ),
    };
    Err(invalid(key, message))
}

/// An address looks like `x@y`, alone or as `Name <x@y>`.
fn check_address(key: &str, text: &str) -> Result<(), ConfigError> {
    let t = text.trim();
    let addr = match (t.rfind('<'), t.ends_with('>')) {
        (Some(i), true) => t.get(i + 1..t.len() - 1),
        (None, false) => Some(t),
        _ => None,
    };
    let ok = addr.is_some_and(|a| {
        a.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        })
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "'{text}' is not an e-mail address: write name@example.com or \"Name <name@example.com>\""
            ),
        ))
    }
}

/// Writes a [`Secret`] out in clear: used only by [`Config::to_toml_string`]
/// for the SNMP credentials, which the 0600 file holds.
fn expose_secret<S: serde::Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(v.expose()),
        None => s.serialize_none(),
    }
}

/// A path as text (a path that is not UTF-8 is written lossily).
fn path_text<S: serde::Serializer>(value: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(p) => s.serialize_str(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// An optional path written as a string, `""` meaning none.
mod optional_path {
    use std::path::PathBuf;

    use serde::Deserialize;

    pub(super) fn serialize<S: serde::Serializer>(
        value: &Option<PathBuf>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(p) => s.serialize_str(&p.to_string_lossy()),
            None => s.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<PathBuf>, D::Error> {
        let text = String::deserialize(d)?;
        Ok((!text.is_empty()).then(|| PathBuf::from(text)))
    }
}

const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

fn check_interval(key: &str, d: Duration) -> Result<(), ConfigError> {
    if d < Duration::from_secs(1) {
        return Err(invalid(
            key,
            format!(
                "must be at least 1s (got {})",
                humantime::format_duration(d)
            ),
        ));
    }
    if d > MAX_INTERVAL {
        return Err(invalid(
            key,
            format!(
                "must be at most 366 days (got {})",
                humantime::format_duration(d)
            ),
        ));
    }
    Ok(())
}

fn check_passphrase(key: &str, pass: &Secret) -> Result<(), ConfigError> {
    // RFC 3414 §11.2: at least 8 octets. The message never shows the value.
    if pass.expose().len() < 8 {
        return Err(invalid(key, "must be at least 8 characters (RFC 3414)"));
    }
    Ok(())
}

fn parse_version(text: &str) -> Option<Version> {
    let t = text.trim().to_ascii_lowercase();
    match t.strip_prefix('v').unwrap_or(&t) {
        "1" => Some(Version::V1),
        "2c" => Some(Version::V2c),
        "3" => Some(Version::V3),
        _ => None,
    }
}

/// A network must parse as a `scan` target, and obey the same size and
/// public-space rules as `printscout scan` (private unless `allow_public`).
fn check_network(key: &str, input: &str, allow_public: bool) -> Result<(), ConfigError> {
    let consent = targets::Consent {
        large: true,
        public: allow_public,
    };
    targets::check(input, consent)
        .map(|_| ())
        .map_err(|e| invalid(key, e.to_string()))
}

/// Turns toml's error into one line: the dotted key when it can be found,
/// line and column, and toml's message. The source text is never quoted (it
/// may hold a secret), and inside `credentials` quoted values are removed.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let span = e.span();
    let key = span
        .as_ref()
        .and_then(|s| key_at(text, s.start).or_else(|| key_from_text(text, s.clone())));
    let mut msg = plain_words(e.message().trim());
    if key.as_deref().is_none_or(|k| k.starts_with("credentials")) {
        msg = redact_values(&msg);
    }
    let at = span.as_ref().map(|s| {
        let (line, column) = line_column(text, s.start);
        format!("line {line}, column {column}")
    });
    match (key, at) {
        (Some(k), Some(at)) => format!("{k} ({at}): {msg}"),
        (None, Some(at)) => format!("{at}: {msg}"),
        (Some(k), None) => format!("{k}: {msg}"),
        (None, None) => msg,
    }
}

/// When the document cannot be rebuilt around the error (a duplicate key, a
/// syntax error), the key is the bare word at the span under the nearest
/// table header above it.
fn key_from_text(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let word = text.get(span.clone())?.trim();
    let bare = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    if !bare(word) {
        return None;
    }
    let before = text.get(..span.start)?;
    let mut header: Option<(String, bool)> = None;
    for line in before.lines() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix("[[").and_then(|r| r.split_once("]]")) {
            header = Some((h.0.trim().to_string(), true));
        } else if let Some(h) = l.strip_prefix('[').and_then(|r| r.split_once(']')) {
            header = Some((h.0.trim().to_string(), false));
        }
    }
    Some(match header {
        None => word.to_string(),
        Some((table, false)) => format!("{table}.{word}"),
        Some((table, true)) => {
            let n = before
                .lines()
                .filter(|l| {
                    l.trim()
                        .strip_prefix("[[")
                        .and_then(|r| r.split_once("]]"))
                        .is_some_and(|h| h.0.trim() == table)
                })
                .count();
            format!("{table}[{}].{word}", n.saturating_sub(1))
        }
    })
}

/// Serde names Rust types in its messages; say what to write instead.
fn plain_words(msg: &str) -> String {
    let mut out = msg.to_string();
    for (rust, words) in [
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        if let Some(rest) = out.strip_suffix(rust) {
            out = format!("{rest}{words}");
        }
    }
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a table");
    }
    out
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key whose name or value holds byte `pos`: the narrowest match.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let mut best: Option<(usize, String)> = None;
    visit_table(doc.get_ref(), "", pos, &mut best);
    best.map(|(_, k)| k)
}

type Best = Option<(usize, String)>;

fn consider(span: std::ops::Range<usize>, pos: usize, path: &str, best: &mut Best) {
    let contains = span.start <= pos && (pos < span.end || span.is_empty() && pos == span.start);
    if contains && best.as_ref().is_none_or(|(len, _)| span.len() <= *len) {
        *best = Some((span.len(), path.to_string()));
    }
}

fn visit_table(table: &toml::de::DeTable<'_>, prefix: &str, pos: usize, best: &mut Best) {
    for (k, v) in table.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        consider(k.span(), pos, &path, best);
        consider(v.span(), pos, &path, best);
        visit_value(v.get_ref(), &path, pos, best);
    }
}

fn visit_value(value: &toml::de::DeValue<'_>, path: &str, pos: usize, best: &mut Best) {
    match value {
        toml::de::DeValue::Table(t) => visit_table(t, path, pos, best),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                consider(item.span(), pos, &p, best);
                visit_value(item.get_ref(), &p, pos, best);
            }
        }
        _ => {}
    }
}

/// Removes the values serde quotes in its messages (`string "…"`,
/// `integer `…``, `floating point `…``), keeping what kind of value it was.
fn redact_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    loop {
        let next = [
            ("string \"", '"', "a string"),
            ("integer `", '`', "an integer"),
            ("floating point `", '`', "a number"),
            ("character `", '`', "a character"),
        ]
        .into_iter()
        .filter_map(|(open, close, word)| rest.find(open).map(|i| (i, open, close, word)))
        .min_by_key(|(i, ..)| *i);
        let Some((i, open, close, word)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        out.push_str(word);
        let body = &rest[i + open.len()..];
        let mut escaped = false;
        let mut end = body.len();
        for (j, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == close {
                end = j + c.len_utf8();
                break;
            }
        }
        rest = &body[end..];
    }
}

/// `version` as text, accepting a bare TOML integer (`version = 3`).
fn version_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an SNMP version: \"1\", \"2c\" or \"3\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// Durations written the humantime way (`"500ms"`, `"5m"`, `"1h 30m"`, `"1d"`).
mod duration {
    use std::fmt;
    use std::time::Duration;

    /// Written as humantime formats it (`"5m"`, `"3days 12h"`, `"750ms"`),
    /// which it parses back exactly.
    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in quotes, like \"30s\", \"5m\", \"1h\" or \"1d\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                humantime::parse_duration(v.trim()).map_err(|e| {
                    E::custom(format!(
                        "'{v}' is not a duration ({e}); write e.g. \"30s\", \"5m\", \"1h\" or \"1d\""
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A local time of day: `"06:00"`, `"06:00:00"`, or a TOML local time (`06:00:00`).
mod time_of_day {
    use std::fmt;

    use chrono::{NaiveTime, Timelike};

    /// `"HH:MM"`, with seconds and fractions only when there are some.
    pub(super) fn serialize<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        let text = if t.nanosecond() != 0 {
            t.format("%H:%M:%S%.f").to_string()
        } else if t.second() != 0 {
            t.format("%H:%M:%S").to_string()
        } else {
            t.format("%H:%M").to_string()
        };
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<NaiveTime, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NaiveTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time of day like \"06:00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NaiveTime, E> {
                let t = v.trim();
                NaiveTime::parse_from_str(t, "%H:%M")
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
                    .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S%.f"))
                    .map_err(|_| {
                        E::custom(format!(
                            "'{v}' is not a time of day: write it as \"HH:MM\", e.g. \"06:00\""
                        ))
                    })
            }
            // A TOML datetime arrives as a one-entry map holding its text.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NaiveTime, A::Error> {
                let Some((_, text)) = map.next_entry::<String, String>()? else {
                    return Err(serde::de::Error::custom("expected a time of day"));
                };
                self.visit_str(&text)
            }
        }
        d.deserialize_any(V)
    }
}

/// Where the configuration file and the data live by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The configuration file (it need not exist).
    pub config_file: PathBuf,
    /// The data directory (database, logs, reports).
    pub data_dir: PathBuf,
}

/// OS-conventional locations (directories::ProjectDirs; Linux:
/// ~/.config/printscout/printscout.toml and ~/.local/share/printscout, or the
/// `XDG_CONFIG_HOME`/`XDG_DATA_HOME` equivalents; macOS: ~/Library/Application
/// Support/PrintScout for both; Windows: %APPDATA%\PrintScout\config and
/// %LOCALAPPDATA%\PrintScout\data). None when no home directory.
pub fn default_paths() -> Option<Paths> {
    let dirs = directories::ProjectDirs::from("", "", "PrintScout")?;
    Some(Paths {
        config_file: dirs.config_dir().join(FILE_NAME),
        // Local, not roaming: a database must not follow a Windows profile around.
        data_dir: dirs.data_local_dir().to_path_buf(),
    })
}

/// What `printscout run/devices/...` use: an explicit path must exist (error otherwise); with no
/// path the default file is used when it exists, else the defaults. Returns the file used, if any.
pub fn resolve(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    if let Some(path) = explicit {
        return Ok((Config::load(path)?, Some(path.to_path_buf())));
    }
    match default_paths() {
        Some(paths) if paths.config_file.is_file() => {
            let config = Config::load(&paths.config_file)?;
            Ok((config, Some(paths.config_file)))
        }
        _ => Ok((Config::default(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_maps_to_line_and_column() {
        assert_eq!(line_column("a = 1\nbb = 2\n", 6), (2, 1));
        assert_eq!(line_column("a = 1\nbb = 2\n", 8), (2, 3));
        assert_eq!(line_column("", 0), (1, 1));
    }

    #[test]
    fn rust_type_names_become_plain_words() {
        assert_eq!(
            plain_words("invalid value: integer `70000`, expected u16"),
            "invalid value: integer `70000`, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain_words("invalid type: integer `5`, expected struct Schedule"),
            "invalid type: integer `5`, expected a table"
        );
    }

    #[test]
    fn quoted_values_are_removed_from_messages() {
        let m = redact_values(r#"invalid type: string "se\"cret", expected struct X"#);
        assert_eq!(m, "invalid type: a string, expected struct X");
        let m = redact_values("invalid type: integer `12345`, expected a string");
        assert_eq!(m, "invalid type: an integer, expected a string");
    }

    #[test]
    fn the_key_at_a_position_is_the_narrowest_one() {
        let text = "[schedule]\nstatus_every = \"5x\"\n[[credentials]]\nname = \"a\"\n";
        let pos = text.find("5x").expect("value present");
        assert_eq!(key_at(text, pos).as_deref(), Some("schedule.status_every"));
        let pos = text.find("\"a\"").expect("value present");
        assert_eq!(key_at(text, pos).as_deref(), Some("credentials[0].name"));
    }
}
