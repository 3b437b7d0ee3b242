//! The configuration file: every fixture under `tests/config/valid` loads, every
//! one under `tests/config/invalid` fails with an error naming the key given in
//! its first line (`# expect: schedule.status_every`), the documented example in
//! `docs/configuration.md` is exactly the defaults, no secret reaches an error or
//! `Debug`, `resolve` picks the file the way the CLI documents, and a saved
//! configuration (0600, atomic) reads back equal.
//!
//! Secrets in the fixtures contain `SENTIN` (or are the number 73573573), so a
//! leak is a substring search away.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::NaiveTime;
use printscout_engine::config::{
    self, Config, ConfigError, CredentialConfig, ProxyMode, SAVED_HEADER, SecretStoreKind,
};
use printscout_engine::secret::Secret;
use printscout_engine::snmp::{AuthProto, Credential, PrivProto, Version};

const SENTINELS: [&str; 2] = ["SENTIN", "73573573"];

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the fixture directory exists")
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(kind)
        .join(name)
}

fn assert_no_secret(text: &str, what: &str) {
    for s in SENTINELS {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

#[test]
fn every_valid_fixture_loads() {
    for path in fixtures("valid") {
        let config =
            Config::load(&path).unwrap_or_else(|e| panic!("{} should load: {e}", path.display()));
        assert_no_secret(&format!("{config:?}"), "Debug of a config");
        let creds = config
            .effective_credentials()
            .unwrap_or_else(|e| panic!("{} credentials: {e}", path.display()));
        assert!(!creds.is_empty());
        assert_no_secret(&format!("{creds:?}"), "Debug of credentials");
    }
}

#[test]
fn every_invalid_fixture_fails_naming_its_key() {
    for path in fixtures("invalid") {
        let text = std::fs::read_to_string(&path).expect("a readable fixture");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{} lacks a '# expect: key' line", path.display()));
        let err = match Config::load(&path) {
            Ok(_) => panic!("{} should be refused", path.display()),
            Err(e) => e,
        };
        let shown = err.to_string();
        assert!(
            shown.contains(expect),
            "{}: the error should name '{expect}': {shown}",
            path.display()
        );
        assert_no_secret(&shown, "an error message");
        assert_no_secret(&format!("{err:?}"), "Debug of an error");
        if let ConfigError::Parse { path: p, .. } = &err {
            assert_eq!(p.as_deref(), Some(path.as_path()));
        }
    }
}

/// The first ```toml block of the user documentation.
fn documented_example() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(&doc).expect("docs/configuration.md exists");
    let start = text.find("```toml\n").expect("the doc has a ```toml block") + "```toml\n".len();
    let len = text[start..].find("\n```").expect("the block is closed");
    text[start..start + len].to_string()
}

#[test]
fn the_documented_example_is_exactly_the_defaults() {
    let example = documented_example();
    let config = Config::from_toml_str(&example).expect("the documented example parses");
    assert_eq!(config, Config::default());
}

#[test]
fn the_documented_example_lists_every_key() {
    let example = documented_example();
    for key in [
        "status_every",
        "meters_every",
        "jobs_every",
        "rediscover_every",
        "report_every",
        "report_at",
        "supply_low_percent",
        "supply_empty_percent",
        "offline_after",
        "port",
        "timeout",
        "retries",
        "rate",
        "concurrency",
        "[[credentials]]",
        "name",
        "version",
        "community",
        "user",
        "auth_protocol",
        "auth_passphrase",
        "privacy_protocol",
        "privacy_passphrase",
        "context",
        "networks",
        "broadcast",
        "dns_sd",
        "local_queues",
        "allow_public",
        "level",
        "keep_files",
        "data_dir",
        "outbox_max",
        "[api]",
        "[upload]",
        "url",
        "ca_file",
        "[email]",
        "smtp_url",
        "from",
        "to",
        "[proxy]",
        "mode",
        "[secrets]",
        "store",
    ] {
        assert!(example.contains(key), "the example lacks {key}");
    }
}

#[test]
fn an_empty_file_is_the_built_in_defaults() {
    let config = Config::from_toml_str("").expect("empty is fine");
    assert_eq!(config, Config::default());
    let d = Config::default();
    assert_eq!(d.schedule.status_every, Duration::from_secs(300));
    assert_eq!(d.schedule.meters_every, Duration::from_secs(3600));
    assert_eq!(d.schedule.jobs_every, Duration::from_secs(3600));
    assert_eq!(d.schedule.rediscover_every, Duration::from_secs(84 * 3600));
    assert_eq!(d.schedule.report_every, Duration::from_secs(86_400));
    assert_eq!(
        d.schedule.report_at,
        NaiveTime::from_hms_opt(6, 0, 0).expect("a time")
    );
    assert_eq!(d.thresholds.supply_low_percent, 20.0);
    assert_eq!(d.thresholds.supply_empty_percent, 0.0);
    assert_eq!(d.thresholds.offline_after, 3);
    assert_eq!(d.snmp.port, 161);
    assert_eq!(d.snmp.timeout, Duration::from_secs(2));
    assert_eq!(d.snmp.retries, 1);
    assert_eq!(d.snmp.rate, 500);
    assert_eq!(d.snmp.concurrency, 64);
    assert!(d.credentials.is_empty());
    assert!(d.discovery.networks.is_empty());
    assert!(d.discovery.broadcast && d.discovery.dns_sd && d.discovery.local_queues);
    assert!(!d.discovery.allow_public);
    assert_eq!(d.discovery.rate, 500);
    assert_eq!(d.log.level, "info");
    assert_eq!(d.log.keep_files, 7);
    assert_eq!(d.store.data_dir, None);
    assert_eq!(d.store.outbox_max, 250_000);
    assert_eq!(d.api.port, 9161);
    assert_eq!(d.upload.url, "");
    assert_eq!(d.upload.ca_file, None);
    assert_eq!(d.email.smtp_url, "");
    assert_eq!(d.email.from, "");
    assert!(d.email.to.is_empty());
    assert_eq!(d.email.user, "");
    assert_eq!(d.proxy.mode, ProxyMode::System);
    assert_eq!(d.proxy.url, "");
    assert_eq!(d.proxy.user, "");
    assert_eq!(d.secrets.store, SecretStoreKind::Keyring);
    d.validate().expect("the defaults are valid");
}

#[test]
fn a_full_file_sets_every_value() {
    let c = Config::load(&fixture("valid", "full.toml")).expect("full.toml loads");
    assert_eq!(c.schedule.status_every, Duration::from_secs(30));
    assert_eq!(c.schedule.meters_every, Duration::from_secs(15 * 60));
    assert_eq!(c.schedule.jobs_every, Duration::from_secs(2 * 3600));
    assert_eq!(c.schedule.rediscover_every, Duration::from_secs(7 * 86_400));
    assert_eq!(c.schedule.report_every, Duration::from_secs(86_400));
    assert_eq!(
        c.schedule.report_at,
        NaiveTime::from_hms_opt(7, 30, 0).expect("a time")
    );
    assert_eq!(c.thresholds.supply_low_percent, 15.0);
    assert_eq!(c.thresholds.supply_empty_percent, 2.5);
    assert_eq!(c.thresholds.offline_after, 5);
    assert_eq!(c.snmp.port, 1161);
    assert_eq!(c.snmp.timeout, Duration::from_millis(750));
    assert_eq!(c.snmp.retries, 2);
    assert_eq!(c.snmp.rate, 200);
    assert_eq!(c.snmp.concurrency, 16);
    assert_eq!(c.credentials.len(), 3);
    assert_eq!(c.discovery.networks, ["10.1.0.0/22", "192.168.5.10-50"]);
    assert!(!c.discovery.broadcast && !c.discovery.dns_sd && !c.discovery.local_queues);
    assert_eq!(c.discovery.rate, 100);
    assert_eq!(c.log.level, "debug");
    assert_eq!(c.log.keep_files, 14);
    assert_eq!(
        c.store.data_dir.as_deref(),
        Some(Path::new("/var/lib/printscout"))
    );
    assert_eq!(c.store.outbox_max, 5000);
    assert_eq!(c.api.port, 9300);
    assert_eq!(c.upload.url, "https://upload.example/api/v1");
    assert_eq!(
        c.upload.ca_file.as_deref(),
        Some(Path::new("/etc/printscout/ca.pem"))
    );
    assert_eq!(c.email.smtp_url, "smtps://mail.example:465");
    assert_eq!(c.email.from, "PrintScout <printscout@example.com>");
    assert_eq!(
        c.email.to,
        ["dealer@example.com", "Office <office@example.com>"]
    );
    assert_eq!(c.email.user, "printscout");
    assert_eq!(c.proxy.mode, ProxyMode::Manual);
    assert_eq!(c.proxy.url, "http://proxy.example:3128");
    assert_eq!(c.proxy.user, "monitor");
    assert_eq!(c.secrets.store, SecretStoreKind::File);
}

#[test]
fn configured_credentials_keep_their_order_names_and_values() {
    let c = Config::load(&fixture("valid", "full.toml")).expect("full.toml loads");
    let creds = c.effective_credentials().expect("valid credentials");
    let names: Vec<&str> = creds.iter().map(Credential::name).collect();
    assert_eq!(names, ["office", "legacy", "monitoring-v3"]);
    match &creds[0] {
        Credential::Community {
            version, community, ..
        } => {
            assert_eq!(*version, Version::V2c);
            assert_eq!(community.expose(), "SENTINEL-office-community");
        }
        other => panic!("expected a community credential, got {other:?}"),
    }
    match &creds[1] {
        Credential::Community {
            version, community, ..
        } => {
            assert_eq!(*version, Version::V1);
            // A context on v1/v2c is community-string indexing.
            assert_eq!(community.expose(), "SENTINEL-legacy-community@Jetdirect");
        }
        other => panic!("expected a community credential, got {other:?}"),
    }
    match &creds[2] {
        Credential::V3 {
            user,
            auth,
            privacy,
            context,
            ..
        } => {
            assert_eq!(user, "monitor");
            let (a, ap) = auth.as_ref().expect("authentication");
            assert_eq!(*a, AuthProto::Sha256);
            assert_eq!(ap.expose(), "SENTINEL-auth-pass");
            let (p, pp) = privacy.as_ref().expect("privacy");
            assert_eq!(*p, PrivProto::Aes128);
            assert_eq!(pp.expose(), "SENTINEL-priv-pass");
            assert_eq!(context, "Jetdirect");
        }
        other => panic!("expected a v3 credential, got {other:?}"),
    }
}

#[test]
fn protocol_names_are_case_insensitive_and_have_short_forms() {
    let c = Config::load(&fixture("valid", "v3.toml")).expect("v3.toml loads");
    let creds = c.effective_credentials().expect("valid credentials");
    let levels: Vec<(Option<AuthProto>, Option<PrivProto>)> = creds
        .iter()
        .map(|c| match c {
            Credential::V3 { auth, privacy, .. } => (
                auth.as_ref().map(|(a, _)| *a),
                privacy.as_ref().map(|(p, _)| *p),
            ),
            other => panic!("expected v3, got {other:?}"),
        })
        .collect();
    assert_eq!(
        levels,
        [
            (Some(AuthProto::Sha1), Some(PrivProto::Aes128)),
            (Some(AuthProto::Sha512), None),
            (None, None),
        ]
    );
    assert!(creds.iter().all(|c| c.version() == Version::V3));
}

#[test]
fn with_no_credentials_the_public_community_is_used() {
    let creds = Config::default()
        .effective_credentials()
        .expect("the default credential");
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].name(), "public");
    assert_eq!(creds[0].version(), Version::V2c);
    match &creds[0] {
        Credential::Community { community, .. } => assert_eq!(community.expose(), "public"),
        other => panic!("expected a community credential, got {other:?}"),
    }
}

