//! The weekly cadence as CI runs it: `rulecut scheduled --now TIME` every hour, with the
//! release key in `RULECUT_SIGNING_KEY`, on a small rule tree with Tuesday 09:00 UTC slots and
//! a 48-hour grace period; and the emergency lane beside it, `build --emergency --reason`.
//!
//! Every run is the real binary at a fixed `--now` or `--at`, so nothing here depends on the
//! clock, and nothing waits for time to pass.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use common::{Project, snapshot};
use predicates::prelude::*;
use serde_json::{Value, json};
use sha2::Digest;

use rulecut::sign::{self, PublicKey, SigningKey};

const SLOT: &str = "2026-12-01T09:00:00Z";
const RULES: &str = "\
- id: fw-1
  name: Allow DHCP client requests
  severity: low
  firewall:
    action: allow
    direction: outgoing
    protocol: udp
    destination: { port: '67' }

- id: fw-2
  name: Deny inbound Telnet
  severity: medium
  firewall:
    action: deny
    priority: 2
    direction: incoming
    protocol: tcp
    destination: { port: '23' }
";

/// A project as CI runs it: Tuesday slots, a release key given in the environment only, and
/// `skip_unchanged` as asked.
fn project(skip_unchanged: bool) -> Project {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir rules");
    std::fs::write(rules.join("base.yaml"), RULES).expect("write the rules");
    let config = format!(
        "product: Cadence Test\nrelease:\n  id: \"RU{{yy}}-{{seq}}\"\n  schedule: \"0 9 * * TUE\"\n  \
         timezone: UTC\n  grace: 48h\n  skip_unchanged: {skip_unchanged}\noutput: dist\n\
         sources:\n  - {{ name: fw, kind: firewall, format: yaml, path: rules }}\n"
    );
    std::fs::write(dir.path().join("release.yaml"), config).expect("write release.yaml");
    let keys = tempfile::tempdir().expect("a folder for the key");
    let prefix = keys.path().join("ci");
    sign::keygen(&prefix, false).expect("a key pair");
    Project {
        key: std::fs::read_to_string(prefix.with_extension("key")).expect("the key"),
        public_key: {
            let public = dir.path().join("ci.pub");
            std::fs::copy(prefix.with_extension("pub"), &public).expect("copy the public key");
            public
        },
        dir,
    }
}

fn scheduled(project: &Project, now: &str) -> assert_cmd::assert::Assert {
    project.rulecut().args(["scheduled", "--now", now]).assert()
}

fn emergency(project: &Project, at: &str, reason: &str) -> assert_cmd::assert::Assert {
    let args = ["build", "--emergency", "--reason", reason, "--at", at];
    project.rulecut().args(args).assert()
}

fn key_id(project: &Project) -> String {
    let key = SigningKey::from_text(&project.key).expect("the release key");
    key.key_id().to_string()
}

