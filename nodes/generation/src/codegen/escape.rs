//! The one escaping function through which user text reaches generated Python (docs/generation.md §4.7), and
//! the identifier checks the renderer applies before it uses a name.
//!
//! Every template filter (`py_str`, `py_doc`, `py_comment`) is a thin wrapper over
//! [`escape_py_body`] / [`py_comment`], so there is exactly one place that decides how a
//! character is written.

use std::fmt::Write as _;

/// Characters that are written as an escape inside a string literal or docstring besides the
/// C0/C1 controls: line/paragraph separators (Python's `str.splitlines` splits on them and some
/// editors render them as line breaks) and the bidirectional formatting characters used by
/// "trojan source" attacks (U+202A–E, U+2066–9), plus the invisible marks of the same family
/// (LRM, RLM, ALM) and the BOM.
fn is_hazard(c: char) -> bool {
    matches!(
        c,
        '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

/// Escapes `s` for use between double quotes in Python source: a `"…"` literal or a
/// `"""…"""` docstring. `\` → `\\`, `"` → `\"` (so `"""` becomes `\"\"\"`), newline, CR and
/// tab → `\n` `\r` `\t`, other controls → `\xNN`, U+2028/9 and bidi controls → `\uNNNN`.
/// Everything else (emoji included) is kept as UTF-8. The result never contains a line break,
/// an unescaped `"` or a trailing lone `\`, so it cannot end the literal early.
pub fn escape_py_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) <= 0xFF => {
                // C0, DEL and C1 controls (NUL included: CPython rejects a raw NUL in source).
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_hazard(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A complete double-quoted Python string literal whose value is exactly `s`.
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    out.push_str(&escape_py_body(s));
    out.push('"');
    out
}

/// The body of a `"""…"""` docstring whose value is exactly `s` (same escaping as [`py_str`]).
pub fn py_doc(s: &str) -> String {
    escape_py_body(s)
}

/// Text for a one-line `# …` comment: controls, line/paragraph separators and bidi controls
/// become spaces, so the comment cannot end early or reorder the code around it.
pub fn py_comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || is_hazard(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// `^[a-z][a-z0-9]*(_[a-z0-9]+)*$` — service name, domain and their derivatives.
pub fn is_snake_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut prev_underscore = false;
    for &c in b {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => prev_underscore = false,
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return false,
        }
    }
    !prev_underscore
}

/// `^[A-Z][A-Za-z0-9]*$` — node name and class names.
pub fn is_pascal_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[0].is_ascii_uppercase() && b.iter().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes() {
        assert_eq!(py_str(""), "\"\"");
        assert_eq!(py_str("a\"b"), "\"a\\\"b\"");
        assert_eq!(py_str("\\"), "\"\\\\\"");
        assert_eq!(py_str("a\nb\r\tc"), "\"a\\nb\\r\\tc\"");
        assert_eq!(py_str("\0\u{1b}\u{7f}\u{85}"), "\"\\x00\\x1b\\x7f\\x85\"");
        assert_eq!(
            py_str("\u{2028}\u{202e}\u{2066}"),
            "\"\\u2028\\u202e\\u2066\""
        );
        assert_eq!(py_str("🚀 é"), "\"🚀 é\"");
        assert_eq!(py_str("{{name}} ${env.HOME}"), "\"{{name}} ${env.HOME}\"");
    }

    #[test]
    fn docstring_escapes_triple_quotes() {
        assert_eq!(
            py_doc("say \"\"\"hi\"\"\""),
            "say \\\"\\\"\\\"hi\\\"\\\"\\\""
        );
        assert_eq!(py_doc("ends with \\"), "ends with \\\\");
        assert_eq!(py_doc("'''"), "'''");
    }

    #[test]
    fn comment_has_no_line_break() {
        assert_eq!(py_comment("a\nb\r\u{2028}c\u{202e}d\0"), "a b  c d ");
        assert_eq!(py_comment("# x \"\"\""), "# x \"\"\"");
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "postgres_writer", "s3", "a1_b2"] {
            assert!(is_snake_identifier(ok), "{ok}");
        }
        for bad in ["", "A", "_a", "a_", "a__b", "1a", "a-b", "a b", "a\n"] {
            assert!(!is_snake_identifier(bad), "{bad:?}");
        }
        for ok in ["A", "PostgresCRUD", "S3Uploader"] {
            assert!(is_pascal_identifier(ok), "{ok}");
        }
        for bad in ["", "a", "Post_gres", "A-B", "Ä"] {
            assert!(!is_pascal_identifier(bad), "{bad:?}");
        }
    }
}