#[test]
fn a_credential_converts_on_its_own_and_names_itself_in_errors() {
    let ok = CredentialConfig {
        name: "office".into(),
        community: Some(Secret::new("SENTINEL-x")),
        ..CredentialConfig::default()
    };
    assert_eq!(ok.version, "2c", "2c is the default version");
    let cred = ok.to_credential().expect("a valid community credential");
    assert_eq!(cred.name(), "office");

    let short = CredentialConfig {
        name: "v3-office".into(),
        version: "3".into(),
        user: Some("monitor".into()),
        auth_protocol: Some("md5".into()),
        auth_passphrase: Some(Secret::new("SENTIN")),
        ..CredentialConfig::default()
    };
    let err = short.to_credential().expect_err("a short passphrase");
    let shown = err.to_string();
    assert!(shown.contains("v3-office"), "{shown}");
    assert!(shown.contains("auth_passphrase"), "{shown}");
    assert_no_secret(&shown, "an error message");
}

#[test]
fn the_debug_output_of_a_config_never_shows_a_secret() {
    let c = Config::load(&fixture("valid", "full.toml")).expect("full.toml loads");
    let debug = format!("{c:?} {c:#?}");
    assert_no_secret(&debug, "Debug of a config");
    assert!(debug.contains("monitoring-v3"), "names are shown");
}

