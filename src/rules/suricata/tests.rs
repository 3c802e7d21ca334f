//! Unit tests for the Suricata reader: what it reads from a rule, and each problem it
//! reports, with its reason, at its line and column.

use serde_json::json;

use super::*;
use crate::rules::{Mode, Severity};

fn read(text: &[u8]) -> Parsed {
    let file = RuleFile {
        bytes: text.to_vec(),
        display: "t.rules".into(),
        entry: "ips/t.rules".into(),
        source: "ips".into(),
    };
    parse(&file, Kind::IntrusionPrevention)
}

/// The one diagnostic a text gives, as `line:col`, severity and message; no rule is read.
fn problem(text: &str) -> (String, Severity, String) {
    let parsed = read(text.as_bytes());
    assert_eq!(
        parsed.diagnostics.len(),
        1,
        "{text}\n{:#?}",
        parsed.diagnostics
    );
    assert!(parsed.rules.is_empty(), "{text}");
    let diagnostic = &parsed.diagnostics[0];
    let place = format!(
        "{}:{}",
        diagnostic.location.line, diagnostic.location.column
    );
    (place, diagnostic.severity, diagnostic.message.clone())
}

const ET_RULE: &str = r#"alert tcp $EXTERNAL_NET any -> $HOME_NET 445 (msg:"ET EXPLOIT Possible \"Eternal\" Blue"; flow:to_server,established; content:"|ff|SMB"; reference:cve,2017-0144; reference:cve,CAN-2005-0560; reference:url,example.org; classtype:attempted-admin; sid:2024218; rev:3; metadata:attack_target SMB_Server, created_at 2017_04_17, signature_severity Critical, mitre_technique_id T1210, tag EternalBlue, tag SMB, updated_at 2019_07_26;)"#;

