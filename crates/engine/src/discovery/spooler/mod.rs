//! Printers attached to this computer: the queues of its print spooler — CUPS
//! on Linux and macOS ([`cups`]), the Windows spooler on Windows
//! ([`windows`]) — each with the device it prints to.
//!
//! Invariants: a device URI is stored only with any `user:password@` removed
//! ([`parse_device_uri`]), so no spooler secret reaches output, logs or
//! `Debug`; what a spooler says is untrusted text and never panics a parser;
//! a spooler that is not there is [`SpoolerError::NotRunning`] (a note for
//! the user, not a failure of the scan).

pub mod cups;
pub mod windows;

use serde::Serialize;

/// One print queue of this computer's spooler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalQueue {
    /// Queue name.
    pub name: String,
    /// `"cups"` or `"windows"`.
    pub spooler: &'static str,
    /// Where the queue prints, with any `user:password@` removed.
    pub device_uri: String,
    /// The URI scheme (`socket`, `ipp`, `lpd`, `usb`, `dnssd`, `hp`, …).
    pub scheme: String,
    /// The network host the queue prints to, when it is one (`None` for
    /// usb, file, dnssd, …).
    pub host: Option<String>,
    /// The port: the URI's own, else the scheme's default for network
    /// schemes (socket 9100, ipp/ipps 631, lpd 515, http 80, https 443,
    /// smb 445).
    pub port: Option<u16>,
    /// Make and model as the spooler knows it (its driver's name).
    pub make_and_model: Option<String>,
    /// Location set on the queue.
    pub location: Option<String>,
    /// Description set on the queue.
    pub info: Option<String>,
    /// `"idle"`, `"processing"` or `"stopped"`.
    pub state: Option<String>,
}

/// Why the local queues could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolerError {
    /// There is no spooler to ask (e.g. "no CUPS at localhost:631").
    #[error("{0}")]
    NotRunning(String),
    /// The spooler answered something we could not use.
    #[error("the print spooler's answer could not be read: {0}")]
    Protocol(String),
}

/// The queues of this computer's spooler: CUPS on Unix, the Windows spooler
/// on Windows, sorted by name.
pub async fn local_queues() -> Result<Vec<LocalQueue>, SpoolerError> {
    #[cfg(windows)]
    {
        windows::local_queues().await
    }
    #[cfg(not(windows))]
    {
        cups::local_queues().await
    }
}

/// A device URI taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceUri {
    /// The URI with any user information removed.
    pub uri: String,
    /// Lower-case scheme; empty when the text has none.
    pub scheme: String,
    /// Network host, for network schemes (IPv6 literals without brackets).
    pub host: Option<String>,
    /// Port: explicit, else the scheme's default (network schemes only).
    pub port: Option<u16>,
}

/// Schemes whose authority is a network host, with their default port.
const NETWORK_SCHEMES: &[(&str, u16)] = &[
    ("socket", 9100),
    ("ipp", 631),
    ("ipps", 631),
    ("http", 80),
    ("https", 443),
    ("lpd", 515),
    ("smb", 445),
];

