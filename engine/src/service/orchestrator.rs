//! The orchestrator: consumes the trigger events of the workflows it hosts as a member of a
//! consumer group, routes each to its workflow and runs it, publishing every event on the bus.
//!
//! Delivery is at-least-once, so every trigger goes through the run-state record first
//! (docs/bus.md "Run state"): a finished run re-publishes its recorded terminal event
//! unchanged; a run in progress elsewhere (its owner heartbeats the record) is left alone; a
//! run whose owner stopped heartbeating (it crashed) is taken over as a new attempt. A trigger
//! that is another run's event (a workflow chained after another) starts a run with its own
//! correlation id, derived from that event so redeliveries find it. Scale-out is the bus's
//! consumer groups; nothing here distributes work.

use crate::bus::{BusError, Claim, Delivery, EventBus, RunState, RunStatus};
use crate::events::{Envelope, WorkflowRef};
use crate::pipeline::Executor;
use crate::pipeline::result::RunResult;
use crate::pipeline::run::{RunRequest, run_id_for};
use crate::service::BusSink;
use crate::workflow::WorkflowSet;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

/// How soon a run postponed by a broker outage is tried again.
const OUTAGE_RETRY: Duration = Duration::from_secs(1);

/// Settings of an orchestrator.
#[derive(Debug, Clone)]
pub struct OrchestratorOptions {
    /// Consumer group (`onex-orchestrator`).
    pub group: String,
    /// Runs at once.
    pub concurrency: usize,
    /// Stop after this long with nothing to do (`--exit-when-idle`).
    pub exit_when_idle: Option<Duration>,
    /// How often a running run's record is refreshed.
    pub heartbeat: Duration,
    /// A record in progress not refreshed for this long belongs to a dead orchestrator.
    pub stale_after: Duration,
    /// How long one poll of the bus waits.
    pub poll: Duration,
}

impl Default for OrchestratorOptions {
    fn default() -> Self {
        OrchestratorOptions {
            group: "onex-orchestrator".into(),
            concurrency: 4,
            exit_when_idle: None,
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(6),
            poll: Duration::from_millis(250),
        }
    }
}

/// What became of one trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The pipeline ran to a terminal event (success or failure).
    Ran { success: bool },
    /// The run had finished before: its terminal event was published again.
    Republished,
    /// Another live orchestrator owns the run.
    InProgressElsewhere,
    /// The trigger could not be handled now (bus trouble); deliver it again.
    Retry(String),
}

/// Counts since start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub ran: u64,
    pub succeeded: u64,
    pub republished: u64,
    pub ignored: u64,
    pub retried: u64,
}

pub struct Orchestrator {
    bus: Arc<dyn EventBus>,
    executor: Arc<Executor>,
    /// The versions new runs start on; swapped by [`Orchestrator::reload`].
    workflows: std::sync::RwLock<Arc<WorkflowSet>>,
    /// Every version loaded since start, by contract hash: a run taken over from another
    /// orchestrator finishes on the version it started with (docs/contracts.md "Changing a
    /// live workflow").
    versions: std::sync::Mutex<std::collections::HashMap<String, Arc<crate::workflow::Workflow>>>,
    opts: OrchestratorOptions,
    instance: String,
    ready: tokio::sync::watch::Sender<bool>,
    /// Runs in flight here, for cancel requests (docs/bus.md "Cancellation").
    cancels: Arc<crate::service::cancel::Cancels>,
    /// Runs executing in this process: a duplicate trigger of one of them is left alone
    /// (its record is this orchestrator's own and looks like an attempt to take over).
    running: std::sync::Mutex<HashSet<Uuid>>,
}

/// Marks a run as executing here until dropped.
struct Running<'a> {
    set: &'a std::sync::Mutex<HashSet<Uuid>>,
    id: Uuid,
}

