//! `onex generate` end to end, as a user runs it: CLI and orchestrator in separate processes,
//! on the embedded bus always and on Redis / Kafka when the test brokers run
//! (`scripts/brokers.sh`; with `ONEX_REQUIRE_BROKERS=1` a missing broker fails).

mod common;

use assert_cmd::Command;
use common::{broker, orchestrator};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn onex(state: &Path) -> Command {
    let mut c = Command::cargo_bin("onex").unwrap();
    c.env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("ONEX_BUS")
        .env_remove("ONEX_CLI_MODE")
        .env_remove("ONEX_PYTHON")
        .current_dir(state);
    c
}

/// Every file under `dir`, relative, with run-dependent fields (docs/generation.md §4.6) masked.
fn masked_tree(dir: &Path, cid: &str) -> Vec<(String, String)> {
    let ts = regex::Regex::new(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?").unwrap();
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let hash = regex::Regex::new(r"(?m)^hash: [0-9a-f]{64}$").unwrap();
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(e.path())
            .unwrap()
            .replace(cid, "<cid>");
        let text = ts.replace_all(&text, "<t>");
        let text = uuid.replace_all(&text, "<uuid>");
        let text = hash.replace_all(&text, "hash: <h>").into_owned();
        out.push((
            e.path().strip_prefix(dir).unwrap().display().to_string(),
            text,
        ));
    }
    out
}

fn ndjson(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

const PROMPT: &str =
    "Create EFFECT node called OrderWriter in the orders domain that writes orders to PostgreSQL";

/// Runs a generation; returns (exit code, NDJSON lines, stderr).
fn generate(state: &Path, out: &Path, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let o = onex(state)
        .args(["generate", "--json", "--no-compile", "-o"])
        .arg(out)
        .args(extra)
        .arg(PROMPT)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        ndjson(&o.stdout),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn result_of(lines: &[Value]) -> &Value {
    lines
        .last()
        .expect("output")
        .get("result")
        .expect("last line is the result")
}

fn check_ndjson(lines: &[Value]) {
    let events = &lines[..lines.len() - 1];
    assert_eq!(events[0]["event_type"], "PromptSubmitted");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1, "ordered by seq");
    }
    assert_eq!(events.len(), 36, "36 events with --no-compile");
}

#[test]
fn direct_mode_generates_and_prints_ndjson() {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    let (code, lines, err) = generate(state.path(), &out, &["--direct"]);
    assert_eq!(code, 0, "{err}");
    check_ndjson(&lines);
    let r = result_of(&lines);
    assert_eq!(r["status"], "success");
    assert_eq!(r["generated_files"].as_array().unwrap().len(), 12);
    assert!(
        out.join("node_orders_order_writer_effect/v1_0_0/node.py")
            .is_file()
    );
}

