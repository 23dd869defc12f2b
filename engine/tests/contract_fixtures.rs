//! Invalid contract fixtures (`tests/fixtures/contracts/`): each is named after the rule it
//! breaks (`onexNNN_…`), must produce that code, and all findings (code, line:col) are pinned
//! by one insta snapshot. Every rule of the registry has a fixture (ONEX083/084 need large or
//! deep files and are generated in contract_include.rs; ONEX100–105 are the engine's own).

use std::path::{Path, PathBuf};

use onex_engine::contract::codes::RULES;
use onex_engine::contract::{FileReport, ValidateOptions, validate_file, validate_paths};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/contracts")
}

fn entries() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn reports(entry: &Path) -> Vec<FileReport> {
    let opts = ValidateOptions::default();
    if entry.is_dir() {
        validate_paths(&[entry.to_path_buf()], &opts, None)
            .unwrap()
            .files
    } else {
        vec![validate_file(entry, &opts, None)]
    }
}

fn render(entry: &Path, reps: &[FileReport]) -> String {
    let root = fixtures();
    let canon = std::fs::canonicalize(&root).unwrap();
    let clean = |s: &str| {
        s.replace(&canon.display().to_string(), "<fixtures>")
            .replace(&root.display().to_string(), "<fixtures>")
    };
    let mut out = format!("== {}\n", entry.file_name().unwrap().to_string_lossy());
    for r in reps {
        for d in &r.diagnostics {
            let rel = clean(&d.path.display().to_string());
            out.push_str(&format!(
                "{rel}:{}:{} {:?} {} {} [{}]\n",
                d.pos.line,
                d.pos.column,
                d.severity,
                d.code,
                clean(&d.message),
                d.pointer
            ));
        }
    }
    out
}

#[test]
fn every_fixture_reports_its_code_and_snapshot_matches() {
    let mut all = String::new();
    let mut count = 0;
    for e in entries() {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        let Some(code) = name
            .get(..7)
            .filter(|c| c.starts_with("onex"))
            .map(str::to_ascii_uppercase)
        else {
            continue;
        };
        let reps = reports(&e);
        let text = render(&e, &reps);
        assert!(
            reps.iter().any(|r| r.has(&code)),
            "{name} does not report {code}:\n{text}"
        );
        all.push_str(&text);
        count += 1;
    }
    assert!(count >= 30, "only {count} fixtures");
    insta::assert_snapshot!("contract_fixtures", all);
}

#[test]
fn every_rule_has_a_fixture() {
    let names: Vec<String> = entries()
        .iter()
        .map(|e| {
            e.file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_uppercase()
        })
        .collect();
    let generated = ["ONEX083", "ONEX084"];
    for r in RULES {
        let engine_rule = r.code >= "ONEX100";
        if engine_rule || generated.contains(&r.code) {
            continue;
        }
        assert!(
            names.iter().any(|n| n.starts_with(r.code)),
            "no fixture for {}",
            r.code
        );
    }
}

#[test]
fn every_rule_is_documented_in_docs_rules_md() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules.md"))
            .unwrap();
    for r in RULES {
        let row = doc
            .lines()
            .find(|l| l.contains(&format!("</a>{} |", r.code)));
        let row = row.unwrap_or_else(|| panic!("{} missing from docs/rules.md", r.code));
        let sev = format!("{:?}", r.severity).to_ascii_lowercase();
        assert!(
            row.contains(&format!("| {sev} |")),
            "{} has another severity in docs/rules.md: {row}",
            r.code
        );
    }
}
