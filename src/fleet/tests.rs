//! One test or more for each clause of the upgrade policy, on fleets small enough to read.

use std::path::Path;

use super::*;

fn v(text: &str) -> AgentVersion {
    text.parse().expect("test versions are well formed")
}

/// A fleet from `(name, version)` relays and `(name, version, relay)` agents.
fn fleet(relays: &[(&str, &str)], agents: &[(&str, &str, &str)]) -> Fleet {
    let mut text = String::from("relays:\n");
    for (name, version) in relays {
        text += &format!("  - {{ name: {name}, version: {version} }}\n");
    }
    text += "agents:\n";
    for (name, version, relay) in agents {
        text += &format!("  - {{ name: {name}, version: {version}, relay: {relay} }}\n");
    }
    parse_fleet(&text, Path::new("fleet.yaml")).expect("test fleets are valid")
}

fn available(agent: &[&str], relay: &[&str]) -> Available {
    Available {
        agent: agent.iter().copied().map(v).collect(),
        relay: relay.iter().copied().map(v).collect(),
    }
}

fn alerts_of(report: &FleetReport) -> Vec<(String, String)> {
    let pairs = report.alerts.iter();
    pairs
        .map(|a| (a.agent.clone(), a.version.to_string()))
        .collect()
}

fn no_alert_of(report: &FleetReport) -> Vec<(String, String)> {
    let pairs = report.no_alert.iter();
    pairs
        .map(|q| (q.version.to_string(), q.reason.clone()))
        .collect()
}

fn behind_of(report: &FleetReport) -> Vec<(String, String)> {
    let pairs = report.relays_behind.iter();
    pairs.map(|b| (b.relay.clone(), b.agent.clone())).collect()
}

