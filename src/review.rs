//! Reviewed plans: cut exactly the release that was reviewed.
//!
//! `rulecut build --dry-run --json` writes the plan: the release id and sequence, the previous
//! release and its manifest digest, every source's commit or tree digest, the trigger, the
//! release time, the change set and what the guards found. `rulecut build --plan PLAN` reads it
//! back and cuts the release only if the one it is about to cut has every one of those inputs
//! still the same, so a source that moved after the review, or a release cut by someone else
//! in between, stops the build rather than slipping into it. The change set is not compared:
//! it follows from the sources and the previous release, which are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use crate::guard::Guard;
use crate::manifest::{Previous, SourceRecord, Trigger};
use crate::release::Plan;

#[derive(Debug, Error)]
pub enum ReviewError {
    #[error("`{}` is not a plan written by `rulecut build --dry-run --json`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read plan `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The release about to be cut is not the reviewed one; each difference is one line.
#[derive(Debug, Error)]
#[error("the release differs from the reviewed plan in {} way(s)", .differences.len())]
pub struct Mismatch {
    pub differences: Vec<String>,
}

/// The parts of a plan that fix which release is cut.
#[derive(Debug, Deserialize)]
pub struct Reviewed {
    pub created: DateTime<Utc>,
    pub overrides: BTreeSet<Guard>,
    pub previous: Option<Previous>,
    pub release: String,
    pub sequence: u64,
    pub sources: Vec<SourceRecord>,
    pub trigger: Trigger,
}

/// Reads a plan written by a dry run.
pub fn read(path: &Path) -> Result<Reviewed, ReviewError> {
    let bytes = std::fs::read(path).map_err(|source| ReviewError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ReviewError::Parse {
        path: path.to_owned(),
        source,
    })
}

impl Reviewed {
    /// Whether `plan` cuts the reviewed release; if not, every difference.
    pub fn matches(&self, plan: &Plan) -> Result<(), Mismatch> {
        let mut differences = Vec::new();
        if plan.release != self.release {
            differences.push(changed("release id", &self.release, &plan.release));
        }
        if plan.sequence != self.sequence {
            let (was, now) = (self.sequence.to_string(), plan.sequence.to_string());
            differences.push(changed("sequence", &was, &now));
        }
        if plan.previous != self.previous {
            let (was, now) = (previous_text(&self.previous), previous_text(&plan.previous));
            differences.push(changed("previous release", &was, &now));
        }
        if plan.trigger != self.trigger {
            let (was, now) = (trigger_text(&self.trigger), trigger_text(&plan.trigger));
            differences.push(changed("trigger", &was, &now));
        }
        differences.extend(source_differences(&self.sources, &plan.sources));
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Mismatch { differences })
        }
    }
}

fn changed(what: &str, was: &str, now: &str) -> String {
    format!("{what} was `{was}` in the plan and is now `{now}`")
}

fn previous_text(previous: &Option<Previous>) -> String {
    previous.as_ref().map_or_else(
        || "none".to_owned(),
        |p| format!("{} #{} {}", p.release, p.sequence, p.manifest_sha256),
    )
}

fn trigger_text(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Emergency { reason } => format!("emergency: {reason}"),
        Trigger::Scheduled { slot } => format!("scheduled {}", crate::manifest::format_time(*slot)),
        Trigger::Revert { to, .. } => format!("revert to {to}"),
        Trigger::Manual => "manual".to_owned(),
    }
}

fn revision_text(source: &SourceRecord) -> String {
    match (&source.commit, &source.tree_sha256) {
        (Some(commit), _) => format!("commit {commit}"),
        (None, Some(tree)) => format!("tree {tree}"),
        (None, None) => "nothing".to_owned(),
    }
}

/// Sources added, removed, or read at another commit or tree since the review.
fn source_differences(reviewed: &[SourceRecord], now: &[SourceRecord]) -> Vec<String> {
    let mut differences = Vec::new();
    for was in reviewed {
        match now.iter().find(|s| s.name == was.name) {
            None => differences.push(format!("source `{}` is gone", was.name)),
            Some(current) if current != was => differences.push(changed(
                &format!("source `{}`", was.name),
                &format!("{} {}", was.kind, revision_text(was)),
                &format!("{} {}", current.kind, revision_text(current)),
            )),
            Some(_) => {}
        }
    }
    let added = now
        .iter()
        .filter(|s| reviewed.iter().all(|r| r.name != s.name));
    differences.extend(added.map(|s| format!("source `{}` is not in the plan", s.name)));
    differences
}
