//! Node generation's event catalogue (`contracts/pipeline_events.yaml`): its 21 event types in
//! order, their topics, and a valid sample of each plus targeted invalid ones against the JSON
//! Schemas (docs/generation.md "Events"). The engine's own events (generic stage events, dead
//! letters) are checked beside them, as a process loads both.

use onex_engine::events::{
    Component, Envelope, EventCatalog, EventRegistry, EventSource, EventStatus, TraceContext,
    ViolationKind,
};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// The catalogue as node generation's contract names it.
fn pipeline() -> Arc<EventCatalog> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/pipeline_events.yaml");
    onex_engine::contract::executable::load_catalog(&path).expect("the shipped catalogue loads")
}

/// The engine's own catalogue and node generation's.
fn registry() -> EventRegistry {
    EventRegistry::with([pipeline()]).expect("the catalogues agree")
}

fn gs() -> Value {
    json!({"gate_id": "G7", "gate_name": "Prompt Completeness Check", "gate_type": "WARNING",
           "status": "pass", "message": "Prompt has enough detail", "error_code": null,
           "started_at": "2025-10-21T10:00:05.234Z", "duration_ms": 0,
           "recovery_suggestions": [], "skip_reason": null, "details": {}})
}

fn parsed() -> Value {
    json!({"prompt": "Create EFFECT node for database writes", "node_type": "EFFECT",
           "type_confidence": 1.0, "node_name": "PostgresWriter",
           "service_name": "postgres_writer", "name_confidence": 0.5,
           "name_source": "system_role", "domain": "infrastructure", "domain_confidence": 0.7,
           "domain_source": "keyword", "description": "Create EFFECT node for database writes",
           "functional_requirements": [], "external_systems": ["PostgreSQL"],
           "confidence_score": 0.78})
}

