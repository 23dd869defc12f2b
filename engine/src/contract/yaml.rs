//! YAML text → a small marked tree ([`YNode`]): one node per YAML node, each with its start
//! position, built from `saphyr-parser`'s event stream (see docs/yaml-parser.md for why).
//!
//! This layer enforces the parse-level rules of the loader: one document (ONEX002), no
//! duplicate keys (ONEX005, reported at the duplicate's line), only core tags and `!include`
//! (ONEX002 otherwise; ONEX085 for a non-scalar `!include` argument), scalar resolution by the
//! YAML 1.2 core schema, and hard limits on nesting depth and alias expansion so that hostile
//! input can neither overflow the stack nor explode memory. It never panics: the builder keeps
//! an explicit stack instead of recursing, and every malformed construct becomes a diagnostic.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::source::escape_segment;
use crate::diag::Pos;

/// Maximum nesting of collections. Deeper documents are rejected (ONEX002): recursive
/// consumers (JSON conversion, schema validation, `Drop` of `serde_json::Value`) stay far from
/// the stack limit, and no real contract nests deeper than ~15.
pub const MAX_DEPTH: usize = 128;
/// Maximum number of nodes a document may expand to (aliases count every copy), against
/// "billion laughs" alias bombs.
pub const MAX_NODES: usize = 1_000_000;
/// Maximum number of scalar and key bytes a document may expand to (aliases count every copy):
/// a 100 KB file naming one 90 KB anchor 10,000 times would otherwise take gigabytes. Above the
/// 10 MiB file limit, so a file without aliases never reaches it.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;

/// The scalar and key bytes of a subtree (what an alias to it copies).
pub fn subtree_bytes(node: &YNode) -> usize {
    let mut total = 0usize;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match &n.kind {
            YKind::Str(s) | YKind::Include(s) => total = total.saturating_add(s.len()),
            YKind::Seq(items) => stack.extend(items.iter()),
            YKind::Map(entries) => {
                for e in entries {
                    total = total.saturating_add(e.key.len());
                    stack.push(&e.value);
                }
            }
            YKind::Null | YKind::Bool(_) | YKind::Int(_) | YKind::Float(_) => {
                total = total.saturating_add(8);
            }
        }
    }
    total
}

/// One parsed YAML node with its position.
#[derive(Debug, Clone)]
pub struct YNode {
    pub kind: YKind,
    pub pos: Pos,
    /// Number of nodes in this subtree (for the alias-expansion budget).
    pub size: usize,
}

#[derive(Debug, Clone)]
pub enum YKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<YNode>),
    Map(Vec<YEntry>),
    /// `!include ARG` (only produced when include support is on).
    Include(String),
}

#[derive(Debug, Clone)]
pub struct YEntry {
    pub key: String,
    pub key_pos: Pos,
    pub value: YNode,
}

/// A parse-level finding, before it is attached to a file.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlIssue {
    pub code: &'static str,
    pub pos: Pos,
    pub message: String,
    /// JSON pointer of the node concerned, relative to this file's root (`""` when unknown,
    /// e.g. for a syntax error).
    pub pointer: String,
}

/// Result of parsing one text: the root (None when the text is unusable or empty) and issues.
#[derive(Debug, Default)]
pub struct Parsed {
    pub root: Option<YNode>,
    /// True when the stream had no document at all (empty file, only comments).
    pub empty: bool,
    pub issues: Vec<YamlIssue>,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1),
        column: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

enum Frame {
    Seq {
        items: Vec<YNode>,
        pos: Pos,
        anchor: usize,
        size: usize,
    },
    Map {
        entries: Vec<YEntry>,
        pos: Pos,
        anchor: usize,
        size: usize,
        /// The key waiting for its value: (key, position, is a duplicate to drop).
        pending: Option<(String, Pos, bool)>,
        seen: HashSet<String>,
    },
}

/// What a tag means to us.
enum TagUse {
    None,
    Core(String),
    Include,
    NonSpecific,
    Unknown(String),
}

fn classify_tag(tag: Option<&Tag>) -> TagUse {
    match tag {
        None => TagUse::None,
        Some(t) if t.is_yaml_core_schema() => TagUse::Core(t.suffix.clone()),
        Some(t) if t.handle == "!" && t.suffix == "include" => TagUse::Include,
        Some(t) if t.handle == "!" && t.suffix.is_empty() => TagUse::NonSpecific,
        Some(t) => TagUse::Unknown(t.to_string()),
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(s: &str) -> YKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return YKind::Null,
        "true" | "True" | "TRUE" => return YKind::Bool(true),
        "false" | "False" | "FALSE" => return YKind::Bool(false),
        _ => {}
    }
    if let Some(k) = resolve_int(s) {
        return k;
    }
    resolve_float(s).unwrap_or_else(|| YKind::Str(s.to_string()))
}

