//! `onex cancel ID`: stop a run of any workflow (docs/bus.md "Cancellation"). A run not started
//! yet never starts (its run-state record is written as finished, with a RunFailed CANCELLED
//! terminal event); a run in flight is asked to stop at its next stage boundary, rolls back, and
//! ends with its workflow's failure event (error code CANCELLED).

use super::busctl;
use crate::app::App;
use crate::error::{CliError, CliResult, Kind};
use crate::outln;
use onex_engine::bus::{RunState, RunStatus};
use onex_engine::events::Component;
use onex_engine::pipeline::run::event_source;
use onex_engine::service::cancel::{self, CANCELLED};
use onex_engine::service::{Followed, OrchestratorOptions, RunFollower};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
pub struct CancelArgs {
    /// The run's correlation id.
    #[arg(value_name = "ID")]
    pub correlation_id: Uuid,
    /// The bus (default: configuration, `ONEX_BUS`).
    #[arg(long, value_name = "URL", env = "ONEX_BUS")]
    pub bus: Option<String>,
    /// Seconds to wait for a run in flight to end (0: return once the request is out).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub wait: u64,
    /// Why (recorded in the request).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Whether the owner of an in-progress record still heartbeats it (the orchestrator's rule).
fn owner_alive(st: &RunState) -> bool {
    let stale_after = OrchestratorOptions::default().stale_after;
    st.updated_at
        .parse::<jiff::Timestamp>()
        .is_ok_and(|t| jiff::Timestamp::now().duration_since(t).unsigned_abs() < stale_after)
}

pub async fn run(args: &CancelArgs, app: &App) -> CliResult {
    let id = args.correlation_id;
    let cfg = busctl::bus_config(&app.config, args.bus.as_deref());
    let bus = busctl::connect(
        &cfg,
        onex_engine::bus::Role::Cli,
        app.events(&[])?,
        Duration::from_secs(10),
    )
    .await?;
    let err = |what: &str, e: &onex_engine::bus::BusError| {
        CliError::bus(&format!("onex cancel: {what}: "), e)
    };
    let who = format!(
        "{}@onex-cli",
        std::env::var("USER").unwrap_or_else(|_| "cli_user".into())
    );
    let source = event_source(Component::Cli);
    let request = cancel::request(id, &who, args.reason.as_deref(), source.clone());
    let prior = bus
        .get_run_state(id)
        .await
        .map_err(|e| err("reading the run state", &e))?;
    match prior {
        Some(st) if st.status != RunStatus::InProgress => Err(CliError::failed(format!(
            "onex cancel: run {id} has already finished ({}); nothing to cancel",
            match st.status {
                RunStatus::Completed => "completed",
                _ => "failed",
            }
        ))),
        Some(st) if owner_alive(&st) => {
            // In flight: its owner stops it at the next stage boundary.
            let follower = RunFollower::new(bus.clone(), Vec::new());
            let mut obs = follower
                .subscribe()
                .await
                .map_err(|e| err("observing the run", &e))?;
            bus.publish(&request)
                .await
                .map_err(|e| err("publishing the request", &e))?;
            eprintln!(
                "onex cancel: asked {} to stop run {id} at its next stage boundary",
                st.owner.as_deref().unwrap_or("its orchestrator")
            );
            if args.wait == 0 {
                return Ok(());
            }
            let deadline = Instant::now() + Duration::from_secs(args.wait);
            match follower.follow(&mut obs, id, deadline, |_| {}).await {
                Ok(Followed::Finished(r)) => match &r.failure {
                    Some(f) if f.code == CANCELLED => outln!(
                        "run {id} cancelled before stage {}{}",
                        f.stage,
                        if f.rollback_performed {
                            " (rolled back)"
                        } else {
                            ""
                        }
                    ),
                    Some(f) => Err(CliError::failed(format!(
                        "onex cancel: run {id} failed ({}) before it could be stopped",
                        f.code
                    ))),
                    None => Err(CliError::failed(format!(
                        "onex cancel: run {id} succeeded before it could be stopped"
                    ))),
                },
                Ok(Followed::TimedOut) => Err(CliError::new(
                    Kind::WaitTimeout,
                    format!(
                        "onex cancel: run {id} has not ended within {} s; it stops at its next stage boundary (onex status {id})",
                        args.wait
                    ),
                )),
                Err(e) => Err(err("following the run", &e)),
            }
        }
        other => {
            // Not started (or its orchestrator died): record it as finished, so whoever gets
            // its trigger re-publishes this terminal event instead of running it.
            let workflow = other.as_ref().and_then(|s| s.workflow.clone());
            let attempt = other.as_ref().map_or(1, |s| s.attempt);
            let terminal = cancel::terminal_before_start(id, workflow, &who, source.clone());
            bus.put_run_state(&cancel::record_before_start(
                &terminal,
                attempt,
                &source.instance_id,
            ))
            .await
            .map_err(|e| err("recording the run", &e))?;
            bus.publish(&terminal)
                .await
                .map_err(|e| err("publishing the terminal event", &e))?;
            // An orchestrator that claimed the trigger between our read and write hears this.
            bus.publish(&request)
                .await
                .map_err(|e| err("publishing the request", &e))?;
            outln!("run {id} cancelled before it started; it will not run")
        }
    }
}
