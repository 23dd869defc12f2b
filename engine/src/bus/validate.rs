//! Envelope checks shared by every back end: topic names, decoding and validation of consumed
//! bytes against the event catalogues, and the DeadLettered envelope (the engine's own
//! catalogue) built when a message cannot be handled.

use std::fmt;

use base64::Engine as _;
use serde_json::json;
use uuid::Uuid;

use super::{RawMessage, Role};
use crate::events::{
    Component, Envelope, EventRegistry, EventSource, EventStatus, SCHEMA_VERSION, TraceContext,
};

/// Why a consumed message cannot be handled (`error_kind` of DeadLettered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Decode(String),
    SchemaVersion(String),
    Schema(String),
    Handler(String),
}

impl Failure {
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Decode(_) => "decode",
            Failure::SchemaVersion(_) => "schema_version",
            Failure::Schema(_) => "schema",
            Failure::Handler(_) => "handler",
        }
    }
    pub fn message(&self) -> &str {
        match self {
            Failure::Decode(m)
            | Failure::SchemaVersion(m)
            | Failure::Schema(m)
            | Failure::Handler(m) => m,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

/// `<prefix><namespace>.<suffix>` of a catalogued event type.
pub(crate) fn topic(events: &EventRegistry, prefix: &str, event_type: &str) -> Option<String> {
    events.topic(prefix, event_type)
}

pub(crate) fn all_topics(events: &EventRegistry, prefix: &str) -> Vec<String> {
    events.all_topics(prefix)
}

pub(crate) fn dlq_topic(prefix: &str) -> String {
    EventRegistry::dlq_topic(prefix)
}

pub(crate) fn runs_topic(prefix: &str) -> String {
    EventRegistry::runs_topic(prefix)
}

/// Check an envelope against the catalogues: schema major, event type, stage, status, payload.
pub(crate) fn check(events: &EventRegistry, env: &Envelope) -> Result<(), Failure> {
    events
        .validate_envelope(env)
        .map_err(|e| match e.dead_letter_kind() {
            "schema_version" => Failure::SchemaVersion(e.to_string()),
            _ => Failure::Schema(e.to_string()),
        })
}

/// Decode bytes into an envelope and check it.
pub(crate) fn decode(events: &EventRegistry, value: &[u8]) -> Result<Envelope, Failure> {
    let text =
        std::str::from_utf8(value).map_err(|e| Failure::Decode(format!("not UTF-8: {e}")))?;
    // Check the major version before the full decode so a future major with a different
    // shape is reported as schema_version, not as a decode error.
    let raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Failure::Decode(format!("not JSON: {e}")))?;
    if let Some(v) = raw.get("schema_version").and_then(|v| v.as_str()) {
        let major = v.split('.').next().unwrap_or("");
        if major != SCHEMA_VERSION.split('.').next().unwrap_or("1") {
            return Err(Failure::SchemaVersion(format!(
                "schema_version {v}: unknown major version"
            )));
        }
    }
    let env: Envelope = serde_json::from_value(raw)
        .map_err(|e| Failure::Decode(format!("not an event envelope: {e}")))?;
    check(events, &env)?;
    Ok(env)
}

/// Times and count of a message's failed deliveries.
pub(crate) struct FailureRecord<'a> {
    pub failure: &'a Failure,
    pub attempts: u32,
    pub first_failed_at: String,
    pub last_failed_at: String,
}

/// Build the DeadLettered envelope for `msg` (seq 0, not part of a run's sequence).
/// `original_value` is cut so the dead letter itself fits `max_bytes`.
pub(crate) fn dead_letter(
    msg: &RawMessage,
    rec: &FailureRecord<'_>,
    role: Role,
    instance_id: &str,
    max_bytes: usize,
) -> Envelope {
    // The original's identity when it decodes as an envelope at all (even if invalid).
    let original: Option<serde_json::Value> = serde_json::from_slice(&msg.value).ok();
    let field_uuid = |name: &str| {
        original
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let correlation_id = field_uuid("correlation_id")
        .or_else(|| msg.key.as_deref().and_then(|k| Uuid::parse_str(k).ok()))
        .unwrap_or_else(Uuid::now_v7);
    let causation_id = field_uuid("event_id");
    let trace = original
        .as_ref()
        .and_then(|o| o.get("trace"))
        .and_then(|t| serde_json::from_value::<TraceContext>(t.clone()).ok())
        .unwrap_or_else(new_trace);
    let (mut original_value, encoding) = match std::str::from_utf8(&msg.value) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&msg.value),
            Some("base64"),
        ),
    };
    // Leave room for the rest of the envelope (well under 4 KiB).
    let room = max_bytes.saturating_sub(4096 + rec.failure.message().len());
    let mut truncated = false;
    if original_value.len() > room {
        let mut cut = room;
        while cut > 0 && !original_value.is_char_boundary(cut) {
            cut -= 1;
        }
        original_value.truncate(cut);
        truncated = true;
    }
    let mut payload = json!({
        "original_topic": msg.position.topic,
        "original_key": msg.key,
        "original_partition": msg.position.partition,
        "original_offset_or_id": msg.position.offset.to_string(),
        "error_kind": rec.failure.kind(),
        "error_message": rec.failure.message(),
        "attempts": rec.attempts,
        "first_failed_at": rec.first_failed_at,
        "last_failed_at": rec.last_failed_at,
        "original_value": original_value,
    });
    if let Some(enc) = encoding {
        payload["original_value_encoding"] = json!(enc);
    }
    if truncated {
        payload["original_value_truncated"] = json!(true);
    }
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: "DeadLettered".into(),
        schema_version: SCHEMA_VERSION.into(),
        correlation_id,
        causation_id,
        seq: 0,
        attempt: 1,
        timestamp: Envelope::now_timestamp(),
        stage: "pipeline".into(),
        status: EventStatus::Failed,
        source: EventSource {
            component: match role {
                Role::Cli => Component::Cli,
                Role::Service => Component::Orchestrator,
            },
            instance_id: instance_id.to_string(),
            version: crate::ENGINE_VERSION.to_string(),
        },
        trace,
        payload,
        workflow: None,
        outcome: None,
    }
}

