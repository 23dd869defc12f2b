//! `onex orchestrator` as a service: Prometheus metrics (checked by promtool when installed),
//! liveness and readiness on `--metrics-addr` (a host name is resolved), JSON logs with one
//! line per run start and end, and a graceful stop on SIGTERM (says what it waits for,
//! finishes what is in flight, exits 0).

mod common;

use assert_cmd::Command;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::Duration;

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_health_and_graceful_sigterm() {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("onex"))
        .args([
            "orchestrator",
            "--log-format",
            "json",
            "--metrics-addr",
            "localhost:0",
            "--bus",
            &bus,
            "--allowed-root",
        ])
        .arg(&out)
        .env("XDG_STATE_HOME", state.path())
        .current_dir(state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let addr = lines
        .by_ref()
        .find_map(|l| {
            l.split_once("metrics on http://")
                .and_then(|(_, a)| a.split_once("/metrics"))
                .map(|(a, _)| a.to_owned())
        })
        .expect("prints the metrics address");
    assert!(lines.by_ref().any(|l| l.contains("ready")));

    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.0 200") || health.starts_with("HTTP/1.1 200"),
        "{health}"
    );
    assert!(health.contains("embedded"));
    let ready = http_get(&addr, "/readyz");
    assert!(
        ready.starts_with("HTTP/1.0 200") || ready.starts_with("HTTP/1.1 200"),
        "{ready}"
    );
    assert!(ready.contains("\r\n\r\nready embedded"), "{ready}");

    let o = Command::cargo_bin("onex")
        .unwrap()
        .args(["generate", "--no-compile", "--bus", &bus, "-o"])
        .arg(&out)
        .arg("Create EFFECT node called MetricWriter that writes metrics to PostgreSQL")
        .env("XDG_STATE_HOME", state.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics = http_get(&addr, "/metrics");
    assert!(
        metrics.lines().any(|l| l.starts_with("onex_runs_total{")
            && l.contains("outcome=\"success\"")
            && l.contains("workflow=\"node_generation\"")
            && l.contains("workflow_version=\"1.0.0\"")
            && l.ends_with(" 1")),
        "one successful node_generation run, labelled with its workflow:\n{metrics}"
    );
    for name in [
        "onex_events_published_total",
        "onex_events_consumed_total",
        "onex_stage_duration_seconds",
        "onex_gate_outcomes_total",
        "onex_dlq_messages",
        "onex_consumer_lag",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    let body = metrics
        .split_once("\r\n\r\n")
        .map_or(metrics.as_str(), |(_, b)| b);
    check_exposition(body);

    // SIGTERM: a clean stop.
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let all = rest.join("\n");
    assert!(
        rest.iter().any(|l| l.contains("stopped")),
        "says it stopped:\n{all}"
    );
    assert!(
        rest.iter()
            .any(|l| l.contains("shutting down") && l.contains("waiting for the runs in flight")),
        "says what it waits for:\n{all}"
    );
    assert!(!all.contains('\u{1b}'), "no ANSI codes on a pipe:\n{all}");
    // One JSON line at the start and one at the end of the run, with its id, workflow,
    // outcome and duration.
    let logs: Vec<serde_json::Value> = rest
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // (The generated node's quality check is a run of its own, chained after this one.)
    let of = |msg: &str| -> Vec<&serde_json::Value> {
        logs.iter()
            .filter(|v| {
                v["fields"]["message"] == msg && v["fields"]["workflow"] == "node_generation"
            })
            .collect()
    };
    let (started, finished) = (of("run started"), of("run finished"));
    assert_eq!(started.len(), 1, "{all}");
    assert_eq!(finished.len(), 1, "{all}");
    assert_eq!(started[0]["level"], "INFO");
    let f = &finished[0]["fields"];
    assert_eq!(f["outcome"], "success", "{all}");
    assert!(f["duration_ms"].as_u64().is_some(), "{all}");
    assert_eq!(f["correlation_id"], started[0]["fields"]["correlation_id"]);
    assert!(
        uuid::Uuid::parse_str(f["correlation_id"].as_str().unwrap_or_default()).is_ok(),
        "{all}"
    );
}

/// The exposition: every family has HELP and TYPE, durations are histograms with buckets,
/// onex_build_info carries the version; then promtool's own check when it is installed.
fn check_exposition(body: &str) {
    let families: std::collections::BTreeSet<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
        })
        .collect();
    assert!(families.len() >= 9, "{families:?}");
    for f in &families {
        assert!(
            body.lines().any(|l| l.starts_with(&format!("# HELP {f} "))),
            "no HELP for {f}:\n{body}"
        );
    }
    for h in [
        "onex_run_duration_seconds",
        "onex_stage_duration_seconds",
        "onex_gate_duration_seconds",
    ] {
        assert!(
            body.contains(&format!("# TYPE {h} histogram")),
            "{h} is not a histogram:\n{body}"
        );
        assert!(
            body.lines()
                .any(|l| l.starts_with(&format!("{h}_bucket{{")) && l.contains("le=\"+Inf\"")),
            "{h} has no buckets:\n{body}"
        );
    }
    assert!(
        body.lines().any(|l| l
            == format!(
                "onex_build_info{{version=\"{}\"}} 1",
                onex_engine::ENGINE_VERSION
            )),
        "{body}"
    );
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut promtool) = promtool else {
        assert!(
            std::env::var("ONEX_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool not found and ONEX_REQUIRE_PROMTOOL=1 (.ci/run installs it)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: promtool not found (Debian: apt-get install prometheus); the \
             exposition was checked by this test's own rules only !!!!!!!!\n"
        );
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let o = promtool.wait_with_output().unwrap();
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn text_logs_on_a_pipe_carry_no_ansi_codes() {
    let state = tempfile::tempdir().unwrap();
    let bus = format!("embedded:{}/bus", state.path().display());
    let o = Command::cargo_bin("onex")
        .unwrap()
        .args(["orchestrator", "--exit-when-idle", "0", "--bus", &bus])
        .env("XDG_STATE_HOME", state.path())
        .env("ONEX_LOG", "info")
        .env_remove("NO_COLOR")
        .current_dir(state.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("orchestrator started"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI codes on a pipe:\n{err:?}");
}
