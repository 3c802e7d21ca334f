//! Guards: checks on what a release changes, run when it is planned and before it is cut.
//!
//! The diff says what changed; a guard says whether that change is one a release should make
//! without a person saying so. Each guard refuses the release, naming the rule, unless its own
//! override is given (`--allow-<guard>` on `build`), and an overridden refusal is recorded in
//! the manifest:
//!
//! - `unraised-revision`: a rule's content changed but its revision did not rise, so agents
//!   that compare revisions would keep the old rule.
//! - `lowered-revision`: a rule's revision went down.
//! - `reused-id`: an id removed by an earlier release is back with other content, so two
//!   different rules would have carried one id.
//! - `mass-removal`: more than `guards.max_removed_share` of a kind's rules removed at once,
//!   which is more often a broken source than an intended clean-up.
//! - `emergency-rollback`: a rule an emergency release shipped is removed, or taken back to a
//!   lower revision or to the content it had before the emergency, which is what happens when
//!   the fix was made on a branch and the next release is cut from one without it.
//!
//! Formats without revision numbers (OSSEC XML) are not held to the revision guards; their
//! changes are still updates, and still held to the others. Nor is an update whose content is
//! the same, which only took another minimum agent version from its source in release.yaml.
//!
//! The guards are pure functions of the change set, the old and new rules and the history.
//! The history's bundle indexes are read through a caller's loader, and only those needed:
//! `reused-id` reads, newest first, the index before each release that removed rules of the
//! kind (known from the manifests' change counts) until every new id is placed, and reads
//! nothing when a release adds no rule; `emergency-rollback` reads two indexes per emergency
//! release that changed the kind, and nothing when a release removes and updates no rule.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diff::{ChangeSet, RuleFacts, Rules, rules_of};
use crate::ledger::Entry;
use crate::manifest::{ChangeCounts, Manifest, Trigger};
use crate::rules::Kind;

/// The guards, each with the `--allow-...` override of the same name.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    EmergencyRollback,
    LoweredRevision,
    MassRemoval,
    ReusedId,
    UnraisedRevision,
}

impl Guard {
    pub const ALL: [Guard; 5] = [
        Guard::EmergencyRollback,
        Guard::LoweredRevision,
        Guard::MassRemoval,
        Guard::ReusedId,
        Guard::UnraisedRevision,
    ];

    /// The name manifests record and the override's flag is made of.
    pub fn name(self) -> &'static str {
        match self {
            Guard::EmergencyRollback => "emergency-rollback",
            Guard::LoweredRevision => "lowered-revision",
            Guard::MassRemoval => "mass-removal",
            Guard::ReusedId => "reused-id",
            Guard::UnraisedRevision => "unraised-revision",
        }
    }

    /// The `build` flag that overrides the guard.
    pub fn flag(self) -> String {
        format!("--allow-{}", self.name())
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A change a guard refuses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    pub guard: Guard,
    pub kind: Kind,
    /// What is wrong, without the rule's name: `revision 3 was not raised`.
    pub message: String,
    /// True where the guard's override was given, so the release goes on.
    pub overridden: bool,
    /// The rule, where the violation is about one rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} rule `{rule}`: {}", self.kind, self.message)?,
            None => write!(f, "{}: {}", self.kind, self.message)?,
        }
        write!(f, " (guard `{}`", self.guard)?;
        if self.overridden {
            write!(f, ", overridden by `{}`", self.guard.flag())?;
        }
        f.write_str(")")
    }
}

/// What the guards judge.
pub struct Input<'a> {
    pub changes: &'a ChangeSet,
    /// The releases before this one that chain, oldest first; the last is the previous release.
    pub history: &'a [(Entry, Manifest)],
    pub max_removed_share: f64,
    /// The rules of the previous release.
    pub old: &'a Rules,
    /// The rules of this release.
    pub new: &'a Rules,
    pub overrides: &'a BTreeSet<Guard>,
}

/// Reads the rules of one kind of the release at a position in the history.
pub type Loader<'l, E> = dyn FnMut(usize, Kind) -> Result<Vec<RuleFacts>, E> + 'l;

/// Every violation, in guard order then rule order, each marked overridden or not.
pub fn check<E>(input: &Input<'_>, load: &mut Loader<'_, E>) -> Result<Vec<Violation>, E> {
    let mut past = Past {
        cache: HashMap::new(),
        input,
        load,
    };
    let mut found = revisions(input);
    found.extend(mass_removal(input));
    for kind in input.changes.kinds.keys() {
        found.extend(reused_ids(input, *kind, &mut past)?);
        found.extend(emergency_rollbacks(input, *kind, &mut past)?);
    }
    for violation in &mut found {
        violation.overridden = input.overrides.contains(&violation.guard);
    }
    found.sort_by(|a, b| (a.guard, a.kind, &a.rule).cmp(&(b.guard, b.kind, &b.rule)));
    Ok(found)
}

