//! Suricata and Snort rule text (`.rules`): the parse stage's reader for intrusion-prevention
//! rules.
//!
//! A file holds one rule a line, `action header (options)`; a line ending in `\` goes on with
//! the next. A `#` line is a comment, except that a commented-out rule (`#alert ... sid:...`)
//! is a disabled rule: rule sets ship rules that way so that a site can enable them.
//!
//! The reader follows Suricata 7 wherever Suricata reports an error, and is stricter where
//! Suricata is lenient in ways that hide a mistake: it wants both parentheses, and it refuses
//! an indented rule, which Suricata skips without a word. Its guarantees: a rule is returned
//! only when it read without error; a problem in a disabled rule is a warning, since the
//! engine reads that line as a comment; `content` is the rule's text as the file has it.

use std::ops::Range;

use super::{Diagnostic, Kind, Parsed, Rule, RuleFile, SourceText};

/// The actions Suricata accepts at the start of a rule, alphabetically.
pub(crate) const ACTIONS: [&str; 7] = [
    "alert",
    "drop",
    "pass",
    "reject",
    "rejectboth",
    "rejectdst",
    "rejectsrc",
];

/// Reads every rule in a Suricata rule file.
pub fn parse(file: &RuleFile, kind: Kind) -> Parsed {
    let source = SourceText::decode(&file.bytes);
    let mut parsed = Parsed {
        diagnostics: source.invalid_utf8(&file.display),
        rules: Vec::new(),
    };

    for candidate in candidates(&source, &file.display, &mut parsed.diagnostics) {
        // The bad bytes already have their error, and a rule holding them has no exact text.
        if source.has_invalid(candidate.span.clone()) {
            continue;
        }
        let mut reader = RuleReader {
            candidate: &candidate,
            path: &file.display,
            problems: Vec::new(),
            source: &source,
            text: &candidate.text,
        };
        let rule = reader.read(kind);
        let failed = reader.problems.iter().any(Diagnostic::is_error);
        parsed.diagnostics.extend(
            reader
                .problems
                .into_iter()
                .map(|d| demote(d, candidate.disabled)),
        );
        parsed.rules.extend(rule.filter(|_| !failed));
    }
    parsed
}

/// A disabled rule is a comment to the engine, so what would refuse a rule only warns.
fn demote(diagnostic: Diagnostic, disabled: bool) -> Diagnostic {
    if disabled && diagnostic.is_error() {
        let message = format!("commented-out rule not read: {}", diagnostic.message);
        Diagnostic::warning(diagnostic.location, message)
    } else {
        diagnostic
    }
}

/// One rule's text, joined from its lines, with the way back to the file.
struct Candidate {
    disabled: bool,
    /// Where each joined line starts: (offset in `text`, offset in the file), in order.
    pieces: Vec<(usize, usize)>,
    /// The bytes of the file the rule covers.
    span: Range<usize>,
    text: String,
}

impl Candidate {
    fn file_offset(&self, at: usize) -> usize {
        let piece = self.pieces.partition_point(|&(start, _)| start <= at);
        let (start, file) = self.pieces[piece.saturating_sub(1)];
        file + (at - start)
    }
}

/// The file's lines as (offset, text), without line ends; a `\r` before `\n` is a line end.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut offset = 0;
    let mut all = Vec::new();
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        all.push((offset, content.strip_suffix('\r').unwrap_or(content)));
        offset += line.len();
    }
    all
}

/// Finds the rules and disabled rules in a file, joining continued lines.
fn candidates(source: &SourceText, path: &str, problems: &mut Vec<Diagnostic>) -> Vec<Candidate> {
    let lines = lines(&source.text);
    let mut found = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let (start, line) = lines[next];
        next += 1;
        let Some((skip, disabled)) = rule_start(line) else {
            if let Some(indent) = indented_rule(line) {
                let message = "line starts with whitespace, so Suricata skips it: \
                               remove the indentation";
                problems.push(Diagnostic::error(
                    source.location(path, start + indent),
                    message,
                ));
            }
            continue;
        };
        let (candidate, used) = join(&lines[next - 1..], skip, disabled);
        // A comment that starts with an action word but names no sid is prose, and the
        // engine never continues a comment onto the next line.
        if disabled && !holds_sid(&candidate.text) {
            continue;
        }
        next += used - 1;
        found.push(candidate);
    }
    found
}

