//! The prompt parser (docs/generation.md §3): one pure, deterministic function from a prompt
//! (and an optional requested node type) to a [`ParsedPrompt`].
//!
//! Determinism: keyword tables are static slices scanned in a fixed order, never hash sets, and
//! there is no randomness (the original's fallback name drew from an unordered set and varied per
//! process). Every regex is compiled once ([`LazyLock`]), so a parse costs microseconds.
//!
//! Vocabulary used below (docs/generation.md §3): **words** are the maximal letter/digit runs of the lowercased
//! prompt; an occurrence is **negated** when one of the 3 words before it is no/not/without/non.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::naming::{pascal, snake};
use super::{DomainSource, NameSource, NodeType, ParsedPrompt};

/// The error code of every rejection (docs/generation.md §3.1).
pub const INVALID_PROMPT: &str = "INVALID_PROMPT";

/// The suggestion of every rejection (docs/generation.md §3.1).
pub const REJECTION_SUGGESTION: &str = "Describe the node in one sentence: type, name, purpose";

/// Minimum and maximum prompt length in characters, after trimming (docs/generation.md §3.1).
pub const MIN_PROMPT_CHARS: usize = 10;
pub const MAX_PROMPT_CHARS: usize = 10_000;

/// Maximum description length in characters (docs/generation.md §3.5).
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Maximum number of functional requirements (docs/generation.md §3.6).
pub const MAX_REQUIREMENTS: usize = 10;

/// A rejected prompt (docs/generation.md §3.1): parsing fails and no gate runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PromptError {
    /// Always [`INVALID_PROMPT`].
    pub code: &'static str,
    pub message: String,
    pub suggestion: String,
}

impl PromptError {
    fn invalid(message: String) -> Self {
        PromptError {
            code: INVALID_PROMPT,
            message,
            suggestion: REJECTION_SUGGESTION.to_string(),
        }
    }
}

/// Parses a prompt (docs/generation.md §3). `requested` (the `--type` flag / `requested_node_type`) overrides the
/// detected node type with confidence 1.0.
pub fn parse(prompt: &str, requested: Option<NodeType>) -> Result<ParsedPrompt, PromptError> {
    let trimmed = prompt.trim();
    let n = trimmed.chars().count();
    if n == 0 {
        return Err(PromptError::invalid("Prompt is empty".into()));
    }
    if n < MIN_PROMPT_CHARS {
        return Err(PromptError::invalid(format!(
            "Prompt too short ({n} characters, minimum {MIN_PROMPT_CHARS})"
        )));
    }
    if n > MAX_PROMPT_CHARS {
        return Err(PromptError::invalid("Prompt too long".into()));
    }

    let words = words(prompt);
    let (node_type, type_confidence) = match requested {
        Some(t) => (t, 1.0),
        None => detect_node_type(prompt, &words),
    };
    let systems = detect_systems(&words);
    let domain = detect_domain(prompt, &words);
    let name = detect_name(prompt, &words, node_type, &systems, domain.span.clone());
    let description = describe(prompt);
    let functional_requirements = requirements(prompt);

    let mut parsed = ParsedPrompt {
        prompt: prompt.to_string(),
        node_type,
        type_confidence: round3(type_confidence),
        node_name: name.node_name,
        service_name: name.service_name,
        name_confidence: name.confidence,
        name_source: name.source,
        domain: domain.domain,
        domain_confidence: domain.confidence,
        domain_source: domain.source,
        description,
        functional_requirements,
        external_systems: systems
            .iter()
            .map(|s| s.0.canonical().to_string())
            .collect(),
        confidence_score: 0.0,
    };
    parsed.confidence_score = confidence_score(&parsed);
    Ok(parsed)
}

/// Number of words (docs/generation.md §3) of a prompt: what gate G7 ("≥ 5 words") counts.
pub fn word_count(prompt: &str) -> usize {
    words(prompt).len()
}

/// docs/generation.md §3.8, from the fields of a parsed prompt (so the score can be recomputed from the event
/// payload alone): min(1, 0.3·type + 0.3·name + 0.2·domain + 0.12 [type = 1.0]
/// + min(0.03·#requirements, 0.1) + 0.05 [description ≥ 20 chars] + 0.05 [≥ 50 chars]).
pub fn confidence_score(p: &ParsedPrompt) -> f64 {
    let desc_chars = p.description.chars().count();
    let mut c = 0.3 * p.type_confidence + 0.3 * p.name_confidence + 0.2 * p.domain_confidence;
    if p.type_confidence >= 1.0 {
        c += 0.12;
    }
    c += (0.03 * p.functional_requirements.len() as f64).min(0.1);
    if desc_chars >= 20 {
        c += 0.05;
    }
    if desc_chars >= 50 {
        c += 0.05;
    }
    round3(c.min(1.0))
}

