//! Bambu Lab printers in LAN mode: MQTT 3.1.1 over TLS on port 8883, user
//! `bblp`, password = the printer's LAN access code (PROTOCOLS.md §6).
//!
//! One status poll is one short session: TCP, TLS with **SNI = the serial**,
//! CONNECT, SUBSCRIBE `device/<serial>/report`, PUBLISH `get_version` and
//! `pushall` to `device/<serial>/request`, read reports until one carries
//! `print.gcode_state` (then a short grace for the version answer), DISCONNECT.
//! MQTT packets are encoded and decoded with rumqttc's codec; the transport is
//! our own (tokio-rustls over a byte-counting TCP stream), so the SNI, the
//! certificate check and the byte figures are under this module's control.
//!
//! Invariants:
//! - the printer's certificate is verified **against the serial, never the
//!   address**: the chain against the platform roots plus
//!   [`FabOptions::extra_roots_pem`] (Bambu Lab's CA, or a lab CA), then the
//!   name: the subjectAltName when the certificate has one, else the subject CN
//!   must equal the serial (Bambu's certificates carry the serial in CN only).
//!   There is no "accept any certificate" path;
//! - a CONNACK refusing the credentials (return code 4 or 5) is
//!   [`FabError::Rejected`] for the "LAN access code", never offline; the access
//!   code never appears in errors, logs or `Debug` output;
//! - reports are merged into one state: P1/A1 printers send deltas, so a field
//!   missing from a report means "unchanged", never zero; garbage (not JSON,
//!   odd types, huge numbers) never panics: it is skipped and, when nothing
//!   else came, reported as [`FabError::BadResponse`];
//! - `gcode_state` maps IDLE→idle, PREPARE/RUNNING/SLICING→printing,
//!   PAUSE→paused, FINISH→finished, FAILED→error, INIT→maintenance,
//!   OFFLINE→offline; any other word is kept in `state_text` and shown as
//!   maintenance (someone should look); `print_error` ≠ 0 and `hms[]` entries
//!   become error lines with their codes in hex;
//! - the whole exchange is bounded by [`FabOptions::timeout`];
//!   [`ReadStats`] counts the TCP payload bytes both ways (TLS handshake and
//!   records included) and the MQTT packets sent.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet, Publish, Subscribe};
use rumqttc::mqttbytes::{Error as MqttError, QoS};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::{CurrentJob, FabError, FabOptions, FabState, FabStatus, FabTarget, Temperature};
use crate::printer::model::{Identity, ReadStats, Reading};
use crate::secret::Secret;

/// The MQTT user of every Bambu printer in LAN mode.
pub const USER: &str = "bblp";
/// What the access code is called in errors and prompts.
pub const SECRET_NAME: &str = "LAN access code";
/// Asks for a full report (`pushall`).
pub const PUSHALL: &str =
    r#"{"pushing":{"sequence_id":"0","command":"pushall","version":1,"push_target":1}}"#;
/// Asks for the firmware modules (`get_version`).
pub const GET_VERSION: &str = r#"{"info":{"sequence_id":"0","command":"get_version"}}"#;
/// Largest MQTT packet accepted from the printer (an X1 full report with four
/// AMS units is a few tens of kilobytes).
pub const MAX_PACKET: usize = 1 << 20;
/// How long to wait for the `get_version` answer once the state is known.
const VERSION_GRACE: Duration = Duration::from_millis(500);
/// MQTT keep-alive announced in CONNECT; the session is far shorter.
const KEEP_ALIVE_S: u16 = 30;

