//! The acceptance prompts (`shared/acceptance/prompts.tsv`, laid beside the repository) for the
//! test suites of every crate, which include this file with `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `<repo>/../shared/acceptance/prompts.tsv`, the repository found from the calling crate.
pub fn prompts_tsv() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(manifest);
    let path = repo.join("../shared/acceptance/prompts.tsv");
    assert!(
        path.is_file(),
        "{} not found: shared/ must lie beside the repository",
        path.display()
    );
    path
}

/// `\n`, `\t`, `\r`, `\\` in the prompt column stand for newline, tab, CR, backslash.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// One row: its id, the unescaped prompt, and all cells as written.
pub struct Case {
    pub id: String,
    pub prompt: String,
    pub cells: Vec<String>,
}

impl Case {
    /// Whether the row expects the prompt to be rejected (`expect_error`).
    pub fn expect_error(&self) -> bool {
        self.cells.get(7).is_some_and(|c| !c.is_empty())
    }
}

/// Every row (the header skipped).
pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(prompts_tsv()).expect("prompts.tsv is readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<String> = l.split('\t').map(str::to_owned).collect();
            Case {
                id: cells[0].clone(),
                prompt: unescape(&cells[2]),
                cells,
            }
        })
        .collect()
}
