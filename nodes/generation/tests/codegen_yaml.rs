//! The YAML files are data trees written by a serializer (docs/generation.md §4.7):
//! re-parsing returns every user string unchanged, with serde-saphyr and with the `onex validate`
//! loader, and the files stay clean under `onex validate` whatever the text.

mod codegen_common;

use std::path::Path;

use codegen_common::*;
use onex_engine::contract::{LoadOptions, load_str};
use onex_generation::prompt::NodeType;
use proptest::prelude::*;
use serde_json::{Value, json};

const SPECIAL: &[&str] = &[
    "",
    "null",
    "Null",
    "~",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "False",
    "1.0",
    "1e3",
    "0x1F",
    "0o7",
    ".inf",
    "-.nan",
    "2025-10-21",
    "12:30:00",
    ": ",
    "a: b",
    "- x",
    "? k",
    "#",
    "# c",
    "a #b",
    "---",
    "...",
    "--- x",
    "&a",
    "*a",
    "!tag",
    "!include x.yaml",
    "%YAML 1.2",
    "@x",
    "`x",
    "|",
    ">",
    "'",
    "\"",
    "{a: 1}",
    "[1, 2]",
    ",",
    " lead",
    "trail ",
    "  both  ",
    "\n",
    "a\nb",
    "a\n",
    "\na",
    "\r\n",
    "\t",
    "tab\tin",
    "\u{0}",
    "nul\u{0}mid",
    "\u{7}\u{1b}\u{7f}\u{85}",
    "🚀 emoji",
    "\u{202e}rtl",
    "\u{2028}\u{2029}",
    "\u{feff}bom",
    "é\u{301}",
    "\\",
    "\\n",
    "\"quoted\"",
    "'single'",
    "{{name}}",
    "{MICROSERVICE_NAME}",
    "${env.HOME}",
    "#magic___^_^___line",
];

/// The three YAML files of a node whose description and requirements are `texts`.
fn yaml_texts(t: NodeType, description: &str, reqs: &[String]) -> Vec<(String, String)> {
    let reqs: Vec<&str> = reqs.iter().map(String::as_str).collect();
    let mut p = prompt(t, &reqs, &["Redis"]);
    p.description = description.to_string();
    let node = render(&p);
    node.files
        .iter()
        .filter(|f| f.rel_path.ends_with(".yaml"))
        .map(|f| {
            (
                f.rel_path.clone(),
                String::from_utf8(f.bytes.clone()).unwrap(),
            )
        })
        .collect()
}

fn check_round_trip(description: &str, reqs: &[String]) -> Result<(), TestCaseError> {
    for (rel, text) in yaml_texts(NodeType::Effect, description, reqs) {
        let via_saphyr: Value = serde_saphyr::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{rel}: {e}\n{text}")))?;
        let loaded = load_str(Path::new(&rel), &text, LoadOptions { include: true });
        let doc = loaded.doc.ok_or_else(|| {
            TestCaseError::fail(format!("{rel}: onex loader: {:?}", loaded.diagnostics))
        })?;
        prop_assert_eq!(&doc.value, &via_saphyr, "{}: loaders disagree", rel);
        if rel != "v1_0_0/version.manifest.yaml" {
            prop_assert_eq!(&via_saphyr["description"], &json!(description), "{}", rel);
        }
        if rel == "v1_0_0/contract.yaml" {
            let actions = via_saphyr["actions"].as_array().unwrap();
            for (i, r) in reqs.iter().enumerate() {
                prop_assert_eq!(&actions[i]["description"], &json!(r));
            }
            prop_assert_eq!(
                &via_saphyr["tool_specification"]["description"],
                &json!(description)
            );
        }
    }
    Ok(())
}

#[test]
fn special_strings_round_trip() {
    for s in SPECIAL {
        check_round_trip(s, &[s.to_string()]).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    }
    let all: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    check_round_trip(&SPECIAL.concat(), &all).unwrap();
}

#[test]
fn special_strings_keep_the_files_clean_under_onex_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let all: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    let reqs: Vec<&str> = all.iter().map(String::as_str).collect();
    for t in NodeType::ALL {
        let mut p = prompt(t, &reqs, &["Redis", "API"]);
        p.description = SPECIAL.join("\n");
        let node = render(&p);
        let dir = write_node(tmp.path(), &node);
        let check = onex_validate(&dir);
        for f in node.files.iter().filter(|f| f.rel_path.ends_with(".yaml")) {
            let problems = check(&f.rel_path, &f.bytes);
            assert!(problems.is_empty(), "{t} {}: {problems:?}", f.rel_path);
        }
    }
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(SPECIAL), 0..6).prop_map(|v| v.concat()),
        "[ -~\t\n\r\u{0}\u{85}\u{2028}\u{202e}]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_round_trips(description in text_strategy(), reqs in prop::collection::vec(text_strategy(), 0..4)) {
        check_round_trip(&description, &reqs)?;
    }
}
