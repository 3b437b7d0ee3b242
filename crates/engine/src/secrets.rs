//! The secret store: where the upload token, the SMTP password, the proxy
//! password and the 3D printers' keys live, behind one [`SecretStore`] trait.
//!
//! Owns: the known secret [`NAMES`], the per-printer names
//! (`printer-key:<scheme>://<host>:<port>`, see [`printer_key_name`] and
//! [`canonical_name`]), [`SecretError`] and its stable codes,
//! and three stores — [`KeyringStore`] (the OS keychain through keyring-core:
//! Secret Service on Linux, the Keychain on macOS, the Credential Manager on
//! Windows), [`FileStore`] (an opt-in JSON file readable only by the service
//! user) and [`MemoryStore`] (tests) — plus [`open`], which picks one from
//! `[secrets] store`.
//!
//! Invariants:
//! - Only the names in [`NAMES`] and printer keys (`printer-key:` followed by
//!   a 3D-printer address) are accepted; anything else is
//!   [`SecretError::UnknownName`] before any store is touched. Every store
//!   keeps a printer key under its canonical name ([`canonical_name`]), so
//!   `printer-key:octoprint://Host` and `printer-key:octoprint://host:5000`
//!   are one entry.
//! - There is no silent plaintext fallback: when the keychain is missing or
//!   locked, [`SecretStore::set`] fails with [`SecretError::NoStore`] or
//!   [`SecretError::Locked`] and nothing is written anywhere. The file store
//!   is used only when the configuration asks for it.
//! - A value never appears in `Debug`, `Display`, an error or a log line:
//!   values travel as [`Secret`]s, and keychain errors are described in
//!   words chosen here (keyring-core's own `Debug` can hold the bytes).
//! - The secrets file is written atomically (temporary file in the same
//!   directory, fsync, rename) with mode 0600, and a file that others can
//!   read is refused rather than used.
//! - Every call may block (D-Bus, file system): call from
//!   `tokio::task::spawn_blocking` in async code.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{Config, SecretStoreKind};
use crate::secret::Secret;

/// keyring-core, re-exported so that tests elsewhere can build a
/// [`KeyringStore`] over `keyring_core::mock::Store` (error injection)
/// without a dependency of their own.
pub use keyring_core;

/// The site token the uplink sends to the server.
pub const UPLOAD_TOKEN: &str = "upload-token";
/// The password of `[email] user` on the SMTP server.
pub const SMTP_PASSWORD: &str = "smtp-password";
/// The password of `[proxy] user` on the manual proxy.
pub const PROXY_PASSWORD: &str = "proxy-password";
/// The fixed names a store accepts, in the order they are listed to users
/// (printer keys, [`PRINTER_KEY_PREFIX`]…, come on top).
pub const NAMES: [&str; 3] = [UPLOAD_TOKEN, SMTP_PASSWORD, PROXY_PASSWORD];

/// What a 3D printer's key (API key, LAN access code, password) is stored
/// under: this prefix and the printer's address, e.g.
/// `printer-key:octoprint://192.168.1.20:5000`.
pub const PRINTER_KEY_PREFIX: &str = "printer-key:";

/// The keychain service name entries are stored under (the account is the
/// secret's name).
pub const SERVICE: &str = "printscout";

/// The file name of the opt-in file store inside the data directory.
pub const FILE_NAME: &str = "secrets.json";

/// What to tell a user whose keychain cannot be used.
const FILE_HINT: &str = "to keep secrets in a file readable only by this user instead, \
     set `[secrets] store = \"file\"` in the configuration";

