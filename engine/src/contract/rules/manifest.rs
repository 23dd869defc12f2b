//! Manifests (docs/dialects.md §10): semver fields and referenced files (ONEX095). Required fields, enums,
//! hash/uuid shapes are schema constraints (schemas/onex-*-manifest.schema.json).

use std::path::Path;

use serde_json::Value;

use super::{Ctx, idx, ptr};
use crate::contract::rules::envelope::semver_value;

/// Which manifest a file is, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    Node,
    Tool,
    Version,
}

impl ManifestKind {
    pub fn from_file_name(name: &str) -> Option<Self> {
        match name {
            "node.manifest.yaml" | "node.manifest.yml" => Some(Self::Node),
            "tool.manifest.yaml" | "tool.manifest.yml" => Some(Self::Tool),
            "version.manifest.yaml" | "version.manifest.yml" => Some(Self::Version),
            _ => None,
        }
    }
}

/// ONEX011/012/016 on the manifest's semver fields.
pub fn semvers(ctx: &mut Ctx, kind: ManifestKind) {
    let keys: &[&str] = match kind {
        ManifestKind::Node => &["schema_version"],
        ManifestKind::Tool => &["schema_version", "current_stable_version"],
        ManifestKind::Version => &["version", "schema_version"],
    };
    for k in keys {
        if ctx.get(&ptr("", k)).is_some_and(|v| !v.is_null()) {
            semver_value(ctx, &ptr("", k), k);
        }
    }
    if kind == ManifestKind::Tool
        && let Some(Value::Array(vs)) = ctx.get("/versions").cloned()
    {
        for (i, v) in vs.iter().enumerate() {
            if v.get("version").is_some() {
                semver_value(
                    ctx,
                    &format!("{}/version", idx("/versions", i)),
                    "versions[].version",
                );
            }
        }
    }
}

/// ONEX095: files named by the manifest exist relative to it.
pub fn referenced_files(ctx: &mut Ctx, kind: ManifestKind, manifest_path: &Path) {
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let mut refs: Vec<(String, String)> = Vec::new();
    match kind {
        ManifestKind::Node => {
            if let Some(Value::String(t)) = ctx.get("/entrypoint/target") {
                refs.push(("/entrypoint/target".into(), t.clone()));
            }
        }
        ManifestKind::Version => {
            if let Some(Value::Object(imp)) = ctx.get("/implementation") {
                for (k, v) in imp {
                    let p = ptr("/implementation", k);
                    match v {
                        Value::String(s) => refs.push((p, s.clone())),
                        Value::Array(items) => {
                            for (i, it) in items.iter().enumerate() {
                                if let Value::String(s) = it {
                                    refs.push((idx(&p, i), s.clone()));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        ManifestKind::Tool => {}
    }
    for (p, rel) in refs {
        if rel.contains("://") || rel.is_empty() {
            continue;
        }
        if !dir.join(&rel).exists() {
            ctx.emit(
                "ONEX095",
                &p,
                format!("`{rel}` does not exist relative to the manifest"),
            );
        }
    }
}
