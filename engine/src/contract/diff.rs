//! What a change to a workflow does (`onex diff OLD NEW`, docs/contracts.md "Changing a live
//! workflow"): a structural diff of two loaded versions — triggers, stages and gates (added,
//! removed, reordered, changed: type, expression, handler, timeout, retry), the events the
//! workflow emits, their payload fields (from the catalogue and the contract's mapping), the
//! result mapping — and a compatibility verdict for event consumers in the manner of
//! `buf breaking`: a removed event type, a removed or retyped required payload field, a removed
//! result output, a removed stage (its events stop) or any trigger change is breaking; additions
//! and behaviour changes are compatible.
//!
//! [`in_flight`] answers the question before a reload: for runs still going (from their events),
//! which stage each is in and whether the new version could take it over (the stage still
//! exists with the same id).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::executable::{EventSpec, GateCheck, GateSpec, GateType, StageSpec};
use crate::events::{Envelope, WorkflowRef};
use crate::workflow::Workflow;

/// Whether a change can break a consumer of the workflow's events (or a client of its triggers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    Compatible,
    Breaking,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `stage.added`, `gate.changed`, `event.removed`, `payload.retyped`, …
    pub kind: String,
    /// What changed: `stages/lint`, `stages/lint/gates/Q3`, `events/QualityCheckFailed/error_code`.
    pub subject: String,
    pub message: String,
    pub compat: Compat,
    /// `file:line:col` in the new version (the old one for removals), when known.
    pub at: String,
}

/// The diff of two versions.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowDiff {
    pub old: WorkflowRef,
    pub new: WorkflowRef,
    pub changes: Vec<Change>,
}

impl WorkflowDiff {
    pub fn breaking(&self) -> bool {
        self.changes.iter().any(|c| c.compat == Compat::Breaking)
    }

    pub fn count(&self, compat: Compat) -> usize {
        self.changes.iter().filter(|c| c.compat == compat).count()
    }
}

struct Out<'a> {
    old: &'a Workflow,
    new: &'a Workflow,
    changes: Vec<Change>,
}

impl Out<'_> {
    fn push(&mut self, kind: &str, subject: String, message: String, compat: Compat, at: String) {
        self.changes.push(Change {
            kind: kind.into(),
            subject,
            message,
            compat,
            at,
        });
    }
    fn old_file(&self) -> String {
        format!("{}:1:1", self.old.path().display())
    }
    fn new_file(&self) -> String {
        format!("{}:1:1", self.new.path().display())
    }
}

use Compat::{Breaking, Compatible};

/// Compares two versions of a workflow.
pub fn diff(old: &Workflow, new: &Workflow) -> WorkflowDiff {
    let mut o = Out {
        old,
        new,
        changes: Vec::new(),
    };
    let (oc, nc) = (&old.contract, &new.contract);
    if old.id.name != new.id.name {
        let at = o.new_file();
        o.push(
            "workflow.renamed",
            "workflow".into(),
            format!(
                "workflow name {} → {}: runs and metrics are keyed by it",
                old.id.name, new.id.name
            ),
            Breaking,
            at,
        );
    }
    // Triggers: clients publish them and other workflows' events start this one.
    for (t, at) in oc.triggers.iter().zip(&oc.trigger_locations) {
        if !nc.triggers.contains(t) {
            o.push(
                "trigger.removed",
                format!("triggers/{t}"),
                format!("trigger {t} removed: its events no longer start a run"),
                Breaking,
                at.clone(),
            );
        }
    }
    for (t, at) in nc.triggers.iter().zip(&nc.trigger_locations) {
        if !oc.triggers.contains(t) {
            o.push(
                "trigger.added",
                format!("triggers/{t}"),
                format!("trigger {t} added: its events now start runs"),
                Breaking,
                at.clone(),
            );
        }
    }
    if oc.execution_mode != nc.execution_mode {
        let at = o.new_file();
        o.push(
            "workflow.changed",
            "execution_mode".into(),
            format!(
                "execution mode {:?} → {:?}",
                oc.execution_mode, nc.execution_mode
            ),
            Compatible,
            at,
        );
    }
    if oc.run_timeout != nc.run_timeout {
        let at = o.new_file();
        o.push(
            "workflow.changed",
            "run_timeout_ms".into(),
            format!(
                "run timeout {} ms → {} ms",
                oc.run_timeout.as_millis(),
                nc.run_timeout.as_millis()
            ),
            Compatible,
            at,
        );
    }
    stages(&mut o);
    events(&mut o);
    result(&mut o);
    WorkflowDiff {
        old: old.id.clone(),
        new: new.id.clone(),
        changes: o.changes,
    }
}

