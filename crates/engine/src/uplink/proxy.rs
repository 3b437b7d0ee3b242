//! Proxy discovery: which proxies this machine offers the uplink, and which
//! one it would use now for the upload URL.
//!
//! Owns: the environment snapshot ([`ProxyEnv`]: `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` and their lower-case forms), the
//! system setting (GNOME's `org.gnome.system.proxy`, read with one
//! `gsettings list-recursively` call on Linux; the operating system's own
//! handling on macOS and Windows), the manual `[proxy]` with its password in
//! the secret store, [`ProxyEndpoint`] (a proxy address with its
//! credentials apart) and the [`ProxyReport`] served to people.
//!
//! Invariants:
//! - the report holds no secret: every proxy URL is redacted
//!   (`http://***@host:3128`), passwords are reported as `password_set` /
//!   `credentials` only, and [`ProxyEndpoint`]'s `Debug` shows neither user
//!   nor password;
//! - discovery never changes anything and sends no packet; it may block (the
//!   secret store, `gsettings`), never more than 2 s on `gsettings`, which
//!   is killed after that;
//! - the precedence is the one reqwest/hyper-util and curl apply:
//!   `HTTPS_PROXY` before `https_proxy` before `ALL_PROXY`/`all_proxy` for
//!   https:// addresses, `HTTP_PROXY`/`http_proxy` then `ALL_PROXY` for
//!   http://, and `NO_PROXY` (exact names, domain suffixes, `*`, addresses
//!   and CIDR blocks) sends a matching host direct; GNOME's https proxy
//!   falls back to its http proxy, as GLib does;
//! - `mode = "system"` means the OS setting, then the environment (as
//!   `[proxy] mode` is documented); a GNOME PAC file (`auto`) is reported,
//!   not evaluated.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use super::redact_url;
use crate::config::{Config, ProxyMode};
use crate::secret::Secret;
use crate::secrets::{PROXY_PASSWORD, SecretStore};

/// The environment variables discovery reads, in precedence order within
/// each pair.
pub const ENV_NAMES: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// How long `gsettings` may take before it is killed.
const GSETTINGS_TIMEOUT: Duration = Duration::from_secs(2);

/// The GNOME schema holding the proxy setting (with `.http`, `.https`,
/// `.socks` children).
const GNOME_SCHEMA: &str = "org.gnome.system.proxy";

// ---------------------------------------------------------------------------
// Where discovery looks.

/// A snapshot of the proxy environment variables ([`ENV_NAMES`]). Its
/// `Debug` lists only which are set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    vars: BTreeMap<String, String>,
}

impl ProxyEnv {
    /// The variables of this process now.
    pub fn from_process() -> Self {
        Self::from_vars(
            ENV_NAMES
                .iter()
                .filter_map(|name| std::env::var(name).ok().map(|v| (*name, v))),
        )
    }

    /// From explicit pairs (tests, a child's environment). Names outside
    /// [`ENV_NAMES`] and empty values are ignored.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, v)| ENV_NAMES.contains(&k.as_str()) && !v.trim().is_empty())
            .collect();
        Self { vars }
    }

    /// The value of one variable, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Whether no proxy variable is set.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The first of `names` that is set, with its name.
    fn first(&self, names: [&'static str; 2]) -> Option<(&'static str, &str)> {
        names
            .into_iter()
            .find_map(|n| self.get(n).map(|v| (n, v.trim())))
    }
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("set", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where the system proxy setting comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemSource {
    /// This machine: GNOME's setting through `gsettings` on Linux (when a
    /// desktop session bus exists), the operating system on macOS and
    /// Windows.
    Os,
    /// `program list-recursively org.gnome.system.proxy` run with these
    /// extra environment variables, whatever the session (tests point it at
    /// a keyfile backend: `GSETTINGS_BACKEND=keyfile`, `XDG_CONFIG_HOME`).
    Gsettings {
        /// The `gsettings` program.
        program: PathBuf,
        /// Added to the child's environment.
        env: Vec<(String, String)>,
    },
    /// Do not look (no system proxy).
    Off,
}

/// Everything discovery reads besides the configuration and the secret
/// store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    /// The proxy environment variables.
    pub env: ProxyEnv,
    /// The system setting.
    pub system: SystemSource,
}

impl Sources {
    /// This process's environment and this machine's setting.
    pub fn from_process() -> Self {
        Self {
            env: ProxyEnv::from_process(),
            system: SystemSource::Os,
        }
    }
}

// ---------------------------------------------------------------------------
// A proxy address.

/// Which way the uplink goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// No proxy.
    Direct,
    /// A proxy from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`.
    Environment,
    /// The operating system's proxy setting.
    System,
    /// `[proxy] url` with `[proxy] user` and the proxy password.
    Manual,
}