/// Takes a spooler's device URI apart: removes user information (everything
/// up to the last `@` of the authority-and-path, before any `?` or `#`, so a
/// password containing `/` or `@` is removed whole), and finds the network
/// host and port. Handles `socket://h:9100`, `ipp(s)://h:port/path`,
/// `lpd://h/queue`, `http(s)://`, `smb://`, `dnssd://…` (no host: the name
/// is an mDNS instance), `usb://` and other local schemes (no host), HPLIP's
/// `hp:/net/…?ip=h` / `?hostname=h`, and CUPS's `beh:/…/<uri>` wrapper.
pub fn parse_device_uri(text: &str) -> DeviceUri {
    let text = text.trim();
    let Some((scheme, rest)) = text.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        return DeviceUri {
            uri: text.to_string(),
            scheme: String::new(),
            host: None,
            port: None,
        };
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "beh" {
        return parse_beh(rest);
    }
    if scheme == "hp" || scheme == "hpfax" {
        let host = query_value(rest, "ip").or_else(|| query_value(rest, "hostname"));
        return DeviceUri {
            uri: format!("{scheme}:{rest}"),
            scheme,
            host,
            port: None,
        };
    }
    let Some(after) = rest.strip_prefix("//") else {
        return DeviceUri {
            uri: format!("{scheme}:{rest}"),
            scheme,
            host: None,
            port: None,
        };
    };
    let query_at = after.find(['?', '#']).unwrap_or(after.len());
    let (before_query, query) = after.split_at(query_at);
    let without_user = before_query
        .rfind('@')
        .map_or(before_query, |at| &before_query[at + 1..]);
    let uri = format!("{scheme}://{without_user}{query}");
    let authority = without_user.split('/').next().unwrap_or_default();
    let default_port = NETWORK_SCHEMES
        .iter()
        .find(|(s, _)| *s == scheme)
        .map(|(_, p)| *p);
    let (host, port) = match default_port {
        Some(default) => {
            let (host, port) = split_host_port(authority);
            let host = host.filter(|h| !h.is_empty());
            let port = host.as_ref().map(|_| port.unwrap_or(default));
            (host, port)
        }
        None => (None, None),
    };
    DeviceUri {
        uri,
        scheme,
        host,
        port,
    }
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// CUPS's backend error handler: `beh:/<dd>/<att>/<delay>/<original URI>`.
fn parse_beh(rest: &str) -> DeviceUri {
    let mut parts = rest.trim_start_matches('/').splitn(4, '/');
    let (Some(dd), Some(att), Some(delay), Some(inner)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return DeviceUri {
            uri: "beh:".to_string() + &strip_any_userinfo(rest),
            scheme: "beh".into(),
            host: None,
            port: None,
        };
    };
    let inner = parse_device_uri(inner);
    DeviceUri {
        uri: format!("beh:/{dd}/{att}/{delay}/{}", inner.uri),
        ..inner
    }
}

/// For text we cannot parse: drop everything up to the last `@`.
fn strip_any_userinfo(s: &str) -> String {
    s.rfind('@').map_or(s, |at| &s[at + 1..]).to_string()
}

/// `host:port`, `[v6]:port`, `host` → (host, port). A port that does not
/// parse is ignored.
fn split_host_port(authority: &str) -> (Option<String>, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return (None, None);
        };
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        let host = host.replace("%25", "%");
        return (Some(host), port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (Some(host.to_string()), port.parse().ok()),
        _ => (Some(authority.to_string()), None),
    }
}

