//! Unit tests for the OSSEC reader: rules, inherited groups, variables, the lenient XML it
//! repairs, and each problem it reports at its line and column in the file.

use serde_json::json;

use super::*;
use crate::rules::Severity;

fn read(text: &[u8]) -> Parsed {
    let file = RuleFile {
        bytes: text.to_vec(),
        display: "t.xml".into(),
        entry: "li/t.xml".into(),
        source: "li".into(),
    };
    parse(&file, Kind::LogInspection)
}

/// Every diagnostic as `line:col severity message`.
fn diagnostics(parsed: &Parsed) -> Vec<String> {
    let show = |d: &Diagnostic| {
        let severity = if d.is_error() { "error" } else { "warning" };
        format!(
            "{}:{} {severity} {}",
            d.location.line, d.location.column, d.message
        )
    };
    parsed.diagnostics.iter().map(show).collect()
}

const SSHD: &str = r#"<!-- sshd rules -->
<group name="syslog, sshd,">
  <rule id="5700" level="0" noalert="1">
    <decoded_as>sshd</decoded_as>
    <description>SSHD messages grouped.</description>
  </rule>

  <group name="authentication_failed,">
  <rule id="5716" level="5" frequency="8" timeframe="120" overwrite="yes">
    <if_sid>5700, 5710</if_sid>
    <if_matched_group>authentication_failures</if_matched_group>
    <match>Failed password</match>
    <field name="srcuser">root</field>
    <description>sshd: authentication failed.</description>
    <info type="cve">1999-058</info>
    <mitre><id>T1110</id></mitre>
    <group>pci_dss_10.2.4,gdpr_IV_35.7.d,</group>
  </rule>
  </group>
</group>
"#;

#[test]
fn reads_a_rule_with_its_metadata_and_inherited_groups() {
    let parsed = read(SSHD.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:?}", diagnostics(&parsed));
    let ids: Vec<&str> = parsed.rules.iter().map(|rule| rule.id.as_str()).collect();
    assert_eq!(ids, ["5700", "5716"]);
    let rule = &parsed.rules[1];
    assert_eq!(rule.location.to_string(), "t.xml:9:3");
    assert_eq!(rule.severity.as_deref(), Some("5"));
    assert_eq!(rule.name, "sshd: authentication failed.");
    // The name is the description; the index does not say it twice.
    assert_eq!(rule.description, None);
    assert_eq!(rule.depends_on, ["5700", "5710"]);
    assert_eq!(rule.attack, ["T1110"]);
    assert_eq!(rule.cves, ["CVE-1999-0058"]);
    assert!(rule.overwrite);
    let meta = rule.metadata.to_map();
    let groups = json!([
        "syslog",
        "sshd",
        "authentication_failed",
        "pci_dss_10.2.4",
        "gdpr_IV_35.7.d"
    ]);
    assert_eq!(meta["groups"], groups);
    assert_eq!(meta["frequency"], "8");
    assert_eq!(meta["timeframe"], "120");
    assert_eq!(meta["if_matched_group"], "authentication_failures");
    assert_eq!(meta["match"], "Failed password");
    assert_eq!(meta["field"], json!({"name": "srcuser", "value": "root"}));
    // The severity is the level; the index does not say it twice.
    assert!(meta.get("level").is_none());
    assert_eq!(parsed.rules[0].metadata.to_map()["noalert"], "1");
    assert!(!parsed.rules[0].overwrite);
}

