//! The real ONEX corpus (`tests/fixtures/onex-corpus`, docs/dialects.md §12): every file gets its INDEX.tsv
//! outcome and the findings the spec lists; the parallel pipeline has 5 waves; the `!include`
//! fixture loads with include support and fails with ONEX002 without it.

use std::path::{Path, PathBuf};

use onex_engine::contract::{ValidateOptions, WorkflowGraph, validate_file, validate_paths};
use onex_engine::diag::Severity;

/// The corpus, kept in the repository (`tests/fixtures/onex-corpus`, MIT, its LICENSE.txt) so
/// that a bare clone checks it.
fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onex-corpus");
    assert!(
        p.join("INDEX.tsv").is_file(),
        "{} is missing from the repository",
        p.display()
    );
    p
}

/// The corpus path of an INDEX.tsv row (`extra/…` rows keep their prefix, core rows sit under
/// `omnibase_core/`).
fn file_of(corpus: &Path, group: &str, path: &str) -> PathBuf {
    if group == "core" {
        corpus
            .join("omnibase_core")
            .join(path.trim_start_matches("omnibase_core/"))
    } else {
        corpus.join(path)
    }
}

fn codes(r: &onex_engine::contract::FileReport) -> Vec<String> {
    r.diagnostics
        .iter()
        .map(|d| format!("{} {}:{} {}", d.code, d.pos.line, d.pos.column, d.message))
        .collect()
}

#[test]
fn corpus_outcomes_match_index() {
    let corpus = corpus();
    let index = std::fs::read_to_string(corpus.join("INDEX.tsv")).unwrap();
    let mut rows = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (group, path, expected) = (cols[0], cols[3], cols[7]);
        let file = file_of(&corpus, group, path);
        assert!(file.is_file(), "{} missing", file.display());
        let with = validate_file(&file, &ValidateOptions::default(), None);
        let without = validate_file(
            &file,
            &ValidateOptions {
                strict: false,
                include: false,
            },
            None,
        );
        let got = match (with.status().as_str(), without.status().as_str()) {
            ("ok", "error") => "parse_error_without_include_support",
            ("ok", _) => "load_ok",
            ("warning", _) => "load_ok_with_warnings",
            (s, _) => s,
        };
        assert_eq!(got, expected, "{}: {:#?}", file.display(), codes(&with));
        rows += 1;
    }
    assert_eq!(rows, 13);
}

fn find(corpus: &Path, tail: &str) -> PathBuf {
    walk(corpus)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(tail))
        .unwrap_or_else(|| panic!("{tail} not in corpus"))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

fn count(r: &onex_engine::contract::FileReport, code: &str) -> usize {
    r.diagnostics.iter().filter(|d| d.code == code).count()
}

#[test]
fn corpus_findings_of_spec_section_12() {
    let c = corpus();
    let opts = ValidateOptions::default();
    let r = validate_file(
        &find(&c, "node_compliance_orchestrator/contract.yaml"),
        &opts,
        None,
    );
    assert_eq!(r.dialect.unwrap().as_str(), "D");
    // `#magic___^_^___line` inside a folded scalar is text, not a comment.
    let desc = r.doc.as_ref().unwrap().value["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        desc.trim_end().ends_with("contract. #magic___^_^___line"),
        "{desc:?}"
    );
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.code == "ONEX034" && d.message.contains("impure") && d.pos.line == 25),
        "{:#?}",
        codes(&r)
    );
    for (tail, dialect) in [
        ("node_compliance_report_reducer/contract.yaml", "E"),
        ("node_compliance_scan_compute/contract.yaml", "D"),
        ("compliance_workflow.yaml", "F"),
        ("contract_registry_reducer.yaml", "C"),
        ("orchestrator_data_pipeline.yaml", "C"),
        ("effect/http_api_call.yaml", "C"),
    ] {
        let r = validate_file(&find(&c, tail), &opts, None);
        assert_eq!(r.dialect.unwrap().as_str(), dialect, "{tail}");
        assert!(r.diagnostics.is_empty(), "{tail}: {:#?}", codes(&r));
    }
    let r = validate_file(&find(&c, "runtime_orchestrator.yaml"), &opts, None);
    assert_eq!(count(&r, "ONEX070"), 6, "{:#?}", codes(&r));
    assert_eq!(r.diagnostics.len(), 6, "{:#?}", codes(&r));
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.contains("runtime.startup") && d.pos.line == 228)
    );
    let r = validate_file(&find(&c, "handlers/effect_handler.yaml"), &opts, None);
    assert_eq!(r.dialect.unwrap().as_str(), "E");
    assert!(count(&r, "ONEX021") >= 1);
    assert!(
        r.diagnostics.iter().all(|d| d.severity == Severity::Info),
        "{:#?}",
        codes(&r)
    );
    let r = validate_file(&find(&c, "subcontracts/routing.yaml"), &opts, None);
    assert!(r.skipped && count(&r, "ONEX004") == 1 && r.diagnostics.len() == 1);
    let r = validate_file(&find(&c, "v1_0_0/contract.yaml"), &opts, None);
    assert_eq!(r.dialect.unwrap().as_str(), "A");
    assert_eq!(count(&r, "ONEX015"), 1);
    assert_eq!(count(&r, "ONEX022"), 1);
    assert_eq!(r.errors(), 0, "{:#?}", codes(&r));
    let strict = validate_file(
        &find(&c, "v1_0_0/contract.yaml"),
        &ValidateOptions {
            strict: true,
            include: true,
        },
        None,
    );
    assert_eq!(strict.status().as_str(), "error");
    let r = validate_file(
        &find(&c, "canary_orchestrator/tool.manifest.yaml"),
        &opts,
        None,
    );
    for code in ["ONEX016", "ONEX091", "ONEX093"] {
        assert!(r.has(code), "{code}: {:#?}", codes(&r));
    }
    assert_eq!(r.errors(), 0, "{:#?}", codes(&r));
}