/// The docs/generation.md §3.8 band of a confidence score: `excellent` (≥ 0.9), `good` (0.7–0.9), `review`
/// (0.5–0.7) or `weak` (< 0.5), each band including its lower bound.
pub fn confidence_band(score: f64) -> &'static str {
    if score >= 0.9 {
        "excellent"
    } else if score >= 0.7 {
        "good"
    } else if score >= 0.5 {
        "review"
    } else {
        "weak"
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------
// Words and negation

/// One word, lowercased.
#[derive(Debug)]
struct Word {
    text: String,
}

/// Maximal letter/digit runs, lowercased (`_`, `-`, spaces and punctuation separate).
fn words(s: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(b)) => {
                out.push(Word {
                    text: s[b..i].to_lowercase(),
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(b) = start {
        out.push(Word {
            text: s[b..].to_lowercase(),
        });
    }
    out
}

/// Whether the occurrence starting at word `i` is negated.
fn negated(words: &[Word], i: usize) -> bool {
    words[i.saturating_sub(3)..i]
        .iter()
        .any(|w| matches!(w.text.as_str(), "no" | "not" | "without" | "non"))
}

const TYPE_WORDS: [(&str, NodeType); 4] = [
    ("effect", NodeType::Effect),
    ("compute", NodeType::Compute),
    ("reducer", NodeType::Reducer),
    ("orchestrator", NodeType::Orchestrator),
];

fn type_word(w: &str) -> Option<NodeType> {
    TYPE_WORDS.iter().find(|(t, _)| *t == w).map(|(_, nt)| *nt)
}

/// Compiles a regex literal of this module; they are tested, so failure is a build defect.
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("prompt parser regex {pattern:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// docs/generation.md §3.2 node_type

static TYPE_NODE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(effect|compute|reducer|orchestrator)[\s_-]+node\b"));
static TYPE_COLON: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:\bnode[ _]type|\btype)\s*:\s*(effect|compute|reducer|orchestrator)\b")
});

/// Indicator roots per type, in tie-break order (EFFECT > COMPUTE > REDUCER > ORCHESTRATOR).
const INDICATORS: [(NodeType, &[&str]); 4] = [
    (
        NodeType::Effect,
        &[
            "create", "write", "send", "delete", "update", "store", "save",
        ],
    ),
    (
        NodeType::Compute,
        &[
            "calculate",
            "calculation",
            "process",
            "processing",
            "transform",
            "analyze",
            "analysis",
            "compute",
            "validate",
            "validation",
        ],
    ),
    (
        NodeType::Reducer,
        &[
            "aggregate",
            "aggregation",
            "summarize",
            "reduce",
            "reduction",
            "combine",
            "merge",
            "consolidate",
        ],
    ),
    (
        NodeType::Orchestrator,
        &[
            "coordinate",
            "coordination",
            "orchestrate",
            "orchestration",
            "manage",
            "management",
            "workflow",
            "pipeline",
        ],
    ),
];

/// Whether `word` is `root`, `root`+s or `root`+es.
fn is_root_form(word: &str, root: &str) -> bool {
    match word.strip_prefix(root) {
        Some(rest) => matches!(rest, "" | "s" | "es"),
        None => false,
    }
}

fn detect_node_type(prompt: &str, words: &[Word]) -> (NodeType, f64) {
    // (1) explicit: earliest of `<type> node`, `node type: <type>`, `node_type: <type>`,
    // `type: <type>`.
    let explicit = [&*TYPE_NODE, &*TYPE_COLON]
        .into_iter()
        .filter_map(|r| r.captures(prompt))
        .filter_map(|c| {
            let m = c.get(1)?;
            Some((c.get(0)?.start(), type_word(&m.as_str().to_lowercase())?))
        })
        .min_by_key(|(pos, _)| *pos);
    if let Some((_, t)) = explicit {
        return (t, 1.0);
    }
    // (2) a bare type word, earliest.
    if let Some(t) = words.iter().find_map(|w| type_word(&w.text)) {
        return (t, 0.9);
    }
    // (3) distinct indicator roots per type; the first type in tie-break order wins ties.
    let mut best: Option<(NodeType, usize)> = None;
    for (t, roots) in INDICATORS {
        let count = roots
            .iter()
            .filter(|root| words.iter().any(|w| is_root_form(&w.text, root)))
            .count();
        if count > 0 && best.is_none_or(|(_, c)| count > c) {
            best = Some((t, count));
        }
    }
    match best {
        Some((t, count)) => (t, (count as f64 / 3.0).min(0.8)),
        // (4) default.
        None => (NodeType::Effect, 0.5),
    }
}

// ---------------------------------------------------------------------------------------------
// docs/generation.md §3.7 external systems

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    PostgreSql,
    Redis,
    Kafka,
    S3,
    Api,
    Smtp,
    MongoDb,
    Elasticsearch,
}

impl System {
    fn canonical(self) -> &'static str {
        match self {
            System::PostgreSql => "PostgreSQL",
            System::Redis => "Redis",
            System::Kafka => "Kafka",
            System::S3 => "S3",
            System::Api => "API",
            System::Smtp => "SMTP",
            System::MongoDb => "MongoDB",
            System::Elasticsearch => "Elasticsearch",
        }
    }

    /// The `<short>` of a rule-2 service name (docs/generation.md §3.3).
    fn short(self) -> &'static str {
        match self {
            System::PostgreSql => "postgres",
            System::Redis => "redis",
            System::Kafka => "kafka",
            System::S3 => "s3",
            System::Api => "http",
            System::Smtp => "email",
            System::MongoDb => "mongo",
            System::Elasticsearch => "elasticsearch",
        }
    }
}

/// Single-word system keywords (docs/generation.md §3.7). Also the keywords rule 1 refuses as a name.
const SYSTEM_WORDS: &[(&str, System)] = &[
    ("postgres", System::PostgreSql),
    ("postgresql", System::PostgreSql),
    ("pg", System::PostgreSql),
    ("psql", System::PostgreSql),
    ("database", System::PostgreSql),
    ("databases", System::PostgreSql),
    ("db", System::PostgreSql),
    ("sql", System::PostgreSql),
    ("redis", System::Redis),
    ("valkey", System::Redis),
    ("cache", System::Redis),
    ("caches", System::Redis),
    ("cached", System::Redis),
    ("caching", System::Redis),
    ("kafka", System::Kafka),
    ("redpanda", System::Kafka),
    ("s3", System::S3),
    ("api", System::Api),
    ("apis", System::Api),
    ("rest", System::Api),
    ("restful", System::Api),
    ("http", System::Api),
    ("https", System::Api),
    ("endpoint", System::Api),
    ("endpoints", System::Api),
    ("smtp", System::Smtp),
    ("email", System::Smtp),
    ("emails", System::Smtp),
    ("mail", System::Smtp),
    ("mongo", System::MongoDb),
    ("mongodb", System::MongoDb),
    ("nosql", System::MongoDb),
    ("elastic", System::Elasticsearch),
    ("elasticsearch", System::Elasticsearch),
];

/// Two-word system keywords (docs/generation.md §3.7).
const SYSTEM_PHRASES: &[(&str, &str, System)] = &[
    ("event", "stream", System::Kafka),
    ("event", "streams", System::Kafka),
    ("message", "queue", System::Kafka),
    ("message", "queues", System::Kafka),
    ("object", "storage", System::S3),
    ("blob", "storage", System::S3),
    ("search", "engine", System::Elasticsearch),
];

