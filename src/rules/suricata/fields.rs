//! What a Suricata rule's options say about it: its identity, name, CVEs, ATT&CK ids and the
//! metadata the bundle's index shows. Split from the reader, which only finds the options.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Fields, RawOption, RuleReader};
use crate::rules::{Kind, Metadata, Mode, Rule, is_attack_id, normalise_cve};

/// The options that matter to a release, which option names match whatever their case.
const FIELDS: [&str; 7] = [
    "classtype",
    "gid",
    "metadata",
    "msg",
    "reference",
    "rev",
    "sid",
];

impl RuleReader<'_> {
    /// Reads the options that matter to a release; detection options stay in the rule's text.
    pub(super) fn fields(&mut self, options: &[RawOption]) -> Fields {
        let text = self.text;
        let mut fields = Fields::default();
        for option in options {
            let name = &text[option.name.clone()];
            let known = FIELDS.iter().find(|field| field.eq_ignore_ascii_case(name));
            let value = option
                .value
                .clone()
                .map(|range| (range.start, &text[range]));
            match (known.copied().unwrap_or_default(), value) {
                ("sid", _) => {
                    fields.has_sid = true;
                    fields.sid = self.number(option, fields.sid, 1);
                }
                ("gid", _) => fields.gid = self.number(option, fields.gid, 0),
                ("rev", _) => fields.rev = self.number(option, fields.rev, 1),
                ("msg", Some((at, value))) => fields.msg = self.message(at, value),
                ("classtype", Some((_, value))) => fields.classtype = Some(value.trim().into()),
                ("reference", Some((at, value))) => self.reference(at, value, &mut fields),
                ("metadata", Some((at, value))) => metadata_pairs(at, value, &mut fields),
                _ => {}
            }
        }
        fields
    }

    /// Reads `sid`, `gid` or `rev`: a whole number from `min` up, given once.
    fn number(&mut self, option: &RawOption, earlier: Option<u32>, min: u32) -> Option<u32> {
        let name = &self.text[option.name.clone()];
        if earlier.is_some() {
            self.error(
                option.name.start,
                format!("duplicate `{name}`: the rule has one already"),
            );
            return earlier;
        }
        let Some(range) = option.value.clone() else {
            self.error(option.name.start, format!("`{name}` needs a value"));
            return None;
        };
        let raw = self.text[range.clone()].trim();
        let at = range.end - self.text[range].trim_start().len();
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            self.error(at, format!("`{name}` must be a whole number, not `{raw}`"));
            return None;
        }
        match raw.parse::<u32>() {
            Ok(number) if number >= min => Some(number),
            _ => {
                let message = format!("`{name}` must be from {min} to {}, not `{raw}`", u32::MAX);
                self.error(at, message);
                None
            }
        }
    }

    /// Reads `msg`, which Suricata wants in double quotes, and undoes its escapes.
    fn message(&mut self, at: usize, value: &str) -> Option<String> {
        let trimmed = value.trim();
        let quoted = trimmed
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'));
        let Some(quoted) = quoted.filter(|_| trimmed.len() >= 2) else {
            let at = at + value.len() - value.trim_start().len();
            self.error(at, "`msg` must be in double quotes");
            return None;
        };
        let mut message = String::with_capacity(quoted.len());
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some(next @ ('"' | '\\' | ';' | ':' | ','))) => {
                    message.push(next);
                    chars.next();
                }
                _ => message.push(c),
            }
        }
        Some(message)
    }

    /// Keeps a reference, and reads the CVE id out of `reference:cve,...`.
    fn reference(&mut self, at: usize, value: &str, fields: &mut Fields) {
        fields.references.push(value.trim().to_owned());
        let Some((scheme, id)) = value.split_once(',') else {
            return;
        };
        if scheme.trim().eq_ignore_ascii_case("cve") {
            let id_at = at + scheme.len() + 1 + id.len() - id.trim_start().len();
            self.cve(id_at, id.trim(), &mut fields.cves);
        }
    }

    /// Adds a CVE id in its normal form; one that cannot be read only warns, since the rule
    /// itself is sound and the id is documentation.
    fn cve(&mut self, at: usize, raw: &str, cves: &mut Vec<String>) {
        match normalise_cve(raw) {
            Some(id) => push_unique(cves, id),
            None => self.warning(
                at,
                format!("cannot read `{raw}` as a CVE id; it is left out of the rule's CVEs"),
            ),
        }
    }

    /// Builds the rule from what its options said.
    pub(super) fn build(&mut self, kind: Kind, action: &str, sid: u32, fields: Fields) -> Rule {
        let gid = fields.gid.unwrap_or(1);
        let location = self
            .source
            .location(self.path, self.candidate.file_offset(0));
        let mut rule = Rule::new(kind, format!("{gid}:{sid}"), location, self.text.to_owned());
        rule.disabled = self.candidate.disabled;
        rule.revision = fields.rev;
        rule.name = fields.msg.clone().unwrap_or_default();
        // Suricata blocks only with drop and the reject actions; the rest report.
        let blocks = action == "drop" || action.starts_with("reject");
        rule.mode = Some(if blocks { Mode::Prevent } else { Mode::Detect });
        rule.cves = fields.cves.clone();
        self.apply_metadata(&mut rule, &fields);
        rule.metadata = index_entry(&fields);
        rule
    }

    /// Takes severity, ATT&CK ids, mode, minimum agent version and more CVEs from the
    /// `metadata` option's pairs, which is where rule sets such as ET Open keep them.
    fn apply_metadata(&mut self, rule: &mut Rule, fields: &Fields) {
        for (key, value, at) in &fields.metadata {
            match key.as_str() {
                "signature_severity" => {
                    rule.severity.get_or_insert_with(|| value.clone());
                }
                "mitre_technique_id" if is_attack_id(value) => {
                    push_unique(&mut rule.attack, value.clone())
                }
                "mitre_technique_id" => self.warning(
                    *at,
                    format!("`{value}` is not an ATT&CK technique id; it is left out"),
                ),
                "min_agent_version" => rule.min_agent_version = Some(value.clone()),
                "mode" => rule.mode = self.mode(*at, value).or(rule.mode),
                // ET writes `cve CVE_2021_44228`, and two ids as `CVE_..._CVE_...`.
                "cve" => {
                    for part in value.split("_CVE_") {
                        self.cve(*at, part, &mut rule.cves);
                    }
                }
                _ => {}
            }
        }
    }

    /// A `mode` pair overrides the action's mode, for rule sets that stage rules that way.
    fn mode(&mut self, at: usize, value: &str) -> Option<Mode> {
        match value {
            "detect" => Some(Mode::Detect),
            "prevent" => Some(Mode::Prevent),
            _ => {
                let message = format!(
                    "metadata `mode` must be `detect` or `prevent`, not `{value}`; \
                     the action decides instead"
                );
                self.warning(at, message);
                None
            }
        }
    }
}

