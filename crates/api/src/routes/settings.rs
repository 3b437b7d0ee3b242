//! `/api/v1/settings`: schedules, thresholds, SNMP and its credential
//! profiles, discovery, upload target, e-mail (SMTP) and proxy.
//!
//! Invariants:
//! - credentials are write-only: a read says only whether each secret is
//!   set (`community_set`, `token_set`, `password_set`…); a PATCH that omits a
//!   secret keeps the stored one, `""` deletes it;
//! - a change is validated as a whole (messages name the dotted key), then
//!   secrets are stored, then the file is saved, then the collector is
//!   reconfigured — a refused change touches nothing;
//! - the upload token and the SMTP and proxy passwords go to the secret store
//!   (OS keychain, or the opt-in 0600 file), never to the configuration file;
//!   if the store cannot keep them the answer says so (503
//!   `secret_store_unavailable`) and nothing is saved.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use printscout_engine::config::{Config, CredentialConfig};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{PROXY_PASSWORD, SMTP_PASSWORD, SecretStore, UPLOAD_TOKEN};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Json};
use crate::state::{ApiContext, AppState};

/// The settings, secrets shown only as set or not.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// The configuration file they are saved in.
    pub config_file: String,
    /// How often each kind of work runs (`"5m"`, `"1h"`, `"3d 12h"`…).
    pub schedule: ScheduleView,
    /// When an event is raised.
    pub thresholds: ThresholdsView,
    /// SNMP transport settings.
    pub snmp: SnmpView,
    /// SNMP credential profiles, tried in this order.
    pub credentials: Vec<CredentialView>,
    /// Rediscovery of the selected networks.
    pub discovery: DiscoveryView,
    /// HTTPS upload.
    pub upload: UploadView,
    /// E-mailed reports.
    pub email: EmailView,
    /// How the uplink reaches the internet.
    pub proxy: ProxyView,
    /// The desktop app's notifications.
    pub notifications: NotificationsView,
    /// Where secrets are kept: `keyring` or `file`.
    pub secret_store: String,
    /// Why the secret store cannot be used now (no keychain, locked…), in
    /// words with its code; `null` when it works. While it is set, the
    /// `*_set` fields say `false` because nothing can be read.
    pub secret_store_error: Option<crate::error::ErrorDetail>,
}

/// Intervals as humantime strings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleView {
    /// Status poll interval.
    #[schema(example = "5m")]
    pub status_every: String,
    /// Counters and supplies.
    #[schema(example = "1h")]
    pub meters_every: String,
    /// 3D job history.
    pub jobs_every: String,
    /// Rediscovery of the selected networks.
    pub rediscover_every: String,
    /// The report.
    pub report_every: String,
    /// Local time of the daily report (`HH:MM`).
    #[schema(example = "06:00")]
    pub report_at: String,
}

/// Which printer problems the desktop app announces, and how often.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsView {
    /// Whether any notification is shown.
    pub enabled: bool,
    /// The problems announced: a subset of `paper_jam`, `door_open`,
    /// `out_of_paper`, `toner_empty`, `offline`, `supply_low`.
    #[schema(example = json!(["paper_jam", "offline"]))]
    pub on: Vec<String>,
    /// The same printer and problem is not announced again within this time.
    #[schema(example = "1h")]
    pub repeat_after: String,
    /// Every problem that can be announced, in display order.
    pub choices: Vec<String>,
}

/// Notification settings to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsPatch {
    /// Whether any notification is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The problems announced (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<String>>,
    /// Humantime, e.g. `"1h"`; `"0s"` announces every occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_after: Option<String>,
}

/// Event thresholds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsView {
    /// A supply at or under this percent is low.
    pub supply_low_percent: f64,
    /// … at or under this, empty.
    pub supply_empty_percent: f64,
    /// Failed polls in a row before a printer is offline.
    pub offline_after: u32,
}

/// SNMP transport settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpView {
    /// UDP port printers are asked on.
    pub port: u16,
    /// Per-request timeout (`"2s"`).
    pub timeout: String,
    /// Retries per request.
    pub retries: u32,
    /// Packets per second at most.
    pub rate: u32,
    /// Printers polled at once.
    pub concurrency: usize,
}