/// Systems in first-mention order, each with the index of its first non-negated mention.
fn detect_systems(words: &[Word]) -> Vec<(System, usize)> {
    let mut found: Vec<(System, usize)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let single = SYSTEM_WORDS
            .iter()
            .find(|(k, _)| *k == w.text)
            .map(|(_, s)| *s);
        let phrase = words.get(i + 1).and_then(|next| {
            SYSTEM_PHRASES
                .iter()
                .find(|(a, b, _)| *a == w.text && *b == next.text)
                .map(|(_, _, s)| *s)
        });
        for s in [single, phrase].into_iter().flatten() {
            if !negated(words, i) && !found.iter().any(|(f, _)| *f == s) {
                found.push((s, i));
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// docs/generation.md §3.4 domain

struct Domain {
    domain: String,
    confidence: f64,
    source: DomainSource,
    /// Byte range of the explicit domain phrase (blanked for the slug of rule 3).
    span: Option<Range<usize>>,
}

static DOMAIN_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bdomain\s*[:=]\s*([A-Za-z][A-Za-z0-9_-]*)"));
static DOMAIN_IN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bin\s+(?:the\s+)?([A-Za-z][A-Za-z0-9_-]*)\s+domain\b"));
static DOMAIN_PAREN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\(\s*([A-Za-z][A-Za-z0-9_-]*)\s+domain\s*\)"));
static DOMAIN_IN_IDENT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bin\s+([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*)\b"));

/// Words that can sit where `x` is in `in [the] x domain` but name no domain.
const NOT_A_DOMAIN: &[&str] = &[
    "the", "a", "an", "this", "that", "its", "our", "my", "your", "their", "domain", "same", "any",
];

/// Domain keyword table (docs/generation.md §3.4), in table order.
const DOMAIN_KEYWORDS: [(&str, &[&str]); 7] = [
    (
        "infrastructure",
        &[
            "database",
            "databases",
            "db",
            "postgres",
            "postgresql",
            "sql",
            "mysql",
            "redis",
            "cache",
            "caches",
            "caching",
            "storage",
            "s3",
            "mongo",
            "mongodb",
            "elasticsearch",
            "persistence",
        ],
    ),
    (
        "api",
        &[
            "api",
            "apis",
            "http",
            "https",
            "rest",
            "restful",
            "graphql",
            "endpoint",
            "endpoints",
            "webhook",
            "webhooks",
        ],
    ),
    (
        "messaging",
        &[
            "kafka",
            "redpanda",
            "queue",
            "queues",
            "message",
            "messages",
            "messaging",
            "event",
            "events",
            "topic",
            "topics",
            "rabbitmq",
        ],
    ),
    (
        "notification",
        &[
            "email",
            "emails",
            "smtp",
            "mail",
            "notification",
            "notifications",
            "notify",
            "alert",
            "alerts",
            "sms",
        ],
    ),
    (
        "auth",
        &[
            "auth",
            "authentication",
            "authorization",
            "login",
            "oauth",
            "jwt",
            "security",
            "permission",
            "permissions",
        ],
    ),
    (
        "analytics",
        &[
            "analytics",
            "metric",
            "metrics",
            "monitoring",
            "statistics",
            "telemetry",
        ],
    ),
    (
        "data",
        &[
            "etl",
            "transform",
            "transforms",
            "transformation",
            "transformations",
            "ingestion",
            "processing",
            "normalization",
        ],
    ),
];

/// The earliest match of any of `regexes` whose capture 1 snake-cases to a usable domain.
fn earliest_domain(prompt: &str, regexes: &[&Regex]) -> Option<(String, Range<usize>)> {
    let mut best: Option<(String, Range<usize>)> = None;
    for r in regexes {
        for c in r.captures_iter(prompt) {
            let (Some(all), Some(x)) = (c.get(0), c.get(1)) else {
                continue;
            };
            if best.as_ref().is_some_and(|(_, b)| b.start <= all.start()) {
                break;
            }
            let raw = x.as_str().to_lowercase();
            if NOT_A_DOMAIN.contains(&raw.as_str()) {
                continue;
            }
            let d = snake(x.as_str());
            if d.starts_with(|c: char| c.is_ascii_lowercase()) {
                best = Some((d, all.range()));
                break;
            }
        }
    }
    best
}

fn detect_domain(prompt: &str, words: &[Word]) -> Domain {
    if let Some((domain, span)) = earliest_domain(prompt, &[&DOMAIN_KEY, &DOMAIN_IN, &DOMAIN_PAREN])
    {
        return Domain {
            domain,
            confidence: 1.0,
            source: DomainSource::Explicit,
            span: Some(span),
        };
    }
    if let Some((domain, span)) = earliest_domain(prompt, &[&DOMAIN_IN_IDENT]) {
        return Domain {
            domain,
            confidence: 0.9,
            source: DomainSource::Explicit,
            span: Some(span),
        };
    }
    for (domain, keywords) in DOMAIN_KEYWORDS {
        let hit = words
            .iter()
            .enumerate()
            .any(|(i, w)| keywords.contains(&w.text.as_str()) && !negated(words, i));
        if hit {
            return Domain {
                domain: domain.to_string(),
                confidence: 0.7,
                source: DomainSource::Keyword,
                span: None,
            };
        }
    }
    Domain {
        domain: "general".into(),
        confidence: 0.3,
        source: DomainSource::Default,
        span: None,
    }
}

// ---------------------------------------------------------------------------------------------
// docs/generation.md §3.3 node_name / service_name

struct Name {
    node_name: String,
    service_name: String,
    confidence: f64,
    source: NameSource,
}

/// N = `[A-Za-z][A-Za-z0-9_]*`, whole (the trailing `\b` refuses a prefix of a longer word).
const N: &str = r"([A-Za-z][A-Za-z0-9_]*)\b";

static NAME_CALLED: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i:\b(?:called|named))\s+{N}")));
static NAME_KEY: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i:\bname)\s*:\s*{N}")));
static NAME_AFTER_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i:\b(?:effect|compute|reducer|orchestrator)\s+node\b)(?:\s*:\s*|\s+){N}"
    ))
});
static NAME_BEFORE_NODE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b([A-Za-z][A-Za-z0-9_]*)\s+(?i:(?:effect|compute|reducer|orchestrator)\s+)?(?i:node)\b")
});
static NAME_FOR: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i:\bfor)\s+{N}")));
static COMPOUND_CAMEL: LazyLock<Regex> = LazyLock::new(|| re(r"[a-z0-9][A-Z]"));