/// A valid payload for every event type of docs/generation.md §5.3 (only required fields plus a few optional
/// ones, so both kinds are exercised).
fn samples() -> Vec<(&'static str, Value)> {
    vec![
        (
            "PromptSubmitted",
            json!({"prompt_text": "Create EFFECT node", "output_directory": "/tmp/out",
                   "requested_by": "cli", "requested_node_type": "EFFECT", "force": false,
                   "compile": true, "request_metadata": {"user": "x"}}),
        ),
        ("ParsingStarted", json!({"prompt_length": 18})),
        (
            "ParsingCompleted",
            json!({"parsed_data": parsed(), "gates_checked": [gs(), gs()],
                   "parsing_duration_ms": 1}),
        ),
        (
            "ParsingFailed",
            json!({"error_code": "INVALID_PROMPT", "error_message": "Prompt is empty",
                   "suggestions": ["Describe the node in one sentence: type, name, purpose"]}),
        ),
        (
            "PreValidationStarted",
            json!({"gates_planned": ["G1", "G2"]}),
        ),
        (
            "PreValidationCompleted",
            json!({"validation_passed": true, "gates_checked": [gs()],
                   "node_directory": "/tmp/out/node_x_y_effect",
                   "validation_duration_ms": 3, "attempts": 1}),
        ),
        (
            "ValidationFailed",
            json!({"error_code": "OUTPUT_EXISTS", "error_message": "exists",
                   "failed_gate": "G6", "gates_checked": [gs()]}),
        ),
        (
            "GenerationStarted",
            json!({"node_type": "COMPUTE", "node_name": "A", "service_name": "a",
                   "domain": "general", "total_files": 12, "template_pack": "builtin",
                   "staging_dir": "/tmp/out/.onex-staging/x"}),
        ),
        (
            "GenerationProgress",
            json!({"current_file": "node.py", "files_completed": 1, "total_files": 12,
                   "progress_percent": 8}),
        ),
        (
            "GenerationCompleted",
            json!({"generated_files": ["node.manifest.yaml"], "total_files": 12,
                   "total_bytes": 1000, "generation_duration_ms": 2}),
        ),
        (
            "GenerationFailed",
            json!({"error_code": "TEMPLATE_RENDER_ERROR", "error_message": "undefined x",
                   "failed_file": "node.py"}),
        ),
        ("PostValidationStarted", json!({"files_to_check": 12})),
        (
            "PostValidationCompleted",
            json!({"validation_passed": true, "gates_checked": [gs()],
                   "validation_duration_ms": 4}),
        ),
        (
            "WritingStarted",
            json!({"output_directory": "/tmp/out", "node_directory": "/tmp/out/n",
                   "total_files": 12, "replace_existing": false}),
        ),
        (
            "WritingProgress",
            json!({"current_file": "node.py", "files_written": 3, "total_files": 12}),
        ),
        (
            "WritingCompleted",
            json!({"node_directory": "/tmp/out/n", "main_file": "v1_0_0/node.py",
                   "all_files": ["v1_0_0/node.py"], "total_bytes": 10,
                   "writing_duration_ms": 5}),
        ),
        (
            "WritingFailed",
            json!({"error_code": "DISK_FULL", "error_message": "no space",
                   "failed_file": null, "rollback_performed": true}),
        ),
        (
            "CompilationStarted",
            json!({"interpreter": null, "mypy_available": false, "mypy_version": null}),
        ),
        (
            "CompilationCompleted",
            json!({"gates_checked": [gs()], "mypy_status": "skipped",
                   "import_status": "skipped", "mypy_passed": false, "import_passed": false,
                   "skip_reasons": {"G13": "python3 not found"},
                   "compilation_duration_ms": 0}),
        ),
        (
            "PipelineCompleted",
            json!({"node_type": "EFFECT", "node_name": "A", "service_name": "a",
                   "domain": "general", "output_path": "/tmp/out/n",
                   "files_written": ["node.manifest.yaml"], "validation_passed": true,
                   "compilation_passed": false, "compilation_status": "skipped",
                   "warnings": [gs()], "total_duration_seconds": 0.05,
                   "stage_durations": {"parsing": 1, "writing": 7}}),
        ),
        (
            "PipelineFailed",
            json!({"failed_stage": "parsing", "error_code": "INVALID_PROMPT",
                   "error_message": "Prompt is empty", "failed_gate": null,
                   "recovery_suggestions": ["Describe the node"],
                   "rollback_performed": false, "total_duration_seconds": 0.001}),
        ),
        ("StageStarted", json!({"gates_planned": []})),
        (
            "StageCompleted",
            json!({"gates_checked": [], "duration_ms": 5, "outputs": {"k": 1}}),
        ),
        (
            "StageFailed",
            json!({"error_code": "X_FAILED", "error_message": "m", "gates_checked": [gs()]}),
        ),
        (
            "DeadLettered",
            json!({"original_topic": "generation.pipeline.prompt_submitted",
                   "original_key": null, "original_partition": 0,
                   "original_offset_or_id": "42", "error_kind": "decode",
                   "error_message": "not JSON", "attempts": 1,
                   "first_failed_at": "2025-10-21T10:00:05.234Z",
                   "last_failed_at": "2025-10-21T10:00:05.234Z",
                   "original_value": "AAEC"}),
        ),
    ]
}

fn envelope(event_type: &str, stage: &str, status: EventStatus, payload: Value) -> Envelope {
    Envelope {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version: "1.0.0".into(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        seq: 1,
        attempt: 1,
        timestamp: "2025-10-21T10:00:05.234Z".into(),
        stage: stage.into(),
        status,
        source: EventSource {
            component: Component::Cli,
            instance_id: "test".into(),
            version: onex_engine::ENGINE_VERSION.into(),
        },
        trace: TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: None,
        },
        payload,
        workflow: None,
        outcome: None,
    }
}

/// The engine's own event types among the samples.
const SYSTEM: &[&str] = &[
    "StageStarted",
    "StageCompleted",
    "StageFailed",
    "DeadLettered",
];

#[test]
fn the_catalogue_has_node_generations_21_event_types_in_order() {
    let c = pipeline();
    let types: Vec<&str> = c.events().map(|d| d.event_type.as_str()).collect();
    let want: Vec<&str> = samples()
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !SYSTEM.contains(t))
        .collect();
    assert_eq!(types, want);
    assert_eq!(types.len(), 21);
    assert_eq!(c.schema_version(), "1.0.0");
    assert_eq!(c.topic_namespace(), "generation.pipeline");
}