impl PathKind {
    /// `"direct"`, `"environment"`, `"system"` or `"manual"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::Direct => "direct",
            PathKind::Environment => "environment",
            PathKind::System => "system",
            PathKind::Manual => "manual",
        }
    }
}

/// A proxy: its address (`http://host:port`, no user, no path) and its
/// credentials kept apart. `Debug` shows the redacted address only.
#[derive(Clone)]
pub struct ProxyEndpoint {
    url: Url,
    user: Option<String>,
    password: Option<Secret>,
}

impl ProxyEndpoint {
    /// Parses a proxy as the environment writes it: `http://user:pass@host:port`,
    /// `https://host:port`, or `host:port` (taken as http). A percent-encoded
    /// user or password is decoded. Errors show the address redacted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = redact_url(text);
        let url = parse_loose(text).map_err(|e| format!("{shown} is not a proxy address ({e})"))?;
        match url.scheme() {
            "http" | "https" => {}
            s if s.starts_with("socks") => {
                return Err(format!(
                    "{shown} is a SOCKS proxy, which the uplink does not support (use an HTTP proxy)"
                ));
            }
            other => {
                return Err(format!(
                    "{shown}: a proxy address must start with http:// or https:// (not {other}://)"
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{shown} has no host name"));
        }
        let after_scheme = text.trim().split_once("://").map_or(text, |(_, r)| r);
        let user = decode(url.username());
        let password = url.password().map(decode);
        if after_scheme.contains('@') && user.is_empty() && password.is_none() {
            return Err(format!(
                "{shown}: its user or password could not be read (percent-encode characters such as / # @ in them)"
            ));
        }
        let mut bare = url.clone();
        // Setting an empty user, no password and an empty path cannot fail on
        // an http(s) URL with a host.
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        bare.set_path("");
        bare.set_query(None);
        bare.set_fragment(None);
        Ok(Self {
            url: bare,
            user: (!user.is_empty()).then_some(user),
            password: password.map(Secret::new),
        })
    }

    /// The same proxy with this user and password (replacing any).
    pub fn with_credentials(mut self, user: Option<String>, password: Option<Secret>) -> Self {
        self.user = user.filter(|u| !u.is_empty());
        self.password = password;
        self
    }

    /// The address without credentials (`http://host:port/`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The proxy user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether a user or a password goes with it.
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() || self.password.is_some()
    }

    /// The password, for the wire only.
    pub(crate) fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// `http://host:port`, or `http://***@host:port` when it has
    /// credentials.
    pub fn redacted(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        let port = self
            .url
            .port_or_known_default()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let who = if self.has_credentials() { "***@" } else { "" };
        format!("{}://{who}{host}{port}", self.url.scheme())
    }

    /// The host (IPv6 without brackets) and port to open a connection to.
    pub(crate) fn host_port(&self) -> Option<(String, u16)> {
        let host = match self.url.host()? {
            url::Host::Domain(d) => d.to_string(),
            url::Host::Ipv4(a) => a.to_string(),
            url::Host::Ipv6(a) => a.to_string(),
        };
        Some((host, self.url.port_or_known_default()?))
    }

    /// As a reqwest proxy for every address, with basic authentication
    /// when it has credentials.
    pub fn to_reqwest(&self) -> Result<reqwest::Proxy, reqwest::Error> {
        let proxy = reqwest::Proxy::all(self.url.as_str())?;
        Ok(if self.has_credentials() {
            proxy.basic_auth(
                self.user.as_deref().unwrap_or_default(),
                self.password
                    .as_ref()
                    .map(Secret::expose)
                    .unwrap_or_default(),
            )
        } else {
            proxy
        })
    }
}

impl fmt::Debug for ProxyEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProxyEndpoint")
            .field(&self.redacted())
            .finish()
    }
}

/// Parses `text` as a URL, taking a text without `scheme://` as http.
pub(crate) fn parse_loose(text: &str) -> Result<Url, url::ParseError> {
    let text = text.trim();
    if text.contains("://") {
        Url::parse(text)
    } else {
        Url::parse(&format!("http://{text}"))
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A list of hosts that bypass the proxy (`NO_PROXY`, GNOME's
/// `ignore-hosts`): `*`, exact names, domain suffixes (`example.com`,
/// `.example.com`, `*.example.com` all match `a.example.com`), addresses
/// and CIDR blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostList {
    entries: Vec<String>,
}

impl HostList {
    fn new<'a>(items: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            entries: items
                .into_iter()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| entry_matches(e, host, ip))
    }
}

