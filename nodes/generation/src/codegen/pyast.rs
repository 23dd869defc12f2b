//! The in-process Python 3.12 parser (ruff's) and the few facts the post-validation gates read
//! from a module: syntax errors with line/column, imports, class definitions with their bases,
//! annotated fields and `model_config`, and Pydantic v1 idioms.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
use ruff_python_ast::{Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions, parse_unchecked};
use ruff_text_size::TextSize;

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let mut start = offset;
    while !src.is_char_boundary(start) {
        start -= 1;
    }
    let before = &src[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The source line `line` (1-based), for excerpts.
pub fn source_line(src: &str, line: usize) -> String {
    src.lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .to_string()
}

/// A syntax error, positioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PySyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed module plus its source, for positions.
pub struct PyModule<'s> {
    pub src: &'s str,
    pub module: ModModule,
}

/// Parses `src` as a Python 3.12 module. Errors: the first syntax error, or the first construct
/// Python 3.12 does not accept (the parser knows later grammars too).
pub fn parse(src: &str) -> Result<PyModule<'_>, PySyntaxError> {
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY312);
    let parsed = parse_unchecked(src, options);
    let first = parsed
        .errors()
        .iter()
        .map(|e| (e.location.start(), e.error.to_string()))
        .chain(
            parsed
                .unsupported_syntax_errors()
                .iter()
                .map(|e| (e.range.start(), e.to_string())),
        )
        .min_by_key(|(at, _)| *at);
    if let Some((at, message)) = first {
        let (line, column) = line_col(src, usize::from(at));
        return Err(PySyntaxError {
            line,
            column,
            message,
        });
    }
    match parsed.into_syntax() {
        ruff_python_ast::Mod::Module(module) => Ok(PyModule { src, module }),
        ruff_python_ast::Mod::Expression(_) => Err(PySyntaxError {
            line: 1,
            column: 1,
            message: "not a module".to_string(),
        }),
    }
}

/// One imported name (`import a.b` → module `a.b`, name None; `from .m import X` → level 1,
/// module `m`, name `X`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub level: u32,
    pub module: String,
    pub name: Option<String>,
    pub line: usize,
    pub column: usize,
}

impl Import {
    pub fn is_star(&self) -> bool {
        self.name.as_deref() == Some("*")
    }

    /// `module.name` for a `from` import, `module` otherwise (dots of relative imports
    /// included).
    pub fn display(&self) -> String {
        let dots = ".".repeat(self.level as usize);
        match &self.name {
            Some(n) if self.module.is_empty() => format!("{dots}{n}"),
            Some(n) => format!("{dots}{}.{n}", self.module),
            None => format!("{dots}{}", self.module),
        }
    }
}

/// A class definition, with what G10/G12 look at.
#[derive(Debug, Clone, Default)]
pub struct ClassInfo {
    pub name: String,
    /// Base expressions as dotted text (`BaseModel`, `pydantic.BaseModel`, `str`).
    pub bases: Vec<String>,
    /// Annotated class-level fields (`x: int = …`).
    pub fields: Vec<String>,
    /// `model_config = ConfigDict(…)` (or `pydantic.ConfigDict(…)`) at class level.
    pub has_config_dict: bool,
    /// A nested `class Config:` (Pydantic v1).
    pub has_inner_config_class: bool,
    pub line: usize,
    pub column: usize,
}

/// A Pydantic v1 idiom found in a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Idiom {
    pub what: String,
    pub line: usize,
    pub column: usize,
}

fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => dotted(&a.value).map(|v| format!("{v}.{}", a.attr.id)),
        _ => None,
    }
}

struct Collector<'s> {
    src: &'s str,
    imports: Vec<Import>,
    classes: Vec<ClassInfo>,
    v1: Vec<V1Idiom>,
}

