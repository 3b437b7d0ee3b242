//! The readable summary of a reading that `printscout read` prints by default,
//! and of a 3D printer's job history (`printscout read … --history`).

use std::fmt::Write;

use printscout_engine::printer::fab::{FabStatus, History};
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
    let name = if name.is_empty() && r.fab.is_some() {
        format!("A {} printer", r.protocol.as_deref().unwrap_or("3D"))
    } else if name.is_empty() {
        "Unknown device".to_string()
    } else {
        name
    };
    if r.fab.is_some() {
        // "… — a 3D printer read over octoprint" says the kind already.
        let _ = writeln!(o, "{name} — {}", r.classification);
    } else {
        let _ = writeln!(
            o,
            "{name} — {} ({})",
            kind_words(&r.device_kind),
            r.classification
        );
    }
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
    if let Some(fab) = &r.fab {
        let _ = writeln!(
            o,
            "  status: {} — {} (the printer says \"{}\")",
            st.overall.to_uppercase(),
            fab.state.as_str(),
            fab.state_text
        );
    } else {
        let _ = writeln!(
            o,
            "  status: {} (device {}, printer {})",
            st.overall.to_uppercase(),
            st.device.as_deref().unwrap_or("?"),
            st.printer.as_deref().unwrap_or("?")
        );
    }
    for p in problems_in_words(r) {
        let _ = writeln!(o, "    ! {p}");
    }
    if let Some(fab) = &r.fab {
        fab_lines(&mut o, fab);
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
        "  read in {} ms with {} request(s){}",
        r.stats.elapsed_ms,
        r.stats.requests,
        bytes_words(r.stats.bytes_sent, r.stats.bytes_received)
    );
    o
}

/// `, 420 bytes sent, 2310 received` when the protocol counts bytes.
fn bytes_words(sent: Option<u64>, received: Option<u64>) -> String {
    match (sent, received) {
        (Some(s), Some(r)) => format!(", {s} bytes sent, {r} received"),
        (Some(s), None) => format!(", {s} bytes sent"),
        (None, Some(r)) => format!(", {r} bytes received"),
        (None, None) => String::new(),
    }
}

/// A 3D printer's job and temperatures (its errors are among the alerts).
fn fab_lines(o: &mut String, fab: &FabStatus) {
    if let Some(job) = &fab.job {
        let mut parts = vec![job.name.clone().unwrap_or_else(|| "(no name)".into())];
        if let Some(p) = job.progress_percent.filter(|p| p.is_finite()) {
            parts.push(format!("{p:.1}% {}", bar(p)));
        }
        if let Some(s) = job.elapsed_s {
            parts.push(format!("{} printed", duration_words(s)));
        }
        if let Some(s) = job.remaining_s {
            parts.push(format!("{} left", duration_words(s)));
        }
        if let Some(m) = &job.material {
            parts.push(format!("{m} used"));
        }
        let _ = writeln!(o, "  job: {}", parts.join(" · "));
    } else if !fab.state.in_job() {
        let _ = writeln!(o, "  job: none");
    }
    if !fab.temperatures.is_empty() {
        let t: Vec<String> = fab
            .temperatures
            .iter()
            .map(|t| {
                let actual = t
                    .actual
                    .map(|a| format!("{a:.1}"))
                    .unwrap_or_else(|| "?".into());
                match t.target {
                    Some(x) if x > 0.0 => format!("{} {actual}/{x:.1} °C", t.name),
                    Some(_) => format!("{} {actual} °C (off)", t.name),
                    None => format!("{} {actual} °C", t.name),
                }
            })
            .collect();
        let _ = writeln!(o, "  temperatures: {}", t.join(" · "));
    }
}

/// A 3D printer's job history as a small table, newest first as the printer
/// gave it.
pub fn fab_history(target: &str, h: &History) -> String {
    let mut o = String::new();
    let synthesised = h.jobs.iter().filter(|j| j.synthesised).count();
    let _ = writeln!(
        o,
        "{target}: {} job(s) in the printer's history{}",
        h.jobs.len(),
        if synthesised > 0 {
            format!(" ({synthesised} built from state changes)")
        } else {
            String::new()
        }
    );
    if !h.jobs.is_empty() {
        let _ = writeln!(
            o,
            "  {:<16} {:<16} {:>9} {:<11} {:<14} name",
            "started", "ended", "printing", "result", "material"
        );
        for j in &h.jobs {
            let _ = writeln!(
                o,
                "  {:<16} {:<16} {:>9} {:<11} {:<14} {}",
                when(j.started_at),
                j.ended_at
                    .map(|t| when(Some(t)))
                    .unwrap_or_else(|| "—".into()),
                j.duration_s
                    .map(duration_words)
                    .unwrap_or_else(|| "?".into()),
                truncate(&j.result, 11),
                truncate(j.material.as_deref().unwrap_or("—"), 14),
                j.name.as_deref().unwrap_or("(no name)")
            );
        }
    }
    let _ = writeln!(
        o,
        "  read in {} ms with {} request(s){}",
        h.stats.elapsed_ms,
        h.stats.requests,
        bytes_words(h.stats.bytes_sent, h.stats.bytes_received)
    );
    o
}

/// Unix seconds as local `YYYY-MM-DD HH:MM`, `?` when unknown or absurd.
fn when(t: Option<i64>) -> String {
    t.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

/// `42s`, `5m 10s`, `2h 05m`, `3d 4h`.
fn duration_words(s: u64) -> String {
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

fn kind_words(k: &str) -> &str {
    match k {
        "3d_printer" => "a 3D printer",
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
