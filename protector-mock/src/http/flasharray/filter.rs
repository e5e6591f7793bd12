//! The `filter=` grammar of REST 2.x, evaluated over the JSON items a GET returns.
//!
//! What py-pure-client's `Filter`/`Property` produce and what Cinder and Ansible send:
//!
//! - comparisons `=`, `!=`, `>`, `>=`, `<`, `<=` between a field and a value: `name='vol1'`,
//!   `progress="1.0"`, `destroyed=false`, `created>5`, `space.total_used>1`;
//! - `*` wildcards in quoted strings under `=` and `!=`: `name='array-a:cinder-group.2.*'`;
//! - nested fields `pod.name`, list elements `arrays[any].status`, `arrays[all].status`;
//! - `and`, `or`, `not(…)`, parentheses;
//! - `contains(name, 'cinder')`, in-lists `name=('a','b')`, and a bare field (it exists and is
//!   not null).
//!
//! A quoted value matches a number or boolean field by its text: `progress="1.0"` matches
//! `1.0`, `destroyed='false'` matches `false`. A missing field is `null`.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Path, Op, Literal),
    Contains(Path, String),
    Exists(Path),
}

/// A field path: `a.b`, `a[any].b`, `a[all].b`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path(Vec<Segment>);

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    List(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Number(f64),
    Op(Op),
    Open,
    Close,
    Comma,
    Dot,
    Bracket(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '.' => {
                tokens.push(Token::Dot);
                i += 1;
            }
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| "unclosed '['".to_string())?;
                tokens.push(Token::Bracket(chars[i + 1..i + end].iter().collect()));
                i += end + 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unclosed {quote} quote")),
                        Some('\\') => {
                            let escaped = chars.get(i + 1).ok_or("a backslash ends the filter")?;
                            text.push(*escaped);
                            i += 2;
                        }
                        Some(c) if *c == quote => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Text(text));
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '>' | '<' => {
                let or_equal = chars.get(i + 1) == Some(&'=');
                let op = match (c, or_equal) {
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    _ => Op::Le,
                };
                tokens.push(Token::Op(op));
                i += if or_equal { 2 } else { 1 };
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || matches!(chars[i], '.' | 'e' | 'E')
                        || (matches!(chars[i], '-' | '+') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let number = text
                    .parse::<f64>()
                    .map_err(|_| format!("'{text}' is not a number"))?;
                tokens.push(Token::Number(number));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, expected: &Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(ref token) if token == expected => Ok(()),
            _ => Err(format!("expected {what}")),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.at += 1;
            self.expect(&Token::Open, "'(' after not")?;
            let inner = self.or()?;
            self.expect(&Token::Close, "')' closing not(")?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.keyword("contains") && matches!(self.tokens.get(self.at + 1), Some(Token::Open)) {
            self.at += 2;
            let path = self.path()?;
            self.expect(&Token::Comma, "',' in contains(field, 'text')")?;
            let text = match self.next() {
                Some(Token::Text(text)) => text,
                _ => return Err("contains() takes a quoted string".to_string()),
            };
            self.expect(&Token::Close, "')' closing contains(")?;
            return Ok(Expr::Contains(path, text));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(&Token::Close, "')'")?;
            return Ok(inner);
        }
        let path = self.path()?;
        match self.peek() {
            Some(Token::Op(op)) => {
                let op = *op;
                self.at += 1;
                let value = self.literal()?;
                if matches!(value, Literal::List(_)) && !matches!(op, Op::Eq | Op::Ne) {
                    return Err("a list of values only goes with = or !=".to_string());
                }
                Ok(Expr::Compare(path, op, value))
            }
            _ => Ok(Expr::Exists(path)),
        }
    }

    fn path(&mut self) -> Result<Path, String> {
        let mut segments = Vec::new();
        match self.next() {
            Some(Token::Ident(name)) => segments.push(Segment::Field(name)),
            _ => return Err("expected a field name".to_string()),
        }
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    match self.next() {
                        Some(Token::Ident(name)) => segments.push(Segment::Field(name)),
                        _ => return Err("expected a field name after '.'".to_string()),
                    }
                }
                Some(Token::Bracket(inner)) => {
                    let segment = match inner.trim() {
                        "any" => Segment::Any,
                        "all" => Segment::All,
                        other => return Err(format!("[{other}]: use [any] or [all]")),
                    };
                    self.at += 1;
                    segments.push(segment);
                }
                _ => return Ok(Path(segments)),
            }
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Text(text)) => Ok(Literal::Text(text)),
            Some(Token::Number(n)) => Ok(Literal::Number(n)),
            Some(Token::Ident(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Ok(Literal::Bool(true)),
                "false" => Ok(Literal::Bool(false)),
                "null" => Ok(Literal::Null),
                // An unquoted word (`status=online`) reads as text.
                _ => Ok(Literal::Text(word)),
            },
            Some(Token::Open) => {
                let mut values = Vec::new();
                loop {
                    values.push(self.literal()?);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::Close) => return Ok(Literal::List(values)),
                        _ => return Err("expected ',' or ')' in a list of values".to_string()),
                    }
                }
            }
            _ => Err("expected a value".to_string()),
        }
    }
}