/// Words rule 1 never takes as a name (besides type words, NODE and docs/generation.md §3.7 keywords).
const NAME_STOPWORDS: &[&str] = &[
    "create", "build", "generate", "make", "the", "a", "an", "new", "node", "this", "that", "it",
    "name", "domain", "should", "must", "will",
];

fn valid_explicit_name(n: &str) -> bool {
    let lower = n.to_ascii_lowercase();
    n.len() >= 2
        && n.starts_with(|c: char| c.is_ascii_uppercase())
        && type_word(&lower).is_none()
        && !NAME_STOPWORDS.contains(&lower.as_str())
        && !SYSTEM_WORDS.iter().any(|(k, _)| *k == lower)
        && !snake(n).is_empty()
}

/// Every match of `r` by increasing start position, overlapping ones included ("match by
/// match"): a match whose N is refused must not hide a later one that starts inside it.
fn each_capture<'t>(r: &Regex, text: &'t str, mut f: impl FnMut(&'t str) -> bool) -> bool {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(c) = r.captures_at(text, pos) else {
            return false;
        };
        let (Some(all), Some(n)) = (c.get(0), c.get(1)) else {
            return false;
        };
        if f(n.as_str()) {
            return true;
        }
        // Next start: one character after this match's start.
        pos = all.start() + text[all.start()..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

fn explicit_name(prompt: &str, words: &[Word]) -> Option<String> {
    // Patterns (c) and (d) need the whole word "node". Checking for it first skips the one
    // pattern that is slow on long non-ASCII text (a leading class with a Unicode `\b`).
    let has_node = words.iter().any(|w| w.text == "node");
    let mut found = None;
    let patterns: [(&Regex, bool); 5] = [
        (&NAME_CALLED, false),
        (&NAME_KEY, false),
        (&NAME_AFTER_TYPE, false),
        (&NAME_BEFORE_NODE, false),
        (&NAME_FOR, true),
    ];
    for (r, needs_compound) in patterns {
        if !has_node && (std::ptr::eq(r, &*NAME_AFTER_TYPE) || std::ptr::eq(r, &*NAME_BEFORE_NODE))
        {
            continue;
        }
        let hit = each_capture(r, prompt, |n| {
            let ok = valid_explicit_name(n) && (!needs_compound || COMPOUND_CAMEL.is_match(n));
            if ok {
                found = Some(n.to_string());
            }
            ok
        });
        if hit {
            return found;
        }
    }
    None
}

/// Role words of rule 2 for EFFECT nodes, in the spec's order.
const ROLE_WORDS: [(&str, &[&str]); 6] = [
    (
        "writer",
        &[
            "write", "writes", "writing", "writer", "insert", "inserts", "store", "stores", "save",
            "saves", "persist", "persists", "update", "updates", "delete", "deletes",
        ],
    ),
    (
        "reader",
        &[
            "read",
            "reads",
            "reading",
            "reader",
            "fetch",
            "fetches",
            "query",
            "queries",
            "retrieve",
            "retrieves",
        ],
    ),
    (
        "publisher",
        &[
            "publish",
            "publishes",
            "publishing",
            "publisher",
            "produce",
            "produces",
            "emit",
            "emits",
        ],
    ),
    (
        "consumer",
        &[
            "consume",
            "consumes",
            "consuming",
            "consumer",
            "subscribe",
            "subscribes",
        ],
    ),
    ("sender", &["send", "sends", "sending", "sender"]),
    ("uploader", &["upload", "uploads", "uploading", "uploader"]),
];

fn system_role(words: &[Word], node_type: NodeType, system: System) -> &'static str {
    match node_type {
        NodeType::Compute => return "processor",
        NodeType::Reducer => return "aggregator",
        NodeType::Orchestrator => return "coordinator",
        NodeType::Effect => {}
    }
    let live = |i: usize| !negated(words, i);
    if system == System::Redis
        && words.iter().enumerate().any(|(i, w)| {
            matches!(w.text.as_str(), "cache" | "caches" | "cached" | "caching") && live(i)
        })
    {
        return "cache";
    }
    if system == System::Api {
        return "client";
    }
    words
        .iter()
        .enumerate()
        .filter(|(i, _)| live(*i))
        .find_map(|(_, w)| {
            ROLE_WORDS
                .iter()
                .find(|(_, forms)| forms.contains(&w.text.as_str()))
                .map(|(role, _)| *role)
        })
        .unwrap_or("client")
}

fn detect_name(
    prompt: &str,
    words: &[Word],
    node_type: NodeType,
    systems: &[(System, usize)],
    domain_span: Option<Range<usize>>,
) -> Name {
    if let Some(n) = explicit_name(prompt, words) {
        let service_name = snake(&n);
        let pascal_ok = n.bytes().all(|b| b.is_ascii_alphanumeric());
        let node_name = if pascal_ok { n } else { pascal(&service_name) };
        return Name {
            node_name,
            service_name,
            confidence: 1.0,
            source: NameSource::Explicit,
        };
    }
    if let Some(&(system, _)) = systems.first() {
        let service_name = format!(
            "{}_{}",
            system.short(),
            system_role(words, node_type, system)
        );
        return Name {
            node_name: pascal(&service_name),
            service_name,
            confidence: 0.5,
            source: NameSource::SystemRole,
        };
    }
    match slug(prompt, domain_span) {
        Some(service_name) => Name {
            node_name: pascal(&service_name),
            service_name,
            confidence: 0.3,
            source: NameSource::Slug,
        },
        None => Name {
            node_name: pascal(FALLBACK_SERVICE_NAME),
            service_name: FALLBACK_SERVICE_NAME.to_string(),
            confidence: 0.3,
            source: NameSource::Fallback,
        },
    }
}

