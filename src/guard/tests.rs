use std::cell::RefCell;
use std::collections::BTreeMap;

use super::*;
use crate::diff::{self, Rules};
use crate::digest::sha256;
use crate::manifest::{Signing, Tool};

const LI: Kind = Kind::LogInspection;

/// A rule of kind `LI` whose digest is that of `content`.
fn rule(id: &str, revision: Option<u32>, content: &str) -> RuleFacts {
    RuleFacts {
        revision,
        ..crate::diff::tests::facts(id, content)
    }
}

fn rules(list: &[RuleFacts]) -> Rules {
    BTreeMap::from([(LI, list.to_vec())])
}

/// The manifest of release `R<sequence>`, with nothing in it that the guards do not read.
fn manifest(sequence: u64, trigger: Trigger) -> Manifest {
    Manifest {
        format: 1,
        release: format!("R{sequence}"),
        sequence,
        created: chrono::DateTime::UNIX_EPOCH,
        trigger,
        previous: None,
        bundles: Vec::new(),
        changes: None,
        guards_overridden: Vec::new(),
        min_agent_version: None,
        min_manager_version: None,
        product: "P".into(),
        signing: Signing {
            development: false,
            key_id: "0".into(),
        },
        sources: Vec::new(),
        tool: Tool {
            name: "rulecut".into(),
            version: "0".into(),
        },
        year_sequence: sequence as u32,
    }
}

/// Releases one after another, as the guards see them: the chain and every release's rules.
#[derive(Default)]
struct Story {
    chain: Vec<(Entry, Manifest)>,
    rules: Vec<Rules>,
}

impl Story {
    fn release(mut self, trigger: Trigger, list: &[RuleFacts]) -> Story {
        let new = rules(list);
        let old = self.rules.last().cloned().unwrap_or_default();
        let sequence = self.chain.len() as u64 + 1;
        let mut manifest = manifest(sequence, trigger.clone());
        manifest.changes = Some(diff::diff(&old, &new).counts());
        let entry = Entry {
            created: String::new(),
            id: manifest.release.clone(),
            manifest_sha256: sha256(b""),
            sequence,
            trigger,
            year_sequence: manifest.year_sequence,
        };
        self.chain.push((entry, manifest));
        self.rules.push(new);
        self
    }

    fn manual(self, list: &[RuleFacts]) -> Story {
        self.release(Trigger::Manual, list)
    }

    fn emergency(self, list: &[RuleFacts]) -> Story {
        let reason = "CVE-2026-0001".to_owned();
        self.release(Trigger::Emergency { reason }, list)
    }

    /// The guards on a next release of `list`, and the history positions they read.
    fn next(&self, list: &[RuleFacts], overrides: &[Guard]) -> (Vec<Violation>, Vec<usize>) {
        let new = rules(list);
        let old = self.rules.last().cloned().unwrap_or_default();
        let changes = diff::diff(&old, &new);
        let overrides: BTreeSet<Guard> = overrides.iter().copied().collect();
        let input = Input {
            changes: &changes,
            history: &self.chain,
            max_removed_share: 0.5,
            new: &new,
            old: &old,
            overrides: &overrides,
        };
        let read = RefCell::new(Vec::new());
        let mut load = |position: usize, kind: Kind| -> Result<Vec<RuleFacts>, ()> {
            read.borrow_mut().push(position);
            Ok(self.rules[position].get(&kind).cloned().unwrap_or_default())
        };
        let found = check(&input, &mut load).expect("the loader cannot fail");
        (found, read.into_inner())
    }
}

fn guards(found: &[Violation]) -> Vec<(Guard, Option<&str>)> {
    found.iter().map(|v| (v.guard, v.rule.as_deref())).collect()
}

#[test]
fn changed_content_without_a_raised_revision_is_refused_unless_overridden() {
    let story = Story::default().manual(&[rule("1", Some(2), "a"), rule("2", Some(1), "b")]);
    let next = [rule("1", Some(2), "A"), rule("2", Some(2), "B")];
    let (found, _) = story.next(&next, &[]);
    assert_eq!(guards(&found), [(Guard::UnraisedRevision, Some("1"))]);
    assert!(!found[0].overridden);
    assert_eq!(
        found[0].to_string(),
        "log-inspection rule `1`: content changed but revision 2 was not raised \
         (guard `unraised-revision`)"
    );
    let (found, _) = story.next(&next, &[Guard::UnraisedRevision]);
    assert!(found[0].overridden);
}

