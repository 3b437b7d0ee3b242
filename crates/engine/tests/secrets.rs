//! The secret store: the opt-in file (round trip, 0600, atomic replacement,
//! refusal of a file others can read), the memory store, the keychain over
//! keyring-core's mock store with injected failures (stable codes, nothing
//! written to disk), a real "no keychain here" in a child process without a
//! session bus, Debug and errors free of values, unknown names refused — and,
//! `#[ignore]`d, a real Secret Service (run by `scripts/test-keyring.sh`).
//!
//! Values contain `SENTIN`, so a leak is a substring search away.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use printscout_engine::config::{Config, SecretStoreKind};
use printscout_engine::secret::Secret;
use printscout_engine::secrets::keyring_core::{self, mock};
use printscout_engine::secrets::{
    self, FileStore, KeyringStore, MemoryStore, NAMES, PROXY_PASSWORD, SMTP_PASSWORD, SecretError,
    SecretStore, UPLOAD_TOKEN,
};

const SENTINEL: &str = "SENTINEL-7f3a-value";

/// Every byte of every file under `dir`, searched for `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in entries {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && String::from_utf8_lossy(&bytes).contains(needle)
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

fn assert_shows_no_value(text: &str, what: &str) {
    assert!(!text.contains("SENTIN"), "{what} shows a value: {text}");
}

/// A full round trip through any store: unset, set, replace, the others
/// untouched, delete, delete again.
fn round_trip(store: &dyn SecretStore) {
    for name in NAMES {
        assert_eq!(store.get(name).expect("get"), None, "{name} starts unset");
        assert!(!store.is_set(name).expect("is_set"));
    }
    store
        .set(UPLOAD_TOKEN, &Secret::new("SENTINEL-first"))
        .expect("set");
    store
        .set(UPLOAD_TOKEN, &Secret::new(SENTINEL))
        .expect("replace");
    store
        .set(
            SMTP_PASSWORD,
            &Secret::new("SENTINEL-smtp ünïcode \"quoted\"\n"),
        )
        .expect("set another");
    let got = store.get(UPLOAD_TOKEN).expect("get").expect("set");
    assert_eq!(got.expose(), SENTINEL);
    assert_eq!(
        store
            .get(SMTP_PASSWORD)
            .expect("get")
            .expect("set")
            .expose(),
        "SENTINEL-smtp ünïcode \"quoted\"\n"
    );
    assert!(store.is_set(UPLOAD_TOKEN).expect("is_set"));
    assert!(!store.is_set(PROXY_PASSWORD).expect("is_set"));
    store.delete(UPLOAD_TOKEN).expect("delete");
    assert_eq!(store.get(UPLOAD_TOKEN).expect("get"), None);
    store
        .delete(UPLOAD_TOKEN)
        .expect("deleting an unset secret is fine");
    assert!(store.is_set(SMTP_PASSWORD).expect("the other one stays"));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_file_store_round_trips_in_a_private_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let store = FileStore::new(data.join("secrets.json"));
    assert!(!data.exists(), "nothing is created before the first set");
    round_trip(&store);
    let path = data.join("secrets.json");
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&data), 0o700);
    }
    // Kept across instances (the service reads what the CLI wrote).
    let again = FileStore::new(&path);
    assert!(again.is_set(SMTP_PASSWORD).expect("is_set"));
    assert_eq!(store.kind(), "file");
    assert!(store.location().contains("secrets.json"));
}

#[test]
fn the_file_store_replaces_the_file_atomically() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("secrets.json");
    let store = Arc::new(FileStore::new(&path));
    store
        .set(UPLOAD_TOKEN, &Secret::new("SENTINEL-0"))
        .expect("set");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..60 {
                // Long values, so a torn write would show as bad JSON.
                let value = format!("SENTINEL-{i}-{}", "x".repeat(64 * 1024));
                store.set(UPLOAD_TOKEN, &Secret::new(value)).expect("set");
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // A reader that bypasses the store's lock sees a whole file every time.
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) {
        let bytes = std::fs::read(&path).expect("the file is always there");
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).expect("never a partly written file");
        assert!(v["secrets"][UPLOAD_TOKEN].is_string());
        reads += 1;
    }
    writer.join().expect("the writer finishes");
    assert!(reads > 0);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["secrets.json"], "no temporary file is left behind");
}

