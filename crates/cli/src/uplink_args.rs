//! The uplink's command-line overrides shared by `run`, `sync` and `report`:
//! where readings are uploaded and where the e-mailed report goes, so tests
//! and first-time users need no configuration file.
//!
//! Invariants: a flag replaces the file's value for this process; the flags
//! themselves never write the file (a settings change saved through the
//! API while `run` has them saves the values in effect, flags included);
//! the result is validated as a whole, like a file,
//! so a bad flag is refused with the dotted key it stands for; no flag takes
//! a secret (the site token and the passwords come from `printscout secret`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use printscout_engine::config::Config;

/// `--upload-url`, `--ca-file`, `--smtp-url`, `--report-to`, `--report-from`.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct UplinkArgs {
    /// Upload readings to this HTTPS URL (overrides upload.url; the site token comes from
    /// `printscout secret set upload-token`).
    #[arg(long, value_name = "URL")]
    pub upload_url: Option<String>,
    /// An extra trusted CA certificate (PEM), for the upload server and the SMTP server
    /// (overrides upload.ca_file and email.ca_file).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Send the report through this SMTP server: smtp://host[:port] (STARTTLS when offered;
    /// ?tls=required|none), smtps://host[:port] (implicit TLS); overrides email.smtp_url.
    #[arg(long, value_name = "URL")]
    pub smtp_url: Option<String>,
    /// A recipient of the report (repeat for several; replaces email.to).
    #[arg(long = "report-to", value_name = "ADDR")]
    pub report_to: Vec<String>,
    /// The report's sender (overrides email.from; default printscout@<this computer's name>).
    #[arg(long, value_name = "ADDR")]
    pub report_from: Option<String>,
}

impl UplinkArgs {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.upload_url.is_some()
            || self.ca_file.is_some()
            || self.smtp_url.is_some()
            || !self.report_to.is_empty()
            || self.report_from.is_some()
    }

    /// Applies the flags to `config` and validates the result.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        if !self.any() {
            return Ok(());
        }
        if let Some(url) = &self.upload_url {
            config.upload.url = url.trim().to_string();
        }
        if let Some(file) = &self.ca_file {
            let file = std::path::absolute(file)
                .with_context(|| format!("--ca-file {}", file.display()))?;
            config.upload.ca_file = Some(file.clone());
            config.email.ca_file = Some(file);
        }
        if let Some(url) = &self.smtp_url {
            config.email.smtp_url = url.trim().to_string();
        }
        if !self.report_to.is_empty() {
            config.email.to = self.report_to.clone();
        }
        if let Some(from) = &self.report_from {
            config.email.from = from.trim().to_string();
        }
        if !config.email.smtp_url.is_empty() && config.email.from.trim().is_empty() {
            config.email.from = default_sender();
        }
        config
            .validate()
            .context("the command-line uplink options are not valid")?;
        Ok(())
    }
}

/// `printscout@<host name>`, or `printscout@localhost` when the name is not
/// usable in an address.
pub(crate) fn default_sender() -> String {
    let host = hostname();
    let usable = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    format!(
        "printscout@{}",
        if usable { host.as_str() } else { "localhost" }
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .unwrap_or_default()
}
