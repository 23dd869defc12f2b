//! The three YAML files of a node (docs/generation.md §4.3 contract.yaml, §4.4 node.manifest.yaml, §4.5
//! version.manifest.yaml) as data trees with a fixed key order, written by serde-saphyr. They are
//! never templated, so no prompt text can change their structure: the serializer quotes and
//! escapes every string.

use serde_json::{Value, json};

use crate::codegen::context::NodeContext;
use crate::prompt::NodeType;

/// Run-dependent values written into the YAML files (docs/generation.md §4.6).
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    pub correlation_id: uuid::Uuid,
    /// RFC 3339 UTC with milliseconds (`2025-10-21T10:00:05.234Z`).
    pub started_at: String,
    /// `YYYY-MM-DD` (UTC) of the run start.
    pub release_date: String,
    pub engine_version: &'a str,
}

/// Name written as the generating tool (`generated_by.tool`).
pub const GENERATOR_TOOL: &str = "onex";

fn semver_1_0_0() -> Value {
    json!({"major": 1, "minor": 0, "patch": 0})
}

fn generated_by(run: &RunInfo<'_>) -> Value {
    json!({
        "tool": GENERATOR_TOOL,
        "version": semver_value(run.engine_version),
        "correlation_id": run.correlation_id.to_string(),
    })
}

/// A version string as the `{major, minor, patch[, prerelease, build]}` mapping ONEX uses
/// (a `version` inside `metadata` is semver-typed, docs/dialects.md §3: a string would be ONEX012).
/// Text that is not `X.Y.Z[-pre][+build]` stays a string.
pub fn semver_value(v: &str) -> Value {
    let (core, build) = v.split_once('+').map_or((v, None), |(c, b)| (c, Some(b)));
    let (core, pre) = core
        .split_once('-')
        .map_or((core, None), |(c, p)| (c, Some(p)));
    let nums: Vec<Option<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
    let [Some(major), Some(minor), Some(patch)] = nums[..] else {
        return json!(v);
    };
    let ids = |s: &str| -> Value {
        Value::Array(
            s.split('.')
                .map(|id| id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n)))
                .collect(),
        )
    };
    let mut m = serde_json::Map::new();
    m.insert("major".into(), json!(major));
    m.insert("minor".into(), json!(minor));
    m.insert("patch".into(), json!(patch));
    if let Some(p) = pre.filter(|p| !p.is_empty()) {
        m.insert("prerelease".into(), ids(p));
    }
    if let Some(b) = build.filter(|b| !b.is_empty()) {
        m.insert("build".into(), ids(b));
    }
    Value::Object(m)
}

/// `{name, module}` of a model, the module dotted from the node directory's parent.
fn model_ref(ctx: &NodeContext<'_>, class: &str, file: &str) -> Value {
    let stem = file.strip_suffix(".py").unwrap_or(file);
    json!({"name": class, "module": format!("{}.v1_0_0.models.{stem}", ctx.names.node_dir)})
}

/// One dependency entry per external system (contract and node manifest).
fn dependencies(ctx: &NodeContext<'_>) -> Value {
    Value::Array(
        ctx.systems
            .iter()
            .map(|s| {
                json!({
                    "name": s.short,
                    "type": "external_service",
                    "class_name": s.class_name,
                    "module": format!("omnibase_spi.protocols.protocol_{}", s.short),
                })
            })
            .collect(),
    )
}

fn business_logic_pattern(t: NodeType) -> &'static str {
    // The enum ONEX091 accepts for business_logic_pattern.
    match t {
        NodeType::Effect => "stateful",
        NodeType::Compute => "stateless",
        NodeType::Reducer => "aggregation",
        NodeType::Orchestrator => "coordination",
    }
}

fn performance(t: NodeType) -> Value {
    match t {
        NodeType::Effect => json!({"max_response_time_ms": 500}),
        NodeType::Compute => json!({"single_operation_max_ms": 2000}),
        NodeType::Reducer => {
            json!({"aggregation_window_ms": 1000, "max_aggregation_delay_ms": 5000})
        }
        NodeType::Orchestrator => {
            json!({"workflow_timeout_ms": 30000, "coordination_overhead_ms": 100})
        }
    }
}

fn primary_events(svc: &str, t: NodeType) -> Value {
    let (a, b) = match t {
        NodeType::Effect => ("created", "updated"),
        NodeType::Compute => ("computed", "validated"),
        NodeType::Reducer => ("aggregated", "reduced"),
        NodeType::Orchestrator => ("workflow_started", "workflow_completed"),
    };
    json!([format!("{svc}_{a}"), format!("{svc}_{b}")])
}

