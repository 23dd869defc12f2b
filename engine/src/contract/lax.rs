//! Pydantic's lax-mode coercions, as ONEX's own checks apply them (docs/rules.md, "ONEX
//! parity"): which values an `int` or `bool` field of omnibase_core's models accepts. Rules use
//! these to tell a shape ONEX accepts (a warning here) from one it rejects (an error).

use serde_json::Value;

/// The integer an `int` field accepts `v` as: an integer, a float without fraction, a bool, or
/// a string of digits (sign, `_` separators, a `.0` tail and surrounding blanks allowed).
pub fn int(v: &Value) -> Option<i128> {
    match v {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            }),
        Value::String(s) => int_str(s),
        _ => None,
    }
}

fn int_str(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (digits, frac) = body.split_once('.').unwrap_or((body, ""));
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    // Python's int(): digits, single `_` only between digits.
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let n: i128 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// The bool a `bool` field accepts `v` as (`true`/`false`, 0/1, and the strings y/yes/on/t/true/1
/// and n/no/off/f/false/0 in any case).
pub fn bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn ints_as_pydantic_reads_them() {
        for (v, want) in [
            (json!(1), Some(1)),
            (json!("1"), Some(1)),
            (json!(" 1 "), Some(1)),
            (json!("1.0"), Some(1)),
            (json!("1_0"), Some(10)),
            (json!(1.0), Some(1)),
            (json!(true), Some(1)),
            (json!("-0"), Some(0)),
            (json!(1.5), None),
            (json!("1e0"), None),
            (json!("0x1"), None),
            (json!(""), None),
            (json!(null), None),
            (json!([1]), None),
        ] {
            assert_eq!(super::int(&v), want, "{v}");
        }
    }

    #[test]
    fn bools_as_pydantic_reads_them() {
        assert_eq!(super::bool(&json!("YES")), Some(true));
        assert_eq!(super::bool(&json!("off")), Some(false));
        assert_eq!(super::bool(&json!(1)), Some(true));
        assert_eq!(super::bool(&json!(2)), None);
        assert_eq!(super::bool(&json!(null)), None);
    }
}