/// A credential profile, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    /// Its name (shown instead of the secret).
    pub name: String,
    /// `1`, `2c` or `3`.
    pub version: String,
    /// Whether a community is set (v1, v2c).
    pub community_set: bool,
    /// USM user (v3).
    pub user: Option<String>,
    /// Authentication protocol (v3).
    pub auth_protocol: Option<String>,
    /// Whether an authentication passphrase is set.
    pub auth_passphrase_set: bool,
    /// Privacy protocol (v3).
    pub privacy_protocol: Option<String>,
    /// Whether a privacy passphrase is set.
    pub privacy_passphrase_set: bool,
    /// SNMP context.
    pub context: Option<String>,
}

/// Rediscovery settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryView {
    /// Selected networks (CIDR, ranges, addresses, names); see `/networks`.
    pub networks: Vec<String>,
    /// Also broadcast on interfaces inside them.
    pub broadcast: bool,
    /// Also browse DNS-SD there.
    pub dns_sd: bool,
    /// Also list this computer's print queues.
    pub local_queues: bool,
    /// Allow public address space.
    pub allow_public: bool,
    /// Probes per second at most.
    pub rate: u32,
}

/// HTTPS upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// `https://…`; empty: no upload.
    pub url: String,
    /// An extra trusted CA file.
    pub ca_file: Option<String>,
    /// Whether the site token is set.
    pub token_set: bool,
}

/// E-mailed reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailView {
    /// `smtp://host:port` or `smtps://host:port`; empty: no e-mail.
    pub smtp_url: String,
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// SMTP user.
    pub user: String,
    /// Whether the SMTP password is set.
    pub password_set: bool,
}

/// Proxy settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyView {
    /// `system`, `environment`, `manual` or `none`.
    pub mode: String,
    /// For `manual`: `http://host:port`.
    pub url: String,
    /// For `manual`: the proxy user.
    pub user: String,
    /// Whether the proxy password is set.
    pub password_set: bool,
}

/// A change: every section and field is optional; what is absent stays.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Intervals (humantime strings).
    pub schedule: Option<SchedulePatch>,
    /// Event thresholds.
    pub thresholds: Option<ThresholdsPatch>,
    /// SNMP transport.
    pub snmp: Option<SnmpPatch>,
    /// The whole list of credential profiles, in order (replaces the list; a
    /// profile that omits a secret keeps the one stored under its name).
    pub credentials: Option<Vec<CredentialPatch>>,
    /// Rediscovery.
    pub discovery: Option<DiscoveryPatch>,
    /// HTTPS upload.
    pub upload: Option<UploadPatch>,
    /// E-mailed reports.
    pub email: Option<EmailPatch>,
    /// Proxy.
    pub proxy: Option<ProxyPatch>,
    /// Desktop notifications.
    pub notifications: Option<NotificationsPatch>,
}

impl std::fmt::Debug for SettingsPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SettingsPatch(..)")
    }
}

/// Intervals to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    /// Status poll interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_every: Option<String>,
    /// Counters and supplies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meters_every: Option<String>,
    /// 3D job history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs_every: Option<String>,
    /// Rediscovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rediscover_every: Option<String>,
    /// Report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_every: Option<String>,
    /// Local time of the daily report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_at: Option<String>,
}

/// Thresholds to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsPatch {
    /// Low at or under this percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supply_low_percent: Option<f64>,
    /// Empty at or under this percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supply_empty_percent: Option<f64>,
    /// Failed polls before offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_after: Option<u32>,
}

/// SNMP settings to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpPatch {
    /// UDP port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Per-request timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Packets per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Printers at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

/// Rediscovery settings to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryPatch {
    /// Selected networks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    /// Broadcast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<bool>,
    /// DNS-SD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_sd: Option<bool>,
    /// Local print queues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_queues: Option<bool>,
    /// Public address space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_public: Option<bool>,
    /// Probes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
}

/// Upload settings to change.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadPatch {
    /// `https://…`; `""`: no upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra CA file; `""`: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The site token (write-only; `""` deletes it).
    #[serde(skip_serializing)]
    #[schema(value_type = Option<String>, format = Password)]
    pub token: Option<Secret>,
}

