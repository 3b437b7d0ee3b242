//! Build script: checks that the web UI is built (Tauri embeds `ui/dist`), and
//! declares the app's own IPC commands so that capabilities can grant them
//! one by one (`allow-api-info`, …) instead of every window getting all.

fn main() {
    let dist = std::path::Path::new("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.is_file() {
        println!(
            "cargo:warning=ui/dist is not built: run `npm ci && npm run build` at the repository root first (scripts/setup.sh does)"
        );
    }
    let attrs =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
            "api_info",
            "autostart_get",
            "autostart_set",
        ]));
    if let Err(e) = tauri_build::try_build(attrs) {
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
