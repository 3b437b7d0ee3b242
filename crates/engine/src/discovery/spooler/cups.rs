//! The local CUPS server's queues: one CUPS-Get-Printers request (IPP
//! operation 0x4002, encoded and decoded with the `ipp` crate) asking for
//! printer-name, device-uri, printer-make-and-model, printer-location,
//! printer-info, printer-state and printer-uri-supported.
//!
//! Server: `CUPS_SERVER` (`host`, `host:port`, `[v6]:port`; a trailing
//! `/version=…` is ignored; a path starting with `/` is a Unix-domain socket,
//! used as such on Unix), else `localhost:631`. `~/.cups/client.conf` and
//! `/etc/cups/client.conf` are not read. Only plain HTTP: a CUPS server that
//! demands TLS or authentication for this request is reported as a protocol
//! error.
//!
//! The HTTP exchange is one HTTP/1.0 POST over a tokio stream, written here
//! rather than through the `ipp` crate's reqwest client, because reqwest
//! honours `HTTP_PROXY` for `localhost` (when `NO_PROXY` is unset), which
//! would send the spooler query to a proxy, and pulls in ~50 crates for one
//! request on loopback. HTTP/1.0 makes CUPS close the connection after the
//! answer; a chunked answer is decoded all the same.
//!
//! Invariants: a connection that cannot be made is
//! [`SpoolerError::NotRunning`] naming the address; the answer is bounded in
//! size ([`MAX_RESPONSE`]) and time; device URIs are stored without user
//! information (CUPS already hides passwords from non-admin requests; we
//! strip whatever is left).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use ipp::attribute::{IppAttribute, IppAttributeGroup, IppAttributeName};
use ipp::model::{DelimiterTag, IppVersion, Operation, StatusCode};
use ipp::parser::IppParser;
use ipp::request::IppRequestResponse;
use ipp::value::{IppKeyword, IppValue};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{LocalQueue, SpoolerError, parse_device_uri};

/// Where CUPS listens when `CUPS_SERVER` is not set.
pub const DEFAULT_SERVER: &str = "localhost:631";
/// Largest answer read (a CUPS with thousands of queues stays far below).
pub const MAX_RESPONSE: usize = 16 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The attributes asked for.
const REQUESTED: [&str; 7] = [
    "printer-name",
    "device-uri",
    "printer-make-and-model",
    "printer-location",
    "printer-info",
    "printer-state",
    "printer-uri-supported",
];

/// The queues of the CUPS server this computer uses (see the module doc).
pub async fn local_queues() -> Result<Vec<LocalQueue>, SpoolerError> {
    cups_queues(&configured_server()).await
}

/// The server `CUPS_SERVER` names, else [`DEFAULT_SERVER`].
pub fn configured_server() -> String {
    server_from(std::env::var("CUPS_SERVER").ok().as_deref())
}

/// Normalises a `CUPS_SERVER` value: `None` or empty → `localhost:631`;
/// a port is added when missing; `/path` stays a socket path.
pub fn server_from(value: Option<&str>) -> String {
    let v = value.map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return DEFAULT_SERVER.to_string();
    }
    if v.starts_with('/') {
        return v.to_string();
    }
    // "host:port/version=1.1" → "host:port"
    let v = v.split('/').next().unwrap_or(v);
    if v.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{v}]:631");
    }
    let has_port = match v.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .is_some_and(|(_, p)| p.starts_with(':')),
        None => v.contains(':'),
    };
    if has_port {
        v.to_string()
    } else {
        format!("{v}:631")
    }
}

/// Asks the CUPS server at `server` (`host:port`, or a socket path on Unix)
/// for its queues, sorted by name.
pub async fn cups_queues(server: &str) -> Result<Vec<LocalQueue>, SpoolerError> {
    let request = http_request(server, &ipp_request()?);
    let response = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(server, &request))
        .await
        .map_err(|_| {
            SpoolerError::Protocol(format!(
                "CUPS at {server} did not answer within {EXCHANGE_TIMEOUT:?}"
            ))
        })??;
    parse_queues(http_body(&response)?)
}

/// The CUPS-Get-Printers request, IPP-encoded.
fn ipp_request() -> Result<Vec<u8>, SpoolerError> {
    let mut req = IppRequestResponse::new(IppVersion::v1_1(), Operation::CupsGetPrinters, None)
        .map_err(|e| SpoolerError::Protocol(format!("cannot build the request: {e}")))?;
    let keywords = REQUESTED
        .iter()
        .map(|k| IppKeyword::try_from(*k).map(IppValue::Keyword))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SpoolerError::Protocol(format!("cannot build the request: {e}")))?;
    req.attributes_mut().add(
        DelimiterTag::OperationAttributes,
        IppAttribute::new(
            IppAttributeName::REQUESTED_ATTRIBUTES,
            IppValue::Array(keywords),
        ),
    );
    Ok(req.to_bytes().to_vec())
}

