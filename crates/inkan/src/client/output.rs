//! How `inkan client` prints an answer: the JSON itself with `--json`, else a table for a list
//! and aligned `name  value` lines for a record. Prints only what the service answered or the
//! command computed; never a token, key or password (the commands do not pass them here).

use serde_json::Value;
use std::fmt::Write as _;

/// Longest cell of a table before it is cut (full values with `--json`).
const MAX_CELL: usize = 60;

/// Prints `value` on standard output; a table shows `columns` when given.
pub fn print(value: &Value, json: bool, columns: Option<&[&str]>) {
    let text = if json {
        serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
    } else {
        sanitize(&render(value, columns))
    };
    print!("{text}");
}

/// `text` without control characters (but newlines and tabs): a name or reason a subscriber
/// chose cannot move the terminal's cursor or change its colours.
pub fn sanitize(text: &str) -> String {
    // Bidirectional overrides and isolates, and zero-width marks, can make a line read as
    // something else.
    let format = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\n' && c != '\t') || format(c) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// The human form of `value`.
pub fn render(value: &Value, columns: Option<&[&str]>) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => format!("{text}\n"),
        Value::Array(items) => table(items, columns),
        Value::Object(fields) => {
            // A record whose one list is the answer (`{keys: [...]}`) prints as that list.
            let lists: Vec<&Value> = fields.values().filter(|v| v.is_array()).collect();
            if let ([Value::Array(items)], true) = (lists.as_slice(), fields.len() <= 2) {
                let mut text = String::new();
                for (name, field) in fields.iter().filter(|(_, v)| !v.is_array()) {
                    let _ = writeln!(text, "{name}: {}", scalar_or_json(field));
                }
                return text + &table(items, columns);
            }
            let width = fields.keys().map(String::len).max().unwrap_or(0);
            let mut text = String::new();
            for (name, field) in fields {
                let _ = writeln!(text, "{name:width$}  {}", scalar_or_json(field));
            }
            text
        }
        other => format!("{other}\n"),
    }
}

/// A table of `items`: the `chosen` columns, else one per member of the first object whose
/// value is a single-line scalar.
fn table(items: &[Value], chosen: Option<&[&str]>) -> String {
    let Some(Value::Object(first)) = items.first() else {
        return items.iter().map(|v| format!("{}\n", cell(v))).collect();
    };
    let columns: Vec<String> = match chosen {
        Some(names) => names.iter().map(|n| (*n).to_owned()).collect(),
        None => first
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .filter(|(_, v)| !v.as_str().is_some_and(|t| t.contains('\n')))
            .map(|(name, _)| name.clone())
            .collect(),
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(&item[c.as_str()])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let mut text = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text + "\n"
    };
    let mut text = line(columns.clone());
    for row in rows {
        text += &line(row);
    }
    text
}

fn scalar_or_json(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn cell(value: &Value) -> String {
    let text = scalar_or_json(value);
    let text = match text.split_once('\n') {
        Some((first, _)) => format!("{first}…"),
        None => text,
    };
    if text.chars().count() > MAX_CELL {
        text.chars().take(MAX_CELL - 1).collect::<String>() + "…"
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_print_as_tables_and_records_as_lines() {
        let keys = json!({"keys": [
            {"id": "key_1", "algorithm": "ES256", "state": "active", "public_jwk": {"kty": "EC"}},
            {"id": "key_22", "algorithm": "Ed25519", "state": "disabled", "public_jwk": {}},
        ]});
        assert_eq!(
            render(&keys, None),
            "algorithm  id      state\nES256      key_1   active\nEd25519    key_22  disabled\n"
        );
        let record = json!({"id": "key_1", "label": null, "scope": {"a": 1}});
        assert_eq!(
            render(&record, None),
            "id     key_1\nlabel  -\nscope  {\"a\":1}\n"
        );
        assert_eq!(
            sanitize("a\u{1b}[31mb\u{202e}c\nd"),
            "a\u{fffd}[31mb\u{fffd}c\nd"
        );
        let long = "x".repeat(100);
        let cut = render(&json!([{ "v": long }]), None);
        assert_eq!(
            render(&keys, Some(&["state", "id"])).lines().nth(2),
            Some("disabled  key_22")
        );
        assert_eq!(cut.lines().nth(1).unwrap().chars().count(), MAX_CELL);
    }
}