#[test]
fn include_fixture_with_and_without_include_support() {
    let c = corpus();
    let f = find(&c, "fixtures/contract_with_include.yaml");
    let r = validate_file(&f, &ValidateOptions::default(), None);
    assert!(r.diagnostics.is_empty(), "{:#?}", codes(&r));
    let doc = r.doc.unwrap();
    assert!(doc.value["routing"].is_object());
    assert_eq!(doc.value["routing"]["default_handler"], "main");
    // A node from the included file is located in that file.
    let loc = doc.locate("/routing/routes/1/handler");
    assert!(loc.path.ends_with("subcontracts/routing.yaml"), "{loc:?}");
    assert_eq!((loc.pos.line, loc.pos.column), (9, 14));
    let r = validate_file(
        &f,
        &ValidateOptions {
            strict: false,
            include: false,
        },
        None,
    );
    assert_eq!(r.status().as_str(), "error");
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.code == "ONEX002")
        .expect("ONEX002");
    assert_eq!((d.pos.line, d.pos.column), (10, 10));
}

#[test]
fn data_pipeline_has_five_waves() {
    let c = corpus();
    let r = validate_file(
        &find(&c, "orchestrator_data_pipeline.yaml"),
        &ValidateOptions::default(),
        None,
    );
    let g = WorkflowGraph::from_document(&r.doc.unwrap().value).unwrap();
    let waves = g.waves().unwrap();
    assert_eq!(
        waves,
        vec![
            vec!["fetch_raw_data"],
            vec!["validate_schema", "enrich_data"],
            vec!["aggregate_metrics"],
            vec!["quality_check"],
            vec!["persist_results", "send_notification"],
        ]
    );
    assert_eq!(g.mode, onex_engine::contract::ExecutionMode::Parallel);
}

#[test]
fn whole_corpus_directory_in_one_run() {
    let c = corpus();
    let report = validate_paths(&[c], &ValidateOptions::default(), None).unwrap();
    assert_eq!(report.files.len(), 13);
    assert_eq!(report.errors(), 0);
}

/// Every finding on the corpus (code, line:col, pointer), pinned: a regression in any rule or in
/// position mapping on real files shows up here.
#[test]
fn corpus_findings_snapshot() {
    let c = corpus();
    let report =
        validate_paths(std::slice::from_ref(&c), &ValidateOptions::default(), None).unwrap();
    let mut out = String::new();
    for f in &report.files {
        let rel = f.path.strip_prefix(&c).unwrap().display().to_string();
        out.push_str(&format!(
            "== {rel} dialect={} node_type={} status={}\n",
            f.dialect.map_or("-", |d| d.as_str()),
            f.node_type.as_ref().map_or("-", |n| n.canonical.as_str()),
            f.status().as_str()
        ));
        for d in &f.diagnostics {
            out.push_str(&format!(
                "  {}:{} {:?} {} [{}]\n",
                d.pos.line, d.pos.column, d.severity, d.code, d.pointer
            ));
        }
    }
    insta::assert_snapshot!("corpus_findings", out);
}
