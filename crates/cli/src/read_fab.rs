//! `printscout read octoprint://… | moonraker://… | prusalink://… | bambu://… |
//! ultimaker://…`: one status poll of a 3D printer (or, with `--history`, one
//! history poll), and where its key comes from.
//!
//! Invariants:
//! - the key (API key, LAN access code, password) comes from, in order, the
//!   variable `--key-env VAR` names (unset or empty is an error naming VAR,
//!   never a value), the secret store entry `printer-key:<scheme>://<host>:<port>`
//!   ([`secrets::printer_key_name_of`]), a prompt without echo when stdin is a
//!   terminal and the protocol needs a key, else none — never argv, never printed;
//! - output follows the other reads: `--json` is exactly one JSON object on
//!   stdout (the reading with `fab`, a history, or `{target, error, code}`);
//!   a bad address or unusable option exits 2, a printer that cannot be read
//!   exits 1.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use printscout_engine::printer::fab::{self, FabError, FabOptions, FabProtocol, FabTarget};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::{self, SecretError};

use crate::ReadArgs;
use crate::service::DataArgs;

/// Whether `target` names a 3D printer (`octoprint://`, `moonraker://`, …).
pub(crate) fn is_fab_url(target: &str) -> bool {
    target
        .trim()
        .split_once("://")
        .is_some_and(|(scheme, _)| FabProtocol::from_scheme(scheme).is_some())
}