/// Splits `metadata:key value, key value` into its pairs; a key alone has an empty value.
fn metadata_pairs(at: usize, value: &str, fields: &mut Fields) {
    let mut offset = at;
    for item in value.split(',') {
        let item_at = offset + item.len() - item.trim_start().len();
        offset += item.len() + 1;
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once(char::is_whitespace).unwrap_or((item, ""));
        fields
            .metadata
            .push((key.to_owned(), value.trim().to_owned(), item_at));
    }
}

/// What the bundle's index shows about the rule beyond the shared fields: its class, its
/// references, and the `metadata` option's pairs.
///
/// The pairs go under their own key, so that a rule set's key can never overwrite one of ours;
/// a key given more than once becomes a list. Pairs the shared fields already carry (severity,
/// ATT&CK ids, CVEs, mode, minimum agent version) are not repeated, and ET's dates become
/// `issued` and `updated`. The action and header are the rule's logic, in its text.
fn index_entry(fields: &Fields) -> Metadata {
    let mut entry = IndexEntry {
        classtype: fields.classtype.as_deref(),
        issued: None,
        metadata: BTreeMap::new(),
        references: &fields.references,
        updated: None,
    };
    for (key, value, _) in &fields.metadata {
        match key.as_str() {
            "created_at" => entry.issued = Some(iso_date(value)),
            "updated_at" => entry.updated = Some(iso_date(value)),
            "signature_severity" | "mitre_technique_id" | "cve" | "mode" | "min_agent_version" => {}
            _ => entry.metadata.entry(key).or_default().0.push(value),
        }
    }
    Metadata::new(&entry)
}

/// The index's metadata of a Suricata rule, written straight to JSON text. The fields are in
/// alphabetical order, as in every other kind's metadata.
#[derive(Serialize)]
struct IndexEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    classtype: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<&'a str, Values<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    references: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
}

/// The values of one `metadata` key: a string when there is one, a list when there are more.
#[derive(Default)]
struct Values<'a>(Vec<&'a String>);

impl Serialize for Values<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(serializer),
            all => all.serialize(serializer),
        }
    }
}

/// ET writes dates in its metadata as `2019_07_26`; the index uses ISO 8601.
fn iso_date(value: &str) -> String {
    let separator = |at: usize| at == 4 || at == 7;
    let date = value.len() == 10
        && (value.bytes().enumerate()).all(|(at, b)| {
            if separator(at) {
                b == b'_'
            } else {
                b.is_ascii_digit()
            }
        });
    if date {
        value.replace('_', "-")
    } else {
        value.to_owned()
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}
