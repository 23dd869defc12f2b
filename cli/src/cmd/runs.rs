//! Looking at runs after the fact, from the events on the bus alone: `onex status ID`,
//! `onex trace ID`, `onex runs` and `onex events replay --correlation-id ID`.

use super::busctl;
use crate::progress::{Display, Style};
use onex_engine::bus::Role;
use onex_engine::config::Config;
use onex_engine::events::Envelope;
use onex_engine::pipeline::replay;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The run's correlation id.
    pub correlation_id: Uuid,
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    pub bus: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    pub bus: Option<String>,
    /// How many recent runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON output (one object per line).
    #[arg(long)]
    pub json: bool,
}

async fn run_events(args: &RunArgs, config: &Config) -> Result<Vec<Envelope>, ExitCode> {
    let cfg = busctl::bus_config(config, args.bus.as_deref());
    let bus = busctl::connect(&cfg, Role::Cli, Duration::from_secs(10)).await?;
    let events = busctl::read_run(bus.as_ref(), args.correlation_id)
        .await
        .map_err(|e| {
            eprintln!("onex: reading events: {e}");
            ExitCode::from(1)
        })?;
    if events.is_empty() {
        eprintln!(
            "onex: no events of run {} on {}",
            args.correlation_id, cfg.url
        );
        return Err(ExitCode::from(1));
    }
    Ok(replay::order_run(&events))
}

/// `onex status ID`: the run's outcome so far.
pub async fn status(args: &RunArgs, config: &Config) -> ExitCode {
    let events = match run_events(args, config).await {
        Ok(e) => e,
        Err(c) => return c,
    };
    match replay::rebuild(&events, None) {
        Some(r) => {
            Display::new(if args.json { Style::Json } else { Style::Text }).result(&r);
            if r.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        None => {
            let last = events.last().expect("non-empty");
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"correlation_id": args.correlation_id, "status": "running",
                                       "last_event": last.event_type, "seq": last.seq})
                );
            } else {
                println!(
                    "run {} is running: last event {} (seq {}, stage {})",
                    args.correlation_id, last.event_type, last.seq, last.stage
                );
            }
            ExitCode::SUCCESS
        }
    }
}

/// `onex trace ID`: each stage and gate with start, duration and outcome.
pub async fn trace(args: &RunArgs, config: &Config) -> ExitCode {
    let events = match run_events(args, config).await {
        Ok(e) => e,
        Err(c) => return c,
    };
    let Some(r) = replay::rebuild(&events, None) else {
        eprintln!(
            "onex trace: run {} has not finished yet",
            args.correlation_id
        );
        return ExitCode::from(1);
    };
    let lines = replay::timeline(&r);
    if args.json {
        println!("{}", serde_json::to_string(&lines).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!(
        "run {}  trace {}  {} ms  {}",
        r.correlation_id,
        events[0].trace.traceparent,
        r.total_duration_ms,
        if r.success() { "success" } else { "failed" }
    );
    for l in lines {
        println!(
            "{}{:<38} {:<26} {:>7} {:<10} {}",
            "  ".repeat(l.depth),
            l.name,
            l.started_at.unwrap_or_default(),
            l.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
            l.outcome,
            l.detail
        );
    }
    ExitCode::SUCCESS
}

/// `onex events replay --correlation-id ID`: the run shown again exactly as it looked live.
pub async fn replay_run(args: &RunArgs, config: &Config) -> ExitCode {
    let events = match run_events(args, config).await {
        Ok(e) => e,
        Err(c) => return c,
    };
    let display = Display::new(if args.json { Style::Json } else { Style::Text });
    for e in &events {
        display.event(e);
    }
    match replay::rebuild(&events, None) {
        Some(r) => {
            display.result(&r);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("(the run has not finished)");
            ExitCode::SUCCESS
        }
    }
}

/// `onex runs`: recent runs with their outcome.
pub async fn runs(args: &RunsArgs, config: &Config) -> ExitCode {
    let cfg = busctl::bus_config(config, args.bus.as_deref());
    let bus = match busctl::connect(&cfg, Role::Cli, Duration::from_secs(10)).await {
        Ok(b) => b,
        Err(c) => return c,
    };
    let topics: Vec<String> = ["PromptSubmitted", "PipelineCompleted", "PipelineFailed"]
        .iter()
        .filter_map(|t| bus.topic(t).ok())
        .collect();
    let events = match busctl::read_all(bus.as_ref(), &topics, Duration::from_millis(300)).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("onex runs: {e}");
            return ExitCode::from(1);
        }
    };
    // correlation id → (submitted event, terminal event)
    let mut by_run: BTreeMap<Uuid, (Option<Envelope>, Option<Envelope>)> = BTreeMap::new();
    for e in events {
        let slot = by_run.entry(e.correlation_id).or_default();
        if e.event_type == "PromptSubmitted" {
            slot.0.get_or_insert(e);
        } else {
            slot.1 = Some(e);
        }
    }
    let mut rows: Vec<_> = by_run.into_iter().collect();
    // UUID v7 ids sort by creation time; newest first.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (id, (submitted, terminal)) in rows.into_iter().take(args.limit) {
        let outcome = match &terminal {
            Some(t) if t.event_type == "PipelineCompleted" => "success".to_owned(),
            Some(t) => format!(
                "failed {}",
                t.payload
                    .get("error_code")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
            ),
            None => "running".to_owned(),
        };
        let when = submitted
            .as_ref()
            .map(|s| s.timestamp.clone())
            .unwrap_or_default();
        let prompt = submitted
            .as_ref()
            .and_then(|s| s.payload.get("prompt_text")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let output = terminal
            .as_ref()
            .and_then(|t| t.payload.get("output_path")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        if args.json {
            println!(
                "{}",
                serde_json::json!({"correlation_id": id, "submitted_at": when, "outcome": outcome,
                                   "prompt": prompt, "output_path": output})
            );
        } else {
            let short: String = prompt.chars().take(50).collect();
            println!("{id}  {when:<24}  {outcome:<28}  {short}");
        }
    }
    ExitCode::SUCCESS
}
