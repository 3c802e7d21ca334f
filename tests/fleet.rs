//! Fleet readiness through the library's public API, from files on disk to JSON and text:
//! the example of the issue, and a fleet of two relays before and after an agent joins a new
//! line. The `rulecut fleet` command wraps exactly these calls.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use rulecut::fleet::{
    Available, FleetError, FleetReport, ReleaseRule, assess, load_available, load_fleet,
};
use rulecut::version::AgentVersion;

const ISSUE_FLEET: &str = "\
relays:
  - { name: relay-eu, version: 20.0.1-1000 }
agents:
  - { name: web-01, version: 20.0.1-900, relay: relay-eu }
  - { name: db-01, version: 9.6.100, relay: relay-eu }
";

const ISSUE_VERSIONS: &str = "\
agent: [9.6.200, 10.0.100, 20.0.1-1100]
relay: [20.0.1-1100]
";

const TWO_RELAYS: &str = "\
relays:
  - { name: relay-a, version: 20.0.1-1000 }
  - { name: relay-b, version: 20.0.1-2000 }
agents:
  - { name: a1, version: 20.0.1-1500, relay: relay-a }
  - { name: a2, version: 9.6.100, relay: relay-b }
  - { name: a3, version: 20.0.1-1800, relay: relay-b }
";

const TWO_RELAYS_VERSIONS: &str = "\
agent: [9.6.200, 10.0.100, 20.0.1-2500, 20.1.0-100]
relay: [20.0.1-2500]
";

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).expect("the temporary folder is writable");
    path
}

fn load(fleet: &Path, versions: &Path) -> FleetReport {
    let fleet = load_fleet(fleet).expect("the fleet file is valid");
    let available = load_available(versions).expect("the versions file is valid");
    assess(&fleet, Some(&available), None)
}

fn to_json(report: &FleetReport) -> Value {
    serde_json::to_value(report).expect("a report serialises")
}

fn alerts(json: &Value) -> Vec<(String, String)> {
    let alerts = json["alerts"].as_array().expect("alerts is a list");
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let pair = |alert: &Value| (text(&alert["agent"]), text(&alert["version"]));
    alerts.iter().map(pair).collect()
}

fn has_alert(json: &Value, agent: &str, version: &str) -> bool {
    alerts(json).contains(&(agent.to_owned(), version.to_owned()))
}

#[test]
fn the_issue_example_alerts_within_lines_and_upgrades_the_relay_first() {
    let dir = TempDir::new().expect("a temporary folder");
    let fleet = write(&dir, "FLEET.yaml", ISSUE_FLEET);
    let versions = write(&dir, "VERSIONS", ISSUE_VERSIONS);

    let report = load(&fleet, &versions);

    assert!(!report.relays_behind_any());
    assert_eq!(
        to_json(&report),
        json!({
            "relays_behind": [],
            "alerts": [
                {"agent": "db-01", "version": "9.6.200"},
                {"agent": "web-01", "version": "20.0.1-1100"},
            ],
            "no_alert": [{"version": "10.0.100", "reason": "no agent runs line 10.0"}],
            "missing_rules": [],
            "upgrade_order": ["relay-eu", "db-01", "web-01"],
        })
    );
}

#[test]
fn a_relay_behind_one_agent_is_named_with_that_agent_only() {
    let dir = TempDir::new().expect("a temporary folder");
    let fleet = write(&dir, "fleet.yaml", TWO_RELAYS);
    let versions = write(&dir, "versions.yaml", TWO_RELAYS_VERSIONS);

    let report = load(&fleet, &versions);
    let json = to_json(&report);

    assert!(report.relays_behind_any());
    assert_eq!(
        json["relays_behind"],
        json!([{"relay": "relay-a", "agent": "a1"}])
    );
    assert!(has_alert(&json, "a2", "9.6.200"));
    assert!(has_alert(&json, "a1", "20.0.1-2500"));
    assert!(has_alert(&json, "a3", "20.0.1-2500"));
    let versions: Vec<String> = alerts(&json).into_iter().map(|(_, v)| v).collect();
    assert!(
        !versions
            .iter()
            .any(|v| v == "10.0.100" || v == "20.1.0-100")
    );
    assert_eq!(
        json["no_alert"],
        json!([
            {"version": "10.0.100", "reason": "no agent runs line 10.0"},
            {"version": "20.1.0-100", "reason": "no agent runs line 20.1"},
        ])
    );
    assert_eq!(
        json["upgrade_order"],
        json!(["relay-a", "relay-b", "a1", "a2", "a3"])
    );
}