fn violation(guard: Guard, kind: Kind, rule: Option<&str>, message: String) -> Violation {
    Violation {
        guard,
        kind,
        message,
        overridden: false,
        rule: rule.map(str::to_owned),
    }
}

/// The rules of a kind by id.
fn by_id(rules: &[RuleFacts]) -> HashMap<&str, &RuleFacts> {
    rules.iter().map(|r| (&*r.id, r)).collect()
}

/// `unraised-revision` and `lowered-revision`, over the updated rules that carry revisions.
fn revisions(input: &Input<'_>) -> Vec<Violation> {
    let mut found = Vec::new();
    for (kind, changes) in &input.changes.kinds {
        if changes.updated.is_empty() {
            continue;
        }
        let old = by_id(rules_of(input.old, *kind));
        let new = by_id(rules_of(input.new, *kind));
        for update in changes.updated.iter() {
            let id = &*update.rule.id;
            let Some((before, after)) = old.get(id).zip(new.get(id)) else {
                continue;
            };
            // A format without revisions (OSSEC XML) has nothing these guards could hold.
            let Some((from, to)) = before.revision.zip(after.revision) else {
                continue;
            };
            if to == from && before.digest != after.digest {
                let message = format!("content changed but revision {from} was not raised");
                found.push(violation(Guard::UnraisedRevision, *kind, Some(id), message));
            } else if to < from {
                let message = format!("revision lowered from {from} to {to}");
                found.push(violation(Guard::LoweredRevision, *kind, Some(id), message));
            }
        }
    }
    found
}

/// `mass-removal`: the share of each kind's rules the release removes.
fn mass_removal(input: &Input<'_>) -> Vec<Violation> {
    let mut found = Vec::new();
    for (kind, changes) in &input.changes.kinds {
        let before = rules_of(input.old, *kind).len();
        let removed = changes.removed.len();
        if before == 0 || removed as f64 / before as f64 <= input.max_removed_share {
            continue;
        }
        let named: Vec<String> = changes
            .removed
            .iter()
            .take(5)
            .map(|r| format!("`{}`", r.id))
            .collect();
        let more = if removed > named.len() { ", ..." } else { "" };
        let message = format!(
            "{removed} of {before} rules removed at once ({:.1}%), more than \
             `guards.max_removed_share` {} allows: {}{more}",
            100.0 * removed as f64 / before as f64,
            input.max_removed_share,
            named.join(", "),
        );
        found.push(violation(Guard::MassRemoval, *kind, None, message));
    }
    found
}

/// The history's bundle indexes, each read once, the previous release's taken as given.
struct Past<'a, 'l, E> {
    cache: HashMap<(usize, Kind), Vec<RuleFacts>>,
    input: &'a Input<'a>,
    load: &'a mut Loader<'l, E>,
}

impl<E> Past<'_, '_, E> {
    fn rules(&mut self, position: usize, kind: Kind) -> Result<&[RuleFacts], E> {
        if position + 1 == self.input.history.len() {
            return Ok(rules_of(self.input.old, kind));
        }
        if !self.cache.contains_key(&(position, kind)) {
            let rules = (self.load)(position, kind)?;
            self.cache.insert((position, kind), rules);
        }
        Ok(&self.cache[&(position, kind)])
    }
}

/// The change counts a release's manifest records for a kind; `None` where it records none.
fn counts(manifest: &Manifest, kind: Kind) -> Option<ChangeCounts> {
    let changes = manifest.changes.as_ref()?;
    Some(changes.get(&kind).cloned().unwrap_or_default())
}

/// `reused-id`: a new rule whose id an earlier release removed, back with other content.
///
/// Only the last content an id had matters, and it is in the index of the release just before
/// the newest release that removed it. Walking the releases that removed rules of the kind
/// newest first, the first index holding the id is that one: any index after it lies past
/// the id's last removal, where the id was absent, since it is not in the previous release.
fn reused_ids<E>(
    input: &Input<'_>,
    kind: Kind,
    past: &mut Past<'_, '_, E>,
) -> Result<Vec<Violation>, E> {
    let added = &input.changes.kinds[&kind].new;
    let mut unplaced: BTreeSet<&str> = added.iter().map(|r| &*r.id).collect();
    let mut found = Vec::new();
    if unplaced.is_empty() || input.history.len() < 2 {
        return Ok(found);
    }
    let new = by_id(rules_of(input.new, kind));
    for position in (1..input.history.len()).rev() {
        let (entry, manifest) = &input.history[position];
        if unplaced.is_empty() {
            break;
        }
        if counts(manifest, kind).is_some_and(|c| c.removed == 0) {
            continue;
        }
        for earlier in past.rules(position - 1, kind)? {
            let Some(now) = unplaced.take(&*earlier.id).map(|id| new[id]) else {
                continue;
            };
            if now.digest != earlier.digest {
                let message = format!(
                    "id removed by release `{}` is back with different content",
                    entry.id
                );
                found.push(violation(Guard::ReusedId, kind, Some(&now.id), message));
            }
        }
    }
    Ok(found)
}