/// Reads a Bambu printer's identity and status (one status poll).
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let url = target.url();
    let serial = target
        .serial
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FabError::BadUrl(format!(
                "{url} needs the printer's serial: bambu://SERIAL@host"
            ))
        })?;
    let key = options.key.as_ref().ok_or_else(|| FabError::NeedsKey {
        target: url.clone(),
        what: SECRET_NAME.into(),
    })?;
    let started = Instant::now();
    let config = tls_config(serial, &options.extra_roots_pem, &url)?;
    let counters = Arc::new(Counters::default());
    let mut progress = Progress::default();
    let outcome = tokio::time::timeout(
        options.timeout,
        session(
            target,
            serial,
            key,
            config,
            counters.clone(),
            &mut progress,
            started + options.timeout,
        ),
    )
    .await;
    let stats = ReadStats {
        requests: progress.packets_sent,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        bytes_sent: Some(counters.sent.load(Ordering::Relaxed)),
        bytes_received: Some(counters.received.load(Ordering::Relaxed)),
        ..ReadStats::default()
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) if progress.status.is_none() => {
            if let Some(junk) = progress.junk.take() {
                return Err(FabError::BadResponse {
                    target: url,
                    message: format!(
                        "the printer sent only reports this reader cannot use within {} ms: {junk}",
                        options.timeout.as_millis()
                    ),
                });
            }
            return Err(FabError::Timeout {
                target: url,
                waited: options.timeout,
            });
        }
        // The state arrived; the version answer or the goodbye did not: use what came.
        Err(_) => {}
    }
    let Some(status) = progress.status.take() else {
        return Err(FabError::Timeout {
            target: url,
            waited: options.timeout,
        });
    };
    let identity = identity(serial, progress.version.as_ref());
    let mut reading = super::build_reading(target, identity, status, stats);
    reading.notes.push(format!(
        "{} report(s) merged, {} bytes of report JSON",
        progress.reports, progress.report_bytes
    ));
    if progress.version.is_none() {
        reading
            .notes
            .push("the printer did not answer get_version: no firmware version".into());
    }
    if let Some(junk) = progress.junk {
        reading.notes.push(format!("skipped {junk}"));
    }
    Ok(reading)
}

/// What a session gathered so far (kept when the timeout cuts it short).
#[derive(Debug, Default)]
struct Progress {
    /// All `print` reports merged.
    state: Value,
    /// The status, once a merged state carries `gcode_state`.
    status: Option<FabStatus>,
    /// The `info` object of the `get_version` answer.
    version: Option<Value>,
    /// The last report that could not be used, in words.
    junk: Option<String>,
    reports: u32,
    report_bytes: u64,
    packets_sent: u32,
}