#[test]
fn a_parse_error_gives_the_file_line_and_column_without_quoting_the_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("printscout.toml");
    std::fs::write(
        &path,
        "[snmp]\nport = 161\n\n[[credentials]]\nname = \"x\"\ncommunity = \"SENTINEL\" trailing\n",
    )
    .expect("write");
    let err = Config::load(&path).expect_err("not TOML");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(shown.contains("line 6"), "{shown}");
    assert_no_secret(&shown, "a syntax error");
}

#[test]
fn a_broken_secret_line_is_never_quoted_back() {
    for line in [
        "community = \"SENTINEL-unterminated",
        "community = \"SENTINEL\\q-bad-escape\"",
        "community = 'SENTINEL' 'twice'",
        "community = SENTINEL-unquoted",
        "community = [\"SENTINEL-in-a-list\"]",
        "community = { value = \"SENTINEL-in-a-table\" }",
    ] {
        let text = format!("[[credentials]]\nname = \"x\"\n{line}\n");
        let err = Config::from_toml_str(&text).expect_err("broken");
        let shown = err.to_string();
        assert!(shown.contains("line 3"), "{line}: {shown}");
        assert_no_secret(&shown, "an error message");
        assert_no_secret(&format!("{err:?}"), "Debug of an error");
    }
}