#[test]
fn exit_codes_name_what_went_wrong() {
    let state = tempfile::tempdir().unwrap();
    // 1: the pipeline failed (an invalid prompt), with the error code on stdout.
    let o = onex(state.path())
        .args(["generate", "--direct", "tiny"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("INVALID_PROMPT"));
    // 2: usage.
    let o = onex(state.path())
        .args(["generate", "--type", "SAGA", "a prompt here"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SAGA"));
    // 2: a configuration error names the file.
    std::fs::write(state.path().join("onex.toml"), "[bus]\nurll = 1\n").unwrap();
    let o = onex(state.path())
        .args(["generate", "a long enough prompt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("onex.toml"));
    std::fs::remove_file(state.path().join("onex.toml")).unwrap();
    // 4: the bus cannot be reached.
    let o = onex(state.path())
        .args(["generate", "--bus", "redis://127.0.0.1:1", PROMPT])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn auto_mode_falls_back_to_direct_when_the_bus_is_down() {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    let o = onex(state.path())
        .env("ONEX_CLI_MODE", "auto")
        .args([
            "generate",
            "--no-compile",
            "--bus",
            "redis://127.0.0.1:1",
            "-o",
        ])
        .arg(&out)
        .arg(PROMPT)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("falls back to direct"));
    assert!(out.join("node_orders_order_writer_effect").is_dir());
}

fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Bus mode with the orchestrator in its own process gives the same files as `--direct`.
fn bus_matches_direct(bus: &str) {
    let state = tempfile::tempdir().unwrap();
    let bus = &bus.replace("{state}", &state.path().display().to_string());
    let prefix = format!("e2e{}.", uuid_like());
    let direct_out = state.path().join("direct");
    let (code, direct, err) = generate(state.path(), &direct_out, &["--direct"]);
    assert_eq!(code, 0, "{err}");

    let bus_out = state.path().join("bus");
    std::fs::create_dir_all(&bus_out).unwrap();
    let _orch = orchestrator(
        state.path(),
        bus,
        &prefix,
        &bus_out,
        !bus.starts_with("embedded"),
    );
    if let Some(bus_dir) = bus.strip_prefix("embedded:") {
        let dir = Path::new(bus_dir).join("orchestrators");
        wait_until(
            "the orchestrator to register",
            Duration::from_secs(30),
            || {
                std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false)
            },
        );
    }
    let o = onex(state.path())
        .env("ONEX_TOPIC_PREFIX", &prefix)
        .args([
            "generate",
            "--json",
            "--no-compile",
            "--timeout",
            "90",
            "--bus",
            bus,
            "-o",
        ])
        .arg(&bus_out)
        .arg(PROMPT)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let lines = ndjson(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    check_ndjson(&lines);
    let orchestrated = lines[1]["source"]["component"].clone();
    assert_eq!(orchestrated, "orchestrator");
    let (rd, rb) = (result_of(&direct), result_of(&lines));
    assert_eq!(rd["generated_files"], rb["generated_files"]);
    let dir = "node_orders_order_writer_effect";
    assert_eq!(
        masked_tree(
            &direct_out.join(dir),
            rd["correlation_id"].as_str().unwrap()
        ),
        masked_tree(&bus_out.join(dir), rb["correlation_id"].as_str().unwrap()),
        "same node files through {bus} as --direct"
    );
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ 0x5eed
    )
}

#[test]
fn embedded_bus_with_a_separate_orchestrator_matches_direct() {
    bus_matches_direct("embedded:{state}/bus");
}

#[test]
fn redis_bus_with_a_separate_orchestrator_matches_direct() {
    if let Some(url) = broker("ONEX_TEST_REDIS_URL") {
        bus_matches_direct(&url);
    }
}

#[test]
fn kafka_bus_with_a_separate_orchestrator_matches_direct() {
    if let Some(url) = broker("ONEX_TEST_KAFKA_URL") {
        bus_matches_direct(&url);
    }
}

#[test]
fn detach_returns_at_once_and_a_background_orchestrator_finishes_the_run() {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = onex(state.path())
        .args(["generate", "--detach", "--no-compile", "-o"])
        .arg(&out)
        .arg(PROMPT)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(id.len(), 36, "prints the correlation id: {id}");
    wait_until(
        "the detached run to finish",
        Duration::from_secs(60),
        || {
            let s = onex(state.path())
                .args(["status", "--json", &id])
                .output()
                .unwrap();
            s.status.code() == Some(0) && String::from_utf8_lossy(&s.stdout).contains("\"success\"")
        },
    );
    assert!(
        out.join("node_orders_order_writer_effect/v1_0_0/node.py")
            .is_file()
    );
    // The run is in the log: trace, runs and replay read it back.
    let t = onex(state.path()).args(["trace", &id]).output().unwrap();
    assert!(String::from_utf8_lossy(&t.stdout).contains("G6 Output Directory Writable"));
    let runs = onex(state.path()).args(["runs"]).output().unwrap();
    assert!(String::from_utf8_lossy(&runs.stdout).contains(&id));
    let replay = onex(state.path())
        .args(["events", "replay", "--json", "--correlation-id", &id])
        .output()
        .unwrap();
    let lines = ndjson(&replay.stdout);
    check_ndjson(&lines);
}

#[test]
fn waiting_times_out_with_exit_3_and_the_correlation_id() {
    // Redis with nobody consuming: the CLI gives up after --timeout, the run stays submitted.
    let Some(url) = broker("ONEX_TEST_REDIS_URL") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let o = onex(state.path())
        .env("ONEX_TOPIC_PREFIX", format!("timeout{}.", uuid_like()))
        .args(["generate", "--timeout", "1", "--bus", &url, PROMPT])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("correlation id"));
}

#[test]
fn a_caller_chosen_correlation_id_is_echoed_everywhere() {
    let state = tempfile::tempdir().unwrap();
    let id = "0192f4a8-8f00-7c00-8000-000000000040";
    let (code, lines, err) = generate(
        state.path(),
        &state.path().join("out"),
        &["--direct", "--correlation-id", id],
    );
    assert_eq!(code, 0, "{err}");
    for e in &lines[..lines.len() - 1] {
        assert_eq!(e["correlation_id"], id);
    }
    assert_eq!(result_of(&lines)["correlation_id"], id);
}

/// `onex events …` on the bus `bus`, in `state`.
fn events(state: &Path, bus: &str, args: &[&str], payload: Option<&Path>) -> std::process::Output {
    let mut c = onex(state);
    c.env("ONEX_BUS", bus).arg("events").args(args);
    if let Some(p) = payload {
        c.arg("--payload").arg(p);
    }
    c.timeout(Duration::from_secs(30)).output().unwrap()
}

#[test]
fn events_publish_and_tail_on_the_embedded_bus() {
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    let payload = state.path().join("p.json");
    std::fs::write(
        &payload,
        serde_json::json!({"prompt_text": "Create EFFECT node called TailWriter", "output_directory": "/tmp",
                           "requested_by": "ops"})
        .to_string(),
    )
    .unwrap();
    let publish = ["publish", "--type", "PromptSubmitted"];
    let o = events(state.path(), &bus, &publish, Some(&payload));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let t = events(
        state.path(),
        &bus,
        &["tail", "--from-beginning", "--json", "--count", "1"],
        None,
    );
    assert_eq!(
        t.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );
    let lines = ndjson(&t.stdout);
    assert_eq!(lines[0]["event_type"], "PromptSubmitted");
    assert_eq!(
        lines[0]["payload"]["prompt_text"],
        "Create EFFECT node called TailWriter"
    );
    // An invalid payload is refused before it reaches the bus.
    std::fs::write(&payload, r#"{"prompt_text": 42}"#).unwrap();
    let bad = events(state.path(), &bus, &publish, Some(&payload));
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("prompt_text"), "{err}");
}
