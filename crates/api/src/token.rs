//! The per-install API token and the two files that tell local clients how to
//! reach the API: `<data_dir>/api-token` and `<data_dir>/api.json`.
//!
//! Invariants:
//! - a token is 256 bits from the operating system's generator (`getrandom`),
//!   written as 64 lowercase hex digits;
//! - the value never appears in `Debug` output, logs or errors; [`Token`] has no
//!   `Display`, and [`Token::expose`] is the one way to read it;
//! - comparison is constant time ([`subtle`]) for a candidate of the right length;
//! - both files are created with mode 0600 from the start (never chmod after the
//!   fact) and replaced atomically (a temporary file in the same directory, then
//!   rename), so a reader sees the old or the new file, never half of one;
//! - the token persists across restarts; a token file that is malformed, not a
//!   regular file, or readable by group or others is replaced by a new token.
//!
//! Windows: the files inherit the data directory's ACL. TODO: set an owner-only
//! DACL on creation (jupyter_core's `secure_write` does this).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The token file's name inside the data directory.
pub const TOKEN_FILE_NAME: &str = "api-token";
/// The name of the file, inside the data directory, that names the API's URL and
/// the token file.
pub const API_JSON_NAME: &str = "api.json";

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;

/// The per-install secret every API request (but the UI and the health check)
/// carries as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A new token: 256 random bits from the operating system.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
        let mut hex = String::with_capacity(TOKEN_BYTES * 2);
        for byte in bytes {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Ok(Self(hex))
    }

    /// A token read back from text: exactly 64 lowercase hex digits (surrounding
    /// whitespace ignored), else `None`.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim_ascii();
        let well_formed = text.len() == TOKEN_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }

    /// The secret value, for the one place that must hand it over (a client
    /// building its `Authorization` header, the file writer).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, compared in constant time (only the
    /// length, which is public, can end the comparison early).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }

    /// The token stored at `path`, or a new one written there (mode 0600) when
    /// the file is missing, malformed, not a regular file or readable by others.
    pub fn load_or_create(path: &Path) -> Result<Self, TokenError> {
        match read_private_token(path) {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            Err(source) if source.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(TokenError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        let token = Self::generate()?;
        let mut contents = token.0.clone().into_bytes();
        contents.push(b'\n');
        write_private_file(path, &contents).map_err(|source| TokenError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(token)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Reads the token file: `Ok(None)` when it exists but must be replaced.
fn read_private_token(path: &Path) -> io::Result<Option<Token>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        tracing::warn!(path = %path.display(), "the API token file is not a regular file; replacing it with a new token");
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the API token file was readable by other accounts; replacing it with a new token");
            return Ok(None);
        }
    }
    let mut bytes = Vec::new();
    // A token file is 65 bytes; anything much larger is not one.
    File::open(path)?.take(1024).read_to_end(&mut bytes)?;
    let token = std::str::from_utf8(&bytes).ok().and_then(Token::from_hex);
    if token.is_none() {
        tracing::warn!(path = %path.display(), "the API token file is malformed; replacing it with a new token");
    }
    Ok(token)
}

/// Writes `contents` to `path` atomically with mode 0600: a new temporary file
/// in the same directory, created with that mode, synced, then renamed over
/// `path`. The temporary file is removed if anything fails.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let temp = dir.join(format!(
        ".{}.{}.{:016x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        u64::from_le_bytes(suffix)
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// What `api.json` holds: where the API listens and where its token is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiInfo {
    /// The UI's and the API's base URL, e.g. `http://127.0.0.1:9161/`.
    pub url: String,
    /// The absolute path of the token file.
    pub token_file: PathBuf,
}

impl ApiInfo {
    /// Writes this as `<data_dir>/api.json` (atomically, mode 0600) and returns
    /// the file's path.
    pub fn write(&self, data_dir: &Path) -> Result<PathBuf, TokenError> {
        let path = data_dir.join(API_JSON_NAME);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| TokenError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        json.push(b'\n');
        write_private_file(&path, &json).map_err(|source| TokenError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Reads `<data_dir>/api.json` (for local clients such as the CLI or the tray).
    pub fn read(data_dir: &Path) -> Result<Self, TokenError> {
        let path = data_dir.join(API_JSON_NAME);
        let text = fs::read(&path).map_err(|source| TokenError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| TokenError::Io {
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })
    }
}

/// Why the token or `api.json` could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    /// A file could not be read or written.
    #[error("cannot read or write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_64_hex_digits_and_reads_back() {
        let token = Token::generate().expect("random");
        assert_eq!(token.expose().len(), 64);
        let again = Token::from_hex(&format!("{}\n", token.expose())).expect("well formed");
        assert!(again.matches(token.expose().as_bytes()));
        assert_ne!(Token::generate().expect("random").expose(), token.expose());
    }

    #[test]
    fn debug_output_never_shows_the_value() {
        let token = Token::generate().expect("random");
        let shown = format!("{token:?} {:?}", Some(&token));
        assert!(!shown.contains(token.expose()));
        assert!(shown.contains("***"));
    }

    #[test]
    fn malformed_text_is_not_a_token() {
        assert!(Token::from_hex("").is_none());
        assert!(Token::from_hex(&"g".repeat(64)).is_none());
        assert!(Token::from_hex(&"A".repeat(64)).is_none());
        assert!(Token::from_hex(&"a".repeat(63)).is_none());
    }

    #[test]
    fn a_token_does_not_match_a_prefix_or_an_extension_of_itself() {
        let token = Token::generate().expect("random");
        let value = token.expose().as_bytes();
        assert!(!token.matches(&value[..63]));
        assert!(!token.matches(&[value, b"0"].concat()));
        assert!(!token.matches(b""));
    }
}
