//! Pathological inputs named by issue 12 (docs/RELIABILITY.md "Fuzzing"): 100,000 levels of
//! nesting, alias bombs and a 100 MB file reach the loader, the validator and the envelope
//! decoder, and each ends with a clear error in bounded time instead of a crash (a stack
//! overflow would abort the test binary). The fuzz targets under fuzz/ explore the same
//! entry points at random; these are the fixed worst cases.

use std::io::Write;
use std::path::Path;

use onex_engine::bus::decode_envelope;
use onex_engine::contract::{LoadOptions, ValidateOptions, load_str, validate_file, validate_str};
use onex_engine::events::EventRegistry;

const PATH: &str = "/nonexistent/pathological/contract.yaml";
/// What a too-deep document is told: the parser's own recursion limit (flow collections) or the
/// loader's depth limit (engine/src/contract/yaml.rs `MAX_DEPTH`), whichever is reached first.
const DEPTH: &[&str] = &["nested deeper", "recursion limit"];
const HEAD: &str = "contract_version: {major: 1, minor: 0, patch: 0}\nnode_type: COMPUTE_GENERIC\n";

/// `text` fails to load with an ONEX002 finding (ONEX086 for expansion budgets) whose message
/// contains one of `needles`.
fn rejected(text: &str, needles: &[&str]) {
    let loaded = load_str(Path::new(PATH), text, LoadOptions::default());
    assert!(loaded.doc.is_none(), "loaded although pathological");
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "ONEX002" || d.code == "ONEX086")
        .unwrap_or_else(|| panic!("no ONEX002/ONEX086 finding: {:?}", loaded.diagnostics));
    assert!(
        needles.iter().any(|n| d.message.contains(n)),
        "message {:?} names none of {needles:?}",
        d.message
    );
    assert!(d.pos.line >= 1 && d.pos.column >= 1);
    // The validator reports the same, and does not run rules on a half-built document.
    let r = validate_str(Path::new(PATH), text, &ValidateOptions::default(), None);
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.code == "ONEX002" || d.code == "ONEX086"),
        "{:?}",
        r.diagnostics
    );
}

#[test]
fn hundred_thousand_levels_of_flow_nesting() {
    for open in ["[", "{a: ", "[{a: "] {
        let deep = format!("{HEAD}deep: {}", open.repeat(100_000));
        rejected(&deep, DEPTH);
        // Closed properly too: depth, not a syntax error, is what stops it.
        let close: String = open
            .chars()
            .rev()
            .filter_map(|c| match c {
                '[' => Some(']'),
                '{' => Some('}'),
                _ => None,
            })
            .collect();
        let balanced = format!(
            "{HEAD}deep: {}x{}\n",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        rejected(&balanced, DEPTH);
    }
}

#[test]
fn hundred_thousand_levels_of_block_nesting() {
    // `- - - … x`: compact block sequences, one level per `- `.
    let deep = format!("{HEAD}deep: \n  {}x\n", "- ".repeat(100_000));
    rejected(&deep, DEPTH);
}

#[test]
fn billion_laughs_is_refused() {
    // 9 levels of 10 aliases each: 10^9 nodes if expanded.
    let mut text = String::from(HEAD);
    text.push_str("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    rejected(&text, &["expand"]);
}

#[test]
fn alias_bomb_of_mappings_and_merge_keys_is_refused() {
    // Mappings and `<<` merges copy as much as sequences do.
    let mut text = String::from(HEAD);
    text.push_str("m0: &m0 {a: x, b: x, c: x, d: x, e: x, f: x, g: x, h: x, i: x, j: x}\n");
    for i in 1..8 {
        let entries: Vec<String> = (0..10).map(|k| format!("k{k}: *m{}", i - 1)).collect();
        text.push_str(&format!("m{i}: &m{i} {{{}}}\n", entries.join(", ")));
    }
    text.push_str("merged: {<<: *m7, extra: 1}\n");
    rejected(&text, &["expand"]);
}

#[test]
fn hundred_megabyte_file_is_refused_before_reading() {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(HEAD.as_bytes()).unwrap();
    let line = format!("- {}\n", "x".repeat(1022));
    let chunk = line.repeat(1024); // 1 MiB
    for _ in 0..100 {
        f.write_all(chunk.as_bytes()).unwrap();
    }
    f.flush().unwrap();
    let r = validate_file(f.path(), &ValidateOptions::default(), None);
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    let d = &r.diagnostics[0];
    assert_eq!(d.code, "ONEX001");
    assert!(d.message.contains("10 MiB"), "{}", d.message);
    assert_eq!(d.path, f.path());
}

#[test]
fn envelope_decoder_refuses_deep_and_huge_values() {
    let events = EventRegistry::new();
    let envelope = |payload: &str| {
        format!(
            r#"{{"event_id":"01a2202a-7507-75d2-91d1-e990550d18e4","event_type":"DeadLettered","schema_version":"1.0.0","correlation_id":"01a2202a-7507-75d2-91d1-e990550d18e5","causation_id":null,"seq":0,"timestamp":"2026-12-04T19:00:00Z","stage":"pipeline","status":"failed","source":{{"component":"orchestrator","instance_id":"h","version":"0"}},"trace":{{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},"payload":{payload}}}"#
        )
    };
    for open in ["[", "{\"a\":"] {
        let deep = envelope(&open.repeat(100_000));
        let e = decode_envelope(&events, deep.as_bytes()).unwrap_err();
        assert!(e.starts_with("decode: not JSON"), "{e}");
        assert!(e.contains("recursion limit"), "{e}");
    }
    // 100 MB of one string in the payload: decoded (the bus caps message sizes, not the
    // decoder), then refused by the catalogue check, without a crash.
    let big = envelope(&format!("\"{}\"", "x".repeat(100 << 20)));
    let e = decode_envelope(&events, big.as_bytes()).unwrap_err();
    assert!(e.starts_with("schema:"), "{}", &e[..e.len().min(200)]);
}