/// E-mail settings to change.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPatch {
    /// `smtp://host:port` or `smtps://…`; `""`: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// Sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// SMTP user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// SMTP password (write-only; `""` deletes it).
    #[serde(skip_serializing)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
}

/// Proxy settings to change.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyPatch {
    /// `system`, `environment`, `manual` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// For `manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Proxy password (write-only; `""` deletes it).
    #[serde(skip_serializing)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
}

/// A credential profile to keep or add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialPatch {
    /// Its name (unique).
    pub name: String,
    /// `1`, `2c` (default) or `3`.
    pub version: Option<String>,
    /// Community (v1, v2c); absent: keep the stored one.
    #[schema(value_type = Option<String>, format = Password)]
    pub community: Option<Secret>,
    /// USM user (v3).
    pub user: Option<String>,
    /// Authentication protocol (v3).
    pub auth_protocol: Option<String>,
    /// Authentication passphrase; absent: keep.
    #[schema(value_type = Option<String>, format = Password)]
    pub auth_passphrase: Option<Secret>,
    /// Privacy protocol (v3).
    pub privacy_protocol: Option<String>,
    /// Privacy passphrase; absent: keep.
    #[schema(value_type = Option<String>, format = Password)]
    pub privacy_passphrase: Option<Secret>,
    /// SNMP context.
    pub context: Option<String>,
}

/// The settings now; secrets only as set or not.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    responses((status = 200, description = "the settings", body = SettingsView))
)]
pub async fn get_settings(State(ctx): State<AppState>) -> Result<Json<SettingsView>, ApiError> {
    let config = ctx.config()?;
    let secrets = ctx.secrets.clone();
    let path = ctx.config_path.display().to_string();
    let view = tokio::task::spawn_blocking(move || view(&config, secrets.as_ref(), path))
        .await
        .map_err(|_| ApiError::internal("the request failed"))?;
    Ok(Json(view))
}

/// Changes settings: validated as a whole, secrets stored, the file saved,
/// the collector rescheduled.
#[utoipa::path(
    patch,
    path = "/api/v1/settings",
    tag = "settings",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "the settings after the change", body = SettingsView),
        (status = 422, description = "a value is not valid (the message names the key)", body = crate::error::ErrorBody),
        (status = 503, description = "the secret store cannot keep a secret; nothing was changed", body = crate::error::ErrorBody)
    )
)]
pub async fn patch_settings(
    State(ctx): State<AppState>,
    Json(patch): Json<SettingsPatch>,
) -> Result<Json<SettingsView>, ApiError> {
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let mut secrets_to_set = Vec::new();
        if let Some(u) = &patch.upload
            && let Some(t) = &u.token
        {
            secrets_to_set.push((UPLOAD_TOKEN, t.clone()));
        }
        if let Some(e) = &patch.email
            && let Some(p) = &e.password
        {
            secrets_to_set.push((SMTP_PASSWORD, p.clone()));
        }
        if let Some(p) = &patch.proxy
            && let Some(pw) = &p.password
        {
            secrets_to_set.push((PROXY_PASSWORD, pw.clone()));
        }
        change_config(&c, |config| apply_patch(config, &patch), &secrets_to_set)
    })
    .await
    .map_err(|_| ApiError::internal("the request failed"))??;
    get_settings(State(ctx)).await
}

/// Changes the configuration under its lock: `edit` → validate → store
/// `secrets` → save the file → reconfigure the collector.
pub(crate) fn change_config(
    ctx: &Arc<ApiContext>,
    edit: impl FnOnce(&mut Config) -> Result<(), ApiError>,
    secrets: &[(&'static str, Secret)],
) -> Result<Config, ApiError> {
    let mut current = ctx
        .config
        .lock()
        .map_err(|_| ApiError::internal("the configuration is unavailable"))?;
    let mut next = current.clone();
    edit(&mut next)?;
    next.validate().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_setting",
            e.to_string(),
        )
    })?;
    let poller = printscout_engine::collector::poller_from(&next)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_setting",
                e.to_string(),
            )
        })?
        .with_secrets(ctx.secrets.clone())
        .with_trust_dir(ctx.data_dir.join(printscout_engine::secrets::TRUST_DIR));
    for (name, value) in secrets {
        let stored = if value.expose().is_empty() {
            ctx.secrets.delete(name)
        } else {
            ctx.secrets.set(name, value)
        };
        stored.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.code(),
                format!("credentials not stored: {e}"),
            )
        })?;
    }
    if next != *current {
        next.save(&ctx.config_path).map_err(|e| {
            ApiError::internal(format!(
                "cannot save the configuration to {}: {e}",
                ctx.config_path.display()
            ))
        })?;
        ctx.collector
            .reconfigure(ctx.settings_for(&next), Arc::new(poller));
        update_profiles(ctx, &current, &next);
        tracing::info!(file = %ctx.config_path.display(), "settings changed and saved");
        *current = next.clone();
    }
    // A new URL, proxy or token (stored above even when the file did not
    // change): the upload loop takes it and tries at once.
    if let Some(uplink) = ctx.uplink() {
        uplink.reconfigure(&next);
    }
    Ok(next)
}