/// The service name when the slug keeps no word (docs/generation.md §3.3 rule 3).
pub const FALLBACK_SERVICE_NAME: &str = "generated_service";

/// Maximum length of a slug service name (docs/generation.md §3.3 rule 3; G3's limit).
const MAX_SLUG_CHARS: usize = 64;

/// A scan word: letters/digits, `_`/`-` inside joining the parts.
static SCAN_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"[\p{L}\p{N}]+(?:[_-]+[\p{L}\p{N}]+)*"));
static FOR_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bfor\b"));

const SLUG_FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "new",
    "node",
    "nodes",
    "effect",
    "compute",
    "reducer",
    "orchestrator",
    "operation",
    "operations",
    "functionality",
    "logic",
    "support",
    "something",
    "anything",
    "stuff",
    "thing",
    "things",
    "some",
    "domain",
    // the imperative instruction verbs (only these forms: "calculates" is kept)
    "create",
    "build",
    "generate",
    "make",
    "add",
    "implement",
];

const SLUG_CLAUSE: &[&str] = &[
    "that",
    "which",
    "who",
    "with",
    "using",
    "via",
    "including",
    "in",
    "on",
    "from",
    "into",
    "to",
    "and",
    "or",
    "should",
    "will",
    "must",
    "by",
    "for",
];

/// Rule 3: the slug of the text after the first sentence's first `for`, else of the first
/// sentence, else of the whole prompt; the explicit domain phrase is blanked first.
fn slug(prompt: &str, domain_span: Option<Range<usize>>) -> Option<String> {
    let mut text = prompt.to_string();
    if let Some(r) = domain_span {
        // Same byte length, so no offset moves; the range is a regex match, on char boundaries.
        text.replace_range(r.clone(), &" ".repeat(r.len()));
    }
    let body_start = text.len() - text.trim_start().len();
    let sentence_end = text[body_start..]
        .find(['.', '!', '?', '\n'])
        .map_or(text.len(), |i| body_start + i);
    let first = &text[body_start..sentence_end];
    if let Some(s) = FOR_WORD
        .find(first)
        .and_then(|m| scan_slug(&first[m.end()..]))
    {
        return Some(s);
    }
    scan_slug(first).or_else(|| scan_slug(&text))
}

fn scan_slug(text: &str) -> Option<String> {
    let tokens: Vec<(String, Range<usize>)> = SCAN_WORD
        .find_iter(text)
        .map(|m| (m.as_str().to_lowercase(), m.range()))
        .collect();
    let mut kept: Vec<String> = Vec::new();
    let mut prev_end: Option<usize> = None;
    for (i, (w, range)) in tokens.iter().enumerate() {
        // Punctuation between two scan words ends the scan once a word is kept.
        let punct_before =
            prev_end.is_some_and(|p| text[p..range.start].chars().any(|c| !c.is_whitespace()));
        if punct_before && !kept.is_empty() {
            break;
        }
        prev_end = Some(range.end);
        let w = w.as_str();
        if SLUG_FILLER.contains(&w) {
            continue;
        }
        if w == "write"
            && tokens
                .get(i + 1)
                .is_some_and(|(n, _)| n == "a" || n == "an")
        {
            continue;
        }
        if SLUG_CLAUSE.contains(&w) {
            if kept.is_empty() {
                continue;
            }
            break;
        }
        let part = ascii_identifier(w);
        if part.is_empty() {
            // Nothing of it survives as an identifier (e.g. only non-ASCII letters).
            continue;
        }
        kept.push(part);
        if kept.len() == 3 {
            break;
        }
    }
    if kept.is_empty() {
        return None;
    }
    let mut s = kept.join("_");
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "svc_");
    }
    s.truncate(MAX_SLUG_CHARS);
    while s.ends_with('_') {
        s.pop();
    }
    Some(s)
}

/// Lowercase ASCII letters and digits of a scan word; `-`/`_` become one `_`; other characters
/// (non-ASCII letters) are dropped, so the result fits G3's identifier pattern.
fn ascii_identifier(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c == '_' || c == '-') && !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// docs/generation.md §3.5 description, §3.6 requirements

fn describe(prompt: &str) -> String {
    let collapsed = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        Some((cut, _)) => collapsed[..cut].trim_end().to_string(),
        None => collapsed,
    }
}

static BULLET: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[-*•]|\d+[.)])\s+(\S.*)$"));
static MODAL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(?:should|must|will|shall)\b"));
static ACTION_VERB: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:creates?|updates?|deletes?|sends?|process(?:es)?|validates?|calculates?|aggregates?|manages?|coordinates?)\b",
    )
});
static AND_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\band\b"));

/// Minimum length (exclusive) of a modal or verb phrase requirement.
const MIN_PHRASE_CHARS: usize = 5;

/// Where phrases end (docs/generation.md §3.6): byte offsets of every `.` `;` `,` newline and whole word "and",
/// sorted. Computed once per prompt, so cutting k phrases costs O(k log n), not O(k·n).
struct Delimiters(Vec<usize>);

impl Delimiters {
    fn of(prompt: &str) -> Self {
        let mut at: Vec<usize> = prompt
            .bytes()
            .enumerate()
            .filter(|(_, b)| matches!(b, b'.' | b';' | b',' | b'\n'))
            .map(|(i, _)| i)
            .collect();
        at.extend(AND_WORD.find_iter(prompt).map(|m| m.start()));
        at.sort_unstable();
        Delimiters(at)
    }

    /// The trimmed text from `from` up to the next delimiter.
    fn phrase<'p>(&self, prompt: &'p str, from: usize) -> &'p str {
        let i = self.0.partition_point(|&d| d < from);
        let end = self.0.get(i).copied().unwrap_or(prompt.len());
        prompt[from..end].trim()
    }
}

