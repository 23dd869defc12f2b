//! Looking at runs after the fact, from the events on the bus alone: `onex status ID`,
//! `onex trace ID`, `onex runs` and `onex events replay --correlation-id ID`.

use super::busctl;
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use crate::outln;
use crate::progress::{Display, Style};
use onex_engine::bus::Role;
use onex_engine::events::{Envelope, EventStatus, StageScope};
use onex_engine::pipeline::replay;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The run's correlation id.
    #[arg(value_name = "ID")]
    pub correlation_id: Uuid,
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", value_parser = crate::cmd::busctl::parse_bus_url)]
    pub bus: Option<String>,
    /// How many recent runs.
    #[arg(long, value_name = "COUNT", default_value_t = 20)]
    pub limit: usize,
    /// JSON output (one object per line).
    #[arg(long)]
    pub json: bool,
}

async fn run_events(args: &RunArgs, app: &App) -> Result<Vec<Envelope>, CliError> {
    let cfg = busctl::bus_config(&app.config, args.bus.as_deref());
    let bus = busctl::connect(&cfg, Role::Cli, app.events(&[])?, Duration::from_secs(10)).await?;
    let events = busctl::read_run(bus.as_ref(), args.correlation_id)
        .await
        .map_err(|e| CliError::failed(format!("onex: reading events: {e}")))?;
    if events.is_empty() {
        return Err(CliError::failed(format!(
            "onex: no events of run {} on {}",
            args.correlation_id, cfg.url
        )));
    }
    Ok(replay::order_run(&events))
}

/// `onex status ID`: the run's outcome so far.
pub async fn status(args: &RunArgs, app: &App) -> CliResult {
    let events = run_events(args, app).await?;
    match replay::rebuild(&events, None) {
        Some(r) => {
            Display::new(if args.json { Style::Json } else { Style::Text }).run_result(&r);
            if r.success() {
                Ok(())
            } else {
                Err(CliError::reported(Kind::Failed))
            }
        }
        None => {
            let Some(last) = events.last() else {
                return Ok(());
            };
            if args.json {
                outln!(
                    "{}",
                    serde_json::json!({"correlation_id": args.correlation_id, "status": "running",
                                       "last_event": last.event_type, "seq": last.seq})
                )
            } else {
                outln!(
                    "run {} is running: last event {} (seq {}, stage {})",
                    args.correlation_id,
                    last.event_type,
                    last.seq,
                    last.stage
                )
            }
        }
    }
}

/// `onex trace ID`: each stage and gate with start, duration and outcome.
pub async fn trace(args: &RunArgs, app: &App) -> CliResult {
    let events = run_events(args, app).await?;
    let Some(r) = replay::rebuild(&events, None) else {
        return Err(CliError::failed(format!(
            "onex trace: run {} has not finished yet",
            args.correlation_id
        )));
    };
    let lines = replay::timeline(&r);
    if args.json {
        return outln!("{}", serde_json::to_string(&lines).unwrap_or_default());
    }
    outln!(
        "run {}  {}  trace {}  {} ms  {}",
        r.correlation_id,
        r.workflow
            .as_ref()
            .map_or_else(|| "workflow ?".to_string(), |w| w.to_string()),
        events[0].trace.traceparent,
        r.total_duration_ms,
        if r.success() { "success" } else { "failed" }
    )?;
    for l in lines {
        outln!(
            "{}{:<38} {:<26} {:>7} {:<10} {}",
            "  ".repeat(l.depth),
            l.name,
            l.started_at.unwrap_or_default(),
            l.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default(),
            l.outcome,
            l.detail
        )?;
    }
    Ok(())
}

/// `onex events replay --correlation-id ID`: the run shown again exactly as it looked live.
pub async fn replay_run(args: &RunArgs, app: &App) -> CliResult {
    let events = run_events(args, app).await?;
    let display = Display::new(if args.json { Style::Json } else { Style::Text });
    for e in &events {
        display.event(e);
    }
    match replay::rebuild(&events, None) {
        Some(r) => {
            display.run_result(&r);
            Ok(())
        }
        None => {
            eprintln!("(the run has not finished)");
            Ok(())
        }
    }
}