impl Collector<'_> {
    fn pos(&self, at: TextSize) -> (usize, usize) {
        line_col(self.src, usize::from(at))
    }

    fn class_info(&self, c: &ruff_python_ast::StmtClassDef) -> ClassInfo {
        let (line, column) = self.pos(c.name.range.start());
        let bases = c
            .arguments
            .as_ref()
            .map(|a| {
                a.args
                    .iter()
                    .map(|b| dotted(b).unwrap_or_else(|| "<expr>".to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut info = ClassInfo {
            name: c.name.id.to_string(),
            bases,
            line,
            column,
            ..ClassInfo::default()
        };
        for stmt in &c.body {
            match stmt {
                Stmt::AnnAssign(a) => {
                    if let Expr::Name(n) = a.target.as_ref() {
                        info.fields.push(n.id.to_string());
                    }
                }
                Stmt::Assign(a) => {
                    let is_model_config = a
                        .targets
                        .iter()
                        .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == "model_config"));
                    let is_config_dict = matches!(a.value.as_ref(), Expr::Call(call)
                        if dotted(&call.func).is_some_and(|f| f == "ConfigDict" || f.ends_with(".ConfigDict")));
                    if is_model_config && is_config_dict {
                        info.has_config_dict = true;
                    }
                }
                Stmt::ClassDef(inner) if inner.name.id.as_str() == "Config" => {
                    info.has_inner_config_class = true;
                }
                _ => {}
            }
        }
        info
    }
}

impl<'a> Visitor<'a> for Collector<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(i) => {
                for alias in &i.names {
                    let (line, column) = self.pos(alias.range.start());
                    self.imports.push(Import {
                        level: 0,
                        module: alias.name.id.to_string(),
                        name: None,
                        line,
                        column,
                    });
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i
                    .module
                    .as_ref()
                    .map(|m| m.id.to_string())
                    .unwrap_or_default();
                for alias in &i.names {
                    let (line, column) = self.pos(alias.range.start());
                    self.imports.push(Import {
                        level: i.level,
                        module: module.clone(),
                        name: Some(alias.name.id.to_string()),
                        line,
                        column,
                    });
                }
            }
            Stmt::ClassDef(c) => {
                let info = self.class_info(c);
                if info.has_inner_config_class {
                    self.v1.push(V1Idiom {
                        what: format!("class Config in {}", info.name),
                        line: info.line,
                        column: info.column,
                    });
                }
                self.classes.push(info);
            }
            _ => {}
        }
        walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(call) => {
                if let Expr::Attribute(a) = call.func.as_ref() {
                    let attr = a.attr.id.as_str();
                    // `.dict()` / `.json()` with no positional argument: the v1 model methods
                    // (a plain `d.json(x)` or `dict(...)` builtin is not flagged).
                    if matches!(attr, "dict" | "json") && call.arguments.args.is_empty() {
                        let (line, column) = self.pos(a.attr.range.start());
                        self.v1.push(V1Idiom {
                            what: format!(".{attr}()"),
                            line,
                            column,
                        });
                    }
                }
            }
            Expr::Attribute(a) => {
                let attr = a.attr.id.as_str();
                if matches!(
                    attr,
                    "parse_obj" | "parse_raw" | "parse_file" | "update_forward_refs"
                ) {
                    let (line, column) = self.pos(a.attr.range.start());
                    self.v1.push(V1Idiom {
                        what: attr.to_string(),
                        line,
                        column,
                    });
                }
            }
            _ => {}
        }
        walk_expr(self, expr);
    }
}

/// Imports, classes (at any depth) and Pydantic v1 idioms of a module, in source order, and
/// the names its top level binds.
#[derive(Debug, Clone)]
pub struct ModuleFacts {
    pub imports: Vec<Import>,
    pub classes: Vec<ClassInfo>,
    pub v1_idioms: Vec<V1Idiom>,
    pub top_level: BTreeSet<String>,
}

/// Parses `src` and extracts its [`ModuleFacts`].
pub fn analyze(src: &str) -> Result<ModuleFacts, PySyntaxError> {
    parse(src).map(|m| facts(&m))
}