async fn session(
    target: &FabTarget,
    serial: &str,
    key: &Secret,
    config: Arc<rustls::ClientConfig>,
    counters: Arc<Counters>,
    progress: &mut Progress,
    deadline: Instant,
) -> Result<(), FabError> {
    let url = target.url();
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| connect_error(&e, target))?;
    let _ = tcp.set_nodelay(true);
    let counted = Counted {
        inner: tcp,
        counters,
    };
    let server_name = ServerName::try_from(serial.to_owned()).map_err(|_| {
        FabError::BadUrl(format!(
            "{url}: the serial {serial:?} cannot be a TLS server name (letters and digits only)"
        ))
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut tls = connector
        .connect(server_name, counted)
        .await
        .map_err(|e| tls_error(&e, &url, serial))?;

    let mut out = BytesMut::new();
    let mut connect = Connect::new(client_id());
    connect.keep_alive = KEEP_ALIVE_S;
    connect.clean_session = true;
    connect.set_login(USER, key.expose());
    encode(&Packet::Connect(connect), &mut out, &url)?;
    progress.packets_sent += 1;
    send(&mut tls, &mut out, &url).await?;

    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    match next_packet(&mut tls, &mut inbuf, &url).await? {
        Packet::ConnAck(ack) => match ack.code {
            ConnectReturnCode::Success => {}
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => {
                return Err(FabError::Rejected {
                    target: url,
                    what: SECRET_NAME.into(),
                    status: None,
                });
            }
            other => {
                return Err(FabError::BadResponse {
                    target: url,
                    message: format!(
                        "the printer's MQTT broker refused the connection ({other:?})"
                    ),
                });
            }
        },
        other => {
            return Err(FabError::BadResponse {
                target: url,
                message: format!(
                    "the printer answered CONNECT with {} instead of CONNACK",
                    packet_name(&other)
                ),
            });
        }
    }

    let report_topic = format!("device/{serial}/report");
    let request_topic = format!("device/{serial}/request");
    let mut subscribe = Subscribe::new(report_topic.clone(), QoS::AtMostOnce);
    subscribe.pkid = 1;
    encode(&Packet::Subscribe(subscribe), &mut out, &url)?;
    for body in [GET_VERSION, PUSHALL] {
        let publish = Publish::new(request_topic.clone(), QoS::AtMostOnce, body.as_bytes());
        encode(&Packet::Publish(publish), &mut out, &url)?;
    }
    progress.packets_sent += 3;
    send(&mut tls, &mut out, &url).await?;

    // Reports until the state is known, then a short grace for the version.
    let mut grace_until: Option<Instant> = None;
    loop {
        if progress.status.is_some() && progress.version.is_some() {
            break;
        }
        let packet = match grace_until {
            None => next_packet(&mut tls, &mut inbuf, &url).await?,
            Some(until) => {
                match tokio::time::timeout_at(
                    tokio::time::Instant::from_std(until),
                    next_packet(&mut tls, &mut inbuf, &url),
                )
                .await
                {
                    Ok(p) => p?,
                    Err(_) => break,
                }
            }
        };
        match packet {
            Packet::Publish(p) if p.topic == report_topic => {
                absorb(progress, &p.payload);
                if progress.status.is_some() && grace_until.is_none() {
                    grace_until = Some((Instant::now() + VERSION_GRACE).min(deadline));
                }
            }
            Packet::SubAck(ack)
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::mqttbytes::v4::SubscribeReasonCode::Failure)) =>
            {
                return Err(FabError::BadResponse {
                    target: url,
                    message: format!(
                        "the printer refused the subscription to {report_topic}: is {serial} its serial?"
                    ),
                });
            }
            Packet::Disconnect => {
                return Err(FabError::BadResponse {
                    target: url,
                    message: "the printer ended the MQTT session before sending its state".into(),
                });
            }
            _ => {}
        }
    }

    // Goodbye; failures here change nothing about what was read.
    if encode(&Packet::Disconnect, &mut out, &url).is_ok() {
        let _ = tls.write_all(&out).await;
    }
    let _ = tls.shutdown().await;
    Ok(())
}

fn client_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "printscout-{:x}{:05x}",
        std::process::id(),
        nanos & 0xF_FFFF
    )
}

fn encode(packet: &Packet, out: &mut BytesMut, url: &str) -> Result<(), FabError> {
    packet
        .write(out, MAX_PACKET)
        .map(|_| ())
        .map_err(|e| FabError::BadUrl(format!("{url}: cannot encode an MQTT packet: {e}")))
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut BytesMut,
    url: &str,
) -> Result<(), FabError> {
    let result = async {
        stream.write_all(out).await?;
        stream.flush().await
    }
    .await;
    out.clear();
    result.map_err(|e| FabError::BadResponse {
        target: url.to_owned(),
        message: format!("the connection broke off while sending: {e}"),
    })
}

async fn next_packet<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    url: &str,
) -> Result<Packet, FabError> {
    loop {
        match Packet::read(buf, MAX_PACKET) {
            Ok(packet) => return Ok(packet),
            Err(MqttError::InsufficientBytes(_)) => {}
            Err(e) => {
                return Err(FabError::BadResponse {
                    target: url.to_owned(),
                    message: format!("the printer sent a broken MQTT packet: {e}"),
                });
            }
        }
        buf.reserve(16 * 1024);
        let n = stream
            .read_buf(buf)
            .await
            .map_err(|e| FabError::BadResponse {
                target: url.to_owned(),
                message: format!("the connection broke off: {e}"),
            })?;
        if n == 0 {
            return Err(FabError::BadResponse {
                target: url.to_owned(),
                message: "the printer closed the connection".into(),
            });
        }
    }
}

fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}

/// Takes one report payload into the session's state.
fn absorb(progress: &mut Progress, payload: &[u8]) {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            progress.junk = Some(format!("a report that is not JSON ({e})"));
            return;
        }
    };
    let Value::Object(map) = value else {
        progress.junk = Some("a report that is not a JSON object".into());
        return;
    };
    if let Some(print) = map.get("print").filter(|p| p.is_object()) {
        progress.reports += 1;
        progress.report_bytes += payload.len() as u64;
        merge_report(&mut progress.state, print);
        if let Some(status) = status_from_print(&progress.state) {
            progress.status = Some(status);
        }
    }
    if let Some(info) = map.get("info").filter(|i| {
        i.get("command").and_then(Value::as_str) == Some("get_version")
            && i.get("module").is_some_and(Value::is_array)
    }) {
        progress.version = Some(info.clone());
    }
}

/// Merges one report (or delta) into the cached state: objects merge key by
/// key, anything else (numbers, strings, arrays) replaces the old value. A key
/// missing from `delta` leaves the state's value unchanged.
pub fn merge_report(state: &mut Value, delta: &Value) {
    match (state, delta) {
        (Value::Object(s), Value::Object(d)) => {
            for (k, v) in d {
                match s.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_report(existing, v);
                    }
                    _ => {
                        s.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (s, d) => *s = d.clone(),
    }
}

/// The common state for a `gcode_state` word (see the module's invariants).
pub fn map_gcode_state(word: &str) -> FabState {
    match word.trim().to_ascii_uppercase().as_str() {
        "IDLE" => FabState::Idle,
        "PREPARE" | "RUNNING" | "SLICING" => FabState::Printing,
        "PAUSE" => FabState::Paused,
        "FINISH" => FabState::Finished,
        "FAILED" => FabState::Error,
        "OFFLINE" => FabState::Offline,
        _ => FabState::Maintenance,
    }
}

/// The status a merged `print` state shows; `None` until it carries
/// `gcode_state`.
pub fn status_from_print(print: &Value) -> Option<FabStatus> {
    let print = print.as_object()?;
    let state_text = match print.get("gcode_state")? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    let state = map_gcode_state(&state_text);

    let name = text(print, "subtask_name").or_else(|| text(print, "gcode_file"));
    let progress_percent = number(print, "mc_percent").filter(|p| (0.0..=100.0).contains(p));
    let remaining_s = number(print, "mc_remaining_time")
        .filter(|m| *m >= 0.0 && *m < 1e9)
        .map(|m| (m * 60.0).round() as u64);
    let started_at = number(print, "gcode_start_time")
        .filter(|t| *t > 0.0 && *t < 1e11)
        .map(|t| t as i64);
    let id = ["task_id", "job_id", "subtask_id"]
        .iter()
        .find_map(|k| text(print, k).filter(|v| v != "0"));
    let in_job = state != FabState::Idle && (name.is_some() || progress_percent.is_some());
    let job = in_job.then_some(CurrentJob {
        id,
        name,
        progress_percent,
        elapsed_s: None,
        remaining_s,
        started_at,
        material: None,
    });

    let mut temperatures = Vec::new();
    for (sensor, actual, target) in [
        ("nozzle", "nozzle_temper", Some("nozzle_target_temper")),
        ("bed", "bed_temper", Some("bed_target_temper")),
        ("chamber", "chamber_temper", None),
    ] {
        let actual = number(print, actual);
        let target = target.and_then(|t| number(print, t));
        if actual.is_some() || target.is_some() {
            temperatures.push(Temperature {
                name: sensor.into(),
                actual,
                target,
            });
        }
    }

    let mut errors = Vec::new();
    if let Some(code) = print.get("print_error").and_then(integer)
        && code != 0
    {
        errors.push(format!(
            "print_error {code:08X} ({:04X}_{:04X})",
            (code >> 16) & 0xFFFF,
            code & 0xFFFF
        ));
    }
    if let Some(Value::Array(hms)) = print.get("hms") {
        for entry in hms {
            let attr = entry.get("attr").and_then(integer);
            let code = entry.get("code").and_then(integer);
            match (attr, code) {
                (Some(a), Some(c)) => errors.push(hms_code(a, c)),
                _ => errors.push(format!("HMS {entry}")),
            }
        }
    }
    if let Some(reason) = text(print, "fail_reason").filter(|r| r != "0") {
        errors.push(format!("fail_reason {reason}"));
    }

    Some(FabStatus {
        state,
        state_text,
        job,
        temperatures,
        errors,
    })
}

/// An HMS entry as Bambu writes it: `HMS_AAAA_AAAA_CCCC_CCCC` (attr, code; hex).
pub fn hms_code(attr: u64, code: u64) -> String {
    format!(
        "HMS_{:04X}_{:04X}_{:04X}_{:04X}",
        (attr >> 16) & 0xFFFF,
        attr & 0xFFFF,
        (code >> 16) & 0xFFFF,
        code & 0xFFFF
    )
}

/// The model a serial's first three characters name (Bambu's published
/// prefixes), e.g. `01P…` → `P1S`.
pub fn model_from_serial(serial: &str) -> Option<&'static str> {
    let prefix = serial.get(..3)?.to_ascii_uppercase();
    Some(match prefix.as_str() {
        "00M" => "X1 Carbon",
        "00W" => "X1",
        "03W" => "X1E",
        "01S" => "P1P",
        "01P" => "P1S",
        "22E" => "P2S",
        "030" => "A1 mini",
        "039" => "A1",
        "093" => "H2S",
        "094" => "H2D",
        _ => return None,
    })
}

/// The model a firmware module's `project_name` names (`C11` → `P1P`).
fn model_from_project(project: &str) -> Option<&'static str> {
    Some(match project.trim() {
        "BL-P001" => "X1 Carbon",
        "BL-P002" => "X1",
        "C13" => "X1E",
        "C11" => "P1P",
        "C12" => "P1S",
        "N1" => "A1 mini",
        "N2S" => "A1",
        _ => return None,
    })
}

