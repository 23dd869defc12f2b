//! Adversarial prompt text (docs/generation.md §4.7): quotes, triple quotes, backslashes,
//! newlines, template syntax, `#`, emoji, bidi controls and NUL in the description and the
//! requirements must pass G9–G12, and the description must come back unchanged from every file
//! it is written to (Python evaluated by a real interpreter, YAML re-parsed).

mod codegen_common;

use std::process::Command;

use codegen_common::*;
use onex_generation::codegen::compile::GateStatus;
use onex_generation::codegen::{TemplatePack, g9_syntax, g10_naming, g11_imports, g12_models};
use onex_generation::prompt::NodeType;
use serde_json::{Value, json};

const NASTY: &[&str] = &[
    "say \"hi\"",
    "doc \"\"\" breaks docstrings",
    "ends with a quote\"",
    "ends with triple\"\"\"",
    "''' single triple",
    "back\\slash \\ and trailing \\",
    "line1\nline2\r\nline3",
    "tab\there",
    "{{name}} and {% if x %} and {# c #}",
    "{MICROSERVICE_NAME}",
    "${env.HOME}",
    "# not a comment",
    "emoji 🚀🔥 and é",
    "bidi \u{202e}evil\u{202c} \u{2066}x\u{2069}",
    "nul \u{0} and bell \u{7} and esc \u{1b}",
    "line sep \u{2028} para sep \u{2029} nel \u{85}",
    "\\N{BULLET} \\x41 \\u0041",
    "f\"{__import__('os').system('x')}\"",
    "   edge spaces   ",
    "",
];

fn nasty_prompt(t: NodeType) -> onex_generation::prompt::ParsedPrompt {
    let mut p = prompt(t, NASTY, &["PostgreSQL", "Weird \"system\"\n# x"]);
    p.description = NASTY.join(" | ");
    p.prompt = p.description.clone();
    p
}

/// Evaluates, with a real Python, the literals and docstrings the node files carry.
const EXTRACT: &str = r#"
import ast, json, sys
out = {}
for path in sys.argv[1:]:
    tree = ast.parse(open(path, encoding="utf-8").read())
    entry = {"module_doc": ast.get_docstring(tree, clean=False)}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name):
                entry[target.id] = ast.literal_eval(node.value)
        if isinstance(node, ast.ClassDef):
            entry["class_doc"] = ast.get_docstring(node, clean=False)
    out[path] = entry
print(json.dumps(out))
"#;

#[test]
fn adversarial_text_passes_post_validation_and_round_trips() {
    let py = python3();
    let pack = TemplatePack::builtin();
    let tmp = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        let p = nasty_prompt(t);
        let node = render(&p);
        let dir = write_node(tmp.path(), &node);
        let g9 = g9_syntax(&node.files, &onex_validate(&dir));
        assert_eq!(g9.status, GateStatus::Pass, "{t}: {g9:?}");
        for v in [
            g10_naming(&node.files, &p),
            g11_imports(&node.files, pack),
            g12_models(&node.files),
        ] {
            assert_eq!(v.status, GateStatus::Pass, "{t}: {v:?}");
        }

        // Python: DESCRIPTION, REQUIREMENTS and the class docstring evaluate to the input.
        let node_py = dir.join("v1_0_0/node.py");
        let init_py = dir.join("v1_0_0/__init__.py");
        let out = Command::new(&py)
            .arg("-c")
            .arg(EXTRACT)
            .arg(&node_py)
            .arg(&init_py)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let n = &got[node_py.to_str().unwrap()];
        assert_eq!(n["DESCRIPTION"], json!(p.description), "{t}");
        assert_eq!(n["REQUIREMENTS"], json!(NASTY), "{t}");
        assert_eq!(n["EXTERNAL_SYSTEMS"], json!(p.external_systems), "{t}");
        assert_eq!(n["class_doc"], json!(p.description), "{t}");
        let module_doc = n["module_doc"].as_str().unwrap();
        assert!(
            module_doc.contains(&p.description),
            "{t}: module docstring lost the text"
        );
        let i = &got[init_py.to_str().unwrap()];
        assert!(i["module_doc"].as_str().unwrap().contains(&p.description));

        // Comments never break a line: every requirement comment is one physical line.
        let src = text(&node, "v1_0_0/node.py");
        for line in src.lines().filter(|l| l.trim_start().starts_with("# - ")) {
            assert!(
                !line.contains(['\r', '\u{2028}', '\u{202e}', '\0']),
                "{line:?}"
            );
        }
        assert_eq!(
            src.lines()
                .filter(|l| l.trim_start().starts_with("# - "))
                .count(),
            NASTY.len()
        );
        // No raw control or bidi character anywhere in the Python files.
        for f in node.files.iter().filter(|f| f.rel_path.ends_with(".py")) {
            let s = std::str::from_utf8(&f.bytes).unwrap();
            let bad: Vec<char> = s
                .chars()
                .filter(|c| {
                    (c.is_control() && *c != '\n')
                        || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                })
                .collect();
            assert!(bad.is_empty(), "{}: {bad:?}", f.rel_path);
        }

        // YAML: the description and requirement texts re-parse unchanged.
        let c: Value = serde_saphyr::from_str(&text(&node, "v1_0_0/contract.yaml")).unwrap();
        assert_eq!(c["description"], json!(p.description));
        assert_eq!(c["tool_specification"]["description"], json!(p.description));
        let descs: Vec<Value> = c["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["description"].clone())
            .collect();
        assert_eq!(
            &descs[..NASTY.len()],
            &NASTY.iter().map(|s| json!(s)).collect::<Vec<_>>()[..]
        );
        let m: Value = serde_saphyr::from_str(&text(&node, "node.manifest.yaml")).unwrap();
        assert_eq!(m["description"], json!(p.description));
    }
}