/// `onex runs`: recent runs of every workflow with their outcome.
pub async fn runs(args: &RunsArgs, app: &App) -> CliResult {
    let events = app.events(&[])?;
    let cfg = busctl::bus_config(&app.config, args.bus.as_deref());
    let bus = busctl::connect(&cfg, Role::Cli, events.clone(), Duration::from_secs(10)).await?;
    // Run-level events (triggers and terminal events) are all a run list needs.
    let topics: Vec<String> = events
        .catalogs()
        .iter()
        .flat_map(|c| c.events())
        .filter(|d| d.stage == StageScope::Pipeline && d.event_type != "DeadLettered")
        .filter_map(|d| bus.topic(&d.event_type).ok())
        .collect();
    let read = busctl::read_all(bus.as_ref(), &topics, Duration::from_millis(300))
        .await
        .map_err(|e| CliError::failed(format!("onex runs: {e}")))?;
    // correlation id → (the client's trigger, the terminal event)
    let mut by_run: BTreeMap<Uuid, (Option<Envelope>, Option<Envelope>)> = BTreeMap::new();
    for e in read {
        let id = e.correlation_id;
        if e.is_terminal() {
            by_run.entry(id).or_default().1 = Some(e);
        } else if e.starts_own_run() && e.status == EventStatus::Started {
            by_run.entry(id).or_default().0.get_or_insert(e);
        }
    }
    let mut rows: Vec<_> = by_run.into_iter().collect();
    // UUID v7 ids sort by creation time; derived (chained) ids do not, so sort by time seen.
    rows.sort_by(|a, b| {
        let at = |r: &(Option<Envelope>, Option<Envelope>)| {
            r.0.as_ref()
                .or(r.1.as_ref())
                .map(|e| e.timestamp.clone())
                .unwrap_or_default()
        };
        at(&b.1).cmp(&at(&a.1))
    });
    if !args.json {
        outln!(
            "{:<36}  {:<24}  {:<24}  {:<28}  INPUT",
            "RUN",
            "WORKFLOW",
            "STARTED",
            "OUTCOME"
        )?;
    }
    for (id, (submitted, terminal)) in rows.into_iter().take(args.limit) {
        let outcome = match terminal.as_ref().and_then(|t| t.outcome.as_ref()) {
            Some(o) => match &o.failure {
                None => "success".to_owned(),
                Some(f) => format!("failed {}", f.code),
            },
            None => "running".to_owned(),
        };
        let workflow = terminal
            .as_ref()
            .and_then(|t| t.workflow.as_ref())
            .map(|w| format!("{} {}", w.name, w.version))
            .unwrap_or_else(|| {
                submitted
                    .as_ref()
                    .map(|s| s.event_type.clone())
                    .unwrap_or_default()
            });
        let when = submitted
            .as_ref()
            .or(terminal.as_ref())
            .map(|s| s.timestamp.clone())
            .unwrap_or_default();
        let input = match (
            &submitted,
            terminal.as_ref().and_then(|t| t.outcome.as_ref()),
        ) {
            (Some(s), _) => first_text(&s.payload),
            (None, Some(o)) => o
                .caused_by
                .map(|c| format!("after run {c}"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"correlation_id": id, "workflow": terminal.as_ref().and_then(|t| t.workflow.clone()),
                                   "started_at": when, "outcome": outcome, "input": input,
                                   "outputs": terminal.as_ref().and_then(|t| t.outcome.as_ref()).map(|o| &o.outputs)})
            )?;
        } else {
            outln!(
                "{id}  {workflow:<24}  {when:<24}  {outcome:<28}  {}",
                ellipsis(&input, 60)
            )?;
        }
    }
    Ok(())
}

/// The first text field of a trigger payload (a prompt, a directory …), for the run list.
fn first_text(payload: &serde_json::Value) -> String {
    payload
        .as_object()
        .and_then(|m| {
            m.values()
                .find_map(|v| v.as_str().filter(|s| !s.is_empty()))
        })
        .unwrap_or_default()
        .replace(['\n', '\r', '\t'], " ")
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
