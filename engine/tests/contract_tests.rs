//! The contract-test runner (`onex test`) on the generic job workflow of
//! tests/fixtures/contract-tests: faults reach the executor and the `command` step, every
//! expectation kind can fail and is reported at its line, bad test files are refused with
//! file:line:col, and the JSON / JUnit reports say the same.

use onex_engine::pipeline::{Handlers, Services};
use onex_engine::testing::report;
use onex_engine::testing::runner::{self, RunnerConfig, TestReport, Verdict};
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/contract-tests")
        .join(name)
}

fn cfg() -> RunnerConfig {
    RunnerConfig {
        handlers: Handlers::builtin(),
        services: Services::default(),
        named: None,
        jobs: 2,
    }
}

async fn run(name: &str) -> TestReport {
    runner::run_one(&fixture(name), &cfg()).await
}

fn problems(r: &TestReport) -> Vec<String> {
    match &r.verdict {
        Verdict::Error { problems } => problems.clone(),
        other => panic!("{}: expected an error, got {other:?}", r.name),
    }
}

#[tokio::test]
async fn passing_tests_pass() {
    for name in ["passes.test.yaml", "faults.test.yaml", "timeout.test.yaml"] {
        let r = run(name).await;
        assert!(r.passed(), "{name}: {:#?}", r.verdict);
        assert_eq!(r.workflow.as_ref().unwrap().name, "test_job");
    }
}

#[tokio::test]
async fn every_wrong_expectation_is_reported_at_its_line() {
    let r = run("wrong.test.yaml").await;
    let Verdict::Failed { mismatches } = &r.verdict else {
        panic!("{:#?}", r.verdict);
    };
    let lines: Vec<String> = mismatches
        .iter()
        .map(|m| m.at.rsplit_once("wrong.test.yaml:").unwrap().1.to_owned())
        .collect();
    assert_eq!(
        lines,
        ["9:11", "10:11", "11:38", "13:56", "14:22", "16:33"],
        "{mismatches:#?}"
    );
    assert!(
        mismatches[0]
            .message
            .contains("expected success, got failed (FORCED at build")
    );
    let diff = mismatches[1].diff.as_deref().unwrap();
    assert!(
        diff.contains("- RunCompleted") && diff.contains("+ RunFailed"),
        "{diff}"
    );
    assert!(
        mismatches[3]
            .message
            .contains("expected \"NOT_BUILT\", got \"FORCED\"")
    );
    assert!(mismatches[4].message.contains("expected 7, got 6"));
    assert!(mismatches[5].message.contains("does not contain `goodbye`"));
}

#[tokio::test]
async fn unknown_keys_are_reported_at_the_key_with_a_suggestion() {
    let p = problems(&run("unknown_key.test.yaml").await);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("unknown_key.test.yaml:5:3 ONEX110 unknown key `corelation_id`; did you mean `correlation_id`?"), "{}", p[0]);
    assert!(
        p[1].contains(":7:3 ONEX110 unknown key `statuss`; did you mean `status`?"),
        "{}",
        p[1]
    );
}

#[tokio::test]
async fn names_the_workflow_lacks_are_refused() {
    let p = problems(&run("unknown_names.test.yaml").await);
    assert_eq!(p.len(), 4, "{p:#?}");
    assert!(p[0].contains(":4:9 ONEX111 JobFinished is not a trigger"));
    assert!(p[1].contains(
        ":7:13 ONEX111 workflow 'test_job' has no stage `biuld` (did you mean `build`?)"
    ));
    assert!(p[2].contains(":8:27 ONEX111 gate `B1` is no `command` step"));
    assert!(p[3].contains(":10:12 ONEX111 event type JobSubmited is in no catalogue"));
    let p = problems(&run("missing_workflow.test.yaml").await);
    assert!(
        p[0].contains("missing_workflow.test.yaml:2:11 ONEX111 no contract file no_such_workflow"),
        "{p:#?}"
    );
    let p = problems(&run("two_actions.test.yaml").await);
    assert!(
        p[0].contains(":6:5 ONEX110 /faults/0: a fault does exactly one of"),
        "{p:#?}"
    );
}

#[tokio::test]
async fn reports_count_the_same_in_every_format() {
    let paths = [
        "passes.test.yaml",
        "wrong.test.yaml",
        "two_actions.test.yaml",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    let reports = runner::run_all(paths, Arc::new(cfg())).await;
    assert_eq!(reports[0].name, "the job runs", "order is kept");
    let t = report::Totals::of(&reports);
    assert_eq!((t.passed, t.failed, t.errors), (1, 1, 1));
    let text = report::text(&reports, 1.0);
    assert!(
        text.contains("test result: FAILED. 1 passed; 2 failed (1 could not run)"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "1 passed, 2 failed"));
    let json: serde_json::Value = serde_json::from_str(&report::json(&reports, 1.0)).unwrap();
    assert_eq!(json["tests"][1]["outcome"], "failed");
    assert_eq!(json["tests"][2]["outcome"], "error");
    assert_eq!(json["failed"], 1);
    let xml = report::junit(&reports, 1.0);
    assert!(
        xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert_eq!(xml.matches("<error ").count(), 1);
    assert!(xml.contains("expected success, got failed"));
}
