//! Prompt parsing benchmark (spec §1 target: parse < 5 ms): every prompt of
//! `shared/acceptance/prompts.tsv`, one benchmark per case id, plus all 140 in a row and a
//! 10 000-character prompt (the longest accepted), plus adversarial 10 000-character prompts.
//! Run: `cargo bench -p onex-engine --bench parse`. Figures: docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;

use divan::Bencher;
use onex_generation::prompt::parse;

fn main() {
    divan::main();
}

/// (id, prompt) of every row, prompts unescaped as the acceptance test does.
static PROMPTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/acceptance/prompts.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let id = cols.next().unwrap_or_default().to_string();
            let prompt = cols.nth(1).unwrap_or_default();
            (id, unescape(prompt))
        })
        .collect()
});

fn unescape(s: &str) -> String {
    s.replace("\\\\", "\u{1}")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\r", "\r")
        .replace('\u{1}', "\\")
}

fn ids() -> Vec<String> {
    PROMPTS.iter().map(|(id, _)| id.clone()).collect()
}

fn prompt(id: &str) -> &'static str {
    PROMPTS
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, p)| p.as_str())
        .unwrap_or_else(|| panic!("no case {id}"))
}

/// One acceptance prompt (rejections included: they are part of the parser's work too).
#[divan::bench(args = ids())]
fn each(bencher: Bencher, id: &str) {
    let p = prompt(id);
    bencher.bench(|| parse(black_box(p), None));
}

/// All 140 prompts in a row: divide by 140 for the mean per prompt.
#[divan::bench]
fn all_140(bencher: Bencher) {
    let all: Vec<&str> = PROMPTS.iter().map(|(_, p)| p.as_str()).collect();
    bencher.bench(|| {
        for p in &all {
            let _ = black_box(parse(black_box(p), None));
        }
    });
}

/// The longest accepted prompt: 10 000 characters of keyword-dense text.
#[divan::bench]
fn max_length_10000_chars(bencher: Bencher) {
    let unit = "Create EFFECT node called OrderWriter that writes to PostgreSQL, caches in Redis; \
                should store orders; - send alerts\n";
    let mut s = unit.repeat(10_000 / unit.len());
    s.push_str(&".".repeat(10_000 - s.len()));
    bencher.bench(|| parse(black_box(&s), None));
}

/// Worst cases found while hardening: 10 000 characters of one unit repeated, each unit making
/// one rule match (and, for most, refuse) thousands of times.
#[divan::bench(args = ["should x ", "Create EFFECT node ", "A node ", "for ", "é"])]
fn adversarial_10000_chars(bencher: Bencher, unit: &str) {
    let mut s = unit.repeat(10_000 / unit.chars().count());
    s.push_str(&".".repeat(10_000 - s.chars().count()));
    bencher.bench(|| parse(black_box(&s), None));
}
