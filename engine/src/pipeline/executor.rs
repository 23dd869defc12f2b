//! The executor: runs an [`ExecutableContract`] for one [`RunRequest`].
//!
//! Stages run in dependency order (petgraph): one at a time for `sequential`/`batch`, in waves
//! of concurrent stages for `parallel`. Each stage: `when` (else skipped), its started event,
//! then attempts of handler + gates under the stage timeout; infrastructure errors and timeouts
//! are retried with exponential backoff and jitter, gate failures never. A BLOCKING gate `fail`
//! fails the stage; a failed stage ends the run: running stages are cancelled, later ones
//! skipped, run resources (staging) rolled back, then the terminal event is sent. Everything is
//! emitted through an [`EventSink`] and recorded in the [`RunResult`]; the terminal event's
//! payload is the contract's declaration evaluated over the finished run.

use crate::contract::executable::{
    EventSpec, ExecutableContract, ExecutionMode, GateCheck, GateSpec, GateType, Outputs, StageSpec,
};
use crate::events::{
    EventRegistry, EventSource, EventStatus, OutcomeStatus, RunFailure, RunOutcome,
};
use crate::pipeline::expr;
use crate::pipeline::faults::{FaultAction, FaultPlan, FaultTarget};
use crate::pipeline::handler::{
    GateCtx, GateStatus, GateVerdict, HandlerRegistry, RunShared, Services, StageCtx, StageError,
};
use crate::pipeline::result::{GateRecord, RunResult, RunStatus, StageRecord, StageStatus};
use crate::pipeline::run::{EmitError, Emitter, EventSink, RunRequest, SinkError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Runs contracts. Cheap to share; one per process.
pub struct Executor {
    registry: Arc<dyn HandlerRegistry>,
    services: Arc<Services>,
    events: Arc<EventRegistry>,
    source: EventSource,
    /// Check every emitted envelope against the catalogue (on by default: a contract whose
    /// payload mapping breaks the catalogue fails loudly instead of publishing bad events).
    pub validate_events: bool,
}

/// Why a stage ended the run.
#[derive(Debug, Clone)]
struct Failure {
    stage: String,
    code: String,
    message: String,
    suggestions: Vec<String>,
    failed_gate: Option<String>,
    context: Value,
}

/// A stage attempt that did not complete.
enum AttemptError {
    /// Retryable (infrastructure error or stage timeout).
    Retryable { code: String, message: String },
    /// Final (domain failure or BLOCKING gate fail).
    Final(Box<Failure>, Value),
    /// The event sink failed: the run cannot go on.
    Emit(EmitError),
}

impl From<EmitError> for AttemptError {
    fn from(e: EmitError) -> Self {
        AttemptError::Emit(e)
    }
}

enum StageEnd {
    Done,
    Failed(Failure),
    Emit(EmitError),
}

impl Executor {
    pub fn new(
        registry: Arc<dyn HandlerRegistry>,
        services: Arc<Services>,
        events: Arc<EventRegistry>,
        source: EventSource,
    ) -> Self {
        Executor {
            registry,
            services,
            events,
            source,
            validate_events: true,
        }
    }

    /// The handlers this executor runs.
    pub fn registry(&self) -> &Arc<dyn HandlerRegistry> {
        &self.registry
    }

    /// The event catalogues its runs' events are checked against.
    pub fn events(&self) -> &Arc<EventRegistry> {
        &self.events
    }

    /// Runs the contract for `request`, emitting every event through `sink`. Returns the
    /// result, or the sink error that stopped the run (its events are then incomplete; the
    /// caller must not acknowledge the trigger).
    pub async fn run(
        &self,
        contract: &ExecutableContract,
        request: RunRequest,
        sink: &dyn EventSink,
    ) -> Result<RunResult, SinkError> {
        self.run_cancellable(contract, request, sink, &CancellationToken::new())
            .await
    }

    /// [`Executor::run`] that stops at the next stage boundary once `cancel` is cancelled:
    /// the stages not started are skipped and the run ends through its failure path with
    /// error code CANCELLED (docs/bus.md "Cancellation").
    pub async fn run_cancellable(
        &self,
        contract: &ExecutableContract,
        request: RunRequest,
        sink: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<RunResult, SinkError> {
        let started = Instant::now();
        let started_at = crate::events::Envelope::now_timestamp();
        let context = initial_context(&request, &started_at);
        let emitter = Emitter::new(
            sink,
            &self.events,
            self.validate_events,
            &request,
            self.source.clone(),
        );
        let shared = RunShared::new(request, self.services.clone(), context);
        let records = Mutex::new(
            contract
                .stages
                .iter()
                .map(|s| StageRecord::pending(&s.id))
                .collect::<Vec<_>>(),
        );
        let run = RunState {
            exec: self,
            contract,
            shared: &shared,
            emitter: &emitter,
            records: &records,
            started,
            stage_started: Mutex::new(HashMap::new()),
            cancel,
        };

        let span = tracing::info_span!(
            "run",
            correlation_id = %run.shared.request.correlation_id,
            workflow = %run.shared.request.workflow.name,
            attempt = run.shared.request.attempt,
            traceparent = %run.shared.request.trigger.trace.traceparent,
        );
        crate::telemetry::link_parent(&span, &run.shared.request.trigger.trace.traceparent);
        let outcome = tokio::time::timeout(contract.run_timeout, run.run_stages())
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let failure = match outcome {
            Ok(StageEnd::Done) => None,
            Ok(StageEnd::Failed(f)) => Some(f),
            Ok(StageEnd::Emit(e)) => return Err(run.abandon(e)),
            Err(_elapsed) => match run.timed_out().await {
                Ok(f) => Some(f),
                Err(e) => return Err(run.abandon(e)),
            },
        };
        run.finish(failure, &started_at).await
    }
}

/// The run context every expression reads (see `contract::executable::BASE_CONTEXT`).
fn initial_context(request: &RunRequest, started_at: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("trigger".into(), request.trigger.payload.clone());
    m.insert(
        "correlation_id".into(),
        json!(request.correlation_id.to_string()),
    );
    m.insert("run".into(), run_vars(request, started_at));
    m.insert("stages".into(), json!({}));
    m
}

/// The `run` entry of the context.
fn run_vars(request: &RunRequest, started_at: &str) -> Value {
    json!({
        "started_at": started_at,
        "attempt": request.attempt,
        "engine_version": crate::ENGINE_VERSION,
        "workflow": request.workflow.name,
        "workflow_version": request.workflow.version,
        "contract_hash": request.workflow.hash,
        "trigger_type": request.trigger.event_type,
        "trigger_event_id": request.trigger.event_id.to_string(),
        "caused_by": request.caused_by().map(|c| c.to_string()),
    })
}

struct RunState<'r> {
    exec: &'r Executor,
    contract: &'r ExecutableContract,
    shared: &'r RunShared,
    emitter: &'r Emitter<'r>,
    records: &'r Mutex<Vec<StageRecord>>,
    started: Instant,
    /// When each stage started (failed stages report their own duration).
    stage_started: Mutex<HashMap<String, Instant>>,
    /// Checked at every stage boundary.
    cancel: &'r CancellationToken,
}

impl RunState<'_> {
    fn record<R>(&self, stage: &str, f: impl FnOnce(&mut StageRecord) -> R) -> R {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let idx = records
            .iter()
            .position(|r| r.stage_id == stage)
            .expect("records are made from the contract's stages");
        f(&mut records[idx])
    }

    /// Topological order with declaration order breaking ties, grouped into waves by depth.
    fn schedule(&self) -> Vec<Vec<usize>> {
        let stages = &self.contract.stages;
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let idx: HashMap<&str, NodeIndex> = stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), graph.add_node(i)))
            .collect();
        for s in stages {
            for d in &s.depends_on {
                if let Some(from) = idx.get(d.as_str()) {
                    graph.add_edge(*from, idx[s.id.as_str()], ());
                }
            }
        }
        // Validation (ONEX045/046) guarantees an acyclic graph with known nodes.
        let order = petgraph::algo::toposort(&graph, None).unwrap_or_default();
        let mut depth = vec![0usize; stages.len()];
        for n in &order {
            let i = graph[*n];
            for pred in graph.neighbors_directed(*n, petgraph::Direction::Incoming) {
                depth[i] = depth[i].max(depth[graph[pred]] + 1);
            }
        }
        match self.contract.execution_mode {
            ExecutionMode::Parallel => {
                let mut waves: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for (i, d) in depth.iter().enumerate() {
                    waves.entry(*d).or_default().push(i);
                }
                waves.into_values().collect()
            }
            ExecutionMode::Sequential | ExecutionMode::Batch => {
                // Kahn's algorithm picking the earliest-declared ready stage each time.
                let mut done = vec![false; stages.len()];
                let mut out = Vec::new();
                while out.len() < stages.len() {
                    let next = (0..stages.len()).find(|&i| {
                        !done[i]
                            && stages[i].depends_on.iter().all(|d| {
                                stages
                                    .iter()
                                    .position(|s| &s.id == d)
                                    .is_none_or(|j| done[j])
                            })
                    });
                    let Some(i) = next else { break };
                    done[i] = true;
                    out.push(vec![i]);
                }
                out
            }
        }
    }

    async fn run_stages(&self) -> StageEnd {
        for wave in self.schedule() {
            if self.cancel.is_cancelled() {
                let next = &self.contract.stages[wave[0]].id;
                return StageEnd::Failed(Failure {
                    stage: next.clone(),
                    code: crate::service::cancel::CANCELLED.into(),
                    message: format!("cancelled before stage {next} started"),
                    suggestions: vec!["Start the run again if it is still wanted".into()],
                    failed_gate: None,
                    context: json!({"cancelled_before": next}),
                });
            }
            let mut running: FuturesUnordered<_> = wave
                .iter()
                .map(|&i| {
                    let stage = &self.contract.stages[i];
                    let span = tracing::info_span!("stage", id = %stage.id);
                    async move { (stage, self.run_stage(stage).instrument(span).await) }
                })
                .collect();
            while let Some((stage, end)) = running.next().await {
                match end {
                    StageEnd::Done => {}
                    StageEnd::Failed(f) => {
                        drop(running);
                        self.cancel_running(&stage.id);
                        return StageEnd::Failed(f);
                    }
                    StageEnd::Emit(e) => return StageEnd::Emit(e),
                }
            }
        }
        StageEnd::Done
    }

    /// Marks stages that were running when another failed as cancelled.
    fn cancel_running(&self, failed: &str) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        for r in records
            .iter_mut()
            .filter(|r| r.status == StageStatus::Running)
        {
            r.status = StageStatus::Skipped;
            r.skip_reason = Some(format!("cancelled: {failed} failed"));
            r.finished_at = Some(crate::events::Envelope::now_timestamp());
        }
    }

    /// The run timeout expired: the stages still running fail with PIPELINE_TIMEOUT.
    async fn timed_out(&self) -> Result<Failure, EmitError> {
        let running: Vec<String> = self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| r.status == StageStatus::Running)
            .map(|r| r.stage_id.clone())
            .collect();
        let secs = self.contract.run_timeout.as_secs_f64();
        let failure = Failure {
            stage: running
                .first()
                .cloned()
                .unwrap_or_else(|| "pipeline".into()),
            code: "PIPELINE_TIMEOUT".into(),
            message: format!("the run did not finish within {secs} s"),
            suggestions: vec![
                "Retry; if it recurs, raise run_timeout_ms in the contract or `run.timeout_s`"
                    .into(),
            ],
            failed_gate: None,
            context: json!({"run_timeout_ms": self.contract.run_timeout.as_millis() as u64}),
        };
        for id in running {
            let stage = self
                .contract
                .stage(&id)
                .expect("records follow the contract");
            let mut f = failure.clone();
            f.stage = id.clone();
            self.fail_stage(stage, &f, Value::Null, 1, &[]).await?;
        }
        Ok(failure)
    }

    fn abandon(&self, e: EmitError) -> SinkError {
        self.shared.resources.release_all(false);
        match e {
            EmitError::Sink(s) => s,
            EmitError::Invalid {
                event_type,
                message,
            } => SinkError {
                event_type,
                seq: 0,
                message: format!("contract produced an invalid event: {message}"),
            },
        }
    }

    /// The `stage` variable of a stage's expressions.
    fn stage_vars(&self, stage: &StageSpec, extra: Value) -> Value {
        let mut v = json!({
            "id": stage.id,
            "gates_planned": stage.gates.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
            "gates_checked": [],
            "attempts": 1,
            "outputs": {},
        });
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        v
    }

    /// The evaluation scope of a stage's expressions: the run context, `stage` and, for gate
    /// messages, `details`.
    fn scope(&self, stage_vars: &Value, details: Option<&Value>) -> expr::Scope {
        match details {
            Some(d) => self.shared.scope(&[("stage", stage_vars), ("details", d)]),
            None => self.shared.scope(&[("stage", stage_vars)]),
        }
    }

    /// Builds an event payload from its declaration.
    fn payload(&self, spec: &EventSpec, scope: &expr::Scope) -> Result<Value, EmitError> {
        let mut out = Map::new();
        for (field, e) in &spec.payload {
            let v = expr::eval_in(e, scope).map_err(|err| EmitError::Invalid {
                event_type: spec.event_type.clone(),
                message: format!("payload field '{field}' ({}): {err}", spec.pointer),
            })?;
            out.insert(field.clone(), v);
        }
        Ok(Value::Object(out))
    }

    async fn emit_stage_event(
        &self,
        stage: &StageSpec,
        spec: Option<&EventSpec>,
        generic: &str,
        status: EventStatus,
        vars: &Value,
        generic_payload: impl FnOnce() -> Value,
    ) -> Result<(), EmitError> {
        if let Some(spec) = spec {
            let declared = match self.payload(spec, &self.scope(vars, None)) {
                Ok(payload) => {
                    self.emitter
                        .emit(&spec.event_type, &stage.id, status, payload, None)
                        .await
                }
                Err(e) => Err(e),
            };
            match declared {
                Ok(_) => return Ok(()),
                // A payload mapping that breaks the catalogue is a contract bug; the run must
                // still report its state, so the generic event stands in for it.
                Err(EmitError::Invalid {
                    event_type,
                    message,
                }) => {
                    tracing::error!(stage = %stage.id, %event_type, "{message}; emitting {generic} instead");
                }
                Err(e) => return Err(e),
            }
        }
        let mut payload = generic_payload();
        if let Some(spec) = spec {
            payload["declared_event"] = json!(spec.event_type);
        }
        self.emitter
            .emit(generic, &stage.id, status, payload, None)
            .await?;
        Ok(())
    }

    async fn run_stage(&self, stage: &StageSpec) -> StageEnd {
        if let Some(when) = &stage.when {
            let scope = self.scope(&self.stage_vars(stage, Value::Null), None);
            match expr::eval_bool_in(&when.expression, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    self.skip_stage(stage, &when.skip_reason);
                    return StageEnd::Done;
                }
                Err(e) => {
                    let f =
                        self.internal_failure(stage, format!("`when` of stage {}: {e}", stage.id));
                    return match self.fail_stage(stage, &f, Value::Null, 1, &[]).await {
                        Ok(()) => StageEnd::Failed(f),
                        Err(e) => StageEnd::Emit(e),
                    };
                }
            }
        }
        let started = Instant::now();
        self.stage_started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stage.id.clone(), started);
        self.record(&stage.id, |r| {
            r.status = StageStatus::Running;
            r.started_at = Some(crate::events::Envelope::now_timestamp());
        });
        let prepared = match &stage.prepare {
            Some(name) => self.run_handler(stage, name, 1).await.err(),
            None => None,
        };
        let vars = self.stage_vars(stage, Value::Null);
        if let Err(e) = self
            .emit_stage_event(
                stage,
                stage.events.started.as_ref(),
                "StageStarted",
                EventStatus::Started,
                &vars,
                || json!({"gates_planned": vars["gates_planned"]}),
            )
            .await
        {
            return StageEnd::Emit(e);
        }
        match prepared {
            None => {}
            Some(AttemptError::Emit(e)) => return StageEnd::Emit(e),
            Some(AttemptError::Final(f, details)) => {
                let f = *f;
                return match self.fail_stage(stage, &f, details, 1, &[]).await {
                    Ok(()) => StageEnd::Failed(f),
                    Err(e) => StageEnd::Emit(e),
                };
            }
            Some(AttemptError::Retryable { code, message }) => {
                let mut f = self.internal_failure(stage, message);
                f.code = code;
                return match self.fail_stage(stage, &f, Value::Null, 1, &[]).await {
                    Ok(()) => StageEnd::Failed(f),
                    Err(e) => StageEnd::Emit(e),
                };
            }
        }

        let mut attempt = 1;
        loop {
            let result = match stage.timeout {
                Some(t) => match tokio::time::timeout(t, self.attempt(stage, attempt)).await {
                    Ok(r) => r,
                    Err(_) => Err(AttemptError::Retryable {
                        code: stage.timeout_code(),
                        message: format!("stage {} timed out after {} ms", stage.id, t.as_millis()),
                    }),
                },
                None => self.attempt(stage, attempt).await,
            };
            match result {
                Ok((gates, outputs)) => {
                    return match self
                        .complete_stage(stage, started, attempt, gates, outputs)
                        .await
                    {
                        Ok(()) => StageEnd::Done,
                        Err(e) => StageEnd::Emit(e),
                    };
                }
                Err(AttemptError::Emit(e)) => return StageEnd::Emit(e),
                Err(AttemptError::Final(f, details)) => {
                    let f = *f;
                    let gates = self.record(&stage.id, |r| r.gates.clone());
                    return match self.fail_stage(stage, &f, details, attempt, &gates).await {
                        Ok(()) => StageEnd::Failed(f),
                        Err(e) => StageEnd::Emit(e),
                    };
                }
                Err(AttemptError::Retryable { code, message }) => {
                    if attempt < stage.retry.max_attempts {
                        tracing::warn!(stage = %stage.id, attempt, %message, "retrying stage");
                        tokio::time::sleep(self.backoff(stage, attempt + 1)).await;
                        attempt += 1;
                        continue;
                    }
                    let f = Failure {
                        stage: stage.id.clone(),
                        code,
                        message: if attempt > 1 {
                            format!("{message} (after {attempt} attempts)")
                        } else {
                            message
                        },
                        suggestions: vec![format!(
                            "Retry the run; inspect it with `onex trace {}`",
                            self.shared.request.correlation_id
                        )],
                        failed_gate: None,
                        context: json!({"attempts": attempt}),
                    };
                    let gates = self.record(&stage.id, |r| r.gates.clone());
                    return match self
                        .fail_stage(stage, &f, Value::Null, attempt, &gates)
                        .await
                    {
                        Ok(()) => StageEnd::Failed(f),
                        Err(e) => StageEnd::Emit(e),
                    };
                }
            }
        }
    }

    fn backoff(&self, stage: &StageSpec, next: u32) -> Duration {
        let base = stage.retry.base_delay(next);
        let jitter = stage.retry.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let extra = base.mul_f64(jitter * rand::random::<f64>());
        base + extra
    }

    fn internal_failure(&self, stage: &StageSpec, message: String) -> Failure {
        Failure {
            stage: stage.id.clone(),
            code: "INTERNAL_ERROR".into(),
            message,
            suggestions: vec!["Check the contract with `onex validate`".into()],
            failed_gate: None,
            context: Value::Null,
        }
    }

    fn skip_stage(&self, stage: &StageSpec, reason: &str) {
        self.record(&stage.id, |r| {
            r.status = StageStatus::Skipped;
            r.skip_reason = Some(reason.to_owned());
            r.gates = stage
                .gates
                .iter()
                .map(|g| skipped_gate(stage, g, reason))
                .collect();
        });
        self.shared.set_stage(
            &stage.id,
            json!({"status": "skipped", "skip_reason": reason, "gates": []}),
        );
    }

    /// One attempt: the handler or the `outputs:` expressions (if any), then the gates.
    async fn attempt(
        &self,
        stage: &StageSpec,
        attempt: u32,
    ) -> Result<(Vec<GateRecord>, Value), AttemptError> {
        self.record(&stage.id, |r| r.gates.clear());
        let mut outputs = Value::Object(Map::new());
        if let Some(action) = self.fault(FaultTarget::Stage(stage.id.clone())) {
            outputs = self.injected_stage(stage, action)?;
        } else if let Some(name) = &stage.handler {
            outputs = self.run_handler(stage, name, attempt).await?;
        } else if !stage.outputs.is_empty() {
            outputs = self.stage_outputs(stage)?;
        }
        let gates = self.run_gates(stage, &outputs).await?;
        Ok((gates, outputs))
    }

    /// A handler-less stage's `outputs:`, evaluated and stored under the stage id.
    fn stage_outputs(&self, stage: &StageSpec) -> Result<Value, AttemptError> {
        let scope = self.scope(&self.stage_vars(stage, Value::Null), None);
        let mut out = Map::new();
        for (name, e) in &stage.outputs {
            let v = expr::eval_in(e, &scope).map_err(|err| {
                AttemptError::Final(
                    Box::new(self.internal_failure(
                        stage,
                        format!(
                            "output '{name}' of stage {} ({}): `{e}` failed: {err}",
                            stage.id, stage.location
                        ),
                    )),
                    Value::Null,
                )
            })?;
            out.insert(name.clone(), v);
        }
        let out = Value::Object(out);
        self.shared.set(&stage.id, out.clone());
        Ok(out)
    }

    async fn run_handler(
        &self,
        stage: &StageSpec,
        name: &str,
        attempt: u32,
    ) -> Result<Value, AttemptError> {
        let (Some(f), Some(info)) = (
            self.exec.registry.stage(name),
            self.exec.registry.info(name),
        ) else {
            // ONEX100 rejects this at load time; a registry swapped afterwards still fails cleanly.
            return Err(AttemptError::Final(
                Box::new(
                    self.internal_failure(stage, format!("handler '{name}' is not registered")),
                ),
                Value::Null,
            ));
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ctx = StageCtx {
            run: self.shared,
            stage,
            attempt,
            progress: tx,
            events: self,
        };
        let result = {
            let fut = f(&ctx);
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    biased;
                    Some(step) = rx.recv() => self.progress(stage, step).await?,
                    r = &mut fut => break r,
                }
            }
        };
        drop(ctx);
        while let Ok(step) = rx.try_recv() {
            self.progress(stage, step).await?;
        }
        match result {
            Ok(outputs) => self.accept_outputs(stage, name, info.outputs, outputs),
            Err(StageError::Infra(message)) => Err(AttemptError::Retryable {
                code: stage.error_code.clone(),
                message,
            }),
            Err(StageError::Failed(f)) => {
                let f = *f;
                Err(AttemptError::Final(
                    Box::new(Failure {
                        stage: stage.id.clone(),
                        code: f.code,
                        message: f.message,
                        suggestions: f.suggestions,
                        failed_gate: None,
                        context: f.context,
                    }),
                    f.details,
                ))
            }
        }
    }

    /// A handler's outputs joining the run context: the declared keys at the top level, or the
    /// whole object under the stage id.
    fn accept_outputs(
        &self,
        stage: &StageSpec,
        name: &str,
        kind: Outputs,
        outputs: Value,
    ) -> Result<Value, AttemptError> {
        let Value::Object(map) = outputs else {
            return Err(AttemptError::Final(
                Box::new(
                    self.internal_failure(stage, format!("handler '{name}' returned a non-object")),
                ),
                Value::Null,
            ));
        };
        match kind {
            Outputs::Fixed(keys) => {
                for (k, v) in &map {
                    if !keys.contains(&k.as_str()) {
                        return Err(AttemptError::Final(
                            Box::new(self.internal_failure(
                                stage,
                                format!("handler '{name}' returned undeclared output '{k}'"),
                            )),
                            Value::Null,
                        ));
                    }
                    self.shared.set(k, v.clone());
                }
            }
            Outputs::StageId => self.shared.set(&stage.id, Value::Object(map.clone())),
        }
        Ok(Value::Object(map))
    }

    /// The next injected fault on `target`, if the run has a fault plan (contract tests).
    fn fault(&self, target: FaultTarget) -> Option<FaultAction> {
        self.exec
            .services
            .get::<FaultPlan>()
            .and_then(|p| p.take(&target).cloned())
    }

    /// A stage attempt that an injected fault decides: the outcome the handler would have had.
    fn injected_stage(
        &self,
        stage: &StageSpec,
        action: FaultAction,
    ) -> Result<Value, AttemptError> {
        match action {
            FaultAction::Fail { code, message } => Err(AttemptError::Final(
                Box::new(Failure {
                    stage: stage.id.clone(),
                    code,
                    message,
                    suggestions: Vec::new(),
                    failed_gate: None,
                    context: json!({"injected": true}),
                }),
                Value::Null,
            )),
            FaultAction::Infra { message } => Err(AttemptError::Retryable {
                code: stage.error_code.clone(),
                message,
            }),
            FaultAction::Timeout => Err(AttemptError::Retryable {
                code: stage.timeout_code(),
                message: format!("stage {} timed out (injected)", stage.id),
            }),
            FaultAction::Output(v) => {
                // Canned outputs take the place of the handler's, stored the way its are.
                let kind = stage
                    .handler
                    .as_deref()
                    .and_then(|n| self.exec.registry.info(n))
                    .map_or(Outputs::StageId, |i| i.outputs);
                let name = stage.handler.as_deref().unwrap_or("outputs");
                self.accept_outputs(stage, name, kind, v)
            }
            // The test file loader refuses these on a stage; a plan built by hand still fails
            // the stage cleanly.
            FaultAction::Verdict { .. } | FaultAction::ExitCode { .. } => Err(AttemptError::Final(
                Box::new(self.internal_failure(
                    stage,
                    format!(
                        "fault on stage {}: a gate verdict or exit code is not a stage outcome",
                        stage.id
                    ),
                )),
                Value::Null,
            )),
        }
    }

    async fn progress(&self, stage: &StageSpec, step: Value) -> Result<(), EmitError> {
        let Some(spec) = &stage.events.progress else {
            return Ok(()); // the stage declares no progress events
        };
        let vars = self.stage_vars(stage, json!({ "progress": step }));
        let payload = self.payload(spec, &self.scope(&vars, None))?;
        self.emitter
            .emit(
                &spec.event_type,
                &stage.id,
                EventStatus::InProgress,
                payload,
                None,
            )
            .await?;
        Ok(())
    }

    /// Runs the gates in declared order, or concurrently when the contract says so. Stops at
    /// the first BLOCKING fail.
    async fn run_gates(
        &self,
        stage: &StageSpec,
        outputs: &Value,
    ) -> Result<Vec<GateRecord>, AttemptError> {
        let vars = self.stage_vars(stage, json!({ "outputs": outputs }));
        let mut records: Vec<Option<GateRecord>> = vec![None; stage.gates.len()];
        let mut blocked: Option<String> = None;
        if !stage.concurrent_gates() {
            for (i, gate) in stage.gates.iter().enumerate() {
                if let Some(b) = &blocked {
                    records[i] = Some(skipped_gate(stage, gate, &format!("not run: {b} failed")));
                    continue;
                }
                let rec = self.run_gate(stage, gate, &vars).await?;
                if rec.status == GateStatus::Fail {
                    blocked = Some(gate.id.clone());
                }
                self.record(&stage.id, |r| r.gates.push(rec.clone()));
                records[i] = Some(rec);
            }
        } else {
            let deps: Vec<Vec<usize>> = stage
                .gates
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    if !g.depends_on.is_empty() {
                        g.depends_on
                            .iter()
                            .filter_map(|d| stage.gates.iter().position(|x| &x.id == d))
                            .collect()
                    } else if g.parallel {
                        Vec::new()
                    } else {
                        (0..i).collect()
                    }
                })
                .collect();
            let mut started = vec![false; stage.gates.len()];
            let mut running = FuturesUnordered::new();
            loop {
                if blocked.is_none() {
                    for i in 0..stage.gates.len() {
                        if !started[i] && deps[i].iter().all(|&d| records[d].is_some()) {
                            started[i] = true;
                            let gate = &stage.gates[i];
                            let vars = &vars;
                            running
                                .push(async move { (i, self.run_gate(stage, gate, vars).await) });
                        }
                    }
                }
                let Some((i, rec)) = running.next().await else {
                    break;
                };
                let rec = rec?;
                if rec.status == GateStatus::Fail && blocked.is_none() {
                    blocked = Some(stage.gates[i].id.clone());
                }
                self.record(&stage.id, |r| r.gates.push(rec.clone()));
                records[i] = Some(rec);
                if blocked.is_some() {
                    break; // dropping `running` cancels the gates still in flight
                }
            }
            drop(running);
            if let Some(b) = &blocked {
                for (i, gate) in stage.gates.iter().enumerate() {
                    if records[i].is_none() {
                        let reason = if started[i] {
                            format!("cancelled: {b} failed")
                        } else {
                            format!("not run: {b} failed")
                        };
                        records[i] = Some(skipped_gate(stage, gate, &reason));
                    }
                }
            }
        }
        let records: Vec<GateRecord> = records.into_iter().flatten().collect();
        if let Some(b) = blocked {
            let failed = records
                .iter()
                .find(|r| r.gate_id == b)
                .expect("the blocking gate has a record");
            let mut suggestions = failed.recovery_suggestions.clone();
            if suggestions.is_empty() {
                suggestions.push(format!("Fix what gate {b} reports and run again"));
            }
            let failure = Failure {
                stage: stage.id.clone(),
                code: failed
                    .error_code
                    .clone()
                    .unwrap_or_else(|| "GATE_FAILED".into()),
                message: failed.message.clone(),
                suggestions,
                failed_gate: Some(b),
                context: failed.details.clone(),
            };
            self.record(&stage.id, |r| r.gates = records.clone());
            return Err(AttemptError::Final(Box::new(failure), Value::Null));
        }
        Ok(records)
    }

    async fn run_gate(
        &self,
        stage: &StageSpec,
        gate: &GateSpec,
        vars: &Value,
    ) -> Result<GateRecord, AttemptError> {
        let started_at = crate::events::Envelope::now_timestamp();
        let t0 = Instant::now();
        let verdict = self
            .decide(stage, gate, vars)
            .instrument(tracing::info_span!("gate", id = %gate.id))
            .await?;
        tracing::debug!(gate = %gate.id, status = ?verdict.status, "{}", verdict.message);
        Ok(self.gate_record(stage, gate, verdict, vars, started_at, t0.elapsed()))
    }

    /// What a gate's handler or expressions say.
    async fn decide(
        &self,
        stage: &StageSpec,
        gate: &GateSpec,
        vars: &Value,
    ) -> Result<GateVerdict, AttemptError> {
        if let Some(action) = self.fault(FaultTarget::Gate(gate.id.clone())) {
            return match action {
                FaultAction::Fail { code, message } => Ok(GateVerdict::fail(message).code(code)),
                FaultAction::Verdict { status, message } => Ok(GateVerdict {
                    status: Some(status),
                    skip_reason: (status == GateStatus::Skipped).then(|| message.clone()),
                    message,
                    ..Default::default()
                }),
                FaultAction::Infra { message } => Err(AttemptError::Retryable {
                    code: stage.error_code.clone(),
                    message: format!("gate {}: {message}", gate.id),
                }),
                FaultAction::Timeout => Err(AttemptError::Retryable {
                    code: stage.timeout_code(),
                    message: format!("gate {} timed out (injected)", gate.id),
                }),
                FaultAction::Output(_) | FaultAction::ExitCode { .. } => {
                    Ok(GateVerdict::fail(format!(
                        "fault on gate {}: outputs or an exit code are not a verdict",
                        gate.id
                    ))
                    .code("INTERNAL_ERROR"))
                }
            };
        }
        Ok(match &gate.check {
            GateCheck::Handler(name) => match self.exec.registry.gate(name) {
                None => GateVerdict::fail(format!("gate handler '{name}' is not registered"))
                    .code("INTERNAL_ERROR"),
                Some(f) => {
                    let ctx = GateCtx {
                        run: self.shared,
                        stage,
                        gate,
                    };
                    match f(&ctx).await {
                        Ok(v) => v,
                        Err(StageError::Infra(message)) => {
                            return Err(AttemptError::Retryable {
                                code: stage.error_code.clone(),
                                message: format!("gate {}: {message}", gate.id),
                            });
                        }
                        Err(StageError::Failed(f)) => {
                            let f = *f;
                            GateVerdict::fail(f.message)
                                .code(f.code)
                                .suggest(f.suggestions)
                                .details(f.details)
                        }
                    }
                }
            },
            GateCheck::Checks(checks) => {
                let scope = self.scope(vars, None);
                let mut verdict = GateVerdict::pass("passed");
                for check in checks {
                    match expr::eval_bool_in(&check.expression, &scope) {
                        Ok(true) => {}
                        Ok(false) => {
                            verdict = match expr::render_in(&check.fail_message, &scope) {
                                Ok(m) => GateVerdict::fail(m),
                                Err(e) => GateVerdict::fail(format!("message template: {e}"))
                                    .code("INTERNAL_ERROR"),
                            };
                            break;
                        }
                        Err(e) => {
                            verdict = GateVerdict::fail(format!(
                                "expression `{}` failed: {e}",
                                check.expression
                            ))
                            .code("INTERNAL_ERROR");
                            break;
                        }
                    }
                }
                verdict
            }
        })
    }

    fn gate_record(
        &self,
        stage: &StageSpec,
        gate: &GateSpec,
        verdict: GateVerdict,
        vars: &Value,
        started_at: String,
        elapsed: Duration,
    ) -> GateRecord {
        let mut status = verdict.status.unwrap_or(GateStatus::Pass);
        // WARNING gates never block.
        if status == GateStatus::Fail && gate.gate_type == GateType::Warning {
            status = GateStatus::Warning;
        }
        let scope = || self.scope(vars, Some(&verdict.details));
        let mut message = verdict.message.clone();
        if status == GateStatus::Pass
            && let Some(t) = &gate.pass_message
        {
            message = expr::render_in(t, &scope()).unwrap_or_else(|e| format!("{message} ({e})"));
        }
        let problem = matches!(status, GateStatus::Warning | GateStatus::Fail);
        let (error_code, recovery_suggestions) = if problem {
            let code = verdict
                .error_code
                .clone()
                .unwrap_or_else(|| gate.error_code.clone());
            let suggestions = match &verdict.suggestions {
                Some(s) if !s.is_empty() => s.clone(),
                _ => {
                    let scope = scope();
                    gate.recovery_suggestions
                        .iter()
                        .map(|t| expr::render_in(t, &scope).unwrap_or_else(|_| t.clone()))
                        .collect()
                }
            };
            (Some(code), suggestions)
        } else {
            (None, Vec::new())
        };
        GateRecord {
            gate_id: gate.id.clone(),
            gate_name: gate.name.clone(),
            stage: stage.id.clone(),
            gate_type: gate_type_str(gate.gate_type).into(),
            status,
            message,
            error_code,
            recovery_suggestions,
            skip_reason: verdict.skip_reason.clone(),
            started_at: Some(started_at),
            duration_ms: Some(elapsed.as_millis() as u64),
            details: verdict.details,
        }
    }

    async fn complete_stage(
        &self,
        stage: &StageSpec,
        started: Instant,
        attempts: u32,
        gates: Vec<GateRecord>,
        outputs: Value,
    ) -> Result<(), EmitError> {
        let duration_ms = started.elapsed().as_millis() as u64;
        let warning = gates.iter().any(|g| g.status == GateStatus::Warning);
        let summaries: Vec<Value> = gates.iter().map(GateRecord::summary).collect();
        self.record(&stage.id, |r| {
            r.status = StageStatus::Completed;
            r.finished_at = Some(crate::events::Envelope::now_timestamp());
            r.duration_ms = Some(duration_ms);
            r.gates = gates.clone();
            r.metadata.insert("attempts".into(), json!(attempts));
        });
        self.shared.set_stage(
            &stage.id,
            json!({"status": "completed", "duration_ms": duration_ms,
                   "gates": summaries, "attempts": attempts, "outputs": outputs}),
        );
        let vars = self.stage_vars(
            stage,
            json!({"gates_checked": summaries, "duration_ms": duration_ms,
                   "attempts": attempts, "outputs": outputs}),
        );
        let status = if warning {
            EventStatus::Warning
        } else {
            EventStatus::Completed
        };
        self.emit_stage_event(
            stage,
            stage.events.completed.as_ref(),
            "StageCompleted",
            status,
            &vars,
            || {
                let mut p = json!({"gates_checked": summaries, "duration_ms": duration_ms,
                                   "outputs": outputs});
                if attempts > 1 {
                    p["attempts"] = json!(attempts);
                }
                p
            },
        )
        .await
    }

    async fn fail_stage(
        &self,
        stage: &StageSpec,
        f: &Failure,
        details: Value,
        attempts: u32,
        gates: &[GateRecord],
    ) -> Result<(), EmitError> {
        let now = crate::events::Envelope::now_timestamp();
        let duration_ms = self.record(&stage.id, |r| {
            r.status = StageStatus::Failed;
            r.finished_at = Some(now);
            r.error_code = Some(f.code.clone());
            r.error = Some(f.message.clone());
            r.metadata.insert("attempts".into(), json!(attempts));
            let ms = self
                .stage_started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&stage.id)
                .map(|t| t.elapsed().as_millis() as u64);
            r.duration_ms = ms;
            ms
        });
        let summaries: Vec<Value> = gates.iter().map(GateRecord::summary).collect();
        let error = json!({
            "code": f.code, "message": f.message, "suggestions": f.suggestions,
            "context": f.context, "failed_gate": f.failed_gate, "details": details,
        });
        self.shared.set_stage(
            &stage.id,
            json!({"status": "failed", "gates": summaries, "attempts": attempts,
                   "error": error, "duration_ms": duration_ms}),
        );
        let vars = self.stage_vars(
            stage,
            json!({"gates_checked": summaries, "attempts": attempts, "error": error,
                   "duration_ms": duration_ms}),
        );
        self.emit_stage_event(
            stage,
            stage.events.failed.as_ref(),
            "StageFailed",
            EventStatus::Failed,
            &vars,
            || {
                json!({"error_code": f.code, "error_message": f.message,
                       "failed_gate": f.failed_gate, "gates_checked": summaries,
                       "error_context": f.context, "suggestions": f.suggestions})
            },
        )
        .await
    }

    /// Marks what never ran, releases run resources, builds the result and sends the
    /// terminal event (the contract's declaration, evaluated over the finished run).
    async fn finish(
        &self,
        failure: Option<Failure>,
        started_at: &str,
    ) -> Result<RunResult, SinkError> {
        let success = failure.is_none();
        if let Some(f) = &failure {
            let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
            for r in records.iter_mut() {
                if matches!(r.status, StageStatus::Pending | StageStatus::Running) {
                    r.status = StageStatus::Skipped;
                    r.skip_reason = Some(format!("not run: {} failed", f.stage));
                }
            }
        }
        let rollback_performed = self.shared.resources.release_all(success);
        let result = self.build_result(failure.as_ref(), rollback_performed, started_at);
        let total_secs = (result.total_duration_ms as f64) / 1000.0;
        let stage_durations: Map<String, Value> = result
            .stages
            .iter()
            .filter_map(|s| Some((s.stage_id.clone(), json!(s.duration_ms?))))
            .collect();
        let mut run = run_vars(&self.shared.request, started_at);
        run["duration_seconds"] = json!(total_secs);
        run["stage_durations"] = Value::Object(stage_durations);
        run["warnings"] = json!(
            result
                .warnings
                .iter()
                .map(GateRecord::summary)
                .collect::<Vec<_>>()
        );
        let outputs = Value::Object(result.outputs.clone());
        let failure_v = serde_json::to_value(&result.failure).unwrap_or(Value::Null);
        let scope =
            self.shared
                .scope(&[("run", &run), ("result", &outputs), ("failure", &failure_v)]);
        let (spec, status) = if success {
            (&self.contract.completed, EventStatus::Completed)
        } else {
            (&self.contract.failed, EventStatus::Failed)
        };
        let outcome = RunOutcome {
            status: result.status,
            outputs: result.outputs.clone(),
            failure: result.failure.clone(),
            caused_by: result.caused_by,
        };
        let declared = match self.payload(spec, &scope) {
            Ok(payload) => {
                self.emitter
                    .emit(
                        &spec.event_type,
                        PIPELINE,
                        status,
                        payload,
                        Some(outcome.clone()),
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        let sent = match declared {
            // A terminal payload that breaks the catalogue is a contract bug; the run must
            // still end with a terminal event, so the engine's own stands in for it.
            Err(EmitError::Invalid {
                event_type,
                message,
            }) => {
                let (generic, completed) = if success {
                    ("RunCompleted", true)
                } else {
                    ("RunFailed", false)
                };
                tracing::error!(%event_type, "{message}; emitting {generic} instead");
                let fallback = EventSpec {
                    event_type: generic.into(),
                    payload: crate::contract::executable::terminal_payload(completed),
                    pointer: spec.pointer.clone(),
                };
                match self.payload(&fallback, &scope) {
                    Ok(mut payload) => {
                        payload["declared_event"] = json!(event_type);
                        self.emitter
                            .emit(generic, PIPELINE, status, payload, Some(outcome))
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        match sent {
            Ok(_) => Ok(result),
            Err(e) => Err(self.abandon(e)),
        }
    }

    fn build_result(
        &self,
        failure: Option<&Failure>,
        rollback_performed: bool,
        started_at: &str,
    ) -> RunResult {
        let scope = self.shared.scope(&[]);
        let outputs: Map<String, Value> = self
            .contract
            .result
            .iter()
            .map(|(k, e)| {
                let v = expr::eval_in(e, &scope).unwrap_or_else(|err| {
                    tracing::warn!(output = %k, "result expression `{e}` failed: {err}");
                    Value::Null
                });
                (k.clone(), v)
            })
            .collect();
        let stages = self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let warnings: Vec<GateRecord> = stages
            .iter()
            .flat_map(|s| s.gates.iter())
            .filter(|g| g.status == GateStatus::Warning)
            .cloned()
            .collect();
        let request = &self.shared.request;
        let failure = failure.map(|f| {
            let mut recovery_suggestions = f.suggestions.clone();
            if recovery_suggestions.is_empty() {
                recovery_suggestions.push(format!(
                    "Inspect the run with `onex trace {}`",
                    request.correlation_id
                ));
            }
            RunFailure {
                stage: f.stage.clone(),
                code: f.code.clone(),
                message: f.message.clone(),
                failed_gate: f.failed_gate.clone(),
                recovery_suggestions,
                context: f.context.clone(),
                rollback_performed,
            }
        });
        RunResult {
            correlation_id: request.correlation_id,
            workflow: Some(request.workflow.clone()),
            status: if failure.is_none() {
                RunStatus::Success
            } else {
                OutcomeStatus::Failed
            },
            started_at: started_at.to_owned(),
            finished_at: crate::events::Envelope::now_timestamp(),
            total_duration_ms: self.started.elapsed().as_millis() as u64,
            stages,
            outputs,
            failure,
            warnings,
            caused_by: request.caused_by(),
            engine_version: crate::ENGINE_VERSION.into(),
        }
    }
}

impl crate::pipeline::handler::EmitEvent for RunState<'_> {
    fn emit_event<'a>(
        &'a self,
        stage: &'a StageSpec,
        event_type: &'a str,
        status: EventStatus,
        payload: Value,
    ) -> crate::pipeline::BoxFuture<'a, Result<(), EmitError>> {
        Box::pin(async move {
            self.emitter
                .emit(event_type, &stage.id, status, payload, None)
                .await
                .map(|_| ())
        })
    }
}

/// The stage of run-level events.
const PIPELINE: &str = crate::events::catalog::PIPELINE_STAGE;

fn gate_type_str(t: GateType) -> &'static str {
    match t {
        GateType::Blocking => "BLOCKING",
        GateType::Warning => "WARNING",
    }
}

fn skipped_gate(stage: &StageSpec, gate: &GateSpec, reason: &str) -> GateRecord {
    GateRecord {
        gate_id: gate.id.clone(),
        gate_name: gate.name.clone(),
        stage: stage.id.clone(),
        gate_type: gate_type_str(gate.gate_type).into(),
        status: GateStatus::Skipped,
        message: reason.to_owned(),
        error_code: None,
        recovery_suggestions: Vec::new(),
        skip_reason: Some(reason.to_owned()),
        started_at: None,
        duration_ms: None,
        details: Value::Null,
    }
}