/// Why a secret could not be read, stored or deleted. No variant ever holds
/// a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// There is no keychain here (no session bus, no Secret Service, no
    /// platform store). Code `secret_store_unavailable`.
    #[error("no keychain is available to store secrets ({detail}); {FILE_HINT}")]
    NoStore {
        /// What the platform said, in words (never a value).
        detail: String,
    },
    /// The keychain exists but is locked or refused access. Code
    /// `secret_store_locked`.
    #[error(
        "the keychain is locked or refused access ({detail}); unlock it and try again, or {FILE_HINT}"
    )]
    Locked {
        /// What the platform said, in words (never a value).
        detail: String,
    },
    /// A name that is not one of [`NAMES`] nor a printer key. Code
    /// `secret_unknown_name`. The name is shown without any user part that
    /// could hold a password.
    #[error(
        "'{0}' is not a secret name: use upload-token, smtp-password, proxy-password or printer-key:<scheme>://<host>[:<port>] (e.g. printer-key:octoprint://192.168.1.20:5000)"
    )]
    UnknownName(String),
    /// The secrets file could not be read or written. Code `secret_store_io`.
    #[error("secrets file {}: {source}", .path.display())]
    Io {
        /// The file (or its directory).
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The secrets file can be read by other users, so it is not used.
    /// Code `secret_file_insecure`.
    #[error(
        "secrets file {} can be read by other users (mode {mode:o}); run `chmod 600` on it",
        .path.display()
    )]
    Insecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Anything else: a damaged secrets file, a keychain failure. Code
    /// `secret_store_error`.
    #[error("{0}")]
    Other(String),
}

impl SecretError {
    /// A stable, machine-readable code (the API and `printscout secret`
    /// report it).
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::NoStore { .. } => "secret_store_unavailable",
            SecretError::Locked { .. } => "secret_store_locked",
            SecretError::UnknownName(_) => "secret_unknown_name",
            SecretError::Io { .. } => "secret_store_io",
            SecretError::Insecure { .. } => "secret_file_insecure",
            SecretError::Other(_) => "secret_store_error",
        }
    }
}

/// Refuses names that are neither in [`NAMES`] nor a printer key.
pub fn check_name(name: &str) -> Result<(), SecretError> {
    canonical_name(name).map(drop)
}

/// The name a store keeps `name` under: a fixed name ([`NAMES`]) as it is,
/// a printer key normalised by [`printer_key_name`]; anything else is
/// [`SecretError::UnknownName`].
pub fn canonical_name(name: &str) -> Result<String, SecretError> {
    if NAMES.contains(&name) {
        return Ok(name.to_string());
    }
    match name.strip_prefix(PRINTER_KEY_PREFIX) {
        Some(url) => printer_key_name(url).map_err(|_| SecretError::UnknownName(shown_name(name))),
        None => Err(SecretError::UnknownName(shown_name(name))),
    }
}

/// Whether `name` is a printer key (canonical or not).
pub fn is_printer_key(name: &str) -> bool {
    name.starts_with(PRINTER_KEY_PREFIX)
}

/// The secret name of a 3D printer's key, from its address as a user writes
/// it (`octoprint://Printer.local`, `bambu://SERIAL@10.0.0.7`): an invalid
/// address is the [`FabError`](crate::printer::fab::FabError) that says why.
///
/// The normalisation, so that one printer has one name however it is
/// written: `printer-key:` + the scheme in lower case + `://` + for Bambu
/// only, the serial and `@` (the access code belongs to that printer) + the
/// host in lower case (IPv6 in brackets, as the `url` crate writes it) +
/// `:` + the port, the maker's port filled in when the address has none.
/// A user name (`prusalink://maker@host`), a trailing `/` and `?serial=` on
/// other schemes are dropped; a password in the address is refused.
/// E.g. `octoprint://Host` → `printer-key:octoprint://host:5000`,
/// `bambu://host?serial=01S00` → `printer-key:bambu://01S00@host:8883`.
pub fn printer_key_name(url: &str) -> Result<String, crate::printer::fab::FabError> {
    let target = crate::printer::fab::FabTarget::parse(url.trim())?;
    Ok(printer_key_name_of(&target))
}

/// The secret name of the key of `target` (see [`printer_key_name`]).
pub fn printer_key_name_of(target: &crate::printer::fab::FabTarget) -> String {
    use crate::printer::fab::FabProtocol;
    let host = target.host.to_ascii_lowercase();
    let authority = if host.contains(':') {
        format!("[{host}]:{}", target.port)
    } else {
        format!("{host}:{}", target.port)
    };
    match (&target.serial, target.protocol) {
        (Some(serial), FabProtocol::Bambu) => {
            format!("{PRINTER_KEY_PREFIX}bambu://{serial}@{authority}")
        }
        _ => format!("{PRINTER_KEY_PREFIX}{}://{authority}", target.protocol),
    }
}

/// `name` as an error may show it: a printer key whose address has a user
/// part (which could hold a password) is cut at `://`.
fn shown_name(name: &str) -> String {
    match name.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => format!("{scheme}://…"),
        _ => name.to_string(),
    }
}