fn entry_matches(entry: &str, host: &str, ip: Option<IpAddr>) -> bool {
    if entry == "*" {
        return true;
    }
    if let Ok(net) = entry.parse::<ipnet::IpNet>() {
        return ip.is_some_and(|ip| net.contains(&ip));
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(addr) = bare.parse::<IpAddr>() {
        return ip == Some(addr);
    }
    if ip.is_some() {
        return false;
    }
    let suffix = entry.trim_start_matches('*').trim_start_matches('.');
    if suffix.is_empty() {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let suffix = suffix.to_ascii_lowercase();
    host == suffix || host.ends_with(&format!(".{suffix}"))
}

// ---------------------------------------------------------------------------
// The report.

/// What discovery found, for people (`GET /api/v1/proxy`). Holds no secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyReport {
    /// `[proxy] mode`: `system`, `environment`, `manual` or `none`.
    pub mode: String,
    /// The upload URL the choice was made for; `None` when none is
    /// configured (the choice is then shown for an https:// address).
    pub target: Option<String>,
    /// The way the uplink would go now.
    pub in_use: InUse,
    /// What the environment variables say.
    pub environment: EnvironmentReport,
    /// What the operating system's setting says.
    pub system: SystemReport,
    /// The manual `[proxy]`.
    pub manual: ManualReport,
}

/// The way the uplink would go now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InUse {
    /// `direct`, `environment`, `system` or `manual`.
    pub path: PathKind,
    /// The proxy, redacted; `None` when direct or when the operating system
    /// applies its own setting.
    pub url: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The proxy environment variables.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentReport {
    /// Every variable that is set, in [`ENV_NAMES`] order.
    pub variables: Vec<EnvVariable>,
    /// The proxy for https:// addresses (redacted), if any.
    pub https_proxy: Option<String>,
    /// The proxy for http:// addresses (redacted), if any.
    pub http_proxy: Option<String>,
    /// The hosts that bypass them (`NO_PROXY`).
    pub no_proxy: Vec<String>,
}

/// One environment variable as found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvVariable {
    /// Its name, as spelled (`HTTPS_PROXY`, `https_proxy`…).
    pub name: String,
    /// Its value, a proxy URL redacted (`http://***@host:port`).
    pub value: String,
    /// Whether it carried a user or a password.
    pub credentials: bool,
    /// Whether it is the one that applies (`HTTPS_PROXY` wins over
    /// `https_proxy`).
    pub used: bool,
    /// Why it cannot be used, if so.
    pub error: Option<String>,
}

/// The operating system's proxy setting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemReport {
    /// Whether a setting could be read (or is applied by the OS).
    pub available: bool,
    /// `gnome`, `os` (macOS, Windows: applied by the OS) or `none`.
    pub source: String,
    /// GNOME's mode: `none`, `manual` or `auto` (a PAC file).
    pub mode: Option<String>,
    /// The http proxy (redacted).
    pub http: Option<String>,
    /// The https proxy (redacted).
    pub https: Option<String>,
    /// A SOCKS proxy (not used by the uplink).
    pub socks: Option<String>,
    /// The PAC file's address (`auto` mode; not evaluated), redacted.
    pub autoconfig_url: Option<String>,
    /// The hosts that bypass it.
    pub ignore_hosts: Vec<String>,
    /// Whether the setting has a user and password for the http proxy.
    pub credentials: bool,
    /// What was found, in words.
    pub detail: String,
}

/// The manual `[proxy]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ManualReport {
    /// Whether `[proxy] url` is set.
    pub configured: bool,
    /// `[proxy] url`.
    pub url: Option<String>,
    /// `[proxy] user`.
    pub user: Option<String>,
    /// Whether the proxy password is in the secret store.
    pub password_set: bool,
    /// Why the address or the password cannot be used, if so.
    pub error: Option<String>,
}

/// What discovery finds now: this process's environment and this machine's
/// setting. May block (secret store, up to 2 s of `gsettings`): call it
/// from `spawn_blocking` in async code.
pub fn discover(config: &Config, secrets: &dyn SecretStore) -> ProxyReport {
    discover_with(config, secrets, &Sources::from_process())
}

/// [`discover`] over explicit sources.
pub fn discover_with(config: &Config, secrets: &dyn SecretStore, sources: &Sources) -> ProxyReport {
    let found = gather(config, secrets, sources);
    let target = upload_url(config);
    found.report(target.as_ref())
}

/// An address for people: as is, or redacted if it holds a user or
/// password (configuration validation already refuses those).
pub(crate) fn shown_target(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        url.to_string()
    } else {
        redact_url(url.as_str())
    }
}

/// The configured upload URL, if it is one.
pub(crate) fn upload_url(config: &Config) -> Option<Url> {
    let text = config.upload.url.trim();
    (!text.is_empty()).then(|| Url::parse(text).ok()).flatten()
}

// ---------------------------------------------------------------------------
// What was found.

/// An environment variable naming a proxy.
#[derive(Clone, Debug)]
struct EnvProxy {
    name: &'static str,
    endpoint: Result<ProxyEndpoint, String>,
}