/// The release folders in `dist/`, in name order.
fn releases(project: &Project) -> Vec<String> {
    let Ok(listing) = std::fs::read_dir(project.path().join("dist")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = listing
        .map(|e| e.expect("a folder entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn json_file(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("JSON")
}

fn manifest(project: &Project, release: &str) -> Value {
    json_file(
        &project
            .path()
            .join("dist")
            .join(release)
            .join("manifest.json"),
    )
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a time string");
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn stderr_of_release(project: &Project, release: &str, slot: &str) -> String {
    format!(
        " INFO checked sources=1 rules=2\n INFO signing key_id={} release={release}\n INFO \
         published release={release} path=dist/{release}\nreleased: {release} for slot {slot}\n",
        key_id(project)
    )
}

/// Runs `scheduled` every hour for three weeks from the first slot, with an emergency build
/// on the Thursday of the first week, and gives the time and id of each release it cut.
fn sweep(project: &Project) -> Vec<(String, String)> {
    let start = time(&json!(SLOT));
    let mut released = Vec::new();
    for hour in 0..21 * 24 {
        let now = rulecut::manifest::format_time(start + TimeDelta::hours(hour));
        if now == "2026-12-03T12:00:00Z" {
            emergency(project, &now, "CVE-2026-0001 exploited").success();
        }
        let mut command = project.rulecut();
        let output = command
            .args(["scheduled", "--json", "--now", &now])
            .output();
        let output = output.expect("rulecut runs");
        assert!(output.status.success(), "the run at {now} failed");
        let outcome: Value = serde_json::from_slice(&output.stdout).expect("a JSON outcome");
        if outcome["outcome"] == "released" {
            let id = outcome["release"].as_str().expect("a release id");
            released.push((now, id.to_owned()));
        }
    }
    released
}

#[test]
fn an_hourly_sweep_over_three_weeks_cuts_one_release_per_tuesday_slot() {
    let project = project(false);
    let released = sweep(&project);
    let expected = [
        ("2026-12-01T09:00:00Z", "RU26-001"),
        ("2026-12-08T09:00:00Z", "RU26-003"),
        ("2026-12-15T09:00:00Z", "RU26-004"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(at, id)| (at.to_string(), id.to_string()))
        .collect();
    assert_eq!(released, expected);
    let ids = ["RU26-001", "RU26-002", "RU26-003", "RU26-004"];
    assert_eq!(releases(&project), ids);
    for (sequence, id) in ids.iter().enumerate() {
        let manifest = manifest(&project, id);
        assert_eq!(manifest["sequence"], json!(sequence + 1), "{id}");
        if *id == "RU26-002" {
            assert_eq!(manifest["trigger"]["type"], "emergency");
            continue;
        }
        assert_eq!(manifest["trigger"]["type"], "scheduled", "{id}");
        let slot = time(&manifest["trigger"]["slot"]);
        assert_eq!(time(&manifest["created"]), slot, "{id}");
        assert_eq!(slot.weekday(), Weekday::Tue, "{id}");
    }
}

#[test]
fn the_same_moment_twice_cuts_once() {
    let project = project(false);
    scheduled(&project, SLOT)
        .code(0)
        .stdout("dist/RU26-001\n")
        .stderr(stderr_of_release(&project, "RU26-001", SLOT));
    let before = snapshot(&project.path().join("dist"));
    scheduled(&project, SLOT)
        .code(0)
        .stdout("")
        .stderr("already-released: slot 2026-12-01T09:00:00Z is RU26-001\n");
    assert_eq!(snapshot(&project.path().join("dist")), before);
}

#[test]
fn a_slot_is_still_cut_late_within_its_grace_period() {
    let project = project(false);
    let last_moment = "2026-12-03T09:00:00Z";
    scheduled(&project, last_moment).code(0);
    let manifest = manifest(&project, "RU26-001");
    assert_eq!(
        manifest["trigger"],
        json!({"type": "scheduled", "slot": SLOT})
    );
    assert_eq!(manifest["created"], last_moment);
}

#[test]
fn a_slot_past_its_grace_period_is_missed_exits_1_and_cuts_nothing() {
    let project = project(false);
    scheduled(&project, SLOT).code(0);
    let before = snapshot(&project.path().join("dist"));
    let missed = "missed: slot 2026-12-08T09:00:00Z has no release and its grace period is over\n";
    scheduled(&project, "2026-12-10T09:01:00Z")
        .code(1)
        .stdout("")
        .stderr(format!(
            " WARN the slot was missed: no release was cut within the grace period \
             slot=2026-12-08T09:00:00Z\n{missed}"
        ));
    assert_eq!(snapshot(&project.path().join("dist")), before);
    assert_eq!(releases(&project), ["RU26-001"]);
}

#[test]
fn an_unchanged_week_signs_latest_json_again_and_leaves_the_releases_alone() {
    let project = project(true);
    let dist = project.path().join("dist");
    scheduled(&project, SLOT).code(0);
    let mut before = snapshot(&dist);
    scheduled(&project, "2026-12-08T09:00:00Z")
        .code(0)
        .stdout("")
        .stderr(
            // Sources at the last release's tree digests are not even parsed.
            " INFO no rule changed: signed latest.json again slot=2026-12-08T09:00:00Z\n\
             unchanged: no rule changed for slot 2026-12-08T09:00:00Z; latest.json signed again\n",
        );
    let mut after = snapshot(&dist);
    for name in ["latest.json", "latest.json.sig"] {
        assert_ne!(
            before.remove(name),
            after.remove(name),
            "{name} is the same"
        );
    }
    assert_eq!(after, before, "a release folder or the ledger changed");
    assert_eq!(releases(&project), ["RU26-001"]);

    let latest = json_file(&dist.join("latest.json"));
    assert_eq!(latest["release"], "RU26-001");
    assert_eq!(latest["issued"], "2026-12-08T09:00:00Z");
    assert_eq!(latest["expires"], "2026-12-17T09:00:00Z");
    let public = PublicKey::load(&project.public_key).expect("the public key");
    let signature = std::fs::read_to_string(dist.join("latest.json.sig")).expect("signature");
    let bytes = std::fs::read(dist.join("latest.json")).expect("latest.json");
    sign::verify_detached(&[public], &bytes, &signature).expect("a good signature");
}

#[test]
fn the_run_after_an_unchanged_week_is_not_due_and_reads_no_source() {
    let project = project(true);
    let dist = project.path().join("dist");
    scheduled(&project, SLOT).code(0);
    scheduled(&project, "2026-12-08T09:00:00Z").code(0);
    let before = snapshot(&dist);
    // A rule file that cannot be read at all: a run that read the sources would fail.
    std::fs::write(project.path().join("rules/base.yaml"), "- id: [").expect("break a rule");
    scheduled(&project, "2026-12-08T10:00:00Z")
        .code(0)
        .stdout("")
        .stderr("not-due: nothing to do\n");
    assert_eq!(snapshot(&dist), before);
}

#[test]
fn json_gives_each_outcome_by_name() {
    let project = project(true);
    let cases = [
        (
            SLOT,
            0,
            json!({"outcome": "released", "path": "dist/RU26-001", "release": "RU26-001",
                   "slot": SLOT}),
        ),
        (
            "2026-12-01T10:00:00Z",
            0,
            json!({"outcome": "already-released", "release": "RU26-001", "slot": SLOT}),
        ),
        (
            "2026-12-08T09:00:00Z",
            0,
            json!({"outcome": "unchanged", "slot": "2026-12-08T09:00:00Z"}),
        ),
        ("2026-12-08T10:00:00Z", 0, json!({"outcome": "not-due"})),
        (
            "2026-12-17T09:01:00Z",
            1,
            json!({"outcome": "missed", "slot": "2026-12-15T09:00:00Z"}),
        ),
    ];
    for (now, code, expected) in cases {
        let assert = project
            .rulecut()
            .args(["scheduled", "--json", "--now", now])
            .assert()
            .code(code);
        let stdout = &assert.get_output().stdout;
        assert!(stdout.ends_with(b"}\n"), "one line of JSON at {now}");
        let outcome: Value = serde_json::from_slice(stdout).expect("JSON");
        assert_eq!(outcome, expected, "at {now}");
    }
}

#[test]
fn ids_restart_at_the_turn_of_the_year_and_the_sequence_goes_on() {
    let project = project(false);
    for (now, id) in [
        ("2026-12-22T09:00:00Z", "RU26-001"),
        ("2026-12-29T09:00:00Z", "RU26-002"),
        ("2027-01-05T09:00:00Z", "RU27-001"),
    ] {
        scheduled(&project, now)
            .code(0)
            .stdout(format!("dist/{id}\n"));
    }
    let new_year = manifest(&project, "RU27-001");
    assert_eq!(new_year["sequence"], 3);
    assert_eq!(new_year["year_sequence"], 1);
    assert_eq!(new_year["previous"]["release"], "RU26-002");
    assert_eq!(new_year["previous"]["sequence"], 2);
}

#[test]
fn an_emergency_is_recorded_leads_its_notes_and_the_next_slot_chains_to_it() {
    let project = project(true);
    let reason = "CVE-2026-0001 exploited in the wild";
    scheduled(&project, SLOT).code(0);
    emergency(&project, "2026-12-03T12:00:00Z", reason)
        .code(0)
        .stdout("dist/RU26-002\n");
    let folder = project.path().join("dist/RU26-002");
    let manifest_2 = manifest(&project, "RU26-002");
    assert_eq!(
        manifest_2["trigger"],
        json!({"type": "emergency", "reason": reason})
    );
    assert_eq!(manifest_2["previous"]["release"], "RU26-001");
    let notes = std::fs::read_to_string(folder.join("RELEASE-NOTES.md")).expect("notes");
    let lead = notes
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'));
    assert_eq!(
        lead,
        Some(format!("> **Emergency release.** {reason}").as_str())
    );
    let notes_json = json_file(&folder.join("release-notes.json"));
    assert_eq!(notes_json["trigger"]["reason"], reason);

    // A rule changes, so that the next slot is cut under `skip_unchanged`.
    let rules = project.path().join("rules/base.yaml");
    let text = std::fs::read_to_string(&rules).expect("the rules");
    std::fs::write(&rules, text.replace("port: '23'", "port: '23,2323'")).expect("edit");
    scheduled(&project, "2026-12-08T09:00:00Z")
        .code(0)
        .stdout("dist/RU26-003\n");
    let manifest_bytes = std::fs::read(folder.join("manifest.json")).expect("the manifest");
    let digest = hex::encode(sha2::Sha256::digest(&manifest_bytes));
    assert_eq!(
        manifest(&project, "RU26-003")["previous"],
        json!({"manifest_sha256": digest, "release": "RU26-002", "sequence": 2})
    );
}

#[test]
fn an_emergency_without_a_reason_is_a_usage_error() {
    let project = project(false);
    project
        .rulecut()
        .args(["build", "--emergency", "--at", SLOT])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: the following required arguments were not provided:\n  --reason <TEXT>\n",
        ));
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_release_time_before_the_previous_release_is_refused() {
    let project = project(false);
    scheduled(&project, "2026-12-08T09:00:00Z").code(0);
    let before = snapshot(&project.path().join("dist"));
    emergency(&project, "2026-12-08T08:00:00Z", "too early")
        .code(1)
        .stdout("")
        .stderr(
            " INFO checked sources=1 rules=2\nrulecut: error: release time 2026-12-08T08:00:00Z \
             is before the previous release `RU26-001` at 2026-12-08T09:00:00Z\n",
        );
    assert_eq!(snapshot(&project.path().join("dist")), before);
}

#[test]
fn development_keys_are_never_made_for_scheduled_or_emergency_releases() {
    let project = project(false);
    let config = project.path().join("release.yaml");
    let text = std::fs::read_to_string(&config).expect("release.yaml");
    std::fs::write(&config, format!("{text}signing: {{ development: true }}\n")).expect("write");
    let refusal = "rulecut: error: no signing key: `keys/development.key` does not exist\n\
                   help: development keys are made only for manual builds; give a release key \
                   for scheduled and emergency releases\n";
    let runs: [&[&str]; 2] = [
        &["scheduled", "--now", SLOT],
        &["build", "--emergency", "--reason", "urgent", "--at", SLOT],
    ];
    for args in runs {
        project
            .rulecut()
            .env_remove("RULECUT_SIGNING_KEY")
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::ends_with(refusal));
    }
    assert!(!project.path().join("keys").exists(), "a key was made");
    assert!(releases(&project).is_empty());
}

#[test]
fn runs_at_the_same_moment_cut_one_release() {
    let project = project(false);
    let binary = assert_cmd::cargo::cargo_bin("rulecut");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&binary)
                .args(["scheduled", "--now", SLOT])
                .current_dir(project.path())
                .env("RULECUT_SIGNING_KEY", &project.key)
                .env_remove("RULECUT_SIGNING_KEY_FILE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("rulecut starts")
        })
        .collect();
    let mut last_lines = Vec::new();
    for child in children {
        let output = child.wait_with_output().expect("rulecut finishes");
        assert!(output.status.success(), "a run failed");
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        last_lines.push(stderr.lines().last().unwrap_or_default().to_owned());
    }
    last_lines.sort();
    let already = "already-released: slot 2026-12-01T09:00:00Z is RU26-001";
    let released = "released: RU26-001 for slot 2026-12-01T09:00:00Z";
    assert_eq!(last_lines, [already, already, already, released]);
    assert_eq!(releases(&project), ["RU26-001"]);
}