/// The value of `key=` in a URI's query.
fn query_value(rest: &str, key: &str) -> Option<String> {
    let (_, query) = rest.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_port(uri: &str) -> (String, Option<String>, Option<u16>) {
        let d = parse_device_uri(uri);
        (d.scheme, d.host, d.port)
    }

    #[test]
    fn network_device_uris_give_their_host_and_port() {
        assert_eq!(
            host_port("socket://192.0.2.5:9100"),
            ("socket".into(), Some("192.0.2.5".into()), Some(9100))
        );
        assert_eq!(
            host_port("socket://printer.example"),
            ("socket".into(), Some("printer.example".into()), Some(9100))
        );
        assert_eq!(
            host_port("ipp://192.0.2.6:8631/ipp/print"),
            ("ipp".into(), Some("192.0.2.6".into()), Some(8631))
        );
        assert_eq!(
            host_port("IPPS://printer.example/ipp/print"),
            ("ipps".into(), Some("printer.example".into()), Some(631))
        );
        assert_eq!(
            host_port("lpd://192.0.2.7/queue"),
            ("lpd".into(), Some("192.0.2.7".into()), Some(515))
        );
        assert_eq!(
            host_port("http://192.0.2.8:631/printers/x"),
            ("http".into(), Some("192.0.2.8".into()), Some(631))
        );
        assert_eq!(
            host_port("https://192.0.2.8/printers/x"),
            ("https".into(), Some("192.0.2.8".into()), Some(443))
        );
        assert_eq!(
            host_port("ipp://[fd00::5]:631/ipp"),
            ("ipp".into(), Some("fd00::5".into()), Some(631))
        );
        assert_eq!(
            host_port("smb://WORKGROUP/server/printer"),
            ("smb".into(), Some("WORKGROUP".into()), Some(445))
        );
    }

    #[test]
    fn local_and_mdns_device_uris_have_no_host() {
        for uri in [
            "usb://HP/LaserJet?serial=ZZ1",
            "dnssd://Office%20Laser._ipp._tcp.local/?uuid=1234",
            "file:///dev/null",
            "parallel:/dev/lp0",
            "implicitclass://Office_Laser/",
        ] {
            let d = parse_device_uri(uri);
            assert_eq!(d.host, None, "{uri}");
            assert_eq!(d.port, None, "{uri}");
            assert_eq!(d.uri, uri, "kept as is");
        }
        assert_eq!(
            parse_device_uri("dnssd://x._ipp._tcp.local/").scheme,
            "dnssd"
        );
    }

    #[test]
    fn hplip_uris_give_the_host_from_ip_or_hostname() {
        assert_eq!(
            host_port("hp:/net/HP_LaserJet_M404?ip=192.0.2.9"),
            ("hp".into(), Some("192.0.2.9".into()), None)
        );
        assert_eq!(
            host_port("hp:/net/HP_LaserJet?hostname=npi00005e.example"),
            ("hp".into(), Some("npi00005e.example".into()), None)
        );
        assert_eq!(host_port("hp:/usb/HP_LaserJet?serial=ZZ9").1, None);
    }

    #[test]
    fn user_information_is_removed_whole() {
        for (uri, clean) in [
            ("lpd://user:secret@192.0.2.7/queue", "lpd://192.0.2.7/queue"),
            (
                "smb://user:secret@WORKGROUP/server/printer",
                "smb://WORKGROUP/server/printer",
            ),
            ("smb://dom;user:se/cr@et@server/share", "smb://server/share"),
            ("ipp://secret@192.0.2.6/ipp?x=1", "ipp://192.0.2.6/ipp?x=1"),
            (
                "beh:/1/1/5/socket://u:secret@192.0.2.5:9100",
                "beh:/1/1/5/socket://192.0.2.5:9100",
            ),
        ] {
            let d = parse_device_uri(uri);
            assert_eq!(d.uri, clean);
            assert!(!format!("{d:?}").contains("secret"), "{d:?}");
        }
        let smb = parse_device_uri("smb://dom;user:se/cr@et@server/share");
        assert_eq!(smb.host.as_deref(), Some("server"));
        let beh = parse_device_uri("beh:/1/1/5/socket://u:secret@192.0.2.5:9100");
        assert_eq!(beh.scheme, "socket");
        assert_eq!(beh.host.as_deref(), Some("192.0.2.5"));
    }

    #[test]
    fn odd_text_is_kept_without_a_host_and_never_panics() {
        for text in [
            "",
            ":",
            "://",
            "no scheme here",
            "socket://",
            "socket://:9100",
            "socket://[::1",
            "ipp://host:notaport/x",
            "beh:/1",
            "hp:",
            "1abc://host",
            "socket://h\u{e9}te:9100",
        ] {
            let _ = parse_device_uri(text);
        }
        assert_eq!(parse_device_uri("socket://").host, None);
        assert_eq!(parse_device_uri("socket://:9100").host, None);
        let bad_port = parse_device_uri("ipp://host:notaport/x");
        assert_eq!(bad_port.host.as_deref(), Some("host"));
        assert_eq!(bad_port.port, Some(631));
        assert_eq!(parse_device_uri("1abc://host").scheme, "");
    }
}