#[test]
fn every_event_type_has_a_topic() {
    let c = pipeline();
    for d in c.events() {
        let t = c.topic("", &d.event_type).expect("topic");
        assert_eq!(t, format!("generation.pipeline.{}", d.suffix));
        assert_eq!(
            c.event_for_topic("", &t).map(|x| x.event_type.as_str()),
            Some(d.event_type.as_str())
        );
    }
    let all = c.all_topics("t1.");
    assert_eq!(all.len(), 21);
    assert!(all.iter().all(|t| t.starts_with("t1.generation.pipeline.")));
    assert!(all.contains(&"t1.generation.pipeline.prompt_submitted".to_string()));
    assert!(all.contains(&"t1.generation.pipeline.completed".to_string()));
    assert!(all.contains(&"t1.generation.pipeline.failed".to_string()));
    assert_eq!(c.topic("", "NoSuchEvent"), None);
}

#[test]
fn dead_letters_and_run_state_live_beside_every_workflow() {
    let r = registry();
    assert_eq!(EventRegistry::dlq_topic(""), "onex.dlq");
    assert_eq!(r.topic("", "DeadLettered").as_deref(), Some("onex.dlq"));
    assert_eq!(EventRegistry::dlq_topic("ci42."), "ci42.onex.dlq");
    assert_eq!(EventRegistry::runs_topic(""), "onex.runs");
    assert!(!r.all_topics("").contains(&EventRegistry::runs_topic("")));
    assert!(!r.run_topics("").contains(&"onex.dlq".to_string()));
}

#[test]
fn a_valid_sample_of_every_type_passes() {
    let c = registry();
    for (t, p) in samples() {
        if let Err(e) = c.validate_payload(t, &p) {
            panic!("{t}: {e}");
        }
    }
}

#[test]
fn missing_required_field_is_named() {
    let c = registry();
    for (t, p) in samples() {
        let def = c.get(t).unwrap();
        let required = def.payload_schema["required"].as_array().unwrap();
        assert!(!required.is_empty(), "{t} has required fields");
        for r in required {
            let r = r.as_str().unwrap();
            let mut p2 = p.clone();
            p2.as_object_mut().unwrap().remove(r);
            let err = c.validate_payload(t, &p2).unwrap_err();
            assert_eq!(err.violations.len(), 1, "{t} without {r}: {err}");
            assert_eq!(err.violations[0].pointer, format!("/{r}"));
            assert!(err.to_string().contains(r), "{err}");
        }
    }
}

#[test]
fn wrong_types_are_all_listed_with_pointers() {
    let c = registry();
    let err = c
        .validate_payload(
            "GenerationProgress",
            &json!({"current_file": 3, "files_completed": "one", "total_files": 12,
                    "progress_percent": 101}),
        )
        .unwrap_err();
    let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(err.violations.len(), 3, "{err}");
    for p in ["/current_file", "/files_completed", "/progress_percent"] {
        assert!(pointers.contains(&p), "{p} in {pointers:?}");
    }
    assert_eq!(err.dead_letter_kind(), "schema");
}

#[test]
fn nested_gate_summary_and_parsed_prompt_are_checked() {
    let c = registry();
    let mut p = samples()[2].1.clone();
    p["gates_checked"][1]["status"] = json!("maybe");
    p["parsed_data"]["node_type"] = json!("SERVICE");
    let err = c.validate_payload("ParsingCompleted", &p).unwrap_err();
    let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/gates_checked/1/status"), "{err}");
    assert!(pointers.contains(&"/parsed_data/node_type"), "{err}");
}

#[test]
fn enumerations_and_bounds() {
    let c = registry();
    let bad = [
        (
            "ParsingFailed",
            json!({"error_code": "OOPS", "error_message": "m"}),
        ),
        (
            "DeadLettered",
            json!({"original_topic": "t", "original_offset_or_id": "1", "error_kind": "other",
                   "error_message": "m", "attempts": 1, "first_failed_at": "x",
                   "last_failed_at": "x", "original_value": ""}),
        ),
        (
            "PipelineFailed",
            json!({"failed_stage": "parsing", "error_code": "E", "error_message": "m",
                   "recovery_suggestions": [], "rollback_performed": false,
                   "total_duration_seconds": 1}),
        ),
        (
            "PromptSubmitted",
            json!({"prompt_text": "p", "output_directory": "relative/dir",
                   "requested_by": "cli"}),
        ),
        (
            "PipelineCompleted",
            json!({"node_type": "EFFECT", "node_name": "A", "service_name": "a",
                   "domain": "d", "output_path": "/o", "files_written": [],
                   "validation_passed": true, "compilation_passed": true,
                   "compilation_status": "passed", "total_duration_seconds": 1,
                   "stage_durations": {"parsing": "fast"}}),
        ),
    ];
    for (t, p) in bad {
        assert!(c.validate_payload(t, &p).is_err(), "{t} must fail: {p}");
    }
}

