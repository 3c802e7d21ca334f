//! One `<rule>` element: its identity, level, description, groups, references and the options
//! the bundle's index shows. Option values are kept as Wazuh reads them: the file's own text,
//! with variables replaced.

use std::collections::BTreeMap;
use std::ops::Range;

use roxmltree::Node;
use serde_json::{Map, Value};

use super::{Reader, split_names, variable_name};
use crate::rules::{Diagnostic, Location, Metadata, Rule, add_value, is_attack_id, normalise_cve};

/// What a rule element said so far, with the problems found reading it.
struct Draft {
    description: Option<String>,
    /// The enclosing groups' names, then the rule's own `<group>` names.
    groups: Vec<String>,
    level: Option<u8>,
    /// What becomes the rule's metadata once it is read.
    metadata: Map<String, Value>,
    problems: Vec<Diagnostic>,
    rule: Rule,
}

impl Reader<'_> {
    /// Reads a rule; it is kept only when nothing in it is an error.
    pub(super) fn rule(&mut self, node: Node, inherited: &[String]) {
        let location = self.location(node.range());
        let content = format!(
            "{}\ngroups: {}",
            self.raw(node.range()),
            inherited.join(",")
        );
        let mut draft = Draft {
            description: None,
            groups: inherited.to_vec(),
            level: None,
            metadata: Map::new(),
            problems: Vec::new(),
            rule: Rule::new(self.kind, String::new(), location, content),
        };

        self.rule_attributes(node, &mut draft);
        for child in node.children().filter(Node::is_element) {
            self.rule_option(child, &mut draft);
        }
        let used = self.check_variables(node, &mut draft);
        // A variable's value is part of the rule: changing it changes what the rule matches.
        for (name, value) in used {
            draft
                .rule
                .content
                .push_str(&format!("\nvariable {name}: {value}"));
        }
        self.required(node, &mut draft);

        let failed = draft.problems.iter().any(Diagnostic::is_error);
        self.parsed.diagnostics.append(&mut draft.problems);
        if !failed {
            self.parsed.rules.push(finish(draft));
        }
    }

    fn problem(&self, draft: &mut Draft, range: Range<usize>, message: String, error: bool) {
        let location = self.location(range);
        draft.problems.push(if error {
            Diagnostic::error(location, message)
        } else {
            Diagnostic::warning(location, message)
        });
    }

    fn rule_attributes(&self, node: Node, draft: &mut Draft) {
        for attribute in node.attributes() {
            let range = attribute.range_value();
            let value = self.substitute(self.raw(range.clone()));
            match attribute.name() {
                "id" if is_digits(&value) => draft.rule.id = value,
                "id" => {
                    let message = format!("rule `id` must be digits, not `{value}`");
                    self.problem(draft, range, message, true);
                }
                "level" => match value.parse::<u8>() {
                    Ok(level) if level <= 16 && is_digits(&value) => draft.level = Some(level),
                    _ => {
                        let message = format!("`level` must be from 0 to 16, not `{value}`");
                        self.problem(draft, range, message, true);
                    }
                },
                "overwrite" if value == "yes" || value == "no" => {
                    draft.rule.overwrite = value == "yes";
                }
                "overwrite" => {
                    let message = format!("`overwrite` must be `yes` or `no`, not `{value}`");
                    self.problem(draft, range, message, true);
                }
                name => {
                    draft.metadata.insert(name.to_owned(), value.into());
                }
            }
        }
    }

    /// Reads one child element of a rule.
    fn rule_option(&self, child: Node, draft: &mut Draft) {
        let name = child.tag_name().name();
        let text = self.substitute(&self.text_of(child));
        match name {
            "description" => draft.description = Some(text.trim().to_owned()),
            "group" => draft.groups.extend(split_names(&text)),
            "mitre" => self.mitre(child, draft),
            "info" => self.info(child, text, draft),
            "if_sid" | "if_matched_sid" => {
                self.depends_on(child, &text, draft);
                add_value(&mut draft.metadata, name, text.into());
            }
            _ => {
                let value = self.option_value(child, text);
                add_value(&mut draft.metadata, name, value);
            }
        }
    }

    /// An option's text, or an object of its attributes and its text under `value`.
    fn option_value(&self, child: Node, text: String) -> Value {
        if child.attributes().len() == 0 {
            return text.into();
        }
        let mut object = Map::new();
        for attribute in child.attributes() {
            let value = self.substitute(self.raw(attribute.range_value()));
            object.insert(attribute.name().to_owned(), value.into());
        }
        object.insert("value".into(), text.into());
        object.into()
    }

    /// `<mitre><id>T1110</id></mitre>`: ATT&CK technique ids.
    fn mitre(&self, node: Node, draft: &mut Draft) {
        for id in node.children().filter(|child| child.has_tag_name("id")) {
            let value = self.substitute(&self.text_of(id)).trim().to_owned();
            if is_attack_id(&value) {
                push_unique(&mut draft.rule.attack, value);
            } else {
                let message = format!("`{value}` is not an ATT&CK technique id; it is left out");
                self.problem(draft, id.range(), message, false);
            }
        }
    }

    /// `<info type="cve">` holds a CVE id; every `<info>` goes to the index.
    fn info(&self, node: Node, text: String, draft: &mut Draft) {
        let kind = node
            .attribute_node("type")
            .map(|kind| self.raw(kind.range_value()));
        if kind == Some("cve") {
            match normalise_cve(&text) {
                Some(id) => push_unique(&mut draft.rule.cves, id),
                None => {
                    let message = format!(
                        "cannot read `{}` as a CVE id; it is left out of the rule's CVEs",
                        text.trim()
                    );
                    self.problem(draft, node.range(), message, false);
                }
            }
        }
        let mut entry = Map::new();
        entry.insert("type".into(), kind.unwrap_or("text").into());
        entry.insert("value".into(), text.into());
        add_value(&mut draft.metadata, "info", entry.into());
    }

    /// `<if_sid>` and `<if_matched_sid>` list the rules this one builds on.
    fn depends_on(&self, node: Node, text: &str, draft: &mut Draft) {
        let separators = [',', ' ', '\t', '\n', '\r'];
        for id in text.split(separators).filter(|id| !id.is_empty()) {
            if is_digits(id) {
                push_unique(&mut draft.rule.depends_on, id.to_owned());
            } else {
                let name = node.tag_name().name();
                let message = format!("`{name}` must list rule ids, not `{id}`");
                self.problem(draft, node.range(), message, true);
            }
        }
    }

    /// Every `$NAME` in the rule's attributes and text must be a variable defined earlier in
    /// the file: Wazuh reads a file's variables in order and knows no others.
    /// Returns the variables the rule uses, by lower-case name, with their values.
    fn check_variables(&self, node: Node, draft: &mut Draft) -> BTreeMap<String, String> {
        let mut used = BTreeMap::new();
        for descendant in node.descendants() {
            if descendant.is_text() {
                self.variables_in(descendant.range(), draft, &mut used);
            }
            for attribute in descendant.attributes() {
                self.variables_in(attribute.range_value(), draft, &mut used);
            }
        }
        used
    }

    fn variables_in(
        &self,
        range: Range<usize>,
        draft: &mut Draft,
        used: &mut BTreeMap<String, String>,
    ) {
        let start = self.prepared.original(range.start);
        let raw = self.raw(range);
        for (at, _) in raw.match_indices('$') {
            let name = variable_name(&raw[at + 1..]);
            if name.is_empty() {
                continue;
            }
            if let Some(value) = self.variables.get(&name.to_ascii_lowercase()) {
                used.insert(name.to_ascii_lowercase(), value.clone());
                continue;
            }
            let location = self.location_at(start + at);
            let message = format!("variable `${name}` is used before it is defined in this file");
            draft.problems.push(Diagnostic::error(location, message));
        }
    }

    fn location_at(&self, offset: usize) -> Location {
        self.source.location(&self.file.display, offset)
    }

    /// A rule needs an `id`, a `level` and a description.
    fn required(&self, node: Node, draft: &mut Draft) {
        let range = node.range();
        for attribute in ["id", "level"] {
            if node.attribute(attribute).is_none() {
                let message = format!("rule has no `{attribute}`");
                self.problem(draft, range.clone(), message, true);
            }
        }
        // Wazuh loads a rule whose description is empty, and v3.12.0 ships one (13106, a
        // grouping rule that never alerts), so only a missing description is an error.
        let id = &draft.rule.id;
        let (message, error) = match draft.description.as_deref() {
            None => (format!("rule `{id}` has no `<description>`"), true),
            Some("") => (
                format!("rule `{id}` has an empty `<description>`, so no name"),
                false,
            ),
            Some(_) => return,
        };
        self.problem(draft, range, message, error);
    }
}

/// The rule, from a draft with no errors.
fn finish(draft: Draft) -> Rule {
    let mut rule = draft.rule;
    let level = draft.level.unwrap_or_default();
    rule.severity = Some(level.to_string());
    // The description is the rule's name, and the level its severity: each said once.
    rule.name = draft.description.unwrap_or_default();
    let mut groups = Vec::new();
    for group in draft.groups {
        push_unique(&mut groups, group);
    }
    let mut metadata = draft.metadata;
    metadata.insert("groups".into(), groups.into());
    rule.metadata = Metadata::new(&metadata);
    rule
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}
