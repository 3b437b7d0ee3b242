//! Reading one device: which credential answers, what to fetch in which round,
//! and turning the fetched values into a [`Reading`].
//!
//! Rounds: (1) the system group, Host-Resources device and printer tables and
//! every Printer-MIB table, as one multi-column GETBULK (plus continuations for
//! long tables); (2) the maker's own OIDs, once the maker is known; (3) only
//! when the maker keeps its Printer-MIB in another SNMP context (HP
//! `Jetdirect`) and the default context had none, the same tables there.
//! [`build_reading`] is a pure function of the fetched values, so every rule
//! can be tested from a recording without a network.
//!
//! Invariants: with several credentials they are tried at once and the first
//! in the user's order that answers wins, so a dead host costs one timeout ×
//! (retries + 1), not one per credential; an authentication failure is never
//! reported as success; a device that answers but says nothing useful yields a
//! reading whose notes say so.

use std::net::SocketAddr;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::classify::classify;
use super::model::Reading;
use super::names::{error_is_blocking, error_words};
use super::oids::*;
use super::standard;
use super::vendors::{self, VendorModule};
use crate::snmp::Snapshot;
use crate::snmp::transport::{SnmpTransport, UdpSession};
use crate::snmp::walk::{FetchPlan, FetchStats, fetch, fetch_with};
use crate::snmp::{Credential, Oid, SnmpError, SnmpOptions, SnmpSession};

/// Why a device could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing answered with any credential.
    #[error(
        "no answer from {target} within {waited:?} (credentials tried: {tried}); check the address, that SNMP is enabled on the device, and the community or user"
    )]
    NoAnswer {
        /// Who was asked.
        target: SocketAddr,
        /// Time waited.
        waited: std::time::Duration,
        /// Credential names tried, in order.
        tried: String,
    },
    /// The agent rejected the credential (SNMPv3 Report or failed verification).
    #[error("{target}: authentication failed with credential '{credential}': {reason}")]
    Auth {
        /// Who was asked.
        target: SocketAddr,
        /// Credential name.
        credential: String,
        /// What the agent said, in words.
        reason: String,
    },
    /// Any other SNMP failure before anything was read.
    #[error("{target}: {source}")]
    Snmp {
        /// Who was asked.
        target: SocketAddr,
        /// The failure.
        source: SnmpError,
    },
    /// No credential was given.
    #[error("no credentials to try")]
    NoCredentials,
}

/// The first round: what every device is asked (built once).
pub fn first_round_plan() -> &'static FetchPlan {
    static PLAN: std::sync::LazyLock<FetchPlan> = std::sync::LazyLock::new(build_first_round_plan);
    &PLAN
}

fn build_first_round_plan() -> FetchPlan {
    let mut subtrees: Vec<Oid> = [
        IF_PHYS_ADDRESS,
        HR_DEVICE_TYPE,
        HR_DEVICE_DESCR,
        HR_DEVICE_STATUS,
        HR_PRINTER_STATUS,
        HR_PRINTER_ERROR_STATE,
        PRT_GENERAL_PRINTER_NAME,
        PRT_GENERAL_SERIAL,
        PRT_COLORANT_VALUE,
        PRT_CONSOLE_TEXT,
    ]
    .iter()
    .map(|s| Oid::lit(s))
    .collect();
    subtrees.extend(printer_mib_columns());
    let mut scalars: Vec<Oid> = [
        SYS_DESCR,
        SYS_OBJECT_ID,
        SYS_UPTIME,
        SYS_CONTACT,
        SYS_NAME,
        SYS_LOCATION,
    ]
    .iter()
    .map(|s| Oid::lit(s))
    .collect();
    scalars.extend(vendors::probe_oids());
    FetchPlan {
        scalars,
        subtrees,
        first_rows: vec![Oid::lit(ENT_PHYSICAL_SERIAL)],
    }
}