/// Parses a `filter=` value.
pub(crate) fn parse(input: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        tokens: tokenize(input)?,
        at: 0,
    };
    if parser.tokens.is_empty() {
        return Err("the filter is empty".to_string());
    }
    let expr = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err("unexpected text after the end of the expression".to_string());
    }
    Ok(expr)
}

/// Shell-style matching with `*` (any run of characters).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

impl Expr {
    /// Whether `item` satisfies the filter.
    pub(crate) fn matches(&self, item: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(item) && b.matches(item),
            Expr::Or(a, b) => a.matches(item) || b.matches(item),
            Expr::Not(inner) => !inner.matches(item),
            Expr::Compare(path, op, literal) => {
                path.test(item, &|leaf| compare(leaf, *op, literal))
            }
            Expr::Contains(path, text) => path.test(item, &|leaf| {
                leaf.as_str().is_some_and(|s| s.contains(text.as_str()))
            }),
            Expr::Exists(path) => path.test(item, &|leaf| !leaf.is_null()),
        }
    }
}

impl Path {
    fn test(&self, item: &Value, predicate: &dyn Fn(&Value) -> bool) -> bool {
        walk(item, &self.0, predicate)
    }

    /// The value at this path (the first element for `[any]`/`[all]`), for sorting.
    pub(crate) fn lookup<'a>(&self, item: &'a Value) -> &'a Value {
        let mut at = item;
        for segment in &self.0 {
            at = match segment {
                Segment::Field(name) => at.get(name).unwrap_or(&Value::Null),
                Segment::Any | Segment::All => at
                    .as_array()
                    .and_then(|a| a.first())
                    .unwrap_or(&Value::Null),
            };
        }
        at
    }

    /// A dotted field name (`space.total_used`) as a path.
    pub(crate) fn dotted(field: &str) -> Path {
        Path(
            field
                .split('.')
                .map(|f| Segment::Field(f.to_string()))
                .collect(),
        )
    }
}

fn walk(at: &Value, segments: &[Segment], predicate: &dyn Fn(&Value) -> bool) -> bool {
    match segments.split_first() {
        None => predicate(at),
        Some((Segment::Field(name), rest)) => {
            walk(at.get(name).unwrap_or(&Value::Null), rest, predicate)
        }
        Some((Segment::Any, rest)) => at
            .as_array()
            .is_some_and(|items| items.iter().any(|i| walk(i, rest, predicate))),
        Some((Segment::All, rest)) => at
            .as_array()
            .is_some_and(|items| items.iter().all(|i| walk(i, rest, predicate))),
    }
}

fn order(op: Op, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, ordering) {
        (_, None) => op == Op::Ne,
        (Op::Eq, Some(o)) => o == Equal,
        (Op::Ne, Some(o)) => o != Equal,
        (Op::Gt, Some(o)) => o == Greater,
        (Op::Ge, Some(o)) => o != Less,
        (Op::Lt, Some(o)) => o == Less,
        (Op::Le, Some(o)) => o != Greater,
    }
}

