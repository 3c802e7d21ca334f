//! The Suricata and OSSEC readers against real rule sets and against hand-made broken files.
//!
//! The real sets are the shared corpus (`../shared/corpus`): ET Open and two Wazuh releases.
//! Every file must read without an error, and the rules found must match counts taken here
//! by a plain scan of the text that shares no code with the readers. The broken files are
//! `tests/fixtures/broken/{suricata,ossec}/`, each with a sibling `.expect` naming every
//! diagnostic it must give: `severity line:column message-fragment`, one a line.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use rulecut::rules::{Diagnostic, Kind, Location, Parsed, RuleFile, ossec, suricata};

use common::{corpus, files};

const ACTIONS: [&str; 7] = [
    "alert",
    "drop",
    "pass",
    "reject",
    "rejectboth",
    "rejectdst",
    "rejectsrc",
];

fn rule_file(path: &Path) -> RuleFile {
    RuleFile {
        bytes: fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display())),
        display: path.display().to_string(),
        entry: String::new(),
        source: "corpus".into(),
    }
}

fn errors(parsed: &Parsed) -> Vec<String> {
    let errors = parsed.diagnostics.iter().filter(|d| d.is_error());
    errors.map(Diagnostic::to_string).collect()
}

/// Where each line of a text starts.
fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
    starts
}

/// The rest of a file from a location, counting columns in characters. A rule whose text
/// starts there appears byte-exact in the file, where its location says.
fn from_location<'a>(text: &'a str, starts: &[usize], location: &Location) -> &'a str {
    let Some(&start) = starts.get(location.line as usize - 1) else {
        return "";
    };
    let line = &text[start..];
    let skip = location.column as usize - 1;
    line.char_indices()
        .nth(skip)
        .map_or("", |(at, _)| &line[at..])
}

/// Counts rules the plain way: after joining `\`-continued lines, a line that starts with an
/// action word and a space and holds `sid:` is a rule; after a `#` and spaces, a disabled one.
fn count_suricata(text: &str) -> (usize, usize) {
    let is_rule = |line: &str| {
        let starts = ACTIONS.iter().any(|action| {
            line.strip_prefix(action)
                .is_some_and(|rest| rest.starts_with([' ', '\t']))
        });
        starts && line.contains("sid:")
    };
    let joined = text.replace("\\\n", "");
    let enabled = joined.lines().filter(|line| is_rule(line)).count();
    let disabled = joined
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .filter(|rest| is_rule(rest.trim_start_matches(' ')))
        .count();
    (enabled, disabled)
}

#[test]
fn every_et_open_file_reads_without_errors_and_every_rule_is_found() {
    let mut problems = Vec::new();
    let (mut enabled_total, mut disabled_total) = (0, 0);
    for path in files(&corpus().join("ips/et-open"), "rules") {
        let file = rule_file(&path);
        let text = String::from_utf8(file.bytes.clone()).expect("the ET Open files are UTF-8");
        let parsed = suricata::parse(&file, Kind::IntrusionPrevention);
        problems.extend(errors(&parsed));

        let (enabled, disabled) = count_suricata(&text);
        let read_disabled = parsed.rules.iter().filter(|rule| rule.disabled).count();
        let counts = (parsed.rules.len() - read_disabled, read_disabled);
        assert_eq!(
            counts,
            (enabled, disabled),
            "enabled and disabled rules in {}",
            path.display()
        );
        (enabled_total, disabled_total) = (enabled_total + enabled, disabled_total + disabled);

        let starts = line_starts(&text);
        for rule in &parsed.rules {
            let at = from_location(&text, &starts, &rule.location);
            assert!(
                at.starts_with(&rule.content),
                "{}: content not in the file there",
                rule.location
            );
        }
    }
    assert!(
        problems.is_empty(),
        "errors in ET Open:\n{}",
        problems.join("\n")
    );
    eprintln!("ET Open: {enabled_total} enabled rules, {disabled_total} disabled");
}

/// `<rule ` written outside `<!-- -->` comments.
fn count_ossec(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (before, after) = rest.split_once("<!--").unwrap_or((rest, ""));
        count += before.matches("<rule ").count();
        rest = after.split_once("-->").map_or("", |(_, tail)| tail);
    }
    count
}

