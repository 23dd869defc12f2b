//! Normalisation (docs/dialects.md §4, §5, §11): canonical `node_type` + kind, semantic versions, model
//! references and the normalised view of a contract handed to the engine.

use serde::Serialize;
use serde_json::Value;

use super::validate::Dialect;

/// The execution kind of a node type (docs/dialects.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Compute,
    Effect,
    Reducer,
    Orchestrator,
    RuntimeHost,
    /// `UNKNOWN`: no kind (ONEX017).
    None,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Compute => "compute",
            Kind::Effect => "effect",
            Kind::Reducer => "reducer",
            Kind::Orchestrator => "orchestrator",
            Kind::RuntimeHost => "runtime_host",
            Kind::None => "none",
        }
    }
}

/// A `node_type` as written, its canonical spelling and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedNodeType {
    pub original: String,
    pub canonical: String,
    pub kind: Kind,
}

/// Normalises a `node_type` spelling (docs/dialects.md §4): trim, case-insensitive, trailing `_GENERIC` stripped.
/// `None` when it is not in the vocabulary (ONEX014 / ONEX049).
pub fn normalize_node_type(raw: &str) -> Option<NormalizedNodeType> {
    let t = raw.trim().to_ascii_uppercase();
    let base = t.strip_suffix("_GENERIC").unwrap_or(&t);
    let (canonical, kind) = match base {
        "COMPUTE" => ("COMPUTE_GENERIC".to_string(), Kind::Compute),
        "EFFECT" => ("EFFECT_GENERIC".to_string(), Kind::Effect),
        "REDUCER" => ("REDUCER_GENERIC".to_string(), Kind::Reducer),
        "ORCHESTRATOR" => ("ORCHESTRATOR_GENERIC".to_string(), Kind::Orchestrator),
        "RUNTIME_HOST" => ("RUNTIME_HOST_GENERIC".to_string(), Kind::RuntimeHost),
        // The extended vocabulary only exists without the suffix.
        b if b != t => return None,
        "TRANSFORMER" | "AGGREGATOR" | "FUNCTION" | "MODEL" | "PLUGIN" | "SCHEMA" | "NODE"
        | "SERVICE" => (t.clone(), Kind::Compute),
        "TOOL" | "AGENT" => (t.clone(), Kind::Effect),
        "GATEWAY" | "VALIDATOR" | "WORKFLOW" => (t.clone(), Kind::Orchestrator),
        "UNKNOWN" => ("UNKNOWN".to_string(), Kind::None),
        _ => return None,
    };
    Some(NormalizedNodeType {
        original: raw.to_string(),
        canonical,
        kind,
    })
}

/// A semantic version (docs/dialects.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SemVer {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Vec<String>,
    pub build: Vec<String>,
}

impl std::fmt::Display for SemVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease.join("."))?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build.join("."))?;
        }
        Ok(())
    }
}

