//! Envelope and identity rules for every contract-like file (docs/dialects.md §3, §5, §6 first half):
//! versions (ONEX011/012/016), node_type (ONEX013/014/017), top-level `version` (ONEX015),
//! name (ONEX020), models (ONEX021/022), fingerprint (ONEX023).

use serde_json::Value;

use super::{Ctx, idx, ptr, show};
use crate::contract::ir::{
    Kind, NormalizedNodeType, SemVerParse, normalize_node_type, parse_semver,
};

/// Keys that hold a semantic version wherever they appear in a contract.
const SEMVER_KEYS: &[&str] = &[
    "contract_version",
    "node_version",
    "workflow_version",
    "state_machine_version",
    "subcontract_version",
];
/// Top-level blocks inside which a plain `version` key is a semantic version ("subcontract blocks").
const SUBCONTRACT_BLOCKS: &[&str] = &[
    "workflow_coordination",
    "state_machine",
    "state_transitions",
    "effect_operations",
    "effect",
    "compute",
    "handler_routing",
    "handlers",
    "metadata",
    "tool_specification",
];

/// Checks one semver-typed value at `pointer`.
pub fn semver_value(ctx: &mut Ctx, pointer: &str, key: &str) {
    let Some(v) = ctx.get(pointer).cloned() else {
        return;
    };
    match parse_semver(&v) {
        SemVerParse::Struct(_, empty) => {
            for e in empty {
                ctx.emit(
                    "ONEX016",
                    &ptr(pointer, e),
                    format!("`{key}.{e}` is an empty string (write a list, a non-empty string, or drop it)"),
                );
            }
        }
        SemVerParse::FromString(sv) => ctx.emit_help(
            "ONEX012",
            pointer,
            format!(
                "`{key}` is written as a string; read as {{major: {}, minor: {}, patch: {}}}",
                sv.major, sv.minor, sv.patch
            ),
            format!(
                "write `{key}: {{major: {}, minor: {}, patch: {}}}`",
                sv.major, sv.minor, sv.patch
            ),
        ),
        SemVerParse::Lax(_, why) => ctx.emit(
            "ONEX019",
            pointer,
            format!("`{key}` is read leniently: {why}"),
        ),
        SemVerParse::Invalid(why) => ctx.emit(
            "ONEX011",
            pointer,
            format!("`{key}` is not a valid version: {why}"),
        ),
    }
}

/// Walks the document and checks every semver-typed key (ONEX011/012/016/019). The `onex:` block
/// of dialect X is the engine's and is not walked. `skip_contract_version`: the top-level
/// `contract_version` is checked by the dialect's own rule (handler contracts, ONEX038).
pub fn semver_keys(ctx: &mut Ctx, skip_contract_version: bool) {
    let Some(Value::Object(root)) = ctx.get("").cloned() else {
        return;
    };
    for (k, v) in &root {
        let p = ptr("", k);
        if SEMVER_KEYS.contains(&k.as_str()) && !(skip_contract_version && k == "contract_version")
        {
            semver_value(ctx, &p, k);
        }
        if k == "onex" {
            continue;
        }
        let in_block = SUBCONTRACT_BLOCKS.contains(&k.as_str());
        walk(ctx, v, &p, in_block, 0);
    }
}

fn walk(ctx: &mut Ctx, v: &Value, pointer: &str, in_block: bool, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = ptr(pointer, k);
                if SEMVER_KEYS.contains(&k.as_str()) || (in_block && k == "version") {
                    semver_value(ctx, &p, k);
                } else {
                    walk(ctx, child, &p, in_block, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(ctx, child, &idx(pointer, i), in_block, depth + 1);
            }
        }
        _ => {}
    }
}

/// ONEX013/014/017: the top-level node_type. Returns the normalised type when valid.
pub fn node_type(ctx: &mut Ctx, required: bool) -> Option<NormalizedNodeType> {
    match ctx.get("/node_type").cloned() {
        None | Some(Value::Null) => {
            if required {
                ctx.emit("ONEX013", "", "`node_type` is missing");
            }
            None
        }
        Some(Value::String(s)) => match normalize_node_type(&s) {
            Some(n) => {
                if n.kind == Kind::None {
                    ctx.emit(
                        "ONEX017",
                        "/node_type",
                        format!("`node_type: {s}` has no kind; the engine cannot run it"),
                    );
                }
                Some(n)
            }
            None => {
                ctx.emit(
                    "ONEX014",
                    "/node_type",
                    format!("`node_type: {s}` is not a known node type"),
                );
                None
            }
        },
        Some(other) => {
            ctx.emit(
                "ONEX014",
                "/node_type",
                format!("`node_type` must be a string, not {}", show(&other)),
            );
            None
        }
    }
}

/// ONEX018: `description` is a string (or null), as ONEX's contract models declare it.
pub fn description_type(ctx: &mut Ctx) {
    match ctx.get("/description") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(other) => {
            let shown = show(other);
            ctx.emit(
                "ONEX018",
                "/description",
                format!("`description` must be a string, not {shown}"),
            );
        }
    }
}

/// ONEX015: top-level `version` key.
pub fn top_level_version(ctx: &mut Ctx) {
    if ctx.get("/version").is_some() {
        ctx.emit_key(
            "ONEX015",
            "/version",
            "top-level `version` key (renamed `contract_version`; use `node_version` for the node's own version)",
        );
    }
}

fn is_pascal(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_uppercase())
        && s.len() >= 2
        && c.all(|c| c.is_ascii_alphanumeric())
}

fn is_snake(s: &str) -> bool {
    let mut first = true;
    let mut prev_us = false;
    for c in s.chars() {
        if first {
            if !c.is_ascii_lowercase() {
                return false;
            }
            first = false;
            continue;
        }
        if c == '_' {
            if prev_us {
                return false;
            }
            prev_us = true;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_us = false;
        } else {
            return false;
        }
    }
    !first && !prev_us
}