/// Devices remember the credential that worked, secret included: when a
/// profile's secret changes they take the new one, and when a profile is
/// removed they forget it (their next poll tries the configured list).
fn update_profiles(ctx: &Arc<ApiContext>, before: &Config, after: &Config) {
    let changed: Vec<(String, Option<printscout_engine::snmp::Credential>)> = before
        .credentials
        .iter()
        .filter_map(
            |old| match after.credentials.iter().find(|n| n.name == old.name) {
                Some(new) if new == old => None,
                Some(new) => Some((old.name.clone(), new.to_credential().ok())),
                None => Some((old.name.clone(), None)),
            },
        )
        .collect();
    if changed.is_empty() {
        return;
    }
    let updated = ctx.collector.with_store(|store| {
        changed
            .iter()
            .map(|(name, c)| store.update_profile(name, c.as_ref()).unwrap_or(0))
            .sum::<usize>()
    });
    if updated.unwrap_or(0) > 0 {
        tracing::info!(
            devices = updated,
            "credential profiles changed: devices updated"
        );
        ctx.collector.devices_changed();
    }
}

/// Merges a patch into a configuration through the file's own format, so
/// every value is parsed and checked exactly as the file's are.
fn apply_patch(config: &mut Config, patch: &SettingsPatch) -> Result<(), ApiError> {
    let invalid = |e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_setting", e);
    let mut doc: toml::Table = toml::from_str(&config.to_toml_string())
        .map_err(|e| ApiError::internal(format!("the configuration does not serialise: {e}")))?;
    let mut merge = |section: &str, value: Option<serde_json::Value>| -> Result<(), ApiError> {
        let Some(serde_json::Value::Object(fields)) = value else {
            return Ok(());
        };
        let table = doc
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(table) = table else {
            return Err(ApiError::internal(format!("[{section}] is not a table")));
        };
        for (k, v) in fields {
            let v: toml::Value =
                serde_json::from_value(v).map_err(|e| invalid(format!("{section}.{k}: {e}")))?;
            table.insert(k, v);
        }
        Ok(())
    };
    let json = |v: &dyn erased::Ser| v.to_json();
    merge("schedule", patch.schedule.as_ref().map(|p| json(p)))?;
    merge("thresholds", patch.thresholds.as_ref().map(|p| json(p)))?;
    merge("snmp", patch.snmp.as_ref().map(|p| json(p)))?;
    merge("discovery", patch.discovery.as_ref().map(|p| json(p)))?;
    merge("upload", patch.upload.as_ref().map(|p| json(p)))?;
    merge("email", patch.email.as_ref().map(|p| json(p)))?;
    merge("proxy", patch.proxy.as_ref().map(|p| json(p)))?;
    merge(
        "notifications",
        patch.notifications.as_ref().map(|p| json(p)),
    )?;
    let mut next =
        Config::from_toml_str(&toml::to_string(&doc).map_err(|e| invalid(e.to_string()))?)
            .map_err(|e| invalid(e.to_string()))?;
    if let Some(list) = &patch.credentials {
        let mut creds = Vec::with_capacity(list.len());
        for p in list {
            let old = config.credentials.iter().find(|c| c.name == p.name);
            let keep = |new: &Option<Secret>, old: Option<&Option<Secret>>| match new {
                Some(s) if s.expose().is_empty() => None,
                Some(s) => Some(s.clone()),
                None => old.cloned().flatten(),
            };
            creds.push(CredentialConfig {
                name: p.name.clone(),
                version: p
                    .version
                    .clone()
                    .or_else(|| old.map(|o| o.version.clone()))
                    .unwrap_or_else(|| "2c".into()),
                community: keep(&p.community, old.map(|o| &o.community)),
                user: p.user.clone(),
                auth_protocol: p.auth_protocol.clone(),
                auth_passphrase: keep(&p.auth_passphrase, old.map(|o| &o.auth_passphrase)),
                privacy_protocol: p.privacy_protocol.clone(),
                privacy_passphrase: keep(&p.privacy_passphrase, old.map(|o| &o.privacy_passphrase)),
                context: p.context.clone(),
            });
        }
        next.credentials = creds;
    }
    *config = next;
    Ok(())
}

