//! Where in a TOML file an error is: the line of a byte offset and the key written there, so
//! every scenario error names the file, the line and the key.

/// 1-based line of a byte offset, and the key written on that line (with its table prefix).
pub(super) fn locate(text: &str, span: Option<std::ops::Range<usize>>) -> (usize, String) {
    let Some(span) = span else {
        return (1, "?".into());
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let spanned = text.get(span.clone()).unwrap_or("").trim();
    let key = if let Some((k, _)) = line_text.split_once('=') {
        k.trim().trim_matches('"').to_string()
    } else if !spanned.is_empty() && !spanned.contains('\n') {
        spanned.trim_matches(|c| c == '[' || c == ']').to_string()
    } else {
        line_text.trim().to_string()
    };
    let table = table_at(text, line);
    let key = match table {
        Some(t) if !key.starts_with('[') && t != key => format!("{t}.{key}"),
        _ => key,
    };
    (line, key)
}

/// The `[table]` or `[[table]]` header in force at `line` (1-based).
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            l.starts_with('[')
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last()
}

/// The line assigning a validation error's key, for errors that name file, line and key.
///
/// `key` is `name` (top level), `table.name` (under `[table]`), or `strategy[i].name` (under
/// the i-th `[[strategy]]`). Falls back to the table's header line, then to line 1.
pub(super) fn key_line(text: &str, key: &str) -> usize {
    let (table, index, name) = match key.rsplit_once('.') {
        None => (None, 0, key),
        Some((table, name)) => match table.split_once('[') {
            Some((t, rest)) => (
                Some(t),
                rest.trim_end_matches(']').parse::<usize>().unwrap_or(0),
                name,
            ),
            None => (Some(table), 0, name),
        },
    };
    let lines: Vec<&str> = text.lines().collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    // The span of lines belonging to the table: after its header up to the next header.
    let (start, header_line) = match table {
        None => (0, None),
        Some(t) => {
            let headers = [format!("[{t}]"), format!("[[{t}]]")];
            let found = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| headers.iter().any(|h| l.trim() == h))
                .nth(index);
            match found {
                Some((at, _)) => (at + 1, Some(at + 1)),
                None => return 1,
            }
        }
    };
    lines[start..]
        .iter()
        .take_while(|l| !is_header(l))
        .position(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == name)
        })
        .map(|at| start + at + 1)
        .or(header_line)
        .unwrap_or(1)
}