/// More than [`MIN_PHRASE_CHARS`] characters, without counting a long phrase to its end.
fn long_enough(phrase: &str) -> bool {
    phrase.chars().nth(MIN_PHRASE_CHARS).is_some()
}

/// "Create a new EFFECT node …": a phrase whose object (after its first word, the verb) is
/// `[a|an|new] [<type>] node`. The object may also carry the node's explicit name before the
/// type, as rule 1 (d) of docs/generation.md §3.3 reads it ("Create PostgresCRUD EFFECT node"): that phrase is the
/// instruction too, and the spec never counts the instruction as a requirement.
fn is_instruction(phrase: &str) -> bool {
    const INSTRUCTION_WINDOW: usize = 16;
    // The object is a handful of words: never tokenise a long phrase to its end.
    let tokens: Vec<&str> = phrase
        .split_whitespace()
        .map(|t| t.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|t| !t.is_empty())
        .take(INSTRUCTION_WINDOW)
        .collect();
    let lower: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();
    let is_node_or_type = |i: usize| {
        lower
            .get(i)
            .is_some_and(|w| w == "node" || type_word(w).is_some())
    };
    let mut i = 1;
    while lower
        .get(i)
        .is_some_and(|w| matches!(w.as_str(), "a" | "an" | "new"))
    {
        i += 1;
    }
    if tokens.get(i).is_some_and(|t| valid_explicit_name(t)) && is_node_or_type(i + 1) {
        i += 1;
    }
    if lower.get(i).is_some_and(|w| type_word(w).is_some()) {
        i += 1;
    }
    lower.get(i).is_some_and(|w| w == "node")
}