/// Printer-MIB table columns (inputs, markers, supplies, alerts).
fn printer_mib_columns() -> Vec<Oid> {
    let mut v = Vec::new();
    for (base, cols) in [
        (PRT_INPUT, PRT_INPUT_COLUMNS),
        (PRT_MARKER, PRT_MARKER_COLUMNS),
        (PRT_SUPPLIES, PRT_SUPPLIES_COLUMNS),
        (PRT_ALERT, PRT_ALERT_COLUMNS),
    ] {
        v.extend(cols.iter().map(|c| Oid::lit(base).child(&[*c])));
    }
    v
}

/// Everything fetched from a device, before interpretation.
pub struct Collected {
    /// The values.
    pub snapshot: Snapshot,
    /// Request figures.
    pub stats: FetchStats,
    /// Problems met after the first answer (the reading is partial).
    pub notes: Vec<String>,
    /// The maker module that was used for the vendor round.
    pub vendor: Option<&'static VendorModule>,
}

/// Runs rounds 1 and 2 on `session` as one exchange: as soon as the first
/// answer names the maker, its OIDs join the requests still to be sent. Fails
/// only when the first request got no answer.
pub async fn collect<S: SnmpSession>(
    session: &S,
    options: &SnmpOptions,
) -> Result<Collected, SnmpError> {
    let mut snapshot = Snapshot::default();
    let mut notes = Vec::new();
    let mut vendor = None;
    let found = &mut vendor;
    let res = fetch_with(
        session,
        first_round_plan(),
        options,
        &mut snapshot,
        |snap| {
            let mut probe = Reading::default();
            standard::decode(snap, &mut probe);
            let m = vendors::detect(snap, &probe)?;
            *found = Some(m);
            Some((m.plan)(snap))
        },
    )
    .await;
    let mut stats = match res {
        Ok(s) => s,
        Err(e) if snapshot.is_empty() => return Err(e),
        Err(e) => {
            notes.push(format!("the read is incomplete: {e}"));
            FetchStats {
                requests: session.requests(),
                ..Default::default()
            }
        }
    };
    // A maker recognised only from what arrived later (rare: no sysObjectID and
    // no probe) gets its own round.
    if vendor.is_none() {
        let mut probe = Reading::default();
        standard::decode(&snapshot, &mut probe);
        if let Some(m) = vendors::detect(&snapshot, &probe) {
            vendor = Some(m);
            match fetch(session, &(m.plan)(&snapshot), options, &mut snapshot).await {
                Ok(s) => stats.add(s),
                Err(e) => notes.push(format!("{} data incomplete: {e}", m.name)),
            }
        }
    }
    Ok(Collected {
        snapshot,
        stats,
        notes,
        vendor,
    })
}

/// True when the snapshot holds no Printer-MIB table rows.
pub fn lacks_printer_mib(snap: &Snapshot) -> bool {
    !snap.has_any("1.3.6.1.2.1.43.11") && !snap.has_any("1.3.6.1.2.1.43.10")
}

/// Fetches the Printer-MIB tables through another context's session.
pub async fn collect_context<S: SnmpSession>(
    session: &S,
    options: &SnmpOptions,
    into: &mut Collected,
) {
    let plan = FetchPlan {
        subtrees: printer_mib_columns()
            .into_iter()
            .chain([Oid::lit(PRT_COLORANT_VALUE)])
            .collect(),
        ..Default::default()
    };
    let mut values = Snapshot::default();
    match fetch(session, &plan, options, &mut values).await {
        Ok(s) => into.stats.add(s),
        Err(_) => into.stats.requests += session.requests(),
    }
    if !values.is_empty() {
        into.notes
            .push("Printer-MIB read from SNMP context 'Jetdirect'".into());
        into.snapshot.merge_missing(values);
    }
}

