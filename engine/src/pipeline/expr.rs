//! Expressions and message templates of executable contracts.
//!
//! Simple gates (required fields, regex, enum, length, word count), `when` conditions, event
//! payloads and the run result are minijinja expressions over the run context, so a platform
//! team changes them in YAML. Besides minijinja's built-ins the engine offers:
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `matching(re)` | test | `x is matching('^[a-z]+$')`: the whole regex search finds a match |
//! | `word_count` | filter | number of maximal letter/digit runs |
//! | `missing_fields(obj, names)` | function | the names whose value in `obj` is absent, none or empty |
//! | `gates_outcome(stage)` | function | `passed`, `warnings` or `skipped` from a finished stage's gates |
//!
//! Evaluation is chainable: reading a field of something a stage did not produce gives none,
//! so a failed run's result has nulls rather than an error. Typos are caught earlier, by rule
//! ONEX102, which checks every expression's free variables against the run context.

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

/// Functions and tests registered by the engine, plus minijinja's global functions: names an
/// expression may use that are not run-context fields.
const GLOBALS: &[&str] = &[
    "missing_fields",
    "gates_outcome",
    "range",
    "dict",
    "namespace",
    "debug",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// Whether `name` is an engine or minijinja global rather than a context field.
pub fn is_global(name: &str) -> bool {
    GLOBALS.contains(&name)
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.add_test("matching", is_matching);
    env.add_filter("word_count", word_count);
    env.add_function("missing_fields", missing_fields);
    env.add_function("gates_outcome", gates_outcome);
    env
});

type Compiled = Arc<minijinja::Expression<'static, 'static>>;
static CACHE: LazyLock<Mutex<HashMap<String, Compiled>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static REGEXES: LazyLock<Mutex<HashMap<String, Arc<regex::Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An expression or template that failed to parse or evaluate.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
}

impl From<Error> for ExprError {
    fn from(e: Error) -> Self {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ExprError { message }
    }
}

fn compile(src: &str) -> Result<Compiled, ExprError> {
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = cache.get(src) {
        return Ok(c.clone());
    }
    let compiled = Arc::new(ENV.compile_expression_owned(src.to_owned())?);
    cache.insert(src.to_owned(), compiled.clone());
    Ok(compiled)
}

/// Whether the expression environment has a filter `name` (asked of the environment itself, so
/// validation and evaluation never disagree).
pub fn has_filter(name: &str) -> bool {
    probe(&format!("none | {name}"), ErrorKind::UnknownFilter)
}

/// Whether the expression environment has a test `name`.
pub fn has_test(name: &str) -> bool {
    probe(&format!("none is {name}"), ErrorKind::UnknownTest)
}

/// Whether `name` is a function (or other global) of the expression environment.
pub fn has_function(name: &str) -> bool {
    ENV.globals().any(|(n, _)| n == name)
}

/// Evaluates `src` once and tells whether it failed with `unknown` (results are cached: a
/// contract names the same few filters many times).
fn probe(src: &str, unknown: ErrorKind) -> bool {
    static SEEN: LazyLock<Mutex<HashMap<String, bool>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if let Some(&known) = SEEN.lock().unwrap_or_else(|p| p.into_inner()).get(src) {
        return known;
    }
    let known = match ENV.compile_expression(src) {
        Ok(e) => !matches!(e.eval(()), Err(err) if err.kind() == unknown),
        Err(_) => false,
    };
    SEEN.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(src.to_owned(), known);
    known
}

/// The top-level names an expression reads.
pub fn expression_variables(src: &str) -> Result<BTreeSet<String>, ExprError> {
    Ok(compile(src)?
        .undeclared_variables(false)
        .into_iter()
        .collect())
}

/// The top-level names a message template reads.
pub fn template_variables(src: &str) -> Result<BTreeSet<String>, ExprError> {
    if !src.contains("{{") && !src.contains("{%") {
        return Ok(BTreeSet::new());
    }
    let tmpl = ENV.template_from_str(src)?;
    Ok(tmpl.undeclared_variables(false).into_iter().collect())
}