/// Fixed names first (in [`NAMES`] order), then printer keys sorted.
fn sort_names(names: &mut Vec<String>) {
    names.sort_by_key(|n| {
        (
            NAMES.iter().position(|f| f == n).unwrap_or(NAMES.len()),
            n.clone(),
        )
    });
    names.dedup();
}

/// A place secrets are kept. Every method refuses names that are neither in
/// [`NAMES`] nor a printer key, and keeps printer keys under their
/// [`canonical_name`].
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// `"keyring"`, `"file"` or `"memory"`.
    fn kind(&self) -> &'static str;

    /// Where the secrets are, in words for a user (`the keychain (service
    /// "printscout")`, the file's path). Never a value.
    fn location(&self) -> String {
        self.kind().to_string()
    }

    /// The value, or `None` when it was never set (or was deleted).
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError>;

    /// Stores the value, replacing any earlier one.
    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError>;

    /// Removes the value; deleting a value that is not set is not an error.
    fn delete(&self, name: &str) -> Result<(), SecretError>;

    /// Whether a value is set.
    fn is_set(&self, name: &str) -> Result<bool, SecretError> {
        Ok(self.get(name)?.is_some())
    }

    /// The names that are set (never a value): the fixed names in [`NAMES`]
    /// order, then printer keys sorted. The default looks at the fixed
    /// names only; the stores here list printer keys too.
    fn names(&self) -> Result<Vec<String>, SecretError> {
        let mut set = Vec::new();
        for name in NAMES {
            if self.is_set(name)? {
                set.push(name.to_string());
            }
        }
        Ok(set)
    }
}

/// The store the configuration asks for: the OS keychain (`[secrets] store =
/// "keyring"`, the default) or `<data_dir>/secrets.json` (`"file"`). Opening
/// never fails; a missing keychain shows as an error on first use.
pub fn open(config: &Config, data_dir: &Path) -> Arc<dyn SecretStore> {
    match config.secrets.store {
        SecretStoreKind::Keyring => Arc::new(KeyringStore::new(SERVICE)),
        SecretStoreKind::File => Arc::new(FileStore::new(data_dir.join(FILE_NAME))),
    }
}

// ---------------------------------------------------------------------------
// The OS keychain.

type PlatformStore = Arc<keyring_core::CredentialStore>;

/// The OS keychain through keyring-core. The platform store is connected on
/// first use and kept; a failed connection is retried on the next call (a
/// keychain may be started or unlocked meanwhile).
pub struct KeyringStore {
    service: String,
    store: Mutex<Option<PlatformStore>>,
    fixed: bool,
}

impl KeyringStore {
    /// The platform's keychain, entries under `service` (normally
    /// [`SERVICE`]; tests use their own).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            store: Mutex::new(None),
            fixed: false,
        }
    }

    /// Over a given keyring-core store, e.g. `keyring_core::mock::Store` in
    /// tests.
    pub fn with_store(service: impl Into<String>, store: PlatformStore) -> Self {
        Self {
            service: service.into(),
            store: Mutex::new(Some(store)),
            fixed: true,
        }
    }

    /// The keychain service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn platform(&self) -> Result<PlatformStore, SecretError> {
        let mut slot = self
            .store
            .lock()
            .map_err(|_| SecretError::Other("the keychain connection was poisoned".into()))?;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        if self.fixed {
            return Err(SecretError::NoStore {
                detail: "the keychain was released".into(),
            });
        }
        let store = connect_platform().map_err(|e| match e {
            keyring_core::Error::NoStorageAccess(_) => SecretError::Locked {
                detail: describe(&e),
            },
            other => SecretError::NoStore {
                detail: describe(&other),
            },
        })?;
        *slot = Some(store.clone());
        Ok(store)
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry, SecretError> {
        let name = canonical_name(name)?;
        self.platform()?
            .build(&self.service, &name, None)
            .map_err(map_keyring)
    }
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let connected = self.store.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("connected", &connected)
            .finish()
    }
}

