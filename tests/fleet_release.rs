//! `rulecut fleet --release`: the agents of a fleet against the rules of a real release, with
//! minimum agent versions from the rules themselves and from a source-wide default; and what
//! a new source-wide default does to the next release.

mod common;

use common::Project;
use serde_json::Value;

/// The sample firewall rules that name no minimum agent version of their own.
const WITHOUT_OWN_MINIMUM: [&str; 6] = [
    "fw-1000002",
    "fw-1000003",
    "fw-1000101",
    "fw-1000102",
    "fw-1000103",
    "fw-1000104",
];

/// Gives the sample firewall source a minimum agent version for the rules that name none.
fn firewall_minimum(project: &Project, version: &str) {
    let config = project.path().join("release.yaml");
    let text = std::fs::read_to_string(&config).expect("release.yaml");
    let text = text.replace(
        "    path: rules/firewall\n",
        &format!("    path: rules/firewall\n    min_agent_version: {version}\n"),
    );
    std::fs::write(&config, text).expect("write");
}

#[test]
fn agents_older_than_a_release_needs_are_listed_with_exactly_the_rules_they_miss() {
    let project = Project::samples();
    // Every firewall rule without a minimum of its own takes the source's.
    firewall_minimum(&project, "20.0.0.5000");
    let release = project.build("2026-12-01T09:00:00Z");
    let fleet = project.path().join("fleet.yaml");
    std::fs::write(
        &fleet,
        "relays:\n  - { name: relay-a, version: 20.0.1-20000 }\nagents:\n  \
         - { name: new, version: 20.0.1-20000, relay: relay-a }\n  \
         - { name: mid, version: 20.0.0.6000, relay: relay-a }\n  \
         - { name: old, version: 20.0.0.100, relay: relay-a }\n",
    )
    .expect("write");
    let output = project
        .rulecut()
        .args(["fleet", "fleet.yaml", "--json", "--strict", "--release"])
        .arg(&release)
        .output()
        .expect("rulecut runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let missing: Vec<(String, Vec<String>, String)> = report["missing_rules"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            let rules = m["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .map(|r| r.as_str().expect("text").to_owned());
            (
                m["agent"].as_str().expect("an agent").to_owned(),
                rules.collect(),
                m["needs"].as_str().expect("a version").to_owned(),
            )
        })
        .collect();
    let firewall: Vec<String> = WITHOUT_OWN_MINIMUM
        .iter()
        .map(|id| format!("firewall/{id}"))
        .collect();
    let needs_build = [
        "firewall/fw-1000001".to_owned(),
        "integrity-monitoring/im-2100001".to_owned(),
        "intrusion-prevention/1:9100003".to_owned(),
    ];
    let mut old_rules: Vec<String> = firewall
        .iter()
        .cloned()
        .chain(needs_build.iter().cloned())
        .collect();
    old_rules.sort();
    // 20.0.0.6000 runs the source-wide 20.0.0.5000, not fw-1000001's own 20.0.0.8438.
    let mid_rules = needs_build.to_vec();
    assert_eq!(
        missing,
        vec![
            ("mid".to_owned(), mid_rules, "20.0.1-12345".to_owned()),
            ("old".to_owned(), old_rules, "20.0.1-12345".to_owned()),
        ]
    );
}

#[test]
fn a_new_source_wide_minimum_updates_its_rules_without_asking_for_new_revisions() {
    let project = Project::samples();
    project.build("2026-12-01T09:00:00Z");
    firewall_minimum(&project, "20.0.0.5000");
    // The rules' content is as it was, so the revision guards have nothing to refuse.
    let release = project.build("2026-12-08T09:00:00Z");
    let notes = std::fs::read(release.join("release-notes.json")).expect("the JSON notes");
    let notes: Value = serde_json::from_slice(&notes).expect("JSON");
    let firewall = &notes["kinds"]["firewall"];
    let updated: Vec<(&str, &Value)> = firewall["updated"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| (u["id"].as_str().expect("an id"), &u["changes"]))
        .collect();
    let expected = serde_json::json!([
        { "field": "min_agent_version", "from": null, "to": "20.0.0.5000" }
    ]);
    let ids: Vec<&str> = updated.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, WITHOUT_OWN_MINIMUM);
    assert!(updated.iter().all(|(_, changes)| **changes == expected));
    assert_eq!(notes["guards_overridden"], serde_json::json!([]));
}