/// A run context ready for evaluation. Converting JSON to minijinja values costs in proportion
/// to the context's size, so the executor keeps each context entry converted once and builds a
/// scope from them cheaply (values are shared, not copied).
#[derive(Clone)]
pub struct Scope(MjValue);

impl Scope {
    /// From a JSON object (tests, one-off evaluations).
    pub fn new(ctx: &Value) -> Scope {
        Scope(MjValue::from(minijinja::value::Serde(ctx)))
    }

    /// From a value already built (an object answering lookups itself).
    pub fn from_value(v: MjValue) -> Scope {
        Scope(v)
    }

    /// From entries already converted with [`to_value`].
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, MjValue)>) -> Scope {
        Scope(MjValue::from_pairs(entries))
    }
}

/// One context entry, converted once.
pub fn to_value(v: &Value) -> MjValue {
    MjValue::from(minijinja::value::Serde(v))
}

/// Evaluates an expression to JSON (undefined → null).
pub fn eval(src: &str, ctx: &Value) -> Result<Value, ExprError> {
    eval_in(src, &Scope::new(ctx))
}

/// Evaluates an expression for its truth (Jinja truthiness: empty and none are false).
pub fn eval_bool(src: &str, ctx: &Value) -> Result<bool, ExprError> {
    eval_bool_in(src, &Scope::new(ctx))
}

/// Renders a message template. Text without `{{`/`{%` is returned as written, so literal braces
/// in plain messages need no escaping.
pub fn render(src: &str, ctx: &Value) -> Result<String, ExprError> {
    render_in(src, &Scope::new(ctx))
}

/// [`eval`] in a prepared scope.
pub fn eval_in(src: &str, scope: &Scope) -> Result<Value, ExprError> {
    to_json(&compile(src)?.eval(scope.0.clone())?)
}

/// [`eval_bool`] in a prepared scope.
pub fn eval_bool_in(src: &str, scope: &Scope) -> Result<bool, ExprError> {
    Ok(compile(src)?.eval(scope.0.clone())?.is_true())
}

/// [`render`] in a prepared scope.
pub fn render_in(src: &str, scope: &Scope) -> Result<String, ExprError> {
    if !src.contains("{{") && !src.contains("{%") {
        return Ok(src.to_owned());
    }
    Ok(ENV.render_str(src, scope.0.clone())?)
}

fn to_json(v: &MjValue) -> Result<Value, ExprError> {
    if v.is_undefined() || v.is_none() {
        return Ok(Value::Null);
    }
    serde_json::to_value(v).map_err(|e| ExprError {
        message: format!("result is not JSON: {e}"),
    })
}

fn is_matching(value: &MjValue, pattern: &str) -> Result<bool, Error> {
    let re = {
        let mut cache = REGEXES.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(pattern) {
            Some(re) => re.clone(),
            None => {
                let re = Arc::new(regex::Regex::new(pattern).map_err(|e| {
                    Error::new(ErrorKind::InvalidOperation, format!("bad regex: {e}"))
                })?);
                cache.insert(pattern.to_owned(), re.clone());
                re
            }
        }
    };
    Ok(match value.as_str() {
        Some(s) => re.is_match(s),
        None => false,
    })
}

fn word_count(value: &MjValue) -> usize {
    let s = value.as_str().map(str::to_owned).unwrap_or_else(|| {
        if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            value.to_string()
        }
    });
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count()
}

fn is_empty(v: &MjValue) -> bool {
    v.is_undefined()
        || v.is_none()
        || (v.as_str().is_some_and(|s| s.trim().is_empty()))
        || v.len() == Some(0)
}

fn missing_fields(obj: &MjValue, names: &MjValue) -> Result<Vec<String>, Error> {
    let mut missing = Vec::new();
    for name in names.try_iter()? {
        let key = name.to_string();
        let v = obj.get_attr(&key).unwrap_or(MjValue::UNDEFINED);
        if is_empty(&v) {
            missing.push(key);
        }
    }
    Ok(missing)
}