#[test]
fn reads_identity_name_and_metadata_of_a_rule() {
    let parsed = read(format!("# comment\n\n{ET_RULE}\n").as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let rule = &parsed.rules[0];
    assert_eq!(rule.id, "1:2024218");
    assert_eq!(rule.revision, Some(3));
    assert_eq!(rule.name, r#"ET EXPLOIT Possible "Eternal" Blue"#);
    assert_eq!(rule.location.to_string(), "t.rules:3:1");
    assert_eq!(rule.content, ET_RULE);
    assert_eq!(rule.cves, ["CVE-2017-0144", "CVE-2005-0560"]);
    assert_eq!(rule.attack, ["T1210"]);
    assert_eq!(rule.severity.as_deref(), Some("Critical"));
    assert_eq!(rule.mode, Some(Mode::Detect));
    assert!(!rule.disabled);
    let meta = rule.metadata.to_map();
    assert_eq!(meta["classtype"], "attempted-admin");
    assert_eq!(meta["issued"], "2017-04-17");
    assert_eq!(meta["updated"], "2019-07-26");
    assert_eq!(meta["references"][2], "url,example.org");
    // The pairs the shared fields carry are not said twice, nor is what the text says.
    let pairs = json!({"attack_target": "SMB_Server", "tag": ["EternalBlue", "SMB"]});
    assert_eq!(meta["metadata"], pairs);
    let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["classtype", "issued", "metadata", "references", "updated"]
    );
}

#[test]
fn an_explicit_gid_is_part_of_the_id() {
    let parsed = read(b"alert ip any any -> any any (msg:\"x\"; gid:3; sid:7;)\n");
    assert_eq!(parsed.rules[0].id, "3:7");
    assert_eq!(parsed.rules[0].revision, None);
}

#[test]
fn escapes_and_escaped_semicolons_stay_inside_quoted_values() {
    let text = r#"alert tcp any any -> any any (msg:"a \"b\" c\;d \\ e"; content:"x\;y"; pcre:"/a\;b\"/i"; sid:1;)"#;
    let parsed = read(text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.rules[0].name, r#"a "b" c;d \ e"#);
    assert_eq!(parsed.rules[0].content, text);
}

#[test]
fn a_bare_semicolon_inside_quotes_is_read_as_part_of_the_value_and_refused() {
    // Suricata would end `msg` at the `;`; the error names that place, and the rest of the
    // rule is still understood, so no second, confusing error follows.
    let (place, severity, message) = problem(r#"alert tcp any any -> any any (msg:"a;b"; sid:1;)"#);
    assert_eq!((place.as_str(), severity), ("1:37", Severity::Error));
    assert!(
        message.contains("unescaped `;` inside the quoted value of `msg`"),
        "{message}"
    );
}

#[test]
fn continued_lines_are_joined_and_located_on_their_own_lines() {
    let text =
        "alert tcp any any -> any any (msg:\"x\"; \\\n    content:\"a\"; \\  \n    sid:5;)\n";
    let parsed = read(text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let rule = &parsed.rules[0];
    let joined = "alert tcp any any -> any any (msg:\"x\";     content:\"a\";     sid:5;)";
    assert_eq!(rule.content, joined);
    assert_eq!(rule.location.to_string(), "t.rules:1:1");

    let broken =
        "alert tcp any any -> any any (msg:\"x\"; \\\n    content:\"a\"; \\\n    sid:5x;)\n";
    let (place, _, message) = problem(broken);
    assert_eq!(place, "3:9");
    assert!(
        message.contains("`sid` must be a whole number, not `5x`"),
        "{message}"
    );
}

#[test]
fn commented_out_rules_are_disabled_and_other_comments_ignored() {
    let text = "#alert tcp any any -> any any (msg:\"a\"; sid:1;)\n\
                #  drop tcp any any -> any any (msg:\"b\"; sid:2;)\n\
                # alert on this only when sid values are known\n\
                #  Rules with sids 1 through 3464 are GPL\n\
                #alerts are sent by mail: sid:3\n";
    let parsed = read(text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let places: Vec<String> = parsed
        .rules
        .iter()
        .map(|r| r.location.to_string())
        .collect();
    assert_eq!(places, ["t.rules:1:2", "t.rules:2:4"]);
    assert!(parsed.rules.iter().all(|rule| rule.disabled));
    assert_eq!(
        parsed.rules[1].content,
        "drop tcp any any -> any any (msg:\"b\"; sid:2;)"
    );
}

#[test]
fn a_broken_commented_out_rule_only_warns() {
    let (place, severity, message) = problem("# alert tcp any any -> any any (msg:\"a\"; sid:1;\n");
    assert_eq!((place.as_str(), severity), ("1:48", Severity::Warning));
    assert_eq!(
        message,
        "commented-out rule not read: missing `)` at the end of the rule options"
    );
}

#[test]
fn drop_and_reject_prevent_unless_metadata_says_otherwise() {
    let rule = |action: &str, extra: &str| {
        let text = format!("{action} tcp any any -> any any (msg:\"a\"; sid:1;{extra})");
        let parsed = read(text.as_bytes());
        (parsed.rules[0].mode, parsed.diagnostics.len())
    };
    assert_eq!(rule("drop", ""), (Some(Mode::Prevent), 0));
    assert_eq!(rule("rejectboth", ""), (Some(Mode::Prevent), 0));
    assert_eq!(rule("pass", ""), (Some(Mode::Detect), 0));
    assert_eq!(
        rule("drop", " metadata:mode detect;"),
        (Some(Mode::Detect), 0)
    );
    assert_eq!(
        rule("alert", " metadata:mode prevent;"),
        (Some(Mode::Prevent), 0)
    );
    assert_eq!(
        rule("drop", " metadata:mode loud;"),
        (Some(Mode::Prevent), 1)
    );
}

#[test]
fn cve_references_are_normalised_and_unreadable_ones_warn() {
    let text = "alert tcp any any -> any any (msg:\"a\"; reference:cve,1999-058; \
                reference:cve, CAN-2001-0540; reference:cve,MS08-067; \
                metadata:cve CVE_2021_44228_CVE_2021_45046, min_agent_version 20.0.0.8438; sid:1;)";
    let parsed = read(text.as_bytes());
    let rule = &parsed.rules[0];
    let cves = [
        "CVE-1999-0058",
        "CVE-2001-0540",
        "CVE-2021-44228",
        "CVE-2021-45046",
    ];
    assert_eq!(rule.cves, cves);
    assert_eq!(rule.min_agent_version.as_deref(), Some("20.0.0.8438"));
    assert_eq!(parsed.diagnostics.len(), 1);
    let warning = &parsed.diagnostics[0];
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.location.to_string(), "t.rules:1:108");
    assert!(
        warning.message.contains("`MS08-067`"),
        "{}",
        warning.message
    );
}

#[test]
fn an_attack_id_that_is_not_a_technique_warns() {
    let text =
        "alert tcp any any -> any any (msg:\"a\"; metadata:mitre_technique_id TA0001; sid:1;)";
    let parsed = read(text.as_bytes());
    assert!(parsed.rules[0].attack.is_empty());
    assert_eq!(parsed.diagnostics[0].location.to_string(), "t.rules:1:49");
    assert_eq!(parsed.diagnostics[0].severity, Severity::Warning);
}

/// Each syntax error, with the place it is reported and a fragment of its message. The base
/// rule is `alert tcp any any -> any any (msg:"a"; sid:1;)`: `(` is column 30, `msg` 31,
/// its opening quote 35, `sid` 40 and its value 44.
const ERRORS: [(&str, &str, &str); 19] = [
    (
        r#"alert tcp any any -> any any (msg:"a"; sid;)"#,
        "1:40",
        "`sid` needs a value",
    ),
    (
        r#"alert tcp any any -> any any (msg:"abc; sid:1;)"#,
        "1:35",
        "unterminated quote in option `msg`",
    ),
    (
        r#"alert tcp any any -> any any msg:"a"; sid:1;)"#,
        "1:30",
        "missing `(`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1;"#,
        "1:46",
        "missing `)`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1)"#,
        "1:40",
        "option `sid:1` is not ended by `;`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; nocase)"#,
        "1:40",
        "option `nocase` is not ended by `;`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; foo bar; sid:1;)"#,
        "1:40",
        "unknown option syntax `foo bar`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a";; sid:1;)"#,
        "1:39",
        "empty option",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a";)"#,
        "1:1",
        "missing `sid`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:x1;)"#,
        "1:44",
        "`sid` must be a whole number, not `x1`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1; gid:abc;)"#,
        "1:51",
        "`gid` must be a whole number, not `abc`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1; rev:1.2;)"#,
        "1:51",
        "`rev` must be a whole number, not `1.2`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:0;)"#,
        "1:44",
        "`sid` must be from 1 to 4294967295, not `0`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1; sid:2;)"#,
        "1:47",
        "duplicate `sid`",
    ),
    (
        r#"alarm tcp any any -> any any (msg:"a"; sid:1;)"#,
        "1:1",
        "unknown action `alarm`",
    ),
    (
        r#"alert tcp any any -> any (msg:"a"; sid:1;)"#,
        "1:7",
        "the rule header has 5 fields",
    ),
    (
        r#"alert tcp any any => any any (msg:"a"; sid:1;)"#,
        "1:19",
        "`=>` is not a direction",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"; sid:1;) x"#,
        "1:48",
        "unexpected `x` after the closing `)`",
    ),
    (
        r#"alert tcp any any -> any any (msg:"a"x; sid:1;)"#,
        "1:38",
        "unexpected text after the closing quote of `msg`",
    ),
];

#[test]
fn each_syntax_error_is_reported_with_its_reason_at_its_place() {
    for (text, place, fragment) in ERRORS {
        let (found, severity, message) = problem(text);
        assert_eq!(
            (found.as_str(), severity),
            (place, Severity::Error),
            "{text}: {message}"
        );
        assert!(message.contains(fragment), "{text}: {message}");
    }
}

#[test]
fn msg_must_be_quoted_and_rules_must_not_be_indented() {
    let (place, _, message) = problem(r#"alert tcp any any -> any any (msg:a; sid:1;)"#);
    assert_eq!(place, "1:35");
    assert_eq!(message, "`msg` must be in double quotes");
    let (place, _, message) = problem("  alert tcp any any -> any any (msg:\"a\"; sid:1;)");
    assert_eq!(place, "1:3");
    assert!(
        message.starts_with("line starts with whitespace"),
        "{message}"
    );
}

#[test]
fn every_problem_in_a_file_is_reported_and_good_rules_still_read() {
    let text = b"alert tcp any any -> any any (msg:\"\xff\"; sid:1;)\n\
                 alert tcp any any -> any any (msg:\"ok\"; sid:2;)\r\n\
                 alert tcp any any -> any any (msg:\"a\"; sid:x;)\n\
                 alert tcp any any -> any any (msg:\"caf\xc3\xa9\"; sid:3;)\n";
    let parsed = read(text);
    let ids: Vec<&str> = parsed.rules.iter().map(|rule| rule.id.as_str()).collect();
    assert_eq!(ids, ["1:2", "1:3"]);
    assert_eq!(
        parsed.rules[0].content,
        "alert tcp any any -> any any (msg:\"ok\"; sid:2;)"
    );
    assert_eq!(parsed.rules[1].name, "café");
    let places: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| d.location.to_string())
        .collect();
    assert_eq!(places, ["t.rules:1:36", "t.rules:3:44"]);
    assert!(parsed.diagnostics[0].message.contains("UTF-8"));
}

#[test]
fn option_names_are_read_whatever_their_case() {
    let parsed = read(b"alert ip any any -> any any (MSG:\"x\"; Sid:7; REV:2; ClassType:misc;)\n");
    let rule = &parsed.rules[0];
    assert_eq!((rule.id.as_str(), rule.name.as_str()), ("1:7", "x"));
    assert_eq!(rule.revision, Some(2));
    assert_eq!(rule.metadata.to_map()["classtype"], "misc");
}

#[test]
fn only_whole_et_dates_become_iso_dates() {
    let dates = "created_at 2019_07_2, updated_at 2019_07_26_1";
    let text = format!("alert ip any any -> any any (sid:1; metadata:{dates};)\n");
    let meta = read(text.as_bytes()).rules[0].metadata.to_map();
    assert_eq!(
        (&meta["issued"], &meta["updated"]),
        (&json!("2019_07_2"), &json!("2019_07_26_1"))
    );
}
