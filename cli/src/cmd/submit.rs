//! Starting a run and following it, for any workflow (`onex run`, and `onex generate` on top):
//! in this process (`--direct`, the fallback of `cli.mode = auto`) or through the bus — observe
//! the run's topics, publish the trigger, show the run's events ordered by seq and print the
//! result rebuilt from them. With the embedded bus and no orchestrator alive, the CLI runs one
//! in its own process (still through the bus), or with `--detach` starts a background
//! `onex orchestrator --exit-when-idle`.

use super::busctl;
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use crate::progress::{Display, Style};
use onex_engine::bus::Role;
use onex_engine::config::CliMode;
use onex_engine::events::{Component, Envelope, EventRegistry};
use onex_engine::pipeline::run::event_source;
use onex_engine::pipeline::{ChannelSink, Executor, RunRequest, RunResult, Services, SinkError};
use onex_engine::service::{Followed, OrchestratorOptions, Progress, RunFollower, presence};
use onex_engine::workflow::{Workflow, WorkflowSet};
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a published trigger may go untaken before the CLI says no orchestrator is there.
const QUEUED_HINT_AFTER: Duration = Duration::from_secs(5);

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
    fn events(&self) -> Result<Arc<EventRegistry>, CliError> {
        WorkflowSet::new(vec![self.workflow.clone()])
            .map(|s| s.events().clone())
            .map_err(|d| {
                crate::print_diagnostics(&d);
                CliError::reported(Kind::Usage)
            })
    }

    fn display(&self) -> Display {
        Display::for_stages(
            if self.json { Style::Json } else { Style::Text },
            self.workflow
                .contract
                .stages
                .iter()
                .map(|s| s.id.clone())
                .collect(),
        )
    }
}

/// Runs the submission in the mode the flags and `cli.mode` choose.
pub async fn submit(sub: Submission<'_>) -> CliResult {
    if sub.direct || sub.app.config.cli.mode == CliMode::Direct {
        return direct(sub).await;
    }
    via_bus(sub).await
}

/// Runs the workflow in this process, showing events as they happen.
pub async fn direct(sub: Submission<'_>) -> CliResult {
    let events = sub.events()?;
    let display = sub.display();
    display.picked_up(Duration::ZERO); // no queue in this process
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
        return Err(CliError::new(
            Kind::Interrupted,
            format!(
                "{}: interrupted; run {cid} cancelled (anything it had not finished was rolled back)",
                sub.command
            ),
        ));
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
) -> CliResult {
    match result {
        Ok(r) => {
            if (sub.render)(display, &r) {
                Ok(())
            } else {
                Err(CliError::reported(Kind::Failed))
            }
        }
        Err(e) => Err(CliError::failed(format!("{}: {e}", sub.command))),
    }
}

