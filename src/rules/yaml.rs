//! rulecut's own YAML rule format, for all four kinds.
//!
//! A file holds a list of rules. Every rule has the common metadata (`id`, `name`,
//! `revision`, `severity`, `cves`, `attack`, versions, ...) and exactly one section named after
//! its kind (`firewall`, `integrity_monitoring`, `intrusion_prevention`, `log_inspection`)
//! holding that kind's own fields; the kind-specific checks live in `yaml_kinds`.
//!
//! A structural error (bad YAML, an unknown key, a value of the wrong type) stops the reading
//! of its file at that point, so it is the only problem reported for that file; every other
//! check reports every problem it finds.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::version::AgentVersion;

use super::yaml_kinds::{self, Firewall, Integrity, IntrusionPrevention, LogInspection};
use super::{
    Diagnostic, Kind, Location, Metadata, Mode, Parsed, Rule, RuleFile, is_attack_id, is_cve_id,
};

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct YamlRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attack: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cves: Vec<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    disabled: bool,
    firewall: Option<Firewall>,
    id: Spanned<String>,
    integrity_monitoring: Option<Integrity>,
    intrusion_prevention: Option<IntrusionPrevention>,
    issued: Option<Spanned<String>>,
    log_inspection: Option<LogInspection>,
    min_agent_version: Option<Spanned<String>>,
    min_manager_version: Option<Spanned<String>>,
    mode: Option<Spanned<Mode>>,
    name: Spanned<String>,
    recommended: Option<bool>,
    revision: Option<Spanned<u32>>,
    severity: Option<Spanned<String>>,
    updated: Option<Spanned<String>>,
}

/// Where a check found a problem: the file's display path and the diagnostics so far.
pub(super) struct Checker<'a> {
    pub diagnostics: Vec<Diagnostic>,
    pub path: &'a str,
}

impl Checker<'_> {
    pub fn at(&self, span: &serde_saphyr::Location) -> Location {
        Location::new(self.path, span.line() as u32, span.column() as u32)
    }

    pub fn error(&mut self, span: &serde_saphyr::Location, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.at(span), message));
    }

    /// Checks that a spanned value is one of `allowed`, naming them all when it is not.
    pub fn one_of(&mut self, what: &str, value: &Spanned<String>, allowed: &[&str]) -> bool {
        if allowed.contains(&value.value.as_str()) {
            return true;
        }
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.error(
            &value.referenced,
            format!("{what} `{}` is not one of {list}", value.value),
        );
        false
    }
}

/// The line, column and bare message of a YAML error, without the snippet serde-saphyr adds.
pub fn describe_error(error: &serde_saphyr::Error) -> (u32, u32, String) {
    let (line, column) = error
        .location()
        .map_or((1, 1), |l| (l.line() as u32, l.column() as u32));
    let text = error.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default();
    let message = match first.strip_prefix("error: line ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, message)| message),
        None => first,
    };
    // The location is given apart; drop the copy some messages carry at their end.
    let message = match message.rsplit_once(" at line ") {
        Some((text, place)) if place.contains(", column ") => text,
        _ => message,
    };
    (line, column, message.to_owned())
}

/// Reads one YAML rule file.
pub fn parse(file: &RuleFile, kind: Kind) -> Parsed {
    let mut checker = Checker {
        diagnostics: Vec::new(),
        path: &file.display,
    };
    let Ok(text) = std::str::from_utf8(&file.bytes) else {
        checker.diagnostics.push(Diagnostic::error(
            Location::new(&file.display, 1, 1),
            "file is not UTF-8 text",
        ));
        return Parsed {
            diagnostics: checker.diagnostics,
            rules: Vec::new(),
        };
    };
    let raw: Vec<YamlRule> = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let (line, column, message) = describe_error(&error);
            let location = Location::new(&file.display, line, column);
            checker
                .diagnostics
                .push(Diagnostic::error(location, message));
            return Parsed {
                diagnostics: checker.diagnostics,
                rules: Vec::new(),
            };
        }
    };
    let rules = raw
        .into_iter()
        .filter_map(|rule| convert(rule, kind, &mut checker))
        .collect();
    Parsed {
        diagnostics: checker.diagnostics,
        rules,
    }
}

