//! The Windows print spooler's queues, listed without `unsafe`: on Windows,
//! PowerShell runs `Get-Printer` and `Get-PrinterPort` (PrintManagement
//! module) and prints them as JSON; [`parse_queues`] — compiled and
//! unit-tested on every platform — joins the two by port name.
//!
//! **Untested on Windows**: this project's machines run Linux; only the JSON
//! parsing is tested (with output shaped as PowerShell 5.1 prints it), and
//! the Windows-only part was compiled and clippy-checked for
//! `x86_64-pc-windows-gnu`, never run. What
//! it handles: `ConvertTo-Json` printing a single object instead of a
//! one-element array, and nothing at all for no printers; a UTF-8 BOM;
//! `PrinterStatus`/`Type` as numbers (CIM) or as names; shared printers on
//! another computer (`\\server\printer`, type Connection); Standard TCP/IP
//! ports (host + port number; 515 is LPR), WSD, USB, LPT/COM, FILE: and
//! URL ports (IPP).
//!
//! Invariants: PowerShell's output is untrusted text (decoded lossily, never
//! panics the parser); a URL port is stored without user information.

use serde_json::Value as Json;

use super::{LocalQueue, SpoolerError, parse_device_uri};

/// The PowerShell that lists printers (run with `-NoProfile -NonInteractive`).
pub const GET_PRINTERS: &str = "[Console]::OutputEncoding = [Text.Encoding]::UTF8; \
     Get-Printer | Select-Object Name,PortName,DriverName,Location,Comment,PrinterStatus,Type \
     | ConvertTo-Json -Depth 2";

/// The PowerShell that lists printer ports.
pub const GET_PORTS: &str = "[Console]::OutputEncoding = [Text.Encoding]::UTF8; \
     Get-PrinterPort | Select-Object Name,PrinterHostAddress,PortNumber \
     | ConvertTo-Json -Depth 2";

/// The Windows spooler's queues (Windows only; see the module doc).
#[cfg(windows)]
pub async fn local_queues() -> Result<Vec<LocalQueue>, SpoolerError> {
    let printers = run_powershell(GET_PRINTERS).await?;
    // Ports are a detail: without them, queues are still listed.
    let ports = run_powershell(GET_PORTS).await.unwrap_or_default();
    parse_queues(&printers, &ports)
}

