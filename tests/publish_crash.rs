//! Crashes while publishing: a fault after each step, and kills at many moments, leave either
//! the last good state or the whole new release, and the next run goes on correctly.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Project;
use rulecut::config;
use rulecut::digest::sha256;
use rulecut::ledger;
use rulecut::manifest::{self, Trigger};
use rulecut::publish::Step;
use rulecut::release::{self, KeyInput, Request};

fn request(project: &Project, at: &str) -> Request {
    Request {
        at: chrono::DateTime::parse_from_rfc3339(at)
            .expect("a time")
            .into(),
        key: Some(KeyInput::Text(project.key.clone())),
        output: project.path().join("dist"),
        trigger: Trigger::Manual,
        wait_for_lock: None,
    }
}

/// Every release folder in `dist` is whole: each file its checksums list is there with its
/// digest, and nothing half-written is left beside them.
fn assert_whole(dist: &Path) {
    let history = ledger::read(dist).expect("a readable output folder");
    assert!(history.problems.is_empty(), "{:?}", history.problems);
    for (entry, _) in &history.chain {
        let folder = dist.join(&entry.id);
        let listed =
            std::fs::read_to_string(folder.join(manifest::CHECKSUMS_NAME)).expect("checksums");
        let listed = manifest::parse_checksums(&listed).expect("valid checksums");
        for (name, digest) in &listed {
            assert_eq!(
                sha256(&std::fs::read(folder.join(name)).expect("a listed file")),
                *digest
            );
        }
        let count = std::fs::read_dir(&folder).expect("a folder").count();
        assert_eq!(
            count,
            listed.len() + 2,
            "{} holds files its checksums do not list",
            entry.id
        );
    }
    assert_eq!(
        history.chain.len(),
        history.folders.len(),
        "a release folder is outside the chain"
    );
}

#[test]
fn a_fault_after_each_publish_step_leaves_a_state_the_next_run_goes_on_from() {
    for step in [
        Step::Staged,
        Step::Renamed,
        Step::LatestWritten,
        Step::LedgerWritten,
    ] {
        let project = Project::samples();
        project.build("2026-12-01T09:00:00Z");
        let config = config::load(&project.path().join("release.yaml")).expect("a configuration");
        let mut fault = |at: Step| {
            if at == step {
                Err(std::io::Error::other("injected fault"))
            } else {
                Ok(())
            }
        };
        let result = release::build(
            &config,
            &request(&project, "2026-12-08T09:00:00Z"),
            &mut fault,
        );
        assert!(result.is_err(), "{step:?}");
        let dist = project.path().join("dist");
        let published = dist.join("RU26-002").exists();
        assert_eq!(published, step != Step::Staged, "{step:?}");
        assert_whole(&dist);

        let next = project.build("2026-12-15T09:00:00Z");
        let expected = if published { "RU26-003" } else { "RU26-002" };
        assert!(next.ends_with(expected), "{step:?}: {}", next.display());
        assert_whole(&dist);
        let names: Vec<String> = std::fs::read_dir(&dist)
            .expect("listed")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with(".staging") || n.ends_with(".tmp")),
            "{step:?}: {names:?}"
        );
        let ledger = std::fs::read_to_string(dist.join(ledger::LEDGER_NAME)).expect("a ledger");
        assert_eq!(
            ledger.matches("\"id\"").count(),
            if published { 3 } else { 2 },
            "{step:?}"
        );
    }
}

#[test]
fn kills_at_many_moments_never_leave_a_half_release() {
    let project = Project::samples();
    let binary = assert_cmd::cargo::cargo_bin("rulecut");
    let dist = project.path().join("dist");
    // Fixed, spread-out delays: a deterministic stand-in for random moments.
    let delays_ms = [
        0u64, 1, 2, 3, 5, 7, 9, 12, 15, 18, 22, 26, 31, 37, 44, 52, 61, 71, 83, 97,
    ];
    for (day, delay) in delays_ms.iter().enumerate() {
        let at = format!("2026-12-{:02}T09:00:00Z", day + 1);
        let mut child = std::process::Command::new(&binary)
            .current_dir(project.path())
            .env("RULECUT_SIGNING_KEY", &project.key)
            .args(["-q", "build", "--at", &at])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("rulecut starts");
        std::thread::sleep(Duration::from_millis(*delay));
        let _ = child.kill();
        let _ = child.wait();
        assert_whole(&dist);
    }
    let last = project.build("2026-12-31T09:00:00Z");
    assert_whole(&dist);
    let history = ledger::read(&dist).expect("a history");
    let sequences: Vec<u64> = history.chain.iter().map(|(e, _)| e.sequence).collect();
    assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        last.file_name().and_then(|n| n.to_str()),
        history.last().map(|e| e.id.as_str())
    );
}
