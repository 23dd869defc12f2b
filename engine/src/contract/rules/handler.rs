//! Handler and descriptor rules (spec §6): handler_id prefix vs archetype (ONEX032), descriptor
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