/// Where a line's rule starts, and whether it is commented out; `None` for other lines.
fn rule_start(line: &str) -> Option<(usize, bool)> {
    if let Some(rest) = line.strip_prefix('#') {
        let body = rest.trim_start_matches([' ', '\t']);
        let action = body.split(char::is_whitespace).next()?;
        let spaced = body[action.len()..].starts_with(char::is_whitespace);
        let skip = line.len() - body.len();
        return (ACTIONS.contains(&action) && spaced).then_some((skip, true));
    }
    let blank = line.trim().is_empty();
    (!blank && !line.starts_with(char::is_whitespace)).then_some((0, false))
}

/// The indent of a line that holds something other than a comment after leading whitespace.
fn indented_rule(line: &str) -> Option<usize> {
    let body = line.trim_start();
    let indented = line.starts_with(char::is_whitespace) && !body.is_empty();
    (indented && !body.starts_with('#')).then_some(line.len() - body.len())
}

/// Joins a rule's first line with the lines its trailing backslashes continue onto.
///
/// As Suricata does, whitespace after the final backslash still continues the line, and the
/// backslash and the line end are dropped.
fn join(lines: &[(usize, &str)], skip: usize, disabled: bool) -> (Candidate, usize) {
    let (first, line) = lines[0];
    let (mut start, mut piece) = (first + skip, &line[skip..]);
    let mut text = String::new();
    let mut pieces = Vec::new();
    let mut used = 1;
    loop {
        pieces.push((text.len(), start));
        match piece.trim_end().strip_suffix('\\') {
            Some(body) if used < lines.len() => {
                text.push_str(body);
                (start, piece) = lines[used];
                used += 1;
            }
            _ => {
                text.push_str(piece);
                break;
            }
        }
    }
    let span = first + skip..start + piece.len();
    let candidate = Candidate {
        disabled,
        pieces,
        span,
        text,
    };
    (candidate, used)
}

/// True where the text has a `sid` option: `sid` then optional spaces then `:`.
fn holds_sid(text: &str) -> bool {
    text.match_indices("sid").any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let word_start = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        word_start && text[at + 3..].trim_start().starts_with(':')
    })
}

/// One option as written: its name and, for `name:value;`, the value, as ranges of the text.
struct RawOption {
    name: Range<usize>,
    value: Option<Range<usize>>,
}

/// What a rule's options say about its identity and metadata.
#[derive(Default)]
struct Fields {
    classtype: Option<String>,
    cves: Vec<String>,
    gid: Option<u32>,
    has_sid: bool,
    /// The `metadata` option's pairs: key, value, and where the pair starts.
    metadata: Vec<(String, String, usize)>,
    msg: Option<String>,
    references: Vec<String>,
    rev: Option<u32>,
    sid: Option<u32>,
}

/// Reads one rule, collecting every problem with its place in the file.
struct RuleReader<'a> {
    candidate: &'a Candidate,
    path: &'a str,
    problems: Vec<Diagnostic>,
    source: &'a SourceText,
    text: &'a str,
}

impl<'a> RuleReader<'a> {
    fn error(&mut self, at: usize, message: impl Into<String>) {
        let location = self
            .source
            .location(self.path, self.candidate.file_offset(at));
        self.problems.push(Diagnostic::error(location, message));
    }

    fn warning(&mut self, at: usize, message: impl Into<String>) {
        let location = self
            .source
            .location(self.path, self.candidate.file_offset(at));
        self.problems.push(Diagnostic::warning(location, message));
    }