/// Interprets fetched values. Pure: the same snapshot gives the same reading.
pub fn build_reading(snap: &Snapshot, vendor: Option<&'static VendorModule>) -> Reading {
    let mut r = Reading::default();
    standard::decode(snap, &mut r);
    generic_identity(snap, &mut r);
    let vendor = vendor.or_else(|| vendors::detect(snap, &r));
    if let Some(m) = vendor {
        if r.identity.vendor.is_none() {
            r.identity.vendor = Some(m.name.to_string());
        }
        (m.apply)(snap, &mut r);
        // The brand on the box, when another maker built it.
        if let Some(brand) = vendors::brand_in_sysdescr(&r).filter(|b| !std::ptr::eq(*b, m)) {
            r.identity.vendor = Some(brand.name.to_string());
        }
    }
    if r.identity.model.is_none() {
        r.identity.model = model_from_sysdescr(&r);
    }
    tidy_model(&mut r);
    classify(snap, &mut r);
    r.status.overall = overall(&r).to_string();
    if snap.is_empty()
        || (snap.len() <= 2 && r.identity.description.is_none() && r.counters.is_empty())
    {
        r.notes.push(
            "the agent answered but exposes nothing a printer reader can use (no system group, Printer-MIB, Host-Resources or maker data)"
                .into(),
        );
    }
    r
}

fn generic_identity(snap: &Snapshot, r: &mut Reading) {
    let dev = standard::printer_device_index(snap);
    let hr = snap
        .get(&Oid::lit(HR_DEVICE_DESCR).child(&[dev]))
        .and_then(|v| v.as_clean_text())
        .filter(|d| {
            !r.identity
                .enterprise
                .is_some_and(super::classify::is_host_enterprise)
                && !d.starts_with("Generic ")
        });
    let name = snap
        .column(PRT_GENERAL_PRINTER_NAME)
        .into_iter()
        .find_map(|(_, v)| v.as_clean_text());
    r.identity.model = hr.or(name);
}

/// The words after the maker's name at the start of sysDescr, up to the first
/// separator ("TOSHIBA e-STUDIO305CS, …" → "e-STUDIO305CS").
fn model_from_sysdescr(r: &Reading) -> Option<String> {
    let d = r.identity.description.as_deref()?;
    let m = vendors::brand_in_sysdescr(r)?;
    let lower = d.to_lowercase();
    let word = m
        .words
        .iter()
        .find(|w| vendors::starts_with_word(&lower, w))?;
    let rest = d.trim_start().get(word.len()..)?.trim_start();
    let end = [",", ";", " /", " version", " Version", " VERSION", "  "]
        .iter()
        .filter_map(|sep| rest.find(sep))
        .min()
        .unwrap_or(rest.len());
    let model = rest.get(..end)?.trim();
    // "EPSON Built-in", "Brother NC-8300w", "HP ETHERNET …": the network card, not the printer.
    let lower = model.to_lowercase();
    let card = [
        "built-in",
        "ethernet",
        "network",
        "print server",
        "printserver",
        "nc-",
        "jetdirect",
    ]
    .iter()
    .any(|w| lower.contains(w));
    (!model.is_empty() && model.len() <= 40 && !card).then(|| model.to_string())
}

/// Strips the maker's name and " series" from the model.
fn tidy_model(r: &mut Reading) {
    let Some(model) = r.identity.model.take() else {
        return;
    };
    let mut m = model.trim().to_string();
    let makers = vendors::VENDORS
        .iter()
        .flat_map(|m| std::iter::once(m.name).chain(m.words.iter().copied()));
    let prefixes: Vec<&str> = r
        .identity
        .vendor
        .as_deref()
        .into_iter()
        .chain(["Hewlett-Packard", "Hewlett Packard"])
        .chain(makers)
        .collect();
    for prefix in prefixes {
        let head = m.get(..prefix.len());
        if head.is_some_and(|h| h.eq_ignore_ascii_case(prefix))
            && m.as_bytes().get(prefix.len()) == Some(&b' ')
        {
            m = m.get(prefix.len()..).unwrap_or_default().trim().to_string();
        }
    }
    for suffix in [" series", " Series", " SERIES"] {
        if let Some(s) = m.strip_suffix(suffix) {
            m = s.trim().to_string();
        }
    }
    r.identity.model = (!m.is_empty()).then_some(m);
}

