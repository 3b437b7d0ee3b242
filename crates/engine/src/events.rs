//! Events and the pure rules that raise them: which conditions a reading
//! shows (printer errors, alerts, low and empty supplies), how a counter
//! moves between two readings (forward, Counter32 wrap, or backwards), and
//! the event vocabulary the store records and the collector publishes.
//!
//! Invariants: a condition's key is stable across polls for the same
//! problem (alert indexes are volatile, so alerts are keyed by group, code
//! and text); a counter step is never negative — a drop is reported as
//! [`Step::Drop`] and counts zero pages.

use serde::Serialize;

use crate::printer::Reading;
use crate::printer::names::{error_is_blocking, error_words};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A printer error or warning appeared (error bits or alert table).
    PrinterError,
    /// A printer error or warning went away.
    ErrorCleared,
    /// A supply reached the low threshold.
    SupplyLow,
    /// A supply is empty (or a waste receptacle full).
    SupplyEmpty,
    /// A supply that was low or empty is fine again (replaced).
    SupplyOk,
    /// N consecutive polls failed.
    Offline,
    /// A device that was offline answered again.
    Back,
    /// A counter went backwards (board swap, reset).
    CounterDrop,
    /// A device not seen before was found.
    NewDevice,
    /// A known device answered at a new address.
    AddressChanged,
    /// Another device now answers at this device's address.
    DeviceDisplaced,
}

impl EventKind {
    /// The stored name (`printer_error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PrinterError => "printer_error",
            EventKind::ErrorCleared => "error_cleared",
            EventKind::SupplyLow => "supply_low",
            EventKind::SupplyEmpty => "supply_empty",
            EventKind::SupplyOk => "supply_ok",
            EventKind::Offline => "offline",
            EventKind::Back => "back",
            EventKind::CounterDrop => "counter_drop",
            EventKind::NewDevice => "new_device",
            EventKind::AddressChanged => "address_changed",
            EventKind::DeviceDisplaced => "device_displaced",
        }
    }
}

/// How much a person should care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Needs attention soon.
    Warning,
    /// Stops work.
    Error,
}

impl Severity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One event, as stored and published.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Store id (0 before it is stored).
    pub id: i64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at: i64,
    /// The device it is about.
    pub device_id: Option<i64>,
    /// What happened.
    pub kind: EventKind,
    /// How bad.
    pub severity: Severity,
    /// In words, naming the device.
    pub message: String,
    /// Details (condition key, counter values, addresses).
    pub data: serde_json::Value,
}

/// Where a condition comes from (each poll kind refreshes some sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// hrPrinterDetectedErrorState bits.
    ErrorBit,
    /// prtAlertTable rows.
    Alert,
    /// Supply levels.
    Supply,
}

impl Source {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ErrorBit => "error_bit",
            Source::Alert => "alert",
            Source::Supply => "supply",
        }
    }
}

/// A problem a reading shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Stable key (`error:jammed`, `alert:…`, `supply:low:Black Toner`).
    pub key: String,
    /// Where it comes from.
    pub source: Source,
    /// How bad.
    pub severity: Severity,
    /// The event kind raised when it appears.
    pub raises: EventKind,
    /// In words.
    pub message: String,
}

/// Supply thresholds, in percent.
#[derive(Clone, Copy, Debug)]
pub struct SupplyThresholds {
    /// At or below: low.
    pub low_percent: f64,
    /// At or below: empty.
    pub empty_percent: f64,
}

/// The conditions a reading shows. Supplies are judged only when the
/// reading has them (a status poll does not read supplies).
pub fn conditions(r: &Reading, t: SupplyThresholds) -> Vec<Condition> {
    let mut v = Vec::new();
    for e in &r.status.errors {
        let blocking = error_is_blocking(e);
        v.push(Condition {
            key: format!("error:{e}"),
            source: Source::ErrorBit,
            severity: if blocking {
                Severity::Error
            } else {
                Severity::Warning
            },
            raises: EventKind::PrinterError,
            message: error_words(e).to_string(),
        });
    }
    for a in &r.alerts {
        let severity = match a.severity.as_deref() {
            Some("critical") => Severity::Error,
            Some("warning") => Severity::Warning,
            _ => continue,
        };
        let text = a
            .description
            .clone()
            .or_else(|| a.code_name.clone())
            .unwrap_or_else(|| "alert".into());
        let key = format!(
            "alert:{}:{}:{}",
            a.group.as_deref().unwrap_or("-"),
            a.code.map(|c| c.to_string()).unwrap_or_default(),
            text
        );
        if v.iter().any(|c: &Condition| c.key == key) {
            continue;
        }
        v.push(Condition {
            key,
            source: Source::Alert,
            severity,
            raises: EventKind::PrinterError,
            message: text,
        });
    }
    for s in &r.supplies {
        use crate::printer::SupplyState as S;
        let receptacle = s.class.as_deref() == Some("receptacleThatIsFilled");
        let (empty, low) = if receptacle {
            (matches!(s.state, S::Full), false)
        } else {
            let p = s.percent;
            (
                matches!(s.state, S::Empty) || p.is_some_and(|p| p <= t.empty_percent),
                matches!(s.state, S::Low) || p.is_some_and(|p| p <= t.low_percent),
            )
        };
        let name = if s.description.is_empty() {
            s.kind.clone().unwrap_or_else(|| "supply".into())
        } else {
            s.description.clone()
        };
        if empty {
            v.push(Condition {
                key: format!("supply:empty:{name}"),
                source: Source::Supply,
                severity: Severity::Error,
                raises: EventKind::SupplyEmpty,
                message: if receptacle {
                    format!("{name} is full")
                } else {
                    format!("{name} is empty")
                },
            });
        } else if low {
            let pct = s.percent.map(|p| format!(" ({p:.0}%)")).unwrap_or_default();
            v.push(Condition {
                key: format!("supply:low:{name}"),
                source: Source::Supply,
                severity: Severity::Warning,
                raises: EventKind::SupplyLow,
                message: format!("{name} is low{pct}"),
            });
        }
    }
    v
}

