//! What a render needs besides the template pack: the checked identifiers, every derived name
//! (docs/generation.md §4.2, from `prompt::naming`), the action list (docs/generation.md §4.3) and the external-system table, plus the
//! template context built from them. User text enters the template context only wrapped in
//! [`UserText`], which refuses to print itself: it must go through `py_str` / `py_doc` /
//! `py_comment`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Object, ObjectRepr};

use crate::codegen::escape::{is_pascal_identifier, is_snake_identifier};
use crate::prompt::naming::{NodeNames, snake};
use crate::prompt::{NodeType, ParsedPrompt};

/// Maximum lengths of G3 (docs/generation.md §2): service name and domain 64, node directory 128.
pub const MAX_IDENT_LEN: usize = 64;
pub const MAX_NODE_DIR_LEN: usize = 128;

/// Every top-level variable a template of the pack may use (G5 "only known variables").
pub const KNOWN_VARIABLES: &[&str] = &[
    "node_type",
    "node_type_lower",
    "node_type_cap",
    "node_name",
    "service_name",
    "domain",
    "node_dir",
    "node_class",
    "base_class",
    "input_model",
    "output_model",
    "config_model",
    "contract_model",
    "operation_enum",
    "contract_node_name",
    "contract_name",
    "namespace",
    "input_module",
    "output_module",
    "config_module",
    "contract_module",
    "enum_module",
    "type_method",
    "actions",
    "description",
    "requirements",
    "external_systems",
    "engine_version",
    "omnibase_core_version",
];

/// The variables that carry text not produced by the engine (directly or as list items): they may
/// be printed only through `py_str`, `py_doc` or `py_comment` (docs/generation.md §4.7).
pub const USER_TEXT_VARIABLES: &[&str] = &[
    "description",
    "requirements",
    "external_systems",
    "engine_version",
];

/// What a [`UserText`] turns into when converted to a string without an escaping filter. It is
/// a NUL byte: no escaping filter ever emits one (they escape or replace controls), so a NUL in
/// rendered output always means raw user text (or a broken template) and fails the render.
pub const RAW_USER_TEXT_MARKER: &str = "\0";

/// Text from the prompt (or another outside source) inside the template context. Printing it
/// directly, or concatenating it, is a render error: only the escaping filters read it.
#[derive(Debug)]
pub struct UserText(pub String);

impl Object for UserText {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.0.is_empty()
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Reached by `~`, `|string` and friends. Returning an error here would make minijinja
        // panic (`to_string` on a failing Display), so write the marker instead: the renderer
        // rejects any output holding it. The text itself never gets out this way.
        f.write_str(RAW_USER_TEXT_MARKER)
    }
}

/// The method holding a node type's logic (docs/generation.md §4.6).
pub fn type_method(t: NodeType) -> &'static str {
    match t {
        NodeType::Effect => "_execute_business_logic",
        NodeType::Compute => "_execute_computation",
        NodeType::Reducer => "_execute_reduction",
        NodeType::Orchestrator => "_execute_orchestration",
    }
}

/// One external system of docs/generation.md §3.7 as the contract and manifest list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    /// Short snake name (`postgres`), as in the service names of docs/generation.md §3.3 rule 2.
    pub short: String,
    /// `Protocol{System}`
    pub class_name: String,
}

/// Maps a canonical system name (docs/generation.md §3.7) to its short name and protocol class. A name outside the
/// vocabulary is reduced to identifier characters, so it can never break a generated file.
pub fn system_info(system: &str) -> SystemInfo {
    let (short, class) = match system {
        "PostgreSQL" => ("postgres", "PostgreSQL"),
        "Redis" => ("redis", "Redis"),
        "Kafka" => ("kafka", "Kafka"),
        "S3" => ("s3", "S3"),
        "API" => ("http", "API"),
        "SMTP" => ("email", "SMTP"),
        "MongoDB" => ("mongo", "MongoDB"),
        "Elasticsearch" => ("elasticsearch", "Elasticsearch"),
        other => {
            let mut s = snake(other);
            if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
                s = format!("system_{s}").trim_end_matches('_').to_string();
            }
            let class = crate::prompt::naming::pascal(&s);
            return SystemInfo {
                short: s,
                class_name: format!("Protocol{class}"),
            };
        }
    };
    SystemInfo {
        short: short.to_string(),
        class_name: format!("Protocol{class}"),
    }
}

/// Words dropped from a requirement before its first three words name an action (docs/generation.md §4.3).
const ACTION_STOP_WORDS: &[&str] = &["a", "an", "the", "and", "or", "but", "nor", "yet", "so"];

/// The action names of docs/generation.md §4.3: one per requirement (its first three words minus articles and
/// conjunctions, snake_case, `_2`, `_3`… on clashes), then `health_check`; `process` first when
/// there is no requirement. Every name matches `^[a-z][a-z0-9]*(_[a-z0-9]+)*$`.
pub fn action_names(requirements: &[String]) -> Vec<String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    taken.insert("health_check".to_string());
    let mut names = Vec::with_capacity(requirements.len() + 2);
    for requirement in requirements {
        let lower = requirement.to_lowercase();
        let words: Vec<String> = lower
            .split(|c: char| !c.is_alphanumeric())
            .map(|w| {
                w.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty() && !ACTION_STOP_WORDS.contains(&w.as_str()))
            .take(3)
            .collect();
        let mut base = words.join("_");
        if base.is_empty() {
            base = "action".to_string();
        } else if base.starts_with(|c: char| c.is_ascii_digit()) {
            base = format!("action_{base}");
        }
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(name.clone());
        names.push(name);
    }
    if names.is_empty() {
        names.push("process".to_string());
    }
    names.push("health_check".to_string());
    names
}

