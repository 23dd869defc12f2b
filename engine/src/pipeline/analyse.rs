//! What validation learns from an expression without running it: the filters, tests and
//! functions it calls (so an unknown one is a validate-time error instead of a run-time
//! surprise) and, where the syntax tells, the JSON type it yields (so a payload field mapped to
//! an expression of the wrong type is caught against the event catalogue).
//!
//! The walk uses minijinja's parser (`unstable_machinery`, pinned exactly in Cargo.toml).
//! Whether a filter or test exists is asked of the engine's own expression environment, so the
//! answer always matches what evaluation will find.

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use std::collections::BTreeSet;

use super::expr::{self, ExprError};

/// A JSON type an expression is known to yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    /// The JSON Schema `type` name.
    pub fn schema_name(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// Whether a schema `type` name admits a value of this type.
    pub fn fits(self, schema_type: &str) -> bool {
        schema_type == self.schema_name() || (self == JsonType::Integer && schema_type == "number")
    }
}

/// The names an expression calls that the engine does not offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unknown {
    pub filters: BTreeSet<String>,
    pub tests: BTreeSet<String>,
    pub functions: BTreeSet<String>,
}

impl Unknown {
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.tests.is_empty() && self.functions.is_empty()
    }

    /// "unknown filter `word_cnt`, unknown test `matchin`"
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (what, names) in [
            ("filter", &self.filters),
            ("test", &self.tests),
            ("function", &self.functions),
        ] {
            for n in names {
                parts.push(format!("unknown {what} `{n}`"));
            }
        }
        parts.join(", ")
    }
}

/// The result of analysing one expression.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub unknown: Unknown,
    /// The type of the value, when the syntax alone decides it.
    pub yields: Option<JsonType>,
}

/// Analyses an expression (`parsed.a | length > 3`).
pub fn expression(src: &str) -> Result<Analysis, ExprError> {
    let ast = minijinja::machinery::parse_expr(src).map_err(ExprError::from)?;
    let mut w = Walker::default();
    let yields = w.expr(&ast);
    Ok(Analysis {
        unknown: w.unknown,
        yields,
    })
}

/// Analyses a message template (`Only {{ n }} words`); `yields` is always a string.
pub fn template(src: &str) -> Result<Analysis, ExprError> {
    if !src.contains("{{") && !src.contains("{%") {
        return Ok(Analysis {
            unknown: Unknown::default(),
            yields: Some(JsonType::String),
        });
    }
    let ast = minijinja::machinery::parse(src, "<template>", Default::default())
        .map_err(ExprError::from)?;
    let mut w = Walker::default();
    w.stmt(&ast);
    Ok(Analysis {
        unknown: w.unknown,
        yields: Some(JsonType::String),
    })
}

#[derive(Default)]
struct Walker {
    unknown: Unknown,
    /// Names bound inside the expression (loop variables, `set`), which are not functions of
    /// the environment when called.
    locals: BTreeSet<String>,
}

impl Walker {
    fn args(&mut self, args: &[CallArg<'_>]) {
        for a in args {
            match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => {
                    self.expr(e);
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr<'_>) -> Option<JsonType> {
        use ast::BinOpKind as B;
        match e {
            Expr::Var(_) => None,
            Expr::Const(c) => const_type(&c.value),
            Expr::Slice(s) => {
                let t = self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x);
                }
                t.filter(|t| matches!(t, JsonType::String | JsonType::Array))
            }
            Expr::UnaryOp(u) => {
                let t = self.expr(&u.expr);
                match u.op {
                    ast::UnaryOpKind::Not => Some(JsonType::Boolean),
                    ast::UnaryOpKind::Neg => t.filter(|t| is_numeric(*t)),
                }
            }
            Expr::BinOp(b) => {
                let l = self.expr(&b.left);
                let r = self.expr(&b.right);
                match b.op {
                    B::Eq | B::Ne | B::Lt | B::Lte | B::Gt | B::Gte | B::In => {
                        Some(JsonType::Boolean)
                    }
                    // `a and b` yields one of its operands, as in Python.
                    B::ScAnd | B::ScOr => l.filter(|l| Some(*l) == r),
                    B::Concat => Some(JsonType::String),
                    B::Div => both_numeric(l, r).then_some(JsonType::Number),
                    B::Add | B::Sub | B::Mul | B::FloorDiv | B::Rem | B::Pow => match (l, r) {
                        (Some(JsonType::Integer), Some(JsonType::Integer)) => {
                            Some(JsonType::Integer)
                        }
                        _ if both_numeric(l, r) => Some(JsonType::Number),
                        _ => None,
                    },
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                for op in &c.ops {
                    self.expr(&op.expr);
                }
                Some(JsonType::Boolean)
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                let t = self.expr(&i.true_expr);
                let f = match &i.false_expr {
                    Some(f) => self.expr(f),
                    None => Some(JsonType::Null),
                };
                t.filter(|t| Some(*t) == f)
            }
            Expr::Filter(f) => {
                let input = f.expr.as_ref().and_then(|x| self.expr(x));
                self.args(&f.args);
                if !expr::has_filter(f.name) {
                    self.unknown.filters.insert(f.name.to_owned());
                }
                filter_type(f.name, input)
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.args(&t.args);
                if !expr::has_test(t.name) {
                    self.unknown.tests.insert(t.name.to_owned());
                }
                Some(JsonType::Boolean)
            }
            Expr::GetAttr(g) => {
                self.expr(&g.expr);
                None
            }
            Expr::GetItem(g) => {
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
                None
            }
            Expr::Call(c) => {
                self.args(&c.args);
                match &c.expr {
                    Expr::Var(v) => {
                        if !self.locals.contains(v.id) && !expr::has_function(v.id) {
                            self.unknown.functions.insert(v.id.to_owned());
                        }
                        function_type(v.id)
                    }
                    // A method call (`x.items()`): the callee is a value, checked at run time.
                    other => {
                        self.expr(other);
                        None
                    }
                }
            }
            Expr::List(l) => {
                for x in &l.items {
                    self.expr(x);
                }
                Some(JsonType::Array)
            }
            Expr::Tuple(t) => {
                for x in &t.items {
                    self.expr(x);
                }
                Some(JsonType::Array)
            }
            Expr::Map(m) => {
                for (k, v) in m.keys.iter().zip(&m.values) {
                    self.expr(k);
                    self.expr(v);
                }
                Some(JsonType::Object)
            }
        }
    }

    fn bind(&mut self, target: &Expr<'_>) {
        match target {
            Expr::Var(v) => {
                self.locals.insert(v.id.to_owned());
            }
            Expr::List(l) => l.items.iter().for_each(|x| self.bind(x)),
            Expr::Tuple(t) => t.items.iter().for_each(|x| self.bind(x)),
            _ => {}
        }
    }

    fn stmts(&mut self, body: &[Stmt<'_>]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt<'_>) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => {
                self.expr(&e.expr);
            }
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                self.bind(&f.target);
                if let Some(c) = &f.filter_expr {
                    self.expr(c);
                }
                self.stmts(&f.body);
                self.stmts(&f.else_body);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.stmts(&i.true_body);
                self.stmts(&i.false_body);
            }
            Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.expr(value);
                    self.bind(target);
                }
                self.stmts(&w.body);
            }
            Stmt::Set(set) => {
                self.expr(&set.expr);
                self.bind(&set.target);
            }
            Stmt::SetBlock(set) => {
                self.bind(&set.target);
                self.stmts(&set.body);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.stmts(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.stmts(&f.body);
            }
            Stmt::Do(d) => {
                self.expr(&d.call.expr);
                self.args(&d.call.args);
            }
            // Blocks, imports, macros and loop controls have no place in a message template;
            // the loader of templates would reject what they need at run time anyway.
            _ => {}
        }
    }
}