/// The actions of docs/generation.md §4.3 with a description: the requirement text for requirement actions.
fn actions(ctx: &NodeContext<'_>) -> Value {
    let reqs = &ctx.parsed.functional_requirements;
    Value::Array(
        ctx.actions
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let description = if let Some(r) = reqs.get(i) {
                    r.clone()
                } else if name == "health_check" {
                    "Report liveness and operation counters".to_string()
                } else {
                    "Run the node's main operation".to_string()
                };
                json!({"name": name, "description": description})
            })
            .collect(),
    )
}

/// `v1_0_0/contract.yaml` (docs/generation.md §4.3): legacy tool dialect (A) without a top-level `version`.
pub fn contract(ctx: &NodeContext<'_>, run: &RunInfo<'_>) -> Value {
    let t = ctx.node_type;
    let n = &ctx.names;
    let p = ctx.parsed;
    let mut c = serde_json::Map::new();
    c.insert("contract_version".into(), semver_1_0_0());
    c.insert("node_version".into(), semver_1_0_0());
    c.insert("name".into(), json!(n.contract_node_name));
    c.insert("node_name".into(), json!(n.contract_node_name));
    c.insert("contract_name".into(), json!(n.contract_name));
    c.insert("description".into(), json!(p.description));
    c.insert("node_type".into(), json!(t.as_upper()));
    c.insert(
        "input_model".into(),
        model_ref(ctx, &n.input_model, &n.input_model_file),
    );
    c.insert(
        "output_model".into(),
        model_ref(ctx, &n.output_model, &n.output_model_file),
    );
    if t == NodeType::Compute {
        c.insert(
            "algorithm".into(),
            json!({
                "algorithm_type": format!("{}_computation", p.service_name),
                "factors": {
                    "primary_computation": 0.6,
                    "secondary_computation": 0.3,
                    "validation": 0.1,
                },
            }),
        );
    }
    c.insert(
        "tool_specification".into(),
        json!({
            "tool_name": n.node_dir,
            "version": semver_1_0_0(),
            "description": p.description,
            "main_tool_class": n.node_class,
            "container_injection": "ONEXContainer",
            "business_logic_pattern": business_logic_pattern(t),
        }),
    );
    c.insert(
        "metadata".into(),
        json!({
            "tier": 3,
            "category": p.domain,
            "architectural_pattern": format!("node_{}", t.as_lower()),
            "generated_by": generated_by(run),
        }),
    );
    c.insert(
        "service_configuration".into(),
        json!({
            "is_persistent_service": matches!(t, NodeType::Reducer | NodeType::Orchestrator),
            "requires_external_dependencies": !ctx.systems.is_empty(),
        }),
    );
    c.insert(
        "input_state".into(),
        json!({"object_type": "object", "required": ["operation_type"], "optional": ["parameters", "metadata"]}),
    );
    c.insert(
        "output_state".into(),
        json!({"object_type": "object", "required": ["success", "result_data"], "optional": ["error_message"]}),
    );
    c.insert("actions".into(), actions(ctx));
    c.insert("dependencies".into(), dependencies(ctx));
    c.insert("performance".into(), performance(t));
    let mut events = serde_json::Map::new();
    events.insert("primary_events".into(), primary_events(&p.service_name, t));
    events.insert(
        "event_categories".into(),
        json!([p.domain, t.as_lower(), "generated"]),
    );
    if t != NodeType::Compute {
        events.insert("publish_events".into(), json!(true));
    }
    if t == NodeType::Orchestrator {
        events.insert("subscribe_events".into(), json!(true));
    }
    events.insert("event_routing".into(), json!(p.domain));
    c.insert("event_type".into(), Value::Object(events));
    c.insert(
        "validation_rules".into(),
        json!({
            "strict_typing_enabled": true,
            "input_validation_enabled": true,
            "output_validation_enabled": true,
            "required_input_fields": ["operation_type"],
            "required_output_fields": ["success", "result_data"],
        }),
    );
    c.insert(
        "definitions".into(),
        json!({"models": {}, "schemas": {}, "responses": {}}),
    );
    Value::Object(c)
}