fn http_request(server: &str, body: &[u8]) -> Vec<u8> {
    let host = if server.starts_with('/') {
        "localhost"
    } else {
        server
    };
    let mut out = format!(
        "POST / HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/ipp\r\n\
         Content-Length: {}\r\nUser-Agent: PrintScout\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Connects, sends, and reads until the server closes.
async fn exchange(server: &str, request: &[u8]) -> Result<Vec<u8>, SpoolerError> {
    let not_running =
        |e: &dyn std::fmt::Display| SpoolerError::NotRunning(format!("no CUPS at {server} ({e})"));
    let io_error =
        |e: io::Error| SpoolerError::Protocol(format!("talking to CUPS at {server}: {e}"));
    if server.starts_with('/') {
        #[cfg(unix)]
        {
            let mut s =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(server))
                    .await
                    .map_err(|e| not_running(&e))?
                    .map_err(|e| not_running(&e))?;
            return round_trip(&mut s, request).await.map_err(io_error);
        }
        #[cfg(not(unix))]
        {
            let _ = io_error;
            return Err(SpoolerError::NotRunning(format!(
                "CUPS_SERVER names a socket path ({server}), which is not supported on this system"
            )));
        }
    }
    let mut s = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(server))
        .await
        .map_err(|e| not_running(&e))?
        .map_err(|e| not_running(&e))?;
    round_trip(&mut s, request).await.map_err(io_error)
}

async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    let mut rest = request;
    while !rest.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, rest)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        rest = &rest[n..];
    }
    poll_fn(|cx| Pin::new(&mut *s).poll_flush(cx)).await?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut buf)).await?;
        let n = buf.filled().len();
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > MAX_RESPONSE + 64 * 1024 {
            return Err(io::Error::other(format!(
                "the answer is larger than {MAX_RESPONSE} bytes"
            )));
        }
        out.extend_from_slice(&chunk[..n]);
        // A server that keeps the connection open despite HTTP/1.0 still
        // ends the exchange once the whole answer is here.
        if response_complete(&out) {
            return Ok(out);
        }
    }
}

/// True when `raw` holds a whole response: its headers and, as they say,
/// Content-Length bytes or a final chunk. A close-delimited body is whole
/// only at EOF.
fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return body.ends_with(b"0\r\n\r\n") && dechunk(body).is_some();
    }
    header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

/// The body of an HTTP response: status 200 required; chunked transfer
/// coding decoded; cut at Content-Length.
fn http_body(raw: &[u8]) -> Result<Vec<u8>, SpoolerError> {
    let bad = |what: &str| SpoolerError::Protocol(format!("CUPS sent {what}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut words = status.split_whitespace();
    let code = match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code,
        _ => return Err(bad("a malformed HTTP status line")),
    };
    if code != "200" {
        let reason: Vec<&str> = words.collect();
        return Err(SpoolerError::Protocol(format!(
            "CUPS answered HTTP {code} {}",
            reason.join(" ")
        )));
    }
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        } else if name.trim().eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    if chunked {
        return dechunk(body).ok_or_else(|| bad("a malformed chunked body"));
    }
    match length {
        Some(n) if n <= body.len() => Ok(body[..n].to_vec()),
        Some(_) => Err(bad("a body shorter than its Content-Length")),
        None => Ok(body.to_vec()),
    }
}

/// Decodes HTTP/1.1 chunked transfer coding; `None` when malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size..)?;
        data = data.strip_prefix(b"\r\n")?;
        if out.len() > MAX_RESPONSE {
            return None;
        }
    }
}

/// Turns a CUPS-Get-Printers answer into queues, sorted by name. A server
/// with no queues answers client-error-not-found: that is an empty list.
fn parse_queues(body: Vec<u8>) -> Result<Vec<LocalQueue>, SpoolerError> {
    let response = IppParser::new(io::Cursor::new(body))
        .parse()
        .map_err(|e| SpoolerError::Protocol(format!("malformed IPP answer: {e}")))?;
    let status = response.header().status_code();
    if status == StatusCode::ClientErrorNotFound {
        return Ok(Vec::new());
    }
    if !status.is_success() {
        return Err(SpoolerError::Protocol(format!(
            "CUPS refused CUPS-Get-Printers: {status:?} (0x{:04x})",
            response.header().operation_or_status
        )));
    }
    let mut queues: Vec<LocalQueue> = response
        .attributes()
        .groups_of(DelimiterTag::PrinterAttributes)
        .filter_map(queue_from)
        .collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(queues)
}