    fn read(&mut self, kind: Kind) -> Option<Rule> {
        let text = self.text;
        let action_end = text.find(char::is_whitespace).unwrap_or(text.len());
        let action = &text[..action_end];
        if !ACTIONS.contains(&action) {
            let expected = ACTIONS.join(", ");
            self.error(
                0,
                format!("unknown action `{action}`: expected one of {expected}"),
            );
            return None;
        }
        let open = self.header(action_end)?;
        let options = self.options(open)?;
        let fields = self.fields(&options);
        let Some(sid) = fields.sid else {
            // An unreadable `sid` has its own error already.
            if !fields.has_sid {
                self.error(0, "missing `sid`: every rule needs one");
            }
            return None;
        };
        Some(self.build(kind, action, sid, fields))
    }

    /// Checks the header and gives the offset of the `(` that opens the options.
    fn header(&mut self, from: usize) -> Option<usize> {
        let open = self.text.find('(');
        let fields = header_fields(self.text, from, open.unwrap_or(self.text.len()));
        let looks_like_option =
            |field: &Range<usize>| self.text[field.clone()].contains([':', ';']);
        if let Some(seventh) = fields.get(6).filter(|field| looks_like_option(field)) {
            self.error(seventh.start, "missing `(` before the rule options");
            return None;
        }
        let Some(open) = open else {
            self.error(self.text.len(), "missing `(` before the rule options");
            return None;
        };
        if fields.len() != 6 {
            let message = format!(
                "the rule header has {} fields where 6 are expected: protocol, source, \
                 source port, direction, destination, destination port",
                fields.len()
            );
            self.error(fields.first().map_or(from, |field| field.start), message);
            return None;
        }
        let direction = &self.text[fields[3].clone()];
        if direction != "->" && direction != "<>" {
            let message = format!("`{direction}` is not a direction: expected `->` or `<>`");
            self.error(fields[3].start, message);
            return None;
        }
        Some(open)
    }

    /// Splits the options between `(` and `)`.
    fn options(&mut self, open: usize) -> Option<Vec<RawOption>> {
        let text = self.text;
        let mut options = Vec::new();
        let mut at = open + 1;
        loop {
            at += text[at..].len() - text[at..].trim_start().len();
            if at == text.len() {
                self.error(at, "missing `)` at the end of the rule options");
                return None;
            }
            if text[at..].starts_with(')') {
                let after = text[at + 1..].trim();
                if !after.is_empty() {
                    let after_at = text.len() - text[at + 1..].trim_start().len();
                    self.error(
                        after_at,
                        format!("unexpected `{after}` after the closing `)`"),
                    );
                    return None;
                }
                return Some(options);
            }
            let (option, end) = self.option(at)?;
            options.push(option);
            at = end + 1;
        }
    }

    /// Reads the option at `start`, `name;` or `name:value;`, and finds the `;` that ends it.
    fn option(&mut self, start: usize) -> Option<(RawOption, usize)> {
        let text = self.text;
        let Some(name_end) = text[start..].find([':', ';']).map(|end| start + end) else {
            self.not_ended(start);
            return None;
        };
        let name = text[start..name_end].trim_end();
        if !is_option_name(name) {
            self.bad_syntax(start, name_end);
            return None;
        }
        let name_range = start..start + name.len();
        let end = if text[name_end..].starts_with(';') {
            name_end
        } else {
            self.value_end(start, name, name_end + 1)?
        };
        let value = (end != name_end).then_some(name_end + 1..end);
        let option = RawOption {
            name: name_range,
            value,
        };
        Some((option, end))
    }

    fn bad_syntax(&mut self, start: usize, name_end: usize) {
        let body = self.text[start..]
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end();
        if name_end == start {
            self.error(start, "empty option: a `;` with no option before it");
        } else {
            let message =
                format!("unknown option syntax `{body}`: expected `name;` or `name:value;`");
            self.error(start, message);
        }
    }

    /// Reports an option that runs to the end of the rule without its `;`.
    fn not_ended(&mut self, start: usize) {
        let body = self.text[start..].trim_end();
        let body = body.strip_suffix(')').unwrap_or(body).trim_end();
        self.error(start, format!("option `{body}` is not ended by `;`"));
    }