#[test]
fn content_is_the_exact_element_text_then_the_inherited_groups() {
    let parsed = read(SSHD.as_bytes());
    let rule = &parsed.rules[1];
    let start = SSHD
        .find(r#"<rule id="5716""#)
        .expect("fixture holds the rule");
    let end = SSHD[start..]
        .find("</rule>")
        .expect("fixture closes the rule")
        + start
        + 7;
    let expected = format!(
        "{}\ngroups: syslog,sshd,authentication_failed",
        &SSHD[start..end]
    );
    assert_eq!(rule.content, expected);
    // The rule's own `<group>` is part of its element text, not of the inherited line.
    assert!(
        parsed.rules[0]
            .content
            .ends_with("</rule>\ngroups: syslog,sshd")
    );
}

#[test]
fn errors_are_placed_in_the_file_not_in_the_wrapped_text() {
    // `id=1` lacks quotes: column 27 of line 1, where the wrapper's tag would say 41.
    let parsed = read(br#"<group name="a,"><rule id=1 level="3"></rule></group>"#);
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("1:27 error expected"), "{found:?}");
    assert!(!found[0].contains(" at "), "{found:?}");

    let text = "<group name=\"a,\">\n  <rule id=\"1\" level=\"3\">\n    <description>x\
                </description>\n  </rule>\n  <rule id=\"2\" level=\"3\"></rul>\n</group>\n";
    let found = diagnostics(&read(text.as_bytes()));
    assert_eq!(found, ["5:26 error expected 'rule' tag, not 'rul'"]);
}

#[test]
fn an_unclosed_group_is_reported_at_the_end_of_the_file() {
    let found = diagnostics(&read(
        b"<group name=\"a,\">\n  <rule id=\"1\" level=\"3\"/>\n",
    ));
    assert_eq!(
        found,
        ["3:1 error expected 'group' tag, not the end of the file"]
    );
}

#[test]
fn a_bare_ampersand_is_read_literally_with_a_warning_and_offsets_stay_right() {
    let text = "<group name=\"web,\">\n  <rule id=\"31335\" level=\"7\">\n    <match>&block=1&\
                </match>\n    <description>a &amp; b</description>\n  </rule>\n  <rule id=\"31336\" \
                level=\"3\"><description>next</description></rule>\n</group>\n";
    let parsed = read(text.as_bytes());
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("3:12 warning not strict XML: bare `&`"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("3:20 warning not strict XML: bare `&`"),
        "{found:?}"
    );
    assert_eq!(parsed.rules[0].metadata.to_map()["match"], "&block=1&");
    // Wazuh takes entities literally, and so does the index.
    assert_eq!(parsed.rules[0].name, "a &amp; b");
    let second = &parsed.rules[1];
    assert_eq!(second.location.to_string(), "t.xml:6:3");
    assert!(text.contains(second.content.split("\ngroups:").next().unwrap_or_default()));
}

#[test]
fn a_double_dash_in_a_comment_warns_at_its_place() {
    let text = "<group name=\"a,\">\n<!--\n------\n-->\n  <!-- user:\"--\" -->\n\
                <rule id=\"1\" level=\"3\"><description>x</description></rule></group>\n";
    let parsed = read(text.as_bytes());
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("3:1 warning not strict XML: `--`"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("5:14 warning not strict XML: `--`"),
        "{found:?}"
    );
    assert_eq!(parsed.rules.len(), 1);
}

#[test]
fn variables_must_be_defined_earlier_in_the_file() {
    let text = "<var name=\"FREQ\">8</var>\n<group name=\"a,\">\n  <rule id=\"1\" level=\"3\" \
                frequency=\"$FREQ\"><match>$bad_words</match><description>x $(srcip)</description>\
                </rule>\n</group>\n<var name=\"BAD_WORDS\">fail</var>\n";
    let parsed = read(text.as_bytes());
    let found = diagnostics(&parsed);
    let expected = "3:51 error variable `$bad_words` is used before it is defined in this file";
    assert_eq!(found, [expected]);
    assert!(parsed.rules.is_empty());

    let defined = text.replace("<match>$bad_words</match>", "");
    let parsed = read(defined.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:?}", diagnostics(&parsed));
    assert_eq!(parsed.rules[0].metadata.to_map()["frequency"], "8");
    assert!(parsed.rules[0].content.contains("frequency=\"$FREQ\""));
}

/// Each rule error with its place and a fragment of its message. Every rule opens at line 2,
/// column 3, inside `<group name="a,">`.
const ERRORS: [(&str, &str, &str); 9] = [
    (
        r#"<rule id="1"><description>x</description></rule>"#,
        "2:3",
        "rule has no `level`",
    ),
    (
        r#"<rule id="1" level="17"><description>x</description></rule>"#,
        "2:23",
        "`level` must be from 0 to 16, not `17`",
    ),
    (
        r#"<rule id="1" level="high"><description>x</description></rule>"#,
        "2:23",
        "`level` must be from 0 to 16, not `high`",
    ),
    (
        r#"<rule id="a1" level="3"><description>x</description></rule>"#,
        "2:13",
        "rule `id` must be digits, not `a1`",
    ),
    (
        r#"<rule id="1" level="3"><match>x</match></rule>"#,
        "2:3",
        "rule `1` has no `<description>`",
    ),
    (
        r#"<rule level="3"><description>x</description></rule>"#,
        "2:3",
        "rule has no `id`",
    ),
    (
        r#"<rule id="1" level="3" overwrite="maybe"><description>x</description></rule>"#,
        "2:37",
        "`overwrite` must be `yes` or `no`",
    ),
    (
        r#"<rule id="1" level="3"><if_sid>100,abc</if_sid><description>x</description></rule>"#,
        "2:26",
        "`if_sid` must list rule ids, not `abc`",
    ),
    (
        r#"<rul id="1" level="3"></rul>"#,
        "2:3",
        "unexpected `<rul>` inside `<group>`",
    ),
];

#[test]
fn each_rule_error_is_reported_with_its_reason_at_its_place() {
    for (rule, place, fragment) in ERRORS {
        let text = format!("<group name=\"a,\">\n  {rule}\n</group>\n");
        let parsed = read(text.as_bytes());
        let found = diagnostics(&parsed);
        assert_eq!(found.len(), 1, "{rule}: {found:?}");
        assert!(
            found[0].starts_with(&format!("{place} error ")),
            "{rule}: {found:?}"
        );
        assert!(found[0].contains(fragment), "{rule}: {found:?}");
        assert!(parsed.rules.is_empty(), "{rule}");
    }
}

#[test]
fn top_level_elements_must_be_named_groups_or_variables() {
    let parsed = read(b"<rule id=\"1\" level=\"3\"/>\n<group><rule id=\"2\" level=\"1\"><description>x</description></rule></group>\n  <var>8</var>");
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].starts_with("1:1 error unexpected `<rule>` at the top level"));
    assert!(found[1].starts_with("2:1 error `<group>` has no `name`"));
    assert!(found[2].starts_with("3:3 error `<var>` has no `name`"));
}