#[test]
fn every_wazuh_file_reads_without_errors_and_every_rule_is_found() {
    let mut problems = Vec::new();
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    let folder = corpus().join("log-inspection");
    for release in ["wazuh-v3.12.0", "wazuh-v3.13.0"] {
        for path in files(&folder.join(release), "xml") {
            let file = rule_file(&path);
            let text = String::from_utf8(file.bytes.clone()).expect("the Wazuh files are UTF-8");
            let parsed = ossec::parse(&file, Kind::LogInspection);
            problems.extend(errors(&parsed));
            assert_eq!(
                parsed.rules.len(),
                count_ossec(&text),
                "rules in {}",
                path.display()
            );
            total += parsed.rules.len();
            check_ossec_rules(&text, &parsed);
            for warning in parsed.diagnostics.iter().filter(|d| !d.is_error()) {
                check_repair_place(&text, warning);
                let reason = warning.message.split([':', ',']).next().unwrap_or_default();
                *warnings.entry(reason.to_owned()).or_default() += 1;
            }
        }
    }
    assert!(
        problems.is_empty(),
        "errors in the Wazuh rules:\n{}",
        problems.join("\n")
    );
    eprintln!("Wazuh v3.12.0 and v3.13.0: {total} rules; warnings by reason: {warnings:?}");
}

/// Each rule's element text is in the file, at the rule's location.
fn check_ossec_rules(text: &str, parsed: &Parsed) {
    let starts = line_starts(text);
    for rule in &parsed.rules {
        let (element, groups) = rule
            .content
            .split_once("\ngroups: ")
            .expect("content has groups");
        let closed = element.ends_with("</rule>") || element.ends_with("/>");
        assert!(element.starts_with("<rule ") && closed, "{}", rule.location);
        let at = from_location(text, &starts, &rule.location);
        assert!(
            at.starts_with(element),
            "{}: content not in the file there",
            rule.location
        );
        assert!(
            !groups.is_empty(),
            "{}: every corpus rule is in a named group",
            rule.location
        );
    }
}

/// A repair warning points at the `&` or the `--` it repaired.
fn check_repair_place(text: &str, warning: &Diagnostic) {
    let at = from_location(text, &line_starts(text), &warning.location);
    if warning.message.contains("bare `&`") {
        assert!(at.starts_with('&'), "{}: no `&` there", warning.location);
    } else if warning.message.contains("`--`") {
        assert!(at.starts_with("--"), "{}: no `--` there", warning.location);
    }
}

/// One expected diagnostic: severity, line, column and a fragment of the message.
fn expectations(path: &Path) -> Vec<(String, u32, u32, String)> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let read = |line: &str| {
        let (severity, rest) = line.split_once(' ')?;
        let (place, fragment) = rest.split_once(' ')?;
        let (row, column) = place.split_once(':')?;
        let place = (row.parse().ok()?, column.parse().ok()?);
        Some((severity.to_owned(), place.0, place.1, fragment.to_owned()))
    };
    let lines = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'));
    lines
        .map(|line| read(line).unwrap_or_else(|| panic!("{}: bad line `{line}`", path.display())))
        .collect()
}

/// A reader's entry point, as `Format::parse` calls it.
type Reader = fn(&RuleFile, Kind) -> Parsed;

#[test]
fn each_broken_fixture_gives_exactly_the_diagnostics_its_expect_file_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let readers: [(&str, &str, Kind, Reader); 2] = [
        (
            "suricata",
            "rules",
            Kind::IntrusionPrevention,
            suricata::parse,
        ),
        ("ossec", "xml", Kind::LogInspection, ossec::parse),
    ];
    for (folder, extension, kind, parse) in readers {
        let folder = root.join(folder);
        let fixtures = files(&folder, extension);
        assert_eq!(
            fixtures.len(),
            files(&folder, "expect").len(),
            "{}",
            folder.display()
        );
        for path in fixtures {
            check_fixture(&path, parse(&rule_file(&path), kind));
        }
    }
}

/// The diagnostics, sorted, match the `.expect` lines one for one.
fn check_fixture(path: &Path, parsed: Parsed) {
    let expected = expectations(&path.with_extension("expect"));
    let mut found = parsed.diagnostics;
    found.sort();
    let shown: Vec<String> = found.iter().map(Diagnostic::to_string).collect();
    let name = path.display();
    assert_eq!(found.len(), expected.len(), "{name}: {shown:#?}");
    for (diagnostic, (severity, line, column, fragment)) in found.iter().zip(&expected) {
        let kind = if diagnostic.is_error() {
            "error"
        } else {
            "warning"
        };
        let place = (diagnostic.location.line, diagnostic.location.column);
        assert_eq!(
            (kind, place),
            (severity.as_str(), (*line, *column)),
            "{name}: {shown:?}"
        );
        assert!(
            diagnostic.message.contains(fragment.as_str()),
            "{name}: {shown:?}"
        );
    }
}
