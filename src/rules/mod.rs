//! Rules as every parser gives them: the parse stage of the pipeline.
//!
//! Each format has its own submodule with one entry point, `parse(&RuleFile, Kind) -> Parsed`.
//! A parser never stops at the first problem: it returns every rule it could read and a
//! [`Diagnostic`] for everything else, each located at `path:line:col`. Checks that need more
//! than one file (duplicate ids, references between rules) belong to `validate`.

pub mod ossec;
pub mod suricata;
pub mod yaml;
mod yaml_kinds;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The four kinds of rule a release carries, one bundle each.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Firewall,
    IntegrityMonitoring,
    IntrusionPrevention,
    LogInspection,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Firewall,
        Kind::IntegrityMonitoring,
        Kind::IntrusionPrevention,
        Kind::LogInspection,
    ];

    /// The name used in `release.yaml`, bundle file names and notes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Firewall => "firewall",
            Kind::IntegrityMonitoring => "integrity-monitoring",
            Kind::IntrusionPrevention => "intrusion-prevention",
            Kind::LogInspection => "log-inspection",
        }
    }

    /// Parses a kind's name, as `release.yaml` and the bundle file names write it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text formats rules are written in.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    OssecXml,
    Suricata,
    Yaml,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::OssecXml => "ossec-xml",
            Format::Suricata => "suricata",
            Format::Yaml => "yaml",
        }
    }

    /// The format a file's extension implies, for sources that do not name one.
    pub fn infer(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "rules" => Some(Format::Suricata),
            "xml" => Some(Format::OssecXml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// Reads one rule file in this format.
    pub fn parse(self, file: &RuleFile, kind: Kind) -> Parsed {
        match self {
            Format::OssecXml => ossec::parse(file, kind),
            Format::Suricata => suricata::parse(file, kind),
            Format::Yaml => yaml::parse(file, kind),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One file of rules, read once, with the names it is known by.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// Its bytes, exactly as read; bundles carry them unchanged.
    pub bytes: Vec<u8>,
    /// The path shown to people in messages, such as `rules/firewall/dhcp.yaml`.
    pub display: String,
    /// Its path inside the bundle: the source's name, then the path within the source, with
    /// `/` separators, such as `fw-core/dhcp.yaml`.
    pub entry: String,
    /// The name of the source it came from.
    pub source: String,
}

/// A place in a rule file. Lines and columns count from 1.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn new(path: &str, line: u32, column: u32) -> Location {
        Location {
            path: path.to_owned(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.column)
    }
}

#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem found in a rule file. Errors refuse the release; warnings are reported and the
/// release goes on.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub struct Diagnostic {
    pub location: Location,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn warning(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.location, self.message),
            Severity::Warning => write!(f, "{}: warning: {}", self.location, self.message),
        }
    }
}

/// Whether an intrusion-prevention rule only reports traffic or blocks it.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Detect,
    Prevent,
}

/// A rule's metadata: a JSON object, held as compact text. Nothing reads it but people and
/// importers, so it is kept as text from the start: one allocation where a JSON tree would take
/// dozens, and a parser that knows its fields writes it without building a tree first.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Metadata(Box<RawValue>);

impl Metadata {
    /// The metadata `object` holds; it must serialize as a JSON object.
    pub fn new(object: &impl Serialize) -> Metadata {
        let text = serde_json::value::to_raw_value(object).expect("metadata always converts");
        debug_assert!(text.get().starts_with('{'), "metadata is a JSON object");
        Metadata(text)
    }

    pub fn is_empty(&self) -> bool {
        self.0.get() == "{}"
    }

    /// The metadata as a JSON map, for tests to look into.
    #[cfg(test)]
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.0.get()).expect("metadata is a JSON object")
    }
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata::new(&Map::new())
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Metadata) -> bool {
        self.0.get() == other.0.get()
    }
}