fn resolve_int(s: &str) -> Option<YKind> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if let Some(oct) = s.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Some(int_or_float(i64::from_str_radix(oct, 8).ok(), s));
        }
        return None;
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(int_or_float(i64::from_str_radix(hex, 16).ok(), s));
        }
        return None;
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed = s.parse::<i64>().ok();
    if parsed.is_none() {
        // Out of i64 range: keep the magnitude as a float, like most YAML loaders.
        let f: f64 = digits.parse().ok()?;
        return Some(YKind::Float(if neg { -f } else { f }));
    }
    Some(int_or_float(parsed, s))
}

fn int_or_float(v: Option<i64>, raw: &str) -> YKind {
    match v {
        Some(i) => YKind::Int(i),
        None => YKind::Str(raw.to_string()),
    }
}

fn resolve_float(s: &str) -> Option<YKind> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    match body {
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => {
            // Not representable in JSON: keep the text (rules never need infinities).
            return Some(YKind::Str(s.to_string()));
        }
        _ => {}
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let b = body.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    } else if int_digits == 0 {
        return None;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(YKind::Float)
}

/// Parses `text` as one YAML 1.2 document. `include` enables the `!include` tag; without it the
/// tag is unknown (ONEX002), as in plain-YAML mode.
pub fn parse(text: &str, include: bool) -> Parsed {
    let mut b = Builder {
        include,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        issues: Vec::new(),
        budget: 0,
        bytes: 0,
    };
    let mut out = Parsed::default();
    let mut docs = 0usize;
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(e) => e,
            Err(e) => {
                let m = e.marker();
                b.issues.push(YamlIssue {
                    code: "ONEX002",
                    pos: within_text(
                        text,
                        Pos {
                            line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
                            column: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                        },
                    ),
                    message: format!("YAML syntax error: {}", e.info()),
                    pointer: String::new(),
                });
                out.issues = b.issues;
                return out;
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    b.issues.push(YamlIssue {
                        code: "ONEX002",
                        pos: pos_of(&span),
                        message:
                            "more than one YAML document in the file (a contract is one document)"
                                .into(),
                        pointer: String::new(),
                    });
                    out.issues = b.issues;
                    return out;
                }
            }
            other => {
                if let Err(mut fatal) = b.event(other, &span) {
                    fatal.pointer = b.slot_ptr();
                    b.issues.push(fatal);
                    out.issues = b.issues;
                    return out;
                }
            }
        }
    }
    out.empty = docs == 0
        || matches!(
            b.root,
            None | Some(YNode {
                kind: YKind::Null,
                ..
            })
        );
    out.root = b.root;
    out.issues = b.issues;
    out
}

/// A syntax error found at the end of the stream points past the last line; it is reported at
/// the end of the last non-blank line instead, where the reader sees what is unfinished.
fn within_text(text: &str, pos: Pos) -> Pos {
    let n = pos.line as usize;
    if text
        .lines()
        .nth(n.saturating_sub(1))
        .is_some_and(|l| !l.trim().is_empty())
    {
        return pos;
    }
    if n <= text.lines().count() && !text.lines().skip(n).any(|l| !l.trim().is_empty()) {
        // A blank line at the end: fall through to the last content line.
    } else if n <= text.lines().count() {
        return pos;
    }
    match text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .last()
    {
        Some((i, l)) => Pos {
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            column: u32::try_from(l.trim_end().chars().count() + 1).unwrap_or(u32::MAX),
        },
        None => pos,
    }
}

struct Builder {
    include: bool,
    stack: Vec<Frame>,
    anchors: HashMap<usize, YNode>,
    root: Option<YNode>,
    issues: Vec<YamlIssue>,
    /// Nodes created so far (aliases count their whole copy).
    budget: usize,
    /// Scalar bytes created so far (aliases count their whole copy).
    bytes: usize,
}