fn overall(r: &Reading) -> &'static str {
    let blocking = r.status.errors.iter().any(|e| error_is_blocking(e))
        || r.alerts
            .iter()
            .any(|a| a.severity.as_deref() == Some("critical"));
    if r.status.device.as_deref() == Some("down") || blocking {
        return "error";
    }
    if r.status.device.as_deref() == Some("warning") || !r.status.errors.is_empty() {
        return "warning";
    }
    match (r.status.device.as_deref(), r.status.printer.as_deref()) {
        (Some("running"), _) | (_, Some("idle" | "printing" | "warmup")) => "ok",
        _ => "unknown",
    }
}

/// A one-line summary of a reading's problems, in words.
pub fn problems_in_words(r: &Reading) -> Vec<String> {
    let mut v: Vec<String> = r
        .status
        .errors
        .iter()
        .map(|e| error_words(e).to_string())
        .collect();
    for a in &r.alerts {
        if let Some(d) = a.description.clone().or_else(|| a.code_name.clone()) {
            v.push(format!(
                "{} alert: {d}",
                a.severity.as_deref().unwrap_or("an")
            ));
        }
    }
    v
}

/// Reads one device over the shared transport, trying `credentials` in order.
pub async fn read_device(
    transport: &SnmpTransport,
    target: SocketAddr,
    credentials: &[Credential],
    options: &SnmpOptions,
) -> Result<Reading, ReadError> {
    let started = Instant::now();
    let (cred, session, probe_requests) =
        choose_credential(transport, target, credentials, options).await?;
    let mut collected = collect(&session, options)
        .await
        .map_err(|e| to_read_error(e, target, cred, options))?;
    // Only a printer keeps its Printer-MIB in another context: an HP switch
    // asked for `public@Jetdirect` just costs a timeout.
    if let Some(ctx) = collected.vendor.and_then(|m| m.extra_context)
        && lacks_printer_mib(&collected.snapshot)
        && build_reading(&collected.snapshot, collected.vendor).is_printer
    {
        let mut short = options.clone();
        short.retries = 0;
        if let Ok(s) = transport
            .session(target, &cred.in_context(ctx), &short)
            .await
        {
            collect_context(&s, &short, &mut collected).await;
        }
    }
    let mut r = build_reading(&collected.snapshot, collected.vendor);
    r.target = target.to_string();
    r.credential = Some(cred.name().to_string());
    r.snmp_version = Some(cred.version().to_string());
    r.notes.extend(collected.notes);
    r.stats.requests = collected.stats.requests + probe_requests;
    r.stats.stalled_walks = collected.stats.stalled_walks;
    r.stats.truncated_walks = collected.stats.truncated_walks;
    r.stats.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if collected.stats.stalled_walks > 0 {
        r.notes.push(format!(
            "{} walk(s) stopped because the agent did not advance",
            collected.stats.stalled_walks
        ));
    }
    Ok(r)
}

fn to_read_error(
    e: SnmpError,
    target: SocketAddr,
    cred: &Credential,
    o: &SnmpOptions,
) -> ReadError {
    match e {
        SnmpError::Timeout { .. } => ReadError::NoAnswer {
            target,
            waited: o.timeout * (o.retries + 1),
            tried: format!("'{}'", cred.name()),
        },
        SnmpError::Auth { reason } => ReadError::Auth {
            target,
            credential: cred.name().to_string(),
            reason,
        },
        source => ReadError::Snmp { target, source },
    }
}

/// What a status poll asks: the device's state, error bits, alerts and
/// console, plus sysObjectID and the MAC so a different device answering at
/// the same address is noticed. A fraction of a full read.
pub fn status_plan() -> &'static FetchPlan {
    static PLAN: std::sync::LazyLock<FetchPlan> = std::sync::LazyLock::new(|| {
        let mut subtrees: Vec<Oid> = [
            IF_PHYS_ADDRESS,
            HR_DEVICE_TYPE,
            HR_DEVICE_STATUS,
            HR_PRINTER_STATUS,
            HR_PRINTER_ERROR_STATE,
            PRT_CONSOLE_TEXT,
        ]
        .iter()
        .map(|s| Oid::lit(s))
        .collect();
        subtrees.extend(
            PRT_ALERT_COLUMNS
                .iter()
                .map(|c| Oid::lit(PRT_ALERT).child(&[*c])),
        );
        FetchPlan {
            scalars: [SYS_OBJECT_ID, SYS_UPTIME]
                .iter()
                .map(|s| Oid::lit(s))
                .collect(),
            subtrees,
            first_rows: Vec::new(),
        }
    });
    &PLAN
}