impl SecretStore for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    fn location(&self) -> String {
        format!("the keychain (service \"{}\")", self.service)
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        match self.entry(name)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        self.entry(name)?
            .set_password(value.expose())
            .map_err(map_keyring)
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring(e)),
        }
    }

    /// Searches the keychain for this service's entries (Secret Service and
    /// keyring-core's mock store can; a keychain that cannot search is an
    /// error in words).
    fn names(&self) -> Result<Vec<String>, SecretError> {
        let spec = HashMap::from([("service", self.service.as_str())]);
        let entries = self.platform()?.search(&spec).map_err(map_keyring)?;
        let mut names: Vec<String> = entries
            .iter()
            // Some stores keep a deleted entry's shell: only entries that
            // hold a value are set.
            .filter(|e| !matches!(e.get_secret(), Err(keyring_core::Error::NoEntry)))
            .filter_map(keyring_core::Entry::get_specifiers)
            .filter(|(service, _)| *service == self.service)
            .map(|(_, user)| user)
            .filter(|user| canonical_name(user).is_ok_and(|c| c == *user))
            .collect();
        sort_names(&mut names);
        Ok(names)
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn connect_platform() -> keyring_core::Result<PlatformStore> {
    let store: PlatformStore = zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn connect_platform() -> keyring_core::Result<PlatformStore> {
    let store: PlatformStore = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(windows)]
fn connect_platform() -> keyring_core::Result<PlatformStore> {
    let store: PlatformStore = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(unix, windows)))]
fn connect_platform() -> keyring_core::Result<PlatformStore> {
    Err(keyring_core::Error::NoDefaultStore)
}

/// Maps a keyring-core error on an operation to ours. No storage access is
/// a locked (or refusing) keychain; a platform failure means the keychain
/// cannot be used here.
fn map_keyring(e: keyring_core::Error) -> SecretError {
    match &e {
        keyring_core::Error::NoStorageAccess(_) => SecretError::Locked {
            detail: describe(&e),
        },
        keyring_core::Error::NoDefaultStore | keyring_core::Error::PlatformFailure(_) => {
            SecretError::NoStore {
                detail: describe(&e),
            }
        }
        _ => SecretError::Other(format!("the keychain refused: {}", describe(&e))),
    }
}

/// keyring-core's error in words, without anything that could hold a value:
/// `BadEncoding`/`BadDataFormat` carry the stored bytes and `Ambiguous`
/// prints entries, so those get fixed words.
fn describe(e: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(inner) => inner.to_string(),
        E::NoStorageAccess(inner) => inner.to_string(),
        E::NoEntry => "no such entry".into(),
        E::BadEncoding(_) => "the stored value is not UTF-8 text".into(),
        E::BadDataFormat(..) => "the stored value is damaged".into(),
        E::BadStoreFormat(why) => format!("the keychain is damaged: {why}"),
        E::TooLong(what, max) => format!("{what} is longer than the keychain allows ({max})"),
        E::Invalid(what, why) => format!("{what} is invalid: {why}"),
        E::Ambiguous(items) => format!("{} keychain entries match", items.len()),
        E::NoDefaultStore => "no platform keychain".into(),
        E::NotSupportedByStore(why) => format!("not supported by the keychain: {why}"),
        _ => "unknown keychain error".into(),
    }
}

// ---------------------------------------------------------------------------
// The opt-in file.

#[derive(Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    /// The layout version, 1.
    format: u32,
    /// Name to value.
    secrets: BTreeMap<String, String>,
}