#[derive(Clone, Debug, Default)]
struct EnvFound {
    variables: Vec<EnvVariable>,
    https: Option<EnvProxy>,
    http: Option<EnvProxy>,
    all: Option<EnvProxy>,
    no_proxy: Option<(&'static str, HostList)>,
}

impl EnvFound {
    fn read(env: &ProxyEnv) -> Self {
        let pick = |names: [&'static str; 2]| {
            env.first(names).map(|(name, value)| EnvProxy {
                name,
                endpoint: ProxyEndpoint::parse(value),
            })
        };
        let https = pick(["HTTPS_PROXY", "https_proxy"]);
        let http = pick(["HTTP_PROXY", "http_proxy"]);
        let all = pick(["ALL_PROXY", "all_proxy"]);
        let no_proxy = env
            .first(["NO_PROXY", "no_proxy"])
            .map(|(name, v)| (name, HostList::new(v.split(','))));
        let used: Vec<&str> = [&https, &http, &all]
            .into_iter()
            .flatten()
            .map(|p| p.name)
            .chain(no_proxy.as_ref().map(|(n, _)| *n))
            .collect();
        let variables = ENV_NAMES
            .iter()
            .filter_map(|name| {
                let value = env.get(name)?;
                let is_no_proxy = name.eq_ignore_ascii_case("no_proxy");
                let (shown, credentials, error) = if is_no_proxy {
                    (value.trim().to_string(), false, None)
                } else {
                    let parsed = ProxyEndpoint::parse(value);
                    let after = value.split_once("://").map_or(value, |(_, r)| r);
                    let credentials = parsed
                        .as_ref()
                        .map_or(after.contains('@'), ProxyEndpoint::has_credentials);
                    (redact_url(value), credentials, parsed.err())
                };
                Some(EnvVariable {
                    name: name.to_string(),
                    value: shown,
                    credentials,
                    used: used.contains(name),
                    error,
                })
            })
            .collect();
        Self {
            variables,
            https,
            http,
            all,
            no_proxy,
        }
    }

    /// The variable that applies to an address with this scheme.
    fn for_scheme(&self, scheme: &str) -> Option<&EnvProxy> {
        if scheme == "http" {
            self.http.as_ref().or(self.all.as_ref())
        } else {
            self.https.as_ref().or(self.all.as_ref())
        }
    }

    fn pick(&self, scheme: &str, host: Option<&str>) -> Pick<'_> {
        let Some(found) = self.for_scheme(scheme) else {
            return Pick::Nothing(format!(
                "no proxy variable is set for {scheme}:// addresses"
            ));
        };
        if let (Some(host), Some((name, list))) = (host, &self.no_proxy)
            && list.matches(host)
        {
            return Pick::Bypass(format!("{name} lists {host}, so it is reached directly"));
        }
        match &found.endpoint {
            Ok(ep) => Pick::Proxy(ep, found.name.to_string()),
            Err(e) => Pick::Invalid(format!("{}: {e}", found.name)),
        }
    }
}

/// GNOME's proxy setting.
#[derive(Clone, Debug, Default)]
struct Gnome {
    mode: String,
    http: Option<Result<ProxyEndpoint, String>>,
    https: Option<Result<ProxyEndpoint, String>>,
    socks: Option<String>,
    autoconfig_url: String,
    ignore_hosts: Vec<String>,
    credentials: bool,
}

impl Gnome {
    fn for_scheme(&self, scheme: &str) -> Option<&Result<ProxyEndpoint, String>> {
        if self.mode != "manual" {
            return None;
        }
        if scheme == "http" {
            self.http.as_ref()
        } else {
            self.https.as_ref().or(self.http.as_ref())
        }
    }

    fn pick(&self, scheme: &str, host: Option<&str>) -> Pick<'_> {
        let Some(found) = self.for_scheme(scheme) else {
            return Pick::Nothing(match self.mode.as_str() {
                "auto" => {
                    "GNOME's proxy is a PAC file (automatic), which the uplink does not evaluate"
                        .to_string()
                }
                "manual" => format!("GNOME's manual proxy has no proxy for {scheme}:// addresses"),
                _ => "GNOME's proxy mode is none".to_string(),
            });
        };
        if let Some(host) = host
            && HostList::new(self.ignore_hosts.iter().map(String::as_str)).matches(host)
        {
            return Pick::Bypass(format!(
                "GNOME's ignore-hosts lists {host}, so it is reached directly"
            ));
        }
        match found {
            Ok(ep) => Pick::Proxy(ep, "GNOME's proxy setting".to_string()),
            Err(e) => Pick::Invalid(e.clone()),
        }
    }
}

#[derive(Clone, Debug)]
enum SystemFound {
    /// Nothing to read, with why.
    Off(String),
    /// macOS, Windows: the OS applies it.
    #[cfg_attr(not(any(target_os = "macos", windows)), allow(dead_code))]
    Os,
    /// GNOME's setting.
    Gnome(Box<Gnome>),
}