#[cfg(unix)]
#[test]
fn a_secrets_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("secrets.json");
    let store = FileStore::new(&path);
    store
        .set(UPLOAD_TOKEN, &Secret::new(SENTINEL))
        .expect("set");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = store
        .get(UPLOAD_TOKEN)
        .expect_err("a readable file is refused");
    assert_eq!(err.code(), "secret_file_insecure");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    let err = store
        .set(SMTP_PASSWORD, &Secret::new("SENTINEL-x"))
        .expect_err("and not written to either");
    assert_eq!(err.code(), "secret_file_insecure");
    assert_eq!(mode(&path), 0o644, "the file is left for the user to fix");
}

#[test]
fn a_damaged_secrets_file_is_reported_without_quoting_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("secrets.json");
    for text in [
        "{\"format\": 1, \"secrets\": {\"upload-token\": 73573573}}".to_string(),
        format!("{{\"format\": 1, \"secrets\": {{\"upload-token\": \"{SENTINEL}\""),
        format!("[\"{SENTINEL}\"]"),
    ] {
        std::fs::write(&path, &text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let err = FileStore::new(&path)
            .get(UPLOAD_TOKEN)
            .expect_err("a damaged file");
        assert_eq!(err.code(), "secret_store_error");
        let shown = format!("{err} {err:?}");
        assert_shows_no_value(&shown, "an error");
        assert!(!shown.contains("73573573"), "{shown}");
        assert!(shown.contains("secrets.json"), "{shown}");
    }
}

#[test]
fn the_memory_store_round_trips() {
    let store = MemoryStore::new();
    round_trip(&store);
    assert_eq!(store.kind(), "memory");
}

fn mock_store() -> Arc<keyring_core::CredentialStore> {
    mock::Store::new().expect("a mock store")
}

/// Makes the next call on `service`/`name` in `store` fail with `error`.
fn fail_next(
    store: &Arc<keyring_core::CredentialStore>,
    service: &str,
    name: &str,
    error: keyring_core::Error,
) {
    let entry = store.build(service, name, None).expect("a mock entry");
    let cred: &mock::Cred = entry.as_any().downcast_ref().expect("a mock credential");
    cred.set_error(error);
}

#[test]
fn the_keyring_store_round_trips_over_the_mock_store() {
    let store = KeyringStore::with_store("printscout-test", mock_store());
    round_trip(&store);
    assert_eq!(store.kind(), "keyring");
    assert!(store.location().contains("printscout-test"));
}

#[test]
fn a_keychain_that_fails_to_store_gives_a_stable_code_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let config_path = dir.path().join("printscout.toml");
    Config::default().save(&config_path).expect("a config");
    let config_before = std::fs::read(&config_path).expect("read");

    let platform = mock_store();
    let store = KeyringStore::with_store(secrets::SERVICE, platform.clone());
    for (error, code) in [
        (
            keyring_core::Error::NoStorageAccess(Box::new(std::io::Error::other(
                "the collection is locked",
            ))),
            "secret_store_locked",
        ),
        (
            keyring_core::Error::PlatformFailure(Box::new(std::io::Error::other(
                "org.freedesktop.secrets was not provided by any .service files",
            ))),
            "secret_store_unavailable",
        ),
        (
            keyring_core::Error::NoDefaultStore,
            "secret_store_unavailable",
        ),
    ] {
        fail_next(&platform, secrets::SERVICE, UPLOAD_TOKEN, error);
        let err = store
            .set(UPLOAD_TOKEN, &Secret::new(SENTINEL))
            .expect_err("the keychain fails");
        assert_eq!(err.code(), code, "{err}");
        let shown = format!("{err} {err:?}");
        assert_shows_no_value(&shown, "an error");
        assert!(
            shown.contains("[secrets] store = \"file\""),
            "the user is told about the file store: {shown}"
        );
        // Nothing was stored, and there is no plaintext fallback anywhere.
        assert!(!store.is_set(UPLOAD_TOKEN).expect("is_set"));
        assert!(
            files_containing(dir.path(), "SENTIN").is_empty(),
            "a value reached the disk"
        );
        assert!(!data.exists());
        assert_eq!(std::fs::read(&config_path).expect("read"), config_before);
    }

    // Reads and deletes report the same codes.
    fail_next(
        &platform,
        secrets::SERVICE,
        SMTP_PASSWORD,
        keyring_core::Error::NoStorageAccess(Box::new(std::io::Error::other("locked"))),
    );
    let err = store.get(SMTP_PASSWORD).expect_err("locked");
    assert_eq!(err.code(), "secret_store_locked");
    fail_next(
        &platform,
        secrets::SERVICE,
        SMTP_PASSWORD,
        keyring_core::Error::PlatformFailure(Box::new(std::io::Error::other("gone"))),
    );
    let err = store.delete(SMTP_PASSWORD).expect_err("gone");
    assert_eq!(err.code(), "secret_store_unavailable");
}