/// One printer-attributes group as a queue; `None` without a name.
fn queue_from(group: &IppAttributeGroup) -> Option<LocalQueue> {
    let text = |name: &str| group.get(name).and_then(|a| value_text(a.value()));
    let name = text("printer-name").or_else(|| {
        // Fall back to the last path segment of the printer's URI.
        text("printer-uri-supported")
            .and_then(|u| u.rsplit('/').next().map(str::to_string))
            .filter(|n| !n.is_empty())
    })?;
    let device = parse_device_uri(&text("device-uri").unwrap_or_default());
    let state = match group.get("printer-state").map(IppAttribute::value) {
        Some(IppValue::Enum(3) | IppValue::Integer(3)) => Some("idle"),
        Some(IppValue::Enum(4) | IppValue::Integer(4)) => Some("processing"),
        Some(IppValue::Enum(5) | IppValue::Integer(5)) => Some("stopped"),
        _ => None,
    };
    Some(LocalQueue {
        name,
        spooler: "cups",
        device_uri: device.uri,
        scheme: device.scheme,
        host: device.host,
        port: device.port,
        // "Local Raw Printer" is what CUPS calls a queue without a driver:
        // it says nothing about the printer.
        make_and_model: text("printer-make-and-model")
            .filter(|m| !m.eq_ignore_ascii_case("Local Raw Printer")),
        location: text("printer-location"),
        info: text("printer-info"),
        state: state.map(str::to_string),
    })
}