impl<'a> Running<'a> {
    fn enter(set: &'a std::sync::Mutex<HashSet<Uuid>>, id: Uuid) -> Option<Self> {
        let mut s = set.lock().unwrap_or_else(|p| p.into_inner());
        s.insert(id).then(|| Running { set, id })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Orchestrator {
    pub fn new(
        bus: Arc<dyn EventBus>,
        executor: Arc<Executor>,
        workflows: Arc<WorkflowSet>,
        opts: OrchestratorOptions,
    ) -> Arc<Self> {
        let instance =
            crate::pipeline::run::event_source(crate::events::Component::Orchestrator).instance_id;
        let versions = workflows
            .workflows()
            .iter()
            .map(|w| (w.id.hash.clone(), w.clone()))
            .collect();
        Arc::new(Orchestrator {
            bus,
            executor,
            workflows: std::sync::RwLock::new(workflows),
            versions: std::sync::Mutex::new(versions),
            opts,
            instance: format!("{instance}:{}", uuid::Uuid::now_v7().simple()),
            ready: tokio::sync::watch::channel(false).0,
            cancels: Arc::default(),
            running: Default::default(),
        })
    }

    /// Asks run `run` to stop at its next stage boundary (what a `RunCancelRequested` event
    /// does); true when it runs here.
    pub fn cancel(&self, run: Uuid) -> bool {
        self.cancels.request(run)
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// Becomes true once this orchestrator takes part in its group's work (Kafka: partitions
    /// assigned).
    pub fn ready(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// The workflows this orchestrator hosts (new runs start on these versions).
    pub fn workflows(&self) -> Arc<WorkflowSet> {
        self.workflows
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// New runs start on `set` from now on; runs in flight finish on the version they started
    /// with, which stays loaded. The set must take the same triggers (the consumer's topics
    /// are fixed while it runs): otherwise nothing changes and the error says why.
    pub fn reload(&self, set: WorkflowSet) -> Result<(), String> {
        let (mut old, mut new) = (self.workflows().trigger_types(), set.trigger_types());
        old.sort();
        new.sort();
        if old != new {
            return Err(format!(
                "the triggers change ({} → {}): restart the orchestrator to consume other topics",
                old.join(", "),
                new.join(", ")
            ));
        }
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        for w in set.workflows() {
            versions.insert(w.id.hash.clone(), w.clone());
        }
        drop(versions);
        *self.workflows.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// A version loaded since start, by contract hash.
    pub fn version(&self, hash: &str) -> Option<Arc<crate::workflow::Workflow>> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .cloned()
    }

    /// Topics of the hosted workflows' triggers.
    pub fn trigger_topics(&self) -> Result<Vec<String>, BusError> {
        self.workflows()
            .trigger_types()
            .iter()
            .map(|t| self.bus.topic(t))
            .collect()
    }

    /// Consumes until `shutdown` (then stops taking work and finishes what is in flight) or,
    /// with `exit_when_idle`, until idle for that long.
    pub async fn run(self: &Arc<Self>, shutdown: CancellationToken) -> Result<Stats, BusError> {
        let topics = self.trigger_topics()?;
        let mut consumer = self.bus.subscribe(&self.opts.group, &topics).await?;
        match consumer.wait_ready(Duration::from_secs(60)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("no share of the group's work after 60 s; consuming anyway")
            }
            Err(e) => return Err(e),
        }
        self.ready.send_replace(true);
        let cancel_task = tokio::spawn(crate::service::cancel::watch(
            self.bus.clone(),
            self.cancels.clone(),
        ));
        // Consumer lag for the metrics endpoint, sampled beside the work (never in its way).
        let lag_task = {
            let (bus, group, topics) = (self.bus.clone(), self.opts.group.clone(), topics.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    match bus.lag(&group, &topics).await {
                        Ok(n) => metrics::lag(n),
                        Err(e) => tracing::debug!("consumer lag: {e}"),
                    }
                }
            })
        };
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Delivery, Outcome)>();
        let mut stats = Stats::default();
        let mut in_flight = 0usize;
        let mut stopping = false;
        let mut idle_since = Instant::now();
        // Deliveries whose ack the broker refused (it was away): acked again until it works,
        // so that a finished run's trigger does not stay held by this member.
        let mut unacked: Vec<Delivery> = Vec::new();
        tracing::info!(
            instance = %self.instance,
            group = %self.opts.group,
            workflows = %self.workflows().workflows().iter().map(|w| w.id.to_string()).collect::<Vec<_>>().join(", "),
            "orchestrator started"
        );
        loop {
            // Settle what finished (non-blocking).
            while let Ok((delivery, outcome)) = done_rx.try_recv() {
                in_flight -= 1;
                idle_since = Instant::now();
                self.settle(&mut consumer, delivery, &outcome, &mut stats, &mut unacked)
                    .await;
            }
            if !unacked.is_empty() {
                let mut still = Vec::new();
                for d in unacked.drain(..) {
                    match consumer.ack(&d).await {
                        Ok(()) => {}
                        Err(e) if e.is_unreachable() => {
                            tracing::debug!(position = %d.position, "ack again: {e}");
                            still.push(d);
                        }
                        // Not the broker's absence: acking again cannot help; the message
                        // goes back to the group and its redelivery finds the run finished.
                        Err(e) => tracing::warn!(position = %d.position, "giving up an ack: {e}"),
                    }
                }
                unacked = still;
            }
            if !stopping && shutdown.is_cancelled() {
                tracing::info!(
                    in_flight,
                    group = %self.opts.group,
                    "shutting down: waiting for {in_flight} run(s) in flight to finish, then \
                     leaving the consumer group"
                );
                stopping = true;
            }
            // Acks still refused when stopping are left to redelivery (the run is recorded).
            if stopping && in_flight == 0 {
                break;
            }
            if let Some(idle) = self.opts.exit_when_idle
                && in_flight == 0
                && idle_since.elapsed() >= idle
            {
                tracing::info!("idle for {idle:?}: exiting");
                break;
            }
            if stopping || in_flight >= self.opts.concurrency {
                // Full (or draining): wait for a run to finish. Receiving is cancel-safe.
                tokio::select! {
                    Some((delivery, outcome)) = done_rx.recv() => {
                        in_flight -= 1;
                        idle_since = Instant::now();
                        self.settle(&mut consumer, delivery, &outcome, &mut stats, &mut unacked).await;
                    }
                    _ = shutdown.cancelled(), if !stopping => {}
                }
                continue;
            }
            // `Consumer::next` is never raced against anything: a read dropped half-way can
            // leave a message assigned to this member unseen (Redis: until the lease expires).
            match consumer.next(self.opts.poll).await {
                Ok(Some(delivery)) => {
                    metrics::consumed(&delivery.envelope.event_type);
                    in_flight += 1;
                    idle_since = Instant::now();
                    let me = self.clone();
                    let tx = done_tx.clone();
                    tokio::spawn(async move {
                        let outcome = me.handle(delivery.envelope.clone()).await;
                        let _ = tx.send((delivery, outcome));
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("consume: {e}");
                    tokio::time::sleep(self.opts.poll).await;
                }
            }
            metrics::dead_lettered(consumer.dead_lettered());
        }
        lag_task.abort();
        cancel_task.abort();
        if let Err(e) = consumer.close().await {
            tracing::warn!("leaving the group: {e}");
        }
        Ok(stats)
    }

    async fn settle(
        &self,
        consumer: &mut crate::bus::Consumer,
        delivery: Delivery,
        outcome: &Outcome,
        stats: &mut Stats,
        unacked: &mut Vec<Delivery>,
    ) {
        match outcome {
            Outcome::Retry(reason) if self.bus.health().await.is_err() => {
                // The broker is away: try again once it may be back, without counting this
                // towards the dead-letter limit (docs/bus.md "Broker outages").
                stats.retried += 1;
                tracing::warn!(correlation_id = %delivery.envelope.correlation_id, "bus unreachable, run postponed: {reason}");
                if let Err(e) = consumer.postpone(&delivery, OUTAGE_RETRY) {
                    tracing::warn!(position = %delivery.position, "settling a delivery: {e}")
                }
            }
            Outcome::Retry(reason) => {
                stats.retried += 1;
                match consumer.nack(&delivery, reason).await {
                    Ok(o) => {
                        tracing::warn!(correlation_id = %delivery.envelope.correlation_id, ?o, "run will be retried: {reason}")
                    }
                    Err(e) => {
                        tracing::warn!(position = %delivery.position, "settling a delivery: {e}")
                    }
                }
            }
            other => {
                match other {
                    Outcome::Ran { success } => {
                        stats.ran += 1;
                        stats.succeeded += u64::from(*success);
                    }
                    Outcome::Republished => stats.republished += 1,
                    Outcome::InProgressElsewhere => stats.ignored += 1,
                    Outcome::Retry(_) => {}
                }
                if let Err(e) = consumer.ack(&delivery).await {
                    tracing::warn!(position = %delivery.position, "acknowledging a delivery (will try again): {e}");
                    if e.is_unreachable() {
                        unacked.push(delivery);
                    }
                }
            }
        }
    }

    fn record(
        &self,
        run: Uuid,
        workflow: &WorkflowRef,
        status: RunStatus,
        attempt: u32,
        terminal: Option<Envelope>,
    ) -> RunState {
        RunState {
            correlation_id: run,
            status,
            terminal,
            attempt,
            owner: Some(self.instance.clone()),
            updated_at: Envelope::now_timestamp(),
            workflow: Some(workflow.clone()),
        }
    }

    /// Handles one trigger: route it to its workflow, de-duplicate, take the run, execute it
    /// with heartbeats, record it. Also how the CLI runs its own trigger in-process on the
    /// embedded bus (no group).
    pub async fn handle(&self, trigger: Envelope) -> Outcome {
        let Some(current) = self.workflows().for_trigger(&trigger.event_type).cloned() else {
            // Only hosted triggers are subscribed; an event of another type on those topics
            // cannot run here, now or later.
            tracing::error!(event_type = %trigger.event_type, "no hosted workflow takes this trigger");
            return Outcome::Ran { success: false };
        };
        let cid = run_id_for(&current.id.name, &trigger);
        let span = tracing::info_span!("run", correlation_id = %cid, workflow = %current.id.name, traceparent = %trigger.trace.traceparent);
        async move {
            // A duplicate of a run executing here: the first delivery carries it (and is
            // redelivered if this process dies).
            let Some(_running) = Running::enter(&self.running, cid) else {
                return Outcome::InProgressElsewhere;
            };
            // The claim is atomic on the bus: of concurrent deliveries (here or in other
            // orchestrators) exactly one gets the run. A run taken over keeps the version its
            // record names (the claim leaves the record's workflow as it was).
            let claim = self
                .bus
                .claim_run(cid, &self.instance, Some(current.id.clone()), self.opts.stale_after)
                .await;
            let (attempt, started_on) = match claim {
                Err(e) => return Outcome::Retry(format!("claiming the run: {e}")),
                Ok(Claim::Finished(st)) => {
                    return match &st.terminal {
                        Some(t) => match self.bus.publish(t).await {
                            Ok(_) => Outcome::Republished,
                            Err(e) => {
                                Outcome::Retry(format!("re-publishing the terminal event: {e}"))
                            }
                        },
                        None => Outcome::Republished,
                    };
                }
                Ok(Claim::Held(_)) => return Outcome::InProgressElsewhere,
                Ok(Claim::Won(st)) => (st.attempt, st.workflow),
            };
            // A run taken over finishes on the version it started with (its record says which).
            let workflow = match started_on.as_ref() {
                Some(w) if w.name == current.id.name && w.hash != current.id.hash => {
                    match self.version(&w.hash) {
                        Some(v) => v,
                        None => {
                            return Outcome::Retry(format!(
                                "run {cid} started on {w}, a version this orchestrator has not loaded; leaving it to one that has"
                            ));
                        }
                    }
                }
                _ => current,
            };
            let wf = &workflow.id;
            let mut trigger = trigger;
            if trigger.starts_own_run() {
                // The trigger is the run's seq 1; its attempt is the run's.
                trigger.attempt = attempt;
            }
            let request = RunRequest::new(wf.clone(), trigger, attempt);
            let sink =
                BusSink::new(self.bus.clone()).recording_run_state(self.instance.clone(), attempt);
            let started = Instant::now();
            tracing::info!(correlation_id = %cid, workflow = %wf.name, attempt, "run started");
            let cancel = self.cancels.register(cid);
            let result = {
                let run =
                    self.executor
                        .run_cancellable(&workflow.contract, request, &sink, &cancel);
                tokio::pin!(run);
                let mut beat = tokio::time::interval(self.opts.heartbeat);
                beat.tick().await;
                loop {
                    tokio::select! {
                        r = &mut run => break r,
                        _ = beat.tick() => {
                            let st = self.record(cid, wf, RunStatus::InProgress, attempt, None);
                            match self.bus.update_run(&st).await {
                                Ok(true) => {}
                                // Taken over after missed heartbeats (or finished by the
                                // other attempt): only one of them records a terminal event.
                                Ok(false) => tracing::warn!(attempt, "heartbeat refused: the run's record belongs to another attempt now"),
                                Err(e) => tracing::warn!("heartbeat: {e}"),
                            }
                        }
                    }
                }
            };
            self.cancels.unregister(cid);
            match result {
                Ok(r) => {
                    // The sink recorded the finished run before publishing its terminal event.
                    metrics::run_finished(&r, started.elapsed());
                    tracing::info!(
                        correlation_id = %cid,
                        workflow = %wf.name,
                        outcome = if r.success() { "success" } else { "failed" },
                        duration_ms = started.elapsed().as_millis() as u64,
                        "run finished"
                    );
                    Outcome::Ran {
                        success: r.success(),
                    }
                }
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        .instrument(span)
        .await
    }
}

/// Metric names in one place (Prometheus text on `--metrics-addr`). Recording is a no-op until
/// a recorder is installed, so library users and tests pay nothing.
pub mod metrics {
    use super::RunResult;
    use ::metrics::Unit;
    use std::time::Duration;

    /// Bucket bounds (seconds) of every duration histogram: gates take milliseconds, mypy and
    /// whole runs tens of seconds, the run timeout is minutes. Histograms (not summaries) so
    /// that several orchestrators' figures add up in Prometheus.
    pub const DURATION_BUCKETS: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ];

    /// HELP text and units of every family, and `onex_build_info` (call once the recorder is
    /// installed).
    pub fn describe() {
        use ::metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            "onex_events_published_total",
            "Events published on the bus, by event type"
        );
        describe_counter!(
            "onex_events_consumed_total",
            "Trigger events consumed from the bus, by event type"
        );
        describe_gauge!(
            "onex_consumer_lag",
            "Trigger messages not yet consumed by this orchestrator's group"
        );
        describe_gauge!(
            "onex_dlq_messages",
            "Messages this orchestrator moved to the dead-letter topic since start"
        );
        describe_counter!(
            "onex_runs_total",
            "Finished runs, by outcome (success, failed), workflow and workflow version"
        );
        describe_histogram!(
            "onex_run_duration_seconds",
            Unit::Seconds,
            "Wall time of a run, from its trigger to its terminal event"
        );
        describe_histogram!(
            "onex_stage_duration_seconds",
            Unit::Seconds,
            "Wall time of a stage of a run, by stage id"
        );
        describe_counter!(
            "onex_gate_outcomes_total",
            "Gate results, by gate id and status"
        );
        describe_histogram!(
            "onex_gate_duration_seconds",
            Unit::Seconds,
            "Wall time of a gate check, by gate id"
        );
        describe_gauge!(
            "onex_build_info",
            "Always 1; the labels say which onex build this is"
        );
        ::metrics::gauge!("onex_build_info", "version" => crate::ENGINE_VERSION).set(1.0);
    }

    pub fn published(event_type: &str) {
        ::metrics::counter!("onex_events_published_total", "event_type" => event_type.to_owned())
            .increment(1);
    }

    pub fn consumed(event_type: &str) {
        ::metrics::counter!("onex_events_consumed_total", "event_type" => event_type.to_owned())
            .increment(1);
    }

    pub fn lag(n: u64) {
        ::metrics::gauge!("onex_consumer_lag").set(n as f64);
    }

    pub fn dead_lettered(total: u64) {
        ::metrics::gauge!("onex_dlq_messages").set(total as f64);
    }

    pub fn run_finished(r: &RunResult, took: Duration) {
        let outcome = if r.success() { "success" } else { "failed" };
        let (workflow, version) = r
            .workflow
            .as_ref()
            .map(|w| (w.name.clone(), w.version.clone()))
            .unwrap_or_default();
        ::metrics::counter!("onex_runs_total", "outcome" => outcome, "workflow" => workflow.clone(), "workflow_version" => version.clone())
            .increment(1);
        ::metrics::histogram!("onex_run_duration_seconds", "workflow" => workflow, "workflow_version" => version)
            .record(took.as_secs_f64());
        for s in &r.stages {
            if let Some(ms) = s.duration_ms {
                ::metrics::histogram!("onex_stage_duration_seconds", "stage" => s.stage_id.clone())
                    .record(ms as f64 / 1000.0);
            }
            for g in &s.gates {
                let status = serde_json::to_value(g.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                ::metrics::counter!("onex_gate_outcomes_total", "gate" => g.gate_id.clone(), "status" => status)
                    .increment(1);
                if let Some(ms) = g.duration_ms {
                    ::metrics::histogram!("onex_gate_duration_seconds", "gate" => g.gate_id.clone())
                        .record(ms as f64 / 1000.0);
                }
            }
        }
    }
}