#[test]
fn a_new_minimum_agent_version_alone_needs_no_new_revision() {
    let story = Story::default().manual(&[rule("1", Some(2), "a")]);
    let raised = RuleFacts {
        min_agent_version: Some("20.0.0.5000".into()),
        ..rule("1", Some(2), "a")
    };
    let (found, _) = story.next(std::slice::from_ref(&raised), &[]);
    assert_eq!(guards(&found), []);
    // The same update with other content too is still held to its revision.
    let changed = RuleFacts {
        digest: sha256(b"A"),
        ..raised
    };
    let (found, _) = story.next(&[changed], &[]);
    assert_eq!(guards(&found), [(Guard::UnraisedRevision, Some("1"))]);
}

#[test]
fn a_lowered_revision_is_refused_unless_overridden() {
    let story = Story::default().manual(&[rule("1", Some(3), "a")]);
    let (found, _) = story.next(&[rule("1", Some(2), "b")], &[]);
    assert_eq!(guards(&found), [(Guard::LoweredRevision, Some("1"))]);
    assert!(
        found[0].message.contains("from 3 to 2"),
        "{}",
        found[0].message
    );
    let (found, _) = story.next(&[rule("1", Some(2), "b")], &[Guard::LoweredRevision]);
    assert!(found.iter().all(|v| v.overridden));
}

#[test]
fn rules_without_revisions_are_not_held_to_the_revision_guards() {
    // OSSEC XML has no revision numbers: a changed rule is an update and nothing more.
    let story = Story::default().manual(&[rule("100", None, "a")]);
    let next = [rule("100", None, "b")];
    let (found, _) = story.next(&next, &[]);
    assert!(found.is_empty(), "{found:?}");
    let changes = diff::diff(&story.rules[0], &rules(&next));
    assert_eq!(&*changes.kinds[&LI].updated[0].rule.id, "100");
}

#[test]
fn an_id_removed_earlier_and_back_with_other_content_is_refused() {
    let story = Story::default()
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")])
        .manual(&[rule("1", Some(1), "a"), rule("3", Some(1), "c")])
        .manual(&[rule("1", Some(1), "a"), rule("3", Some(1), "c")]);
    let (found, _) = story.next(&[rule("1", Some(1), "a"), rule("2", Some(2), "B")], &[]);
    assert_eq!(guards(&found), [(Guard::ReusedId, Some("2"))]);
    assert!(
        found[0].message.contains("release `R2`"),
        "{}",
        found[0].message
    );
    let (found, _) = story.next(
        &[rule("2", Some(2), "B")],
        &[Guard::ReusedId, Guard::MassRemoval],
    );
    assert!(found.iter().all(|v| v.overridden), "{found:?}");
}

#[test]
fn an_id_back_with_its_old_content_or_never_seen_is_allowed() {
    let story = Story::default()
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")])
        .manual(&[rule("1", Some(1), "a")]);
    let (found, _) = story.next(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")], &[]);
    assert!(found.is_empty(), "{found:?}");
    let (found, _) = story.next(&[rule("1", Some(1), "a"), rule("9", Some(1), "z")], &[]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn reused_ids_are_judged_by_the_content_at_their_last_removal() {
    // `2` is removed, back with content `b2` (overridden then), and removed again: its last
    // content is `b2`, so coming back as `b2` is no reuse while `b` now is.
    let story = Story::default()
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")])
        .manual(&[rule("1", Some(1), "a")])
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(2), "b2")])
        .manual(&[rule("1", Some(1), "a")]);
    let (found, _) = story.next(&[rule("1", Some(1), "a"), rule("2", Some(2), "b2")], &[]);
    assert!(found.is_empty(), "{found:?}");
    let (found, _) = story.next(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")], &[]);
    assert_eq!(guards(&found), [(Guard::ReusedId, Some("2"))]);
}

#[test]
fn reused_ids_read_only_the_indexes_before_releases_that_removed_rules() {
    let story = Story::default()
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")])
        .manual(&[rule("1", Some(1), "a")])
        .manual(&[rule("1", Some(1), "a"), rule("3", Some(1), "c")])
        .manual(&[
            rule("1", Some(1), "a"),
            rule("3", Some(1), "c"),
            rule("4", Some(1), "d"),
        ])
        .manual(&[
            rule("1", Some(1), "a"),
            rule("3", Some(1), "c"),
            rule("4", Some(1), "d"),
        ]);
    let same = &story.rules[4][&LI];
    let (_, read) = story.next(same, &[]);
    assert!(read.is_empty(), "nothing new, nothing read: {read:?}");
    let mut next = same.clone();
    next.push(rule("7", Some(1), "g"));
    let (found, read) = story.next(&next, &[]);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        read,
        [0],
        "only R1, before R2, the one release that removed a rule"
    );
}

