//! Rules as every parser gives them: the parse stage of the pipeline.
//!
//! Each format has its own submodule with one entry point, `parse(&RuleFile, Kind) -> Parsed`.
//! A parser never stops at the first problem: it returns every rule it could read and a
//! [`Diagnostic`] for everything else, each located at `path:line:col`. Checks that need more
//! than one file (duplicate ids, references between rules) belong to `validate`.

pub mod ossec;
pub mod suricata;
pub mod yaml;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
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
    pub metadata: Map<String, Value>,
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
            metadata: Map::new(),
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

/// What a parser read from one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub diagnostics: Vec<Diagnostic>,
    pub rules: Vec<Rule>,
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
}