fn convert(raw: YamlRule, kind: Kind, checker: &mut Checker) -> Option<Rule> {
    let before = checker.diagnostics.len();
    let id = check_id(&raw.id, kind, checker);
    check_common(&raw, kind, checker);
    let section = check_section(&raw, kind, checker);
    if checker.diagnostics.len() > before {
        return None;
    }
    let content = serde_json::to_value(&raw).expect("a YAML rule always converts to JSON");
    let mut rule = Rule::new(
        kind,
        id?,
        checker.at(&raw.id.referenced),
        content.to_string(),
    );
    rule.attack = raw.attack.into_iter().map(|a| a.value).collect();
    rule.cves = raw.cves.into_iter().map(|c| c.value).collect();
    rule.description = raw.description;
    rule.disabled = raw.disabled;
    rule.min_agent_version = raw.min_agent_version.map(|v| v.value);
    rule.min_manager_version = raw.min_manager_version.map(|v| v.value);
    rule.mode = raw
        .mode
        .map(|m| m.value)
        .or((kind == Kind::IntrusionPrevention).then_some(Mode::Detect));
    rule.name = raw.name.value;
    rule.recommended = raw.recommended;
    rule.revision = raw.revision.map(|r| r.value);
    rule.severity = raw.severity.map(|s| s.value);
    let mut metadata = Map::new();
    for (key, date) in [("issued", raw.issued), ("updated", raw.updated)] {
        if let Some(date) = date {
            metadata.insert(key.to_owned(), Value::String(date.value));
        }
    }
    if let Some((name, value)) = section {
        rule.depends_on = yaml_kinds::depends_on(&value);
        metadata.insert(name.to_owned(), value);
    }
    rule.metadata = Metadata::new(&metadata);
    Some(rule)
}

/// Checks the id's characters, and gives an intrusion-prevention id its `gid:sid` form.
fn check_id(id: &Spanned<String>, kind: Kind, checker: &mut Checker) -> Option<String> {
    let text = id.value.trim();
    if kind == Kind::IntrusionPrevention {
        let parts: Vec<&str> = text.split(':').collect();
        let numbers = parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return match (numbers, parts.as_slice()) {
            (true, [sid]) => Some(format!("1:{sid}")),
            (true, [gid, sid]) => Some(format!("{gid}:{sid}")),
            _ => {
                checker.error(
                    &id.referenced,
                    format!("id `{text}` is not a `sid` or `gid:sid`"),
                );
                None
            }
        };
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if text.is_empty() || text.len() > 64 || !text.chars().all(safe) {
        let message = format!("id `{text}` must be 1 to 64 letters, digits, `-`, `_`, `.` or `:`");
        checker.error(&id.referenced, message);
        return None;
    }
    Some(text.to_owned())
}

fn check_common(raw: &YamlRule, kind: Kind, checker: &mut Checker) {
    if raw.name.value.trim().is_empty() {
        checker.error(&raw.name.referenced, "`name` may not be empty");
    }
    if let Some(revision) = raw.revision.as_ref().filter(|r| r.value == 0) {
        checker.error(&revision.referenced, "`revision` starts at 1");
    }
    if let Some(severity) = &raw.severity {
        checker.one_of("severity", severity, &SEVERITIES);
    }
    if let Some(mode) = raw
        .mode
        .as_ref()
        .filter(|_| kind != Kind::IntrusionPrevention)
    {
        checker.error(
            &mode.referenced,
            "`mode` is only for intrusion-prevention rules",
        );
    }
    check_identifiers(raw, checker);
}

/// Checks CVE and ATT&CK ids, versions and dates.
fn check_identifiers(raw: &YamlRule, checker: &mut Checker) {
    for cve in raw.cves.iter().filter(|c| !is_cve_id(&c.value)) {
        let message = format!("`{}` is not a CVE id like `CVE-2021-44228`", cve.value);
        checker.error(&cve.referenced, message);
    }
    for id in raw.attack.iter().filter(|a| !is_attack_id(&a.value)) {
        let message = format!(
            "`{}` is not an ATT&CK technique id like `T1059` or `T1059.001`",
            id.value
        );
        checker.error(&id.referenced, message);
    }
    for version in [&raw.min_agent_version, &raw.min_manager_version]
        .into_iter()
        .flatten()
    {
        if let Err(error) = version.value.parse::<AgentVersion>() {
            checker.error(&version.referenced, error.to_string());
        }
    }
    for date in [&raw.issued, &raw.updated].into_iter().flatten() {
        if NaiveDate::parse_from_str(&date.value, "%Y-%m-%d").is_err() {
            let message = format!("`{}` is not a date like `2026-12-01`", date.value);
            checker.error(&date.referenced, message);
        }
    }
}

/// The section each kind's rules hold their own fields in.
fn section_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Firewall => "firewall",
        Kind::IntegrityMonitoring => "integrity_monitoring",
        Kind::IntrusionPrevention => "intrusion_prevention",
        Kind::LogInspection => "log_inspection",
    }
}

