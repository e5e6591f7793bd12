//! Printing results the way the openstack CLI does: `-f table|json|yaml|value` and `-c COLUMN`.
//!
//! Commands build plain data with `protector_core::views` — a [`Record`] for one resource (the
//! Field/Value table of `show`) or a [`List`] for several — and hand it to the one [`Printer`].
//! Values are JSON values, so `-f json` keeps numbers as numbers and absent values as `null`.

use std::borrow::Cow;
use std::io::Write;

use protector_core::views::{List, Record};
use serde::Serialize;
use serde_json::Value;

use crate::args::{Format, OutputOptions};
use crate::error::{CliError, CliResult};

/// Writes `line` and a newline to stderr. Unlike `eprintln!`, which panics when stderr is a
/// closed pipe (`protector ... 2>&1 | head -0`), a failed write is dropped: a closed stderr
/// has nowhere to report it.
pub fn eprint_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `text` with every control character (C0, DEL, C1) and every invisible bidirectional
/// control (which reorders what a terminal shows) written as its Rust escape: `\n`, `\t`,
/// `\u{1b}`, `\u{202e}`. Characters in `keep` stay as they are (a table keeps its line
/// breaks). Names and messages come from stores and servers, which protector does not control:
/// they are never printed raw, so they cannot move the cursor, recolour or clear a terminal, or
/// forge a line of output.
pub fn escape_controls<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    let escaped = |c: char| !keep.contains(&c) && is_hidden_control(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A control character, or a bidirectional formatting character.
fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Prints records and lists in the chosen format to stdout.
pub struct Printer {
    format: Format,
    columns: Vec<String>,
    out: Box<dyn Write>,
}

impl Printer {
    /// A printer to stdout with the command's output options.
    pub fn stdout(options: &OutputOptions) -> Self {
        Printer::new(options, Box::new(std::io::stdout()))
    }

    /// A printer to any writer.
    pub fn new(options: &OutputOptions, out: Box<dyn Write>) -> Self {
        Printer {
            format: options.format,
            columns: options.columns.clone(),
            out,
        }
    }

    /// The format in use.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether `-c` was given.
    pub fn has_column_filter(&self) -> bool {
        !self.columns.is_empty()
    }

    fn requested(&self) -> Vec<&str> {
        self.columns.iter().map(String::as_str).collect()
    }

    /// Prints one resource: a Field/Value table, an object, a mapping, or one value per line.
    pub fn show(&mut self, record: &Record) -> CliResult<()> {
        let record = record.select(&self.requested())?;
        let text = match self.format {
            Format::Table => {
                let rows: Vec<Vec<String>> = record
                    .fields()
                    .iter()
                    .map(|(k, v)| vec![k.clone(), cell(v)])
                    .collect();
                render_table(&["Field".to_string(), "Value".to_string()], &rows)
            }
            Format::Json => json(&record)?,
            Format::Yaml => yaml(&yaml_map(
                record.fields().iter().map(|(k, v)| (k.as_str(), v)),
            ))?,
            Format::Value => {
                let mut s = String::new();
                for (_, v) in record.fields() {
                    s.push_str(&plain(v));
                    s.push('\n');
                }
                s
            }
        };
        self.write(&text)
    }

    /// Prints several resources: a table, an array of objects, a sequence, or one line per row.
    pub fn list(&mut self, list: &List) -> CliResult<()> {
        let list = list.select(&self.requested())?;
        let text = match self.format {
            Format::Table => {
                let headings: Vec<String> =
                    list.columns().iter().map(|c| c.heading.clone()).collect();
                let rows: Vec<Vec<String>> = list
                    .rows()
                    .iter()
                    .map(|row| row.iter().map(cell).collect())
                    .collect();
                render_table(&headings, &rows)
            }
            Format::Json => json(&list)?,
            Format::Yaml => yaml(&yaml_rust2::Yaml::Array(
                list.rows()
                    .iter()
                    .map(|row| {
                        yaml_map(
                            list.columns()
                                .iter()
                                .map(|c| c.key.as_str())
                                .zip(row.iter()),
                        )
                    })
                    .collect(),
            ))?,
            Format::Value => {
                let mut s = String::new();
                for row in list.rows() {
                    let values: Vec<String> = row.iter().map(plain).collect();
                    s.push_str(&values.join(" "));
                    s.push('\n');
                }
                s
            }
        };
        self.write(&text)
    }

    /// Prints text laid out by hand (reports, section headers): its line breaks as they are,
    /// any other control character escaped.
    pub fn text(&mut self, text: &str) -> CliResult<()> {
        let text = escape_controls(text, &['\n']);
        self.write(&text)
    }

    fn write(&mut self, text: &str) -> CliResult<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(CliError::from_io)
    }
}

fn json(value: &impl Serialize) -> CliResult<String> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::unexpected(format!("cannot render JSON: {e}")))?;
    // serde_json escapes C0 controls but writes DEL, C1 and bidirectional controls raw; they
    // can only be inside strings, where `\uXXXX` is the same JSON value.
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if c != '\n' && is_hidden_control(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    Ok(out)
}