#[test]
fn an_unknown_key_is_named_with_its_table() {
    let err = Config::from_toml_str("[snmp]\nport = 161\ntimout = \"1s\"\n").expect_err("typo");
    let shown = err.to_string();
    assert!(shown.contains("snmp.timout"), "{shown}");
    assert!(shown.contains("line 3, column 1"), "{shown}");
    assert!(
        shown.contains("timeout"),
        "the valid keys are listed: {shown}"
    );
}

#[test]
fn a_relative_data_dir_is_relative_to_the_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, "[store]\ndata_dir = \"data\"\n").expect("write");
    let c = Config::load(&path).expect("loads");
    assert_eq!(c.store.data_dir, Some(dir.path().join("data")));
    // From text alone there is no file to be relative to.
    let c = Config::from_toml_str("[store]\ndata_dir = \"data\"\n").expect("parses");
    assert_eq!(c.store.data_dir, Some(PathBuf::from("data")));
}

#[test]
fn an_explicit_file_that_does_not_exist_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("nope.toml");
    let err = config::resolve(Some(&missing)).expect_err("missing file");
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("nope.toml"), "{shown}");
    assert!(shown.contains("cannot read config file"), "{shown}");
}

#[test]
fn an_explicit_file_is_used_and_reported() {
    let path = fixture("valid", "full.toml");
    let (c, used) = config::resolve(Some(&path)).expect("loads");
    assert_eq!(used.as_deref(), Some(path.as_path()));
    assert_eq!(c.snmp.port, 1161);
}

#[test]
fn a_toml_local_time_is_accepted_for_report_at() {
    let c = Config::load(&fixture("valid", "report-at-toml-time.toml")).expect("loads");
    assert_eq!(
        c.schedule.report_at,
        NaiveTime::from_hms_opt(18, 45, 0).expect("a time")
    );
}