/// A fresh W3C traceparent (sampled), for dead letters of messages that carried none.
pub(crate) fn new_trace() -> TraceContext {
    let trace_id = Uuid::new_v4().simple().to_string();
    let span_id = &Uuid::new_v4().simple().to_string()[..16];
    TraceContext {
        traceparent: format!("00-{trace_id}-{span_id}-01"),
        tracestate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{Offset, Position};

    fn raw(value: &[u8], key: Option<&str>) -> RawMessage {
        RawMessage {
            position: Position {
                topic: "p.generation.pipeline.prompt_submitted".into(),
                partition: 3,
                offset: Offset::Index(42),
            },
            key: key.map(str::to_string),
            value: value.to_vec(),
            deliveries: 1,
        }
    }

    fn letter(msg: &RawMessage, failure: &Failure, max: usize) -> Envelope {
        let rec = FailureRecord {
            failure,
            attempts: 1,
            first_failed_at: Envelope::now_timestamp(),
            last_failed_at: Envelope::now_timestamp(),
        };
        dead_letter(msg, &rec, Role::Service, "t", max)
    }

    #[test]
    fn dead_letters_pass_the_catalogue() {
        let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
            (b"\xff\xfe\x00binary".to_vec(), None),
            (b"{\"not\": \"an envelope\"}".to_vec(), Some("not-a-uuid")),
            (b"[]".to_vec(), Some("01a2202a-7507-75d2-91d1-e990550d18e4")),
            (Vec::new(), None),
        ];
        for (value, key) in cases {
            let msg = raw(&value, key);
            let failure = decode(&EventRegistry::new(), &value).expect_err("not decodable");
            assert_eq!(failure.kind(), "decode");
            let env = letter(&msg, &failure, 1 << 20);
            check(&EventRegistry::new(), &env)
                .unwrap_or_else(|e| panic!("dead letter invalid: {e}"));
            assert_eq!(env.seq, 0);
            assert_eq!(env.payload["original_offset_or_id"], "42");
            assert_eq!(env.payload["original_partition"], 3);
            if key == Some("01a2202a-7507-75d2-91d1-e990550d18e4") {
                assert_eq!(env.correlation_id.to_string(), key.unwrap_or_default());
            }
        }
    }

    #[test]
    fn binary_values_are_base64_and_big_ones_cut_to_fit() {
        let msg = raw(b"\xff\x00\x01", None);
        let env = letter(&msg, &Failure::Decode("x".into()), 1 << 20);
        assert_eq!(env.payload["original_value"], "/wAB");
        assert_eq!(env.payload["original_value_encoding"], "base64");
        let big = "é".repeat(600_000); // 1.2 MB of UTF-8, 2-byte chars
        let msg = raw(big.as_bytes(), None);
        let env = letter(&msg, &Failure::Schema("bad".into()), 1 << 20);
        let size = serde_json::to_vec(&env)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        assert!(
            size <= 1 << 20,
            "dead letter of {size} bytes exceeds the limit"
        );
        assert_eq!(env.payload["original_value_truncated"], true);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes() {
        // A cheap deterministic generator: varied bytes, JSON-ish fragments.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let pieces: [&[u8]; 8] = [
            b"{",
            b"}",
            b"\"schema_version\":",
            b"\"2.0.0\"",
            b"\"payload\":",
            b"[",
            b"]",
            b"\xff",
        ];
        for _ in 0..2000 {
            let mut v = Vec::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(pieces[(x % 8) as usize]);
                v.push((x >> 8) as u8);
            }
            let _ = decode(&EventRegistry::new(), &v);
        }
    }

    #[test]
    fn schema_version_major_is_told_apart() {
        let mut v: serde_json::Value =
            serde_json::json!({"schema_version": "2.1.0", "event_type": "PromptSubmitted"});
        assert_eq!(
            decode(&EventRegistry::new(), v.to_string().as_bytes())
                .map(|_| ())
                .unwrap_err()
                .kind(),
            "schema_version"
        );
        v["schema_version"] = "1.9.0".into();
        assert_eq!(
            decode(&EventRegistry::new(), v.to_string().as_bytes())
                .map(|_| ())
                .unwrap_err()
                .kind(),
            "decode"
        );
    }
}