fn compare(leaf: &Value, op: Op, literal: &Literal) -> bool {
    match literal {
        Literal::List(values) => {
            let any = values.iter().any(|v| compare(leaf, Op::Eq, v));
            if op == Op::Eq {
                any
            } else {
                !any
            }
        }
        Literal::Null => match op {
            Op::Eq => leaf.is_null(),
            Op::Ne => !leaf.is_null(),
            _ => false,
        },
        Literal::Text(text) => match leaf {
            Value::String(s) if text.contains('*') && matches!(op, Op::Eq | Op::Ne) => {
                glob_match(text, s) == (op == Op::Eq)
            }
            Value::String(s) => order(op, Some(s.as_str().cmp(text.as_str()))),
            Value::Number(n) => order(
                op,
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|t| n.as_f64().and_then(|n| n.partial_cmp(&t))),
            ),
            Value::Bool(b) => order(op, text.trim().parse::<bool>().ok().map(|t| b.cmp(&t))),
            _ => op == Op::Ne,
        },
        Literal::Number(number) => match leaf {
            Value::Number(n) => order(op, n.as_f64().and_then(|n| n.partial_cmp(number))),
            Value::String(s) => order(
                op,
                s.parse::<f64>().ok().and_then(|s| s.partial_cmp(number)),
            ),
            _ => op == Op::Ne,
        },
        Literal::Bool(flag) => match leaf {
            Value::Bool(b) => order(op, Some(b.cmp(flag))),
            Value::String(s) => order(op, s.parse::<bool>().ok().map(|s| s.cmp(flag))),
            _ => op == Op::Ne,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, item: &Value) -> bool {
        parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(item)
    }

    #[test]
    fn what_cinder_and_the_sdk_send() {
        let transfer =
            json!({"name": "array-a:cinder-group.2", "progress": 1.0, "destroyed": false});
        assert!(check("progress=\"1.0\"", &transfer));
        assert!(check("progress='1'", &transfer));
        assert!(!check("progress=\"1.0\"", &json!({"progress": 0.33})));
        let snap = json!({"name": "array-a:cinder-group.2.volume-1-cinder", "source": {"name": "array-a:volume-1-cinder"}});
        assert!(check("name='array-a:cinder-group.2.*'", &snap));
        assert!(!check("name='array-a:cinder-group.20.*'", &snap));
        assert!(check("source.name='array-a:volume-1-cinder'", &snap));
        let volume = json!({"name": "cinder-pod::v1", "pod": {"name": "cinder-pod"}, "destroyed": false, "space": {"total_used": 5}});
        assert!(check("pod.name='cinder-pod'", &volume));
        assert!(!check("pod.name='other'", &json!({"pod": null})));
        assert!(check("destroyed=false", &volume));
        assert!(check("destroyed='false'", &volume));
        assert!(check("space.total_used>1 and not(name='x')", &volume));
        assert!(check("name='a' or name='cinder-pod::v1'", &volume));
        assert!(check("contains(name, 'pod::')", &volume));
        assert!(check("name=('x','cinder-pod::v1')", &volume));
        assert!(check("name!=('x','y')", &volume));
        assert!(check("pod.name", &volume));
        assert!(!check("source.name", &volume));
        assert!(check("name='it\\'s'", &json!({"name": "it's"})));
    }

    #[test]
    fn list_elements() {
        let pod = json!({"arrays": [{"status": "online"}, {"status": "offline"}]});
        assert!(check("arrays[any].status='online'", &pod));
        assert!(!check("arrays[all].status='online'", &pod));
        assert!(check("arrays[all].status!='unknown'", &pod));
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let item = json!({"created": 1500, "name": "b"});
        assert!(check("created>=1500", &item));
        assert!(check("created<2e3", &item));
        assert!(!check("created>1500", &item));
        assert!(check("name>'a'", &item));
    }

    #[test]
    fn malformed_filters_say_why() {
        for bad in [
            "",
            "name=",
            "name='x",
            "not name='x'",
            "(name='x'",
            "name='x' x",
            "a[2].b='x'",
            "name>('a')",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("pg.*", "pg.1"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("pod.undo-demote.*", "pod.undo-demote.1"));
        assert!(!glob_match("pg", "pg.1"));
    }
}
