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
    (line, indexed(text, line, key))
}

/// `key` (`strategy.npage`, `strategy.matrix.synchronous`) with the index of the
/// `[[strategy]]` entry in force at `line` (`strategy[1].npage`): which entry it is.
fn indexed(text: &str, line: usize, key: String) -> String {
    let first = key.split('.').next().unwrap_or("").to_string();
    let header = format!("[[{first}]]");
    let n = text
        .lines()
        .take(line)
        .filter(|l| l.trim() == header)
        .count();
    match key.strip_prefix(&first) {
        Some(rest) if n > 0 => format!("{first}[{}]{rest}", n - 1),
        _ => key,
    }
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
/// `key` is `name` or `name[i]` (top level), `table.name` (under `[table]`), or
/// `strategy[i].name` / `strategy[i].sub.name` (under the i-th `[[strategy]]`, or its
/// `[strategy.sub]` table). Falls back to the closest table header found, then to line 1.
pub(super) fn key_line(text: &str, key: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let assigns = |l: &str, name: &str| {
        l.split_once('=')
            .is_some_and(|(k, _)| k.trim().trim_matches('"') == name)
    };
    // The first line in `from..` (up to the next header) assigning `name`.
    let find_in = |from: usize, name: &str| {
        lines[from.min(lines.len())..]
            .iter()
            .take_while(|l| !is_header(l))
            .position(|l| assigns(l, name))
            .map(|at| from + at)
    };
    // An element of an array of tables: `strategy[1].matrix.journal_mode`.
    if let Some((table, rest)) = key.split_once('[') {
        if let Some((index, path)) = rest.split_once("].") {
            let Ok(index) = index.parse::<usize>() else {
                return 1;
            };
            let header = format!("[[{table}]]");
            let Some(at) = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.trim() == header)
                .map(|(at, _)| at)
                .nth(index)
            else {
                return 1;
            };
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.trim() == header)
                .map_or(lines.len(), |p| at + 1 + p);
            let parts: Vec<&str> = path.split('.').collect();
            let name = parts[parts.len() - 1];
            if parts.len() == 1 {
                return find_in(at + 1, name).map_or(at + 1, |l| l + 1);
            }
            // `[strategy.sub]` inside this entry, else `sub = ...` inline in it.
            let sub = format!("[{table}.{}]", parts[..parts.len() - 1].join("."));
            let sub_at = (at + 1..end).find(|&l| lines[l].trim() == sub);
            return match sub_at {
                Some(h) => find_in(h + 1, name).map_or(h + 1, |l| l + 1),
                None => find_in(at + 1, parts[0]).map_or(at + 1, |l| l + 1),
            };
        }
        // `known[2]`: the line of `known`.
        if !table.contains('.') {
            return find_in(0, table).map_or(1, |l| l + 1);
        }
    }
    let (table, name) = match key.rsplit_once('.') {
        None => (None, key),
        Some((table, name)) => (Some(table), name),
    };
    // The span of lines belonging to the table: after its header up to the next header.
    let (start, header_line) = match table {
        None => (0, None),
        Some(t) => {
            let headers = [format!("[{t}]"), format!("[[{t}]]")];
            let found = lines
                .iter()
                .position(|l| headers.iter().any(|h| l.trim() == h));
            match found {
                Some(at) => (at + 1, Some(at + 1)),
                None => return 1,
            }
        }
    };
    find_in(start, name)
        .map(|at| at + 1)
        .or(header_line)
        .unwrap_or(1)
}
