//! The weekly cadence: what `rulecut scheduled` does at each hourly CI run.
//!
//! It finds the latest slot at or before now and cuts that slot's release once. Most runs find
//! nothing to do, and they find it cheaply, without the lock and without reading any source:
//! the slot already has a release, or `latest.json` was signed since the slot (a run judged it
//! unchanged), or the slot is not due yet. A slot later than its grace period is an alarm, and
//! the caller exits 1 so that CI turns red. A run that may cut takes the output folder's lock,
//! waiting a bounded time for another run, and reads the history again under it; so any number
//! of runs, even at the same moment, cut at most one release per slot.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::{self, History};
use crate::manifest::{self, Latest, Trigger};
use crate::publish::{self, OutputLock};
use crate::release::{self, ReleaseError, Request};

/// How long a scheduled run waits for another run's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(300);

/// What a scheduled run did.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// The slot already has its release.
    AlreadyReleased {
        release: String,
        #[serde(with = "manifest::rfc3339")]
        slot: DateTime<Utc>,
    },
    /// The slot is older than the grace period and was not cut: an alarm.
    Missed {
        #[serde(with = "manifest::rfc3339")]
        slot: DateTime<Utc>,
    },
    /// No slot is due, or the latest one was already handled.
    NotDue,
    /// The slot's release was cut.
    Released {
        path: String,
        release: String,
        #[serde(with = "manifest::rfc3339")]
        slot: DateTime<Utc>,
    },
    /// No rule changed since the last release: `latest.json` was signed again, nothing else.
    Unchanged {
        #[serde(with = "manifest::rfc3339")]
        slot: DateTime<Utc>,
    },
}

impl Outcome {
    /// True for the outcomes that must turn CI red.
    pub fn is_alarm(&self) -> bool {
        matches!(self, Outcome::Missed { .. })
    }
}

/// Runs one scheduled check at `request.at`, cutting the slot's release if it is due.
pub fn run(config: &Config, request: &Request) -> Result<Outcome, ReleaseError> {
    let Some(schedule) = &config.release.schedule else {
        return Err(ReleaseError::NoSchedule);
    };
    let now = request.at;
    let Some(slot) = schedule.latest_at_or_before(now) else {
        return Ok(Outcome::NotDue);
    };
    let history = ledger::read(&request.output)?;
    if let Some(outcome) = handled(&request.output, &history, slot) {
        return Ok(outcome);
    }
    if now - slot > config.release.grace {
        tracing::warn!(slot = %manifest::format_time(slot), "the slot was missed: no release was cut within the grace period");
        return Ok(Outcome::Missed { slot });
    }
    let lock = OutputLock::acquire(&request.output, Some(LOCK_WAIT))?;
    publish::clean_staging(&request.output, &lock)?;
    let history = ledger::read(&request.output)?;
    if let Some(outcome) = handled(&request.output, &history, slot) {
        return Ok(outcome);
    }
    cut_slot(config, request, slot, &history, &lock)
}

/// The outcome when the slot needs no more work: it has a release, or a run signed
/// `latest.json` after it.
fn handled(output: &Path, history: &History, slot: DateTime<Utc>) -> Option<Outcome> {
    let released = history
        .chain
        .iter()
        .find(|(entry, _)| entry.trigger == Trigger::Scheduled { slot });
    if let Some((entry, _)) = released {
        return Some(Outcome::AlreadyReleased {
            release: entry.id.clone(),
            slot,
        });
    }
    let latest = std::fs::read(output.join(manifest::LATEST_NAME)).ok()?;
    let latest: Latest = serde_json::from_slice(&latest).ok()?;
    (latest.issued >= slot).then_some(Outcome::NotDue)
}

fn cut_slot(
    config: &Config,
    request: &Request,
    slot: DateTime<Utc>,
    history: &History,
    lock: &OutputLock,
) -> Result<Outcome, ReleaseError> {
    let request = Request {
        trigger: Trigger::Scheduled { slot },
        ..request.clone()
    };
    let collected = release::collect(config)?;
    let last = history
        .chain
        .last()
        .filter(|_| config.release.skip_unchanged);
    // Sources at the commits and tree digests of the last release hold the same rules: no
    // need to parse them to know nothing changed.
    let records = release::source_records(config, &collected);
    if let Some((entry, _)) = last.filter(|(_, manifest)| manifest.sources == records) {
        return resign_latest(config, &request, entry, slot);
    }
    let (checked, facts) = release::prepare(config, collected, release::Purpose::Cut)?;
    let plan = release::plan(config, &request, &checked, &facts, history)?;
    drop(facts);
    if let Some((entry, _)) = last.filter(|_| plan.changes.is_empty()) {
        return resign_latest(config, &request, entry, slot);
    }
    release::refuse_guarded(&plan)?;
    let release = plan.release.clone();
    let cut = release::cut(config, &request, plan, checked, history, lock, &mut |_| {
        Ok(())
    })?;
    let path = crate::source::display_path(&cut.path);
    Ok(Outcome::Released {
        path,
        release,
        slot,
    })
}

/// Signs `latest.json` again for an unchanged slot, with a fresh issue time and expiry.
fn resign_latest(
    config: &Config,
    request: &Request,
    last: &crate::ledger::Entry,
    slot: DateTime<Utc>,
) -> Result<Outcome, ReleaseError> {
    let key = release::signing_key(config, request)?;
    let latest = release::latest_files(config, &last.as_previous(), request.at, &key)?;
    for (name, bytes) in &latest {
        publish::write_atomic(&request.output.join(name), bytes)?;
    }
    tracing::info!(slot = %manifest::format_time(slot), "no rule changed: signed latest.json again");
    Ok(Outcome::Unchanged { slot })
}