/// Identity from the serial (verified by the certificate) and the
/// `get_version` answer's `module[]`: firmware from the `ota` module (else
/// `mc`), model from the serial's prefix, else the modules' product or
/// project names.
pub fn identity(serial: &str, version: Option<&Value>) -> Identity {
    let modules: Vec<&Map<String, Value>> = version
        .and_then(|v| v.get("module"))
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let module = |name: &str| {
        modules
            .iter()
            .find(|m| m.get("name").and_then(Value::as_str) == Some(name))
            .copied()
    };
    let firmware = module("ota")
        .or_else(|| module("mc"))
        .and_then(|m| text(m, "sw_ver"));
    let model = model_from_serial(serial)
        .map(str::to_owned)
        .or_else(|| {
            modules.iter().find_map(|m| {
                text(m, "product_name")
                    .map(|p| p.strip_prefix("Bambu Lab ").map(str::to_owned).unwrap_or(p))
            })
        })
        .or_else(|| {
            modules.iter().find_map(|m| {
                text(m, "project_name")
                    .and_then(|p| model_from_project(&p))
                    .map(str::to_owned)
            })
        });
    Identity {
        vendor: Some("Bambu Lab".into()),
        description: model.as_ref().map(|m| format!("Bambu Lab {m}")),
        model,
        serial: Some(serial.to_owned()),
        serial_source: Some("bambu:certificate".into()),
        firmware,
        ..Identity::default()
    }
}

/// A non-empty string field (numbers are written as text).
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    super::json::text(map.get(key))
}

/// A finite number field, also when the firmware sends it as text.
fn number(map: &Map<String, Value>, key: &str) -> Option<f64> {
    super::json::number(map.get(key))
}

/// A non-negative integer (error codes), also from text or a float.
fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        }),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

// --- TLS -------------------------------------------------------------------