/// Checks that the rule has its kind's section and no other, and returns it as JSON.
fn check_section(
    raw: &YamlRule,
    kind: Kind,
    checker: &mut Checker,
) -> Option<(&'static str, Value)> {
    let present = [
        raw.firewall.is_some(),
        raw.integrity_monitoring.is_some(),
        raw.intrusion_prevention.is_some(),
        raw.log_inspection.is_some(),
    ];
    for (other, _) in Kind::ALL
        .into_iter()
        .zip(present)
        .filter(|(k, is)| *is && *k != kind)
    {
        let name = section_name(other);
        let message = format!("a {kind} source cannot hold a `{name}` section ({other} rules)");
        checker.error(&raw.id.referenced, message);
    }
    let value = match kind {
        Kind::Firewall => raw
            .firewall
            .as_ref()
            .map(|s| yaml_kinds::check_firewall(s, checker)),
        Kind::IntegrityMonitoring => raw
            .integrity_monitoring
            .as_ref()
            .map(|s| yaml_kinds::check_integrity(s, checker)),
        Kind::IntrusionPrevention => raw
            .intrusion_prevention
            .as_ref()
            .map(|s| yaml_kinds::check_ips(s, checker)),
        Kind::LogInspection => raw
            .log_inspection
            .as_ref()
            .map(|s| yaml_kinds::check_log(s, checker)),
    };
    if value.is_none() {
        let message = format!(
            "rule `{}` needs a `{}` section",
            raw.id.value,
            section_name(kind)
        );
        checker.error(&raw.id.referenced, message);
    }
    value.map(|value| (section_name(kind), value))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn parse_text(text: &str, kind: Kind) -> Parsed {
        let file = RuleFile {
            bytes: text.as_bytes().to_vec(),
            display: "t.yaml".into(),
            entry: "s/t.yaml".into(),
            source: "s".into(),
        };
        parse(&file, kind)
    }

    pub(crate) fn messages(parsed: &Parsed) -> Vec<String> {
        parsed.diagnostics.iter().map(ToString::to_string).collect()
    }

    const LOG: &str = "- id: 100100\n  name: sshd brute force\n  revision: 2\n  severity: high\n  \
                       log_inspection:\n    level: 10\n    if_sid: [5716]\n";

    #[test]
    fn a_valid_rule_keeps_its_metadata_and_dependencies() {
        let parsed = parse_text(LOG, Kind::LogInspection);
        assert!(parsed.diagnostics.is_empty(), "{:?}", messages(&parsed));
        let rule = &parsed.rules[0];
        assert_eq!(
            (rule.id.as_str(), rule.revision, rule.name.as_str()),
            ("100100", Some(2), "sshd brute force")
        );
        assert_eq!(rule.depends_on, ["5716"]);
        assert_eq!(rule.location.to_string(), "t.yaml:1:7");
    }

    #[test]
    fn content_is_canonical_whatever_the_key_order() {
        let reordered = "- name: sshd brute force\n  severity: high\n  id: 100100\n  revision: 2\n  \
                         log_inspection:\n    if_sid: [5716]\n    level: 10\n";
        let a = parse_text(LOG, Kind::LogInspection);
        let b = parse_text(reordered, Kind::LogInspection);
        assert_eq!(a.rules[0].content, b.rules[0].content);
    }

    #[test]
    fn comments_are_read_past_and_change_nothing() {
        let commented = "# sshd rules\n- id: 100100 # the id\n  name: sshd brute force\n  \
                         # revision: 9\n  revision: 2\n  severity: high\n  log_inspection:\n    \
                         level: 10 # loud\n    if_sid: [5716] # after sshd's\n";
        let plain = parse_text(LOG, Kind::LogInspection);
        let parsed = parse_text(commented, Kind::LogInspection);
        assert!(parsed.diagnostics.is_empty(), "{:?}", messages(&parsed));
        assert_eq!(parsed.rules[0].content, plain.rules[0].content);
        assert_eq!(parsed.rules[0].revision, Some(2));
        assert_eq!(parsed.rules[0].location.to_string(), "t.yaml:2:7");
    }

    #[test]
    fn broken_yaml_names_its_line() {
        let parsed = parse_text("- id: [unclosed\n", Kind::Firewall);
        let all = messages(&parsed);
        assert_eq!(all.len(), 1);
        assert!(all[0].starts_with("t.yaml:"), "{all:?}");
    }

    #[test]
    fn every_bad_common_value_is_reported() {
        let text = "- id: x1\n  name: ''\n  revision: 0\n  severity: urgent\n  cves: [CVE-21-1]\n  \
                    attack: [T12]\n  min_agent_version: '9.6'\n  issued: yesterday\n  mode: prevent\n  \
                    log_inspection: { level: 3 }\n";
        let all = messages(&parse_text(text, Kind::LogInspection));
        let expected = [
            "t.yaml:2:9: `name` may not be empty",
            "t.yaml:3:13: `revision` starts at 1",
            "t.yaml:4:13: severity `urgent` is not one of `low`, `medium`, `high`, `critical`",
            "t.yaml:5:10: `CVE-21-1` is not a CVE id",
            "t.yaml:6:12: `T12` is not an ATT&CK technique id",
            "t.yaml:7:22: `9.6` is not an agent version",
            "t.yaml:8:11: `yesterday` is not a date",
            "t.yaml:9:9: `mode` is only for intrusion-prevention rules",
        ];
        for want in expected {
            assert!(
                all.iter().any(|m| m.starts_with(want)),
                "missing {want:?} in {all:?}"
            );
        }
        assert_eq!(all.len(), expected.len(), "{all:?}");
    }

    #[test]
    fn a_rule_needs_the_section_of_its_kind() {
        let all = messages(&parse_text(LOG, Kind::Firewall));
        assert!(
            all.iter()
                .any(|m| m.contains("cannot hold a `log_inspection` section")),
            "{all:?}"
        );
        assert!(
            all.iter().any(|m| m.contains("needs a `firewall` section")),
            "{all:?}"
        );
    }

    #[test]
    fn ips_ids_take_gid_1_when_absent() {
        let text = "- id: 3000001\n  name: x\n  intrusion_prevention:\n    action: alert\n    \
                    header: tcp any any -> any 80\n    options: 'content:\"GET\";'\n";
        let parsed = parse_text(text, Kind::IntrusionPrevention);
        assert!(parsed.diagnostics.is_empty(), "{:?}", messages(&parsed));
        assert_eq!(parsed.rules[0].id, "1:3000001");
        assert_eq!(parsed.rules[0].mode, Some(Mode::Detect));
    }
}