#[derive(Clone, Debug, Default)]
struct ManualFound {
    endpoint: Option<Result<ProxyEndpoint, String>>,
    user: Option<String>,
    password_set: bool,
    password_error: Option<String>,
}

/// What one source says about one address.
enum Pick<'a> {
    Proxy(&'a ProxyEndpoint, String),
    Bypass(String),
    Invalid(String),
    Nothing(String),
}

/// Which proxy a path would use, for the connectivity test.
#[derive(Clone, Debug)]
pub(crate) enum ProxyUse {
    /// No proxy.
    Direct,
    /// This proxy.
    Via(ProxyEndpoint),
    /// Whatever the operating system applies (reqwest's system proxy).
    OsDefault,
    /// The source names a proxy that cannot be used, with why.
    Invalid(String),
}

/// One path the connectivity test tries.
#[derive(Clone, Debug)]
pub(crate) struct PlannedPath {
    pub kind: PathKind,
    pub proxy: ProxyUse,
    pub note: Option<String>,
}

/// Everything discovery read (values included; never shown as is).
#[derive(Clone, Debug)]
pub(crate) struct Found {
    mode: ProxyMode,
    env: EnvFound,
    system: SystemFound,
    manual: ManualFound,
}

/// Reads the environment snapshot, the system setting and the manual proxy
/// with its password. Blocks.
pub(crate) fn gather(config: &Config, secrets: &dyn SecretStore, sources: &Sources) -> Found {
    let manual = {
        let url = config.proxy.url.trim();
        let user = Some(config.proxy.user.trim().to_string()).filter(|u| !u.is_empty());
        let (password, password_error) = match secrets.get(PROXY_PASSWORD) {
            Ok(p) => (p, None),
            Err(e) => (
                None,
                Some(format!(
                    "the proxy password could not be read ({}): {e}",
                    e.code()
                )),
            ),
        };
        let password_set = password.is_some();
        let endpoint = (!url.is_empty()).then(|| {
            ProxyEndpoint::parse(url).map(|ep| ep.with_credentials(user.clone(), password))
        });
        ManualFound {
            endpoint,
            user,
            password_set,
            password_error,
        }
    };
    Found {
        mode: config.proxy.mode,
        env: EnvFound::read(&sources.env),
        system: read_system(&sources.system),
        manual,
    }
}

impl Found {
    /// The way the uplink would go for `target` (or an https:// address
    /// when there is none), under `[proxy] mode`.
    pub(crate) fn route(&self, target: Option<&Url>) -> (PathKind, Option<&ProxyEndpoint>, String) {
        let scheme = target.map_or("https", Url::scheme);
        let host = target.and_then(Url::host_str);
        let direct = |reason: String| (PathKind::Direct, None, reason);
        let from_env = |prefix: &str| match self.env.pick(scheme, host) {
            Pick::Proxy(ep, name) => (
                PathKind::Environment,
                Some(ep),
                format!("{prefix}{name} names the proxy"),
            ),
            Pick::Bypass(why) | Pick::Nothing(why) => direct(format!("{prefix}{why}")),
            Pick::Invalid(why) => direct(format!("{prefix}{why}; the uplink connects directly")),
        };
        match self.mode {
            ProxyMode::None => {
                direct("proxy.mode is \"none\": the uplink connects directly".into())
            }
            ProxyMode::Manual => match &self.manual.endpoint {
                Some(Ok(ep)) => (
                    PathKind::Manual,
                    Some(ep),
                    "proxy.mode is \"manual\": proxy.url".into(),
                ),
                Some(Err(e)) => (
                    PathKind::Manual,
                    None,
                    format!("proxy.url cannot be used: {e}"),
                ),
                None => (
                    PathKind::Manual,
                    None,
                    "proxy.mode is \"manual\" but proxy.url is empty".into(),
                ),
            },
            ProxyMode::Environment => from_env("proxy.mode is \"environment\": "),
            ProxyMode::System => match &self.system {
                SystemFound::Os => (
                    PathKind::System,
                    None,
                    "proxy.mode is \"system\": handled by the operating system".into(),
                ),
                SystemFound::Gnome(g) => match g.pick(scheme, host) {
                    Pick::Proxy(ep, _) => (
                        PathKind::System,
                        Some(ep),
                        "proxy.mode is \"system\": GNOME's proxy setting".into(),
                    ),
                    Pick::Bypass(why) => direct(format!("proxy.mode is \"system\": {why}")),
                    Pick::Invalid(why) | Pick::Nothing(why) => from_env(&format!(
                        "proxy.mode is \"system\": {why}; then the environment: "
                    )),
                },
                SystemFound::Off(why) => from_env(&format!(
                    "proxy.mode is \"system\": no system setting ({why}); then the environment: "
                )),
            },
        }
    }

