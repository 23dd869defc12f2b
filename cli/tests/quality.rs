//! The second shipped workflow, the node quality check (`nodes/node_quality_check_orchestrator`,
//! built-in `command` steps and expression gates only), run as a user runs it: `onex run` against
//! an orchestrator in its own process, on the embedded bus always and on Redis / Kafka when the
//! test brokers run. Passing, a failing gate, a command timing out, a command missing, and chained
//! after a real generation (PipelineCompleted triggers it as a run of its own).

mod common;

use assert_cmd::Command;
use common::{broker, orchestrator_hosting};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped_contract() -> PathBuf {
    repo().join("nodes/node_quality_check_orchestrator/v1_0_0/contract.yaml")
}

fn onex(state: &Path, prefix: &str) -> Command {
    let mut c = Command::cargo_bin("onex").unwrap();
    c.env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env("ONEX_TOPIC_PREFIX", prefix)
        .env_remove("ONEX_BUS")
        .env_remove("ONEX_CLI_MODE")
        .env_remove("ONEX_PYTHON")
        .current_dir(state);
    c
}

/// The NDJSON of `--json`: the events, then `{"result": …}`.
fn ndjson(stdout: &[u8]) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let result = lines.pop().expect("output")["result"].clone();
    (lines, result)
}

/// One bus under test: a state directory, the URL and a topic prefix of its own.
struct Bus {
    state: tempfile::TempDir,
    url: String,
    prefix: String,
}

impl Bus {
    fn new(url: &str) -> Bus {
        let state = tempfile::tempdir().unwrap();
        let url = url.replace("{state}", &state.path().display().to_string());
        let prefix = format!("q{}.", &Uuid::now_v7().simple().to_string()[20..]);
        // Kafka: a killed orchestrator's partitions move in seconds, not after 45 s.
        common::fast_group_config(state.path());
        Bus { state, url, prefix }
    }

    fn path(&self) -> &Path {
        self.state.path()
    }

    /// An orchestrator hosting `workflows` (default: the shipped ones).
    fn orchestrator(&self, workflows: &[&Path]) -> common::Proc {
        let out = self.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        orchestrator_hosting(
            self.path(),
            &self.url,
            &self.prefix,
            &out,
            true,
            2,
            workflows,
        )
    }

    /// `onex run WORKFLOW --input node_directory=DIR --json` through the bus.
    fn check(&self, workflow: &str, dir: &Path) -> (i32, Vec<Value>, Value) {
        let o = onex(self.path(), &self.prefix)
            .args(["run", workflow, "--json", "--bus", &self.url, "--input"])
            .arg(format!("node_directory={}", dir.display()))
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let (events, result) = ndjson(&o.stdout);
        (o.status.code().unwrap_or(-1), events, result)
    }
}

fn node_dir(root: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(format!("node_{}", Uuid::now_v7().simple()));
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect()
}

/// An edited copy of the shipped contract (in the shipped directory's place, so its relative
/// catalogue paths still resolve), with `edit` applied to its text.
fn variant(bus: &Bus, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(shipped_contract()).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit of {name} changed nothing");
    let dir = bus.path().join(format!("{name}/nodes/q/v1_0_0"));
    std::fs::create_dir_all(&dir).unwrap();
    let contracts = bus.path().join(format!("{name}/contracts"));
    std::fs::create_dir_all(&contracts).unwrap();
    for f in ["node_quality_events.yaml", "pipeline_events.yaml"] {
        std::fs::copy(repo().join("contracts").join(f), contracts.join(f)).unwrap();
    }
    let path = dir.join("contract.yaml");
    std::fs::write(&path, edited).unwrap();
    path
}

fn passes_and_fails_on_its_gates(bus: &Bus) {
    let _orch = bus.orchestrator(&[]);

    // Passing: two good files.
    let good = node_dir(
        bus.path(),
        &[
            ("v1_0_0/node.py", "def f(x: int) -> int:\n    return x\n"),
            ("v1_0_0/models/m.py", "X = 1\n"),
        ],
    );
    let (code, events, r) = bus.check("node_quality_check", &good);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(types(&events).first(), Some(&"QualityCheckRequested"));
    assert_eq!(types(&events).last(), Some(&"QualityCheckCompleted"));
    assert_eq!(r["status"], "success");
    assert_eq!(r["outputs"]["files_checked"], 2);
    let terminal = events.last().unwrap();
    assert_eq!(terminal["workflow"]["name"], "node_quality_check");
    assert_eq!(terminal["payload"]["files_checked"], 2);
    for tool in ["ruff_status", "mypy_status"] {
        let s = terminal["payload"][tool].as_str().unwrap();
        assert!(["pass", "warning", "skipped"].contains(&s), "{tool}: {s}");
    }

    // A failing gate: Q2 names the file that does not compile.
    let bad = node_dir(
        bus.path(),
        &[("v1_0_0/node.py", "def f(:\n"), ("ok.py", "")],
    );
    let (code, events, r) = bus.check("node_quality_check", &bad);
    assert_eq!(code, 1, "{r:#}");
    let terminal = events.last().unwrap();
    assert_eq!(terminal["event_type"], "QualityCheckFailed");
    assert_eq!(terminal["payload"]["error_code"], "SYNTAX_ERROR");
    assert_eq!(terminal["payload"]["failed_gate"], "Q2");
    assert!(
        terminal["payload"]["error_message"]
            .as_str()
            .unwrap()
            .contains("node.py:1"),
        "{terminal:#}"
    );
    // Stages after the failed one never started.
    assert!(
        !types(&events).contains(&"StageStarted") || {
            events
                .iter()
                .filter(|e| e["event_type"] == "StageStarted")
                .all(|e| e["stage"] == "syntax")
        }
    );

    // Another blocking gate: a directory with no Python file at all (Q1).
    let empty = node_dir(bus.path(), &[("README.md", "nothing here\n")]);
    let (code, events, _) = bus.check("node_quality_check", &empty);
    assert_eq!(code, 1);
    assert_eq!(
        events.last().unwrap()["payload"]["error_code"],
        "NO_PYTHON_FILES"
    );
}