/// Text of a string-like IPP value (first element of an array), trimmed,
/// control characters removed; `None` when empty.
fn value_text(v: &IppValue) -> Option<String> {
    let s = match v {
        IppValue::TextWithoutLanguage(t) | IppValue::TextWithLanguage { text: t, .. } => {
            AsRef::<str>::as_ref(t).to_string()
        }
        IppValue::NameWithoutLanguage(n) | IppValue::NameWithLanguage { name: n, .. } => {
            n.as_str().to_string()
        }
        IppValue::Uri(u) => u.as_str().to_string(),
        IppValue::Keyword(k) => k.as_str().to_string(),
        IppValue::NonUtf8 { data, .. } => String::from_utf8_lossy(data).into_owned(),
        IppValue::Array(values) => return values.first().and_then(value_text),
        _ => return None,
    };
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipp::value::{IppName, IppString, IppTextValue};

    fn name(s: &str) -> IppValue {
        IppValue::NameWithoutLanguage(IppName::try_from(s).expect("name"))
    }

    fn text(s: &str) -> IppValue {
        IppValue::TextWithoutLanguage(IppTextValue::new(s).expect("text"))
    }

    fn uri(s: &str) -> IppValue {
        IppValue::Uri(IppString::try_from(s).expect("uri"))
    }

    /// A CUPS-Get-Printers answer, encoded as CUPS would send it.
    fn answer(status: StatusCode, printers: &[Vec<(&str, IppValue)>]) -> Vec<u8> {
        let mut r =
            IppRequestResponse::new_response(IppVersion::v1_1(), status, 1).expect("response");
        for p in printers {
            let mut group = IppAttributeGroup::new(DelimiterTag::PrinterAttributes);
            for (k, v) in p {
                group
                    .attributes_mut()
                    .push(IppAttribute::with_name(k, v.clone()).expect("attribute"));
            }
            r.attributes_mut().groups_mut().push(group);
        }
        r.to_bytes().to_vec()
    }

    #[test]
    fn a_cups_answer_becomes_queues_sorted_by_name() {
        let body = answer(
            StatusCode::SuccessfulOk,
            &[
                vec![
                    ("printer-name", name("Zebra_Labels")),
                    ("device-uri", uri("usb://Zebra/ZD420?serial=ZZ4")),
                    ("printer-state", IppValue::Enum(5)),
                ],
                vec![
                    ("printer-name", name("Office_Laser")),
                    ("device-uri", uri("lpd://user:secret@192.0.2.7/queue")),
                    (
                        "printer-make-and-model",
                        text("HP LaserJet M404 Postscript"),
                    ),
                    ("printer-location", text("2nd floor")),
                    ("printer-info", text("Laser by the window")),
                    ("printer-state", IppValue::Enum(3)),
                    (
                        "printer-uri-supported",
                        IppValue::Array(vec![uri("ipp://localhost/printers/Office_Laser")]),
                    ),
                ],
                vec![
                    (
                        "printer-uri-supported",
                        uri("ipp://localhost/printers/Raw_Queue"),
                    ),
                    ("device-uri", uri("socket://192.0.2.5")),
                    ("printer-make-and-model", text("Local Raw Printer")),
                    ("printer-state", IppValue::Enum(4)),
                ],
            ],
        );
        let queues = parse_queues(body).expect("parses");
        let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["Office_Laser", "Raw_Queue", "Zebra_Labels"]);
        let office = &queues[0];
        assert_eq!(office.device_uri, "lpd://192.0.2.7/queue");
        assert_eq!(office.scheme, "lpd");
        assert_eq!(office.host.as_deref(), Some("192.0.2.7"));
        assert_eq!(office.port, Some(515));
        assert_eq!(
            office.make_and_model.as_deref(),
            Some("HP LaserJet M404 Postscript")
        );
        assert_eq!(office.location.as_deref(), Some("2nd floor"));
        assert_eq!(office.info.as_deref(), Some("Laser by the window"));
        assert_eq!(office.state.as_deref(), Some("idle"));
        assert_eq!(office.spooler, "cups");
        let raw = &queues[1];
        assert_eq!(raw.make_and_model, None, "a raw queue names no model");
        assert_eq!(raw.port, Some(9100));
        assert_eq!(raw.state.as_deref(), Some("processing"));
        assert_eq!(queues[2].host, None);
        assert_eq!(queues[2].state.as_deref(), Some("stopped"));
        assert!(!format!("{queues:?}").contains("secret"));
    }

    #[test]
    fn a_cups_without_queues_answers_not_found_which_is_an_empty_list() {
        let body = answer(StatusCode::ClientErrorNotFound, &[]);
        assert_eq!(parse_queues(body).expect("empty"), Vec::new());
        let refused = parse_queues(answer(StatusCode::ClientErrorNotAuthorized, &[]));
        assert!(
            matches!(refused, Err(SpoolerError::Protocol(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn garbage_is_a_protocol_error_not_a_panic() {
        let good = answer(
            StatusCode::SuccessfulOk,
            &[vec![
                ("printer-name", name("A")),
                ("device-uri", uri("socket://h")),
            ]],
        );
        for n in 0..good.len() {
            let _ = parse_queues(good[..n].to_vec());
        }
        assert!(parse_queues(b"<html>".to_vec()).is_err());
        for raw in [
            &b""[..],
            b"HTTP/1.0 200 OK\r\n",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort",
        ] {
            assert!(http_body(raw).is_err(), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn an_answer_is_complete_at_its_length_or_last_chunk_else_at_close() {
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"
        ));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"
        ));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        ));
        assert!(!response_complete(b"HTTP/1.0 200 OK\r\n\r\nabcd"));
    }

    #[test]
    fn http_bodies_are_cut_at_their_length_and_dechunked() {
        let plain =
            b"HTTP/1.0 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(http_body(plain).expect("body"), b"abc");
        let closed = b"HTTP/1.0 200 OK\r\n\r\nabcdef";
        assert_eq!(http_body(closed).expect("body"), b"abcdef");
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).expect("body"), b"abcde");
        let err = http_body(b"HTTP/1.1 403 Forbidden\r\n\r\n").expect_err("403");
        assert!(err.to_string().contains("403 Forbidden"), "{err}");
    }

    #[test]
    fn the_request_asks_cups_get_printers_for_the_seven_attributes() {
        let bytes = ipp_request().expect("request");
        assert_eq!(&bytes[..2], &[1, 1], "IPP/1.1");
        assert_eq!(&bytes[2..4], &[0x40, 0x02], "CUPS-Get-Printers");
        let parsed = IppParser::new(io::Cursor::new(bytes))
            .parse()
            .expect("our own request parses");
        let ops = parsed
            .attributes()
            .groups_of(DelimiterTag::OperationAttributes)
            .next()
            .expect("operation group");
        let asked = ops
            .get("requested-attributes")
            .expect("requested-attributes");
        let IppValue::Array(values) = asked.value() else {
            panic!("an array: {asked:?}");
        };
        let names: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(names, REQUESTED);
        let http = http_request("127.0.0.1:631", &[1, 2, 3]);
        let text = String::from_utf8_lossy(&http);
        assert!(text.starts_with("POST / HTTP/1.0\r\nHost: 127.0.0.1:631\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
    }

    #[test]
    fn the_server_comes_from_cups_server_else_localhost() {
        assert_eq!(server_from(None), "localhost:631");
        assert_eq!(server_from(Some("  ")), "localhost:631");
        assert_eq!(server_from(Some("printhost")), "printhost:631");
        assert_eq!(server_from(Some("printhost:8631")), "printhost:8631");
        assert_eq!(
            server_from(Some("printhost:8631/version=1.1")),
            "printhost:8631"
        );
        assert_eq!(server_from(Some("::1")), "[::1]:631");
        assert_eq!(server_from(Some("[::1]")), "[::1]:631");
        assert_eq!(server_from(Some("[::1]:8631")), "[::1]:8631");
        assert_eq!(
            server_from(Some("/run/cups/cups.sock")),
            "/run/cups/cups.sock"
        );
    }
}