#[test]
fn bytes_the_keychain_returns_never_reach_an_error() {
    let platform = mock_store();
    let store = KeyringStore::with_store("printscout-test", platform.clone());
    fail_next(
        &platform,
        "printscout-test",
        UPLOAD_TOKEN,
        keyring_core::Error::BadEncoding(SENTINEL.as_bytes().to_vec()),
    );
    let err = store.get(UPLOAD_TOKEN).expect_err("bad encoding");
    assert_eq!(err.code(), "secret_store_error");
    assert_shows_no_value(&format!("{err} {err:?}"), "an error");
}

#[test]
fn no_store_ever_shows_a_value_in_debug() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let stores: Vec<Arc<dyn SecretStore>> = vec![
        Arc::new(MemoryStore::new()),
        Arc::new(FileStore::new(dir.path().join("secrets.json"))),
        Arc::new(KeyringStore::with_store("printscout-test", mock_store())),
    ];
    for store in stores {
        for name in NAMES {
            store.set(name, &Secret::new(SENTINEL)).expect("set");
        }
        let got = store.get(UPLOAD_TOKEN).expect("get");
        let debug = format!("{store:?} {store:#?} {got:?} {}", store.location());
        assert_shows_no_value(&debug, store.kind());
    }
}

#[test]
fn unknown_names_are_refused_by_every_store() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("secrets.json");
    let platform = mock_store();
    let stores: Vec<Arc<dyn SecretStore>> = vec![
        Arc::new(MemoryStore::new()),
        Arc::new(FileStore::new(&path)),
        Arc::new(KeyringStore::with_store(
            "printscout-test",
            platform.clone(),
        )),
    ];
    for store in stores {
        for name in ["", "upload_token", "UPLOAD-TOKEN", "community", "../x"] {
            let err = store
                .set(name, &Secret::new(SENTINEL))
                .expect_err("unknown name");
            assert!(matches!(err, SecretError::UnknownName(_)), "{err:?}");
            assert_eq!(err.code(), "secret_unknown_name");
            assert!(err.to_string().contains("upload-token"), "{err}");
            assert_eq!(
                store.get(name).expect_err("unknown").code(),
                "secret_unknown_name"
            );
            assert_eq!(
                store.delete(name).expect_err("unknown").code(),
                "secret_unknown_name"
            );
        }
    }
    assert!(!path.exists());
    assert!(
        platform
            .search(&std::collections::HashMap::new())
            .map(|v| v.is_empty())
            .unwrap_or(true),
        "no keychain entry was created"
    );
}

#[test]
fn the_configuration_picks_the_store() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::default();
    let store = secrets::open(&config, dir.path());
    assert_eq!(store.kind(), "keyring");
    assert!(store.location().contains("\"printscout\""));
    config.secrets.store = SecretStoreKind::File;
    let store = secrets::open(&config, dir.path());
    assert_eq!(store.kind(), "file");
    store
        .set(PROXY_PASSWORD, &Secret::new(SENTINEL))
        .expect("set");
    assert!(dir.path().join("secrets.json").is_file());
}