/// Secrets in a JSON file readable only by the service user (mode 0600),
/// for machines without a keychain. Opt-in only (`[secrets] store =
/// "file"`). Every call reads the file again, so a value set by
/// `printscout secret set` is seen by a running service; writes are atomic.
pub struct FileStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileStore {
    /// A store in `path` (normally `<data_dir>/secrets.json`). Nothing is
    /// created until the first [`SecretStore::set`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> SecretError {
        SecretError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<FileContents, SecretError> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileContents {
                    format: 1,
                    ..FileContents::default()
                });
            }
            Err(e) => return Err(self.io(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file
                .metadata()
                .map_err(|e| self.io(e))?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Insecure {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        let contents: FileContents =
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
                // serde_json may quote a value in its message: say where only.
                SecretError::Other(format!(
                    "secrets file {} is damaged (line {}, column {}); delete it and set the secrets again",
                    self.path.display(),
                    e.line(),
                    e.column()
                ))
            })?;
        if contents.format != 1 {
            return Err(SecretError::Other(format!(
                "secrets file {} has format {}, which this version does not read",
                self.path.display(),
                contents.format
            )));
        }
        Ok(contents)
    }

    fn write(&self, contents: &FileContents) -> Result<(), SecretError> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        crate::store::create_private_dir(dir).map_err(|source| SecretError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let text = serde_json::to_vec_pretty(contents)
            .map_err(|_| SecretError::Other("cannot encode the secrets file".into()))?;
        write_private_atomically(&self.path, &text).map_err(|e| self.io(e))
    }

    fn guard(&self) -> Result<std::sync::MutexGuard<'_, ()>, SecretError> {
        self.lock
            .lock()
            .map_err(|_| SecretError::Other("the secrets file lock was poisoned".into()))
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SecretStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn location(&self) -> String {
        format!("the file {}", self.path.display())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        let name = canonical_name(name)?;
        let _g = self.guard()?;
        Ok(self.read()?.secrets.remove(&name).map(Secret::new))
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        let name = canonical_name(name)?;
        let _g = self.guard()?;
        let mut contents = self.read()?;
        contents.secrets.insert(name, value.expose().to_string());
        self.write(&contents)
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let name = canonical_name(name)?;
        let _g = self.guard()?;
        let mut contents = self.read()?;
        if contents.secrets.remove(&name).is_some() {
            self.write(&contents)?;
        }
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>, SecretError> {
        let _g = self.guard()?;
        let mut names: Vec<String> = self
            .read()?
            .secrets
            .into_keys()
            .filter(|n| canonical_name(n).is_ok_and(|c| c == *n))
            .collect();
        sort_names(&mut names);
        Ok(names)
    }
}

/// Writes `bytes` to `path` atomically: a temporary file (mode 0600) in the
/// same directory, fsync, rename over `path`, fsync of the directory (best
/// effort). A reader sees the old file or the new one, never a part.
pub(crate) fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In memory.

/// Secrets in memory only, for tests (here and in the API's). `Debug` lists
/// which names are set, never a value.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Secret>>, SecretError> {
        self.values
            .lock()
            .map_err(|_| SecretError::Other("the memory store was poisoned".into()))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set: Vec<String> = self
            .values
            .lock()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        set.sort();
        f.debug_struct("MemoryStore").field("set", &set).finish()
    }
}

impl SecretStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        "memory (not kept)".into()
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        let name = canonical_name(name)?;
        Ok(self.values()?.get(&name).cloned())
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        let name = canonical_name(name)?;
        self.values()?.insert(name, value.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let name = canonical_name(name)?;
        self.values()?.remove(&name);
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>, SecretError> {
        let mut names: Vec<String> = self.values()?.keys().cloned().collect();
        sort_names(&mut names);
        Ok(names)
    }
}

/// The directory, inside the data directory, of certificates (PEM) trusted
/// for IPP and 3D printers besides the platform's.
pub const TRUST_DIR: &str = "trust";

