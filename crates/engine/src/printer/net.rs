//! What a failed HTTP exchange with a printer means, in words: shared by IPP
//! and the 3D printers' HTTP APIs so both say "nothing answers", "no route"
//! and "the name could not be resolved" the same way.

use std::error::Error as StdError;
use std::io::ErrorKind;

/// The innermost cause of a reqwest failure and the I/O error kind in its chain.
#[derive(Debug)]
pub struct Cause {
    /// The innermost error, in words.
    pub root: String,
    /// The first `io::Error` kind in the chain, if any.
    pub io: Option<ErrorKind>,
}

/// Walks `e`'s source chain.
pub fn cause_of(e: &reqwest::Error) -> Cause {
    let mut chain: Vec<&(dyn StdError + 'static)> = vec![e];
    let mut cur: &(dyn StdError + 'static) = e;
    while let Some(next) = cur.source() {
        chain.push(next);
        cur = next;
    }
    Cause {
        root: chain
            .last()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unknown error".into()),
        io: chain
            .iter()
            .find_map(|c| c.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind),
    }
}

/// Why a connection to `host:port` could not be made, in words.
pub fn connect_failure(cause: &Cause, host: &str, port: u16) -> String {
    match cause.io {
        Some(ErrorKind::ConnectionRefused) => {
            format!("nothing answers at {host}:{port} (connection refused)")
        }
        Some(ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => {
            format!("{host} cannot be reached from here (no route)")
        }
        _ if cause.root.contains("dns error") || cause.root.contains("failed to lookup") => {
            format!("the name {host} could not be resolved")
        }
        _ => format!("could not connect to {host}:{port}: {}", cause.root),
    }
}