/// Publishes the trigger on the bus and follows the run (or returns at once with `--detach`).
pub async fn via_bus(sub: Submission<'_>) -> CliResult {
    let config = &sub.app.config;
    let events = sub.events()?;
    let bus_cfg = busctl::bus_config(config, sub.bus.as_deref());
    let wait = match config.cli.mode {
        CliMode::Auto => Duration::from_millis(config.cli.auto_fallback_ms),
        _ => Duration::from_secs(10),
    };
    let bus = match busctl::connect(&bus_cfg, Role::Cli, events, wait).await {
        Ok(b) => b,
        Err(e) if config.cli.mode == CliMode::Auto && e.kind == Kind::Unreachable => {
            eprintln!("onex: warning: bus unreachable; cli.mode = auto falls back to direct mode");
            return direct(sub).await;
        }
        Err(e) => return Err(e),
    };
    let cid = onex_engine::pipeline::run::run_id_for(&sub.workflow.id.name, &sub.trigger);
    let bus_error = |what: String, e: &onex_engine::bus::BusError| {
        let kind = if e.is_unreachable() {
            Kind::Unreachable
        } else {
            Kind::Failed
        };
        CliError::new(kind, format!("{}: {what}: {e}", sub.command))
    };

    // Run an orchestrator ourselves when the embedded bus has none.
    let local = busctl::embedded_presence_dir(&bus_cfg).filter(|d| !presence::any_alive(d));
    if sub.detach {
        if local.is_some()
            && let Err(e) = spawn_background_orchestrator(&bus_cfg.url, &sub.background_args)
        {
            return Err(CliError::usage(format!(
                "{}: cannot start a background orchestrator: {e}",
                sub.command
            )));
        }
        let follower = RunFollower::new(bus.clone(), Vec::new());
        let took = follower
            .publish(&sub.trigger)
            .await
            .map_err(|e| bus_error(format!("publishing {}", sub.trigger.event_type), &e))?;
        return if sub.json {
            crate::outln!(
                "{}",
                serde_json::json!({"correlation_id": cid, "status": "submitted",
                                   "workflow": sub.workflow.id,
                                   "publish_ms": took.as_secs_f64() * 1000.0})
            )
        } else {
            crate::outln!("{cid}")
        };
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
    let mut observer = follower
        .subscribe()
        .await
        .map_err(|e| bus_error("observing the run's topics".into(), &e))?;
    let took = follower
        .publish(&sub.trigger)
        .await
        .map_err(|e| bus_error(format!("publishing {}", sub.trigger.event_type), &e))?;
    tracing::debug!(?took, "trigger published");
    let local_run = match local {
        None => None,
        Some(_) => {
            let set = match WorkflowSet::new(vec![sub.workflow.clone()]) {
                Ok(s) => Arc::new(s),
                Err(d) => {
                    crate::print_diagnostics(&d);
                    return Err(CliError::reported(Kind::Usage));
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
            let run = orch.clone();
            Some((orch, tokio::spawn(async move { run.handle(trigger).await })))
        }
    };

    let display = sub.display();
    if local_run.is_some() {
        display.picked_up(Duration::ZERO); // this process runs it: no queue
    }
    let run_timeout = config
        .run
        .timeout_s
        .unwrap_or(sub.workflow.contract.run_timeout.as_secs());
    let deadline = Instant::now()
        + Duration::from_secs(sub.timeout.unwrap_or(run_timeout + config.run.wait_grace_s));
    // Queued: nothing but our own trigger for a while means no orchestrator took it.
    let published = Instant::now();
    let picked_up = AtomicBool::new(local_run.is_some());
    let hinted = AtomicBool::new(false);
    let trigger_id = sub.trigger.event_id;
    let follow = follower.follow(&mut observer, cid, deadline, |p| match p {
        Progress::Event(e) => {
            if e.event_id != trigger_id && !picked_up.swap(true, Ordering::Relaxed) {
                display.picked_up(published.elapsed());
                if hinted.load(Ordering::Relaxed) {
                    eprintln!(
                        "{}: an orchestrator took the run after {:.1} s in the queue",
                        sub.command,
                        published.elapsed().as_secs_f64()
                    );
                }
            }
            display.event(e)
        }
        Progress::Gap { from, to } => {
            eprintln!(
                "{}: events seq {from}..{to} did not arrive; showing what came",
                sub.command
            )
        }
    });
    let queued_hint = async {
        tokio::time::sleep(QUEUED_HINT_AFTER).await;
        if !picked_up.load(Ordering::Relaxed) {
            hinted.store(true, Ordering::Relaxed);
            eprintln!(
                "{}: waiting for an orchestrator on {} (group {}); none seen for {} s — start one with `onex orchestrator --bus {}` (run {cid} stays queued; `onex cancel {cid}` withdraws it)",
                sub.command,
                bus_cfg.url,
                config.orchestrator.group,
                QUEUED_HINT_AFTER.as_secs(),
                bus_cfg.url
            );
        }
        std::future::pending::<()>().await
    };
    tokio::pin!(follow);
    tokio::pin!(queued_hint);
    let mut interrupted = false;
    let followed = loop {
        tokio::select! {
            f = &mut follow => break f,
            _ = &mut queued_hint => {}
            _ = tokio::signal::ctrl_c() => match &local_run {
                None => {
                    eprintln!("{}: stopped following; the run goes on. correlation id {cid}", sub.command);
                    eprintln!("  follow it with: onex status {cid}");
                    return Err(CliError::reported(Kind::Interrupted));
                }
                // The run is ours: stop it through its failure path so it ends with a terminal
                // event (its trigger was taken off the bus by no one else; leaving it half-run
                // would leave a record "in progress" forever, issue 12 D6).
                Some((orch, _)) if !interrupted => {
                    interrupted = true;
                    orch.cancel(cid);
                    eprintln!(
                        "{}: interrupted; stopping run {cid} at its next stage boundary (Ctrl-C again to leave at once)",
                        sub.command
                    );
                }
                Some(_) => {
                    eprintln!(
                        "{}: left run {cid} unfinished; an orchestrator takes it over once its record goes stale (onex status {cid})",
                        sub.command
                    );
                    return Err(CliError::reported(Kind::Interrupted));
                }
            },
        }
    };
    if let Some((_, handle)) = local_run {
        // The terminal event is out (or we gave up); let the local run finish recording.
        let _ = handle.await;
    }
    match followed {
        Ok(Followed::Finished(r)) if interrupted => {
            let _ = finish(&sub, &display, Ok(*r));
            Err(CliError::new(
                Kind::Interrupted,
                format!("{}: interrupted; run {cid} ended", sub.command),
            ))
        }
        Ok(Followed::Finished(r)) => finish(&sub, &display, Ok(*r)),
        Ok(Followed::TimedOut) => Err(CliError::new(
            Kind::WaitTimeout,
            format!(
                "{}: stopped waiting; the run goes on. correlation id {cid}\n  follow it with: onex status {cid}",
                sub.command
            ),
        )),
        Err(e) => Err(bus_error("following the run".into(), &e)),
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