impl Builder {
    /// JSON pointer of the slot the next completed node fills (relative to this file's root).
    fn slot_ptr(&self) -> String {
        let mut p = String::new();
        for f in &self.stack {
            match f {
                Frame::Seq { items, .. } => {
                    p.push('/');
                    p.push_str(&items.len().to_string());
                }
                Frame::Map {
                    pending: Some((k, _, _)),
                    ..
                } => {
                    p.push('/');
                    p.push_str(&escape_segment(k));
                }
                // A key being read: its mapping is the closest node with a pointer.
                Frame::Map { pending: None, .. } => {}
            }
        }
        p
    }

    /// Gives the issues pushed since `before` the pointer of the current slot.
    fn point_new_issues(&mut self, before: usize) {
        if self.issues.len() > before {
            let p = self.slot_ptr();
            for i in &mut self.issues[before..] {
                i.pointer.clone_from(&p);
            }
        }
    }

    fn charge(&mut self, n: usize, pos: Pos) -> Result<(), YamlIssue> {
        self.charge_bytes(n, 0, pos)
    }

    /// Charges `n` nodes and `bytes` scalar bytes to the expansion budget (ONEX086).
    fn charge_bytes(&mut self, n: usize, bytes: usize, pos: Pos) -> Result<(), YamlIssue> {
        self.budget = self.budget.saturating_add(n);
        self.bytes = self.bytes.saturating_add(bytes);
        let over = if self.budget > MAX_NODES {
            Some(format!("more than {MAX_NODES} nodes"))
        } else if self.bytes > MAX_EXPANDED_BYTES {
            Some(format!(
                "more than {} MiB of text",
                MAX_EXPANDED_BYTES >> 20
            ))
        } else {
            None
        };
        match over {
            Some(what) => Err(YamlIssue {
                code: "ONEX086",
                pos,
                message: format!(
                    "aliases expand the document to {what} (an alias bomb?); stopped here"
                ),
                pointer: String::new(),
            }),
            None => Ok(()),
        }
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlIssue> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.charge_bytes(1, text.len(), pos)?;
                let before = self.issues.len();
                let kind = self.scalar_kind(&text, style, tag.as_deref(), pos);
                self.point_new_issues(before);
                self.finish(YNode { kind, pos, size: 1 }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.charge(1, pos)?;
                let before = self.issues.len();
                self.collection_tag(tag.as_deref(), "seq", pos);
                self.point_new_issues(before);
                self.open(
                    Frame::Seq {
                        items: Vec::new(),
                        pos,
                        anchor,
                        size: 1,
                    },
                    pos,
                )
            }
            Event::MappingStart(anchor, tag) => {
                self.charge(1, pos)?;
                let before = self.issues.len();
                self.collection_tag(tag.as_deref(), "map", pos);
                self.point_new_issues(before);
                self.open(
                    Frame::Map {
                        entries: Vec::new(),
                        pos,
                        anchor,
                        size: 1,
                        pending: None,
                        seen: HashSet::new(),
                    },
                    pos,
                )
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(YamlIssue {
                        code: "ONEX002",
                        pos,
                        message: "unbalanced collection end".into(),
                        pointer: String::new(),
                    });
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        items,
                        pos,
                        anchor,
                        size,
                    } => (
                        YNode {
                            kind: YKind::Seq(items),
                            pos,
                            size,
                        },
                        anchor,
                    ),
                    Frame::Map {
                        entries,
                        pos,
                        anchor,
                        size,
                        ..
                    } => (
                        YNode {
                            kind: YKind::Map(entries),
                            pos,
                            size,
                        },
                        anchor,
                    ),
                };
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err(YamlIssue {
                        code: "ONEX002",
                        pos,
                        message: "alias to an unknown anchor".into(),
                        pointer: String::new(),
                    });
                };
                let size = node.size;
                let bytes = subtree_bytes(node);
                // Charged before the copy is made, so a bomb never allocates.
                self.charge_bytes(size, bytes, pos)?;
                let Some(node) = self.anchors.get(&id) else {
                    return Ok(());
                };
                let mut copy = node.clone();
                copy.pos = pos;
                self.finish(copy, 0)
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd | Event::StreamEnd => Ok(()),
            Event::DocumentStart(_) => Ok(()),
        }
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlIssue> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlIssue {
                code: "ONEX002",
                pos,
                message: format!("collections nested deeper than {MAX_DEPTH} levels"),
                pointer: String::new(),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn collection_tag(&mut self, tag: Option<&Tag>, own: &str, pos: Pos) {
        match classify_tag(tag) {
            TagUse::None | TagUse::NonSpecific => {}
            TagUse::Core(s) if s == own => {}
            TagUse::Core(s) => self.issues.push(YamlIssue {
                code: "ONEX002",
                pos,
                message: format!(
                    "tag !!{s} cannot apply to a {}",
                    if own == "map" { "mapping" } else { "sequence" }
                ),
                pointer: String::new(),
            }),
            TagUse::Include if self.include => self.issues.push(YamlIssue {
                code: "ONEX085",
                pos,
                message: format!(
                    "the !include argument must be a plain string scalar, not a {}",
                    if own == "map" { "mapping" } else { "sequence" }
                ),
                pointer: String::new(),
            }),
            TagUse::Include => self.issues.push(unknown_tag("!include", pos)),
            TagUse::Unknown(t) => self.issues.push(unknown_tag(&t, pos)),
        }
    }

    fn scalar_kind(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> YKind {
        let plain = matches!(style, ScalarStyle::Plain);
        match classify_tag(tag) {
            TagUse::None => {
                if plain {
                    resolve_plain(text)
                } else {
                    YKind::Str(text.to_string())
                }
            }
            TagUse::NonSpecific => YKind::Str(text.to_string()),
            TagUse::Include if self.include => {
                let arg = text.trim();
                if arg.is_empty() {
                    self.issues.push(YamlIssue {
                        code: "ONEX085",
                        pos,
                        message: "the !include argument is empty".into(),
                        pointer: String::new(),
                    });
                    YKind::Null
                } else {
                    YKind::Include(arg.to_string())
                }
            }
            TagUse::Include => {
                self.issues.push(unknown_tag("!include", pos));
                YKind::Str(text.to_string())
            }
            TagUse::Core(suffix) => match suffix.as_str() {
                "str" => YKind::Str(text.to_string()),
                "null" | "bool" | "int" | "float" => {
                    let k = resolve_plain(text);
                    let ok = matches!(
                        (&k, suffix.as_str()),
                        (YKind::Null, "null")
                            | (YKind::Bool(_), "bool")
                            | (YKind::Int(_), "int")
                            | (YKind::Float(_) | YKind::Int(_), "float")
                    );
                    if ok {
                        match k {
                            YKind::Int(i) if suffix == "float" => YKind::Float(i as f64),
                            k => k,
                        }
                    } else {
                        self.issues.push(YamlIssue {
                            code: "ONEX002",
                            pos,
                            message: format!("value {text:?} is not a valid !!{suffix}"),
                            pointer: String::new(),
                        });
                        YKind::Str(text.to_string())
                    }
                }
                other => {
                    self.issues.push(unknown_tag(&format!("!!{other}"), pos));
                    YKind::Str(text.to_string())
                }
            },
            TagUse::Unknown(t) => {
                self.issues.push(unknown_tag(&t, pos));
                YKind::Str(text.to_string())
            }
        }
    }

    /// Attaches a completed node to its parent (or makes it the root).
    fn finish(&mut self, node: YNode, anchor: usize) -> Result<(), YamlIssue> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let slot = self.slot_ptr();
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match top {
            Frame::Seq { items, size, .. } => {
                *size += node.size;
                items.push(node);
            }
            Frame::Map {
                entries,
                size,
                pending,
                seen,
                ..
            } => match pending.take() {
                None => {
                    let key = key_text(&node);
                    let dup = !seen.insert(key.clone());
                    if dup {
                        let first = entries
                            .iter()
                            .find(|e| e.key == key)
                            .map(|e| e.key_pos.line);
                        self.issues.push(YamlIssue {
                            code: "ONEX005",
                            pos: node.pos,
                            message: match first {
                                Some(l) => {
                                    format!("duplicate key `{key}` (first defined on line {l})")
                                }
                                None => format!("duplicate key `{key}`"),
                            },
                            pointer: format!("{slot}/{}", escape_segment(&key)),
                        });
                    }
                    *pending = Some((key, node.pos, dup));
                }
                Some((key, key_pos, dup)) => {
                    *size += node.size + 1;
                    if !dup {
                        entries.push(YEntry {
                            key,
                            key_pos,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

fn unknown_tag(tag: &str, pos: Pos) -> YamlIssue {
    let extra = if tag == "!include" {
        " (include support is off: --no-include)"
    } else {
        " (only YAML core tags and !include are allowed)"
    };
    YamlIssue {
        code: "ONEX002",
        pos,
        message: format!("unknown tag {tag}{extra}"),
        pointer: String::new(),
    }
}

/// Mapping keys are stringified: scalars by their value's text, collections as compact JSON.
fn key_text(node: &YNode) -> String {
    match &node.kind {
        YKind::Null => "null".into(),
        YKind::Bool(b) => b.to_string(),
        YKind::Int(i) => i.to_string(),
        YKind::Float(f) => f.to_string(),
        YKind::Str(s) => s.clone(),
        YKind::Include(s) => format!("!include {s}"),
        YKind::Seq(_) | YKind::Map(_) => plain_json(node, 0).to_string(),
    }
}

/// A YNode as JSON without include resolution (only for collection keys).
fn plain_json(node: &YNode, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match &node.kind {
        YKind::Null => Value::Null,
        YKind::Bool(b) => Value::Bool(*b),
        YKind::Int(i) => Value::from(*i),
        YKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        YKind::Str(s) | YKind::Include(s) => Value::String(s.clone()),
        YKind::Seq(items) => Value::Array(items.iter().map(|n| plain_json(n, depth + 1)).collect()),
        YKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), plain_json(&e.value, depth + 1)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> YNode {
        let p = parse(text, true);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        p.root.unwrap()
    }

    #[test]
    fn core_schema_resolution() {
        assert!(matches!(resolve_plain("1"), YKind::Int(1)));
        assert!(matches!(resolve_plain("-0x1"), YKind::Str(_)));
        assert!(matches!(resolve_plain("0x1f"), YKind::Int(31)));
        assert!(matches!(resolve_plain("1.5"), YKind::Float(_)));
        assert!(matches!(resolve_plain("1e3"), YKind::Float(_)));
        assert!(
            matches!(resolve_plain("yes"), YKind::Str(_)),
            "YAML 1.2: yes is a string"
        );
        assert!(matches!(resolve_plain("1.0.0"), YKind::Str(_)));
        assert!(matches!(resolve_plain("~"), YKind::Null));
        assert!(matches!(resolve_plain(".5"), YKind::Float(_)));
        assert!(matches!(resolve_plain("."), YKind::Str(_)));
    }

    #[test]
    fn duplicate_key_reported_at_its_line() {
        let p = parse("a: 1\nb: 2\na: 3\n", true);
        assert_eq!(p.issues.len(), 1);
        assert_eq!(p.issues[0].code, "ONEX005");
        assert_eq!(p.issues[0].pos, Pos { line: 3, column: 1 });
        let YKind::Map(e) = p.root.unwrap().kind else {
            panic!()
        };
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn positions_are_one_based() {
        let r = root("---\nx:\n  y: [1, 2]\n");
        let YKind::Map(e) = r.kind else { panic!() };
        assert_eq!(e[0].key_pos, Pos { line: 2, column: 1 });
        let YKind::Map(inner) = &e[0].value.kind else {
            panic!()
        };
        assert_eq!(inner[0].value.pos, Pos { line: 3, column: 6 });
    }

    #[test]
    fn tags() {
        let p = parse("a: !include x.yaml\n", false);
        assert_eq!(p.issues[0].code, "ONEX002");
        let p = parse("a: !include [x.yaml]\n", true);
        assert_eq!(p.issues[0].code, "ONEX085");
        let p = parse("a: !!binary aGk=\n", true);
        assert_eq!(p.issues[0].code, "ONEX002");
        let p = parse("a: !custom 1\n", true);
        assert_eq!(p.issues[0].code, "ONEX002");
        let r = root("a: !!str 1\nb: !include x.yaml\n");
        let YKind::Map(e) = r.kind else { panic!() };
        assert!(matches!(&e[0].value.kind, YKind::Str(s) if s == "1"));
        assert!(matches!(&e[1].value.kind, YKind::Include(s) if s == "x.yaml"));
    }

    #[test]
    fn limits() {
        let deep = "[".repeat(10_000);
        let p = parse(&deep, true);
        assert!(p.root.is_none());
        assert!(!p.issues.is_empty());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        let p = parse(bomb, true);
        assert!(p.root.is_none());
        assert!(p.issues[0].message.contains("expand"));
        assert_eq!(p.issues[0].code, "ONEX086");
        let p = parse("a: 1\n---\nb: 2\n", true);
        assert_eq!(p.issues[0].code, "ONEX002");
        assert!(parse("# only a comment\n", true).empty);
    }
}