    /// Every path worth trying for `target`: direct, then the
    /// environment's, the system's and the manual proxy when each exists.
    pub(crate) fn paths(&self, target: &Url) -> Vec<PlannedPath> {
        let scheme = target.scheme();
        let host = target.host_str();
        let planned = |kind, pick: Pick<'_>| -> Option<PlannedPath> {
            let (proxy, note) = match pick {
                Pick::Proxy(ep, from) => (ProxyUse::Via(ep.clone()), Some(format!("from {from}"))),
                Pick::Bypass(why) => (ProxyUse::Direct, Some(why)),
                Pick::Invalid(why) => (ProxyUse::Invalid(why), None),
                Pick::Nothing(_) => return None,
            };
            Some(PlannedPath { kind, proxy, note })
        };
        let mut out = vec![PlannedPath {
            kind: PathKind::Direct,
            proxy: ProxyUse::Direct,
            note: None,
        }];
        out.extend(planned(PathKind::Environment, self.env.pick(scheme, host)));
        match &self.system {
            SystemFound::Os => out.push(PlannedPath {
                kind: PathKind::System,
                proxy: ProxyUse::OsDefault,
                note: Some(
                    "the operating system's setting, applied by the OS (it also reads the environment)"
                        .into(),
                ),
            }),
            SystemFound::Gnome(g) => out.extend(planned(PathKind::System, g.pick(scheme, host))),
            SystemFound::Off(_) => {}
        }
        match &self.manual.endpoint {
            Some(Ok(ep)) => out.push(PlannedPath {
                kind: PathKind::Manual,
                proxy: ProxyUse::Via(ep.clone()),
                note: None,
            }),
            Some(Err(e)) => out.push(PlannedPath {
                kind: PathKind::Manual,
                proxy: ProxyUse::Invalid(format!("proxy.url: {e}")),
                note: None,
            }),
            None => {}
        }
        out
    }

    /// Every secret value discovery holds (proxy passwords), so messages
    /// can be scrubbed of them.
    pub(crate) fn secret_values(&self) -> Vec<Secret> {
        let env = [&self.env.https, &self.env.http, &self.env.all]
            .into_iter()
            .flatten()
            .filter_map(|p| p.endpoint.as_ref().ok());
        let system = match &self.system {
            SystemFound::Gnome(g) => [&g.http, &g.https]
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_ref().ok())
                .collect(),
            _ => Vec::new(),
        };
        let manual = self.manual.endpoint.iter().filter_map(|r| r.as_ref().ok());
        env.chain(system)
            .chain(manual)
            .filter_map(|ep| ep.password().cloned())
            .collect()
    }

    fn report(&self, target: Option<&Url>) -> ProxyReport {
        let (path, proxy, reason) = self.route(target);
        let reason = if target.is_none() {
            format!("{reason} (no upload URL is configured; shown for an https:// address)")
        } else {
            reason
        };
        let shown = |r: &Result<ProxyEndpoint, String>| match r {
            Ok(ep) => ep.redacted(),
            Err(e) => format!("unusable: {e}"),
        };
        let env_shown = |p: &Option<EnvProxy>| p.as_ref().map(|p| shown(&p.endpoint));
        let environment = EnvironmentReport {
            variables: self.env.variables.clone(),
            https_proxy: env_shown(&self.env.https).or_else(|| env_shown(&self.env.all)),
            http_proxy: env_shown(&self.env.http).or_else(|| env_shown(&self.env.all)),
            no_proxy: self
                .env
                .no_proxy
                .as_ref()
                .map(|(_, l)| l.entries.clone())
                .unwrap_or_default(),
        };
        let system = match &self.system {
            SystemFound::Off(why) => SystemReport {
                available: false,
                source: "none".into(),
                detail: why.clone(),
                ..SystemReport::default()
            },
            SystemFound::Os => SystemReport {
                available: true,
                source: "os".into(),
                detail: "handled by the operating system (its setting is applied when connecting and cannot be listed here)".into(),
                ..SystemReport::default()
            },
            SystemFound::Gnome(g) => SystemReport {
                available: true,
                source: "gnome".into(),
                mode: Some(g.mode.clone()),
                http: g.http.as_ref().map(shown),
                https: g.https.as_ref().map(shown),
                socks: g.socks.clone(),
                autoconfig_url: Some(g.autoconfig_url.as_str())
                    .filter(|u| !u.is_empty())
                    .map(redact_url),
                ignore_hosts: g.ignore_hosts.clone(),
                credentials: g.credentials,
                detail: match g.mode.as_str() {
                    "manual" => "GNOME: a manual proxy".to_string(),
                    "auto" => "GNOME: a PAC file (automatic); the uplink does not evaluate PAC files".to_string(),
                    _ => "GNOME: no proxy".to_string(),
                },
            },
        };
        let m = &self.manual;
        let manual = ManualReport {
            configured: m.endpoint.is_some(),
            url: m.endpoint.as_ref().map(shown),
            user: m.user.clone(),
            password_set: m.password_set,
            error: match &m.endpoint {
                Some(Err(e)) => Some(e.clone()),
                _ => m.password_error.clone(),
            },
        };
        ProxyReport {
            mode: self.mode.as_str().to_string(),
            target: target.map(shown_target),
            in_use: InUse {
                path,
                url: proxy.map(ProxyEndpoint::redacted),
                reason,
            },
            environment,
            system,
            manual,
        }
    }
}