#[test]
fn a_relative_ca_file_is_relative_to_the_file() {
    let path = fixture("valid", "uplink-loopback.toml");
    let c = Config::load(&path).expect("loads");
    let dir = path.parent().expect("a directory");
    assert_eq!(c.upload.ca_file, Some(dir.join("ca.pem")));
    assert_eq!(c.api.port, 0, "0 = any free port");
    assert_eq!(c.proxy.mode, ProxyMode::Environment);
}

#[test]
fn an_api_address_is_refused_because_the_api_is_loopback_only() {
    for key in ["address", "bind", "host", "listen"] {
        let text = format!("[api]\n{key} = \"0.0.0.0\"\n");
        let err = Config::from_toml_str(&text).expect_err("an address is refused");
        let shown = err.to_string();
        assert!(shown.contains(&format!("api.{key}")), "{shown}");
        assert!(
            shown.contains("loopback") || shown.contains("127.0.0.1"),
            "{shown}"
        );
        assert!(shown.contains("cannot be exposed"), "{shown}");
    }
}

#[test]
fn a_secret_in_the_file_points_to_the_secret_command() {
    for (text, name) in [
        ("[upload]\ntoken = \"SENTINEL\"\n", "upload-token"),
        ("[upload]\nsite_token = \"SENTINEL\"\n", "upload-token"),
        ("[email]\npassword = \"SENTINEL\"\n", "smtp-password"),
        ("[email]\nsmtp-password = \"SENTINEL\"\n", "smtp-password"),
        ("[proxy]\npassword = \"SENTINEL\"\n", "proxy-password"),
        ("[proxy]\npass = 73573573\n", "proxy-password"),
    ] {
        let err = Config::from_toml_str(text).expect_err("a secret key is refused");
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("printscout secret set {name}")),
            "{text}: {shown}"
        );
        assert_no_secret(&shown, "an error message");
        assert_no_secret(&format!("{err:?}"), "Debug of an error");
    }
}