fn yaml(value: &yaml_rust2::Yaml) -> CliResult<String> {
    let mut out = String::new();
    yaml_rust2::YamlEmitter::new(&mut out)
        .dump(value)
        .map_err(|e| CliError::unexpected(format!("cannot render YAML: {e}")))?;
    // The emitter opens a document with `---`; the openstack CLI prints bare YAML.
    let body = out
        .strip_prefix("---\n")
        .or_else(|| out.strip_prefix("---"))
        .unwrap_or(&out)
        .trim_start_matches(' ');
    Ok(format!("{body}\n"))
}

/// A mapping in the given field order.
fn yaml_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a Value)>) -> yaml_rust2::Yaml {
    let mut hash = yaml_rust2::yaml::Hash::new();
    for (k, v) in pairs {
        hash.insert(yaml_rust2::Yaml::String(k.to_string()), to_yaml(v));
    }
    yaml_rust2::Yaml::Hash(hash)
}

fn to_yaml(value: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        // The emitter quotes and escapes most C0 controls but writes ESC, BEL, DEL, C1 and
        // bidirectional controls raw.
        Value::String(s) => Yaml::String(escape_controls(s, &['\n', '\t', '\r']).into_owned()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Object(map) => yaml_map(map.iter().map(|(k, v)| (k.as_str(), v))),
    }
}

/// A value as shown in a table cell: strings bare (long ones wrapped between words), `null`
/// for absent (as the spec's tables show it), lists as a JSON-style list wrapped onto several
/// lines when long.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Array(items) => wrap_list(items, 46),
        Value::String(text) => wrap_text(&escape_controls(text, &['\n']), CELL_TEXT_WIDTH),
        other => plain(other),
    }
}

/// Longest line of text in a table cell: a long error message makes a tall cell rather than a
/// table wider than any terminal.
const CELL_TEXT_WIDTH: usize = 100;

/// `text` with every line longer than `width` broken at spaces (a word longer than `width`
/// stays whole); continuation lines are indented two more spaces than their line.
fn wrap_text(text: &str, width: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push(line.to_string());
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let continuation = " ".repeat(indent + 2);
        let mut current = " ".repeat(indent);
        let mut has_word = false;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if has_word && current.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::replace(&mut current, continuation.clone()));
                has_word = false;
            }
            if has_word {
                current.push(' ');
            }
            current.push_str(word);
            has_word = true;
        }
        out.push(current);
    }
    out.join("\n")
}

/// A value for `-f value`: strings bare, absent as an empty string.
fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        // One value per line: a line break in a value is escaped too.
        Value::String(s) => escape_controls(s, &[]).into_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(_) => value.to_string(),
    }
}

/// `["a", "b", "c"]`, broken between items so that no line is longer than `width` (unless one
/// item alone is); continuation lines start with a space, as in spec/000 example 3.
fn wrap_list(items: &[Value], width: usize) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::from("[");
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let token = format!("{}{}", item, if last { "]" } else { "," });
        let fresh = line == "[" || line == " ";
        let needed = if fresh { token.len() } else { token.len() + 1 };
        if !fresh && line.chars().count() + needed > width {
            lines.push(std::mem::replace(&mut line, String::from(" ")));
        }
        if !(line == "[" || line == " ") {
            line.push(' ');
        }
        line.push_str(&token);
    }
    lines.push(line);
    lines.join("\n")
}

/// comfy-table's preset for the openstack CLI's style: `+`, `-` and `|` borders, a `+---+`
/// rule under the header, no rules between rows.
const TABLE_STYLE: &str = "||--+-++|    ++++++";