#[test]
fn real_parsed_prompts_fit_the_parsed_prompt_schema() {
    let c = registry();
    for prompt in [
        "Create EFFECT node for database writes",
        "Create an EFFECT node called DatabaseWriter in the data_services domain.\n- Insert rows\n- Retry",
        "node for data",
        "Create a node",
    ] {
        let parsed = onex_generation::prompt::parse(prompt, None).unwrap();
        let payload = json!({"parsed_data": parsed, "gates_checked": [gs()],
                             "parsing_duration_ms": 0});
        c.validate_payload("ParsingCompleted", &payload)
            .unwrap_or_else(|e| panic!("{prompt}: {e}"));
    }
}

#[test]
fn added_unknown_fields_pass() {
    let c = registry();
    for (t, mut p) in samples() {
        p["x_added_in_1_1"] = json!({"anything": [1, 2, 3]});
        c.validate_payload(t, &p)
            .unwrap_or_else(|e| panic!("{t}: {e}"));
    }
    let mut p = samples()[2].1.clone();
    p["gates_checked"][0]["new_field"] = json!(true);
    p["parsed_data"]["new_field"] = json!(1);
    c.validate_payload("ParsingCompleted", &p).unwrap();
}

#[test]
fn unknown_event_type_is_rejected() {
    let err = registry()
        .validate_payload("ParseBegun", &json!({}))
        .unwrap_err();
    assert_eq!(err.violations[0].kind, ViolationKind::UnknownEventType);
}

#[test]
fn envelopes_check_version_stage_status_and_payload() {
    let c = registry();
    let ok = envelope(
        "ParsingStarted",
        "parsing",
        EventStatus::Started,
        json!({"prompt_length": 3}),
    );
    c.validate_envelope(&ok).unwrap();

    let mut v2 = ok.clone();
    v2.schema_version = "2.0.0".into();
    let err = c.validate_envelope(&v2).unwrap_err();
    assert_eq!(err.dead_letter_kind(), "schema_version");
    let mut minor = ok.clone();
    minor.schema_version = "1.7.0".into();
    c.validate_envelope(&minor).unwrap();

    let mut bad = ok.clone();
    bad.stage = "writing".into();
    bad.status = EventStatus::Completed;
    bad.payload = json!({});
    let err = c.validate_envelope(&bad).unwrap_err();
    let pointers: Vec<&str> = err.violations.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        ["/stage", "/status", "/payload/prompt_length"],
        "{err}"
    );

    // ValidationFailed: either validation stage; the generic rows: any stage but pipeline.
    let vf = samples()[6].1.clone();
    for stage in ["pre_validation", "post_validation"] {
        c.validate_envelope(&envelope(
            "ValidationFailed",
            stage,
            EventStatus::Failed,
            vf.clone(),
        ))
        .unwrap();
    }
    assert!(
        c.validate_envelope(&envelope(
            "ValidationFailed",
            "generation",
            EventStatus::Failed,
            vf
        ))
        .is_err()
    );
    let ss = json!({"gates_planned": []});
    c.validate_envelope(&envelope(
        "StageStarted",
        "lint",
        EventStatus::Started,
        ss.clone(),
    ))
    .unwrap();
    assert!(
        c.validate_envelope(&envelope(
            "StageStarted",
            "pipeline",
            EventStatus::Started,
            ss
        ))
        .is_err()
    );
    let pc = samples()[19].1.clone();
    c.validate_envelope(&envelope(
        "PipelineCompleted",
        "pipeline",
        EventStatus::Completed,
        pc,
    ))
    .unwrap();
}