/// `passed` when every gate that ran passed and at least one ran, `skipped` when none ran,
/// `warnings` otherwise. Takes a finished stage (`stages.<id>`).
fn gates_outcome(stage: &MjValue, _kw: Kwargs) -> Result<String, Error> {
    let gates = stage.get_attr("gates").unwrap_or(MjValue::UNDEFINED);
    let mut ran = 0;
    let mut all_passed = true;
    if !gates.is_undefined() && !gates.is_none() {
        for g in gates.try_iter()? {
            let status = g.get_attr("status")?.to_string();
            if status == "skipped" {
                continue;
            }
            ran += 1;
            all_passed &= status == "pass";
        }
    }
    Ok(match (ran, all_passed) {
        (0, _) => "skipped",
        (_, true) => "passed",
        _ => "warnings",
    }
    .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gates_as_expressions() {
        let ctx = json!({"parsed": {"service_name": "db_writer", "domain": "", "node_name": "DbWriter"},
                         "text": "Create an EFFECT node, please!"});
        assert!(
            eval_bool(
                "parsed.service_name is matching('^[a-z][a-z0-9]*(_[a-z0-9]+)*$')",
                &ctx
            )
            .unwrap()
        );
        assert!(!eval_bool("parsed.node_name is matching('^[a-z]')", &ctx).unwrap());
        assert_eq!(eval("text | word_count", &ctx).unwrap(), json!(5));
        assert_eq!(
            eval(
                "missing_fields(parsed, ['service_name', 'domain', 'nope'])",
                &ctx
            )
            .unwrap(),
            json!(["domain", "nope"])
        );
        assert!(eval_bool("parsed.service_name | length <= 64", &ctx).unwrap());
    }

    #[test]
    fn chainable_reads_of_absent_outputs_are_null() {
        let ctx = json!({"parsed": {}});
        assert_eq!(eval("written.node_directory", &ctx).unwrap(), Value::Null);
        assert_eq!(eval("parsed.x.y", &ctx).unwrap(), Value::Null);
    }

    #[test]
    fn templates_render_and_plain_text_is_verbatim() {
        let ctx = json!({"n": 3});
        assert_eq!(render("Only {{ n }} words", &ctx).unwrap(), "Only 3 words");
        assert_eq!(
            render("Use {PLACEHOLDER} literally", &ctx).unwrap(),
            "Use {PLACEHOLDER} literally"
        );
    }

    #[test]
    fn variables_and_parse_errors() {
        let vars =
            expression_variables("parsed.a and missing_fields(stage, ['x']) or options.force")
                .unwrap();
        let free: Vec<_> = vars.into_iter().filter(|v| !is_global(v)).collect();
        assert_eq!(free, ["options", "parsed", "stage"]);
        assert!(expression_variables("len(service_name) <").is_err());
        assert_eq!(
            template_variables("x {{ a.b }} {{ c }}").unwrap(),
            ["a", "c"].into_iter().map(String::from).collect()
        );
    }

    #[test]
    fn gates_outcome_of_a_stage() {
        let s = |gates: Value| json!({"s": {"gates": gates}});
        let e = "gates_outcome(s)";
        assert_eq!(eval(e, &s(json!([]))).unwrap(), json!("skipped"));
        assert_eq!(
            eval(e, &s(json!([{"status": "skipped"}]))).unwrap(),
            json!("skipped")
        );
        assert_eq!(
            eval(e, &s(json!([{"status": "pass"}, {"status": "skipped"}]))).unwrap(),
            json!("passed")
        );
        assert_eq!(
            eval(e, &s(json!([{"status": "pass"}, {"status": "warning"}]))).unwrap(),
            json!("warnings")
        );
        assert_eq!(eval(e, &json!({})).unwrap(), json!("skipped"));
    }
}