/// An ASCII table in the openstack CLI's style: `+---+` borders, a rule under the header, `|`
/// between columns, multi-line cells.
pub fn render_table(headings: &[String], rows: &[Vec<String>]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(TABLE_STYLE).set_header(headings);
    for row in rows {
        table.add_row(row);
    }
    let mut lines: Vec<String> = table.lines().collect();
    if rows.is_empty() {
        // comfy-table closes a table without rows with a second rule under the header's.
        lines.pop();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protector_core::views::Column;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn printed(format: Format, columns: &[&str], f: impl FnOnce(&mut Printer)) -> String {
        let buffer = Buffer::default();
        let options = OutputOptions {
            format,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        };
        let mut printer = Printer::new(&options, Box::new(buffer.clone()));
        f(&mut printer);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn record() -> Record {
        Record::new()
            .field("id", "op-1")
            .field("progress", 100)
            .field("completed_at", Value::Null)
            .field("steps_failed", json!([]))
    }

    #[test]
    fn show_as_field_value_table() {
        let out = printed(Format::Table, &[], |p| p.show(&record()).unwrap());
        assert_eq!(
            out,
            "\
+--------------+-------+
| Field        | Value |
+--------------+-------+
| id           | op-1  |
| progress     | 100   |
| completed_at | null  |
| steps_failed | []    |
+--------------+-------+
"
        );
    }

    #[test]
    fn json_keeps_field_order_and_types() {
        let out = printed(Format::Json, &[], |p| p.show(&record()).unwrap());
        assert_eq!(
            out,
            "{\n  \"id\": \"op-1\",\n  \"progress\": 100,\n  \"completed_at\": null,\n  \"steps_failed\": []\n}\n"
        );
    }

    #[test]
    fn yaml_keeps_field_order() {
        let out = printed(Format::Yaml, &[], |p| p.show(&record()).unwrap());
        assert_eq!(
            out,
            "id: op-1\nprogress: 100\ncompleted_at: ~\nsteps_failed: []\n"
        );
        let mut list = List::with_keys(&["name", "count"]);
        list.push(vec![json!("a"), json!(1)]);
        list.push(vec![json!("b"), json!(2)]);
        let out = printed(Format::Yaml, &[], |p| p.list(&list).unwrap());
        assert_eq!(out, "- name: a\n  count: 1\n- name: b\n  count: 2\n");
    }

    #[test]
    fn list_table_uses_headings_and_columns_filter() {
        let mut list = List::new(vec![
            Column::new("id", "ID"),
            Column::new("instance_name", "Instance Name"),
        ]);
        list.push(vec![json!("m-1"), json!("web-server-1")]);
        let out = printed(Format::Table, &["Instance Name"], |p| {
            p.list(&list).unwrap()
        });
        assert_eq!(
            out,
            "+---------------+\n| Instance Name |\n+---------------+\n| web-server-1  |\n+---------------+\n"
        );
        let out = printed(Format::Value, &["instance_name", "id"], |p| {
            p.list(&list).unwrap()
        });
        assert_eq!(out, "web-server-1 m-1\n");
    }

    #[test]
    fn tables_without_rows_and_with_tall_cells() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            render_table(&strings(&["ID", "Name"]), &[]),
            "+----+------+\n| ID | Name |\n+----+------+\n"
        );
        assert_eq!(
            render_table(&strings(&["A", "B"]), &[strings(&["one\n  two", "x"])]),
            "+-------+---+\n| A     | B |\n+-------+---+\n| one   | x |\n|   two |   |\n+-------+---+\n"
        );
    }

    #[test]
    fn unknown_column_names_the_valid_ones() {
        let options = OutputOptions {
            format: Format::Table,
            columns: vec!["nope".into()],
        };
        let mut printer = Printer::new(&options, Box::new(Buffer::default()));
        let err = printer.show(&record()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown column 'nope': choose from id, progress, completed_at, steps_failed"
        );
    }

    #[test]
    fn control_characters_are_never_printed_raw() {
        assert_eq!(escape_controls("prod-web-app", &[]), "prod-web-app");
        assert_eq!(
            escape_controls("a\nb\u{1b}[2J\tc\u{7f}\u{9b}\u{202e}d", &[]),
            "a\\nb\\u{1b}[2J\\tc\\u{7f}\\u{9b}\\u{202e}d"
        );
        assert_eq!(escape_controls("a\nb\u{1b}", &['\n']), "a\nb\\u{1b}");
        let hostile = "evil\u{1b}]0;owned\u{7}\nline\u{9b}2J\u{202e}";
        let record = Record::new().field("name", hostile);
        let mut list = List::with_keys(&["name"]);
        list.push(vec![json!(hostile)]);
        for format in [Format::Table, Format::Json, Format::Yaml, Format::Value] {
            let shown = printed(format, &[], |p| p.show(&record).unwrap())
                + &printed(format, &[], |p| p.list(&list).unwrap());
            assert!(
                !shown.chars().any(|c| is_hidden_control(c) && c != '\n'),
                "{format:?}: {shown:?}"
            );
        }
        // -f value keeps one value per line; JSON keeps the value itself.
        let value = printed(Format::Value, &[], |p| p.show(&record).unwrap());
        assert_eq!(value.lines().count(), 1, "{value:?}");
        let json = printed(Format::Json, &[], |p| p.show(&record).unwrap());
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["name"], hostile);
        let text = printed(Format::Table, &[], |p| {
            p.text("line one\u{1b}[31m\nline two\n").unwrap()
        });
        assert_eq!(text, "line one\\u{1b}[31m\nline two\n");
    }

    #[test]
    fn long_text_wraps_between_words() {
        assert_eq!(wrap_text("short", 10), "short");
        assert_eq!(
            wrap_text("one two three four\n  - five six seven", 10),
            "one two\n  three\n  four\n  - five\n    six\n    seven"
        );
        assert_eq!(wrap_text("unbreakable-word x", 5), "unbreakable-word\n  x");
    }

    #[test]
    fn long_lists_wrap_between_items() {
        let items = json!([
            "validate_sites",
            "create_dr_record",
            "identify_snapshot",
            "create_volumes_site_b"
        ]);
        assert_eq!(
            cell(&items),
            // As spec/000 example 3 wraps it.
            "[\"validate_sites\", \"create_dr_record\",\n \"identify_snapshot\", \"create_volumes_site_b\"]"
        );
    }
}
