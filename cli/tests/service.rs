//! `onex orchestrator` as a service: Prometheus metrics and liveness on `--metrics-addr`, and a
//! graceful stop on SIGTERM (stops taking work, finishes what is in flight, exits 0).

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
            "--metrics-addr",
            "127.0.0.1:0",
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
                .map(|(_, a)| a.trim_end_matches("/metrics").to_owned())
        })
        .expect("prints the metrics address");
    assert!(lines.by_ref().any(|l| l.contains("ready")));

    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.0 200") || health.starts_with("HTTP/1.1 200"),
        "{health}"
    );
    assert!(health.contains("embedded"));

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

    // SIGTERM: a clean stop.
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert!(lines.any(|l| l.contains("stopped")), "says it stopped");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
