//! Pathological prompts named by issue 12 (docs/RELIABILITY.md "Fuzzing"): 100,000 levels of
//! brackets and a 100 MB prompt are refused by the length check in bounded time; the longest
//! accepted prompt made only of brackets, quotes or control characters still parses. The fuzz
//! target `prompt_parse` (fuzz/) explores the same function at random.

use std::time::{Duration, Instant};

use onex_generation::prompt::parse::MAX_PROMPT_CHARS;
use onex_generation::prompt::{NameSource, parse};

#[test]
fn hundred_thousand_levels_of_brackets_are_too_long() {
    for open in ["[", "{", "(", "<"] {
        let e = parse(&open.repeat(100_000), None).unwrap_err();
        assert_eq!(e.message, "Prompt too long");
    }
}

#[test]
fn hundred_megabyte_prompt_is_refused_quickly() {
    let huge = format!(
        "Create an EFFECT node called Writer {}",
        "x".repeat(100 << 20)
    );
    let start = Instant::now();
    let e = parse(&huge, None).unwrap_err();
    assert_eq!(e.message, "Prompt too long");
    // A count of characters, no regex over 100 MB: far below the bound even in debug builds
    // on a loaded machine.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn longest_prompts_of_structure_only_parse() {
    for unit in ["[", "{", "[{\"", "\\", "\u{0}", "-\r\n", "'", "`"] {
        let p = unit.repeat(MAX_PROMPT_CHARS / unit.chars().count());
        let parsed = parse(&format!("Create an EFFECT node {p}"), None);
        // Over the limit with the prefix: still refused by length, not by a crash.
        assert_eq!(parsed.unwrap_err().message, "Prompt too long", "{unit:?}");
        let parsed = parse(&p, None).unwrap_or_else(|e| panic!("{unit:?}: {e}"));
        assert_eq!(parsed.name_source, NameSource::Fallback, "{unit:?}");
        assert_eq!(parsed.prompt, p);
    }
}