// ---------------------------------------------------------------------------
// The system setting.

fn read_system(source: &SystemSource) -> SystemFound {
    match source {
        SystemSource::Off => SystemFound::Off("not looked at".into()),
        SystemSource::Gsettings { program, env } => read_gnome(program, env),
        SystemSource::Os => read_os(),
    }
}

#[cfg(any(target_os = "macos", windows))]
fn read_os() -> SystemFound {
    SystemFound::Os
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn read_os() -> SystemFound {
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|d| std::path::Path::new(&d).join("bus").exists());
    if !bus {
        return SystemFound::Off(
            "not available: no desktop session (no session bus), so there is no GNOME proxy setting to read"
                .into(),
        );
    }
    read_gnome(std::path::Path::new("gsettings"), &[])
}

#[cfg(not(any(
    target_os = "macos",
    windows,
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    )
)))]
fn read_os() -> SystemFound {
    SystemFound::Off("not available on this platform".into())
}

fn read_gnome(program: &std::path::Path, env: &[(String, String)]) -> SystemFound {
    match run_gsettings(program, env) {
        Ok(text) => SystemFound::Gnome(Box::new(parse_gnome(&text))),
        Err(why) => SystemFound::Off(format!("not available: {why}")),
    }
}

/// `program list-recursively org.gnome.system.proxy`, killed after 2 s.
fn run_gsettings(program: &std::path::Path, env: &[(String, String)]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(["list-recursively", GNOME_SCHEMA])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "gsettings is not installed".to_string(),
            _ => format!("gsettings could not be started ({e})"),
        })?;
    let deadline = Instant::now() + GSETTINGS_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                // Our own child, by its handle.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "gsettings did not answer within {} s",
                    GSETTINGS_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("gsettings could not be waited for ({e})")),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !status.success() {
        if err.contains("No such schema") {
            return Err("the GNOME proxy settings schema is not installed".into());
        }
        let first = err.lines().next().unwrap_or("no message").trim();
        return Err(format!("gsettings failed ({status}): {first}"));
    }
    if err.contains("'memory' GSettings backend") {
        return Err(
            "no desktop settings store (gsettings fell back to its in-memory defaults)".into(),
        );
    }
    Ok(out)
}

/// GNOME's setting from `gsettings list-recursively` output (`schema key
/// value` per line, values in GVariant text form).
fn parse_gnome(text: &str) -> Gnome {
    let mut keys: BTreeMap<(String, String), String> = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        if let (Some(schema), Some(key), Some(value)) = (parts.next(), parts.next(), parts.next()) {
            keys.insert(
                (schema.to_string(), key.to_string()),
                value.trim().to_string(),
            );
        }
    }
    let get = |child: &str, key: &str| {
        let schema = if child.is_empty() {
            GNOME_SCHEMA.to_string()
        } else {
            format!("{GNOME_SCHEMA}.{child}")
        };
        keys.get(&(schema, key.to_string())).map(String::as_str)
    };
    let string = |child: &str, key: &str| get(child, key).and_then(gv_string).unwrap_or_default();
    let int = |child: &str, key: &str| {
        get(child, key)
            .and_then(|v| v.trim_start_matches("int32 ").parse::<i64>().ok())
            .unwrap_or(0)
    };
    let boolean = |child: &str, key: &str| get(child, key) == Some("true");

    let credentials = boolean("http", "use-authentication");
    let http = gnome_endpoint(&string("http", "host"), int("http", "port")).map(|r| {
        r.map(|ep| {
            if credentials {
                let user = string("http", "authentication-user");
                let password = string("http", "authentication-password");
                ep.with_credentials(
                    Some(user),
                    (!password.is_empty()).then(|| Secret::new(password)),
                )
            } else {
                ep
            }
        })
    });
    let https = gnome_endpoint(&string("https", "host"), int("https", "port"));
    let socks_host = string("socks", "host");
    let socks = (!socks_host.is_empty())
        .then(|| redact_url(&format!("socks://{socks_host}:{}", int("socks", "port"))));
    Gnome {
        mode: string("", "mode"),
        http,
        https,
        socks,
        autoconfig_url: string("", "autoconfig-url"),
        ignore_hosts: get("", "ignore-hosts").map(gv_strings).unwrap_or_default(),
        credentials,
    }
}

