//! The readable summary of a reading that `printscout read` prints by default.

use std::fmt::Write;

use printscout_engine::printer::read::problems_in_words;
use printscout_engine::printer::{Reading, SupplyState};

/// A few lines a person can scan: what it is, whether it is well, counters,
/// supplies with bars, trays, alerts.
pub fn summary(r: &Reading) -> String {
    let mut o = String::new();
    let id = &r.identity;
    let name = [id.vendor.as_deref(), id.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        "Unknown device".to_string()
    } else {
        name
    };
    let _ = writeln!(
        o,
        "{name} — {} ({})",
        kind_words(&r.device_kind),
        r.classification
    );
    let via = match (&r.credential, &r.snmp_version) {
        (Some(c), Some(v)) => format!(" via '{c}' (SNMP v{v})"),
        _ => String::new(),
    };
    let _ = writeln!(o, "  at {}{via}", r.target);
    let mut facts = Vec::new();
    if let Some(s) = &id.serial {
        facts.push(format!("serial {s}"));
    }
    if let Some(f) = &id.firmware {
        facts.push(format!("firmware {f}"));
    }
    if let Some(m) = &id.mac {
        facts.push(format!("MAC {m}"));
    }
    if let Some(h) = &id.hostname {
        facts.push(format!("name {h}"));
    }
    if let Some(l) = &id.location {
        facts.push(format!("location {l}"));
    }
    if let Some(u) = id.uptime_seconds {
        facts.push(format!("up {}", uptime(u)));
    }
    if !facts.is_empty() {
        let _ = writeln!(o, "  {}", facts.join(" · "));
    }
    let st = &r.status;
    let _ = writeln!(
        o,
        "  status: {} (device {}, printer {})",
        st.overall.to_uppercase(),
        st.device.as_deref().unwrap_or("?"),
        st.printer.as_deref().unwrap_or("?")
    );
    for p in problems_in_words(r) {
        let _ = writeln!(o, "    ! {p}");
    }
    if !r.counters.is_empty() {
        let c: Vec<String> = r.counters.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(o, "  counters: {}", c.join(" · "));
    }
    if !r.supplies.is_empty() {
        let _ = writeln!(o, "  supplies:");
        for s in &r.supplies {
            let colour = s.color.as_deref().unwrap_or("");
            let _ = writeln!(
                o,
                "    {:<8} {:<40} {}",
                colour,
                truncate(&s.description, 40),
                level_words(s.state, s.percent)
            );
        }
    }
    if !r.trays.is_empty() {
        let t: Vec<String> = r
            .trays
            .iter()
            .map(|t| {
                let name = t
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("tray {}", t.index));
                format!("{name}: {}", level_words(t.state, t.percent))
            })
            .collect();
        let _ = writeln!(o, "  trays: {}", t.join(" · "));
    }
    if !r.console.is_empty() {
        let _ = writeln!(o, "  display: {}", r.console.join(" | "));
    }
    for n in &r.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    let _ = writeln!(
        o,
        "  read in {} ms with {} request(s)",
        r.stats.elapsed_ms, r.stats.requests
    );
    o
}

fn kind_words(k: &str) -> &str {
    match k {
        "printer" => "a printer",
        "mfp" => "a multifunction printer",
        "label_printer" => "a label printer",
        "scan_server" => "a scanner, not a printer",
        _ => "not a printer",
    }
}

fn level_words(s: SupplyState, percent: Option<f64>) -> String {
    match s {
        SupplyState::Percent(p) => format!("{p:>5.1}% {}", bar(p)),
        SupplyState::SomeRemaining => "some remaining".into(),
        SupplyState::Unknown => "level unknown".into(),
        SupplyState::NotApplicable => "no level reported".into(),
        SupplyState::Empty => format!("EMPTY {}", bar(percent.unwrap_or(0.0))),
        SupplyState::Full => "FULL".into(),
        SupplyState::Low => "LOW".into(),
        SupplyState::Ok => "OK".into(),
    }
}

fn bar(p: f64) -> String {
    let filled = ((p.clamp(0.0, 100.0) / 10.0).round()) as usize;
    format!("[{}{}]", "#".repeat(filled), " ".repeat(10 - filled))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

fn uptime(s: u64) -> String {
    let (d, h, m) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else {
        format!("{h}h {m}m")
    }
}
