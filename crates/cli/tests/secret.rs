//! `printscout secret` end to end: with `[secrets] store = "file"` a value
//! set through stdin is reported as set, lands in a 0600 file and is never
//! printed, and is deleted again; with the default keychain and no session
//! bus, `set` fails with the stable code, tells the user about the file
//! store, and writes nothing.

use std::path::Path;
use std::process::{Command, Output};

use printscout_testkit::cmd::{output_with_stdin, shown};

const SENTINEL: &str = "SENTINEL-cli-7f3a";

/// Runs `printscout secret ARGS` with the given config, data directory and
/// stdin, and no session bus (so a keychain is never the real one).
fn secret(dir: &Path, config: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let cfg = dir.join("printscout.toml");
    std::fs::write(&cfg, config).expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_printscout"));
    command
        .arg("secret")
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.join("no-bus").display()),
        )
        .env_remove("PRINTSCOUT_LOG");
    output_with_stdin(command, stdin)
}

fn assert_no_value(o: &Output) {
    let all = shown(o);
    assert!(!all.contains("SENTIN"), "a value was printed:\n{all}");
}

const FILE_STORE: &str = "[secrets]\nstore = \"file\"\n";

#[test]
fn a_secret_set_through_stdin_is_kept_privately_and_never_printed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();

    let o = secret(
        d,
        FILE_STORE,
        &["set", "upload-token"],
        Some(&format!("{SENTINEL}\n")),
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    assert!(shown(&o).contains("secrets.json"), "{}", shown(&o));

    let file = d.join("data/secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("the file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
    assert_eq!(
        stored["secrets"]["upload-token"], SENTINEL,
        "the trailing newline is dropped"
    );

    // --stdin reads stdin explicitly; the value may hold spaces.
    let o = secret(
        d,
        FILE_STORE,
        &["set", "smtp-password", "--stdin"],
        Some("SENTINEL with spaces"),
    );
    assert!(o.status.success(), "{}", shown(&o));

    let o = secret(d, FILE_STORE, &["status"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("secrets.json"), "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in\n{out}"))
            .to_string()
    };
    assert!(line("upload-token").ends_with(" set"), "{out}");
    assert!(line("smtp-password").ends_with(" set"), "{out}");
    assert!(line("proxy-password").ends_with("not set"), "{out}");

    let o = secret(d, FILE_STORE, &["status", "--json"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["store"], "file");
    let set: Vec<(String, bool)> = doc["secrets"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("a name").to_string(),
                s["set"].as_bool().expect("a bool"),
            )
        })
        .collect();
    assert_eq!(
        set,
        [
            ("upload-token".to_string(), true),
            ("smtp-password".to_string(), true),
            ("proxy-password".to_string(), false),
        ]
    );

    let o = secret(d, FILE_STORE, &["delete", "upload-token"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert!(shown(&o).contains("deleted"), "{}", shown(&o));
    let o = secret(d, FILE_STORE, &["delete", "upload-token"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert!(shown(&o).contains("was not set"), "{}", shown(&o));
    let o = secret(d, FILE_STORE, &["status", "--json"], None);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["secrets"][0]["set"], false);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(!text.contains(SENTINEL), "{text}");
}

#[test]
fn an_unknown_name_or_an_empty_value_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    let o = secret(d, FILE_STORE, &["set", "community"], Some("SENTINEL"));
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    assert!(shown(&o).contains("upload-token"), "{}", shown(&o));
    assert_no_value(&o);

    let o = secret(d, FILE_STORE, &["set", "proxy-password"], Some("\n"));
    assert!(!o.status.success(), "{}", shown(&o));
    assert!(shown(&o).contains("empty"), "{}", shown(&o));
    assert!(!d.join("data/secrets.json").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn with_no_keychain_set_fails_with_the_code_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    let o = secret(d, "", &["set", "upload-token"], Some(SENTINEL));
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    assert_no_value(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("secret_store_unavailable"), "{err}");
    assert!(err.contains("no keychain"), "{err}");
    assert!(err.contains("store = \"file\""), "{err}");
    assert!(!d.join("data").exists(), "nothing is written instead");

    let o = secret(d, "", &["status", "--json"], None);
    assert_eq!(o.status.code(), Some(1), "{}", shown(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["store"], "keyring");
    assert_eq!(
        doc["secrets"][0]["error"]["code"], "secret_store_unavailable",
        "{doc}"
    );
    assert_eq!(doc["secrets"][0]["set"], serde_json::Value::Null);
}

#[test]
fn a_printer_key_is_kept_under_its_canonical_name_listed_and_never_printed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    let canonical = "printer-key:octoprint://printer.local:5000";

    let o = secret(
        d,
        FILE_STORE,
        &["set", "printer-key:octoprint://Printer.Local"],
        Some(&format!("{SENTINEL}\n")),
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    assert!(shown(&o).contains(canonical), "{}", shown(&o));
    let o = secret(
        d,
        FILE_STORE,
        &["set", "printer-key:bambu://01S00C000000001@10.0.0.8"],
        Some("SENTINEL-access-code"),
    );
    assert!(o.status.success(), "{}", shown(&o));
    let o = secret(d, FILE_STORE, &["set", "upload-token"], Some("SENTINEL-t"));
    assert!(o.status.success(), "{}", shown(&o));

    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("data/secrets.json")).expect("read"))
            .expect("JSON");
    assert_eq!(stored["secrets"][canonical], SENTINEL);

    let o = secret(d, FILE_STORE, &["list"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    let listed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        listed,
        [
            "upload-token",
            "printer-key:bambu://01S00C000000001@10.0.0.8:8883",
            canonical
        ]
    );
    let o = secret(d, FILE_STORE, &["list", "--json"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(doc["store"], "file");
    assert_eq!(doc["names"][2], canonical);

    let o = secret(d, FILE_STORE, &["status", "--json"], None);
    assert!(o.status.success(), "{}", shown(&o));
    assert_no_value(&o);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert!(
        doc["secrets"]
            .as_array()
            .expect("an array")
            .iter()
            .any(|s| s["name"] == canonical && s["set"] == true),
        "{doc}"
    );

    // Deleted under yet another spelling of the same printer.
    let o = secret(
        d,
        FILE_STORE,
        &["delete", "printer-key:OCTOPRINT://printer.local:5000/"],
        None,
    );
    assert!(o.status.success(), "{}", shown(&o));
    assert!(shown(&o).contains("deleted"), "{}", shown(&o));
    let o = secret(d, FILE_STORE, &["list"], None);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(canonical));
}

#[test]
fn a_bad_printer_key_name_is_bad_usage_and_never_echoes_a_password() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    for (name, why) in [
        (
            "printer-key:octoprint://admin:SENTINEL-pw@10.0.0.5",
            "--key-env",
        ),
        ("printer-key:http://10.0.0.5", "octoprint://"),
        ("printer-key:bambu://10.0.0.8", "serial"),
        ("SENTINEL-typed-as-name", "printer-key:<scheme>"),
    ] {
        let o = secret(d, FILE_STORE, &["set", name], Some("SENTINEL-value"));
        assert_eq!(o.status.code(), Some(2), "{name}: {}", shown(&o));
        assert_no_value(&o);
        assert!(shown(&o).contains(why), "{name}: {}", shown(&o));
    }
    assert!(!d.join("data/secrets.json").exists());
}
