//! Prompt parsing benchmark (docs/generation.md §1 target: parse < 5 ms): every prompt of
//! `tests/fixtures/acceptance/prompts.tsv`, one benchmark per case id, plus all 140 in a row and a
//! 10 000-character prompt (the longest accepted), plus adversarial 10 000-character prompts.
//! Run: `cargo bench -p onex-generation --bench parse`. Figures: docs/BENCHMARKS.md.

use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use onex_generation::prompt::parse;

fn main() {
    divan::main();
}

#[path = "../../../tests/support/acceptance.rs"]
mod acceptance;

/// (id, prompt) of every row, read as the acceptance tests read them.
static PROMPTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    acceptance::read_cases(&acceptance::prompts_tsv())
        .into_iter()
        .map(|c| (c.id, c.prompt))
        .collect()
});

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
