//! The structural rules: JSON Schemas (draft 2020-12) in `schemas/`, embedded in the binary and
//! compiled once. Each constraint carries an `x-onex-code`; a violated constraint is reported
//! once, under the code of the nearest schema object on its schema path that declares one, at
//! the instance path's file:line:col. Never as a generic "schema error".

use std::collections::HashSet;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use super::rules::Ctx;

/// One embedded schema.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedSchema {
    /// File name in `schemas/` (also the name `onex schema NAME` accepts, with or without
    /// `.schema.json`).
    pub name: &'static str,
    pub text: &'static str,
}

macro_rules! schema {
    ($name:literal) => {
        EmbeddedSchema {
            name: $name,
            text: include_str!(concat!("../../../schemas/", $name, ".schema.json")),
        }
    };
}

/// Every schema shipped in the binary.
pub static SCHEMAS: &[EmbeddedSchema] = &[
    schema!("onex-envelope"),
    schema!("onex-dialect-a"),
    schema!("onex-dialect-c"),
    schema!("onex-dialect-d"),
    schema!("onex-dialect-e"),
    schema!("onex-dialect-f"),
    schema!("onex-generic"),
    schema!("onex-node-manifest"),
    schema!("onex-tool-manifest"),
    schema!("onex-version-manifest"),
    schema!("onex-executable"),
    schema!("onex-test"),
];

/// Finds an embedded schema by name (`onex-envelope`, `onex-envelope.schema.json`, `envelope`).
pub fn find(name: &str) -> Option<&'static EmbeddedSchema> {
    let n = name.trim_end_matches(".json").trim_end_matches(".schema");
    SCHEMAS
        .iter()
        .find(|s| s.name == n || s.name.strip_prefix("onex-") == Some(n))
}

struct Compiled {
    raw: Value,
    validator: Validator,
}

fn compiled() -> &'static [Result<Compiled, String>] {
    static CELL: OnceLock<Vec<Result<Compiled, String>>> = OnceLock::new();
    CELL.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|s| {
                let raw: Value = serde_json::from_str(s.text)
                    .map_err(|e| format!("schema {} is not JSON: {e}", s.name))?;
                let validator = jsonschema::draft202012::new(&raw)
                    .map_err(|e| format!("schema {} does not compile: {e}", s.name))?;
                Ok(Compiled { raw, validator })
            })
            .collect()
    })
}

/// Checks that every embedded schema compiles (used by tests and `onex schema`).
pub fn self_check() -> Result<(), String> {
    for c in compiled() {
        if let Err(e) = c {
            return Err(e.clone());
        }
    }
    Ok(())
}

