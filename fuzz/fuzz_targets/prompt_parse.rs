//! The prompt parser (nodes/generation/src/prompt/parse.rs) on arbitrary text, with and without
//! a requested node type. Prompts arrive as JSON strings, so only valid UTF-8 is meaningful.
//! Invariants beyond "no panic": the result keeps the prompt, the requested type wins, and the
//! confidences stay in [0, 1].
#![no_main]

use libfuzzer_sys::fuzz_target;
use onex_generation::prompt::{NodeType, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(prompt) = std::str::from_utf8(rest) else {
        return;
    };
    // The first byte picks "no --type" or one of the four types.
    let requested = NodeType::ALL.get(usize::from(selector % 5)).copied();
    if let Ok(p) = parse(prompt, requested) {
        assert_eq!(p.prompt, prompt);
        if let Some(t) = requested {
            assert_eq!(p.node_type, t);
        }
        for c in [
            p.type_confidence,
            p.name_confidence,
            p.domain_confidence,
            p.confidence_score,
        ] {
            assert!(
                (0.0..=1.0).contains(&c),
                "confidence {c} out of range: {p:?}"
            );
        }
    }
});