fn connect_error(e: &io::Error, target: &FabTarget) -> FabError {
    let at = target.authority();
    let message = match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("nothing answers at {at} (connection refused): is LAN mode on?")
        }
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("{} cannot be reached from here (no route)", target.host)
        }
        _ => format!("could not connect to {at}: {e}"),
    };
    FabError::ConnectFailed {
        target: target.url(),
        message,
    }
}

fn tls_error(e: &io::Error, url: &str, serial: &str) -> FabError {
    let inner: &(dyn std::error::Error + 'static) = e;
    let Some(tls) = crate::printer::ipp::find_rustls(inner) else {
        return FabError::Tls {
            target: url.to_owned(),
            message: format!("the TLS handshake with the printer (serial {serial}) broke off: {e}"),
        };
    };
    let message = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                "the printer's certificate (expected for serial {serial}) is not signed by a CA \
                 trusted here: add Bambu Lab's CA certificate (or your lab's CA) to the trusted \
                 certificates for this printer"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the printer's certificate (serial {serial}) has expired: check the computer's clock"
            ),
            CertificateError::Other(other) => format!("{other}"),
            other => format!(
                "the printer's certificate was refused (expected one issued to serial {serial}): {other:?}"
            ),
        },
        other => format!("TLS with the printer (serial {serial}) failed: {other}"),
    };
    FabError::Tls {
        target: url.to_owned(),
        message,
    }
}

/// The platform's trusted roots, loaded once per process.
fn platform_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The client configuration for one printer: TLS 1.2/1.3 with aws-lc-rs and
/// the [`SerialVerifier`] for `serial`.
fn tls_config(
    serial: &str,
    extra_roots_pem: &[Vec<u8>],
    url: &str,
) -> Result<Arc<rustls::ClientConfig>, FabError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(platform_roots().iter().cloned());
    for pem in extra_roots_pem {
        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| FabError::Tls {
                target: url.to_owned(),
                message: format!("a trusted certificate given for this printer is not PEM: {e}"),
            })?;
            roots.add(cert).map_err(|e| FabError::Tls {
                target: url.to_owned(),
                message: format!("a trusted certificate given for this printer is unusable: {e}"),
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(FabError::Tls {
                target: url.to_owned(),
                message: "a trusted certificate given for this printer holds no PEM certificate"
                    .into(),
            });
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = SerialVerifier {
        serial: serial.to_owned(),
        roots: Arc::new(roots),
        provider: provider.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FabError::Tls {
            target: url.to_owned(),
            message: format!("cannot set up TLS: {e}"),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Verifies a Bambu printer's certificate against its serial: the chain with
/// webpki against the given roots, then the name — the subjectAltName when
/// present, else the subject's CN — against the serial (not the address, not
/// the SNI rustls was given).
#[derive(Debug)]
pub struct SerialVerifier {
    serial: String,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl SerialVerifier {
    /// A verifier for `serial` trusting `roots`.
    pub fn new(serial: &str, roots: RootCertStore) -> SerialVerifier {
        SerialVerifier {
            serial: serial.to_owned(),
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }
}

/// A certificate issued to a name other than the printer's serial.
#[derive(Debug, thiserror::Error)]
#[error(
    "the printer's certificate is issued to {presented}, not to the serial {expected}: check the serial in the address (bambu://SERIAL@host)"
)]
struct NotTheSerial {
    expected: String,
    presented: String,
}

fn not_the_serial(expected: &str, presented: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        NotTheSerial {
            expected: expected.to_owned(),
            presented,
        },
    ))))
}

