//! End-to-end figures per bus back end, with real processes (issue: Phase 4 benchmarks):
//! `onex generate --detach` publish latency (measured inside the CLI) and whole-process time,
//! end-to-end latency of one generation (CLI and orchestrator in separate processes), and
//! throughput with 1 and 2 orchestrators (Kafka and Redis). Prints a Markdown table for
//! docs/BENCHMARKS.md.
//!
//! `cargo bench -p onex-cli --bench e2e` (with the brokers of `scripts/brokers.sh start` in the
//! environment for Redis and Kafka; embedded always runs).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Proc, events, fast_group_config};
use onex_engine::bus::{self, BusConfig, ObserveFrom, Role};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ONEX: &str = env!("CARGO_BIN_EXE_onex");

fn orchestrator(state: &Path, url: &str, prefix: &str, out: &Path, concurrency: usize) -> Proc {
    common::orchestrator_with(state, url, prefix, out, true, concurrency)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn generate(state: &Path, url: &str, prefix: &str, out: &Path, detach: bool) -> (f64, Option<f64>) {
    let t0 = Instant::now();
    let mut cmd = Command::new(ONEX);
    cmd.args(["generate", "--json", "--no-compile", "--bus", url, "-o"])
        .arg(out)
        .env("ONEX_TOPIC_PREFIX", prefix)
        .env("XDG_STATE_HOME", state)
        .current_dir(state);
    if detach {
        cmd.arg("--detach");
    }
    let o = cmd
        .arg("Create EFFECT node called OrderWriter that writes orders to PostgreSQL")
        .output()
        .unwrap();
    let wall = t0.elapsed().as_secs_f64() * 1000.0;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let publish = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v.get("publish_ms")?.as_f64());
    (wall, publish)
}

/// Publishes `n` triggers and returns runs/s until every terminal event arrived.
async fn throughput(url: &str, orchestrators: usize, concurrency: usize, n: usize) -> f64 {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    fast_group_config(state.path());
    let prefix = format!("tp{}.", Uuid::now_v7().simple());
    let mut cfg = BusConfig::with_url(url);
    cfg.topic_prefix = prefix.clone();
    let bus = bus::connect(&cfg, Role::Service, events()).await.unwrap();
    let terminals: Vec<String> = ["PipelineCompleted", "PipelineFailed"]
        .iter()
        .map(|t| bus.topic(t).unwrap())
        .collect();
    let mut obs = bus.observe(&terminals, ObserveFrom::End).await.unwrap();
    let _procs: Vec<Proc> = (0..orchestrators)
        .map(|_| orchestrator(state.path(), url, &prefix, &out, concurrency))
        .collect();
    let t0 = Instant::now();
    for i in 0..n {
        bus.publish(&common::trigger("OrderWriter", i, &out))
            .await
            .unwrap();
    }
    let mut done = BTreeSet::new();
    while done.len() < n {
        if let Some(o) = obs.next(Duration::from_secs(60)).await.unwrap() {
            done.insert(o.envelope.correlation_id);
        } else {
            panic!("stalled at {} of {n}", done.len());
        }
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut backends: Vec<(&str, String)> = Vec::new();
    let embedded_dir = tempfile::tempdir().unwrap();
    backends.push((
        "embedded",
        format!("embedded:{}/bus", embedded_dir.path().display()),
    ));
    for (name, var) in [
        ("redis", "ONEX_TEST_REDIS_URL"),
        ("kafka", "ONEX_TEST_KAFKA_URL"),
    ] {
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => backends.push((name, u)),
            _ => eprintln!("{name}: skipped ({var} not set)"),
        }
    }
    // ONEX_BENCH_PART=throughput skips the latency table.
    let latency = std::env::var("ONEX_BENCH_PART").map_or(true, |p| p != "throughput");
    if latency {
        println!(
            "| bus | `--detach` publish p50 / p99 | `--detach` whole process p50 / p99 | one generation end to end p50 / p99 |"
        );
        println!("|---|---|---|---|");
        for (name, url) in &backends {
            let state = tempfile::tempdir().unwrap();
            let out = state.path().join("out");
            std::fs::create_dir_all(&out).unwrap();
            let prefix = format!("bench{}.", Uuid::now_v7().simple());
            let _orch = orchestrator(state.path(), url, &prefix, &out, 4);
            generate(state.path(), url, &prefix, &out.join("warm"), false);
            let (mut publish, mut wall) = (Vec::new(), Vec::new());
            for i in 0..60 {
                let (w, p) = generate(state.path(), url, &prefix, &out.join(format!("d{i}")), true);
                wall.push(w);
                publish.push(p.expect("publish_ms reported"));
            }
            let mut e2e = Vec::new();
            for i in 0..20 {
                e2e.push(
                    generate(
                        state.path(),
                        url,
                        &prefix,
                        &out.join(format!("e{i}")),
                        false,
                    )
                    .0,
                );
            }
            println!(
                "| {name} | {:.2} / {:.2} ms | {:.1} / {:.1} ms | {:.0} / {:.0} ms |",
                pct(publish.clone(), 0.5),
                pct(publish, 0.99),
                pct(wall.clone(), 0.5),
                pct(wall, 0.99),
                pct(e2e.clone(), 0.5),
                pct(e2e, 0.99)
            );
        }
    }
    println!();
    println!("| bus | concurrency per orchestrator | 1 orchestrator | 2 orchestrators | ratio |");
    println!("|---|---|---|---|---|");
    for (name, url) in backends.iter().filter(|(n, _)| *n != "embedded") {
        for concurrency in [1, 4] {
            let one = rt.block_on(throughput(url, 1, concurrency, 200));
            let two = rt.block_on(throughput(url, 2, concurrency, 200));
            println!(
                "| {name} | {concurrency} | {one:.0} runs/s | {two:.0} runs/s | {:.2}× |",
                two / one
            );
        }
    }
}