/// How a semver-typed value was written.
#[derive(Debug, Clone, PartialEq)]
pub enum SemVerParse {
    /// The mapping form; `empty_extras` lists `prerelease`/`build` written as `""` (ONEX016).
    Struct(SemVer, Vec<&'static str>),
    /// A `"X.Y.Z"` string (accepted, ONEX012).
    FromString(SemVer),
    /// Not our shape, but one ONEX's Pydantic models accept in lax mode (`{major: "1"}`,
    /// `1.0`, `true`, an extra key): read as the version, with why it is not ours (ONEX019).
    Lax(SemVer, String),
    /// Not a version (ONEX011), with the reason.
    Invalid(String),
}

fn extras(v: Option<&Value>) -> Result<(Vec<String>, bool), String> {
    match v {
        None | Some(Value::Null) => Ok((Vec::new(), false)),
        Some(Value::String(s)) if s.is_empty() => Ok((Vec::new(), true)),
        Some(Value::String(s)) => Ok((s.split('.').map(str::to_string).collect(), false)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("identifier {other} is neither string nor number")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| (v, false)),
        Some(other) => Err(format!("must be a list or a string, not {other}")),
    }
}

/// Parses a semver-typed value.
pub fn parse_semver(v: &Value) -> SemVerParse {
    match v {
        Value::Object(m) => {
            let mut nums = [0u64; 3];
            let mut lax: Vec<String> = Vec::new();
            for (i, k) in ["major", "minor", "patch"].iter().enumerate() {
                match m.get(*k) {
                    Some(Value::Number(n)) if n.as_u64().is_some() => {
                        nums[i] = n.as_u64().unwrap_or(0)
                    }
                    Some(other) => match super::lax::int(other).and_then(|n| u64::try_from(n).ok())
                    {
                        Some(n) => {
                            nums[i] = n;
                            lax.push(format!("`{k}: {other}` is not an integer"));
                        }
                        None => {
                            return SemVerParse::Invalid(format!(
                                "`{k}` must be an integer >= 0, not {other}"
                            ));
                        }
                    },
                    None => return SemVerParse::Invalid(format!("`{k}` is missing")),
                }
            }
            if let Some(k) = m.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "major" | "minor" | "patch" | "prerelease" | "build"
                )
            }) {
                lax.push(format!(
                    "unexpected key `{k}` (only major, minor, patch, prerelease, build)"
                ));
            }
            let mut empty = Vec::new();
            let pre = match extras(m.get("prerelease")) {
                Ok((p, e)) => {
                    if e {
                        empty.push("prerelease");
                    }
                    p
                }
                Err(e) => {
                    lax.push(format!("`prerelease` {e}"));
                    Vec::new()
                }
            };
            let build = match extras(m.get("build")) {
                Ok((b, e)) => {
                    if e {
                        empty.push("build");
                    }
                    b
                }
                Err(e) => {
                    lax.push(format!("`build` {e}"));
                    Vec::new()
                }
            };
            let sv = SemVer {
                major: nums[0],
                minor: nums[1],
                patch: nums[2],
                prerelease: pre,
                build,
            };
            if lax.is_empty() {
                SemVerParse::Struct(sv, empty)
            } else {
                SemVerParse::Lax(sv, lax.join("; "))
            }
        }
        Value::String(s) => match parse_semver_str(s) {
            Some(v) => SemVerParse::FromString(v),
            None => SemVerParse::Invalid(format!("`{s}` is not a semantic version X.Y.Z")),
        },
        other => SemVerParse::Invalid(format!(
            "{other} is not a version (write {{major, minor, patch}})"
        )),
    }
}

/// `X.Y.Z[-pre][+build]`, numbers without leading zeros.
pub fn parse_semver_str(s: &str) -> Option<SemVer> {
    let s = s.trim();
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, b.split('.').map(str::to_string).collect()),
        None => (s, Vec::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let num = |p: &str| -> Option<u64> {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        p.parse().ok()
    };
    Some(SemVer {
        major: num(parts[0])?,
        minor: num(parts[1])?,
        patch: num(parts[2])?,
        prerelease: pre,
        build,
    })
}

/// A model reference `{module, name}` (a dotted string is split at its last dot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    pub module: String,
    pub name: String,
}

pub fn model_ref(v: &Value) -> Option<ModelRef> {
    match v {
        Value::String(s) => {
            let (module, name) = s.rsplit_once('.').unwrap_or(("", s));
            Some(ModelRef {
                module: module.to_string(),
                name: name.to_string(),
            })
        }
        Value::Object(m) => Some(ModelRef {
            module: m
                .get("module")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: m.get("name")?.as_str()?.to_string(),
        }),
        _ => None,
    }
}

/// The normalised view of one contract (docs/dialects.md §11).
#[derive(Debug, Clone, Serialize)]
pub struct ContractView {
    pub dialect: Dialect,
    pub kind: Option<Kind>,
    pub node_type: Option<NormalizedNodeType>,
    pub contract_version: Option<SemVer>,
    pub name: Option<String>,
    pub input_model: Option<ModelRef>,
    pub output_model: Option<ModelRef>,
    pub subscribes: Vec<String>,
    pub publishes: Vec<String>,
    /// The execution graph (docs/dialects.md §8.1), for dialect C orchestrators and dialect X.
    #[serde(skip)]
    pub graph: Option<super::graph::WorkflowGraph>,
    /// The FSM block (`state_machine` or its alias `state_transitions`), as written.
    pub fsm: Option<Value>,
    /// Dialect X: the `onex:` block (triggers, stages, gates, events); the engine's typed IR is
    /// built from it by `contract::executable`.
    pub onex: Option<Value>,
    /// The raw value (unknown keys kept).
    pub raw: Value,
}