/// A GNOME host and port as a proxy; `None` when the host is empty.
fn gnome_endpoint(host: &str, port: i64) -> Option<Result<ProxyEndpoint, String>> {
    let host = host.trim();
    if host.is_empty() {
        return None;
    }
    let Some(port) = u16::try_from(port).ok().filter(|p| *p != 0) else {
        return Some(Err(format!("{} has no port", redact_url(host))));
    };
    let text = if host.contains("://") {
        match parse_loose(host) {
            Ok(mut url) => {
                let _ = url.set_port(Some(port));
                url.to_string()
            }
            Err(e) => {
                return Some(Err(format!(
                    "{} is not a host name ({e})",
                    redact_url(host)
                )));
            }
        }
    } else if host.parse::<Ipv6Addr>().is_ok() {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };
    Some(ProxyEndpoint::parse(&text))
}

/// A GVariant text string (`'a'`, `"a"`), escapes undone.
fn gv_string(v: &str) -> Option<String> {
    read_quoted(v.trim()).map(|(s, _)| s)
}

/// A GVariant text array of strings (`['a', 'b']`, `@as []`).
fn gv_strings(v: &str) -> Vec<String> {
    let v = v.trim();
    let v = v.strip_prefix("@as").unwrap_or(v).trim();
    let Some(mut rest) = v.strip_prefix('[') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() || rest.starts_with(']') {
            return out;
        }
        match read_quoted(rest) {
            Some((s, tail)) => {
                out.push(s);
                rest = tail;
            }
            None => return out,
        }
    }
}

/// One quoted string at the start of `s`, and what follows it.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, next) = chars.next()?;
                out.push(match next {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            c if c == quote => return Some((out, &s[i + c.len_utf8()..])),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_names_suffixes_addresses_and_blocks() {
        let list =
            HostList::new("localhost,.corp.example,*.lan,10.0.0.0/8,::1,192.168.1.5".split(','));
        for host in [
            "localhost",
            "corp.example",
            "a.corp.example",
            "printer.lan",
            "10.1.2.3",
            "[::1]",
            "192.168.1.5",
        ] {
            assert!(list.matches(host), "{host} should bypass");
        }
        for host in ["example.com", "notcorp.example", "192.168.1.6", "127.0.0.1"] {
            assert!(!list.matches(host), "{host} should not bypass");
        }
        assert!(HostList::new(["*"]).matches("127.0.0.1"));
    }

    #[test]
    fn gsettings_output_is_read_as_gnomes_setting() {
        let text = "\
org.gnome.system.proxy autoconfig-url ''
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', 'it\\'s']
org.gnome.system.proxy mode 'manual'
org.gnome.system.proxy.http authentication-password 'SENTINEL-gnome'
org.gnome.system.proxy.http authentication-user 'lab'
org.gnome.system.proxy.http host 'proxy.example'
org.gnome.system.proxy.http port 3128
org.gnome.system.proxy.http use-authentication true
org.gnome.system.proxy.https host ''
org.gnome.system.proxy.https port 0
org.gnome.system.proxy.socks host ''
org.gnome.system.proxy.socks port 0
";
        let g = parse_gnome(text);
        assert_eq!(g.mode, "manual");
        assert_eq!(g.ignore_hosts, ["localhost", "127.0.0.0/8", "it's"]);
        let https = g.for_scheme("https").expect("https falls back to http");
        let ep = https.as_ref().expect("a usable proxy");
        assert_eq!(ep.redacted(), "http://***@proxy.example:3128");
        assert_eq!(ep.user(), Some("lab"));
        assert!(!format!("{ep:?}").contains("SENTINEL"));
        assert!(matches!(
            g.pick("https", Some("127.0.0.1")),
            Pick::Bypass(_)
        ));
    }

    #[test]
    fn an_empty_gsettings_array_is_an_empty_list() {
        assert!(gv_strings("@as []").is_empty());
        assert_eq!(gv_strings("['a']"), ["a"]);
    }

    #[test]
    fn a_proxy_endpoint_decodes_its_credentials_and_keeps_them_apart() {
        let ep =
            ProxyEndpoint::parse("http://lab:SENTINEL%40pw@127.0.0.1:3128").expect("a proxy URL");
        assert_eq!(ep.url().as_str(), "http://127.0.0.1:3128/");
        assert_eq!(ep.user(), Some("lab"));
        assert_eq!(ep.password().map(Secret::expose), Some("SENTINEL@pw"));
        assert_eq!(ep.redacted(), "http://***@127.0.0.1:3128");
        assert!(!format!("{ep:?}").contains("SENTINEL"));
        let err = ProxyEndpoint::parse("socks5://lab:SENTINEL@127.0.0.1:1080")
            .expect_err("SOCKS is not supported");
        assert!(!err.contains("SENTINEL"), "{err}");
    }
}