/// `v1_0_0/version.manifest.yaml` (docs/generation.md §4.5).
pub fn version_manifest(ctx: &NodeContext<'_>, run: &RunInfo<'_>) -> Value {
    let n = &ctx.names;
    json!({
        "version": semver_1_0_0(),
        "status": "active",
        "release_date": run.release_date,
        "security_profile": "SP0_BOOTSTRAP",
        "implementation": {
            "contract_file": "contract.yaml",
            "main_implementation": "node.py",
            "module_init": "__init__.py",
            "model_files": [
                format!("models/{}", n.input_model_file),
                format!("models/{}", n.output_model_file),
                format!("models/{}", n.config_model_file),
                format!("models/{}", n.contract_model_file),
            ],
            "enum_files": [format!("enums/{}", n.operation_enum_file)],
            "contract_files": ["contract.yaml"],
        },
        "validation": {
            "contract_compliance": {
                "required_fields": ["contract_version", "node_name", "node_type", "input_model", "output_model"],
            },
        },
        "deployment": {
            "python": ">=3.12",
            "event_bus_required": ctx.node_type != NodeType::Compute,
        },
        "api_surface": {
            "primary_entry_point": "process",
            "main_class": n.node_class,
            "model_contracts": [n.input_model, n.output_model, n.config_model, n.contract_model],
        },
    })
}

/// `node.manifest.yaml` (docs/generation.md §4.4). `hash` is [`crate::codegen::render::node_hash`] of the other 11
/// files.
pub fn node_manifest(ctx: &NodeContext<'_>, run: &RunInfo<'_>, hash: &str) -> Value {
    let t = ctx.node_type;
    let n = &ctx.names;
    let p = ctx.parsed;
    let uuid = node_uuid(run.correlation_id, &n.node_dir);
    let mut capabilities: Vec<Value> = ctx.actions.iter().map(|a| json!(a)).collect();
    capabilities.push(json!(match t {
        NodeType::Effect => "external_io",
        NodeType::Compute => "pure_computation",
        NodeType::Reducer => "state_aggregation",
        NodeType::Orchestrator => "workflow_coordination",
    }));
    let mut protocols = vec![json!(format!("ProtocolNode{}", t.as_capitalised()))];
    if t != NodeType::Compute {
        protocols.push(json!("ProtocolEventBus"));
    }
    if t == NodeType::Orchestrator {
        protocols.push(json!("ProtocolWorkflow"));
    }
    let mut tags = vec![json!(p.domain), json!(t.as_lower()), json!("generated")];
    tags.extend(ctx.systems.iter().map(|s| json!(s.short)));
    let svc_t = format!("{}_{}", p.service_name, t.as_lower());
    json!({
        "schema_version": semver_1_0_0(),
        "name": n.node_dir,
        "uuid": uuid.to_string(),
        "author": "onex generate",
        "created_at": run.started_at,
        "last_modified_at": run.started_at,
        "description": p.description,
        "state_contract": format!("state_contract://{svc_t}_schema.json"),
        "lifecycle": "active",
        "hash": hash,
        "entrypoint": {"type": "python", "target": "v1_0_0/node.py"},
        "namespace": n.namespace,
        "meta_type": "node",
        "runtime_language_hint": "python>=3.12",
        "capabilities": capabilities,
        "protocols_supported": protocols,
        "dependencies": dependencies(ctx),
        "x_extensions": {
            "version_management": {
                "current_stable": semver_1_0_0(),
                "v1_0_0": {
                    "status": "active",
                    "contract": "v1_0_0/contract.yaml",
                    "manifest": "v1_0_0/version.manifest.yaml",
                    "entrypoint": "v1_0_0/node.py",
                },
                "discovery": {
                    "version_directory_pattern": "v{major}_{minor}_{patch}",
                    "main_class_name": n.node_class,
                },
            },
            "generated_by": generated_by(run),
        },
        "testing": {
            "test_ids": [
                format!("test_{svc_t}_basic"),
                format!("test_{svc_t}_error_handling"),
                format!("test_{svc_t}_performance"),
            ],
        },
        "tags": tags,
    })
}

/// `uuid` of node.manifest.yaml: UUIDv5(URL namespace, `onex:{correlation_id}:{node dir}`).
pub fn node_uuid(correlation_id: uuid::Uuid, node_dir: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("onex:{correlation_id}:{node_dir}").as_bytes(),
    )
}

/// Serializes a data tree as YAML. Block scalars are off: every string is a plain or quoted
/// scalar, which the property tests show round-trips byte for byte.
pub fn to_yaml(value: &Value) -> Result<String, String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_values() {
        assert_eq!(
            semver_value("0.1.0"),
            json!({"major": 0, "minor": 1, "patch": 0})
        );
        assert_eq!(
            semver_value("1.2.3-rc.1+b7"),
            json!({"major": 1, "minor": 2, "patch": 3, "prerelease": ["rc", 1], "build": ["b7"]})
        );
        assert_eq!(semver_value("dev"), json!("dev"));
        assert_eq!(semver_value("1.2"), json!("1.2"));
    }
}