fn order_of(report: &FleetReport) -> Vec<String> {
    report
        .upgrade_order
        .iter()
        .map(|u| u.name.clone())
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let owned = expected.iter();
    owned.map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// The fleet of the brief: relay-a is one step behind a1; a2 runs the old 9.6 line.
fn three_agents() -> Fleet {
    fleet(
        &[("relay-a", "20.0.1-1000"), ("relay-b", "20.0.1-2000")],
        &[
            ("a1", "20.0.1-1500", "relay-a"),
            ("a2", "9.6.100", "relay-b"),
            ("a3", "20.0.1-1800", "relay-b"),
        ],
    )
}

fn three_agents_published() -> Available {
    available(
        &["9.6.200", "10.0.100", "20.0.1-2500", "20.1.0-100"],
        &["20.0.1-2500"],
    )
}

#[test]
fn a_relay_one_build_older_than_its_agent_is_behind() {
    let fleet = fleet(
        &[("relay", "20.0.1-1000")],
        &[("a", "20.0.1-1001", "relay"), ("b", "20.0.1-1000", "relay")],
    );
    let report = assess(&fleet, None, None);
    assert_eq!(behind_of(&report), pairs(&[("relay", "a")]));
    assert!(report.relays_behind_any());
}

#[test]
fn a_relay_as_new_as_its_agents_is_not_behind() {
    let fleet = fleet(
        &[("relay", "20.0.0.8438")],
        &[("a", "20.0.0-8438", "relay"), ("b", "9.6.100", "relay")],
    );
    let report = assess(&fleet, None, None);
    assert!(!report.relays_behind_any());
    assert!(report.upgrade_order.is_empty());
}

#[test]
fn a_newer_build_of_the_agents_line_alerts_but_a_new_line_does_not() {
    let fleet = fleet(&[("r", "20.0.1-1000")], &[("db", "9.6.100", "r")]);
    let published = available(&["9.6.200", "10.0.100", "10.0.200"], &[]);
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(alerts_of(&report), pairs(&[("db", "9.6.200")]));
    assert_eq!(
        no_alert_of(&report),
        pairs(&[
            ("10.0.100", "no agent runs line 10.0"),
            ("10.0.200", "no agent runs line 10.0"),
        ])
    );
}

#[test]
fn a_new_line_alerts_once_an_agent_runs_it() {
    let fleet = fleet(
        &[("r", "20.0.1-1000")],
        &[("db", "9.6.100", "r"), ("early", "10.0.50", "r")],
    );
    let published = available(&["9.6.200", "10.0.100"], &[]);
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(
        alerts_of(&report),
        pairs(&[("db", "9.6.200"), ("early", "10.0.100")])
    );
    assert!(report.no_alert.is_empty());
}

#[test]
fn each_agent_is_alerted_only_to_the_newest_build_of_its_line() {
    let fleet = fleet(
        &[("r", "20.0.1-1000")],
        &[("old", "9.6.100", "r"), ("older", "9.6.50", "r")],
    );
    let published = available(&["9.6.150", "9.6.200", "9.6.80"], &[]);
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(
        alerts_of(&report),
        pairs(&[("old", "9.6.200"), ("older", "9.6.200")])
    );
    let reason = "agents on line 9.6 are alerted to the newer 9.6.200";
    assert_eq!(
        no_alert_of(&report),
        pairs(&[("9.6.80", reason), ("9.6.150", reason)])
    );
}

#[test]
fn a_build_no_newer_than_every_agent_on_its_line_alerts_nobody() {
    let fleet = fleet(&[("r", "20.0.1-1000")], &[("a", "20.0.1-900", "r")]);
    let published = available(&["20.0.1-900", "20.0.1-800", "20.0.1.900"], &[]);
    let report = assess(&fleet, Some(&published), None);
    assert!(report.alerts.is_empty());
    assert_eq!(
        no_alert_of(&report),
        pairs(&[
            (
                "20.0.1-800",
                "every agent on line 20.0 runs 20.0.1-800 or newer"
            ),
            (
                "20.0.1-900",
                "every agent on line 20.0 runs 20.0.1-900 or newer"
            ),
        ])
    );
}

#[test]
fn alerts_compare_the_three_forms_numerically() {
    let fleet = fleet(
        &[("r", "20.0.1-99999")],
        &[
            ("dashed", "20.0.0-9000", "r"),
            ("dotted", "20.0.0.8438", "r"),
        ],
    );
    let published = available(&["20.0.0.10000", "20.0.0-9999"], &[]);
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(
        alerts_of(&report),
        pairs(&[("dashed", "20.0.0.10000"), ("dotted", "20.0.0.10000")])
    );
}

#[test]
fn the_issue_example_alerts_both_agents_and_upgrades_the_relay_first() {
    let fleet = fleet(
        &[("relay-eu", "20.0.1-1000")],
        &[
            ("web-01", "20.0.1-900", "relay-eu"),
            ("db-01", "9.6.100", "relay-eu"),
        ],
    );
    let published = available(&["9.6.200", "10.0.100", "20.0.1-1100"], &["20.0.1-1100"]);
    let report = assess(&fleet, Some(&published), None);
    assert!(!report.relays_behind_any());
    assert_eq!(
        alerts_of(&report),
        pairs(&[("db-01", "9.6.200"), ("web-01", "20.0.1-1100")])
    );
    assert_eq!(
        no_alert_of(&report),
        pairs(&[("10.0.100", "no agent runs line 10.0")])
    );
    assert_eq!(order_of(&report), ["relay-eu", "db-01", "web-01"]);
    assert_eq!(report.upgrade_order[0].to, Some(v("20.0.1-1100")));
}

#[test]
fn three_agents_on_two_relays() {
    let report = assess(&three_agents(), Some(&three_agents_published()), None);
    assert_eq!(behind_of(&report), pairs(&[("relay-a", "a1")]));
    assert_eq!(
        alerts_of(&report),
        pairs(&[
            ("a1", "20.0.1-2500"),
            ("a2", "9.6.200"),
            ("a3", "20.0.1-2500")
        ])
    );
    assert_eq!(
        no_alert_of(&report),
        pairs(&[
            ("10.0.100", "no agent runs line 10.0"),
            ("20.1.0-100", "no agent runs line 20.1"),
        ])
    );
    assert_eq!(order_of(&report), ["relay-a", "relay-b", "a1", "a2", "a3"]);
}

#[test]
fn an_agent_on_a_new_line_brings_its_alert_but_not_the_next_line() {
    let mut fleet = three_agents();
    fleet.relays[0].version = v("20.0.1-2000");
    fleet.agents.push(Agent {
        name: "a4".to_owned(),
        relay: "relay-b".to_owned(),
        version: v("10.0.50"),
    });
    let report = assess(&fleet, Some(&three_agents_published()), None);
    assert!(!report.relays_behind_any());
    assert!(alerts_of(&report).contains(&("a4".to_owned(), "10.0.100".to_owned())));
    assert!(report.alerts.iter().all(|a| a.version != v("20.1.0-100")));
    assert_eq!(
        no_alert_of(&report),
        pairs(&[("20.1.0-100", "no agent runs line 20.1")])
    );
}

#[test]
fn the_upgrade_order_puts_every_relay_before_any_agent_each_once() {
    let report = assess(&three_agents(), Some(&three_agents_published()), None);
    let roles: Vec<Role> = report.upgrade_order.iter().map(|u| u.role).collect();
    let first_agent = roles.iter().position(|r| *r == Role::Agent);
    assert_eq!(roles.first(), Some(&Role::Relay));
    assert!(
        roles[first_agent.unwrap_or(roles.len())..]
            .iter()
            .all(|r| *r == Role::Agent)
    );
    let mut names = order_of(&report);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), report.upgrade_order.len());
}