/// Serialises the typed patches to JSON without naming each type.
mod erased {
    pub(super) trait Ser {
        fn to_json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

fn view(config: &Config, secrets: &dyn SecretStore, config_file: String) -> SettingsView {
    let d = |x: std::time::Duration| humantime::format_duration(x).to_string();
    let mut store_error = None;
    let mut set = |name: &str| match secrets.is_set(name) {
        Ok(v) => v,
        Err(e) => {
            store_error.get_or_insert(crate::error::ErrorDetail {
                code: e.code().into(),
                message: e.to_string(),
            });
            false
        }
    };
    let token_set = set(UPLOAD_TOKEN);
    let smtp_set = set(SMTP_PASSWORD);
    let proxy_set = set(PROXY_PASSWORD);
    let s = &config.schedule;
    SettingsView {
        config_file,
        schedule: ScheduleView {
            status_every: d(s.status_every),
            meters_every: d(s.meters_every),
            jobs_every: d(s.jobs_every),
            rediscover_every: d(s.rediscover_every),
            report_every: d(s.report_every),
            report_at: s.report_at.format("%H:%M").to_string(),
        },
        thresholds: ThresholdsView {
            supply_low_percent: config.thresholds.supply_low_percent,
            supply_empty_percent: config.thresholds.supply_empty_percent,
            offline_after: config.thresholds.offline_after,
        },
        snmp: SnmpView {
            port: config.snmp.port,
            timeout: d(config.snmp.timeout),
            retries: config.snmp.retries,
            rate: config.snmp.rate,
            concurrency: config.snmp.concurrency,
        },
        credentials: config
            .credentials
            .iter()
            .map(|c| CredentialView {
                name: c.name.clone(),
                version: c.version.clone(),
                community_set: c.community.is_some(),
                user: c.user.clone(),
                auth_protocol: c.auth_protocol.clone(),
                auth_passphrase_set: c.auth_passphrase.is_some(),
                privacy_protocol: c.privacy_protocol.clone(),
                privacy_passphrase_set: c.privacy_passphrase.is_some(),
                context: c.context.clone(),
            })
            .collect(),
        discovery: DiscoveryView {
            networks: config.discovery.networks.clone(),
            broadcast: config.discovery.broadcast,
            dns_sd: config.discovery.dns_sd,
            local_queues: config.discovery.local_queues,
            allow_public: config.discovery.allow_public,
            rate: config.discovery.rate,
        },
        upload: UploadView {
            url: config.upload.url.clone(),
            ca_file: config
                .upload
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
            token_set,
        },
        email: EmailView {
            smtp_url: config.email.smtp_url.clone(),
            from: config.email.from.clone(),
            to: config.email.to.clone(),
            user: config.email.user.clone(),
            password_set: smtp_set,
        },
        proxy: ProxyView {
            mode: config.proxy.mode.as_str().into(),
            url: config.proxy.url.clone(),
            user: config.proxy.user.clone(),
            password_set: proxy_set,
        },
        notifications: NotificationsView {
            enabled: config.notifications.enabled,
            on: config
                .notifications
                .on
                .iter()
                .map(|o| o.as_str().into())
                .collect(),
            repeat_after: d(config.notifications.repeat_after),
            choices: printscout_engine::config::NotifyOn::ALL
                .iter()
                .map(|o| o.as_str().into())
                .collect(),
        },
        secret_store: secrets.kind().into(),
        secret_store_error: store_error,
    }
}