#[test]
fn plain_http_upload_is_only_for_loopback() {
    for url in [
        "http://127.0.0.1:8080/",
        "http://127.9.9.9/",
        "http://[::1]:8443/x",
        "http://localhost/",
        "https://upload.example/",
        "https://10.1.2.3:8443/api",
    ] {
        let text = format!("[upload]\nurl = \"{url}\"\n");
        Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    for url in [
        "http://10.1.2.3/",
        "http://upload.example/",
        "http://localhost.evil.example/",
        "http://0.0.0.0/",
    ] {
        let text = format!("[upload]\nurl = \"{url}\"\n");
        let err = Config::from_toml_str(&text).expect_err(url);
        assert!(err.to_string().contains("upload.url"), "{url}: {err}");
    }
}

#[test]
fn e_mail_addresses_must_look_like_an_address() {
    for ok in [
        "a@b",
        "printscout@example.com",
        "PrintScout <printscout@example.com>",
        "\"Office, 2nd floor\" <office@example.com>",
    ] {
        let c = Config {
            email: config::EmailSettings {
                from: ok.into(),
                ..Default::default()
            },
            ..Config::default()
        };
        c.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "printscout",
        "@example.com",
        "printscout@",
        "a b@example.com",
        "a@b, c@d",
        "<a@b",
        "a@.example",
    ] {
        let c = Config {
            email: config::EmailSettings {
                from: bad.into(),
                ..Default::default()
            },
            ..Config::default()
        };
        let err = c.validate().expect_err(bad);
        assert!(err.to_string().starts_with("email.from:"), "{bad}: {err}");
    }
}

#[test]
fn every_valid_fixture_reads_back_equal_from_its_saved_text() {
    for path in fixtures("valid") {
        let c = Config::load(&path).expect("a valid fixture");
        let text = c.to_toml_string();
        assert!(text.starts_with(SAVED_HEADER), "{text}");
        let back = Config::from_toml_str(&text).unwrap_or_else(|e| {
            panic!("{}: the saved text is refused: {e}\n{text}", path.display())
        });
        assert_eq!(back, c, "{}:\n{text}", path.display());
    }
    let d = Config::default();
    assert_eq!(
        Config::from_toml_str(&d.to_toml_string()).expect("defaults"),
        d
    );
}

#[test]
fn odd_durations_and_times_survive_a_round_trip() {
    let mut c = Config::default();
    c.schedule.status_every = Duration::from_millis(1_500);
    c.schedule.rediscover_every = Duration::from_secs(3 * 86_400 + 3_600 + 7);
    c.schedule.report_at = NaiveTime::from_hms_milli_opt(23, 59, 58, 250).expect("a time");
    c.snmp.timeout = Duration::from_micros(10_500);
    c.thresholds.supply_low_percent = 12.345;
    let back = Config::from_toml_str(&c.to_toml_string()).expect("reads back");
    assert_eq!(back, c);
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
fn a_saved_file_is_private_complete_and_reads_back_equal() {
    let c = Config::load(&fixture("valid", "full.toml")).expect("full.toml loads");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("conf/printscout.toml");
    c.save(&path).expect("saved");
    let text = std::fs::read_to_string(&path).expect("readable");
    assert!(text.starts_with(SAVED_HEADER), "{text}");
    // The SNMP secrets stay in the (0600) file for now.
    assert!(text.contains("SENTINEL-office-community"), "{text}");
    assert_eq!(Config::load(&path).expect("loads"), c);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // Saving over an existing, wider file leaves it 0600 and leaves no
    // temporary file behind.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    Config::default().save(&path).expect("saved again");
    assert_eq!(Config::load(&path).expect("loads"), Config::default());
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let names: Vec<String> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["printscout.toml"]);
}

#[test]
fn an_invalid_config_is_not_saved_and_the_old_file_stays() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("printscout.toml");
    Config::default().save(&path).expect("saved");
    let before = std::fs::read(&path).expect("read");
    let mut bad = Config::default();
    bad.proxy.mode = ProxyMode::Manual;
    let err = bad.save(&path).expect_err("a manual proxy needs a url");
    assert!(err.to_string().contains("proxy.url"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn the_debug_output_of_a_built_config_never_shows_a_community() {
    let mut c = Config::default();
    c.credentials.push(CredentialConfig {
        name: "office".into(),
        community: Some(Secret::new("SENTINEL-debug-community")),
        ..CredentialConfig::default()
    });
    c.upload.url = "https://upload.example/".into();
    let debug = format!("{c:?} {c:#?}");
    assert_no_secret(&debug, "Debug of a config");
    assert!(debug.contains("office"));
}

// `resolve(None)` depends on the home directory, which only a child process
// can change safely: these run this test binary again with HOME and the XDG
// variables pointing into a temporary directory.

const CHILD_MODE: &str = "PRINTSCOUT_CONFIG_TEST_CHILD";

fn run_child(mode: &str, home: &Path) {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "resolve_in_a_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child '{mode}' failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn resolve_in_a_child_process() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return; // Only meaningful when started by the tests below.
    };
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    let paths = config::default_paths().expect("a home directory");
    assert_eq!(
        paths.config_file,
        home.join("config/printscout/printscout.toml")
    );
    assert_eq!(paths.data_dir, home.join("data/printscout"));
    let (c, used) = config::resolve(None).expect("resolves");
    match mode.as_str() {
        "no-file" => {
            assert_eq!(used, None);
            assert_eq!(c, Config::default());
        }
        "file" => {
            assert_eq!(used, Some(paths.config_file));
            assert_eq!(c.schedule.status_every, Duration::from_secs(7 * 60));
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn with_no_path_and_no_default_file_the_defaults_are_used() {
    let home = tempfile::tempdir().expect("a temp dir");
    run_child("no-file", home.path());
}

#[test]
fn with_no_path_the_default_file_is_used_when_it_exists() {
    let home = tempfile::tempdir().expect("a temp dir");
    let dir = home.path().join("config/printscout");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("printscout.toml"),
        "[schedule]\nstatus_every = \"7m\"\n",
    )
    .expect("write");
    run_child("file", home.path());
}
