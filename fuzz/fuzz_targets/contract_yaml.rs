//! The YAML loader and the contract validator on arbitrary input, as `onex validate` runs them
//! (with the handler table of the CLI, so executable workflows reach the handler rules).
//! Invariant beyond "no panic, no hang, no OOM": every finding has a real position.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use onex_engine::contract::{LoadOptions, ValidateOptions, load_str, validate_str};
use onex_engine::pipeline::Handlers;

static HANDLERS: LazyLock<Handlers> = LazyLock::new(|| {
    Handlers::builtin()
        .with(onex_generation::HANDLERS)
        .expect("the shipped handler tables have unique names")
});

// Includes resolve against a directory that does not exist: the fuzzer explores the parser and
// the rules, not the file system.
const PATH: &str = "/nonexistent/fuzz/contract.yaml";

fuzz_target!(|data: &[u8]| {
    // The CLI reads files as UTF-8 (ONEX001 otherwise); lossy conversion keeps non-UTF-8 inputs
    // useful instead of discarding them.
    let text = String::from_utf8_lossy(data);
    let path = Path::new(PATH);
    let _ = load_str(path, &text, LoadOptions { include: false });
    for opts in [
        ValidateOptions::default(),
        ValidateOptions {
            strict: true,
            include: false,
        },
    ] {
        let r = validate_str(path, &text, &opts, Some(&*HANDLERS));
        for d in &r.diagnostics {
            assert!(
                d.pos.line >= 1 && d.pos.column >= 1,
                "finding without a position: {d:?}"
            );
        }
    }
});
