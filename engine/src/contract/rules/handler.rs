//! Handler and descriptor rules (docs/dialects.md §6): handler_id prefix vs archetype (ONEX032), descriptor
//! enums, compared case-insensitively (ONEX034), archetype vs node_type kind (ONEX035).
//! Presence, handler_id shape, archetype vocabulary, runtime profiles and the dialect A tool
//! specification are schema constraints (schemas/onex-dialect-*.schema.json).

use serde_json::Value;

use super::{Ctx, ptr};
use crate::contract::ir::{Kind, NormalizedNodeType};

/// ONEX032: a kind prefix of `handler_id` equals `descriptor.node_archetype`.
pub fn handler_prefix(ctx: &mut Ctx) {
    let (Some(Value::String(id)), Some(Value::String(arch))) = (
        ctx.get("/handler_id").cloned(),
        ctx.get("/descriptor/node_archetype").cloned(),
    ) else {
        return;
    };
    let prefix = id
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if matches!(
        prefix.as_str(),
        "compute" | "effect" | "reducer" | "orchestrator"
    ) && !prefix.eq_ignore_ascii_case(arch.trim())
    {
        ctx.emit(
            "ONEX032",
            "/handler_id",
            format!("handler_id `{id}` says `{prefix}` but descriptor.node_archetype is `{arch}`"),
        );
    }
}

const DESCRIPTOR_ENUMS: &[(&str, &[&str])] = &[
    ("purity", &["pure", "side_effecting"]),
    (
        "concurrency_policy",
        &["parallel_ok", "serialized", "singleflight"],
    ),
    ("isolation_policy", &["none", "process", "container", "vm"]),
    ("observability_level", &["minimal", "standard", "verbose"]),
];