/// Reads a 3D printer: its status, or with `--history` its job history.
pub(crate) async fn read(url: &str, args: &ReadArgs) -> Result<ExitCode> {
    let target = FabTarget::parse(url.trim()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut options = FabOptions {
        timeout: args.timeout.saturating_mul(args.retries.saturating_add(1)),
        user: args.user.clone().or_else(|| target.user.clone()),
        ..FabOptions::default()
    };
    if target.protocol == FabProtocol::PrusaLink && options.user.is_none() {
        options.user = Some("maker".into());
    }
    if let Some(path) = &args.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("--ca-file: cannot read {}", path.display()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            bail!(
                "--ca-file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        options.extra_roots_pem.push(pem);
    }
    options.key = key_for(&target, args.key_env.as_deref(), &args.data).await?;
    if args.history {
        return history(&target, &options, args.json).await;
    }
    match fab::read_fab(&target, &options).await {
        Ok(r) => {
            crate::print_reading(&r, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(&target, &e, args.json),
    }
}

/// `--history`: the printer's own job list, or a note that it keeps none.
async fn history(target: &FabTarget, options: &FabOptions, json: bool) -> Result<ExitCode> {
    match fab::read_history(target, options).await {
        Ok(Some(h)) => {
            if json {
                let doc = serde_json::json!({
                    "target": target.url(),
                    "protocol": target.protocol.scheme(),
                    "kept_by_printer": true,
                    "jobs": h.jobs,
                    "stats": h.stats,
                });
                crate::emit(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
            } else {
                crate::emit(&crate::human::fab_history(&target.url(), &h))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            let note = no_history_note(target.protocol);
            if json {
                let doc = serde_json::json!({
                    "target": target.url(),
                    "protocol": target.protocol.scheme(),
                    "kept_by_printer": false,
                    "jobs": [],
                    "note": note,
                });
                crate::emit(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
            } else {
                crate::emit(&format!("{}: {note}\n", target.url()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(target, &e, json),
    }
}

/// What `--history` says of a printer that keeps no job list.
fn no_history_note(p: FabProtocol) -> String {
    format!(
        "{p} printers keep no job history on the printer; PrintScout builds it from the \
         state changes it sees while monitoring (`printscout run`), and `printscout history` shows it"
    )
}

/// A read that failed: `{target, error, code}` with `--json`, the error on
/// stderr (with how to give a key when that is the trouble), exit 1; a bad
/// address is bad usage (exit 2).
fn failed(target: &FabTarget, e: &FabError, json: bool) -> Result<ExitCode> {
    if let FabError::BadUrl(_) = e {
        bail!("{e}");
    }
    let name = secrets::printer_key_name_of(target);
    let hint = match e {
        FabError::NeedsKey { what, .. } => Some(format!(
            "store the {what} with `printscout secret set {name}`, or put it in a variable \
             and give `--key-env VAR`"
        )),
        FabError::Rejected { what, .. } => Some(format!(
            "check the {what}: replace it with `printscout secret set {name}`, or give \
             another with `--key-env VAR`"
        )),
        _ => None,
    };
    if json {
        let mut doc = serde_json::json!({
            "target": target.url(),
            "error": e.to_string(),
            "code": e.code(),
        });
        if let Some(h) = &hint {
            doc["hint"] = serde_json::Value::String(h.clone());
        }
        crate::emit(&format!("{doc}\n"))?;
    }
    eprintln!("printscout: {e}");
    if let Some(h) = hint {
        eprintln!("  ({}: {h})", e.code());
    }
    Ok(ExitCode::from(1))
}

/// The key for `target`, in order: the variable `key_env` names (unset or
/// empty is an error naming it), the secret store of `data`'s configuration
/// (`printer-key:…`; no keychain here is no key, another store failure a
/// note on stderr), a prompt without echo when stdin is a terminal and the
/// protocol needs a key, else none. For every command that reads a 3D printer.
pub(crate) async fn key_for(
    target: &FabTarget,
    key_env: Option<&str>,
    data: &DataArgs,
) -> Result<Option<Secret>> {
    let what = target.protocol.secret_name();
    if let Some(var) = key_env {
        return match std::env::var_os(var) {
            Some(v) if !v.is_empty() => match v.into_string() {
                Ok(s) => {
                    tracing::debug!(var, "printer key from the environment");
                    Ok(Some(Secret::new(s)))
                }
                Err(_) => bail!("--key-env {var}: the variable {var} is not valid UTF-8 text"),
            },
            _ => bail!(
                "--key-env {var}: the environment variable {var} is not set or is empty; \
                 put the printer's {what} in it (or leave out --key-env to use the keychain)"
            ),
        };
    }
    let name = secrets::printer_key_name_of(target);
    let data = data.clone();
    let looked = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || -> Result<(Option<Secret>, String), String> {
            let (config, dir) = data.resolve().map_err(|e| format!("{e:#}"))?;
            let store = secrets::open(&config, &dir);
            let location = store.location();
            match store.get(&name) {
                Ok(v) => Ok((v, location)),
                // No keychain here at all: nothing to find, not worth a word.
                Err(SecretError::NoStore { .. }) => Ok((None, location)),
                Err(e) => Err(format!("{location}: {e} ({})", e.code())),
            }
        })
        .await
    };
    match looked {
        Ok(Ok((Some(key), location))) => {
            tracing::debug!(%name, %location, "key from the secret store");
            return Ok(Some(key));
        }
        Ok(Ok((None, _))) => {}
        Ok(Err(why)) => eprintln!("printscout: note: could not look for {name}: {why}"),
        Err(e) => eprintln!("printscout: note: could not look for {name}: {e}"),
    }
    if target.protocol.needs_secret() && std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(format!(
            "{what} for {} (not shown; keep it with `printscout secret set {name}`): ",
            target.url()
        ))
        .context("cannot read the key from the terminal")?;
        if !v.is_empty() {
            return Ok(Some(Secret::new(v)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_3d_printer_schemes_are_routed_here() {
        assert!(is_fab_url("octoprint://127.0.0.1"));
        assert!(is_fab_url(" Moonraker://h:7125"));
        assert!(is_fab_url("bambu://SERIAL@h"));
        assert!(!is_fab_url("ipp://h/ipp/print"));
        assert!(!is_fab_url("10.0.0.5:161"));
        assert!(!is_fab_url("octoprint"));
    }

    #[test]
    fn the_note_for_a_printer_without_history_says_how_it_is_built() {
        let n = no_history_note(FabProtocol::Bambu);
        assert!(n.contains("state changes") && n.contains("bambu"), "{n}");
    }
}