/// `emergency-rollback`: a rule an emergency release shipped, still as it shipped it in the
/// previous release, that this release removes or takes back to a lower revision or to its
/// content from before the emergency.
///
/// A rule that a later release changed again (the fix was taken up, or the rollback was
/// overridden then) is no longer protected by that emergency. Content older than the one the
/// emergency replaced is not recognised: that would need every earlier index.
fn emergency_rollbacks<E>(
    input: &Input<'_>,
    kind: Kind,
    past: &mut Past<'_, '_, E>,
) -> Result<Vec<Violation>, E> {
    let changes = &input.changes.kinds[&kind];
    let ids = changes.removed.iter().map(|r| &*r.id);
    let ids: BTreeSet<&str> = ids
        .chain(changes.updated.iter().map(|u| &*u.rule.id))
        .collect();
    let touched: HashMap<&str, &RuleFacts> = rules_of(input.old, kind)
        .iter()
        .filter(|r| ids.contains(&*r.id))
        .map(|r| (&*r.id, r))
        .collect();
    let mut found = Vec::new();
    if touched.is_empty() {
        return Ok(found);
    }
    let new = by_id(rules_of(input.new, kind));
    for (position, (entry, manifest)) in input.history.iter().enumerate() {
        let emergency = matches!(entry.trigger, Trigger::Emergency { .. });
        let quiet = counts(manifest, kind).is_some_and(|c| c.new + c.updated == 0);
        if !emergency || quiet {
            continue;
        }
        for (shipped, before) in shipped(past, position, kind, &touched)? {
            let now = new.get(&*shipped.id).copied();
            if let Some(message) = rollback(&entry.id, &shipped, before.as_ref(), now) {
                found.push(violation(
                    Guard::EmergencyRollback,
                    kind,
                    Some(&shipped.id),
                    message,
                ));
            }
        }
    }
    Ok(found)
}

/// Of the rules this release touches, those the release at `position` shipped (new, or with
/// other content than the release before it) and that the previous release still has as it
/// shipped them, each with its version from before.
fn shipped<E>(
    past: &mut Past<'_, '_, E>,
    position: usize,
    kind: Kind,
    touched: &HashMap<&str, &RuleFacts>,
) -> Result<Vec<(RuleFacts, Option<RuleFacts>)>, E> {
    let as_previous = |r: &&RuleFacts| touched.get(&*r.id).is_some_and(|o| o.digest == r.digest);
    let shipped: Vec<RuleFacts> = past
        .rules(position, kind)?
        .iter()
        .filter(as_previous)
        .cloned()
        .collect();
    let mut before: HashMap<Arc<str>, RuleFacts> = HashMap::new();
    if position > 0 && !shipped.is_empty() {
        let earlier = past.rules(position - 1, kind)?;
        let wanted = by_id(&shipped);
        before = earlier
            .iter()
            .filter(|r| wanted.contains_key(&*r.id))
            .map(|r| (r.id.clone(), r.clone()))
            .collect();
    }
    let changed = shipped.into_iter().filter_map(|rule| {
        let earlier = before.remove(&rule.id);
        let same = earlier.as_ref().is_some_and(|e| e.digest == rule.digest);
        (!same).then_some((rule, earlier))
    });
    Ok(changed.collect())
}

/// How this release takes back what an emergency release shipped, if it does.
fn rollback(
    release: &str,
    emergency: &RuleFacts,
    before: Option<&RuleFacts>,
    now: Option<&RuleFacts>,
) -> Option<String> {
    let Some(now) = now else {
        return Some(format!(
            "shipped by emergency release `{release}`, and removed"
        ));
    };
    if let Some((shipped, to)) = emergency.revision.zip(now.revision).filter(|(s, t)| t < s) {
        return Some(format!(
            "shipped at revision {shipped} by emergency release `{release}`, taken back to \
             revision {to}"
        ));
    }
    if before.is_some_and(|b| b.digest == now.digest) {
        return Some(format!(
            "shipped by emergency release `{release}`, taken back to its content from before it"
        ));
    }
    None
}

/// The `help:` line for a refused release: the overrides that would let it through.
pub fn help(refusals: &[Violation]) -> String {
    let guards: BTreeSet<Guard> = refusals.iter().map(|v| v.guard).collect();
    let flags: Vec<String> = guards.iter().map(|g| format!("`{}`", g.flag())).collect();
    format!(
        "if the change is intended, build again with {}; the manifest records the override",
        flags.join(" and ")
    )
}

#[cfg(test)]
mod tests;
