//! Starting a run and following it, for any workflow (`onex run`, and `onex generate` on top):
//! in this process (`--direct`, the fallback of `cli.mode = auto`) or through the bus — observe
//! the run's topics, publish the trigger, show the run's events ordered by seq and print the
//! result rebuilt from them. With the embedded bus and no orchestrator alive, the CLI runs one
//! in its own process (still through the bus), or with `--detach` starts a background
//! `onex orchestrator --exit-when-idle`.

use super::busctl;
use crate::app::App;
use crate::progress::{Display, Style};
use onex_engine::bus::Role;
use onex_engine::config::CliMode;
use onex_engine::events::{Component, Envelope, EventRegistry};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{ChannelSink, Executor, RunRequest, RunResult, Services, SinkError};
use onex_engine::service::{Followed, OrchestratorOptions, Progress, RunFollower, presence};
use onex_engine::workflow::{Workflow, WorkflowSet};
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code: the CLI stopped waiting (the run goes on).
const EXIT_WAIT_TIMEOUT: u8 = 3;
/// Exit code: interrupted (SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Shows a finished run; says whether it succeeded.
pub type Render = fn(&Display, &RunResult) -> bool;

/// One run to start.
pub struct Submission<'a> {
    pub app: &'a App,
    /// The command's name, for messages (`onex generate`).
    pub command: &'static str,
    pub workflow: Workflow,
    pub trigger: Envelope,
    pub services: Services,
    /// `--bus`.
    pub bus: Option<String>,
    pub direct: bool,
    pub detach: bool,
    pub json: bool,
    /// `--timeout` (seconds to wait for the result).
    pub timeout: Option<u64>,
    /// Arguments for a background orchestrator besides `--bus` (`--workflow`, roots …).
    pub background_args: Vec<OsString>,
    pub render: Render,
}

impl Submission<'_> {
    fn events(&self) -> Result<Arc<EventRegistry>, ExitCode> {
        WorkflowSet::new(vec![self.workflow.clone()])
            .map(|s| s.events().clone())
            .map_err(|d| {
                crate::print_diagnostics(&d);
                ExitCode::from(2)
            })
    }

    fn display(&self) -> Display {
        Display::new(if self.json { Style::Json } else { Style::Text })
    }
}

/// Runs the submission in the mode the flags and `cli.mode` choose.
pub async fn submit(sub: Submission<'_>) -> ExitCode {
    if sub.direct || sub.app.config.cli.mode == CliMode::Direct {
        return direct(sub).await;
    }
    via_bus(sub).await
}

