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

/// The first line assigning `key` (or 1), for validation errors.
pub(super) fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}
