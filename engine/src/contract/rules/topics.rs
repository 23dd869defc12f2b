//! Topics (docs/dialects.md §9.3): the ONEX topic keys of a contract, collected into one list (also used by
//! the normalised view), and the grammar rules ONEX070–072. The `onex:` block of dialect X is
//! never a source.

use serde_json::Value;

use super::{Ctx, idx, ptr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Subscribe,
    Publish,
}

/// One topic occurrence.
#[derive(Debug, Clone)]
pub struct TopicRef {
    pub topic: String,
    pub pointer: String,
    pub direction: Direction,
}

fn push_str(out: &mut Vec<TopicRef>, v: Option<&Value>, p: String, d: Direction) {
    if let Some(Value::String(s)) = v {
        out.push(TopicRef {
            topic: s.clone(),
            pointer: p,
            direction: d,
        });
    }
}

fn push_list(out: &mut Vec<TopicRef>, v: Option<&Value>, p: &str, d: Direction) {
    if let Some(Value::Array(items)) = v {
        for (i, t) in items.iter().enumerate() {
            push_str(out, Some(t), idx(p, i), d);
        }
    }
}

/// `[ {topic: …}, … ]` lists (or a single mapping).
fn push_topic_entries(out: &mut Vec<TopicRef>, v: Option<&Value>, p: &str, d: Direction) {
    match v {
        Some(Value::Array(items)) => {
            for (i, e) in items.iter().enumerate() {
                match e {
                    Value::String(_) => push_str(out, Some(e), idx(p, i), d),
                    _ => push_str(out, e.get("topic"), format!("{}/topic", idx(p, i)), d),
                }
            }
        }
        Some(m @ Value::Object(_)) => push_str(out, m.get("topic"), format!("{p}/topic"), d),
        _ => {}
    }
}

/// Every ONEX topic key of the document (docs/dialects.md §9.3 sources), in document order of the sources.
pub fn collect(v: &Value) -> Vec<TopicRef> {
    use Direction::{Publish as P, Subscribe as S};
    let mut out = Vec::new();
    if let Some(eb) = v.get("event_bus") {
        push_list(
            &mut out,
            eb.get("subscribe_topics"),
            "/event_bus/subscribe_topics",
            S,
        );
        push_list(
            &mut out,
            eb.get("publish_topics"),
            "/event_bus/publish_topics",
            P,
        );
        push_topic_entries(&mut out, eb.get("subscribe"), "/event_bus/subscribe", S);
        if let Some(p) = eb.get("publish") {
            push_str(
                &mut out,
                p.get("success_topic"),
                "/event_bus/publish/success_topic".into(),
                P,
            );
            push_str(
                &mut out,
                p.get("failure_topic"),
                "/event_bus/publish/failure_topic".into(),
                P,
            );
        }
    }
    push_list(&mut out, v.get("subscribe_topics"), "/subscribe_topics", S);
    push_list(&mut out, v.get("publish_topics"), "/publish_topics", P);
    if let Some(ev) = v.get("events") {
        push_list(&mut out, ev.get("subscribes"), "/events/subscribes", S);
        push_list(&mut out, ev.get("emits"), "/events/emits", P);
    }
    for base in ["", "/workflow_coordination"] {
        let node = if base.is_empty() {
            Some(v)
        } else {
            v.pointer(base)
        };
        if let Some(n) = node {
            push_topic_entries(
                &mut out,
                n.get("subscriptions"),
                &ptr(base, "subscriptions"),
                S,
            );
            push_topic_entries(
                &mut out,
                n.get("publications"),
                &ptr(base, "publications"),
                P,
            );
        }
    }
    push_list(
        &mut out,
        v.get("yaml_consumed_events"),
        "/yaml_consumed_events",
        S,
    );
    push_list(
        &mut out,
        v.get("yaml_published_events"),
        "/yaml_published_events",
        P,
    );
    push_topic_entries(&mut out, v.get("consumed_events"), "/consumed_events", S);
    push_topic_entries(&mut out, v.get("published_events"), "/published_events", P);
    if let Some(Value::Array(flow)) = v.get("event_flow") {
        for (i, e) in flow.iter().enumerate() {
            push_str(
                &mut out,
                e.get("topic"),
                format!("/event_flow/{i}/topic"),
                P,
            );
        }
    }
    push_str(
        &mut out,
        v.get("initial_command"),
        "/initial_command".into(),
        S,
    );
    push_str(
        &mut out,
        v.get("terminal_event"),
        "/terminal_event".into(),
        P,
    );
    out
}

/// The canonical 2026 grammar `onex.(cmd|evt|dlq|intent|snapshot).<producer>.<event>.v<N>`.
pub fn is_canonical(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() != 5 || parts[0] != "onex" {
        return false;
    }
    if !matches!(parts[1], "cmd" | "evt" | "dlq" | "intent" | "snapshot") {
        return false;
    }
    let kebab = |s: &str| {
        let mut c = s.chars();
        matches!(c.next(), Some('a'..='z'))
            && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let version = |s: &str| {
        s.strip_prefix('v').is_some_and(|n| {
            let mut c = n.chars();
            matches!(c.next(), Some('1'..='9')) && c.all(|c| c.is_ascii_digit())
        })
    };
    kebab(parts[2]) && kebab(parts[3]) && version(parts[4])
}

const ENV_PREFIXES: &[&str] = &["dev.", "staging.", "prod.", "test.", "local."];

/// ONEX070/071 for every topic, ONEX072 for a non-list `event_bus.subscribe`.
pub fn check(ctx: &mut Ctx) {
    for t in collect(&ctx.doc.value) {
        if let Some(prefix) = ENV_PREFIXES.iter().find(|p| t.topic.starts_with(*p)) {
            ctx.emit(
                "ONEX071",
                &t.pointer,
                format!(
                    "topic `{}` carries the environment prefix `{prefix}`",
                    t.topic
                ),
            );
            if is_canonical(&t.topic[prefix.len()..]) {
                continue;
            }
        }
        if !is_canonical(&t.topic) {
            ctx.emit(
                "ONEX070",
                &t.pointer,
                format!("topic `{}` does not match onex.<cmd|evt|dlq|intent|snapshot>.<producer>.<event>.v<N>", t.topic),
            );
        }
    }
    if let Some(Value::Object(_)) = ctx.get("/event_bus/subscribe") {
        ctx.emit(
            "ONEX072",
            "/event_bus/subscribe",
            "`event_bus.subscribe` is a single mapping, not a list",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical;

    #[test]
    fn grammar() {
        assert!(is_canonical("onex.cmd.core.compliance-scan-requested.v1"));
        assert!(!is_canonical("runtime.ready"));
        assert!(!is_canonical("onex.cmd.billing.invoice_created.v1"));
        assert!(!is_canonical("onex.evt.core.x.v0"));
        assert!(!is_canonical("dev.onex.evt.core.x.v1"));
    }
}
