//! Every acceptance prompt through the whole pipeline (stages 1–5): the ones that must be
//! rejected are, with INVALID_PROMPT and nothing written; every other one generates a node
//! whose `.py` files compile with the real `python3 -m py_compile`, whose `.yaml` files are
//! clean under `onex validate`, whose class is named per docs/generation.md §4.2, and which is byte-identical to a
//! second run apart from the documented run-dependent fields (docs/generation.md §4.6). Adversarial prompts never
//! break a file, never panic, never write outside the output directory.

#[path = "../../../tests/support/acceptance.rs"]
mod acceptance;
mod common;

use common::*;
use onex_engine::contract::validate::{ValidateOptions, validate_file};
use onex_generation::prompt::{NodeType, naming};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files under `dir` with the given extension.
fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect()
}

/// `python3 -m py_compile` over many files at once; returns the failures.
fn py_compile(files: &[PathBuf]) -> Vec<String> {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, py_compile\nbad = 0\nfor f in sys.argv[1:]:\n    try:\n        py_compile.compile(f, doraise=True)\n    except Exception as e:\n        bad += 1; print(e)\nsys.exit(1 if bad else 0)",
        )
        .args(files)
        .env("PYTHONPYCACHEPREFIX", cache.path())
        .output()
        .expect("python3 runs");
    if out.status.success() {
        Vec::new()
    } else {
        vec![String::from_utf8_lossy(&out.stdout).into_owned()]
    }
}