fn gate_type(t: GateType) -> &'static str {
    match t {
        GateType::Blocking => "BLOCKING",
        GateType::Warning => "WARNING",
    }
}

fn check_text(c: &GateCheck) -> String {
    match c {
        GateCheck::Handler(h) => format!("handler {h}"),
        GateCheck::Checks(cs) => cs
            .iter()
            .map(|c| format!("`{}`", c.expression))
            .collect::<Vec<_>>()
            .join(" and "),
    }
}

fn stage_work(s: &StageSpec) -> String {
    match &s.handler {
        Some(h) => format!("handler {h}"),
        None if !s.outputs.is_empty() => format!(
            "outputs {}",
            s.outputs
                .iter()
                .map(|(k, v)| format!("{k}: `{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "gates only".into(),
    }
}

/// Order of the ids both versions have, to tell a reorder from adds and removals.
fn common_order<'a>(a: &'a [String], b: &[String]) -> Vec<&'a String> {
    a.iter().filter(|x| b.contains(x)).collect()
}

fn stages(o: &mut Out<'_>) {
    let (oc, nc) = (&o.old.contract, &o.new.contract);
    let old_ids: Vec<String> = oc.stages.iter().map(|s| s.id.clone()).collect();
    let new_ids: Vec<String> = nc.stages.iter().map(|s| s.id.clone()).collect();
    for s in &oc.stages {
        if !new_ids.contains(&s.id) {
            o.push(
                "stage.removed",
                format!("stages/{}", s.id),
                format!(
                    "stage {} removed: its events stop, and runs in it cannot be taken over",
                    s.id
                ),
                Breaking,
                s.location.clone(),
            );
        }
    }
    for s in &nc.stages {
        if !old_ids.contains(&s.id) {
            o.push(
                "stage.added",
                format!("stages/{}", s.id),
                format!("stage {} added ({})", s.id, stage_work(s)),
                Compatible,
                s.location.clone(),
            );
        }
    }
    let (a, b) = (
        common_order(&old_ids, &new_ids),
        common_order(&new_ids, &old_ids),
    );
    if a != b {
        let at = nc
            .stages
            .iter()
            .find(|s| Some(&&s.id) == b.first())
            .map(|s| s.location.clone())
            .unwrap_or_else(|| o.new_file());
        o.push(
            "stage.reordered",
            "stages".into(),
            format!(
                "stage order {} → {}",
                a.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                b.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            Compatible,
            at,
        );
    }
    for n in &nc.stages {
        let Some(s) = oc.stage(&n.id) else { continue };
        let subject = format!("stages/{}", n.id);
        let mut changed = Vec::new();
        if stage_work(s) != stage_work(n) {
            changed.push(format!("{} → {}", stage_work(s), stage_work(n)));
        }
        if s.params != n.params {
            changed.push("params changed".into());
        }
        if s.depends_on != n.depends_on {
            changed.push(format!(
                "depends_on [{}] → [{}]",
                s.depends_on.join(", "),
                n.depends_on.join(", ")
            ));
        }
        if s.timeout != n.timeout {
            let ms = |t: Option<std::time::Duration>| {
                t.map_or_else(|| "none".to_owned(), |d| format!("{} ms", d.as_millis()))
            };
            changed.push(format!("timeout {} → {}", ms(s.timeout), ms(n.timeout)));
        }
        if s.retry != n.retry {
            changed.push(format!(
                "retry {} attempts/{} ms → {} attempts/{} ms",
                s.retry.max_attempts, s.retry.backoff_ms, n.retry.max_attempts, n.retry.backoff_ms
            ));
        }
        if s.when != n.when {
            let w = |w: &Option<crate::contract::executable::When>| {
                w.as_ref()
                    .map_or_else(|| "always".to_owned(), |w| format!("`{}`", w.expression))
            };
            changed.push(format!("when {} → {}", w(&s.when), w(&n.when)));
        }
        if s.prepare != n.prepare {
            changed.push(format!("prepare {:?} → {:?}", s.prepare, n.prepare));
        }
        if s.error_code != n.error_code {
            changed.push(format!("error_code {} → {}", s.error_code, n.error_code));
        }
        if !changed.is_empty() {
            o.push(
                "stage.changed",
                subject.clone(),
                format!("stage {}: {}", n.id, changed.join("; ")),
                Compatible,
                n.location.clone(),
            );
        }
        gates(o, s, n);
    }
}

fn gates(o: &mut Out<'_>, s: &StageSpec, n: &StageSpec) {
    let ids = |g: &[GateSpec]| g.iter().map(|g| g.id.clone()).collect::<Vec<_>>();
    let (old_ids, new_ids) = (ids(&s.gates), ids(&n.gates));
    for g in &s.gates {
        if !new_ids.contains(&g.id) {
            o.push(
                "gate.removed",
                format!("stages/{}/gates/{}", s.id, g.id),
                format!(
                    "gate {} ({}, {}) removed from stage {}",
                    g.id,
                    g.name,
                    gate_type(g.gate_type),
                    s.id
                ),
                Compatible,
                g.location.clone(),
            );
        }
    }
    for g in &n.gates {
        if !old_ids.contains(&g.id) {
            o.push(
                "gate.added",
                format!("stages/{}/gates/{}", n.id, g.id),
                format!(
                    "gate {} ({}, {}: {}) added to stage {}",
                    g.id,
                    g.name,
                    gate_type(g.gate_type),
                    check_text(&g.check),
                    n.id
                ),
                Compatible,
                g.location.clone(),
            );
        }
    }
    let (a, b) = (
        common_order(&old_ids, &new_ids),
        common_order(&new_ids, &old_ids),
    );
    if a != b {
        o.push(
            "gate.reordered",
            format!("stages/{}/gates", n.id),
            format!(
                "gate order of stage {}: {} → {}",
                n.id,
                a.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                b.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            Compatible,
            n.location.clone(),
        );
    }
    for g in &n.gates {
        let Some(og) = s.gates.iter().find(|x| x.id == g.id) else {
            continue;
        };
        let mut changed = Vec::new();
        if og.gate_type != g.gate_type {
            changed.push(format!(
                "type {} → {}",
                gate_type(og.gate_type),
                gate_type(g.gate_type)
            ));
        }
        if check_text(&og.check) != check_text(&g.check) {
            changed.push(format!(
                "{} → {}",
                check_text(&og.check),
                check_text(&g.check)
            ));
        }
        if og.params != g.params {
            changed.push("params changed".into());
        }
        if og.error_code != g.error_code {
            changed.push(format!("error_code {} → {}", og.error_code, g.error_code));
        }
        if og.depends_on != g.depends_on || og.parallel != g.parallel {
            changed.push("concurrency changed".into());
        }
        if !changed.is_empty() {
            o.push(
                "gate.changed",
                format!("stages/{}/gates/{}", n.id, g.id),
                format!("gate {}: {}", g.id, changed.join("; ")),
                Compatible,
                g.location.clone(),
            );
        }
    }
}

/// The events a version emits: type → the payload mappings declaring it (the generic stage
/// events of stages without their own have none: the engine builds their payloads).
fn emitted(w: &Workflow) -> BTreeMap<String, Vec<&EventSpec>> {
    let c = &w.contract;
    let mut m: BTreeMap<String, Vec<&EventSpec>> = BTreeMap::new();
    for spec in [&c.completed, &c.failed] {
        m.entry(spec.event_type.clone()).or_default().push(spec);
    }
    for s in &c.stages {
        let e = &s.events;
        for (spec, generic) in [
            (&e.started, Some("StageStarted")),
            (&e.completed, Some("StageCompleted")),
            (&e.failed, Some("StageFailed")),
            (&e.progress, None),
        ] {
            match (spec, generic) {
                (Some(spec), _) => m.entry(spec.event_type.clone()).or_default().push(spec),
                (None, Some(g)) => {
                    m.entry(g.to_owned()).or_default();
                }
                (None, None) => {}
            }
        }
        // `emit` steps publish the event their params name.
        if s.handler.as_deref() == Some("emit")
            && let Some(t) = s
                .params
                .get("event_type")
                .or_else(|| s.params.get("type"))
                .and_then(Value::as_str)
        {
            m.entry(t.to_owned()).or_default();
        }
    }
    m
}

/// A payload schema's fields: name → (JSON type text, required).
fn fields(w: &Workflow, event_type: &str) -> BTreeMap<String, (String, bool)> {
    let mut out = BTreeMap::new();
    let Some(def) = w.catalogs.iter().find_map(|c| c.get(event_type)) else {
        return out;
    };
    let schema = &def.payload_schema;
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let ty = v
                .get("type")
                .map(|t| t.to_string())
                .or_else(|| v.get("enum").map(|e| format!("enum {e}")))
                .or_else(|| v.get("$ref").map(|r| r.to_string()))
                .unwrap_or_else(|| "any".into());
            out.insert(k.clone(), (ty, required.contains(k.as_str())));
        }
    }
    out
}

fn events(o: &mut Out<'_>) {
    let (old, new) = (emitted(o.old), emitted(o.new));
    for t in old.keys() {
        if !new.contains_key(t) {
            let at = o.old_file();
            o.push(
                "event.removed",
                format!("events/{t}"),
                format!("event {t} is no longer emitted: its consumers wait in vain"),
                Breaking,
                at,
            );
        }
    }
    for t in new.keys() {
        if !old.contains_key(t) {
            let at = o.new_file();
            o.push(
                "event.added",
                format!("events/{t}"),
                format!("event {t} is now emitted"),
                Compatible,
                at,
            );
        }
    }
    // Payload fields, of the emitted events both versions have and of the triggers.
    let mut types: Vec<(String, bool)> = old
        .keys()
        .filter(|t| new.contains_key(*t))
        .map(|t| (t.clone(), false))
        .collect();
    for t in &o.new.contract.triggers {
        if o.old.contract.triggers.contains(t) && !types.iter().any(|(x, _)| x == t) {
            types.push((t.clone(), true));
        }
    }
    for (t, is_trigger) in types {
        let (of, nf) = (fields(o.old, &t), fields(o.new, &t));
        let mapped = |m: &BTreeMap<String, Vec<&EventSpec>>| -> BTreeSet<String> {
            m.get(&t)
                .into_iter()
                .flatten()
                .flat_map(|s| s.payload.keys().cloned())
                .collect()
        };
        let (om, nm) = (mapped(&old), mapped(&new));
        for (k, (ty, req)) in &of {
            match nf.get(k) {
                None => o.push(
                    "payload.removed",
                    format!("events/{t}/{k}"),
                    format!(
                        "{t}.{k} ({ty}{}) removed from the catalogue",
                        if *req { ", required" } else { "" }
                    ),
                    if *req && !is_trigger {
                        Breaking
                    } else {
                        Compatible
                    },
                    format!(
                        "{}:1:1",
                        o.new
                            .contract
                            .catalogs
                            .first()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                ),
                Some((nty, nreq)) if nty != ty => o.push(
                    "payload.retyped",
                    format!("events/{t}/{k}"),
                    format!("{t}.{k}: type {ty} → {nty}"),
                    if *req || *nreq { Breaking } else { Compatible },
                    format!(
                        "{}:1:1",
                        o.new
                            .contract
                            .catalogs
                            .first()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                ),
                Some((_, nreq)) if *nreq && !*req && is_trigger => o.push(
                    "payload.required",
                    format!("events/{t}/{k}"),
                    format!(
                        "trigger {t}.{k} is now required: clients that leave it out are refused"
                    ),
                    Breaking,
                    format!(
                        "{}:1:1",
                        o.new
                            .contract
                            .catalogs
                            .first()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                ),
                Some(_) => {}
            }
        }
        for (k, (ty, req)) in &nf {
            if !of.contains_key(k) {
                let compat = if *req && is_trigger {
                    Breaking
                } else {
                    Compatible
                };
                o.push(
                    "payload.added",
                    format!("events/{t}/{k}"),
                    format!(
                        "{t}.{k} ({ty}{}) added",
                        if *req { ", required" } else { ", optional" }
                    ),
                    compat,
                    format!(
                        "{}:1:1",
                        o.new
                            .contract
                            .catalogs
                            .first()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                );
            }
        }
        // What the contract fills in: a field the old version filled and the new leaves out.
        for k in om.difference(&nm) {
            let req = of.get(k).is_some_and(|(_, r)| *r);
            let at = o.new_file();
            o.push(
                "payload.unmapped",
                format!("events/{t}/{k}"),
                format!("{t}.{k} is no longer filled in by the contract"),
                if req { Breaking } else { Compatible },
                at,
            );
        }
        for k in nm.difference(&om) {
            let at = o.new_file();
            o.push(
                "payload.mapped",
                format!("events/{t}/{k}"),
                format!("{t}.{k} is now filled in by the contract"),
                Compatible,
                at,
            );
        }
        // Same field, another expression: what consumers receive may change.
        for spec in new.get(&t).into_iter().flatten() {
            for (k, e) in &spec.payload {
                let before = old
                    .get(&t)
                    .into_iter()
                    .flatten()
                    .find_map(|s| s.payload.get(k));
                if let Some(b) = before
                    && b != e
                {
                    let at = o.new_file();
                    o.push(
                        "payload.changed",
                        format!("events/{t}/{k}"),
                        format!("{t}.{k}: `{b}` → `{e}`"),
                        Compatible,
                        at,
                    );
                }
            }
        }
    }
}

fn result(o: &mut Out<'_>) {
    let (oc, nc) = (&o.old.contract, &o.new.contract);
    for (k, e) in &oc.result {
        match nc.result.get(k) {
            None => {
                let at = o.new_file();
                o.push(
                    "result.removed",
                    format!("result/{k}"),
                    format!("result output {k} removed (it is in every terminal event's outcome)"),
                    Breaking,
                    at,
                );
            }
            Some(n) if n != e => {
                let at = o.new_file();
                o.push(
                    "result.changed",
                    format!("result/{k}"),
                    format!("result output {k}: `{e}` → `{n}`"),
                    Compatible,
                    at,
                );
            }
            Some(_) => {}
        }
    }
    for k in nc.result.keys() {
        if !oc.result.contains_key(k) {
            let at = o.new_file();
            o.push(
                "result.added",
                format!("result/{k}"),
                format!("result output {k} added"),
                Compatible,
                at,
            );
        }
    }
}

/// A run that has not ended, as its events show it.
#[derive(Debug, Clone, Serialize)]
pub struct InFlight {
    pub correlation_id: Uuid,
    pub workflow: Option<WorkflowRef>,
    /// The stage of its latest event (`pipeline` when only the trigger is there).
    pub stage: String,
    pub last_event: String,
    /// Whether `new` has that stage (same id): it could finish the run.
    pub can_take_over: bool,
    pub reason: String,
}

/// The runs of workflow `name` among `events` that have no terminal event yet, and whether
/// `new` could take each over.
pub fn in_flight(events: &[Envelope], name: &str, new: &Workflow) -> Vec<InFlight> {
    let mut runs: BTreeMap<Uuid, Vec<&Envelope>> = BTreeMap::new();
    for e in events {
        runs.entry(e.correlation_id).or_default().push(e);
    }
    let mut out = Vec::new();
    for (cid, evs) in runs {
        if evs.iter().any(|e| e.is_terminal()) {
            continue;
        }
        let wf = evs.iter().find_map(|e| e.workflow.clone());
        // The trigger alone carries no workflow: then the trigger type decides.
        let ours = match &wf {
            Some(w) => w.name == name,
            None => evs
                .iter()
                .any(|e| new.contract.triggers.contains(&e.event_type)),
        };
        if !ours {
            continue;
        }
        let Some(last) = evs.iter().max_by_key(|e| (e.attempt, e.seq)) else {
            continue;
        };
        let stage = last.stage.clone();
        let (can, reason) = if stage == crate::events::catalog::PIPELINE_STAGE {
            (
                true,
                "not started yet: it starts on the new version's first stages".to_owned(),
            )
        } else if new.contract.stage(&stage).is_some() {
            (true, format!("stage {stage} exists in {}", new.id))
        } else {
            (
                false,
                format!(
                    "stage {stage} is not in {}: the run must finish on its own version",
                    new.id
                ),
            )
        };
        out.push(InFlight {
            correlation_id: cid,
            workflow: wf,
            stage,
            last_event: last.event_type.clone(),
            can_take_over: can,
            reason,
        });
    }
    out
}
