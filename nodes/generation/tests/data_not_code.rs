//! "Contracts are the program": the shipped contract, edited as YAML text only, changes what
//! runs — a gate added, one removed, two reordered, a stage added beside compilation — with no
//! Rust change. The edited file goes through the same validation path as `onex validate`.

mod common;

use common::*;
use onex_engine::pipeline::{GateStatus, StageStatus};
use onex_engine::workflow::Workflow;
use std::path::Path;

/// Cuts the text from `from` (inclusive) to `to` (exclusive).
fn cut(text: &str, from: &str, to: &str) -> (String, String) {
    let a = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in contract"));
    let b = a + text[a..]
        .find(to)
        .unwrap_or_else(|| panic!("{to:?} after {from:?}"));
    (
        format!("{}{}", &text[..a], &text[b..]),
        text[a..b].to_owned(),
    )
}

fn edited_contract() -> String {
    let mut y = shipped_text();
    // 1. Remove G7 from parsing.
    (y, _) = cut(&y, "        - id: G7\n", "        - id: G8\n");
    // 2. Reorder G1 and G2 in pre_validation.
    let (rest, g1) = cut(&y, "        - id: G1\n", "        - id: G2\n");
    y = rest.replacen("        - id: G3\n", &format!("{g1}        - id: G3\n"), 1);
    // 3. Add a gate: only writers may be generated.
    y = y.replacen(
        "    # 3 ─ generation",
        "        - id: G15\n          name: Writers Only\n          type: BLOCKING\n          \
         expression: parsed.service_name is matching('_writer$')\n          \
         fail_message: \"'{{ parsed.service_name }}' is not a writer\"\n          \
         error_code: INVALID_SERVICE_NAME\n          \
         recovery_suggestions: [\"Generate writers only in this pipeline\"]\n\n    # 3 ─ generation",
        1,
    );
    // 4. Add a stage beside compilation, in parallel mode.
    y = y.replacen("execution_mode: sequential", "execution_mode: parallel", 1);
    y = y.replacen(
        "    coordination_rules:",
        "        - node_id: audit\n          node_type: COMPUTE_GENERIC\n          depends_on: [writing]\n    coordination_rules:",
        1,
    );
    y.push_str(
        "    - id: audit\n      gates:\n        - id: A1\n          name: Output Recorded\n          \
         type: WARNING\n          expression: written.node_directory and written.files | length == 12\n          \
         fail_message: the node directory was not recorded\n          error_code: AUDIT_MISSING\n",
    );
    y
}

fn load_edited(dir: &Path, text: &str) -> Workflow {
    let path = dir.join("contract.yaml");
    std::fs::write(&path, text).unwrap();
    match load(&path) {
        Ok(c) => c,
        Err(d) => panic!("edited contract invalid: {d:#?}\n{text}"),
    }
}

#[tokio::test]
async fn an_edited_contract_changes_the_pipeline_without_code() {
    let dir = tempfile::tempdir().unwrap();
    let contract = load_edited(dir.path(), &edited_contract());
    let ids: Vec<&str> = contract
        .contract
        .stages
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "parsing",
            "pre_validation",
            "generation",
            "post_validation",
            "writing",
            "compilation",
            "audit"
        ]
    );

    // A writer passes every gate, the new stage runs beside compilation.
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(
        "EFFECT node called DatabaseWriter writes records to PostgreSQL",
        out.path(),
    );
    opts.compile = true;
    let run = run_with(&contract, opts, services()).await;
    let r = &run.result;
    assert!(r.success(), "{}", r.summary());
    let parsing: Vec<&str> = r
        .stage("parsing")
        .unwrap()
        .gates
        .iter()
        .map(|g| g.gate_id.as_str())
        .collect();
    assert_eq!(parsing, ["G8"], "G7 removed");
    let pre: Vec<&str> = r
        .stage("pre_validation")
        .unwrap()
        .gates
        .iter()
        .map(|g| g.gate_id.as_str())
        .collect();
    assert_eq!(
        pre,
        ["G2", "G1", "G3", "G4", "G5", "G6", "G15"],
        "G1/G2 reordered, G15 added"
    );
    let audit = r.stage("audit").unwrap();
    assert_eq!(audit.status, StageStatus::Completed);
    assert_eq!(audit.gates[0].status, GateStatus::Pass);
    // The new stage's events are the generic ones, with its own stage id.
    let audit_events: Vec<&str> = run
        .events
        .iter()
        .filter(|e| e.stage == "audit")
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(audit_events, ["StageStarted", "StageCompleted"]);
    // It ran while compilation was in progress (same wave), not after it.
    let seq = |t: &str| run.events.iter().find(|e| e.event_type == t).unwrap().seq;
    let audit_done = run
        .events
        .iter()
        .find(|e| e.stage == "audit" && e.event_type == "StageCompleted")
        .unwrap()
        .seq;
    assert!(
        audit_done < seq("CompilationCompleted"),
        "audit finished before compilation did"
    );
    assert!(seq("WritingCompleted") < audit_done);

    // A non-writer is stopped by the new gate, before anything is written.
    let out = tempfile::tempdir().unwrap();
    let run = run_with(
        &contract,
        options(
            "EFFECT node called CacheReader reads from Redis",
            out.path(),
        ),
        services(),
    )
    .await;
    assert_eq!(run.result.failed_gate.as_deref(), Some("G15"));
    assert_eq!(
        run.result.error_summary.as_deref(),
        Some("'cache_reader' is not a writer")
    );
    assert_eq!(
        run.result.recovery_suggestions,
        ["Generate writers only in this pipeline"]
    );
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
}

#[test]
fn a_broken_edit_is_reported_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = edited_contract().replacen("handler: render_node", "handler: render_node_v2", 1);
    let path = dir.path().join("contract.yaml");
    std::fs::write(&path, &text).unwrap();
    let diags = load(&path).unwrap_err();
    let d = diags
        .iter()
        .find(|d| d.code == "ONEX100")
        .expect("unknown handler reported");
    let line = text
        .lines()
        .position(|l| l.contains("render_node_v2"))
        .unwrap() as u32
        + 1;
    assert_eq!(d.path, path);
    assert_eq!(d.pos.line, line);
    assert!(d.message.contains("render_node_v2"));
}
