//! SECURITY.md test 11: a snapshot of what the webview may do. Only the
//! `main` window has IPC permissions, and only these; no remote URL gets IPC;
//! the Content-Security-Policy is set, strict, and lets the window talk to
//! nothing but the app itself and the loopback API.

use std::path::Path;

use serde_json::Value;

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn only_the_main_window_has_ipc_permissions_and_only_these() {
    let dir = root().join("capabilities");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the capabilities directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![dir.join("main-window.json")],
        "one capability file, for the main window"
    );
    let cap = json(&files[0]);
    assert_eq!(cap["identifier"], "main-window");
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert!(cap.get("webviews").is_none(), "no webview-scoped grants");
    assert!(cap.get("remote").is_none(), "no remote URL gets IPC");
    assert!(
        cap.get("platforms").is_none(),
        "the same grants on every platform"
    );
    let permissions: Vec<&str> = cap["permissions"]
        .as_array()
        .expect("a permission list")
        .iter()
        .map(|p| p.as_str().expect("permissions are plain identifiers"))
        .collect();
    assert_eq!(
        permissions,
        [
            "core:event:allow-listen",
            "core:event:allow-unlisten",
            "allow-api-info",
            "allow-autostart-get",
            "allow-autostart-set",
        ]
    );

    let conf = json(&root().join("tauri.conf.json"));
    assert_eq!(
        conf["app"]["security"]["capabilities"],
        serde_json::json!(["main-window"]),
        "only the listed capability is active"
    );
    assert_eq!(conf["app"]["withGlobalTauri"], false);
    assert_eq!(
        conf["app"]["windows"],
        serde_json::json!([]),
        "windows are made by the app (label main), none from configuration"
    );
}

#[test]
fn the_content_security_policy_is_set_and_strict() {
    let conf = json(&root().join("tauri.conf.json"));
    let csp = &conf["app"]["security"]["csp"];
    assert!(csp.is_object(), "the CSP is not null: {csp}");
    let get = |k: &str| csp[k].as_str().unwrap_or_else(|| panic!("CSP has {k}"));
    assert_eq!(get("default-src"), "'self'");
    assert_eq!(get("script-src"), "'self'");
    assert_eq!(get("object-src"), "'none'");
    assert_eq!(get("frame-ancestors"), "'none'");
    assert_eq!(get("base-uri"), "'none'");
    assert_eq!(get("form-action"), "'none'");
    // The app's IPC and the loopback API, nothing else.
    for source in get("connect-src").split_whitespace() {
        assert!(
            [
                "ipc:",
                "http://ipc.localhost",
                "http://127.0.0.1:*",
                "http://[::1]:*"
            ]
            .contains(&source),
            "connect-src allows {source}"
        );
    }
    let all = csp.to_string();
    for banned in [
        "unsafe-eval",
        "https:",
        "http:*",
        "*.",
        " * ",
        "data: blob:",
    ] {
        assert!(!all.contains(banned), "the CSP contains {banned}: {all}");
    }
    assert!(
        conf["app"]["security"]
            .get("dangerousDisableAssetCspModification")
            .is_none(),
        "Tauri keeps adding its nonces and hashes"
    );
}