/// Every PEM file (`*.pem`, `*.crt`) in `dir` that holds a certificate, as
/// bytes; a missing directory is none. Certificates are public: they are
/// not secrets, only kept beside them.
pub fn trusted_certificates(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|pem| String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_distinct_stable_code() {
        let errors = [
            SecretError::NoStore { detail: "x".into() },
            SecretError::Locked { detail: "x".into() },
            SecretError::UnknownName("x".into()),
            SecretError::Io {
                path: "x".into(),
                source: std::io::Error::other("x"),
            },
            SecretError::Insecure {
                path: "x".into(),
                mode: 0o644,
            },
            SecretError::Other("x".into()),
        ];
        let mut codes: Vec<&str> = errors.iter().map(SecretError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn a_missing_keychain_tells_the_user_about_the_file_store() {
        let e = SecretError::NoStore {
            detail: "no session bus".into(),
        };
        assert!(e.to_string().contains("[secrets] store = \"file\""), "{e}");
        assert_eq!(e.code(), "secret_store_unavailable");
    }

    #[test]
    fn a_printer_key_name_is_normalised_to_scheme_host_and_port() {
        let cases = [
            (
                "octoprint://Printer.Local",
                "printer-key:octoprint://printer.local:5000",
            ),
            (
                "OctoPrint://10.0.0.5:80/",
                "printer-key:octoprint://10.0.0.5:80",
            ),
            (
                "moonraker://10.0.0.6",
                "printer-key:moonraker://10.0.0.6:7125",
            ),
            (
                "prusalink://maker@10.0.0.7",
                "printer-key:prusalink://10.0.0.7:80",
            ),
            (
                "ultimaker://[::1]:8080",
                "printer-key:ultimaker://[::1]:8080",
            ),
            (
                "bambu://01S00A1@10.0.0.8",
                "printer-key:bambu://01S00A1@10.0.0.8:8883",
            ),
            (
                "bambu://10.0.0.8:8884?serial=01S00A1",
                "printer-key:bambu://01S00A1@10.0.0.8:8884",
            ),
            (
                "octoprint://10.0.0.5?serial=X",
                "printer-key:octoprint://10.0.0.5:5000",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(printer_key_name(url).expect(url), want, "{url}");
            let typed = format!("{PRINTER_KEY_PREFIX}{url}");
            assert_eq!(canonical_name(&typed).expect(url), want, "{typed}");
            assert_eq!(
                canonical_name(want).expect(want),
                want,
                "canonical is a fixed point"
            );
        }
        assert_eq!(canonical_name(UPLOAD_TOKEN).expect("fixed"), UPLOAD_TOKEN);
    }

    #[test]
    fn a_bad_printer_key_name_is_unknown_and_never_shows_a_password() {
        for name in [
            "printer-key:",
            "printer-key:http://10.0.0.5",
            "printer-key:octoprint://10.0.0.5/api",
            "printer-key:bambu://10.0.0.5",
            "printer-key:octoprint://admin:SENTINEL-pw@10.0.0.5",
            "printer-key octoprint://10.0.0.5",
        ] {
            let e = canonical_name(name).expect_err(name);
            assert_eq!(e.code(), "secret_unknown_name", "{name}");
            assert!(!format!("{e} {e:?}").contains("SENTINEL"), "{e}");
            assert!(e.to_string().contains("printer-key:<scheme>"), "{e}");
        }
    }

    /// Set under one spelling, found under another, listed once by name,
    /// deleted: the same in every store.
    fn printer_keys_round_trip(store: &dyn SecretStore) {
        let typed = "printer-key:octoprint://Printer.Local";
        let canonical = "printer-key:octoprint://printer.local:5000";
        assert_eq!(store.get(canonical).expect("get"), None);
        store
            .set(typed, &Secret::new("SENTINEL-key-1"))
            .expect("set");
        store
            .set(
                "printer-key:bambu://01S@10.0.0.8",
                &Secret::new("SENTINEL-ac"),
            )
            .expect("set");
        store
            .set(SMTP_PASSWORD, &Secret::new("SENTINEL-pw"))
            .expect("set");
        let got = store.get(canonical).expect("get").expect("set");
        assert_eq!(got.expose(), "SENTINEL-key-1");
        assert_eq!(
            store.names().expect("names"),
            [
                SMTP_PASSWORD,
                "printer-key:bambu://01S@10.0.0.8:8883",
                canonical
            ]
        );
        assert!(!format!("{store:?}").contains("SENTINEL"), "{store:?}");
        store.delete(typed).expect("delete");
        assert!(!store.is_set(canonical).expect("is_set"));
        assert_eq!(store.names().expect("names").len(), 2);
    }

    #[test]
    fn every_store_keeps_printer_keys_under_their_canonical_name_and_lists_them() {
        printer_keys_round_trip(&MemoryStore::new());
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = FileStore::new(dir.path().join(FILE_NAME));
        printer_keys_round_trip(&file);
        let text = std::fs::read_to_string(file.path()).expect("the file");
        assert!(
            text.contains("printer-key:bambu://01S@10.0.0.8:8883"),
            "{text}"
        );
        let platform = keyring_core::mock::Store::new().expect("a mock store");
        printer_keys_round_trip(&KeyringStore::with_store("printscout-test", platform));
    }

    #[test]
    fn keychain_errors_holding_bytes_are_described_without_them() {
        let e = keyring_core::Error::BadEncoding(b"SENTINEL-bytes".to_vec());
        let shown = map_keyring(e).to_string();
        assert!(!shown.contains("SENTINEL"), "{shown}");
        let e = keyring_core::Error::BadDataFormat(
            b"SENTINEL-bytes".to_vec(),
            Box::new(std::io::Error::other("bad")),
        );
        let err = map_keyring(e);
        assert!(!format!("{err} {err:?}").contains("SENTINEL"));
    }
}
