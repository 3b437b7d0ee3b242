//! The uplink: how readings leave the site. For now, the two parts the
//! upload will stand on: [`proxy`] finds which proxies this machine offers
//! (the environment variables, the OS setting, the manual `[proxy]`) and
//! which one the uplink would use, and [`connect`] tests the upload server
//! through each of them and says, in a stable code and words, what happened.
//!
//! Invariants:
//! - no secret (the site token, a proxy password, the password inside a
//!   proxy URL such as `http://user:pass@host:3128`) appears in a report, an
//!   error, a log line or `Debug` output: proxy URLs are shown through
//!   [`redact_url`] (`http://***@host:3128`), and the values travel as
//!   [`crate::secret::Secret`]s straight to the wire;
//! - reading the environment is a snapshot ([`proxy::ProxyEnv`]) taken once
//!   and passed in, so discovery is testable without touching the process
//!   environment;
//! - the site token is sent only to the configured upload server's origin,
//!   never to an address a caller asks to test;
//! - TLS is rustls with the platform's trust store plus `[upload] ca_file`;
//!   a certificate problem is reported as `tls_error`, never bypassed.

pub mod connect;
pub mod email;
pub mod protocol;
pub mod proxy;
pub mod upload;

pub use connect::{
    ConnectError, ConnectOptions, Outcome, PathResult, parse_target, target_for, test_paths,
    test_paths_with,
};
pub use proxy::{
    PathKind, ProxyEndpoint, ProxyEnv, ProxyReport, Sources, SystemSource, discover, discover_with,
};

/// `text` (a proxy or server URL, possibly without a scheme) as it may be
/// shown to people: `scheme://host:port`, with `***@` in front of the host
/// when the text carried a user or a password, and no path. Text that is not
/// a URL keeps only what follows its last `@`.
pub fn redact_url(text: &str) -> String {
    let text = text.trim();
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let has_at = after_scheme.contains('@');
    match proxy::parse_loose(text) {
        Ok(url) if url.host_str().is_some() => {
            let credentials = !url.username().is_empty() || url.password().is_some();
            if has_at && !credentials {
                // Parsed, but an `@` the parser did not take for userinfo
                // (a password with a `/` or `#` in it): trust nothing.
                return after_last_at(text);
            }
            let host = url.host_str().unwrap_or_default();
            let port = url
                .port_or_known_default()
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let who = if credentials { "***@" } else { "" };
            format!("{}://{who}{host}{port}", url.scheme())
        }
        _ if has_at => after_last_at(text),
        _ => text.to_string(),
    }
}

fn after_last_at(text: &str) -> String {
    let rest = text.rsplit_once('@').map_or(text, |(_, rest)| rest);
    format!("***@{rest}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_proxy_url_with_a_password_is_shown_without_it() {
        assert_eq!(
            redact_url("http://lab:SENTINEL-pw@127.0.0.1:3128"),
            "http://***@127.0.0.1:3128"
        );
        assert_eq!(
            redact_url("proxy.example:8080"),
            "http://proxy.example:8080"
        );
        assert_eq!(
            redact_url("http://only-user@proxy.example"),
            "http://***@proxy.example:80"
        );
        assert_eq!(redact_url("https://[::1]:3129/"), "https://[::1]:3129");
    }

    #[test]
    fn a_password_that_confuses_the_parser_is_still_hidden() {
        for text in [
            "http://lab:SENT/INEL@127.0.0.1:3128",
            "http://lab:SENT#INEL@127.0.0.1:3128",
            "http://lab:1234/SENTINEL@proxy:3128",
            "lab:SENTINEL@@proxy:3128",
        ] {
            let shown = redact_url(text);
            assert!(!shown.contains("SENT"), "{text} -> {shown}");
            assert!(!shown.contains("1234"), "{text} -> {shown}");
            assert!(
                shown.starts_with("***@") || shown.contains("://***@"),
                "{shown}"
            );
        }
    }
}
