//! Naming (docs/generation.md §4.2, and `snake()` of §3.3 rule 1): the one place that turns
//! names into identifiers. Generation, G10 (naming convention gate) and G14 (import test) all call
//! these functions, so a generated class name and the name a gate expects can never disagree (the
//! original cased them differently in two places and produced false warnings).

use super::NodeType;

/// Acronyms written in upper case wherever they appear (`rest_api_client` → `RestAPIClient`).
const ALWAYS_UPPER: &[&str] = &[
    "crud", "api", "sql", "json", "xml", "uuid", "uri", "url", "jwt", "css", "html",
];

/// Protocol acronyms: upper case, except Capitalised when they are the first of several words
/// (`http_client` → `HttpClient`, but `smtp` → `SMTP`, `rest_api` → `RestAPI`).
const PROTOCOL_UPPER: &[&str] = &[
    "http", "rest", "smtp", "ftp", "ssh", "ssl", "tls", "tcp", "udp", "ip", "oauth",
];

/// PascalCase of a (usually snake_case) name, per docs/generation.md §4.2.
///
/// A name without `_`/`-` that already starts upper case is returned unchanged, so explicit names
/// such as `HTTPAPI` or `SQLXML` keep their casing. Otherwise each `_`/`-`-separated word is
/// upper-cased (acronym table), or Capitalised.
pub fn pascal(s: &str) -> String {
    let starts_upper = s.chars().next().is_some_and(|c| c.is_uppercase());
    if starts_upper && !s.contains(['_', '-']) {
        return s.to_string();
    }
    let words: Vec<&str> = s.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    let several = words.len() > 1;
    let mut out = String::with_capacity(s.len());
    for (i, word) in words.iter().enumerate() {
        let lower = word.to_lowercase();
        if ALWAYS_UPPER.contains(&lower.as_str())
            || (PROTOCOL_UPPER.contains(&lower.as_str()) && !(i == 0 && several))
        {
            out.push_str(&word.to_uppercase());
        } else {
            capitalise_into(word, &mut out);
        }
    }
    out
}

