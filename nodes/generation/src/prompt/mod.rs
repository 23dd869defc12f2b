//! Prompt parsing (docs/generation.md §3): a pure, deterministic function from a prompt to
//! a [`ParsedPrompt`], and the naming helpers (docs/generation.md §4.2) shared by generation, G10 and G14.

pub mod naming;
pub mod parse;

pub use parse::{PromptError, parse};

use serde::{Deserialize, Serialize};

/// The four node types a prompt can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NodeType {
    Effect,
    Compute,
    Reducer,
    Orchestrator,
}

impl NodeType {
    pub const ALL: [NodeType; 4] = [
        NodeType::Effect,
        NodeType::Compute,
        NodeType::Reducer,
        NodeType::Orchestrator,
    ];

    /// `EFFECT`
    pub fn as_upper(self) -> &'static str {
        match self {
            NodeType::Effect => "EFFECT",
            NodeType::Compute => "COMPUTE",
            NodeType::Reducer => "REDUCER",
            NodeType::Orchestrator => "ORCHESTRATOR",
        }
    }

    /// `effect` (the spec's `{type}`)
    pub fn as_lower(self) -> &'static str {
        match self {
            NodeType::Effect => "effect",
            NodeType::Compute => "compute",
            NodeType::Reducer => "reducer",
            NodeType::Orchestrator => "orchestrator",
        }
    }

    /// `Effect` (the spec's `{Type}`)
    pub fn as_capitalised(self) -> &'static str {
        match self {
            NodeType::Effect => "Effect",
            NodeType::Compute => "Compute",
            NodeType::Reducer => "Reducer",
            NodeType::Orchestrator => "Orchestrator",
        }
    }

    /// Parses any case of the four type words.
    pub fn parse(s: &str) -> Option<NodeType> {
        NodeType::ALL
            .into_iter()
            .find(|t| t.as_upper().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_upper())
    }
}

/// Where the service name came from (docs/generation.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Explicit,
    SystemRole,
    Slug,
    Fallback,
}

/// Where the domain came from (docs/generation.md §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainSource {
    Explicit,
    Keyword,
    Default,
}

/// The result of parsing a prompt (docs/generation.md §3.9). Field names are those of the event payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedPrompt {
    /// The verbatim prompt.
    pub prompt: String,
    pub node_type: NodeType,
    pub type_confidence: f64,
    /// PascalCase node name (`DatabaseWriter`).
    pub node_name: String,
    /// snake_case service name (`database_writer`).
    pub service_name: String,
    pub name_confidence: f64,
    pub name_source: NameSource,
    pub domain: String,
    pub domain_confidence: f64,
    pub domain_source: DomainSource,
    /// Whitespace-collapsed, trimmed, ≤ 1000 chars.
    pub description: String,
    pub functional_requirements: Vec<String>,
    /// Canonical system names in first-mention order: PostgreSQL, Redis, Kafka, S3, API, SMTP,
    /// MongoDB, Elasticsearch.
    pub external_systems: Vec<String>,
    /// docs/generation.md §3.8, rounded to 3 decimals.
    pub confidence_score: f64,
}
