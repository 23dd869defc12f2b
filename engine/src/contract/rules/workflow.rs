//! Workflow contracts, dialect F (docs/dialects.md §8.2): event_flow endpoints (ONEX055; the required
//! source/target/topic keys are a schema constraint), command/terminal topics (ONEX056) and
//! reachability (ONEX057).

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

use super::{Ctx, idx};

fn node_names(v: &Value) -> Vec<(String, usize)> {
    let Some(Value::Array(nodes)) = v.get("nodes") else {
        return Vec::new();
    };
    nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n {
            Value::String(s) => Some((s.clone(), i)),
            Value::Object(m) => ["node_id", "name", "node_name"]
                .iter()
                .find_map(|k| m.get(*k)?.as_str())
                .map(|s| (s.to_string(), i)),
            _ => None,
        })
        .collect()
}

/// ONEX055–057.
pub fn check(ctx: &mut Ctx) {
    let v = ctx.doc.value.clone();
    let nodes = node_names(&v);
    let names: HashSet<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    let flow = match v.get("event_flow") {
        Some(Value::Array(f)) => f.clone(),
        _ => Vec::new(),
    };
    let mut adj: HashMap<String, Vec<String>> = HashMap::new();
    let mut terminal_topics = Vec::new();
    for (i, e) in flow.iter().enumerate() {
        let p = idx("/event_flow", i);
        let source = e.get("source").and_then(Value::as_str);
        let target = e.get("target").and_then(Value::as_str);
        if let Some(s) = source
            && s != "initial_command"
            && !names.contains(s)
        {
            ctx.emit(
                "ONEX055",
                &format!("{p}/source"),
                format!("event_flow source `{s}` is not in `nodes` (nor initial_command)"),
            );
        }
        if let Some(t) = target
            && t != "terminal"
            && !names.contains(t)
        {
            ctx.emit(
                "ONEX055",
                &format!("{p}/target"),
                format!("event_flow target `{t}` is not in `nodes` (nor terminal)"),
            );
        }
        if let (Some(s), Some(t)) = (source, target) {
            adj.entry(s.to_string()).or_default().push(t.to_string());
        }
        if target == Some("terminal")
            && let Some(topic) = e.get("topic").and_then(Value::as_str)
        {
            terminal_topics.push(topic.to_string());
        }
    }
    if let Some(Value::String(cmd)) = v.get("initial_command")
        && !cmd.starts_with("onex.cmd.")
    {
        ctx.emit(
            "ONEX056",
            "/initial_command",
            format!("initial_command `{cmd}` is not a cmd topic"),
        );
    }
    if let Some(Value::String(evt)) = v.get("terminal_event") {
        if !evt.starts_with("onex.evt.") {
            ctx.emit(
                "ONEX056",
                "/terminal_event",
                format!("terminal_event `{evt}` is not an evt topic"),
            );
        }
        if !flow.is_empty() && !terminal_topics.iter().any(|t| t == evt) {
            ctx.emit(
                "ONEX056",
                "/terminal_event",
                format!(
                    "no event_flow entry with `target: terminal` publishes terminal_event `{evt}`"
                ),
            );
        }
    }
    // Reachability from initial_command.
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue = VecDeque::from([String::from("initial_command")]);
    while let Some(n) = queue.pop_front() {
        for t in adj.get(&n).into_iter().flatten() {
            if seen.insert(t.clone()) {
                queue.push_back(t.clone());
            }
        }
    }
    for (name, i) in &nodes {
        if !seen.contains(name) {
            ctx.emit(
                "ONEX057",
                &idx("/nodes", *i),
                format!("node `{name}` is not reachable from initial_command through event_flow"),
            );
        }
    }
}