// A real "no keychain here": the platform store in a child process whose
// session bus does not exist (the environment of a child is the only safe
// place to change it).

const CHILD_MODE: &str = "PRINTSCOUT_SECRETS_TEST_CHILD";

#[test]
fn without_a_session_bus_in_a_child_process() {
    let Ok(data) = std::env::var(CHILD_MODE) else {
        return; // Only meaningful when started by the test below.
    };
    let store = secrets::open(&Config::default(), Path::new(&data));
    let started = std::time::Instant::now();
    let err = store
        .set(UPLOAD_TOKEN, &Secret::new(SENTINEL))
        .expect_err("no keychain without a session bus");
    assert_eq!(err.code(), "secret_store_unavailable", "{err}");
    assert!(err.to_string().contains("store = \"file\""), "{err}");
    assert_shows_no_value(&format!("{err} {err:?}"), "an error");
    assert_eq!(
        store.is_set(UPLOAD_TOKEN).expect_err("still none").code(),
        "secret_store_unavailable"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a missing keychain is reported at once"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn with_no_keychain_setting_a_secret_fails_and_writes_nothing() {
    let home = tempfile::tempdir().expect("a temp dir");
    let data = home.path().join("data");
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "without_a_session_bus_in_a_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, &data)
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", home.path().join("no-bus").display()),
        )
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        files_containing(home.path(), "SENTIN").is_empty(),
        "a value reached the disk"
    );
}

/// A real Secret Service: run by `scripts/test-keyring.sh` inside
/// `dbus-run-session` with an unlocked gnome-keyring and a temporary HOME.
/// Uses its own service name, so a user's real entries are never touched.
#[test]
#[ignore = "needs a session bus with an unlocked Secret Service: scripts/test-keyring.sh"]
fn keyring_real_secret_service_set_get_delete() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run scripts/test-keyring.sh"
    );
    let service = format!("printscout-test-{}", std::process::id());
    let store = KeyringStore::new(&service);
    let started = std::time::Instant::now();
    round_trip(&store);

    // The item is really in the Secret Service, under service/username
    // attributes any other client can find (secret-tool, from libsecret).
    store
        .set(PROXY_PASSWORD, &Secret::new(SENTINEL))
        .expect("set");
    if let Ok(out) = Command::new("secret-tool")
        .args(["lookup", "service", &service, "username", PROXY_PASSWORD])
        .output()
    {
        assert!(out.status.success(), "secret-tool finds the item");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), SENTINEL);
    }
    // A second store (another process, in practice) sees it.
    assert_eq!(
        KeyringStore::new(&service)
            .get(PROXY_PASSWORD)
            .expect("get")
            .expect("set")
            .expose(),
        SENTINEL
    );
    for name in NAMES {
        store.delete(name).expect("delete");
        assert!(!store.is_set(name).expect("is_set"));
    }
    eprintln!("real Secret Service round trip: {:?}", started.elapsed());
}

/// A Secret Service that is there but locked (gnome-keyring started by D-Bus
/// activation, never unlocked): storing fails with a stable code and
/// nothing reaches the disk. Run by `scripts/test-keyring.sh` in a second
/// private session.
#[test]
#[ignore = "needs a session bus with a locked Secret Service: scripts/test-keyring.sh"]
fn secret_service_locked_refuses_to_store() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run scripts/test-keyring.sh"
    );
    let home = std::env::var_os("HOME").expect("HOME");
    let service = format!("printscout-test-{}", std::process::id());
    let store = KeyringStore::new(&service);
    let started = std::time::Instant::now();
    let err = store
        .set(UPLOAD_TOKEN, &Secret::new(SENTINEL))
        .expect_err("a locked keychain refuses");
    eprintln!("locked Secret Service: {err} ({:?})", started.elapsed());
    assert!(
        matches!(
            err.code(),
            "secret_store_locked" | "secret_store_unavailable"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("store = \"file\""), "{err}");
    assert!(
        files_containing(Path::new(&home), "SENTIN").is_empty(),
        "a value reached the disk"
    );
}