#[test]
fn relays_behind_now_go_before_relays_that_would_fall_behind() {
    let fleet = fleet(
        &[("a-ahead", "20.0.1-1000"), ("z-behind", "20.0.1-1000")],
        &[
            ("x", "20.0.1-900", "a-ahead"),
            ("y", "20.0.1-1200", "z-behind"),
        ],
    );
    let published = available(
        &["20.0.1-1500"],
        &["20.0.1-1400", "20.0.1-1600", "20.0.1-1500"],
    );
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(order_of(&report), ["z-behind", "a-ahead", "x", "y"]);
    // The lowest published relay version that keeps each relay ahead of its agents.
    assert_eq!(report.upgrade_order[0].to, Some(v("20.0.1-1500")));
    assert_eq!(report.upgrade_order[1].to, Some(v("20.0.1-1500")));
}

#[test]
fn a_relay_with_no_published_version_new_enough_is_still_ordered_first() {
    let fleet = fleet(&[("r", "20.0.1-1000")], &[("a", "20.0.1-1000", "r")]);
    let published = available(&["20.0.1-1100"], &["20.0.1-1050"]);
    let report = assess(&fleet, Some(&published), None);
    assert_eq!(order_of(&report), ["r", "a"]);
    assert_eq!(report.upgrade_order[0].to, None);
    assert_eq!(report.upgrade_order[0].at_least, v("20.0.1-1100"));
    assert!(report.render_text().contains(
        "1. relay `r`: 20.0.1-1000 -> 20.0.1-1100 or newer (no published relay version is)"
    ));
}

fn rule(kind: &str, id: &str, min: Option<&str>) -> ReleaseRule {
    ReleaseRule {
        id: id.to_owned(),
        kind: kind.to_owned(),
        min_agent_version: min.map(v),
    }
}

fn release() -> Vec<ReleaseRule> {
    vec![
        rule("firewall", "100", None),
        rule("intrusion-prevention", "1:2000001", Some("20.0.0.8438")),
        rule("log-inspection", "5710", Some("9.6.100")),
        rule("integrity-monitoring", "im-7", Some("20.0.1-2000")),
        rule("firewall", "200", Some("10.0.0.1")),
    ]
}