/// How long PowerShell may take.
#[cfg(windows)]
const POWERSHELL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(windows)]
async fn run_powershell(script: &'static str) -> Result<String, SpoolerError> {
    let job = tokio::task::spawn_blocking(move || -> Result<String, SpoolerError> {
        use std::os::windows::process::CommandExt;
        use std::process::{Command, Stdio};
        use std::time::Instant;
        /// CREATE_NO_WINDOW: no console window flashes up from the tray app.
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        let mut child = Command::new("powershell")
            .args(["-NoProfile", "-NonInteractive", "-Command", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .creation_flags(CREATE_NO_WINDOW)
            .spawn()
            .map_err(|e| SpoolerError::NotRunning(format!("cannot run PowerShell: {e}")))?;
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() > POWERSHELL_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SpoolerError::Protocol(format!(
                        "PowerShell did not finish within {POWERSHELL_TIMEOUT:?}"
                    )));
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
                Err(e) => return Err(SpoolerError::Protocol(format!("PowerShell: {e}"))),
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| SpoolerError::Protocol(format!("PowerShell: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr.lines().take(3).collect::<Vec<_>>().join(" ");
        if stderr.to_lowercase().contains("spooler") {
            Err(SpoolerError::NotRunning(format!(
                "the Windows print spooler is not available: {tail}"
            )))
        } else {
            Err(SpoolerError::Protocol(format!(
                "Get-Printer failed: {tail}"
            )))
        }
    });
    job.await
        .map_err(|e| SpoolerError::Protocol(format!("PowerShell task: {e}")))?
}

/// Joins `Get-Printer` and `Get-PrinterPort` JSON (either may be one object,
/// an array, or empty) into queues sorted by name.
pub fn parse_queues(
    printers_json: &str,
    ports_json: &str,
) -> Result<Vec<LocalQueue>, SpoolerError> {
    let printers = json_list(printers_json)
        .map_err(|e| SpoolerError::Protocol(format!("Get-Printer printed no JSON list: {e}")))?;
    // A port list we cannot read leaves ports unknown, not the queues.
    let ports = json_list(ports_json).unwrap_or_default();
    let mut queues: Vec<LocalQueue> = printers
        .iter()
        .filter_map(|p| queue_from(p, &ports))
        .collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(queues)
}

/// PowerShell's `ConvertTo-Json`: nothing → `[]`, one object → `[it]`.
fn json_list(text: &str) -> Result<Vec<Json>, serde_json::Error> {
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match serde_json::from_str::<Json>(text)? {
        Json::Array(items) => items,
        Json::Null => Vec::new(),
        one => vec![one],
    })
}

fn field(obj: &Json, key: &str) -> Option<String> {
    let s = match obj.get(key)? {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return None,
    };
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn queue_from(p: &Json, ports: &[Json]) -> Option<LocalQueue> {
    let name = field(p, "Name")?;
    let port_name = field(p, "PortName").unwrap_or_default();
    let port = ports
        .iter()
        .find(|q| field(q, "Name").is_some_and(|n| n.eq_ignore_ascii_case(&port_name)));
    let connection = matches!(field(p, "Type").as_deref(), Some("1" | "Connection"));
    let (device_uri, scheme, host, port_number) = if connection || name.starts_with(r"\\") {
        // A printer shared by another computer: \\server\printer.
        let server = name
            .trim_start_matches('\\')
            .split('\\')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        (name.clone(), "smb".to_string(), server, None)
    } else {
        device_of_port(&port_name, port)
    };
    Some(LocalQueue {
        name,
        spooler: "windows",
        device_uri,
        scheme,
        host,
        port: port_number,
        make_and_model: field(p, "DriverName"),
        location: field(p, "Location"),
        info: field(p, "Comment"),
        state: field(p, "PrinterStatus")
            .and_then(|s| state_word(&s))
            .map(str::to_string),
    })
}

/// (device URI, scheme, host, port) of a printer port.
fn device_of_port(
    port_name: &str,
    port: Option<&Json>,
) -> (String, String, Option<String>, Option<u16>) {
    let host = port.and_then(|p| field(p, "PrinterHostAddress"));
    let number = port
        .and_then(|p| field(p, "PortNumber"))
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|&n| n > 0);
    if let Some(host) = host {
        let (scheme, number) = match number {
            Some(515) => ("lpd", 515),
            Some(n) => ("socket", n),
            None => ("socket", 9100),
        };
        let shown = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let uri = if scheme == "lpd" {
            format!("lpd://{shown}/{port_name}")
        } else {
            format!("socket://{shown}:{number}")
        };
        return (uri, scheme.to_string(), Some(host), Some(number));
    }
    let lower = port_name.to_ascii_lowercase();
    if lower.contains("://") {
        let d = parse_device_uri(port_name);
        return (d.uri, d.scheme, d.host, d.port);
    }
    let scheme = if lower.starts_with("usb") {
        "usb"
    } else if lower.starts_with("wsd") {
        "wsd"
    } else if lower.starts_with("lpt") {
        "lpt"
    } else if lower.starts_with("com") {
        "com"
    } else if lower.starts_with("file:") || lower == "portprompt:" || lower == "nul:" {
        "file"
    } else {
        "other"
    };
    (port_name.to_string(), scheme.to_string(), None, None)
}

/// MSFT_Printer.PrinterStatus (number or name) in our three words.
fn state_word(status: &str) -> Option<&'static str> {
    let s = status.to_ascii_lowercase();
    Some(match s.as_str() {
        "0" | "18" | "25" | "normal" | "idle" | "tonerlow" | "powersave" => "idle",
        "9" | "10" | "11" | "14" | "15" | "16" | "17" | "ioactive" | "busy" | "printing"
        | "waiting" | "processing" | "initialization" | "warmingup" => "processing",
        "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "12" | "13" | "19" | "20" | "21" | "22"
        | "23" | "paused" | "error" | "pendingdeletion" | "paperjam" | "paperout"
        | "manualfeed" | "paperproblem" | "offline" | "outputbinfull" | "notavailable"
        | "notoner" | "pagepunt" | "userintervention" | "outofmemory" | "dooropen" => "stopped",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINTERS: &str = r#"[
    {
        "Name":  "Office Laser",
        "PortName":  "IP_192.0.2.5",
        "DriverName":  "HP Universal Printing PCL 6",
        "Location":  "2nd floor",
        "Comment":  "by the window",
        "PrinterStatus":  0,
        "Type":  0
    },
    {
        "Name":  "Microsoft Print to PDF",
        "PortName":  "PORTPROMPT:",
        "DriverName":  "Microsoft Print To PDF",
        "Location":  "",
        "Comment":  "",
        "PrinterStatus":  0,
        "Type":  0
    },
    {
        "Name":  "\\\\printsrv\\Finance",
        "PortName":  "\\\\printsrv\\Finance",
        "DriverName":  "Kyocera ECOSYS P3145dn KX",
        "Location":  null,
        "Comment":  null,
        "PrinterStatus":  8,
        "Type":  1
    },
    {
        "Name":  "Label printer",
        "PortName":  "USB001",
        "DriverName":  "ZDesigner ZD420-203dpi ZPL",
        "PrinterStatus":  "Printing",
        "Type":  "Local"
    },
    {
        "Name":  "Old LPR",
        "PortName":  "lpr_192.0.2.7",
        "DriverName":  "Generic / Text Only",
        "PrinterStatus":  2,
        "Type":  0
    },
    {
        "Name":  "IPP one",
        "PortName":  "http://user:secret@192.0.2.6:631/ipp/print",
        "DriverName":  "Microsoft IPP Class Driver",
        "Type":  0
    }
]"#;

    const PORTS: &str = r#"[
    { "Name": "IP_192.0.2.5", "PrinterHostAddress": "192.0.2.5", "PortNumber": 9100 },
    { "Name": "lpr_192.0.2.7", "PrinterHostAddress": "192.0.2.7", "PortNumber": 515 },
    { "Name": "USB001", "PrinterHostAddress": null, "PortNumber": 0 },
    { "Name": "PORTPROMPT:", "PrinterHostAddress": null, "PortNumber": 0 }
]"#;

    fn by_name<'a>(q: &'a [LocalQueue], name: &str) -> &'a LocalQueue {
        q.iter()
            .find(|x| x.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn printers_and_ports_join_into_queues() {
        let q = parse_queues(PRINTERS, PORTS).expect("parses");
        assert_eq!(q.len(), 6);
        let office = by_name(&q, "Office Laser");
        assert_eq!(office.device_uri, "socket://192.0.2.5:9100");
        assert_eq!(office.scheme, "socket");
        assert_eq!(office.host.as_deref(), Some("192.0.2.5"));
        assert_eq!(office.port, Some(9100));
        assert_eq!(
            office.make_and_model.as_deref(),
            Some("HP Universal Printing PCL 6")
        );
        assert_eq!(office.location.as_deref(), Some("2nd floor"));
        assert_eq!(office.info.as_deref(), Some("by the window"));
        assert_eq!(office.state.as_deref(), Some("idle"));
        assert_eq!(office.spooler, "windows");

        let pdf = by_name(&q, "Microsoft Print to PDF");
        assert_eq!((pdf.scheme.as_str(), pdf.host.as_deref()), ("file", None));
        assert_eq!(pdf.location, None, "empty text is no location");

        let shared = by_name(&q, r"\\printsrv\Finance");
        assert_eq!(shared.scheme, "smb");
        assert_eq!(shared.host.as_deref(), Some("printsrv"));
        assert_eq!(shared.state.as_deref(), Some("stopped"));

        let label = by_name(&q, "Label printer");
        assert_eq!(
            (label.scheme.as_str(), label.host.as_deref()),
            ("usb", None)
        );
        assert_eq!(label.state.as_deref(), Some("processing"));

        let lpr = by_name(&q, "Old LPR");
        assert_eq!(lpr.device_uri, "lpd://192.0.2.7/lpr_192.0.2.7");
        assert_eq!(lpr.port, Some(515));

        let ipp = by_name(&q, "IPP one");
        assert_eq!(ipp.device_uri, "http://192.0.2.6:631/ipp/print");
        assert_eq!(ipp.host.as_deref(), Some("192.0.2.6"));
        assert_eq!(ipp.state, None);
        assert!(!format!("{q:?}").contains("secret"));
    }

    #[test]
    fn a_single_printer_is_an_object_not_an_array() {
        let one =
            "\u{feff}{ \"Name\": \"Solo\", \"PortName\": \"WSD-1234\", \"PrinterStatus\": 0 }\r\n";
        let port = r#"{ "Name": "WSD-1234", "PrinterHostAddress": null, "PortNumber": null }"#;
        let q = parse_queues(one, port).expect("parses");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].name, "Solo");
        assert_eq!(q[0].scheme, "wsd");
    }

    #[test]
    fn no_printers_print_nothing_which_is_an_empty_list() {
        assert!(parse_queues("", "").expect("empty").is_empty());
        assert!(parse_queues("  \r\n", "garbage").expect("empty").is_empty());
    }

    #[test]
    fn broken_output_is_an_error_or_skipped_never_a_panic() {
        assert!(matches!(
            parse_queues("Get-Printer : The spooler service is not reachable", ""),
            Err(SpoolerError::Protocol(_))
        ));
        let odd = r#"[1, "x", null, {"Name": 5}, {"PortName": "USB001"}, {"Name": "ok", "PortName": {"a": 1}}]"#;
        let q = parse_queues(odd, "[[]]").expect("parses");
        let names: Vec<&str> = q.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["5", "ok"]);
    }
}