/// Runs the workflow in this process, showing events as they happen.
pub async fn direct(sub: Submission<'_>) -> ExitCode {
    let events = match sub.events() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let display = sub.display();
    display.event(&sub.trigger);
    let request = RunRequest::new(sub.workflow.id.clone(), sub.trigger.clone(), 1);
    let cid = request.correlation_id;
    let executor = Executor::new(
        Arc::new(sub.app.handlers.clone()),
        Arc::new(sub.services.clone()),
        events,
        event_source(Component::Orchestrator),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = ChannelSink(tx);
    let result = {
        let run = executor.run(&sub.workflow.contract, request, &sink);
        tokio::pin!(run);
        loop {
            tokio::select! {
                Some(e) = rx.recv() => display.event(&e),
                r = &mut run => break Some(r),
                _ = tokio::signal::ctrl_c() => break None,
            }
        }
    };
    let Some(result) = result else {
        // Leaving the block dropped the run: its resources (staging directories …) were
        // rolled back on the way out, so an interrupted run leaves its outputs as they were.
        eprintln!(
            "{}: interrupted; run {cid} cancelled (anything it had not finished was rolled back)",
            sub.command
        );
        return ExitCode::from(EXIT_INTERRUPTED);
    };
    drop(sink);
    while let Ok(e) = rx.try_recv() {
        display.event(&e);
    }
    finish(&sub, &display, result)
}

fn finish(
    sub: &Submission<'_>,
    display: &Display,
    result: Result<RunResult, SinkError>,
) -> ExitCode {
    match result {
        Ok(r) => {
            if (sub.render)(display, &r) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("{}: {e}", sub.command);
            ExitCode::from(1)
        }
    }
}

/// Publishes the trigger on the bus and follows the run (or returns at once with `--detach`).
pub async fn via_bus(sub: Submission<'_>) -> ExitCode {
    let config = &sub.app.config;
    let events = match sub.events() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let bus_cfg = busctl::bus_config(config, sub.bus.as_deref());
    let wait = match config.cli.mode {
        CliMode::Auto => Duration::from_millis(config.cli.auto_fallback_ms),
        _ => Duration::from_secs(10),
    };
    let bus = match busctl::connect(&bus_cfg, Role::Cli, events, wait).await {
        Ok(b) => b,
        Err(code)
            if config.cli.mode == CliMode::Auto
                && code == ExitCode::from(busctl::EXIT_UNREACHABLE) =>
        {
            eprintln!("onex: warning: bus unreachable; cli.mode = auto falls back to direct mode");
            return direct(sub).await;
        }
        Err(code) => return code,
    };
    let cid = onex_engine::pipeline::run::run_id_for(&sub.workflow.id.name, &sub.trigger);
    let unreachable_or = |e: &onex_engine::bus::BusError| {
        ExitCode::from(if e.is_unreachable() {
            busctl::EXIT_UNREACHABLE
        } else {
            1
        })
    };

    // Run an orchestrator ourselves when the embedded bus has none.
    let local = busctl::embedded_presence_dir(&bus_cfg).filter(|d| !presence::any_alive(d));
    if sub.detach {
        if local.is_some()
            && let Err(e) = spawn_background_orchestrator(&bus_cfg.url, &sub.background_args)
        {
            eprintln!(
                "{}: cannot start a background orchestrator: {e}",
                sub.command
            );
            return ExitCode::from(2);
        }
        let follower = RunFollower::new(bus.clone(), Vec::new());
        let took = match follower.publish(&sub.trigger).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "{}: publishing {}: {e}",
                    sub.command, sub.trigger.event_type
                );
                return unreachable_or(&e);
            }
        };
        if sub.json {
            println!(
                "{}",
                serde_json::json!({"correlation_id": cid, "status": "submitted",
                                   "workflow": sub.workflow.id,
                                   "publish_ms": took.as_secs_f64() * 1000.0})
            );
        } else {
            println!("{cid}");
        }
        return ExitCode::SUCCESS;
    }

    let follower = RunFollower::new(
        bus.clone(),
        sub.workflow
            .contract
            .stages
            .iter()
            .map(|s| s.id.clone())
            .collect(),
    );
    let mut observer = match follower.subscribe().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: observing the run's topics: {e}", sub.command);
            return unreachable_or(&e);
        }
    };
    match follower.publish(&sub.trigger).await {
        Ok(took) => tracing::debug!(?took, "trigger published"),
        Err(e) => {
            eprintln!(
                "{}: publishing {}: {e}",
                sub.command, sub.trigger.event_type
            );
            return unreachable_or(&e);
        }
    }
    let local_run = match local {
        None => None,
        Some(_) => {
            let set = match WorkflowSet::new(vec![sub.workflow.clone()]) {
                Ok(s) => Arc::new(s),
                Err(d) => {
                    crate::print_diagnostics(&d);
                    return ExitCode::from(2);
                }
            };
            let orch = busctl::orchestrator(
                bus.clone(),
                sub.app,
                set,
                sub.services.clone(),
                OrchestratorOptions::default(),
            );
            let trigger = sub.trigger.clone();
            Some(tokio::spawn(async move { orch.handle(trigger).await }))
        }
    };

    let display = sub.display();
    let run_timeout = config
        .run
        .timeout_s
        .unwrap_or(sub.workflow.contract.run_timeout.as_secs());
    let deadline = Instant::now()
        + Duration::from_secs(sub.timeout.unwrap_or(run_timeout + config.run.wait_grace_s));
    let follow = follower.follow(&mut observer, cid, deadline, |p| match p {
        Progress::Event(e) => display.event(e),
        Progress::Gap { from, to } => {
            eprintln!(
                "{}: events seq {from}..{to} did not arrive; showing what came",
                sub.command
            )
        }
    });
    let followed = tokio::select! {
        f = follow => f,
        // With an in-process orchestrator the run stops with us; its staging is cleaned up as
        // the process unwinds. Otherwise the run goes on elsewhere.
        _ = tokio::signal::ctrl_c() => {
            if local_run.is_none() {
                eprintln!("{}: stopped following; the run goes on. correlation id {cid}", sub.command);
                eprintln!("  follow it with: onex status {cid}");
            } else {
                eprintln!("{}: interrupted; run {cid} is on the bus, an orchestrator will finish it (onex status {cid})", sub.command);
            }
            return ExitCode::from(EXIT_INTERRUPTED);
        }
    };
    if let Some(handle) = local_run {
        // The terminal event is out (or we gave up); let the local run finish recording.
        let _ = handle.await;
    }
    match followed {
        Ok(Followed::Finished(r)) => finish(&sub, &display, Ok(*r)),
        Ok(Followed::TimedOut) => {
            eprintln!(
                "{}: stopped waiting; the run goes on. correlation id {cid}",
                sub.command
            );
            eprintln!("  follow it with: onex status {cid}");
            ExitCode::from(EXIT_WAIT_TIMEOUT)
        }
        Err(e) => {
            eprintln!("{}: following the run: {e}", sub.command);
            unreachable_or(&e)
        }
    }
}

/// Starts `onex orchestrator --exit-when-idle` detached from this process, so a `--detach`
/// run finishes after the CLI returns.
fn spawn_background_orchestrator(bus_url: &str, extra: &[OsString]) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["orchestrator", "--exit-when-idle", "10", "--bus", bus_url]);
    cmd.args(extra);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    cmd.spawn().map(|_| ())
}