/// Counters that go back to zero by design (they are not billing meters), so
/// a decrease is not a drop.
pub fn resets_by_design(key: &str) -> bool {
    key == "since_power_on"
}

/// How a counter moved from one reading to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Forward (or unchanged) by this many.
    Forward(i64),
    /// A Counter32 wrapped past 2³²; this many pages.
    Wrap(i64),
    /// Went backwards: kept, flagged, counts zero.
    Drop,
}

impl Step {
    /// Pages this step adds to usage (never negative).
    pub fn pages(self) -> i64 {
        match self {
            Step::Forward(n) | Step::Wrap(n) => n,
            Step::Drop => 0,
        }
    }
}

/// Classifies the move from `prev` to `next`. A decrease is a wrap only when
/// the old value was in the top half of the 32-bit range and the pages the
/// wrap implies are fewer than 2²⁴ (no printer prints 16 million pages between
/// two reads); anything else that goes down is a drop.
pub fn step(prev: i64, next: i64) -> Step {
    const WRAP: i64 = 1 << 32;
    if next >= prev {
        return Step::Forward(next - prev);
    }
    if (WRAP / 2..WRAP).contains(&prev) && (0..WRAP).contains(&next) {
        let pages = next + WRAP - prev;
        if pages < (1 << 24) {
            return Step::Wrap(pages);
        }
    }
    Step::Drop
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::{Supply, SupplyState};

    fn supply(desc: &str, percent: Option<f64>, state: SupplyState, class: &str) -> Supply {
        Supply {
            index: Some(1),
            description: desc.into(),
            kind: Some("toner".into()),
            color: None,
            class: Some(class.into()),
            unit: Some("percent".into()),
            level: None,
            max: None,
            percent,
            state,
            remaining_pages: None,
            source: None,
        }
    }

    const T: SupplyThresholds = SupplyThresholds {
        low_percent: 20.0,
        empty_percent: 0.0,
    };

    #[test]
    fn every_event_kind_is_stored_under_its_serde_name() {
        use EventKind::*;
        for k in [
            PrinterError,
            ErrorCleared,
            SupplyLow,
            SupplyEmpty,
            SupplyOk,
            Offline,
            Back,
            CounterDrop,
            NewDevice,
            AddressChanged,
            DeviceDisplaced,
        ] {
            assert_eq!(serde_json::to_value(k).ok(), Some(k.as_str().into()));
        }
    }

    #[test]
    fn a_counter_that_goes_forward_counts_its_pages() {
        assert_eq!(step(100, 150), Step::Forward(50));
        assert_eq!(step(100, 100), Step::Forward(0));
    }

    #[test]
    fn a_counter_that_goes_backwards_is_a_drop_worth_zero_pages() {
        assert_eq!(step(50_000, 120), Step::Drop);
        assert_eq!(step(50_000, 120).pages(), 0);
    }

    #[test]
    fn a_counter32_that_wraps_counts_the_pages_across_the_wrap() {
        let prev = (1_i64 << 32) - 10;
        assert_eq!(step(prev, 5), Step::Wrap(15));
        // Far below the top of the range it is a drop, not a wrap.
        assert_eq!(step(3_000_000_000 - (1 << 25), 5), Step::Drop);
    }

    #[test]
    fn a_low_toner_is_a_warning_and_an_empty_one_an_error() {
        let r = Reading {
            supplies: vec![
                supply(
                    "Black Toner",
                    Some(12.0),
                    SupplyState::Percent(12.0),
                    "supplyThatIsConsumed",
                ),
                supply(
                    "Cyan Toner",
                    Some(0.0),
                    SupplyState::Empty,
                    "supplyThatIsConsumed",
                ),
                supply(
                    "Magenta Toner",
                    Some(80.0),
                    SupplyState::Percent(80.0),
                    "supplyThatIsConsumed",
                ),
                supply(
                    "Waste Toner",
                    None,
                    SupplyState::Full,
                    "receptacleThatIsFilled",
                ),
            ],
            ..Reading::default()
        };
        let c = conditions(&r, T);
        let keys: Vec<&str> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "supply:low:Black Toner",
                "supply:empty:Cyan Toner",
                "supply:empty:Waste Toner"
            ]
        );
        assert_eq!(c[0].severity, Severity::Warning);
        assert_eq!(c[1].raises, EventKind::SupplyEmpty);
        assert_eq!(c[2].message, "Waste Toner is full");
    }

    #[test]
    fn an_unknown_supply_level_raises_nothing() {
        let r = Reading {
            supplies: vec![supply(
                "Drum",
                None,
                SupplyState::SomeRemaining,
                "supplyThatIsConsumed",
            )],
            ..Reading::default()
        };
        assert!(conditions(&r, T).is_empty());
    }

    #[test]
    fn error_bits_become_conditions_with_their_words() {
        let mut r = Reading::default();
        r.status.errors = vec!["jammed".into(), "lowPaper".into()];
        let c = conditions(&r, T);
        assert_eq!(c[0].key, "error:jammed");
        assert_eq!(c[0].severity, Severity::Error);
        assert_eq!(c[0].message, "paper jam");
        assert_eq!(c[1].severity, Severity::Warning);
    }
}