fn is_numeric(t: JsonType) -> bool {
    matches!(t, JsonType::Integer | JsonType::Number)
}

fn both_numeric(l: Option<JsonType>, r: Option<JsonType>) -> bool {
    l.is_some_and(is_numeric) && r.is_some_and(is_numeric)
}

fn const_type(v: &minijinja::Value) -> Option<JsonType> {
    use minijinja::value::ValueKind as K;
    Some(match v.kind() {
        K::Undefined | K::None => JsonType::Null,
        K::Bool => JsonType::Boolean,
        K::Number => {
            if v.as_i64().is_some() && !v.to_string().contains('.') {
                JsonType::Integer
            } else {
                JsonType::Number
            }
        }
        K::String => JsonType::String,
        K::Seq => JsonType::Array,
        K::Map => JsonType::Object,
        _ => return None,
    })
}

/// The type a filter yields, where it does not depend on its input's contents.
fn filter_type(name: &str, input: Option<JsonType>) -> Option<JsonType> {
    Some(match name {
        "length" | "count" | "word_count" | "int" => JsonType::Integer,
        "float" | "round" => JsonType::Number,
        "bool" => JsonType::Boolean,
        "string" | "lower" | "upper" | "title" | "capitalize" | "trim" | "join" | "replace"
        | "format" | "tojson" | "urlencode" | "indent" | "escape" | "e" | "safe" => {
            JsonType::String
        }
        "list" | "sort" | "select" | "reject" | "selectattr" | "rejectattr" | "map" | "unique"
        | "items" | "batch" | "slice" | "dictsort" | "split" | "lines" => JsonType::Array,
        "dict" => JsonType::Object,
        "abs" => return input.filter(|t| is_numeric(*t)),
        "reverse" => return input.filter(|t| matches!(t, JsonType::String | JsonType::Array)),
        _ => return None,
    })
}

fn function_type(name: &str) -> Option<JsonType> {
    Some(match name {
        "range" | "missing_fields" => JsonType::Array,
        "dict" => JsonType::Object,
        "gates_outcome" => JsonType::String,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_filters_tests_and_functions_are_named() {
        let a = expression("text | word_cnt > 3 and x is matchin('a') or nosuch(1)").unwrap();
        assert_eq!(
            a.unknown.describe(),
            "unknown filter `word_cnt`, unknown test `matchin`, unknown function `nosuch`"
        );
        let ok =
            expression("text | word_count > 3 and x is matching('a') and missing_fields(y, [])")
                .unwrap();
        assert!(ok.unknown.is_empty(), "{:?}", ok.unknown);
        let t = template("{{ a | uppr }} {% for x in xs %}{{ x | length }}{% endfor %}").unwrap();
        assert_eq!(t.unknown.describe(), "unknown filter `uppr`");
    }

    #[test]
    fn types_the_syntax_decides() {
        let ty = |s: &str| expression(s).unwrap().yields;
        assert_eq!(ty("x | length"), Some(JsonType::Integer));
        assert_eq!(ty("x == 1"), Some(JsonType::Boolean));
        assert_eq!(ty("'a' ~ b"), Some(JsonType::String));
        assert_eq!(ty("[1, 2]"), Some(JsonType::Array));
        assert_eq!(ty("3 * 100 // 4"), Some(JsonType::Integer));
        assert_eq!(ty("1.5"), Some(JsonType::Number));
        assert_eq!(ty("true"), Some(JsonType::Boolean));
        assert_eq!(ty("a.b"), None);
        assert_eq!(ty("a or 'x'"), None);
        assert!(JsonType::Integer.fits("number"));
        assert!(!JsonType::Number.fits("integer"));
    }
}
