//! The text conventions of the OpenStack services: query strings, how Python prints a value
//! (validation messages quote values that way), timestamps, and the regular expressions of
//! Nova's name filter.

use std::collections::BTreeMap;

use serde_json::Value;

/// Query parameters, the last value of a repeated one winning.
pub(crate) type Query = BTreeMap<String, String>;

/// Parses a query string (`a=1&b=x%20y`).
pub(crate) fn parse_query(query: Option<&str>) -> Query {
    let mut out = Query::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(key), percent_decode(value));
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a query flag is set the way OpenStack services read booleans.
pub(crate) fn truthy(value: Option<&String>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "1" | "t" | "true" | "on" | "y" | "yes"
        )
    })
}

/// A JSON value as Python's `repr` prints it (validation messages quote the offending value
/// that way).
pub(crate) fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => python_str(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", python_str(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A timestamp as Nova and Neutron print it (`2026-03-02T09:00:00Z`).
pub(crate) fn iso_seconds(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A timestamp as Cinder prints it (`2026-03-02T09:00:00.000000`).
pub(crate) fn iso_micros(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Python's `re.search` for the small regular expressions clients put in name filters
/// (literals, `.`, `*`, `+`, `?`, `^`, `$`, `\` escapes). An unsupported pattern matches as a
/// plain substring.
pub(crate) fn regex_search(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy)]
    enum Atom {
        Any,
        Char(char),
    }
    #[derive(Clone, Copy)]
    enum Repeat {
        One,
        Star,
        Plus,
        Optional,
    }
    let mut chars = pattern.chars().peekable();
    let anchored_start = chars.peek() == Some(&'^');
    if anchored_start {
        chars.next();
    }
    let mut items: Vec<(Atom, Repeat)> = Vec::new();
    let mut anchored_end = false;
    while let Some(c) = chars.next() {
        let atom = match c {
            '$' if chars.peek().is_none() => {
                anchored_end = true;
                break;
            }
            '.' => Atom::Any,
            '\\' => match chars.next() {
                Some(escaped) => Atom::Char(escaped),
                None => return text.contains(pattern),
            },
            '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {
                return text.contains(pattern)
            }
            c => Atom::Char(c),
        };
        let repeat = match chars.peek() {
            Some('*') => Repeat::Star,
            Some('+') => Repeat::Plus,
            Some('?') => Repeat::Optional,
            _ => Repeat::One,
        };
        if !matches!(repeat, Repeat::One) {
            chars.next();
        }
        items.push((atom, repeat));
    }
    let text: Vec<char> = text.chars().collect();
    fn matches_at(items: &[(Atom, Repeat)], text: &[char], end: bool) -> bool {
        let Some(((atom, repeat), rest)) = items.split_first() else {
            return !end || text.is_empty();
        };
        let fits = |c: &char| match atom {
            Atom::Any => true,
            Atom::Char(x) => x == c,
        };
        let (min, max) = match repeat {
            Repeat::One => (1, 1),
            Repeat::Star => (0, usize::MAX),
            Repeat::Plus => (1, usize::MAX),
            Repeat::Optional => (0, 1),
        };
        let run = text.iter().take_while(|c| fits(c)).count().min(max);
        (min..=run).rev().any(|n| matches_at(rest, &text[n..], end))
    }
    let starts = if anchored_start {
        0..=0
    } else {
        0..=text.len()
    };
    starts
        .into_iter()
        .any(|start| matches_at(&items, &text[start..], anchored_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_repr_matches_python() {
        let v = json!({"name": "s", "n": 1, "ok": true, "x": null, "l": ["a", "it's"]});
        assert_eq!(
            python_repr(&v),
            "{'l': ['a', \"it's\"], 'n': 1, 'name': 's', 'ok': True, 'x': None}"
        );
    }

    #[test]
    fn name_filters_are_searched_like_python_re() {
        assert!(regex_search("web", "web-server-1"));
        assert!(regex_search("server", "web-server-1"));
        assert!(regex_search("^web-server-1$", "web-server-1"));
        assert!(!regex_search("^web-server$", "web-server-1"));
        assert!(regex_search("^web.*1$", "web-server-1"));
        assert!(!regex_search("^db", "web-server-1"));
        assert!(regex_search("acc\\-vm", "acc-vm"));
    }

    #[test]
    fn query_strings_are_decoded() {
        let q = parse_query(Some("name=web%2D1&all_tenants=True&x=a+b&flag"));
        assert_eq!(q["name"], "web-1");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["flag"], "");
        assert!(truthy(q.get("all_tenants")));
    }
}
