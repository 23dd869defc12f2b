//! Reducer FSMs (docs/dialects.md §9.1): `state_machine` or its alias `state_transitions`. ONEX060–067.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{Ctx, idx, ptr};

/// Operators of a condition expression `field op value` (ONEX067).
pub const CONDITION_OPS: &[&str] = &[
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "equals",
    "not_equals",
    "greater_than",
    "less_than",
    "greater_than_or_equal",
    "less_than_or_equal",
    "min_length",
    "max_length",
    "exists",
    "not_exists",
    "in",
    "not_in",
    "contains",
    "matches",
];

/// The pointer of the FSM block, if any.
pub fn fsm_pointer(v: &Value) -> Option<&'static str> {
    ["/state_machine", "/state_transitions"]
        .into_iter()
        .find(|p| v.pointer(p).is_some_and(Value::is_object))
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// ONEX060–067 on the FSM at `base`.
pub fn check(ctx: &mut Ctx, base: &str) {
    let Some(fsm) = ctx.get(base).cloned() else {
        return;
    };
    // ONEX060: states non-empty, names unique.
    let states = match fsm.get("states") {
        Some(Value::Array(s)) if !s.is_empty() => s.clone(),
        _ => {
            ctx.emit("ONEX060", &ptr(base, "states"), "FSM has no `states`");
            Vec::new()
        }
    };
    let mut declared: HashSet<String> = HashSet::new();
    for (i, s) in states.iter().enumerate() {
        let p = idx(&ptr(base, "states"), i);
        match str_at(s, "state_name") {
            Some(n) => {
                if !declared.insert(n.to_string()) {
                    ctx.emit(
                        "ONEX060",
                        &format!("{p}/state_name"),
                        format!("state `{n}` is declared twice"),
                    );
                }
            }
            None => ctx.emit("ONEX060", &p, "state without `state_name`"),
        }
    }
    let known = |s: &str| declared.contains(s);
    // ONEX061.
    match fsm.get("initial_state") {
        Some(Value::String(s)) if known(s) => {}
        Some(Value::String(s)) => ctx.emit(
            "ONEX061",
            &ptr(base, "initial_state"),
            format!("initial_state `{s}` is not a declared state"),
        ),
        _ => ctx.emit("ONEX061", base, "FSM has no `initial_state`"),
    }
    // ONEX062.
    let mut terminal: HashSet<String> = HashSet::new();
    for key in ["terminal_states", "error_states"] {
        if let Some(Value::Array(list)) = fsm.get(key) {
            for (i, s) in list.iter().enumerate() {
                let Some(s) = s.as_str() else { continue };
                if key == "terminal_states" {
                    terminal.insert(s.to_string());
                }
                if !known(s) {
                    ctx.emit(
                        "ONEX062",
                        &idx(&ptr(base, key), i),
                        format!("{key} entry `{s}` is not a declared state"),
                    );
                }
            }
        }
    }
    // ONEX063–067 over transitions.
    let transitions = match fsm.get("transitions") {
        Some(Value::Array(t)) => t.clone(),
        _ => Vec::new(),
    };
    let mut names: HashSet<String> = HashSet::new();
    let mut keys: HashMap<(String, String, i64), usize> = HashMap::new();
    for (i, t) in transitions.iter().enumerate() {
        let p = idx(&ptr(base, "transitions"), i);
        let from = str_at(t, "from_state");
        if let Some(f) = from
            && f != "*"
            && !known(f)
        {
            ctx.emit(
                "ONEX063",
                &format!("{p}/from_state"),
                format!("from_state `{f}` is not a declared state"),
            );
        }
        if let Some(to) = str_at(t, "to_state")
            && !known(to)
        {
            ctx.emit(
                "ONEX063",
                &format!("{p}/to_state"),
                format!("to_state `{to}` is not a declared state"),
            );
        }
        if let Some(n) = str_at(t, "transition_name")
            && !names.insert(n.to_string())
        {
            ctx.emit(
                "ONEX064",
                &format!("{p}/transition_name"),
                format!("transition `{n}` is declared twice"),
            );
        }
        if let (Some(f), Some(trig)) = (from, str_at(t, "trigger")) {
            let prio = t.get("priority").and_then(Value::as_i64).unwrap_or(0);
            if let Some(first) = keys.insert((f.to_string(), trig.to_string(), prio), i) {
                ctx.emit(
                    "ONEX065",
                    &p,
                    format!("transition repeats (from_state `{f}`, trigger `{trig}`, priority {prio}) of transition #{first}"),
                );
            }
        }
        if let Some(f) = from
            && f != "*"
            && terminal.contains(f)
        {
            ctx.emit(
                "ONEX066",
                &format!("{p}/from_state"),
                format!("transition leaves terminal state `{f}`"),
            );
        }
        if let Some(Value::Array(conds)) = t.get("conditions") {
            for (j, c) in conds.iter().enumerate() {
                let Some(expr) = c.get("expression") else {
                    continue;
                };
                let cp = format!("{p}/conditions/{j}/expression");
                let ok = expr.as_str().is_some_and(|e| {
                    let toks: Vec<&str> = e.split_whitespace().collect();
                    toks.len() == 3 && CONDITION_OPS.contains(&toks[1])
                });
                if !ok {
                    ctx.emit(
                        "ONEX067",
                        &cp,
                        format!(
                            "condition {} is not `field op value` with a known operator",
                            super::show(expr)
                        ),
                    );
                }
            }
        }
    }
    // ONEX063 for operations and rollback transitions.
    if let Some(Value::Array(ops)) = fsm.get("operations") {
        for (i, op) in ops.iter().enumerate() {
            let p = idx(&ptr(base, "operations"), i);
            if let Some(ts) = str_at(op, "target_state")
                && !known(ts)
            {
                ctx.emit(
                    "ONEX063",
                    &format!("{p}/target_state"),
                    format!("operation target_state `{ts}` is not a declared state"),
                );
            }
            if let Some(Value::Array(rb)) = op.get("rollback_transitions") {
                for (j, r) in rb.iter().enumerate() {
                    for k in ["from_state", "to_state"] {
                        if let Some(s) = str_at(r, k)
                            && s != "*"
                            && !known(s)
                        {
                            ctx.emit(
                                "ONEX063",
                                &format!("{p}/rollback_transitions/{j}/{k}"),
                                format!("rollback {k} `{s}` is not a declared state"),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// ONEX069: a terminal state is not recoverable. `is_recoverable` defaults to true, so a state
/// with `is_terminal: true` must say `is_recoverable: false` (omnibase_core's
/// `ModelFSMStateDefinition.validate_terminal_not_recoverable`; flags read as Pydantic does).
pub fn terminal_not_recoverable(ctx: &mut Ctx, base: &str) {
    use crate::contract::lax;
    let Some(Value::Array(states)) = ctx.get(&ptr(base, "states")).cloned() else {
        return;
    };
    for (i, s) in states.iter().enumerate() {
        for flag in ["is_terminal", "is_recoverable"] {
            if let Some(v) = s.get(flag)
                && lax::bool(v).is_none()
            {
                let at = format!("{}/{flag}", idx(&ptr(base, "states"), i));
                ctx.emit(
                    "ONEX069",
                    &at,
                    format!("`{flag}` must be a boolean, not {}", super::show(v)),
                );
            }
        }
        let terminal = s.get("is_terminal").and_then(lax::bool) == Some(true);
        let recoverable = s.get("is_recoverable").map_or(Some(true), lax::bool) == Some(true);
        if terminal && recoverable {
            let p = idx(&ptr(base, "states"), i);
            let name = str_at(s, "state_name").unwrap_or("?");
            let at = if s.get("is_recoverable").is_some() {
                format!("{p}/is_recoverable")
            } else {
                format!("{p}/is_terminal")
            };
            ctx.emit_help(
                "ONEX069",
                &at,
                format!(
                    "terminal state `{name}` is recoverable (`is_recoverable` defaults to true)"
                ),
                "add `is_recoverable: false` to the terminal state",
            );
        }
    }
}