/// The run-dependent fields of docs/generation.md §4.6 masked: uuid, timestamps, dates, correlation id, hash.
fn masked(bytes: &[u8], cid: &str) -> String {
    let text = String::from_utf8_lossy(bytes).replace(cid, "<cid>");
    let ts = regex::Regex::new(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?").unwrap();
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let hash = regex::Regex::new(r"(?m)^hash: [0-9a-f]{64}$").unwrap();
    let text = ts.replace_all(&text, "<time>");
    let text = uuid.replace_all(&text, "<uuid>");
    hash.replace_all(&text, "hash: <hash>").into_owned()
}

#[tokio::test]
async fn every_acceptance_prompt_generates_a_valid_deterministic_node() {
    let root = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    let mut py_files = Vec::new();
    let mut generated = 0;
    for case in acceptance::cases() {
        let out = root.path().join(&case.id);
        let run = generate(&case.prompt, &out).await;
        let r = &run.result;
        if case.expect_error() {
            if r.error_code.as_deref() != Some("INVALID_PROMPT")
                || out.exists() && !tree(&out).is_empty()
            {
                problems.push(format!(
                    "{}: expected INVALID_PROMPT, got {}",
                    case.id,
                    r.summary()
                ));
            }
            continue;
        }
        if !r.success() {
            problems.push(format!("{}: {:?} → {}", case.id, case.prompt, r.summary()));
            continue;
        }
        generated += 1;
        let node = PathBuf::from(r.output_path.as_ref().unwrap());
        py_files.extend(files_with(&node, "py"));
        for y in files_with(&node, "yaml") {
            let rep = validate_file(&y, &ValidateOptions::default(), Some(&handlers()));
            if rep.errors() + rep.warnings() > 0 {
                problems.push(format!(
                    "{}: {} not clean: {:?}",
                    case.id,
                    y.display(),
                    rep.diagnostics
                ));
            }
        }
        // G10, checked independently: node.py defines Node{P}{Type}(Node{Type}).
        let parsed = r.parsed.as_ref().unwrap();
        let class = naming::node_class(&parsed.node_name, parsed.node_type);
        let base = naming::node_base_class(parsed.node_type);
        let node_py = std::fs::read_to_string(node.join("v1_0_0/node.py")).unwrap();
        if !node_py.contains(&format!("class {class}({base})")) {
            problems.push(format!(
                "{}: node.py lacks `class {class}({base})`",
                case.id
            ));
        }
        // Determinism: the same prompt again gives the same files but for docs/generation.md §4.6's fields.
        let again_dir = root.path().join(format!("{}-again", case.id));
        let again = generate(&case.prompt, &again_dir).await;
        let (a, b) = (
            tree(&node),
            tree(Path::new(again.result.output_path.as_ref().unwrap())),
        );
        let cid_a = r.correlation_id.to_string();
        let cid_b = again.result.correlation_id.to_string();
        let differs: Vec<&String> = a
            .iter()
            .zip(&b)
            .filter(|((pa, ba), (pb, bb))| pa != pb || masked(ba, &cid_a) != masked(bb, &cid_b))
            .map(|((pa, _), _)| pa)
            .collect();
        if a.len() != b.len() || !differs.is_empty() {
            problems.push(format!("{}: not deterministic: {differs:?}", case.id));
        }
    }
    problems.extend(py_compile(&py_files));
    assert!(generated > 100, "only {generated} prompts generated");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn adversarial_prompts_never_break_a_file_or_escape_the_root() {
    let long = format!(
        "Create EFFECT node called LongWriter {}",
        "word ".repeat(2000)
    );
    let exact: String = long.chars().take(10_000).collect();
    let over = format!("{exact}x");
    let prompts: Vec<(String, bool)> = vec![
        (r#"EFFECT node called QuoteWriter that writes "quoted" text and \"escapes\""#.into(), true),
        ("EFFECT node called DocWriter: \"\"\" breaks docstrings ''' and \\ backslashes".into(), true),
        ("EFFECT node called LineWriter\nwith newlines\r\nand\ttabs and NUL \0 inside".into(), true),
        ("EFFECT node called TemplateWriter with {{name}} and {MICROSERVICE_NAME} and ${env.HOME} # hash".into(), true),
        ("EFFECT node called EmojiWriter writes 🚀 data with RTL \u{202E}txet and \u{2028} separators".into(), true),
        ("EFFECT node called --force that writes ../x paths".into(), true),
        ("Create an EFFECT node for ../../etc/passwd writes".into(), true),
        ("EFFECT node named ../Escape writes to /etc".into(), true),
        (exact, true),
        (over, false),
        ("\u{0}\u{0}\u{0}".into(), false),
    ];
    for (i, (prompt, valid)) in prompts.into_iter().enumerate() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let run = generate(&prompt, &out).await;
        let r = &run.result;
        // Only `out` may appear under the root, whatever happened.
        let top: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            top.is_empty() || top == ["out"],
            "case {i}: wrote outside: {top:?}"
        );
        if !valid {
            assert_eq!(r.error_code.as_deref(), Some("INVALID_PROMPT"), "case {i}");
            continue;
        }
        assert!(r.success(), "case {i} {prompt:?}: {}", r.summary());
        let node = PathBuf::from(r.output_path.as_ref().unwrap());
        assert!(
            node.starts_with(&out),
            "case {i}: {} outside {}",
            node.display(),
            out.display()
        );
        let py = files_with(&node, "py");
        assert_eq!(py_compile(&py), Vec::<String>::new(), "case {i}");
        // The description round-trips through the generated contract.yaml.
        let contract = std::fs::read_to_string(node.join("v1_0_0/contract.yaml")).unwrap();
        let rep = validate_file(
            &node.join("v1_0_0/contract.yaml"),
            &ValidateOptions::default(),
            None,
        );
        let doc = rep.doc.expect("parses");
        let desc = doc.value["description"].as_str().unwrap();
        assert_eq!(
            desc,
            r.parsed.as_ref().unwrap().description,
            "case {i}: {contract}"
        );
    }
}

#[tokio::test]
async fn requested_type_overrides_and_every_type_generates() {
    for t in NodeType::ALL {
        let root = tempfile::tempdir().unwrap();
        let mut opts = options("Node called OrderService that handles orders", root.path());
        opts.requested_node_type = Some(t);
        let run = run_with(shipped(), opts, services()).await;
        assert!(run.result.success(), "{t}: {}", run.result.summary());
        assert_eq!(run.result.node_type.as_deref(), Some(t.as_upper()));
    }
}
