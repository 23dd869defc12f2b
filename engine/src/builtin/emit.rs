//! `emit`: publish an event of the catalogue from a stage, so one workflow can trigger others
//! (chaining, fan-out) without code.
//!
//! ```yaml
//! handler: emit
//! params:
//!   type: ReviewRequested              # an event type of the catalogue, allowed for this stage
//!   status: completed                  # started | in_progress | completed (default) | warning | failed
//!   payload:                           # field -> expression over the run context
//!     node_directory: trigger.output_path
//! ```
//!
//! `onex validate` checks the event like any declared event (ONEX101) and its expressions
//! (ONEX102). A workflow triggered by it runs with its own correlation id, its first event
//! caused by this one.

use serde_json::{Map, Value, json};

use crate::contract::executable::{ParamDoc, ParamExpr, ParamProblem};
use crate::events::EventStatus;
use crate::pipeline::{StageCtx, StageError, expr};

pub static PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "type",
        required: true,
        doc: "event type of the workflow's catalogue",
    },
    ParamDoc {
        name: "status",
        required: false,
        doc: "envelope status: started, in_progress, completed (default), warning or failed",
    },
    ParamDoc {
        name: "payload",
        required: false,
        doc: "mapping field -> expression: the event's payload",
    },
];

fn status_of(v: Option<&Value>) -> Option<EventStatus> {
    match v {
        None => Some(EventStatus::Completed),
        Some(s) => serde_json::from_value(s.clone()).ok(),
    }
}

/// The `params:` a contract gives `emit` (the event itself is ONEX101's).
pub fn check_params(params: &Value) -> Vec<ParamProblem> {
    let mut out = Vec::new();
    let problem = |pointer: &str, message: &str| ParamProblem {
        code: "ONEX103",
        pointer: pointer.into(),
        message: message.into(),
    };
    if !params.get("type").is_some_and(Value::is_string) {
        out.push(problem("/type", "`type` is the event type to publish"));
    }
    if status_of(params.get("status")).is_none() {
        out.push(problem(
            "/status",
            "`status` is started, in_progress, completed, warning or failed",
        ));
    }
    if let Some(p) = params.get("payload")
        && !p
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string))
    {
        out.push(problem("/payload", "`payload` maps fields to expressions"));
    }
    out
}

/// The payload expressions, for ONEX102.
pub fn expressions(params: &Value) -> Vec<ParamExpr> {
    params
        .get("payload")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(ParamExpr::expression(format!("/payload/{k}"), v.as_str()?)))
        .collect()
}

/// The event `emit`'s params declare, for ONEX101: (type, payload field -> expression).
pub fn event(params: &Value) -> Option<(String, Vec<(String, String)>)> {
    let t = params.get("type")?.as_str()?.to_owned();
    let payload = params
        .get("payload")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Some((t, payload))
}

/// Builds the payload and publishes the event; outputs `{event_type}` under the stage id.
pub async fn stage(ctx: &StageCtx<'_>) -> Result<Value, StageError> {
    let params = &ctx.stage.params;
    let Some((event_type, fields)) = event(params) else {
        return Err(StageError::failed(
            "EMIT_FAILED",
            format!("`emit` needs params.type (at {})", ctx.stage.location),
        ));
    };
    let status = status_of(params.get("status")).ok_or_else(|| {
        StageError::failed(
            "EMIT_FAILED",
            format!("bad params.status (at {})", ctx.stage.location),
        )
    })?;
    let scope = ctx.scope();
    let mut payload = Map::new();
    for (field, e) in fields {
        let v = expr::eval_in(&e, &scope).map_err(|err| {
            StageError::failed(
                "EMIT_FAILED",
                format!(
                    "payload field '{field}' `{e}` failed: {err} (at {})",
                    ctx.stage.location
                ),
            )
        })?;
        payload.insert(field, v);
    }
    ctx.emit(&event_type, status, Value::Object(payload))
        .await?;
    Ok(json!({ "event_type": event_type }))
}