/// Builds the normalised view of a validated document.
pub fn view(dialect: Dialect, value: &Value) -> ContractView {
    let node_type = value
        .get("node_type")
        .and_then(Value::as_str)
        .and_then(normalize_node_type);
    let contract_version = value
        .get("contract_version")
        .and_then(|v| match parse_semver(v) {
            SemVerParse::Struct(s, _) | SemVerParse::FromString(s) | SemVerParse::Lax(s, _) => {
                Some(s)
            }
            SemVerParse::Invalid(_) => None,
        });
    let name = ["name", "node_name", "node_id", "workflow_id", "handler_id"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .map(str::to_string);
    let topics = super::rules::topics::collect(value);
    let mut subscribes = Vec::new();
    let mut publishes = Vec::new();
    for t in topics {
        match t.direction {
            super::rules::topics::Direction::Subscribe => subscribes.push(t.topic),
            super::rules::topics::Direction::Publish => publishes.push(t.topic),
        }
    }
    ContractView {
        dialect,
        kind: node_type.as_ref().map(|n| n.kind),
        node_type,
        contract_version,
        name,
        input_model: value.get("input_model").and_then(model_ref),
        output_model: value.get("output_model").and_then(model_ref),
        subscribes,
        publishes,
        graph: super::graph::WorkflowGraph::from_document(value),
        fsm: super::rules::fsm::fsm_pointer(value)
            .and_then(|p| value.pointer(p))
            .cloned(),
        onex: if dialect == Dialect::X {
            value.get("onex").cloned()
        } else {
            None
        },
        raw: value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_types() {
        let n = normalize_node_type(" effect ").unwrap();
        assert_eq!(
            (n.canonical.as_str(), n.kind),
            ("EFFECT_GENERIC", Kind::Effect)
        );
        assert_eq!(
            normalize_node_type("Orchestrator_Generic").unwrap().kind,
            Kind::Orchestrator
        );
        assert_eq!(normalize_node_type("gateway").unwrap().canonical, "GATEWAY");
        assert_eq!(normalize_node_type("tool").unwrap().kind, Kind::Effect);
        assert_eq!(normalize_node_type("unknown").unwrap().kind, Kind::None);
        assert!(normalize_node_type("SERVICE_MESH").is_none());
        assert!(normalize_node_type("TOOL_GENERIC").is_none());
        assert!(normalize_node_type("LAMBDA").is_none());
    }

    #[test]
    fn semvers() {
        assert!(
            matches!(parse_semver(&json!({"major": 1, "minor": 0, "patch": 0})), SemVerParse::Struct(_, e) if e.is_empty())
        );
        assert!(
            matches!(parse_semver(&json!({"major": 1, "minor": 0, "patch": 0, "prerelease": ""})), SemVerParse::Struct(_, e) if e == vec!["prerelease"])
        );
        assert!(matches!(
            parse_semver(&json!({"major": 1, "minor": "x", "patch": 0})),
            SemVerParse::Invalid(_)
        ));
        assert!(matches!(
            parse_semver(&json!({"major": -1, "minor": 0, "patch": 0})),
            SemVerParse::Invalid(_)
        ));
        // Shapes ONEX's Pydantic models accept in lax mode are read, and flagged (ONEX019).
        for lax in [
            json!({"major": 1, "minor": 0, "patch": 0, "extra": 1}),
            json!({"major": "1", "minor": 0, "patch": 0}),
            json!({"major": 1.0, "minor": true, "patch": 0}),
        ] {
            assert!(
                matches!(parse_semver(&lax), SemVerParse::Lax(ref s, _) if s.major == 1),
                "{lax}"
            );
        }
        assert!(matches!(
            parse_semver(&json!({"major": 1.5, "minor": 0, "patch": 0})),
            SemVerParse::Invalid(_)
        ));
        assert!(matches!(
            parse_semver(&json!("1.2.3")),
            SemVerParse::FromString(_)
        ));
        assert!(matches!(
            parse_semver(&json!("1.x")),
            SemVerParse::Invalid(_)
        ));
        assert_eq!(
            parse_semver_str("1.2.3-rc.1+b5").unwrap().to_string(),
            "1.2.3-rc.1+b5"
        );
    }
}