/// ONEX020: `name` is PascalCase or snake_case.
pub fn name_style(ctx: &mut Ctx) {
    if let Some(Value::String(n)) = ctx.get("/name").cloned()
        && !is_pascal(&n)
        && !is_snake(&n)
    {
        ctx.emit(
            "ONEX020",
            "/name",
            format!("`name: {n}` is neither PascalCase nor snake_case"),
        );
    }
}

/// ONEX021: the class segment of input/output models starts with `Model`.
pub fn model_prefix(ctx: &mut Ctx) {
    for key in ["input_model", "output_model"] {
        let p = ptr("", key);
        let class = match ctx.get(&p) {
            Some(Value::String(s)) => s.rsplit('.').next().map(str::to_string),
            Some(Value::Object(m)) => m.get("name").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(c) = class
            && !c.starts_with("Model")
        {
            ctx.emit(
                "ONEX021",
                &p,
                format!("`{key}` class `{c}` does not start with `Model`"),
            );
        }
    }
}

/// ONEX022: an orchestrator declares no output model.
pub fn orchestrator_output(ctx: &mut Ctx, nt: Option<&NormalizedNodeType>) {
    if nt.is_some_and(|n| n.kind == Kind::Orchestrator) && ctx.get("/output_model").is_some() {
        ctx.emit_key(
            "ONEX022",
            "/output_model",
            "an orchestrator declares `output_model`; orchestrators emit events/intents only",
        );
    }
}

/// ONEX023: `fingerprint` format.
pub fn fingerprint(ctx: &mut Ctx) {
    let Some(v) = ctx.get("/fingerprint").cloned() else {
        return;
    };
    let ok = v.as_str().is_some_and(|s| {
        let Some((ver, hash)) = s.split_once(':') else {
            return false;
        };
        let parts: Vec<&str> = ver.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && hash.len() == 12
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !ok {
        ctx.emit(
            "ONEX023",
            "/fingerprint",
            format!("fingerprint {} is not `<semver>:<12 hex digits>`", show(&v)),
        );
    }
}

/// Keys the dialects of docs/dialects.md §2 use at the top level (ONEX025 looks for misspellings of these).
const KNOWN_TOP: &[&str] = &[
    "contract_version",
    "node_version",
    "node_type",
    "name",
    "description",
    "metadata",
    "inputs",
    "outputs",
    "configuration",
    "handler_id",
    "descriptor",
    "input_model",
    "output_model",
    "capability_inputs",
    "capability_outputs",
    "execution_constraints",
    "supports_lifecycle",
    "supports_health_check",
    "supports_provisioning",
    "tags",
    "fingerprint",
    "workflow_coordination",
    "state_machine",
    "state_transitions",
    "effect_operations",
    "effect",
    "compute",
    "handler_routing",
    "handlers",
    "event_bus",
    "node_id",
    "node_name",
    "contract_name",
    "tool_specification",
    "main_tool_class",
    "version",
    "input_state",
    "output_state",
    "event_type",
    "workflow_id",
    "initial_command",
    "terminal_event",
    "nodes",
    "event_flow",
    "io_operations",
    "subscribe_topics",
    "publish_topics",
    "events",
    "subscriptions",
    "publications",
    "dependencies",
    "onex",
    "author",
    "lifecycle",
];

/// Blocks whose keys ONEX025 knows, beside the top level.
const KNOWN_BLOCKS: &[(&str, &[&str])] = &[
    (
        "/workflow_coordination/workflow_definition",
        &["workflow_metadata", "execution_graph", "coordination_rules"],
    ),
    (
        "/workflow_coordination/workflow_definition/workflow_metadata",
        &[
            "workflow_name",
            "workflow_version",
            "execution_mode",
            "timeout_ms",
            "description",
        ],
    ),
    (
        "/descriptor",
        &[
            "node_archetype",
            "purity",
            "idempotent",
            "timeout_ms",
            "retry_policy",
            "circuit_breaker",
            "concurrency_policy",
            "isolation_policy",
            "observability_level",
            "runtime_profiles",
        ],
    ),
];

/// ONEX025: an unknown key that is one or two edits away from a known one is most likely a typo
/// (`descriptoin`, `exection_mode`). Unknown keys are allowed (docs/dialects.md §1), so this is info, an
/// error with `--strict`.
pub fn key_typos(ctx: &mut Ctx) {
    // In an executable contract (dialect X) the schema constrains the top level itself.
    let top: &[&str] = if ctx.get("/onex").is_some() {
        &[]
    } else {
        KNOWN_TOP
    };
    let blocks = std::iter::once(("", top)).chain(KNOWN_BLOCKS.iter().copied());
    for (base, known) in blocks {
        let Some(Value::Object(m)) = ctx.get(base).cloned() else {
            continue;
        };
        for key in m.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let close = crate::diag::did_you_mean(key, known.iter().copied())
                .filter(|k| strsim::damerau_levenshtein(key, k) <= 2);
            if let Some(k) = close {
                ctx.emit_key_help(
                    "ONEX025",
                    &ptr(base, key),
                    format!("unknown key `{key}` (a misspelt `{k}`?)"),
                    format!("did you mean `{k}`?"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_styles() {
        assert!(is_snake("compliance_orchestrator"));
        assert!(is_snake("a1_b2"));
        assert!(!is_snake("a__b"));
        assert!(!is_snake("a_"));
        assert!(!is_snake("contract.verify.replay"));
        assert!(is_pascal("NodeFoo"));
        assert!(!is_pascal("N"));
        assert!(!is_pascal("Node_Foo"));
    }
}
