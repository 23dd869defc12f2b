//! Semantic rules. Each rule is one small function named after what it checks, emitting through
//! [`Ctx::emit`] with its stable code; severity and default help come from the registry
//! ([`super::codes`]). Structural rules live in the JSON Schemas instead ([`super::schema`]).

pub mod effect;
pub mod envelope;
pub mod fsm;
pub mod handler;
pub mod manifest;
pub mod topics;
pub mod workflow;

use serde_json::Value;

use super::codes;
use super::source::{SourceDoc, escape_segment};
use crate::diag::{Diagnostic, Severity};

/// What a rule sees: the document and where findings go.
pub struct Ctx<'a> {
    pub doc: &'a SourceDoc,
    pub out: &'a mut Vec<Diagnostic>,
    pub strict: bool,
}

impl Ctx<'_> {
    /// The node at `pointer`.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.doc.value.pointer(pointer)
    }

    /// Reports `code` at the node `pointer`.
    pub fn emit(&mut self, code: &str, pointer: &str, message: impl Into<String>) {
        let loc = self.doc.locate(pointer);
        self.push(codes::make(code, &loc, pointer, message));
    }

    /// Reports `code` at the key of the node `pointer` (for "this key should not be here").
    pub fn emit_key(&mut self, code: &str, pointer: &str, message: impl Into<String>) {
        let loc = self.doc.locate_key(pointer);
        self.push(codes::make(code, &loc, pointer, message));
    }

    /// Like [`Ctx::emit`] with a specific help line.
    pub fn emit_help(
        &mut self,
        code: &str,
        pointer: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let loc = self.doc.locate(pointer);
        let mut d = codes::make(code, &loc, pointer, message);
        d.help = help.into();
        self.push(d);
    }

    /// Like [`Ctx::emit_key`] with a specific help line.
    pub fn emit_key_help(
        &mut self,
        code: &str,
        pointer: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let loc = self.doc.locate_key(pointer);
        let mut d = codes::make(code, &loc, pointer, message);
        d.help = help.into();
        self.push(d);
    }

    fn push(&mut self, mut d: Diagnostic) {
        if self.strict && STRICT_ERRORS.contains(&d.code.as_str()) {
            d.severity = Severity::Error;
        }
        self.out.push(d);
    }
}

/// Warnings that `--strict` turns into errors: where onex is stricter than ONEX on purpose
/// (docs/rules.md, "ONEX parity").
pub const STRICT_ERRORS: &[&str] = &["ONEX015", "ONEX019", "ONEX025"];

/// `base` + `/key` as a JSON pointer.
pub fn ptr(base: &str, key: &str) -> String {
    format!("{base}/{}", escape_segment(key))
}

/// `base` + `/index`.
pub fn idx(base: &str, i: usize) -> String {
    format!("{base}/{i}")
}

/// A short, quoted rendering of a JSON value for messages.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => {
            let s = other.to_string();
            if s.len() > 60 {
                format!(
                    "{}…",
                    &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
                )
            } else {
                s
            }
        }
    }
}