#[test]
fn removing_more_than_the_share_allowed_is_refused_naming_the_rules() {
    let four = [
        rule("1", Some(1), "a"),
        rule("2", Some(1), "b"),
        rule("3", Some(1), "c"),
        rule("4", Some(1), "d"),
    ];
    let story = Story::default().manual(&four);
    let (found, _) = story.next(&four[..2], &[]);
    assert!(found.is_empty(), "half is the share allowed: {found:?}");
    let (found, _) = story.next(&four[..1], &[]);
    assert_eq!(guards(&found), [(Guard::MassRemoval, None)]);
    assert!(
        found[0].message.contains("3 of 4 rules"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("`2`, `3`, `4`"),
        "{}",
        found[0].message
    );
    let (found, _) = story.next(&four[..1], &[Guard::MassRemoval]);
    assert!(found[0].overridden);
}

#[test]
fn an_emergency_rule_removed_or_taken_back_is_refused() {
    let story = Story::default()
        .manual(&[
            rule("1", Some(1), "a"),
            rule("2", None, "b"),
            rule("3", Some(1), "c"),
        ])
        .emergency(&[
            rule("1", Some(2), "A"),
            rule("2", None, "B"),
            rule("3", Some(1), "c"),
        ]);
    let taken_back = [rule("1", Some(1), "a"), rule("2", None, "b")];
    let (found, _) = story.next(&taken_back, &[Guard::LoweredRevision, Guard::MassRemoval]);
    let rollbacks: Vec<_> = found
        .iter()
        .filter(|v| v.guard == Guard::EmergencyRollback)
        .collect();
    let ids: Vec<&str> = rollbacks.iter().filter_map(|v| v.rule.as_deref()).collect();
    assert_eq!(ids, ["1", "2"], "3 was not shipped by the emergency");
    assert!(
        rollbacks[0]
            .message
            .contains("revision 2 by emergency release `R2`")
    );
    assert!(rollbacks[1].message.contains("content from before it"));
    let (found, _) = story.next(&[rule("3", Some(1), "c")], &[Guard::MassRemoval]);
    let removed: Vec<_> = found
        .iter()
        .filter(|v| v.guard == Guard::EmergencyRollback)
        .collect();
    assert_eq!(removed.len(), 2);
    assert!(removed[0].message.ends_with("and removed"), "{removed:?}");
}

#[test]
fn an_emergency_rule_stays_protected_across_later_releases_until_changed() {
    let shipped = [rule("1", Some(2), "A"), rule("2", Some(1), "b")];
    let story = Story::default()
        .manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")])
        .emergency(&shipped)
        .manual(&[rule("1", Some(2), "A"), rule("2", Some(2), "B")]);
    let back = [rule("1", Some(1), "a"), rule("2", Some(2), "B")];
    let (found, _) = story.next(&back, &[Guard::LoweredRevision]);
    let rollback = found.iter().find(|v| v.guard == Guard::EmergencyRollback);
    assert_eq!(
        rollback.and_then(|v| v.rule.as_deref()),
        Some("1"),
        "{found:?}"
    );
    let (found, _) = story.next(&back, &[Guard::LoweredRevision, Guard::EmergencyRollback]);
    assert!(found.iter().all(|v| v.overridden), "{found:?}");
    // Once a later release has changed the rule again, the emergency no longer holds it.
    let moved_on = story.manual(&[rule("1", Some(3), "A3"), rule("2", Some(2), "B")]);
    let (found, _) = moved_on.next(&[rule("2", Some(2), "B")], &[]);
    assert!(
        found.iter().all(|v| v.guard != Guard::EmergencyRollback),
        "{found:?}"
    );
}

#[test]
fn an_emergency_rule_updated_forward_is_allowed() {
    let story = Story::default()
        .manual(&[rule("1", None, "a")])
        .emergency(&[rule("1", None, "b")]);
    let (found, _) = story.next(&[rule("1", None, "c")], &[]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn the_help_names_each_override_once() {
    let story = Story::default().manual(&[rule("1", Some(1), "a"), rule("2", Some(1), "b")]);
    let (found, _) = story.next(&[rule("1", Some(1), "A"), rule("2", Some(1), "B")], &[]);
    let text = help(&found);
    assert_eq!(
        text.matches("--allow-unraised-revision").count(),
        1,
        "{text}"
    );
}