impl ServerCertVerifier for SerialVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        let names = cert_names(end_entity.as_ref())
            .ok_or_else(|| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let shown_cn = || match names.common_names.as_slice() {
            [] => "no common name".to_owned(),
            cns => format!("CN {}", cns.join(", ")),
        };
        if names.has_san {
            let serial = ServerName::try_from(self.serial.as_str())
                .map_err(|_| not_the_serial(&self.serial, shown_cn()))?;
            rustls::client::verify_server_name(&cert, &serial).map_err(|_| {
                not_the_serial(
                    &self.serial,
                    format!("other names ({} and its subjectAltName)", shown_cn()),
                )
            })?;
        } else if !names
            .common_names
            .iter()
            .any(|cn| cn.eq_ignore_ascii_case(&self.serial))
        {
            return Err(not_the_serial(&self.serial, shown_cn()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The names in a certificate that matter here.
#[derive(Debug, Default, PartialEq)]
struct CertNames {
    common_names: Vec<String>,
    has_san: bool,
}

/// One DER element: (tag, contents, rest). `None` on anything malformed.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The subject's CNs and whether a subjectAltName extension is present, read
/// from an X.509 certificate in DER (RFC 5280 §4.1).
fn cert_names(der: &[u8]) -> Option<CertNames> {
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
    const OID_SAN: &[u8] = &[0x55, 0x1D, 0x11];
    let (SEQUENCE, certificate, _) = der_next(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_next(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    // Optional [0] version.
    let (tag, _, after) = der_next(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        rest = der_next(rest)?.2;
    }
    let (SEQUENCE, subject, after) = der_next(rest)? else {
        return None;
    };
    rest = after;
    let mut names = CertNames::default();
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (SET, rdn, next) = der_next(rdns)? else {
            return None;
        };
        rdns = next;
        let mut attributes = rdn;
        while !attributes.is_empty() {
            let (SEQUENCE, attribute, next) = der_next(attributes)? else {
                return None;
            };
            attributes = next;
            let (OID, oid, value) = der_next(attribute)? else {
                return None;
            };
            if oid == OID_CN {
                let (_, value, _) = der_next(value)?;
                names
                    .common_names
                    .push(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    // subjectPublicKeyInfo, then optional [1], [2] and [3] extensions.
    rest = der_next(rest)?.2;
    while let Some((tag, contents, next)) = der_next(rest) {
        rest = next;
        if tag != 0xA3 {
            continue;
        }
        let (SEQUENCE, mut extensions, _) = der_next(contents)? else {
            return None;
        };
        while !extensions.is_empty() {
            let (SEQUENCE, extension, next) = der_next(extensions)? else {
                return None;
            };
            extensions = next;
            if let Some((OID, oid, _)) = der_next(extension)
                && oid == OID_SAN
            {
                names.has_san = true;
            }
        }
    }
    Some(names)
}

// --- byte counting ---------------------------------------------------------

/// Bytes through the TCP socket, both ways.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
}

/// A stream that counts the bytes read from and written to it.
struct Counted<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let n = buf.filled().len().saturating_sub(before);
            this.counters
                .received
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.counters.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gcode_states_map_and_unknown_words_are_kept() {
        assert_eq!(map_gcode_state("IDLE"), FabState::Idle);
        assert_eq!(map_gcode_state("PREPARE"), FabState::Printing);
        assert_eq!(map_gcode_state("RUNNING"), FabState::Printing);
        assert_eq!(map_gcode_state("PAUSE"), FabState::Paused);
        assert_eq!(map_gcode_state("FINISH"), FabState::Finished);
        assert_eq!(map_gcode_state("FAILED"), FabState::Error);
        let s = status_from_print(&json!({"gcode_state": "WOBBLING"})).expect("status");
        assert_eq!(s.state_text, "WOBBLING");
        assert_eq!(s.state, FabState::Maintenance);
    }

    #[test]
    fn a_delta_without_a_field_leaves_it_unchanged_never_zero() {
        let mut state = Value::Null;
        merge_report(
            &mut state,
            &json!({"mc_percent": 40, "bed_temper": 60.0, "ams": {"ams": [{"id": "0"}], "tray_now": "1"}}),
        );
        merge_report(
            &mut state,
            &json!({"gcode_state": "RUNNING", "ams": {"tray_now": "2"}}),
        );
        assert_eq!(state["mc_percent"], 40);
        assert_eq!(state["bed_temper"], 60.0);
        assert_eq!(state["ams"]["tray_now"], "2");
        assert_eq!(state["ams"]["ams"][0]["id"], "0");
        let status = status_from_print(&state).expect("status");
        assert_eq!(status.state, FabState::Printing);
        assert_eq!(
            status.job.as_ref().and_then(|j| j.progress_percent),
            Some(40.0)
        );
    }

    #[test]
    fn errors_keep_their_codes_in_hex() {
        let s = status_from_print(&json!({
            "gcode_state": "FAILED", "print_error": 83935248_u64,
            "hms": [{"attr": 0x0300_0100_u64, "code": 0x0001_000A_u64}, {"odd": true}],
        }))
        .expect("status");
        assert_eq!(s.errors[0], "print_error 0500C010 (0500_C010)");
        assert_eq!(s.errors[1], "HMS_0300_0100_0001_000A");
        assert_eq!(s.errors[2], r#"HMS {"odd":true}"#);
    }

    #[test]
    fn odd_types_in_a_report_never_panic() {
        for odd in [
            json!({"gcode_state": 7, "mc_percent": "abc", "mc_remaining_time": -5, "print_error": "0x10", "hms": "no"}),
            json!({"gcode_state": "RUNNING", "mc_percent": 1e308, "mc_remaining_time": 1e300, "bed_temper": [1], "gcode_start_time": "x"}),
            json!({"gcode_state": {"a": 1}, "hms": [null, 1, "x", {"attr": -1, "code": 1.5e30}]}),
            json!({"gcode_state": null}),
            json!([1, 2]),
        ] {
            let _ = status_from_print(&odd);
        }
        let mut progress = Progress::default();
        for payload in [
            &b"\xff\xfe"[..],
            b"[]",
            b"{\"print\": 5}",
            b"{\"print\": {\"gcode_state\": \"IDLE\"}}",
            b"{\"info\": {\"command\": \"get_version\", \"module\": 3}}",
        ] {
            absorb(&mut progress, payload);
        }
        assert_eq!(progress.status.map(|s| s.state), Some(FabState::Idle));
        assert!(progress.version.is_none());
    }

    #[test]
    fn the_model_comes_from_the_serial_prefix_or_the_modules() {
        assert_eq!(model_from_serial("01P00A000000001"), Some("P1S"));
        assert_eq!(model_from_serial("00M09A1234"), Some("X1 Carbon"));
        assert_eq!(model_from_serial("é"), None);
        let version = json!({"command": "get_version", "module": [
            {"name": "mc", "sw_ver": "00.00.10.00", "project_name": "C11"},
            {"name": "ota", "sw_ver": "01.04.02.00", "sn": "ZZZ1"},
        ]});
        let id = identity("ZZZ1", Some(&version));
        assert_eq!(id.model.as_deref(), Some("P1P"));
        assert_eq!(id.firmware.as_deref(), Some("01.04.02.00"));
        assert_eq!(id.vendor.as_deref(), Some("Bambu Lab"));
    }

    fn cert(cn: &str, sans: Vec<String>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(sans).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Lab");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    #[test]
    fn the_common_name_and_the_san_are_read_from_a_certificate() {
        let names = cert_names(&cert("01P00A000000001", vec![])).expect("names");
        assert_eq!(names.common_names, vec!["01P00A000000001".to_owned()]);
        assert!(!names.has_san);
        let names =
            cert_names(&cert("01P00A000000001", vec!["01P00A000000001".into()])).expect("names");
        assert!(names.has_san);
    }

    #[test]
    fn garbage_certificates_are_refused_without_panicking() {
        let good = cert("01P00A000000001", vec![]);
        for cut in 0..good.len() {
            let _ = cert_names(&good[..cut]);
        }
        let mut flipped = good.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0x5A;
            let _ = cert_names(&flipped);
            flipped[i] ^= 0x5A;
        }
        assert_eq!(cert_names(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), None);
        assert_eq!(cert_names(&[]), None);
    }
}