#[test]
fn agents_below_a_rules_minimum_miss_exactly_those_rules() {
    let release = release();
    let report = assess(&three_agents(), None, Some(&release));
    let missing: Vec<(&str, Vec<&str>, String)> = report
        .missing_rules
        .iter()
        .map(|m| {
            let rules = m.rules.iter().map(String::as_str).collect();
            (m.agent.as_str(), rules, m.needs.to_string())
        })
        .collect();
    assert_eq!(
        missing,
        [
            (
                "a1",
                vec!["integrity-monitoring/im-7"],
                "20.0.1-2000".to_owned()
            ),
            (
                "a2",
                vec![
                    "firewall/200",
                    "integrity-monitoring/im-7",
                    "intrusion-prevention/1:2000001"
                ],
                "20.0.1-2000".to_owned()
            ),
            (
                "a3",
                vec!["integrity-monitoring/im-7"],
                "20.0.1-2000".to_owned()
            ),
        ]
    );
    assert!(report.missing_any());
}

#[test]
fn agents_at_every_minimum_miss_nothing() {
    let fleet = fleet(&[("r", "20.0.1-2000")], &[("a", "20.0.1.2000", "r")]);
    let release = release();
    let report = assess(&fleet, None, Some(&release));
    assert!(!report.missing_any());
    assert!(!assess(&fleet, None, None).missing_any());
}

#[test]
fn needs_is_the_highest_minimum_of_the_missed_rules() {
    let fleet = fleet(&[("r", "20.0.1-2000")], &[("old", "9.6.100", "r")]);
    let release = [
        rule("firewall", "1", Some("10.0.0.1")),
        rule("firewall", "2", Some("20.0.0.8438")),
    ];
    let report = assess(&fleet, None, Some(&release));
    assert_eq!(report.missing_rules[0].needs.to_string(), "20.0.0.8438");
}

#[test]
fn json_has_exactly_the_documented_keys() {
    let release = release();
    let published = three_agents_published();
    let report = assess(&three_agents(), Some(&published), Some(&release));
    let json = serde_json::to_value(&report).expect("a report serialises");
    let keys: Vec<&String> = json.as_object().expect("an object").keys().collect();
    let mut expected = [
        "alerts",
        "missing_rules",
        "no_alert",
        "relays_behind",
        "upgrade_order",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(
        json["relays_behind"],
        serde_json::json!([{"relay": "relay-a", "agent": "a1"}])
    );
    assert_eq!(
        json["alerts"][1],
        serde_json::json!({"agent": "a2", "version": "9.6.200"})
    );
    assert_eq!(
        json["no_alert"][0],
        serde_json::json!({"version": "10.0.100", "reason": "no agent runs line 10.0"})
    );
    assert_eq!(
        json["missing_rules"][0],
        serde_json::json!({"agent": "a1", "rules": ["integrity-monitoring/im-7"], "needs": "20.0.1-2000"})
    );
    assert_eq!(
        json["upgrade_order"],
        serde_json::json!(["relay-a", "relay-b", "a1", "a2", "a3"])
    );
}

#[test]
fn text_names_every_finding() {
    let release = release();
    let published = three_agents_published();
    let text = assess(&three_agents(), Some(&published), Some(&release)).render_text();
    for expected in [
        "relay `relay-a` runs 20.0.1-1000, older than agent `a1` on 20.0.1-1500",
        "agent `a2`: 9.6.100 -> 9.6.200",
        "10.0.100: no agent runs line 10.0",
        "agent `a1` on 20.0.1-1500 needs 20.0.1-2000 for 1 rule: integrity-monitoring/im-7",
        "1. relay `relay-a`: 20.0.1-1000 -> 20.0.1-2500",
        "5. agent `a3`: 20.0.1-1800 -> 20.0.1-2500",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn text_says_what_was_not_checked() {
    let text = assess(&three_agents(), None, None).render_text();
    assert!(text.contains("update alerts:\n  not checked: no published versions given\n"));
    assert!(text.contains("rules agents cannot run:\n  not checked: no release given\n"));
    assert!(!text.contains("alert nobody"));
}