#[test]
fn once_an_agent_runs_a_new_line_its_newer_builds_alert() {
    let dir = TempDir::new().expect("a temporary folder");
    let healthy = TWO_RELAYS.replace(
        "relay-a, version: 20.0.1-1000",
        "relay-a, version: 20.0.1-2000",
    ) + "  - { name: a4, version: 10.0.50, relay: relay-b }\n";
    let fleet = write(&dir, "fleet.yaml", &healthy);
    let versions = write(&dir, "versions.yaml", TWO_RELAYS_VERSIONS);

    let report = load(&fleet, &versions);
    let json = to_json(&report);

    assert!(!report.relays_behind_any());
    assert!(has_alert(&json, "a4", "10.0.100"));
    assert!(!alerts(&json).iter().any(|(_, v)| v == "20.1.0-100"));
    let order: Vec<&str> = json["upgrade_order"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(order, ["relay-a", "relay-b", "a1", "a2", "a3", "a4"]);
}

fn rule(kind: &str, id: &str, min: Option<&str>) -> ReleaseRule {
    let min = min.map(|text| text.parse::<AgentVersion>().expect("a valid minimum"));
    ReleaseRule {
        id: id.to_owned(),
        kind: kind.to_owned(),
        min_agent_version: min,
    }
}

#[test]
fn a_release_needing_newer_agents_lists_exactly_who_misses_what() {
    let dir = TempDir::new().expect("a temporary folder");
    let fleet = load_fleet(&write(&dir, "fleet.yaml", ISSUE_FLEET)).expect("valid");
    let release = [
        rule("firewall", "1001", None),
        rule("intrusion-prevention", "1:2000001", Some("20.0.0.8438")),
        rule("intrusion-prevention", "1:2000002", Some("20.0.1.1000")),
        rule("log-inspection", "5710", Some("9.6.100")),
    ];

    let report = assess(&fleet, None, Some(&release));

    assert!(report.missing_any());
    assert_eq!(
        to_json(&report)["missing_rules"],
        json!([
            {
                "agent": "db-01",
                "rules": ["intrusion-prevention/1:2000001", "intrusion-prevention/1:2000002"],
                "needs": "20.0.1.1000",
            },
            {"agent": "web-01", "rules": ["intrusion-prevention/1:2000002"], "needs": "20.0.1.1000"},
        ])
    );
    let text = report.render_text();
    assert!(text.contains(
        "agent `web-01` on 20.0.1-900 needs 20.0.1.1000 for 1 rule: intrusion-prevention/1:2000002"
    ));
}

#[test]
fn the_text_report_reads_top_to_bottom() {
    let dir = TempDir::new().expect("a temporary folder");
    let fleet = write(&dir, "fleet.yaml", TWO_RELAYS);
    let versions = write(&dir, "versions.yaml", TWO_RELAYS_VERSIONS);

    let text = load(&fleet, &versions).render_text();

    assert_eq!(
        text,
        "\
relays behind an agent they serve:
  relay `relay-a` runs 20.0.1-1000, older than agent `a1` on 20.0.1-1500: upgrade the relay first

update alerts:
  agent `a1`: 20.0.1-1500 -> 20.0.1-2500
  agent `a2`: 9.6.100 -> 9.6.200
  agent `a3`: 20.0.1-1800 -> 20.0.1-2500

published versions that alert nobody:
  10.0.100: no agent runs line 10.0
  20.1.0-100: no agent runs line 20.1

rules agents cannot run:
  not checked: no release given

upgrade order, relays first:
  1. relay `relay-a`: 20.0.1-1000 -> 20.0.1-2500
  2. relay `relay-b`: 20.0.1-2000 -> 20.0.1-2500
  3. agent `a1`: 20.0.1-1500 -> 20.0.1-2500
  4. agent `a2`: 9.6.100 -> 9.6.200
  5. agent `a3`: 20.0.1-1800 -> 20.0.1-2500
"
    );
}

#[test]
fn an_agent_on_an_unknown_relay_is_refused_at_its_line() {
    let dir = TempDir::new().expect("a temporary folder");
    let text = ISSUE_FLEET.replace(
        "db-01, version: 9.6.100, relay: relay-eu",
        "db-01, version: 9.6.100, relay: relay-us",
    );
    let path = write(&dir, "fleet.yaml", &text);

    let error = load_fleet(&path).expect_err("relay-us is not listed");

    assert!(matches!(error, FleetError::Invalid { .. }));
    let message = error.to_string();
    let place = format!("{}:5:45", path.display());
    let expected =
        format!("{place}: agent `db-01` names relay `relay-us`, which is not under `relays`");
    assert!(message.contains(&expected), "{message}");
}

#[test]
fn a_bad_published_version_is_refused_at_its_place() {
    let dir = TempDir::new().expect("a temporary folder");
    let path = write(
        &dir,
        "versions.yaml",
        "agent: [9.6.200]\nrelay: [20.0.1_1100]\n",
    );

    let error = load_available(&path).expect_err("20.0.1_1100 is not a version");

    let message = error.to_string();
    assert!(message.contains(&format!(
        "{}:2:9: `20.0.1_1100` is not an agent version",
        path.display()
    )));
}

#[test]
fn nothing_published_means_nothing_alerted() {
    let dir = TempDir::new().expect("a temporary folder");
    let fleet = load_fleet(&write(&dir, "fleet.yaml", TWO_RELAYS)).expect("valid");

    let report = assess(&fleet, Some(&Available::default()), None);

    assert!(report.alerts.is_empty());
    assert!(report.no_alert.is_empty());
    // relay-a is behind a1 today, so it is upgraded even with no target known.
    let order: Vec<&str> = report
        .upgrade_order
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(order, ["relay-a"]);
    assert_eq!(report.upgrade_order[0].to, None);
}