fn requirements(prompt: &str) -> Vec<String> {
    let mut candidates: Vec<&str> = Vec::new();
    for line in prompt.lines() {
        if let Some(m) = BULLET.captures(line.trim()).and_then(|c| c.get(1)) {
            candidates.push(m.as_str().trim());
        }
    }
    let delimiters = Delimiters::of(prompt);
    for m in MODAL.find_iter(prompt) {
        let p = delimiters.phrase(prompt, m.end());
        if long_enough(p) {
            candidates.push(p);
        }
    }
    for m in ACTION_VERB.find_iter(prompt) {
        let p = delimiters.phrase(prompt, m.start());
        if long_enough(p) {
            candidates.push(p);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for c in candidates {
        if c.is_empty() || is_instruction(c) {
            continue;
        }
        let key = c.to_lowercase();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(c.to_string());
        if out.len() == MAX_REQUIREMENTS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ParsedPrompt {
        parse(s, None).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn rejections() {
        let e = parse("", None).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (INVALID_PROMPT, "Prompt is empty")
        );
        assert_eq!(e.suggestion, REJECTION_SUGGESTION);
        assert_eq!(
            parse(" \n\t  ", None).unwrap_err().message,
            "Prompt is empty"
        );
        assert_eq!(
            parse("  node  ", None).unwrap_err().message,
            "Prompt too short (4 characters, minimum 10)"
        );
        // Characters, not bytes: 9 two-byte characters are still too short.
        assert_eq!(
            parse("ééééééééé", None).unwrap_err().message,
            "Prompt too short (9 characters, minimum 10)"
        );
        assert!(parse("éééééééééé", None).is_ok());
        let long = "a".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(parse(&long, None).unwrap_err().message, "Prompt too long");
        assert!(parse(&"a ".repeat(MAX_PROMPT_CHARS / 2), None).is_ok());
    }

    #[test]
    fn node_type_rules() {
        let t = |s: &str| {
            let x = p(s);
            (x.node_type, x.type_confidence)
        };
        assert_eq!(t("Build a compute node"), (NodeType::Compute, 1.0));
        assert_eq!(
            t("ORCHESTRATOR node that Coordinates COMPUTE nodes"),
            (NodeType::Orchestrator, 1.0)
        );
        assert_eq!(t("Node for processing"), (NodeType::Compute, 0.333));
        assert_eq!(
            t("something with node_type: reducer"),
            (NodeType::Reducer, 1.0)
        );
        assert_eq!(
            t("node type: Orchestrator please"),
            (NodeType::Orchestrator, 1.0)
        );
        assert_eq!(t("a thing of type: compute"), (NodeType::Compute, 1.0));
        // "nodes" is not "node": rule 2 (bare type word), earliest.
        assert_eq!(t("reducer nodes and effect"), (NodeType::Reducer, 0.9));
        // Rule 3: distinct roots, capped at 0.8.
        assert_eq!(
            t("create, write, send, delete things"),
            (NodeType::Effect, 0.8)
        );
        assert_eq!(t("Node that writes and stores"), (NodeType::Effect, 0.667));
        // Ties: EFFECT > COMPUTE > REDUCER > ORCHESTRATOR.
        assert_eq!(t("merges and calculates"), (NodeType::Compute, 0.333));
        assert_eq!(t("merges and coordinates"), (NodeType::Reducer, 0.333));
        assert_eq!(t("PostgreSQL database operations"), (NodeType::Effect, 0.5));
        // requested overrides.
        let x = parse("Build a compute node", Some(NodeType::Reducer)).unwrap();
        assert_eq!((x.node_type, x.type_confidence), (NodeType::Reducer, 1.0));
    }

    #[test]
    fn explicit_names() {
        let n = |s: &str| {
            let x = p(s);
            (x.node_name, x.service_name, x.name_source)
        };
        let e = NameSource::Explicit;
        for (prompt, node, svc) in [
            (
                "EFFECT node called PostgresCRUD",
                "PostgresCRUD",
                "postgres_crud",
            ),
            ("EFFECT node called RestAPI", "RestAPI", "rest_api"),
            (
                "EFFECT node named SQLConnector",
                "SQLConnector",
                "sql_connector",
            ),
            ("EFFECT node named HTTPAPI now", "HTTPAPI", "httpapi"),
            (
                "COMPUTE node Name: PriceCalculator for pricing",
                "PriceCalculator",
                "price_calculator",
            ),
            (
                "COMPUTE node: PriceCalculator (domain: x)",
                "PriceCalculator",
                "price_calculator",
            ),
            (
                "DatabaseWriter node writes records",
                "DatabaseWriter",
                "database_writer",
            ),
            (
                "Create PostgresCRUD EFFECT node",
                "PostgresCRUD",
                "postgres_crud",
            ),
            (
                "Build an EFFECT node for S3FileUploader that stores files",
                "S3FileUploader",
                "s3_file_uploader",
            ),
            // N with `_`: node_name is Pascal(service_name).
            (
                "EFFECT node called Order_Writer here",
                "OrderWriter",
                "order_writer",
            ),
        ] {
            assert_eq!(
                n(prompt),
                (node.to_string(), svc.to_string(), e),
                "{prompt}"
            );
        }
        // Refused N: lowercase, a type word, a stopword, a docs/generation.md §3.7 keyword, "for" + non-compound.
        for prompt in [
            "Create EFFECT node for payments",
            "EFFECT node called effect thing",
            "EFFECT node called Redis thing",
            "Create EFFECT node for Payments",
            "Create EFFECT node for PostgreSQL",
            "The node does things",
        ] {
            assert_ne!(p(prompt).name_source, e, "{prompt}");
        }
        assert_eq!(p("EFFECT node called DatabaseWriter").name_confidence, 1.0);
    }

    #[test]
    fn explicit_names_match_by_match() {
        // The first `N node` match (Create) is refused; a later one in the same pattern wins.
        assert_eq!(
            p("Create EFFECT node and also OrderBook node").service_name,
            "order_book"
        );
        // Pattern order beats text order: `called` (a) before `N node` (d).
        assert_eq!(
            p("Ledger node, called AccountLedger").service_name,
            "account_ledger"
        );
    }

    #[test]
    fn system_role_names() {
        let n = |s: &str| {
            let x = p(s);
            assert_eq!(x.name_source, NameSource::SystemRole, "{s}");
            assert_eq!(x.name_confidence, 0.5);
            x.service_name
        };
        assert_eq!(
            n("Create EFFECT node for database writes"),
            "postgres_writer"
        );
        assert_eq!(
            n("Create EFFECT node for Redis cache operations"),
            "redis_cache"
        );
        assert_eq!(
            n("Create EFFECT node for making HTTP API calls with retry logic"),
            "http_client"
        );
        assert_eq!(n("PostgreSQL database operations"), "postgres_client");
        assert_eq!(n("EFFECT node that reads from Redis"), "redis_reader");
        assert_eq!(
            n("EFFECT node publishes events to Kafka"),
            "kafka_publisher"
        );
        assert_eq!(
            n("EFFECT node that consumes kafka topics"),
            "kafka_consumer"
        );
        assert_eq!(n("EFFECT node sending mail via smtp"), "email_sender");
        assert_eq!(n("EFFECT node uploads files to S3"), "s3_uploader");
        assert_eq!(n("COMPUTE node over mongodb documents"), "mongo_processor");
        assert_eq!(
            n("REDUCER node for elasticsearch hits"),
            "elasticsearch_aggregator"
        );
        assert_eq!(
            n("ORCHESTRATOR node for the database"),
            "postgres_coordinator"
        );
        // Negated role words and systems are ignored.
        // ("no" also negates "reads" three words later: only the later, free role word counts.)
        assert_eq!(
            n("EFFECT node, no writes here at all, reads the database"),
            "postgres_reader"
        );
        assert_eq!(
            n("EFFECT node, no writes, reads the database"),
            "postgres_client"
        );
        assert_eq!(
            n("EFFECT node without database access, calls the REST API"),
            "http_client"
        );
    }

    #[test]
    fn slug_names() {
        let n = |s: &str| {
            let x = p(s);
            (x.service_name, x.name_source)
        };
        let slug = NameSource::Slug;
        for (prompt, want) in [
            (
                "Create EFFECT node for payment processor",
                "payment_processor",
            ),
            (
                "Create EFFECT node for file storage operations",
                "file_storage",
            ),
            ("Create EFFECT node for my-service-name", "my_service_name"),
            ("node for processing", "processing"),
            (
                "Create an ORCHESTRATOR node for order fulfillment workflow.",
                "order_fulfillment_workflow",
            ),
            (
                "Node that calculates pricing totals",
                "calculates_pricing_totals",
            ),
            ("Create node for data", "data"),
            ("processor node", "processor"),
            // 3 words at most; punctuation ends the scan after the first kept word.
            ("node for alpha beta gamma delta", "alpha_beta_gamma"),
            ("node for alpha, beta", "alpha"),
            ("node for alpha/beta", "alpha"),
            // `write a` is an instruction; `write` alone is kept.
            ("Write a node that tallies votes", "tallies_votes"),
            // leading digit.
            ("node for 3d printing jobs", "svc_3d_printing_jobs"),
            // The for-text keeps nothing: the first sentence is used.
            ("Ticket router node for the. Other text", "ticket_router"),
            // The explicit domain phrase is blanked.
            (
                "COMPUTE node domain: analytics_engine processes data",
                "processes_data",
            ),
        ] {
            assert_eq!(n(prompt), (want.to_string(), slug), "{prompt}");
        }
        assert_eq!(
            n("Create a node"),
            ("generated_service".to_string(), NameSource::Fallback)
        );
        assert_eq!(p("Create a node").node_name, "GeneratedService");
        let long = format!("node for {}", "x".repeat(200));
        assert_eq!(p(&long).service_name.len(), 64);
    }

    #[test]
    fn domains() {
        let d = |s: &str| {
            let x = p(s);
            (x.domain, x.domain_confidence, x.domain_source)
        };
        let ex = DomainSource::Explicit;
        assert_eq!(
            d("EFFECT node domain: analytics_engine"),
            ("analytics_engine".into(), 1.0, ex)
        );
        assert_eq!(
            d("EFFECT node, domain = Billing-Core"),
            ("billing_core".into(), 1.0, ex)
        );
        assert_eq!(
            d("EFFECT node in the data_services domain"),
            ("data_services".into(), 1.0, ex)
        );
        assert_eq!(
            d("EFFECT node in notification domain."),
            ("notification".into(), 1.0, ex)
        );
        assert_eq!(
            d("EFFECT node: X (notification domain)"),
            ("notification".into(), 1.0, ex)
        );
        assert_eq!(
            d("EFFECT node X in data_services writes"),
            ("data_services".into(), 0.9, ex)
        );
        assert_eq!(
            d("EFFECT node for database operations"),
            ("infrastructure".into(), 0.7, DomainSource::Keyword)
        );
        assert_eq!(
            d("EFFECT node calls REST API endpoints"),
            ("api".into(), 0.7, DomainSource::Keyword)
        );
        assert_eq!(
            d("Create node for data"),
            ("general".into(), 0.3, DomainSource::Default)
        );
        // Negated keywords do not count; the table order decides between categories.
        assert_eq!(
            d("node with no database but email alerts").0,
            "notification"
        );
        assert_eq!(d("sends emails and caches results").0, "infrastructure");
        // `in the domain` names no domain.
        assert_eq!(
            d("a node that lives in the domain").2,
            DomainSource::Default
        );
    }

    #[test]
    fn external_systems() {
        let s = |x: &str| p(x).external_systems;
        assert_eq!(
            s("EFFECT node reads from PostgreSQL, caches in Redis, and publishes to Kafka"),
            ["PostgreSQL", "Redis", "Kafka"]
        );
        assert_eq!(
            s("writes to PostgreSQL and caches in Redis"),
            ["PostgreSQL", "Redis"]
        );
        assert!(s("Pure function with no database access").is_empty());
        assert!(s("rapid restless node for mailboxes").is_empty());
        assert_eq!(
            s("stores blobs in object storage, feeds a search engine and an event stream"),
            ["S3", "Elasticsearch", "Kafka"]
        );
        assert_eq!(
            s("a nosql store behind an https endpoint"),
            ["MongoDB", "API"]
        );
        // A negated mention does not count, a later one does.
        assert_eq!(s("not the database; later: the database"), ["PostgreSQL"]);
    }

    #[test]
    fn requirements_rules() {
        let r = |x: &str| p(x).functional_requirements;
        assert_eq!(
            r(
                "Create EFFECT node EmailSender in notification domain.\n\nRequirements:\n- Send emails via SMTP\n- Support HTML and plain text\n* Handle attachments\n1. Retry on failure\n2) Log all email operations\n• Be nice"
            ),
            [
                "Send emails via SMTP",
                "Support HTML and plain text",
                "Handle attachments",
                "Retry on failure",
                "Log all email operations",
                "Be nice"
            ]
        );
        assert_eq!(
            r(
                "COMPUTE node DataTransformer should process CSV files, should validate data integrity, and should output JSON format"
            ),
            [
                "process CSV files",
                "validate data integrity",
                "output JSON format"
            ]
        );
        assert_eq!(
            r("EFFECT node creates records, updates existing data, and deletes obsolete entries"),
            [
                "creates records",
                "updates existing data",
                "deletes obsolete entries"
            ]
        );
        assert_eq!(
            r("COMPUTE node should validate inputs and should transform data formats"),
            ["validate inputs", "transform data formats"]
        );
        // The instruction is never a requirement.
        assert!(r("Create an EFFECT node called DatabaseWriter that writes").is_empty());
        assert!(r("Create a new node for things").is_empty());
        assert!(r("Create node for data").is_empty());
        assert!(r("Please create a new EFFECT node now").is_empty());
        assert!(r("Create PostgresCRUD EFFECT node").is_empty());
        assert!(r("Create an OrderBook node, please").is_empty());
        // Not the instruction: the object is something else.
        assert_eq!(
            r("EFFECT node: creates Order records"),
            ["creates Order records"]
        );
        // ≤ 5 characters is too short; de-duplication ignores case.
        assert!(r("EFFECT node must do it").is_empty());
        assert_eq!(
            r("EFFECT node\n- Send mail\nshould Send Mail. sends mail"),
            ["Send mail", "sends mail"]
        );
        let many: String = (0..20).map(|i| format!("- item number {i}\n")).collect();
        assert_eq!(r(&format!("EFFECT node\n{many}")).len(), MAX_REQUIREMENTS);
    }

    #[test]
    fn description_is_collapsed_and_capped() {
        assert_eq!(
            p("  EFFECT\tnode \n\n called   X  ").description,
            "EFFECT node called X"
        );
        let long = "é".repeat(3000);
        let d = p(&long).description;
        assert_eq!(d.chars().count(), MAX_DESCRIPTION_CHARS);
        assert_eq!(p(&long).prompt, long);
    }

    #[test]
    fn confidence_examples() {
        assert_eq!(
            p("Node that writes database records").confidence_score,
            0.44
        );
        let x = p(
            "Create an EFFECT node called DatabaseWriter in the data_services domain that writes records to PostgreSQL",
        );
        assert_eq!(x.confidence_score, 1.0);
        assert_eq!(p("node for data").confidence_score, 0.3);
        assert!(
            p("EFFECT node DatabaseWriter should create records, update data, and handle errors")
                .confidence_score
                > p("EFFECT node DatabaseWriter").confidence_score
        );
    }

    #[test]
    fn confidence_bands() {
        let bands: Vec<&str> = [1.0, 0.9, 0.899, 0.7, 0.699, 0.5, 0.499, 0.0]
            .into_iter()
            .map(confidence_band)
            .collect();
        assert_eq!(
            bands,
            [
                "excellent",
                "excellent",
                "good",
                "good",
                "review",
                "review",
                "weak",
                "weak"
            ]
        );
    }

    #[test]
    fn word_count_counts_letter_digit_runs() {
        assert_eq!(word_count("create something"), 2);
        assert_eq!(word_count("my-service_name, v2!"), 4);
        assert_eq!(word_count(""), 0);
    }
}
