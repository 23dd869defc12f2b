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

/// The one rendering of diagnostics for a person, shared by every command that reports contract
/// problems (`validate`, `graph`, `generate --contract`, `run`, `orchestrator`):
///
/// ```text
/// path:line:col severity CODE message
///  3 | node_type: SERVICE_MESH
///    |            ^^^^^^^^^^^^
///   = help: use a docs/dialects.md §4 node_type such as COMPUTE_GENERIC
/// ```
///
/// `source` gives the text of a file a diagnostic points into (`None`: no snippet, e.g. an
/// unreadable file). `color` adds ANSI colours (callers pass true only for a terminal without
/// NO_COLOR).
pub fn render(
    diags: &[Diagnostic],
    source: &dyn Fn(&std::path::Path) -> Option<String>,
    color: bool,
) -> String {
    use std::fmt::Write as _;
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for d in diags {
        let (name, sev_col) = match d.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
            Severity::Info => ("info", "1;36"),
        };
        let _ = writeln!(
            out,
            "{}:{}:{} {} {} {}",
            sanitize(&d.path.display().to_string()),
            d.pos.line,
            d.pos.column,
            paint(sev_col, name),
            paint("1", &d.code),
            sanitize(&d.message)
        );
        let text = source(&d.path);
        let at = text.as_deref().and_then(|t| snippet_line(t, d.pos));
        if let Some((line_no, line, column)) = at {
            let gutter = line_no.to_string();
            let pad = " ".repeat(gutter.len());
            let shown = sanitize(line.trim_end());
            let _ = writeln!(out, "{} | {}", paint("34", &gutter), shown);
            let col = column.max(1);
            // Tabs are kept so the caret lines up in a terminal.
            let lead: String = shown
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let width = token_width(&shown.chars().skip(col - 1).collect::<Vec<_>>());
            let _ = writeln!(out, "{pad} | {lead}{}", paint(sev_col, &"^".repeat(width)));
        }
        if !d.help.is_empty() {
            let _ = writeln!(out, "  = help: {}", sanitize(&d.help));
        }
    }
    out
}

/// The line a position points into, with its number and the column to mark. A position past
/// the end (a syntax error at the end of the stream) marks the end of the last line.
fn snippet_line(text: &str, pos: Pos) -> Option<(usize, &str, usize)> {
    let n = (pos.line as usize).checked_sub(1)?;
    if let Some(l) = text.lines().nth(n) {
        return Some((n + 1, l, pos.column as usize));
    }
    let (i, last) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .last()?;
    Some((i + 1, last, last.trim_end().chars().count() + 1))
}

/// [`render`] reading each file from disk (once per file), for diagnostics that come without
/// their source text (workflow loading at start-up, `generate --contract`).
pub fn render_files(diags: &[Diagnostic], color: bool) -> String {
    let cache: std::cell::RefCell<std::collections::HashMap<PathBuf, Option<String>>> =
        Default::default();
    let source = |p: &std::path::Path| -> Option<String> {
        cache
            .borrow_mut()
            .entry(p.to_path_buf())
            .or_insert_with(|| {
                // Only small text files get a snippet; a 10 MiB file is not read twice.
                let meta = std::fs::metadata(p).ok()?;
                (meta.len() <= 1 << 20)
                    .then(|| std::fs::read_to_string(p).ok())
                    .flatten()
            })
            .clone()
    };
    render(diags, &source, color)
}

/// Control characters (ESC, CR, …) from file names, messages or sources are shown escaped, so
/// a hostile file cannot drive the terminal.
fn sanitize(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Width of the underline: the token at the start of `rest` (a key or plain scalar up to `:`,
/// `,`, a bracket, a comment or a blank; a quoted scalar; a flow collection), at least 1.
pub fn token_width(rest: &[char]) -> usize {
    let stop = |c: char| c.is_whitespace() || matches!(c, ':' | ',' | ']' | '}' | '#');
    let len = match rest.first() {
        None => 0,
        Some('"' | '\'') => {
            let q = rest[0];
            rest.iter()
                .skip(1)
                .position(|c| *c == q)
                .map_or(rest.len(), |i| i + 2)
        }
        Some('[' | '{') => {
            let mut depth = 0usize;
            rest.iter()
                .position(|c| {
                    match c {
                        '[' | '{' => depth += 1,
                        ']' | '}' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |i| i + 1)
        }
        Some(_) => rest.iter().position(|c| stop(*c)).unwrap_or(rest.len()),
    };
    len.max(1)
}