/// Polls a known device's status with the one credential that worked for it
/// (never a list: trying communities on a known device trips lockouts).
pub async fn read_status(
    transport: &SnmpTransport,
    target: SocketAddr,
    credential: &Credential,
    options: &SnmpOptions,
) -> Result<Reading, ReadError> {
    let started = Instant::now();
    let session = transport
        .session(target, credential, options)
        .await
        .map_err(|e| to_read_error(e, target, credential, options))?;
    let mut snap = Snapshot::default();
    let stats = fetch(&session, status_plan(), options, &mut snap)
        .await
        .map_err(|e| to_read_error(e, target, credential, options))?;
    let mut r = build_reading(&snap, None);
    r.target = target.to_string();
    r.credential = Some(credential.name().to_string());
    r.snmp_version = Some(credential.version().to_string());
    r.stats.requests = stats.requests;
    r.stats.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(r)
}

/// Picks the first credential, in order, that gets an answer, and returns it
/// with its session and the number of probe requests spent. With one
/// credential there is no separate probe: the first round is the probe.
pub async fn choose_credential<'c>(
    transport: &SnmpTransport,
    target: SocketAddr,
    credentials: &'c [Credential],
    options: &SnmpOptions,
) -> Result<(&'c Credential, UdpSession, u32), ReadError> {
    match credentials {
        [] => Err(ReadError::NoCredentials),
        [only] => {
            let s = transport
                .session(target, only, options)
                .await
                .map_err(|e| to_read_error(e, target, only, options))?;
            Ok((only, s, 0))
        }
        many => {
            let probe = [Oid::lit(SYS_UPTIME), Oid::lit(SYS_OBJECT_ID)];
            let mut pending: FuturesUnordered<_> = many
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let probe = &probe;
                    async move {
                        let res = async {
                            let s = transport.session(target, c, options).await?;
                            s.get(probe).await.map(|_| s)
                        }
                        .await;
                        (i, res)
                    }
                })
                .collect();
            let mut results: Vec<Option<Result<UdpSession, SnmpError>>> =
                (0..many.len()).map(|_| None).collect();
            while let Some((i, res)) = pending.next().await {
                results[i] = Some(res);
                // The winner is the first in order whose predecessors all failed.
                for (j, slot) in results.iter_mut().enumerate() {
                    match slot {
                        None => break,
                        Some(Ok(_)) => {
                            if let Some(Ok(s)) = slot.take() {
                                return Ok((&many[j], s, many.len() as u32));
                            }
                        }
                        Some(Err(_)) => continue,
                    }
                }
            }
            let tried = many
                .iter()
                .map(|c| format!("'{}'", c.name()))
                .collect::<Vec<_>>()
                .join(", ");
            for (c, r) in many.iter().zip(results) {
                if let Some(Err(SnmpError::Auth { reason })) = r {
                    return Err(ReadError::Auth {
                        target,
                        credential: c.name().to_string(),
                        reason,
                    });
                }
            }
            Err(ReadError::NoAnswer {
                target,
                waited: options.timeout * (options.retries + 1),
                tried,
            })
        }
    }
}

#[cfg(test)]
mod hostile_text_tests {
    use crate::printer::testutil::read_recording;

    #[test]
    fn maker_names_spelled_with_characters_that_lowercase_to_ascii_do_not_break_model_parsing() {
        // U+212A KELVIN SIGN lowercases to "k": byte offsets found in the lower-case
        // text are not offsets in the original.
        for descr in [
            "\u{212A}ONICA MINOLTA bizhub",
            "Xerox\u{212A} AltaLink",
            "\u{212A}YOCERA ECOSYS",
        ] {
            let rec = format!("1.3.6.1.2.1.1.1.0|4|{descr}\n1.3.6.1.2.1.25.3.2.1.3.1|4|{descr}\n");
            let _ = read_recording(&rec);
        }
    }
}