#[test]
fn unreadable_references_warn_and_keep_the_rule() {
    let text = "<group name=\"a,\">\n  <rule id=\"1\" level=\"3\"><description>x</description>\
                <info type='cve'>MS08-067</info><mitre><id>TA0001</id></mitre></rule>\n</group>";
    let parsed = read(text.as_bytes());
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|d| d.contains(" warning ")), "{found:?}");
    assert!(found[0].starts_with("2:54 "), "{found:?}");
    assert!(found[1].starts_with("2:93 "), "{found:?}");
    assert_eq!(parsed.rules.len(), 1);
    let info = json!({"type": "cve", "value": "MS08-067"});
    assert_eq!(parsed.rules[0].metadata.to_map()["info"], info);
}

#[test]
fn bytes_that_are_not_utf8_are_errors_and_the_rest_is_read() {
    let text = b"<group name=\"a,\">\n  <rule id=\"1\" level=\"3\"><description>caf\xe9</description></rule>\n  <rule id=\"2\" level=\"3\"><description>ok</description></rule>\n</group>\n";
    let parsed = read(text);
    let found = diagnostics(&parsed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("2:42 error invalid UTF-8"),
        "{found:?}"
    );
    let errors = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error);
    assert_eq!(errors.count(), 1);
    assert!(parsed.rules.iter().any(|rule| rule.id == "2"));
}

#[test]
fn an_empty_description_only_warns() {
    let text =
        "<group name=\"a,\">\n  <rule id=\"13106\" level=\"0\"><description /></rule>\n</group>";
    let parsed = read(text.as_bytes());
    assert_eq!(
        diagnostics(&parsed),
        ["2:3 warning rule `13106` has an empty `<description>`, so no name"]
    );
    assert_eq!(parsed.rules[0].description, None);
}

#[test]
fn a_variable_value_belongs_to_the_content_of_the_rules_that_use_it() {
    let text = |value: &str| {
        format!(
            "<var name=\"FREQ\">{value}</var>\n<group name=\"a,\">\n  <rule id=\"1\" level=\"3\" \
             frequency=\"$FREQ\">\n    <description>x</description>\n  </rule>\n  <rule id=\"2\" \
             level=\"3\">\n    <description>y</description>\n  </rule>\n</group>\n"
        )
    };
    let (six, eight) = (read(text("6").as_bytes()), read(text("8").as_bytes()));
    assert!(
        six.rules[0].content.ends_with("\nvariable freq: 6"),
        "{}",
        six.rules[0].content
    );
    assert_ne!(six.rules[0].content, eight.rules[0].content);
    assert_eq!(six.rules[1].content, eight.rules[1].content);
}