/// [`analyze`], memoised by the source text itself: the post-validation gates read the same
/// nine files, so each is parsed once per run instead of once per gate. The memo is bounded
/// (cleared when full): it only saves work.
pub fn analyze_cached(src: &str) -> Result<Arc<ModuleFacts>, PySyntaxError> {
    const MAX_ENTRIES: usize = 512;
    type Memo = HashMap<String, Result<Arc<ModuleFacts>, PySyntaxError>>;
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = memo.lock().ok().and_then(|m| m.get(src).cloned()) {
        return hit;
    }
    let result = analyze(src).map(Arc::new);
    if let Ok(mut m) = memo.lock() {
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(src.to_string(), result.clone());
    }
    result
}

fn top_level_names(module: &ModModule) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for stmt in &module.body {
        match stmt {
            Stmt::ClassDef(c) => {
                names.insert(c.name.id.to_string());
            }
            Stmt::FunctionDef(f) => {
                names.insert(f.name.id.to_string());
            }
            Stmt::Assign(a) => {
                for t in &a.targets {
                    if let Expr::Name(n) = t {
                        names.insert(n.id.to_string());
                    }
                }
            }
            Stmt::AnnAssign(a) => {
                if let Expr::Name(n) = a.target.as_ref() {
                    names.insert(n.id.to_string());
                }
            }
            Stmt::Import(i) => {
                for a in &i.names {
                    let bound = a.asname.as_ref().unwrap_or(&a.name).id.to_string();
                    names.insert(bound.split('.').next().unwrap_or("").to_string());
                }
            }
            Stmt::ImportFrom(i) => {
                for a in &i.names {
                    names.insert(a.asname.as_ref().unwrap_or(&a.name).id.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

pub fn facts(m: &PyModule<'_>) -> ModuleFacts {
    let mut c = Collector {
        src: m.src,
        imports: Vec::new(),
        classes: Vec::new(),
        v1: Vec::new(),
    };
    for stmt in &m.module.body {
        c.visit_stmt(stmt);
    }
    ModuleFacts {
        imports: c.imports,
        classes: c.classes,
        v1_idioms: c.v1,
        top_level: top_level_names(&m.module),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_position_of_syntax_error() {
        let e = parse("x = 1\ndef f(:\n    pass\n").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(e.column >= 6, "{e:?}");
    }

    #[test]
    fn rejects_syntax_newer_than_312() {
        // PEP 758 (Python 3.14): except without parentheses.
        let e = parse("try:\n    pass\nexcept A, B:\n    pass\n").err();
        assert!(e.is_some());
    }

    #[test]
    fn collects_imports_classes_and_idioms() {
        let src = "import os.path\nfrom .models import A as B, C\nfrom pydantic import *\n\nclass M(pydantic.BaseModel):\n    model_config = ConfigDict(extra=\"forbid\")\n    x: int = 1\n    class Config:\n        pass\n\ndef f(m):\n    return m.dict(), M.parse_obj({}), json.dumps(m)\n";
        let m = parse(src).unwrap();
        let f = facts(&m);
        let shown: Vec<String> = f.imports.iter().map(Import::display).collect();
        assert_eq!(shown, ["os.path", ".models.A", ".models.C", "pydantic.*"]);
        assert!(f.imports[3].is_star());
        assert_eq!(f.classes[0].name, "M");
        assert_eq!(f.classes[0].bases, ["pydantic.BaseModel"]);
        assert_eq!(f.classes[0].fields, ["x"]);
        assert!(f.classes[0].has_config_dict);
        let what: Vec<&str> = f.v1_idioms.iter().map(|v| v.what.as_str()).collect();
        assert_eq!(what, ["class Config in M", ".dict()", "parse_obj"]);
        assert_eq!((f.v1_idioms[1].line, f.v1_idioms[1].column), (12, 14));
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("é🚀x", "é🚀".len()), (1, 3));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
    }
}
