//! A run from its events alone: ordering by seq (highest attempt wins), the rebuilt
//! [`RunResult`], and the timeline `onex trace` shows. Stages come from the stage events
//! (by their `stage` and `status`), outputs and failure from the terminal event's outcome, so
//! the CLI in bus mode, `onex status` and `onex events replay` show exactly what a direct run
//! shows, for any workflow.

use crate::events::{Envelope, EventStatus, OutcomeStatus};
use crate::pipeline::handler::GateStatus;
use crate::pipeline::result::{GateRecord, RunResult, StageRecord, StageStatus};
use serde_json::Value;
use std::collections::BTreeMap;

/// The events of one run as observers must show them: de-duplicated by event_id, only the
/// highest attempt (plus the client's trigger, seq 1 without a cause, which every attempt
/// shares), ordered by seq.
pub fn order_run(events: &[Envelope]) -> Vec<Envelope> {
    let max_attempt = events.iter().map(|e| e.attempt).max().unwrap_or(1);
    let mut by_seq: BTreeMap<u64, &Envelope> = BTreeMap::new();
    for e in events {
        if e.seq == 0 {
            continue; // dead letters are not part of a run's sequence
        }
        if e.attempt != max_attempt && !e.starts_own_run() {
            continue;
        }
        by_seq.entry(e.seq).or_insert(e);
    }
    by_seq.into_values().cloned().collect()
}

/// The duration a stage event reports: `duration_ms`, or a `…_duration_ms` field.
pub fn duration_ms(payload: &Value) -> Option<u64> {
    let obj = payload.as_object()?;
    obj.get("duration_ms")
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.ends_with("_duration_ms"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_u64)
}

fn gates(stage: &str, payload: &Value) -> Option<Vec<GateRecord>> {
    let list = payload.get("gates_checked")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|g| {
                let mut g = g.clone();
                g.as_object_mut()?
                    .insert("stage".into(), Value::from(stage));
                serde_json::from_value(g).ok()
            })
            .collect(),
    )
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// Rebuilds the result of a run. `stage_ids` (the contract's stages, in order) adds records
/// for stages that emitted nothing (skipped). `None` until the terminal event is among the
/// events.
pub fn rebuild(events: &[Envelope], stage_ids: Option<&[String]>) -> Option<RunResult> {
    let events = order_run(events);
    let first = events.first()?;
    let terminal = events.iter().rev().find(|e| e.is_terminal())?;
    let outcome = terminal.outcome.clone()?;
    let mut stages: Vec<StageRecord> = stage_ids
        .unwrap_or_default()
        .iter()
        .map(|id| StageRecord::pending(id))
        .collect();
    for e in &events {
        let p = &e.payload;
        if e.stage == crate::events::catalog::PIPELINE_STAGE {
            continue;
        }
        let idx = match stages.iter().position(|s| s.stage_id == e.stage) {
            Some(i) => i,
            None => {
                stages.push(StageRecord::pending(&e.stage));
                stages.len() - 1
            }
        };
        let s = &mut stages[idx];
        match e.status {
            EventStatus::Started => {
                s.status = StageStatus::Running;
                s.started_at = Some(e.timestamp.clone());
            }
            EventStatus::InProgress => {}
            EventStatus::Completed | EventStatus::Warning => {
                s.status = StageStatus::Completed;
                s.finished_at = Some(e.timestamp.clone());
                s.duration_ms = duration_ms(p);
                if let Some(g) = gates(&e.stage, p) {
                    s.gates = g;
                }
                if let Some(a) = p.get("attempts") {
                    s.metadata.insert("attempts".into(), a.clone());
                }
            }
            EventStatus::Failed => {
                s.status = StageStatus::Failed;
                s.finished_at = Some(e.timestamp.clone());
                s.duration_ms = duration_ms(p);
                s.error_code = text(p, "error_code");
                s.error = text(p, "error_message");
                if let Some(g) = gates(&e.stage, p) {
                    s.gates = g;
                }
            }
        }
    }
    let success = outcome.status == OutcomeStatus::Success;
    let failed_stage = outcome.failure.as_ref().map(|f| f.stage.clone());
    for s in &mut stages {
        if s.status == StageStatus::Pending || (!success && s.status == StageStatus::Running) {
            s.status = StageStatus::Skipped;
            s.skip_reason = Some(match &failed_stage {
                Some(f) => format!("not run: {f} failed"),
                None => "not run".into(),
            });
        }
    }
    let warnings: Vec<GateRecord> = stages
        .iter()
        .flat_map(|s| s.gates.iter())
        .filter(|g| g.status == GateStatus::Warning)
        .cloned()
        .collect();
    let total_ms = match (
        jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.fZ", &first.timestamp),
        jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.fZ", &terminal.timestamp),
    ) {
        _ if terminal.payload.get("total_duration_seconds").is_some() => terminal
            .payload
            .get("total_duration_seconds")
            .and_then(Value::as_f64)
            .map(|s| (s * 1000.0).round() as u64)
            .unwrap_or(0),
        (Ok(a), Ok(b)) => b.duration_since(a).as_millis().max(0) as u64,
        _ => 0,
    };
    Some(RunResult {
        correlation_id: terminal.correlation_id,
        workflow: terminal.workflow.clone(),
        status: outcome.status,
        started_at: first.timestamp.clone(),
        finished_at: terminal.timestamp.clone(),
        total_duration_ms: total_ms,
        stages,
        outputs: outcome.outputs,
        failure: outcome.failure,
        warnings,
        caused_by: outcome.caused_by,
        engine_version: terminal.source.version.clone(),
    })
}

/// One line of `onex trace`: a stage or a gate with start, duration and outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceLine {
    pub depth: usize,
    pub name: String,
    pub started_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub outcome: String,
    pub detail: String,
}

/// The timeline of a run: each stage, then its gates.
pub fn timeline(result: &RunResult) -> Vec<TraceLine> {
    let mut lines = Vec::new();
    for s in &result.stages {
        let outcome = serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        lines.push(TraceLine {
            depth: 0,
            name: s.stage_id.clone(),
            started_at: s.started_at.clone(),
            duration_ms: s.duration_ms,
            outcome,
            detail: s
                .error
                .clone()
                .or_else(|| s.skip_reason.clone())
                .unwrap_or_default(),
        });
        for g in &s.gates {
            let outcome = serde_json::to_value(g.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            lines.push(TraceLine {
                depth: 1,
                name: format!("{} {}", g.gate_id, g.gate_name),
                started_at: g.started_at.clone(),
                duration_ms: g.duration_ms,
                outcome,
                detail: g.message.clone(),
            });
        }
    }
    lines
}
