//! Lenient reading of the JSON 3D printers send: a field of the wrong type is
//! missing, never an error, and never a panic (firmwares send numbers as
//! strings, ids as numbers, NaN and absurd durations).

use serde_json::Value;

/// A non-empty string, trimmed; a number is taken as its text (ids).
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A finite number; a numeric string counts.
pub fn number(v: Option<&Value>) -> Option<f64> {
    let x = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// Whole seconds from a number; negative or absurd (over 100 years) is unknown.
pub fn seconds(v: Option<&Value>) -> Option<u64> {
    let x = number(v)?;
    (0.0..=3.2e9).contains(&x).then(|| x.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_types_are_missing_and_numbers_in_strings_count() {
        assert_eq!(text(Some(&json!("  benchy "))), Some("benchy".into()));
        assert_eq!(text(Some(&json!(42))), Some("42".into()));
        assert_eq!(text(Some(&json!(["x"]))), None);
        assert_eq!(text(Some(&json!("   "))), None);
        assert_eq!(number(Some(&json!("12.5"))), Some(12.5));
        assert_eq!(number(Some(&json!(null))), None);
        assert_eq!(seconds(Some(&json!(-1))), None);
        assert_eq!(seconds(Some(&json!(1e300))), None);
        assert_eq!(seconds(Some(&json!(59.6))), Some(60));
    }
}