#[test]
fn adversarial_python_compiles_with_a_real_interpreter() {
    let py = python3();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for t in NodeType::ALL {
        let node = render(&nasty_prompt(t));
        let dir = write_node(tmp.path(), &node);
        let pys: Vec<_> = node
            .files
            .iter()
            .filter(|f| f.rel_path.ends_with(".py"))
            .map(|f| dir.join(&f.rel_path))
            .collect();
        let out = Command::new(&py)
            .args(["-W", "error", "-m", "py_compile"])
            .args(&pys)
            .env("PYTHONPYCACHEPREFIX", cache.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

mod in_process {
    //! The same round trip for arbitrary Unicode text, evaluated by the in-process parser (the
    //! string value ruff reads from a literal is what Python reads).

    use super::*;
    use proptest::prelude::*;
    use ruff_python_ast::{Expr, Stmt};

    fn literal(e: &Expr) -> Option<String> {
        match e {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
            _ => None,
        }
    }

    /// DESCRIPTION, REQUIREMENTS and the class docstring of node.py, as Python reads them.
    fn read_back(src: &str) -> (String, Vec<String>, String) {
        let parsed = ruff_python_parser::parse_module(src).expect("node.py parses");
        let module = parsed.into_syntax();
        let (mut desc, mut reqs, mut doc) = (None, None, None);
        for stmt in &module.body {
            match stmt {
                Stmt::Assign(a) => {
                    if matches!(&a.targets[0], Expr::Name(n) if n.id.as_str() == "DESCRIPTION") {
                        desc = literal(&a.value);
                    }
                }
                Stmt::AnnAssign(a) => {
                    if matches!(a.target.as_ref(), Expr::Name(n) if n.id.as_str() == "REQUIREMENTS")
                        && let Some(Expr::Tuple(t)) = a.value.as_deref()
                    {
                        reqs = Some(t.elts.iter().filter_map(literal).collect());
                    }
                }
                Stmt::ClassDef(c) => {
                    if let Some(Stmt::Expr(e)) = c.body.first() {
                        doc = literal(&e.value);
                    }
                }
                _ => {}
            }
        }
        (desc.unwrap(), reqs.unwrap(), doc.unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_text_round_trips_and_passes_g9_to_g12(
            description in any::<String>(),
            reqs in prop::collection::vec(any::<String>(), 0..4),
        ) {
            let refs: Vec<&str> = reqs.iter().map(String::as_str).collect();
            let mut p = prompt(NodeType::Orchestrator, &refs, &[]);
            p.description = description.clone();
            let node = render(&p);
            let g9 = g9_syntax(&node.files, &|_, _| Vec::new());
            prop_assert_eq!(g9.status, GateStatus::Pass, "{:?}", g9);
            prop_assert!(g10_naming(&node.files, &p).is_pass());
            prop_assert!(g11_imports(&node.files, TemplatePack::builtin()).is_pass());
            prop_assert!(g12_models(&node.files).is_pass());
            let (d, r, doc) = read_back(&text(&node, "v1_0_0/node.py"));
            prop_assert_eq!(&d, &description);
            prop_assert_eq!(&doc, &description);
            prop_assert_eq!(&r, &reqs);
        }
    }
}