/// A command that outlives its `timeout_ms` is killed and fails its stage with COMMAND_TIMEOUT;
/// a program that is not installed fails with COMMAND_NOT_FOUND (the default `when_missing`).
fn timeouts_and_missing_programs(bus: &Bus) {
    let slow = variant(bus, "slow", |t| {
        t.replacen(
            "            import json, pathlib, sys\n",
            "            import json, pathlib, sys, time\n            time.sleep(60)\n",
            1,
        )
        .replacen("timeout_ms: 50000", "timeout_ms: 300", 1)
    });
    let dir = node_dir(bus.path(), &[("node.py", "X = 1\n")]);
    {
        let _orch = bus.orchestrator(&[&slow]);
        let t0 = Instant::now();
        let (code, events, r) = bus.check("node_quality_check", &dir);
        assert_eq!(code, 1, "{r:#}");
        assert!(t0.elapsed() < Duration::from_secs(50), "killed, not waited");
        let p = &events.last().unwrap()["payload"];
        assert_eq!(p["error_code"], "COMMAND_TIMEOUT", "{p:#}");
        assert_eq!(p["failed_stage"], "syntax");
    }
    let missing = variant(bus, "missing", |t| {
        t.replacen(
            "          - python3\n",
            "          - onex-test-no-such-program\n",
            1,
        )
    });
    {
        let _orch = bus.orchestrator(&[&missing]);
        let (code, events, r) = bus.check("node_quality_check", &dir);
        assert_eq!(code, 1, "{r:#}");
        let p = &events.last().unwrap()["payload"];
        assert_eq!(p["error_code"], "COMMAND_NOT_FOUND", "{p:#}");
        assert!(
            p["error_message"]
                .as_str()
                .unwrap()
                .contains("onex-test-no-such-program"),
            "{p:#}"
        );
    }
}

/// A real generation's PipelineCompleted starts a quality check of the node it wrote: a run of
/// its own, whose id derives from the triggering event and which links back to the generation.
fn chained_after_a_generation(bus: &Bus) {
    let _orch = bus.orchestrator(&[]);
    let out = bus.path().join("out");
    let o = onex(bus.path(), &bus.prefix)
        .args([
            "generate",
            "--json",
            "--no-compile",
            "--bus",
            &bus.url,
            "-o",
        ])
        .arg(&out)
        .arg("Create COMPUTE node called PriceCalculator that calculates order totals")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (events, generation) = ndjson(&o.stdout);
    let completed = events
        .iter()
        .find(|e| e["event_type"] == "PipelineCompleted")
        .expect("PipelineCompleted");
    let trigger_event: Uuid = completed["event_id"].as_str().unwrap().parse().unwrap();
    let run = onex_engine::pipeline::run::derived_run_id("node_quality_check", trigger_event);

    // Poll `onex status` (another process) until the chained run has ended.
    let t0 = Instant::now();
    let result = loop {
        let o = onex(bus.path(), &bus.prefix)
            .args(["status", "--json", "--bus", &bus.url])
            .arg(run.to_string())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        if let Ok(v) = serde_json::from_str::<Value>(text.trim())
            && v.get("result").is_some()
        {
            break v["result"].clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no chained quality check {run} within 120 s: {text} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(result["status"], "success", "{result:#}");
    assert_eq!(
        result["caused_by"].as_str(),
        generation["correlation_id"].as_str()
    );
    assert_eq!(result["workflow"]["name"], "node_quality_check");
    let node = generation["output_path"].as_str().unwrap();
    assert_eq!(result["outputs"]["node_directory"], node);
    // The generated node's Python files: node.py, models, __init__ … all compile.
    assert!(
        result["outputs"]["files_checked"].as_u64().unwrap() >= 3,
        "{result:#}"
    );
}

fn all(url: &str) {
    passes_and_fails_on_its_gates(&Bus::new(url));
    timeouts_and_missing_programs(&Bus::new(url));
    chained_after_a_generation(&Bus::new(url));
}

#[test]
fn quality_check_on_the_embedded_bus() {
    all("embedded:{state}/bus");
}

#[test]
fn quality_check_on_redis() {
    if let Some(url) = broker("ONEX_TEST_REDIS_URL") {
        all(&url);
    }
}

#[test]
fn quality_check_on_kafka() {
    if let Some(url) = broker("ONEX_TEST_KAFKA_URL") {
        all(&url);
    }
}
