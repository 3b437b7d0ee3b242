//! `printscout secret set|delete|status|list`: the upload token, the SMTP and
//! proxy passwords and the 3D printers' keys (`printer-key:<scheme>://<host>[:<port>]`),
//! kept in the store `[secrets] store` names (the OS keychain, or the opt-in
//! 0600 file in the data directory).
//!
//! Invariants: a value is read from a prompt without echo or from stdin,
//! never from argv or the environment, and is never printed, logged or put
//! in an error; only the names in `secrets::NAMES` and printer keys are
//! accepted (others are bad usage, exit 2, and a refused name is not echoed
//! when it could hold a password); a printer key is normalised by
//! `secrets::canonical_name` before use, so the name shown is the one kept;
//! a store failure prints its stable code with its meaning in words and
//! exits 1; `status --json` and `list --json` print exactly one JSON object.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{self, NAMES, PRINTER_KEY_PREFIX, SecretError, SecretStore};

use crate::service::DataArgs;

/// `printscout secret`.
#[derive(Args)]
pub(crate) struct SecretArgs {
    #[command(subcommand)]
    action: SecretAction,
}

#[derive(Subcommand)]
enum SecretAction {
    /// Store a secret (asks for it without echo, or reads it from stdin).
    Set {
        /// Which secret: upload-token, smtp-password, proxy-password, or a 3D
        /// printer's key as printer-key:<scheme>://<host>[:<port>]
        /// (e.g. printer-key:octoprint://192.168.1.20:5000, printer-key:bambu://SERIAL@HOST).
        name: String,
        /// Read the value from stdin (the default when stdin is not a terminal);
        /// one trailing newline is dropped.
        #[arg(long)]
        stdin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a secret.
    Delete {
        /// Which secret (as for `set`).
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Show which secrets are set and where they are kept (never a value).
    Status {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the names of the secrets that are set, printer keys included (never a value).
    List {
        /// Print one JSON object instead of one name a line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

/// Runs `printscout secret …`.
pub(crate) fn run(args: SecretArgs) -> Result<ExitCode> {
    match args.action {
        SecretAction::Set { name, stdin, data } => set(&canonical(&name)?, stdin, &data),
        SecretAction::Delete { name, data } => delete(&canonical(&name)?, &data),
        SecretAction::Status { json, data } => status(json, &data),
        SecretAction::List { json, data } => list(json, &data),
    }
}

/// The name as the store keeps it, or bad usage in words. A printer key's
/// address is explained by the 3D-printer parser (which never repeats a
/// password); another unknown name is not echoed (it could be a value
/// typed in the wrong place).
fn canonical(name: &str) -> Result<String> {
    if let Some(url) = name.strip_prefix(PRINTER_KEY_PREFIX) {
        return secrets::printer_key_name(url).map_err(|e| {
            anyhow::anyhow!(
                "not a printer key: {e}; write it as {PRINTER_KEY_PREFIX}<scheme>://<host>[:<port>]"
            )
        });
    }
    match secrets::canonical_name(name) {
        Ok(n) => Ok(n),
        Err(_) => bail!(
            "not a secret name: use {}, or {PRINTER_KEY_PREFIX}<scheme>://<host>[:<port>] for a \
             3D printer's key (e.g. {PRINTER_KEY_PREFIX}octoprint://192.168.1.20:5000)",
            NAMES.join(", ")
        ),
    }
}

fn list(json: bool, data: &DataArgs) -> Result<ExitCode> {
    let store = open(data)?;
    match store.names() {
        Ok(names) => {
            if json {
                let doc = serde_json::json!({
                    "store": store.kind(),
                    "location": store.location(),
                    "names": names,
                });
                println!("{doc:#}");
            } else {
                if names.is_empty() {
                    eprintln!("no secrets are set in {}", store.location());
                }
                for n in &names {
                    println!("{n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                let doc = serde_json::json!({
                    "store": store.kind(),
                    "location": store.location(),
                    "names": null,
                    "error": { "code": e.code(), "message": e.to_string() },
                });
                println!("{doc:#}");
            }
            Ok(fail("cannot list the secrets", &e))
        }
    }
}

fn open(data: &DataArgs) -> Result<std::sync::Arc<dyn SecretStore>> {
    let (config, dir) = data.resolve()?;
    Ok(secrets::open(&config, &dir))
}

/// The error with its code and what the code means, on stderr; exit 1.
fn fail(what: &str, e: &SecretError) -> ExitCode {
    eprintln!("printscout: {what}: {e}");
    eprintln!("  ({}: {})", e.code(), meaning(e.code()));
    ExitCode::from(1)
}

/// The stable codes in words (also shown by `status`).
fn meaning(code: &str) -> &'static str {
    match code {
        "secret_store_unavailable" => "there is no keychain on this computer or in this session",
        "secret_store_locked" => "the keychain is locked or refused access",
        "secret_unknown_name" => "not one of the secret names PrintScout uses",
        "secret_store_io" => "the secrets file could not be read or written",
        "secret_file_insecure" => "the secrets file can be read by other users",
        _ => "the secret store failed",
    }
}

fn read_value(name: &str, from_stdin: bool) -> Result<Secret> {
    let text = if from_stdin || !std::io::stdin().is_terminal() {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .context("cannot read the value from stdin")?;
        if let Some(rest) = buf.strip_suffix('\n') {
            let keep = rest.strip_suffix('\r').unwrap_or(rest).len();
            buf.truncate(keep);
        }
        buf
    } else {
        rpassword::prompt_password(format!("Value for {name} (not shown): "))
            .context("cannot read the value from the terminal")?
    };
    if text.is_empty() {
        bail!("the value is empty; to remove {name}, run `printscout secret delete {name}`");
    }
    Ok(Secret::new(text))
}

fn set(name: &str, from_stdin: bool, data: &DataArgs) -> Result<ExitCode> {
    let store = open(data)?;
    // No keychain at all: say so before asking for a value.
    if let Err(e @ SecretError::NoStore { .. }) = store.is_set(name) {
        return Ok(fail(&format!("cannot store {name}"), &e));
    }
    let value = read_value(name, from_stdin)?;
    match store.set(name, &value) {
        Ok(()) => {
            eprintln!("{name} stored in {}", store.location());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&format!("cannot store {name}"), &e)),
    }
}

fn delete(name: &str, data: &DataArgs) -> Result<ExitCode> {
    let store = open(data)?;
    let was_set = match store.is_set(name) {
        Ok(set) => set,
        Err(e) => return Ok(fail(&format!("cannot delete {name}"), &e)),
    };
    if !was_set {
        eprintln!("{name} was not set in {}", store.location());
        return Ok(ExitCode::SUCCESS);
    }
    match store.delete(name) {
        Ok(()) => {
            eprintln!("{name} deleted from {}", store.location());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&format!("cannot delete {name}"), &e)),
    }
}

fn status(json: bool, data: &DataArgs) -> Result<ExitCode> {
    let store = open(data)?;
    let mut rows: Vec<(&str, Result<bool, SecretError>)> =
        NAMES.iter().map(|n| (*n, store.is_set(n))).collect();
    // Printer keys that are set, when the store can list them (`list` says
    // why when it cannot).
    let printer_keys: Vec<String> = store
        .names()
        .map(|n| {
            n.into_iter()
                .filter(|n| secrets::is_printer_key(n))
                .collect()
        })
        .unwrap_or_default();
    rows.extend(printer_keys.iter().map(|n| (n.as_str(), Ok(true))));
    let failed = rows.iter().any(|(_, r)| r.is_err());
    if json {
        let secrets: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, r)| match r {
                Ok(set) => serde_json::json!({ "name": name, "set": set }),
                Err(e) => serde_json::json!({
                    "name": name,
                    "set": null,
                    "error": { "code": e.code(), "message": e.to_string() },
                }),
            })
            .collect();
        let doc = serde_json::json!({
            "store": store.kind(),
            "location": store.location(),
            "secrets": secrets,
        });
        println!("{doc:#}");
    } else {
        println!("Secrets in {}:", store.location());
        for (name, r) in &rows {
            let state = match r {
                Ok(true) => "set".to_string(),
                Ok(false) => "not set".to_string(),
                Err(e) => format!("unknown ({}: {})", e.code(), meaning(e.code())),
            };
            println!("  {name:<15} {state}");
        }
        if let Some((_, Err(e))) = rows.iter().find(|(_, r)| r.is_err()) {
            eprintln!("printscout: {e}");
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