/// Everything derived from a parsed prompt that the renderer and the gates share.
#[derive(Debug, Clone)]
pub struct NodeContext<'a> {
    pub parsed: &'a ParsedPrompt,
    pub node_type: NodeType,
    pub names: NodeNames,
    pub actions: Vec<String>,
    pub systems: Vec<SystemInfo>,
}

impl<'a> NodeContext<'a> {
    /// Checks the identifiers (G3's patterns; the renderer refuses rather than trusting that G3
    /// ran) and derives every name. The error names the field and value.
    pub fn new(parsed: &'a ParsedPrompt) -> Result<Self, String> {
        check_identifiers(parsed)?;
        let names = NodeNames::new(
            &parsed.node_name,
            &parsed.service_name,
            &parsed.domain,
            parsed.node_type,
        );
        if names.node_dir.len() > MAX_NODE_DIR_LEN {
            return Err(format!(
                "node directory '{}' is longer than {MAX_NODE_DIR_LEN} characters",
                names.node_dir
            ));
        }
        let mut seen = BTreeSet::new();
        let systems = parsed
            .external_systems
            .iter()
            .map(|s| system_info(s))
            .filter(|s| seen.insert(s.short.clone()))
            .collect();
        Ok(NodeContext {
            parsed,
            node_type: parsed.node_type,
            names,
            actions: action_names(&parsed.functional_requirements),
            systems,
        })
    }

    /// Module name (file stem) of a file name such as `model_x_input.py`.
    fn stem(file: &str) -> &str {
        file.strip_suffix(".py").unwrap_or(file)
    }

    /// The template context (every key of [`KNOWN_VARIABLES`]).
    pub fn template_context(&self, engine_version: &str, omnibase_core_version: &str) -> Value {
        let t = self.node_type;
        let n = &self.names;
        let user = |s: &str| Value::from_object(UserText(s.to_string()));
        let actions: Vec<Value> = self
            .actions
            .iter()
            .map(|a| {
                minijinja::context! { name => a.as_str(), member => a.to_ascii_uppercase() }
            })
            .collect();
        let requirements: Vec<Value> = self
            .parsed
            .functional_requirements
            .iter()
            .map(|r| user(r))
            .collect();
        let systems: Vec<Value> = self
            .parsed
            .external_systems
            .iter()
            .map(|s| user(s))
            .collect();
        minijinja::context! {
            node_type => t.as_upper(),
            node_type_lower => t.as_lower(),
            node_type_cap => t.as_capitalised(),
            node_name => self.parsed.node_name.as_str(),
            service_name => self.parsed.service_name.as_str(),
            domain => self.parsed.domain.as_str(),
            node_dir => n.node_dir.as_str(),
            node_class => n.node_class.as_str(),
            base_class => n.base_class.as_str(),
            input_model => n.input_model.as_str(),
            output_model => n.output_model.as_str(),
            config_model => n.config_model.as_str(),
            contract_model => n.contract_model.as_str(),
            operation_enum => n.operation_enum.as_str(),
            contract_node_name => n.contract_node_name.as_str(),
            contract_name => n.contract_name.as_str(),
            namespace => n.namespace.as_str(),
            input_module => Self::stem(&n.input_model_file),
            output_module => Self::stem(&n.output_model_file),
            config_module => Self::stem(&n.config_model_file),
            contract_module => Self::stem(&n.contract_model_file),
            enum_module => Self::stem(&n.operation_enum_file),
            type_method => type_method(t),
            actions => actions,
            description => user(&self.parsed.description),
            requirements => requirements,
            external_systems => systems,
            engine_version => user(engine_version),
            omnibase_core_version => omnibase_core_version,
        }
    }
}

/// G3's identifier rules, applied again by the renderer (docs/generation.md §4.7: identifiers only after G3).
pub fn check_identifiers(parsed: &ParsedPrompt) -> Result<(), String> {
    for (field, value) in [
        ("service_name", &parsed.service_name),
        ("domain", &parsed.domain),
    ] {
        if !is_snake_identifier(value) || value.len() > MAX_IDENT_LEN {
            return Err(format!(
                "invalid {field} {value:?}: expected ^[a-z][a-z0-9]*(_[a-z0-9]+)*$, at most {MAX_IDENT_LEN} characters"
            ));
        }
    }
    if !is_pascal_identifier(&parsed.node_name) || parsed.node_name.len() > MAX_IDENT_LEN * 2 {
        return Err(format!(
            "invalid node_name {:?}: expected ^[A-Z][A-Za-z0-9]*$",
            parsed.node_name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn actions_from_requirements() {
        assert_eq!(action_names(&[]), s(&["process", "health_check"]));
        assert_eq!(
            action_names(&s(&[
                "Validate the email addresses format",
                "validate email addresses twice",
                "Health: check!",
                "🚀 \"\"\" {{name}}",
                "🚀",
                "3 retries on failure",
            ])),
            s(&[
                "validate_email_addresses",
                "validate_email_addresses_2",
                "health_check_2",
                "name",
                "action",
                "action_3_retries_on",
                "health_check",
            ])
        );
    }

    #[test]
    fn actions_are_identifiers() {
        for a in action_names(&s(&["é ü", "__x__", "A-B-C-D", "\u{202e}rtl"])) {
            assert!(is_snake_identifier(&a), "{a}");
        }
    }

    #[test]
    fn unknown_system_is_sanitised() {
        let i = system_info("My \"Weird\" System\n");
        assert_eq!(i.short, "my_weird_system");
        assert_eq!(i.class_name, "ProtocolMyWeirdSystem");
        assert_eq!(system_info("").short, "system");
        assert_eq!(system_info("PostgreSQL").class_name, "ProtocolPostgreSQL");
    }
}