    /// Finds the `;` that ends a value. Outside quotes that is the first `;` without a
    /// backslash before it, as in Suricata.
    fn value_end(&mut self, start: usize, name: &str, from: usize) -> Option<usize> {
        let text = self.text;
        let value = text[from..].trim_start();
        let quoted = value.strip_prefix('!').unwrap_or(value);
        if quoted.starts_with('"') {
            return self.quoted_end(name, text.len() - quoted.len());
        }
        let end = unescaped(text, from, ';');
        if end.is_none() {
            self.not_ended(start);
        }
        end
    }

    /// Finds the `;` after a quoted value: the value ends at a `"` that only spaces separate
    /// from a `;`, and inside it `\;`, `\"` and `\\` are escapes.
    ///
    /// A bare `;` inside the quotes does not end the value here, so that the real mistake is
    /// reported, but it is an error: Suricata ends the option at any `;` without a backslash.
    /// Where a `"` follows that `;` before the value closes, the quotes of the next options
    /// are being swallowed, and the real mistake is a quote never closed.
    fn quoted_end(&mut self, name: &str, open: usize) -> Option<usize> {
        let text = self.text;
        let (mut bare, mut escaped) = (None, false);
        for (offset, c) in text[open + 1..].char_indices() {
            let at = open + 1 + offset;
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                ';' => bare = bare.or(Some(at)),
                '"' if bare.is_some() => break,
                '"' if text[at + 1..].trim_start().starts_with(';') => {
                    return Some(text.len() - text[at + 1..].trim_start().len());
                }
                _ => {}
            }
        }
        match bare.map(|semicolon| (semicolon, closing_quote(text, semicolon))) {
            Some((semicolon, Some(end))) => {
                let message = format!(
                    "unescaped `;` inside the quoted value of `{name}`: Suricata ends the \
                     option there, so write `\\;`"
                );
                self.error(semicolon, message);
                Some(end)
            }
            _ => {
                self.unclosed_quote(name, open);
                None
            }
        }
    }

    /// Says why a quoted value has no closing quote before a `;`: text after its closing
    /// quote, or no closing quote at all.
    fn unclosed_quote(&mut self, name: &str, open: usize) {
        let text = self.text;
        let stop = unescaped(text, open + 1, ';').unwrap_or(text.len());
        match unescaped(&text[..stop], open + 1, '"') {
            Some(close) => {
                let rest = &text[close + 1..stop];
                let at = stop - rest.trim_start().len();
                self.error(
                    at,
                    format!("unexpected text after the closing quote of `{name}`"),
                );
            }
            None => self.error(open, format!("unterminated quote in option `{name}`")),
        }
    }
}

/// Where a quoted value whose bare `;` is at `semicolon` ends: the offset of the `;` after
/// the first `"` from there, when only spaces stand between them.
fn closing_quote(text: &str, semicolon: usize) -> Option<usize> {
    let quote = unescaped(text, semicolon, '"')?;
    let after = text[quote + 1..].trim_start();
    after.starts_with(';').then_some(text.len() - after.len())
}

/// Option names are keywords such as `msg`, `http.uri`, `app-layer-event` or `ja3_hash`.
fn is_option_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    !name.is_empty() && name.bytes().all(allowed)
}

/// The offset of the first `wanted` from `from` on that no backslash escapes.
fn unescaped(text: &str, from: usize, wanted: char) -> Option<usize> {
    let mut escaped = false;
    for (offset, c) in text[from..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == wanted => return Some(from + offset),
            _ => {}
        }
    }
    None
}

/// The whitespace-separated fields of a rule header; a `[...]` list may hold spaces.
fn header_fields(text: &str, from: usize, to: usize) -> Vec<Range<usize>> {
    let mut fields = Vec::new();
    let (mut depth, mut start) = (0usize, None);
    for (offset, c) in text[from..to].char_indices() {
        let at = from + offset;
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                if let Some(begin) = start.take() {
                    fields.push(begin..at);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(at);
    }
    fields.extend(start.map(|begin| begin..to));
    fields
}

mod fields;

#[cfg(test)]
mod tests;