/// First character upper case, the rest as given (`client` → `Client`, `fooBar` → `FooBar`).
fn capitalise_into(word: &str, out: &mut String) {
    let mut chars = word.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// snake_case of a name, per docs/generation.md §3.3 rule 1: `_` between a lowercase letter or digit and an upper-case
/// letter, and between an upper-case run and a following Capitalised word; every other
/// non-alphanumeric character becomes `_`; lower-cased; runs of `_` collapsed and trimmed.
///
/// `PostgresCRUD` → `postgres_crud`, `RestAPI` → `rest_api`, `SQLConnector` → `sql_connector`,
/// `HTTPAPI` → `httpapi`. Only ASCII letters and digits survive, so the result always satisfies
/// the G3 identifier pattern when it is non-empty and starts with a letter.
pub fn snake(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    let mut out = String::with_capacity(n.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            push_underscore(&mut out);
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower)
            {
                push_underscore(&mut out);
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Pushes one `_`, never two in a row and never at the start (collapse and trim).
fn push_underscore(out: &mut String) {
    if !out.is_empty() && !out.ends_with('_') {
        out.push('_');
    }
}

/// `node_{domain}_{svc}_{type}` — the node directory and the tool name (docs/generation.md §4.1, §4.2).
pub fn node_dir_name(domain: &str, service_name: &str, node_type: NodeType) -> String {
    format!("node_{domain}_{service_name}_{}", node_type.as_lower())
}

/// `Node{P}{Type}` — the node class (`NodePostgresWriterEffect`).
pub fn node_class(node_name: &str, node_type: NodeType) -> String {
    format!("Node{node_name}{}", node_type.as_capitalised())
}

/// `Node{Type}` — the omnibase_core base class the node class derives from.
pub fn node_base_class(node_type: NodeType) -> String {
    format!("Node{}", node_type.as_capitalised())
}

/// `Model{P}Input`
pub fn model_input_class(node_name: &str) -> String {
    format!("Model{node_name}Input")
}

/// `Model{P}Output`
pub fn model_output_class(node_name: &str) -> String {
    format!("Model{node_name}Output")
}

/// `Model{P}Config`
pub fn model_config_class(node_name: &str) -> String {
    format!("Model{node_name}Config")
}

/// `Model{P}{Type}Contract`
pub fn model_contract_class(node_name: &str, node_type: NodeType) -> String {
    format!("Model{node_name}{}Contract", node_type.as_capitalised())
}

/// `Enum{P}OperationType`
pub fn enum_operation_type_class(node_name: &str) -> String {
    format!("Enum{node_name}OperationType")
}

/// `{svc}_{type}` — the contract's `node_name` and the version's `name`.
pub fn contract_node_name(service_name: &str, node_type: NodeType) -> String {
    format!("{service_name}_{}", node_type.as_lower())
}

/// `{svc}_{type}_contract`
pub fn contract_name(service_name: &str, node_type: NodeType) -> String {
    format!("{service_name}_{}_contract", node_type.as_lower())
}

/// `omninode.generated.{domain}.node_{svc}_{type}`
pub fn namespace(domain: &str, service_name: &str, node_type: NodeType) -> String {
    format!(
        "omninode.generated.{domain}.node_{service_name}_{}",
        node_type.as_lower()
    )
}

/// Every name of one node (docs/generation.md §4.1–4.2), computed once from the parsed identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNames {
    /// `node_{domain}_{svc}_{type}`, also the tool name.
    pub node_dir: String,
    /// `Node{P}{Type}`
    pub node_class: String,
    /// `Node{Type}`
    pub base_class: String,
    pub input_model: String,
    pub output_model: String,
    pub config_model: String,
    pub contract_model: String,
    pub operation_enum: String,
    /// `{svc}_{type}`
    pub contract_node_name: String,
    /// `{svc}_{type}_contract`
    pub contract_name: String,
    pub namespace: String,
    /// File names relative to `v1_0_0/models/` and `v1_0_0/enums/`.
    pub input_model_file: String,
    pub output_model_file: String,
    pub config_model_file: String,
    pub contract_model_file: String,
    pub operation_enum_file: String,
}

impl NodeNames {
    /// `node_name` is P (PascalCase), `service_name` is `{svc}` (snake_case).
    pub fn new(node_name: &str, service_name: &str, domain: &str, node_type: NodeType) -> Self {
        let t = node_type.as_lower();
        NodeNames {
            node_dir: node_dir_name(domain, service_name, node_type),
            node_class: node_class(node_name, node_type),
            base_class: node_base_class(node_type),
            input_model: model_input_class(node_name),
            output_model: model_output_class(node_name),
            config_model: model_config_class(node_name),
            contract_model: model_contract_class(node_name, node_type),
            operation_enum: enum_operation_type_class(node_name),
            contract_node_name: contract_node_name(service_name, node_type),
            contract_name: contract_name(service_name, node_type),
            namespace: namespace(domain, service_name, node_type),
            input_model_file: format!("model_{service_name}_input.py"),
            output_model_file: format!("model_{service_name}_output.py"),
            config_model_file: format!("model_{service_name}_config.py"),
            contract_model_file: format!("model_{service_name}_{t}_contract.py"),
            operation_enum_file: format!("enum_{service_name}_operation_type.py"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_spec_examples() {
        for (input, want) in [
            ("postgres_crud", "PostgresCRUD"),
            ("rest_api", "RestAPI"),
            ("http_client", "HttpClient"),
            ("smtp", "SMTP"),
            ("sql", "SQL"),
            ("postgres_sql_adapter", "PostgresSQLAdapter"),
            ("rest_api_client", "RestAPIClient"),
            ("http_json_parser", "HttpJSONParser"),
            ("HTTPAPI", "HTTPAPI"),
            ("SQLXML", "SQLXML"),
        ] {
            assert_eq!(pascal(input), want, "pascal({input:?})");
        }
    }

    #[test]
    fn pascal_other_words() {
        assert_eq!(pascal("database_writer"), "DatabaseWriter");
        assert_eq!(pascal("my-service-name"), "MyServiceName");
        assert_eq!(pascal("payment"), "Payment");
        assert_eq!(pascal("oauth"), "OAUTH");
        assert_eq!(pascal("oauth_token_jwt"), "OauthTokenJWT");
        assert_eq!(pascal("s3_file_uploader"), "S3FileUploader");
        assert_eq!(pascal("svc_3d_printer"), "Svc3dPrinter");
        assert_eq!(pascal("__a__b__"), "AB");
        assert_eq!(pascal(""), "");
        // Starts upper case but has `_`: still split per word.
        assert_eq!(pascal("Data_api"), "DataAPI");
    }

    #[test]
    fn snake_spec_examples() {
        for (input, want) in [
            ("PostgresCRUD", "postgres_crud"),
            ("RestAPI", "rest_api"),
            ("SQLConnector", "sql_connector"),
            ("HTTPAPI", "httpapi"),
            ("DatabaseWriter", "database_writer"),
            ("S3FileUploader", "s3_file_uploader"),
            ("DataPipelineCoordinator", "data_pipeline_coordinator"),
            ("HttpClient", "http_client"),
            ("ApiClient", "api_client"),
            ("postgres_writer", "postgres_writer"),
            ("my-service-name", "my_service_name"),
            ("Calculator", "calculator"),
        ] {
            assert_eq!(snake(input), want, "snake({input:?})");
        }
    }

    #[test]
    fn snake_collapses_and_trims() {
        assert_eq!(snake("__Foo__Bar__"), "foo_bar");
        assert_eq!(snake("Foo  -- Bar!"), "foo_bar");
        assert_eq!(snake("Café"), "caf");
        assert_eq!(snake("!!!"), "");
        assert_eq!(snake(""), "");
    }

    #[test]
    fn snake_then_pascal_round_trips_documented_names() {
        for n in ["PostgresCRUD", "RestAPI", "HttpClient", "DatabaseWriter"] {
            assert_eq!(pascal(&snake(n)), n);
        }
    }

    #[test]
    fn class_and_file_names() {
        assert_eq!(
            node_dir_name("infrastructure", "postgres_writer", NodeType::Effect),
            "node_infrastructure_postgres_writer_effect"
        );
        assert_eq!(
            node_class("PostgresWriter", NodeType::Effect),
            "NodePostgresWriterEffect"
        );
        assert_eq!(
            node_class("WorkflowCoordinator", NodeType::Orchestrator),
            "NodeWorkflowCoordinatorOrchestrator"
        );
        let n = NodeNames::new("PostgresCRUD", "postgres_crud", "data", NodeType::Compute);
        assert_eq!(n.node_dir, "node_data_postgres_crud_compute");
        assert_eq!(n.node_class, "NodePostgresCRUDCompute");
        assert_eq!(n.base_class, "NodeCompute");
        assert_eq!(n.input_model, "ModelPostgresCRUDInput");
        assert_eq!(n.output_model, "ModelPostgresCRUDOutput");
        assert_eq!(n.config_model, "ModelPostgresCRUDConfig");
        assert_eq!(n.contract_model, "ModelPostgresCRUDComputeContract");
        assert_eq!(n.operation_enum, "EnumPostgresCRUDOperationType");
        assert_eq!(n.contract_node_name, "postgres_crud_compute");
        assert_eq!(n.contract_name, "postgres_crud_compute_contract");
        assert_eq!(
            n.namespace,
            "omninode.generated.data.node_postgres_crud_compute"
        );
        assert_eq!(n.input_model_file, "model_postgres_crud_input.py");
        assert_eq!(
            n.contract_model_file,
            "model_postgres_crud_compute_contract.py"
        );
        assert_eq!(
            n.operation_enum_file,
            "enum_postgres_crud_operation_type.py"
        );
    }
}
