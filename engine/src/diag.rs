//! Diagnostics: one finding of validation (or of a generation gate) with a stable rule code,
//! a severity, a location (file:line:col, plus the JSON pointer of the offending node) and a
//! one-line help text. Every user-facing error of the engine is one of these.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How bad a finding is. `Info` never affects an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A position in a source file. Lines and columns are 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable rule code, `ONEX001`…
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// The file the finding is in (an included file's own path for findings inside it).
    pub path: PathBuf,
    pub pos: Pos,
    /// JSON pointer to the offending node (`""` = the document root).
    pub pointer: String,
    /// One-line fix.
    pub help: String,
}

/// The candidate closest to `word`, if one is close enough to be a likely typo (Jaro-Winkler
/// similarity ≥ 0.8: `run_timout_ms` → `run_timeout_ms`, but not `foo` → `bar`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