/// One rule, whatever its format, with the metadata every kind shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// ATT&CK technique ids, such as `T1059.001`.
    pub attack: Vec<String>,
    /// The rule's canonical content: what its digest covers and what a change is judged by.
    /// Suricata: the rule's text; OSSEC: the `<rule>` element's text and the names of the
    /// groups it inherits; YAML: the rule as canonical JSON.
    pub content: String,
    /// CVE ids, normalised to `CVE-YYYY-NNNN`.
    pub cves: Vec<String>,
    /// Ids of other rules of the same kind this rule builds on (OSSEC `if_sid` and the like).
    pub depends_on: Vec<String>,
    pub description: Option<String>,
    pub disabled: bool,
    /// The rule's identity within its kind: `gid:sid` for Suricata rules, the `id` otherwise.
    pub id: String,
    pub kind: Kind,
    pub location: Location,
    /// Everything else the format says about the rule, for the bundle's index.
    pub metadata: Metadata,
    pub min_agent_version: Option<String>,
    pub min_manager_version: Option<String>,
    pub mode: Option<Mode>,
    pub name: String,
    /// True where the rule replaces an earlier rule of the same id (OSSEC `overwrite="yes"`).
    pub overwrite: bool,
    pub recommended: Option<bool>,
    pub revision: Option<u32>,
    pub severity: Option<String>,
}

impl Rule {
    /// A rule with the given identity and content and no metadata yet.
    pub fn new(kind: Kind, id: String, location: Location, content: String) -> Rule {
        Rule {
            attack: Vec::new(),
            content,
            cves: Vec::new(),
            depends_on: Vec::new(),
            description: None,
            disabled: false,
            id,
            kind,
            location,
            metadata: Metadata::default(),
            min_agent_version: None,
            min_manager_version: None,
            mode: None,
            name: String::new(),
            overwrite: false,
            recommended: None,
            revision: None,
            severity: None,
        }
    }
}

/// What a parser read from one file: its rules, later turned into what validation takes.
#[derive(Debug)]
pub struct Parsed<R = Rule> {
    pub diagnostics: Vec<Diagnostic>,
    pub rules: Vec<R>,
}