/// The `x-onex-code` governing the constraint at `schema_path` (nearest declaring ancestor,
/// following `$ref`s within the schema) and, when the same schema object declares one, its
/// `x-onex-message` (a readable message replacing the validator's generic wording).
fn code_and_message<'s>(raw: &'s Value, schema_path: &str) -> (String, Option<&'s str>) {
    let mut node = raw;
    let mut code = raw.get("x-onex-code").and_then(Value::as_str);
    let mut msg = raw.get("x-onex-message").and_then(Value::as_str);
    let segments: Vec<String> = schema_path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    // The last segment is the keyword that failed; its parent object carries the code.
    let n = segments.len().saturating_sub(1);
    for seg in &segments[..n] {
        let next = match node {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        let Some(mut next) = next else { break };
        if let Some(Value::String(r)) = next.get("$ref").filter(|_| seg != "$ref")
            && next.as_object().is_some_and(|o| o.len() == 1)
            && let Some(target) = r.strip_prefix('#').and_then(|p| raw.pointer(p))
        {
            next = target;
        }
        if seg == "$ref"
            && let Value::String(r) = next
            && let Some(target) = r.strip_prefix('#').and_then(|p| raw.pointer(p))
        {
            next = target;
        }
        node = next;
        if let Some(c) = node.get("x-onex-code").and_then(Value::as_str) {
            code = Some(c);
            msg = node.get("x-onex-message").and_then(Value::as_str);
        }
    }
    (code.unwrap_or("ONEX003").to_string(), msg)
}

/// Validates the document against the embedded schema `name`, reporting each violated
/// constraint once under its code.
pub fn check(ctx: &mut Ctx, name: &str) {
    let Some(i) = SCHEMAS.iter().position(|s| s.name == name) else {
        ctx.emit(
            "ONEX003",
            "",
            format!("internal: no embedded schema named {name}"),
        );
        return;
    };
    let c = match &compiled()[i] {
        Ok(c) => c,
        Err(e) => {
            ctx.emit("ONEX003", "", format!("internal: {e}"));
            return;
        }
    };
    let value = ctx.doc.value.clone();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut found: Vec<(String, String, String)> = Vec::new();
    let mut unknown: Vec<(String, String, String, String)> = Vec::new();
    for err in c.validator.iter_errors(&value) {
        let instance = err.instance_path().as_str().to_string();
        let schema_path = err.schema_path().as_str().to_string();
        let (code, custom) = code_and_message(&c.raw, &schema_path);
        // An unknown key is reported at the key itself, with the closest known key.
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            err.kind()
        {
            let known = known_keys(&c.raw, &schema_path);
            for key in unexpected {
                let p = format!("{instance}/{}", super::source::escape_segment(key));
                if !seen.insert((code.clone(), p.clone())) {
                    continue;
                }
                let help = match crate::diag::did_you_mean(key, known.iter().map(String::as_str)) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                let at = if instance.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("`{instance}`")
                };
                unknown.push((
                    code.clone(),
                    p,
                    format!("unknown key `{key}` in {at}"),
                    help,
                ));
            }
            continue;
        }
        if seen.insert((code.clone(), instance.clone())) {
            found.push((
                code,
                instance,
                custom.map_or_else(|| message(&err), str::to_string),
            ));
        }
    }
    for (code, p, msg, help) in unknown {
        ctx.emit_key_help(&code, &p, msg, help);
    }
    for (code, instance, msg) in found {
        let where_ = if instance.is_empty() {
            String::new()
        } else {
            format!("{instance}: ")
        };
        ctx.emit(&code, &instance, format!("{where_}{msg}"));
    }
}

/// The `properties` names of the schema object whose keyword failed at `schema_path` (following
/// `$ref`s inside the schema), for "did you mean".
fn known_keys(raw: &Value, schema_path: &str) -> Vec<String> {
    let segments: Vec<String> = schema_path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let n = segments.len().saturating_sub(1);
    let deref = |v: &'_ Value| -> Option<Value> {
        let r = v.get("$ref")?.as_str()?.strip_prefix('#')?;
        raw.pointer(r).cloned()
    };
    let mut node = raw.clone();
    for seg in &segments[..n] {
        let next = match &node {
            Value::Object(m) => m.get(seg).cloned(),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i).cloned()),
            _ => None,
        };
        let Some(next) = next else { return Vec::new() };
        node = if seg == "$ref" {
            next.as_str()
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| raw.pointer(p).cloned())
                .unwrap_or(next)
        } else {
            deref(&next).unwrap_or(next)
        };
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn message(err: &jsonschema::ValidationError<'_>) -> String {
    let s = err.to_string();
    // jsonschema renders the whole offending value; keep messages one line and short.
    let s = s.replace('\n', " ");
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(197).collect();
        format!("{cut}…")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_schemas_compile() {
        self_check().unwrap();
    }

    fn code_for(raw: &Value, schema_path: &str) -> String {
        code_and_message(raw, schema_path).0
    }

    #[test]
    fn code_lookup() {
        let raw: Value = serde_json::from_str(find("tool-manifest").unwrap().text).unwrap();
        assert_eq!(code_for(&raw, "/properties/uuid/type"), "ONEX093");
        assert_eq!(
            code_for(&raw, "/properties/uuid/allOf/0/pattern"),
            "ONEX092"
        );
        assert_eq!(code_for(&raw, "/allOf/0/required"), "ONEX093");
        assert_eq!(code_for(&raw, "/required"), "ONEX094");
        assert_eq!(
            code_for(
                &raw,
                "/properties/versions/items/properties/status/$ref/enum"
            ),
            "ONEX091"
        );
        assert_eq!(code_for(&raw, "/properties/status/enum"), "ONEX091");
    }
}
