//! OSSEC/Wazuh rule XML: the parse stage's reader for log-inspection rules.
//!
//! A file holds top-level `<var>` and `<group>` elements and comments; groups hold `<rule>`
//! elements, and may hold further groups. Each rule inherits the names of every group around
//! it. The reader reads what Wazuh reads (see `prepare` for the lenient constructs it
//! repairs, each with a warning) and reports a file that is malformed even so with one error,
//! roxmltree's own, at its place in the file.
//!
//! Guarantees: a rule is returned only when it read without error; every location is a line
//! and column of the file as it is on disk; a rule's `content` is its element's exact text
//! followed by the names of the groups it inherits, so that moving a rule to a group with
//! another name changes it. Checks across files (duplicate ids, `overwrite`, whether an
//! `if_sid` exists) belong to `validate`.

mod prepare;
mod rule;

use std::collections::HashMap;
use std::ops::Range;

use roxmltree::{Document, Node};

use self::prepare::{Prepared, ROOT};
use super::{Diagnostic, Kind, Location, Parsed, RuleFile, SourceText};

/// Reads every rule in an OSSEC/Wazuh rule file.
pub fn parse(file: &RuleFile, kind: Kind) -> Parsed {
    let source = SourceText::decode(&file.bytes);
    let mut parsed = Parsed {
        diagnostics: source.invalid_utf8(&file.display),
        rules: Vec::new(),
    };
    let prepared = Prepared::new(&source.text);
    for repair in &prepared.repairs {
        let location = source.location(&file.display, repair.offset);
        parsed
            .diagnostics
            .push(Diagnostic::warning(location, repair.message));
    }

    let document = match Document::parse(&prepared.xml) {
        Ok(document) => document,
        Err(error) => {
            parsed
                .diagnostics
                .push(xml_error(&error, &prepared, &source, &file.display));
            return parsed;
        }
    };
    let mut reader = Reader {
        file,
        kind,
        parsed: &mut parsed,
        prepared: &prepared,
        source: &source,
        variables: HashMap::new(),
    };
    reader.file(document.root_element());
    parsed
}

/// roxmltree's error, at its place in the file rather than in the wrapped text.
fn xml_error(
    error: &roxmltree::Error,
    prepared: &Prepared,
    source: &SourceText,
    path: &str,
) -> Diagnostic {
    let position = error.pos();
    let offset = prepared.original(prepared.offset_of(position.row, position.col));
    // The message names the position in the wrapped text; the location replaces it.
    let message = error
        .to_string()
        .replace(&format!(" at {position}"), "")
        .replace(&format!("'{ROOT}' tag"), "the end of the file")
        .replace(&format!("'{ROOT}'"), "the end of the file");
    Diagnostic::error(source.location(path, offset), message)
}

/// Walks one parsed file, in document order, so that variables are known where Wazuh
/// knows them.
struct Reader<'a> {
    file: &'a RuleFile,
    kind: Kind,
    parsed: &'a mut Parsed,
    prepared: &'a Prepared,
    source: &'a SourceText,
    /// The variables defined so far, by lower-case name (Wazuh ignores their case), with
    /// their values.
    variables: HashMap<String, String>,
}

impl Reader<'_> {
    /// Where a node's range in the wrapped text starts, in the file.
    fn location(&self, range: Range<usize>) -> Location {
        let offset = self.prepared.original(range.start);
        self.source.location(&self.file.display, offset)
    }

    /// The file's own text for a range of the wrapped text: what Wazuh reads there.
    fn raw(&self, range: Range<usize>) -> &str {
        let start = self.prepared.original(range.start);
        let end = self.prepared.original(range.end);
        self.source.text.get(start..end).unwrap_or_default()
    }

    /// The text directly inside an element, as the file has it.
    fn text_of(&self, node: Node) -> String {
        let texts = node.children().filter(Node::is_text);
        texts.map(|text| self.raw(text.range())).collect()
    }

    fn error(&mut self, range: Range<usize>, message: impl Into<String>) {
        let location = self.location(range);
        self.parsed
            .diagnostics
            .push(Diagnostic::error(location, message));
    }

    fn file(&mut self, root: Node) {
        for node in root.children().filter(Node::is_element) {
            match node.tag_name().name() {
                "var" => self.variable(node),
                "group" => self.group(node, &[]),
                name => {
                    let message = format!(
                        "unexpected `<{name}>` at the top level: expected `<group>` or `<var>`"
                    );
                    self.error(node.range(), message);
                }
            }
        }
    }

    /// `<var name="X">value</var>` defines `$X` for the rest of the file.
    fn variable(&mut self, node: Node) {
        match node
            .attribute_node("name")
            .map(|name| self.raw(name.range_value()))
        {
            Some(name) if !name.trim().is_empty() => {
                let name = name.trim().to_ascii_lowercase();
                let value = self.text_of(node);
                self.variables.insert(name, value);
            }
            _ => self.error(node.range(), "`<var>` has no `name`"),
        }
    }

    /// Reads a group's rules and inner groups, each inheriting this group's names.
    fn group(&mut self, node: Node, inherited: &[String]) {
        let mut names = inherited.to_vec();
        match node.attribute_node("name") {
            Some(name) => names.extend(split_names(self.raw(name.range_value()))),
            None => self.error(node.range(), "`<group>` has no `name`"),
        }
        for child in node.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "rule" => self.rule(child, &names),
                "group" => self.group(child, &names),
                name => {
                    let message =
                        format!("unexpected `<{name}>` inside `<group>`: expected `<rule>`");
                    self.error(child.range(), message);
                }
            }
        }
    }

    /// Replaces each defined `$NAME` with its value, as Wazuh does before it reads a rule.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let name = variable_name(&rest[dollar + 1..]);
            match self.variables.get(&name.to_ascii_lowercase()) {
                Some(value) if !name.is_empty() => out.push_str(value),
                _ => {
                    out.push('$');
                    out.push_str(name);
                }
            }
            rest = &rest[dollar + 1 + name.len()..];
        }
        out.push_str(rest);
        out
    }
}

/// The name after a `$`: ASCII letters, digits and `_`. Wazuh's field references such as
/// `$(srcip)` in descriptions have none, and neither has a regex's `$` anchor.
fn variable_name(after: &str) -> &str {
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after.len());
    &after[..end]
}

/// Group names as Wazuh writes them: `a,b,` with spaces allowed and empty names dropped.
fn split_names(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