/// ONEX034: descriptor enums (case-insensitive).
pub fn descriptor_enums(ctx: &mut Ctx) {
    let Some(Value::Object(d)) = ctx.get("/descriptor").cloned() else {
        return;
    };
    for (key, allowed) in DESCRIPTOR_ENUMS {
        let Some(v) = d.get(*key) else { continue };
        let ok = v
            .as_str()
            .is_some_and(|s| allowed.iter().any(|a| a.eq_ignore_ascii_case(s.trim())));
        if !ok {
            ctx.emit(
                "ONEX034",
                &ptr("/descriptor", key),
                format!(
                    "descriptor.{key} {} is not one of {}",
                    super::show(v),
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// ONEX035: `descriptor.node_archetype` equals the kind of `node_type`.
pub fn archetype_matches_kind(ctx: &mut Ctx, nt: Option<&NormalizedNodeType>) {
    let Some(nt) = nt else { return };
    if nt.kind == Kind::None {
        return;
    }
    let Some(Value::String(arch)) = ctx.get("/descriptor/node_archetype").cloned() else {
        return;
    };
    let a = arch.trim().to_ascii_lowercase();
    if matches!(
        a.as_str(),
        "compute" | "effect" | "reducer" | "orchestrator"
    ) && a != nt.kind.as_str()
    {
        ctx.emit(
            "ONEX035",
            "/descriptor/node_archetype",
            format!(
                "node_archetype `{arch}` differs from the kind `{}` of node_type `{}`",
                nt.kind.as_str(),
                nt.original
            ),
        );
    }
}

/// The field types of ONEX's `MinimalHandlerContract` (docs/rules.md, ONEX038), as Pydantic's
/// lax mode reads them.
#[derive(Clone, Copy)]
enum Field {
    /// A string, at most this many characters after trimming (`0` = no limit), non-empty.
    Str(usize),
    /// A string or null, at most this many characters.
    OptStr(usize),
    Bool,
    /// An integer >= the bound.
    Int(i128),
    StrList,
    Map,
    /// A mapping or null.
    OptMap,
    /// A list (items checked by their own rule).
    List,
}

fn field_ok(v: &Value, f: Field) -> Result<(), String> {
    use crate::contract::lax;
    let chars = |s: &str| s.trim().chars().count();
    match (f, v) {
        (Field::Str(_), Value::String(s)) if chars(s) == 0 => Err("must not be empty".into()),
        (Field::Str(max) | Field::OptStr(max), Value::String(s)) if max > 0 && chars(s) > max => {
            Err(format!("is longer than {max} characters"))
        }
        (Field::Str(_) | Field::OptStr(_), Value::String(_)) | (Field::OptStr(_), Value::Null) => {
            Ok(())
        }
        (Field::Str(_) | Field::OptStr(_), _) => Err("must be a string".into()),
        (Field::Bool, v) => lax::bool(v)
            .map(|_| ())
            .ok_or_else(|| "must be a boolean".into()),
        (Field::Int(min), v) => match lax::int(v) {
            Some(n) if n >= min => Ok(()),
            Some(_) => Err(format!("must be >= {min}")),
            None => Err("must be an integer".into()),
        },
        (Field::StrList, Value::Array(items)) => {
            if items.iter().all(Value::is_string) {
                Ok(())
            } else {
                Err("must be a list of strings".into())
            }
        }
        (Field::StrList, _) => Err("must be a list of strings".into()),
        (Field::Map, Value::Object(_)) | (Field::OptMap, Value::Object(_) | Value::Null) => Ok(()),
        (Field::Map | Field::OptMap, _) => Err("must be a mapping".into()),
        (Field::List, Value::Array(_)) => Ok(()),
        (Field::List, _) => Err("must be a list".into()),
    }
}

/// Checks the present keys of the mapping at `base` against `fields`.
fn typed_fields(ctx: &mut Ctx, base: &str, fields: &[(&str, Field)]) {
    let Some(Value::Object(m)) = ctx.get(base).cloned() else {
        return;
    };
    for (key, f) in fields {
        if let Some(v) = m.get(*key)
            && let Err(why) = field_ok(v, *f)
        {
            let shown = super::show(v);
            ctx.emit(
                "ONEX038",
                &ptr(base, key),
                format!(
                    "`{}` {why} (ONEX's handler contract model rejects {shown})",
                    &ptr(base, key)[1..].replace('/', ".")
                ),
            );
        }
    }
}

const TOP_FIELDS: &[(&str, Field)] = &[
    ("handler_id", Field::Str(256)),
    ("name", Field::Str(128)),
    ("description", Field::OptStr(1000)),
    ("input_model", Field::Str(0)),
    ("output_model", Field::Str(0)),
    ("capability_inputs", Field::List),
    ("capability_outputs", Field::StrList),
    ("execution_constraints", Field::OptMap),
    ("supports_lifecycle", Field::Bool),
    ("supports_health_check", Field::Bool),
    ("supports_provisioning", Field::Bool),
    ("tags", Field::StrList),
    ("metadata", Field::Map),
    ("descriptor", Field::Map),
];

const DESCRIPTOR_FIELDS: &[(&str, Field)] = &[
    ("node_archetype", Field::Str(0)),
    ("purity", Field::Str(0)),
    ("idempotent", Field::Bool),
    ("timeout_ms", Field::Int(0)),
    ("retry_policy", Field::OptMap),
    ("circuit_breaker", Field::OptMap),
    ("concurrency_policy", Field::Str(0)),
    ("observability_level", Field::Str(0)),
];

const RETRY_FIELDS: &[(&str, Field)] = &[
    ("enabled", Field::Bool),
    ("max_retries", Field::Int(0)),
    ("backoff_strategy", Field::Str(0)),
    ("base_delay_ms", Field::Int(0)),
    ("max_delay_ms", Field::Int(0)),
];

const BREAKER_FIELDS: &[(&str, Field)] = &[
    ("enabled", Field::Bool),
    ("failure_threshold", Field::Int(1)),
    ("timeout_ms", Field::Int(0)),
];

const CONSTRAINT_FIELDS: &[(&str, Field)] = &[
    ("requires_before", Field::StrList),
    ("requires_after", Field::StrList),
    ("can_run_parallel", Field::Bool),
    ("must_run", Field::Bool),
    ("nondeterministic_effect", Field::Bool),
];

const CAPABILITY_FIELDS: &[(&str, Field)] = &[
    ("alias", Field::Str(0)),
    ("capability", Field::Str(0)),
    ("requirements", Field::OptMap),
    ("selection_policy", Field::Str(0)),
    ("strict", Field::Bool),
    ("description", Field::OptStr(0)),
];

/// The descriptor enums of a handler contract, narrower than ONEX034's (which follows the
/// descriptor enum of omnibase_core's models): the hook's model knows no `singleflight`.
const HANDLER_ENUMS: &[(&str, &[&str])] = &[
    ("purity", &["pure", "side_effecting"]),
    ("concurrency_policy", &["parallel_ok", "serialized"]),
    ("observability_level", &["minimal", "standard", "verbose"]),
];

/// ONEX038: a handler contract (dialect E) as strict as ONEX's `MinimalHandlerContract`: field
/// types, descriptor enums (an error here, not ONEX034's warning) and sub-blocks.
pub fn minimal_contract(ctx: &mut Ctx) {
    typed_fields(ctx, "", TOP_FIELDS);
    typed_fields(ctx, "/descriptor", DESCRIPTOR_FIELDS);
    typed_fields(ctx, "/descriptor/retry_policy", RETRY_FIELDS);
    typed_fields(ctx, "/descriptor/circuit_breaker", BREAKER_FIELDS);
    typed_fields(ctx, "/execution_constraints", CONSTRAINT_FIELDS);
    handler_enums(ctx);
    capability_inputs(ctx);
    handler_version(ctx);
}

/// ONEX038: purity, concurrency_policy and observability_level (case-insensitive, untrimmed).
fn handler_enums(ctx: &mut Ctx) {
    let Some(Value::Object(d)) = ctx.get("/descriptor").cloned() else {
        return;
    };
    for (key, allowed) in HANDLER_ENUMS {
        if let Some(Value::String(s)) = d.get(*key)
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(s))
        {
            ctx.emit(
                "ONEX038",
                &ptr("/descriptor", key),
                format!(
                    "descriptor.{key} `{s}` is not one of {} in a handler contract",
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// ONEX038: every capability input is a mapping with a non-empty alias and capability; aliases
/// are unique.
fn capability_inputs(ctx: &mut Ctx) {
    let Some(Value::Array(items)) = ctx.get("/capability_inputs").cloned() else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let p = super::idx("/capability_inputs", i);
        let Value::Object(m) = item else {
            ctx.emit("ONEX038", &p, "a capability input must be a mapping");
            continue;
        };
        for key in ["alias", "capability"] {
            if !m.contains_key(key) {
                ctx.emit("ONEX038", &p, format!("capability input without `{key}`"));
            }
        }
        typed_fields(ctx, &p, CAPABILITY_FIELDS);
        if let Some(Value::Object(r)) = m.get("requirements") {
            for key in ["must", "prefer", "forbid"] {
                if r.get(key).is_some_and(|v| !v.is_object()) {
                    ctx.emit(
                        "ONEX038",
                        &ptr(&ptr(&p, "requirements"), key),
                        format!("requirements.{key} must be a mapping"),
                    );
                }
            }
        }
        if let Some(Value::String(a)) = m.get("alias")
            && !seen.insert(a.trim().to_string())
        {
            ctx.emit(
                "ONEX038",
                &ptr(&p, "alias"),
                format!("capability input alias `{a}` is used twice"),
            );
        }
    }
}

/// ONEX038 on `contract_version` of a handler contract: a `{major, minor, patch}` mapping with
/// list-valued `prerelease`/`build` and no other key (ONEX's model forbids extras and strings);
/// lax integer components are ONEX019 as everywhere.
fn handler_version(ctx: &mut Ctx) {
    let Some(v) = ctx.get("/contract_version").cloned() else {
        return;
    };
    let Value::Object(m) = &v else {
        ctx.emit_help(
            "ONEX038",
            "/contract_version",
            format!(
                "a handler contract's `contract_version` must be a mapping, not {}",
                super::show(&v)
            ),
            "write `contract_version: {major: 1, minor: 0, patch: 0}`",
        );
        return;
    };
    let mut bad = false;
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "major" | "minor" | "patch" | "prerelease" | "build"
        ) {
            ctx.emit_key(
                "ONEX038",
                &ptr("/contract_version", k),
                format!("unexpected key `{k}` in a handler contract's `contract_version`"),
            );
            bad = true;
        }
    }
    let id_ok = |i: &Value, ints: bool| match i {
        Value::String(_) => true,
        Value::Bool(_) => ints,
        Value::Number(n) => ints && crate::contract::lax::int(i).is_some() && !n.is_f64(),
        _ => false,
    };
    for (key, ints) in [("prerelease", true), ("build", false)] {
        match m.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(|i| id_ok(i, ints)) => {}
            Some(other) => {
                ctx.emit(
                    "ONEX038",
                    &ptr("/contract_version", key),
                    format!(
                        "`contract_version.{key}` must be a list of {} in a handler contract, not {}",
                        if ints { "strings or integers" } else { "strings" },
                        super::show(other)
                    ),
                );
                bad = true;
            }
        }
    }
    if !bad {
        super::envelope::semver_value(ctx, "/contract_version", "contract_version");
    }
}