impl<R> Default for Parsed<R> {
    fn default() -> Parsed<R> {
        Parsed {
            diagnostics: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// True for `CVE-YYYY-NNNN` with four or more digits after the year.
pub fn is_cve_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.len() >= 4
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// True for ATT&CK technique ids: `T1234` or a sub-technique `T1234.001`.
pub fn is_attack_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('T') else {
        return false;
    };
    let (technique, sub) = match rest.split_once('.') {
        Some((technique, sub)) => (technique, Some(sub)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(technique, 4) && sub.is_none_or(|sub| digits(sub, 3))
}

/// A rule file's bytes as text, with a way back from byte offsets to lines and columns.
///
/// Both text parsers need the same two things: text they can slice even where a file holds
/// bytes that are not UTF-8, and locations that count columns in characters, as editors do.
/// Each invalid byte becomes one `?`, so every offset into the text is also the offset of the
/// same byte in the file, and the parsers can still read the rest of the file.
pub(crate) struct SourceText {
    /// Byte offsets of each run of bytes that are not UTF-8.
    invalid: Vec<usize>,
    /// Byte offset where each line starts; the first is 0.
    line_starts: Vec<usize>,
    pub(crate) text: String,
}

impl SourceText {
    pub(crate) fn decode(bytes: &[u8]) -> SourceText {
        let mut text = String::with_capacity(bytes.len());
        let mut invalid = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    rest = &[];
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    text.push_str(std::str::from_utf8(valid).expect("checked by from_utf8"));
                    let bad = error.error_len().unwrap_or(after.len());
                    invalid.push(text.len());
                    text.extend(std::iter::repeat_n('?', bad));
                    rest = &after[bad..];
                }
            }
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        SourceText {
            invalid,
            line_starts,
            text,
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = match self.text.get(start..offset) {
            Some(before) => before.chars().count(),
            None => offset - start,
        };
        (count(line), count(column + 1))
    }

    pub(crate) fn location(&self, path: &str, offset: usize) -> Location {
        let (line, column) = self.position(offset);
        Location::new(path, line, column)
    }

    /// One error for each run of bytes that are not UTF-8.
    pub(crate) fn invalid_utf8(&self, path: &str) -> Vec<Diagnostic> {
        let message = "invalid UTF-8: rule files must be UTF-8 text";
        let at = |&offset: &usize| Diagnostic::error(self.location(path, offset), message);
        self.invalid.iter().map(at).collect()
    }

    /// True where `range` holds a byte that was not UTF-8.
    pub(crate) fn has_invalid(&self, range: std::ops::Range<usize>) -> bool {
        self.invalid.iter().any(|offset| range.contains(offset))
    }
}

/// Lines and columns are `u32`; a file too large for that is clamped rather than wrapped.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads a CVE id as rule files write it and gives it as `CVE-YYYY-NNNN`.
///
/// Rule sets carry ids from every era: `2011-0609`, `CVE-2011-0609`, `CAN-2005-0560` (a
/// candidate id, a prefix CVE dropped in 2005), `CVE_2021_44228` (as ET writes ids in its
/// metadata, with underscores), and `1999-058` (CVE numbers always had at least four digits,
/// so a three-digit number has lost its leading zero). Anything else gives `None`.
pub(crate) fn normalise_cve(raw: &str) -> Option<String> {
    let upper = raw.trim().to_ascii_uppercase().replace('_', "-");
    let rest = ["CVE-", "CAN-"]
        .iter()
        .find_map(|prefix| upper.strip_prefix(prefix))
        .unwrap_or(&upper);
    let (year, number) = rest.split_once('-')?;
    let id = if number.len() == 3 {
        format!("CVE-{year}-0{number}")
    } else {
        format!("CVE-{year}-{number}")
    };
    is_cve_id(&id).then_some(id)
}

/// Adds a value to a rule's metadata; a key seen before becomes a list of its values.
pub(crate) fn add_value(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get_mut(key) {
        Some(Value::Array(values)) => values.push(value),
        Some(first) => *first = Value::Array(vec![first.take(), value]),
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_need_a_four_digit_year_and_at_least_four_digits() {
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(is_cve_id("CVE-2014-0160"));
        assert!(!is_cve_id("CVE-2014-016"));
        assert!(!is_cve_id("cve-2014-0160"));
        assert!(!is_cve_id("CVE-14-0160"));
        assert!(!is_cve_id("2014-0160"));
    }

    #[test]
    fn attack_ids_allow_sub_techniques_of_three_digits() {
        assert!(is_attack_id("T1059"));
        assert!(is_attack_id("T1059.001"));
        assert!(!is_attack_id("T105"));
        assert!(!is_attack_id("T1059.1"));
        assert!(!is_attack_id("TA0001"));
    }

    #[test]
    fn formats_are_inferred_from_extensions() {
        assert_eq!(
            Format::infer(Path::new("a/b.rules")),
            Some(Format::Suricata)
        );
        assert_eq!(
            Format::infer(Path::new("0010-rules_config.xml")),
            Some(Format::OssecXml)
        );
        assert_eq!(Format::infer(Path::new("x.yml")), Some(Format::Yaml));
        assert_eq!(Format::infer(Path::new("README.md")), None);
    }

    #[test]
    fn diagnostics_sort_by_path_then_line_then_column() {
        let mut all = [
            Diagnostic::error(Location::new("b.yaml", 1, 1), "x"),
            Diagnostic::error(Location::new("a.yaml", 9, 1), "y"),
            Diagnostic::error(Location::new("a.yaml", 2, 5), "z"),
        ];
        all.sort();
        let order: Vec<String> = all.iter().map(|d| d.location.to_string()).collect();
        assert_eq!(order, ["a.yaml:2:5", "a.yaml:9:1", "b.yaml:1:1"]);
    }

    #[test]
    fn cve_ids_are_normalised_from_the_forms_rule_sets_use() {
        let cve = |raw: &str| normalise_cve(raw);
        assert_eq!(cve("2011-0609").as_deref(), Some("CVE-2011-0609"));
        assert_eq!(cve("CVE-2011-0609").as_deref(), Some("CVE-2011-0609"));
        assert_eq!(cve(" cve-2021-44228 ").as_deref(), Some("CVE-2021-44228"));
        assert_eq!(cve("CAN-2005-0560").as_deref(), Some("CVE-2005-0560"));
        assert_eq!(cve("1999-058").as_deref(), Some("CVE-1999-0058"));
        assert_eq!(cve("CVE_2021_44228").as_deref(), Some("CVE-2021-44228"));
        assert_eq!(cve("2019-1234567").as_deref(), Some("CVE-2019-1234567"));
        assert_eq!(cve("99-1234"), None);
        assert_eq!(cve("2011-12"), None);
        assert_eq!(cve("MS08-067"), None);
        assert_eq!(cve("2011"), None);
    }

    #[test]
    fn source_text_counts_columns_in_characters_and_replaces_bad_bytes() {
        let source = SourceText::decode(b"ab\n\xc3\xa9\xffx\n");
        assert_eq!(source.text, "ab\né?x\n");
        assert_eq!(source.position(0), (1, 1));
        assert_eq!(source.position(3), (2, 1));
        assert_eq!(source.position(5), (2, 2));
        let errors = source.invalid_utf8("f.rules");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location.to_string(), "f.rules:2:2");
        assert!(source.has_invalid(3..6));
        assert!(!source.has_invalid(0..3));
    }
}
