//! The acceptance prompts for the test suites and benchmarks of every crate, which include this
//! file with `#[path]`. The cases live in the repository (`tests/fixtures/acceptance/prompts.tsv`,
//! format in its README.md), so a bare clone runs them all. A `shared/acceptance/prompts.tsv`
//! laid beside the repository may add cases: rows whose id the in-repo file does not have are
//! appended (its other rows are the same cases and are not read twice).

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The columns of prompts.tsv, in order.
pub const HEADER: [&str; 9] = [
    "id",
    "source",
    "prompt",
    "expected_node_type",
    "expected_name",
    "expected_domain",
    "expected_external_systems",
    "expect_error",
    "notes",
];

/// The repository root, found from the calling crate (the directory holding Cargo.lock).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// `<repo>/tests/fixtures/acceptance/prompts.tsv`, the cases every run checks.
pub fn prompts_tsv() -> PathBuf {
    repo_root().join("tests/fixtures/acceptance/prompts.tsv")
}

/// `<repo>/../shared/acceptance/prompts.tsv` if it exists (extra cases, never required).
pub fn shared_prompts_tsv() -> Option<PathBuf> {
    shared_prompts_tsv_beside(&repo_root())
}

/// The shared cases file beside `repo`, if there is one.
pub fn shared_prompts_tsv_beside(repo: &Path) -> Option<PathBuf> {
    let p = repo.join("../shared/acceptance/prompts.tsv");
    p.is_file().then_some(p)
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

/// One row: where it is, its id, the unescaped prompt, and all cells as written.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: PathBuf,
    /// 1-based line in `file`.
    pub line: usize,
    pub id: String,
    pub prompt: String,
    pub cells: Vec<String>,
}

impl Case {
    /// Whether the row expects the prompt to be rejected (`expect_error`).
    pub fn expect_error(&self) -> bool {
        self.cells.get(7).is_some_and(|c| !c.is_empty())
    }
    /// Whether the row comes from the repository's own file.
    pub fn in_repo(&self) -> bool {
        self.file == prompts_tsv()
    }
}

/// Every row of one prompts.tsv (header checked and skipped); a malformed file is a panic naming
/// file and line, as the test's failure.
pub fn read_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.split('\t').collect())
        .unwrap_or_default();
    assert_eq!(header, HEADER, "{}:1: header", path.display());
    lines
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let cells: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(
                cells.len(),
                HEADER.len(),
                "{}:{}: {} columns, expected {}",
                path.display(),
                i + 1,
                cells.len(),
                HEADER.len()
            );
            Case {
                file: path.to_path_buf(),
                line: i + 1,
                id: cells[0].clone(),
                prompt: unescape(&cells[2]),
                cells,
            }
        })
        .collect()
}

/// The in-repo cases, then the shared file's cases with ids the repository does not have.
pub fn merge(repo: Vec<Case>, shared: Option<Vec<Case>>) -> Vec<Case> {
    let known: HashSet<String> = repo.iter().map(|c| c.id.clone()).collect();
    let mut all = repo;
    all.extend(
        shared
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !known.contains(&c.id)),
    );
    all
}

/// Every case: the repository's, plus extra ones from `../shared` when it is there.
pub fn cases() -> Vec<Case> {
    let repo = read_cases(&prompts_tsv());
    let shared = shared_prompts_tsv().map(|p| read_cases(&p));
    let n = repo.len();
    let all = merge(repo, shared);
    if all.len() > n {
        eprintln!(
            "acceptance: {} in-repo case(s) and {} more from {}",
            n,
            all.len() - n,
            shared_prompts_tsv()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    all
}
