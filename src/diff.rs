//! What a release changes: the diff stage of the pipeline.
//!
//! The new rules are compared with the previous release's, read from that release's bundle
//! indexes rather than from old sources, so a diff means the same whatever happened to the
//! sources since. A rule is new, removed, or updated when its content digest changed; within
//! updates the changes people care about are spelled out: revision, severity, name, mode
//! (detect to prevent), minimum agent version, and enabled or disabled.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Sha256;
use crate::manifest::ChangeCounts;
use crate::package::IndexedRule;
use crate::rules::{Kind, Mode};

/// A rule as change lists show it.
/// What releases are compared by: a rule's identity and digest, and the fields that the notes
/// show and the guards judge. A release holds this much of every rule from the moment its file
/// is read, and reads no more of an earlier release's index. Its text is shared with the
/// summaries the notes list, not copied: a first release lists every rule.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RuleFacts {
    #[serde(default)]
    pub cves: Box<[String]>,
    pub digest: Sha256,
    #[serde(default)]
    pub disabled: bool,
    pub id: Arc<str>,
    pub min_agent_version: Option<Arc<str>>,
    pub mode: Option<Mode>,
    pub name: Arc<str>,
    pub revision: Option<u32>,
    pub severity: Option<Arc<str>>,
}

impl RuleFacts {
    /// The facts of `rule`, with text that other rules of its file share taken from `shared`.
    pub fn of(rule: &IndexedRule, shared: &mut SharedText) -> RuleFacts {
        RuleFacts {
            cves: rule.cves.as_slice().into(),
            digest: rule.digest,
            disabled: rule.disabled,
            id: rule.id.as_str().into(),
            min_agent_version: rule.min_agent_version.as_deref().map(|v| shared.get(v)),
            mode: rule.mode,
            name: rule.name.as_str().into(),
            revision: rule.revision,
            severity: rule.severity.as_deref().map(|s| shared.get(s)),
        }
    }
}

/// The few values that most rules of a file repeat, such as severities and minimum versions,
/// each held once for the file's facts instead of once a rule.
#[derive(Debug, Default)]
pub struct SharedText(Vec<Arc<str>>);

impl SharedText {
    /// Values past this many are not shared, so that a file of all-different values costs no
    /// more than a short scan a rule.
    const MOST: usize = 16;

    fn get(&mut self, value: &str) -> Arc<str> {
        if let Some(held) = self.0.iter().find(|held| ***held == *value) {
            return Arc::clone(held);
        }
        let text: Arc<str> = value.into();
        if self.0.len() < Self::MOST {
            self.0.push(Arc::clone(&text));
        }
        text
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleSummary {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub cves: Box<[String]>,
    pub id: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<Arc<str>>,
    pub name: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Arc<str>>,
}

impl RuleSummary {
    fn of(rule: &RuleFacts) -> RuleSummary {
        RuleSummary {
            cves: rule.cves.clone(),
            id: Arc::clone(&rule.id),
            min_agent_version: rule.min_agent_version.clone(),
            name: Arc::clone(&rule.name),
            revision: rule.revision,
            severity: rule.severity.clone(),
        }
    }
}

/// One field that changed between two versions of a rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub from: Value,
    pub to: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Update {
    pub changes: Vec<FieldChange>,
    #[serde(flatten)]
    pub rule: RuleSummary,
}

/// The changes of one kind. The lists are shared, not copied, with the notes, which hand them
/// to templates a rule at a time: a first release lists every rule as new.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindChanges {
    /// Intrusion-prevention rules that move from detect to prevent.
    pub moved_to_prevent: Arc<Vec<RuleSummary>>,
    pub new: Arc<Vec<RuleSummary>>,
    pub removed: Arc<Vec<RuleSummary>>,
    /// How many rules the kind holds after the release.
    pub total: usize,
    pub updated: Arc<Vec<Update>>,
}

impl KindChanges {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.removed.is_empty() && self.updated.is_empty()
    }
}

/// The changes of a release, per kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ChangeSet {
    pub kinds: BTreeMap<Kind, KindChanges>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.kinds.values().all(KindChanges::is_empty)
    }

    /// How many rules of each kind are new, updated and removed, as manifests record it.
    pub fn counts(&self) -> BTreeMap<Kind, ChangeCounts> {
        let count = |c: &KindChanges| ChangeCounts {
            new: c.new.len(),
            removed: c.removed.len(),
            updated: c.updated.len(),
        };
        self.kinds.iter().map(|(k, c)| (*k, count(c))).collect()
    }

    /// The changes as text for people: per kind a count line, then `+` for a new rule, `~`
    /// for an updated one with the fields that changed, `-` for a removed one.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for (kind, c) in &self.kinds {
            let (new, updated, removed) = (c.new.len(), c.updated.len(), c.removed.len());
            let total = c.total;
            let _ = writeln!(
                text,
                "{kind}: {new} new, {updated} updated, {removed} removed, {total} in all"
            );
            for rule in c.new.iter() {
                let _ = writeln!(text, "  + {} - {}", rule.id, rule.name);
            }
            for update in c.updated.iter() {
                let fields: Vec<String> = update.changes.iter().map(FieldChange::to_text).collect();
                let detail = if fields.is_empty() {
                    "content".to_owned()
                } else {
                    fields.join(", ")
                };
                let _ = writeln!(
                    text,
                    "  ~ {} - {}: {detail}",
                    update.rule.id, update.rule.name
                );
            }
            for rule in c.removed.iter() {
                let _ = writeln!(text, "  - {} - {}", rule.id, rule.name);
            }
        }
        text
    }
}

impl FieldChange {
    /// `revision 2 -> 3`, with `none` for an absent value.
    fn to_text(&self) -> String {
        let show = |value: &Value| match value {
            Value::Null => "none".to_owned(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        format!("{} {} -> {}", self.field, show(&self.from), show(&self.to))
    }
}

/// The rules of a release, per kind, as their bundle indexes list them.
pub type Rules = BTreeMap<Kind, Vec<RuleFacts>>;

/// The rules of one kind, none where the release has no bundle of that kind.
pub fn rules_of(rules: &Rules, kind: Kind) -> &[RuleFacts] {
    rules.get(&kind).map_or(&[], Vec::as_slice)
}

/// Compares the rules of a release with those of the one before it, each kind on its own
/// thread.
pub fn diff(old: &Rules, new: &Rules) -> ChangeSet {
    let kinds: BTreeSet<Kind> = old.keys().chain(new.keys()).copied().collect();
    let changes: Vec<(Kind, KindChanges)> = kinds
        .into_par_iter()
        .map(|kind| (kind, diff_kind(rules_of(old, kind), rules_of(new, kind))))
        .collect();
    ChangeSet {
        kinds: changes.into_iter().collect(),
    }
}

fn diff_kind(old: &[RuleFacts], new: &[RuleFacts]) -> KindChanges {
    let before: HashMap<&str, &RuleFacts> = old.iter().map(|r| (&*r.id, r)).collect();
    let (mut added, mut moved_to_prevent, mut updated) = (Vec::new(), Vec::new(), Vec::new());
    for rule in new {
        match before.get(&*rule.id) {
            None => added.push(RuleSummary::of(rule)),
            // A source-wide minimum agent version from release.yaml is not in the content.
            Some(earlier)
                if earlier.digest != rule.digest
                    || earlier.min_agent_version != rule.min_agent_version =>
            {
                if earlier.mode == Some(Mode::Detect) && rule.mode == Some(Mode::Prevent) {
                    moved_to_prevent.push(RuleSummary::of(rule));
                }
                let fields = field_changes(earlier, rule);
                updated.push(Update {
                    changes: fields,
                    rule: RuleSummary::of(rule),
                });
            }
            Some(_) => {}
        }
    }
    let mut removed = Vec::new();
    if !old.is_empty() {
        let after: HashSet<&str> = new.iter().map(|r| &*r.id).collect();
        let gone = old.iter().filter(|r| !after.contains(&*r.id));
        removed = gone.map(RuleSummary::of).collect();
    }
    KindChanges {
        moved_to_prevent: Arc::new(moved_to_prevent),
        new: Arc::new(added),
        removed: Arc::new(removed),
        total: new.len(),
        updated: Arc::new(updated),
    }
}

fn field_changes(old: &RuleFacts, new: &RuleFacts) -> Vec<FieldChange> {
    let json =
        |value: serde_json::Result<Value>| value.expect("rule fields always convert to JSON");
    let fields: [(&'static str, Value, Value); 6] = [
        (
            "revision",
            json(serde_json::to_value(old.revision)),
            json(serde_json::to_value(new.revision)),
        ),
        (
            "severity",
            json(serde_json::to_value(&old.severity)),
            json(serde_json::to_value(&new.severity)),
        ),
        ("name", Value::from(&*old.name), Value::from(&*new.name)),
        (
            "mode",
            json(serde_json::to_value(old.mode)),
            json(serde_json::to_value(new.mode)),
        ),
        (
            "min_agent_version",
            json(serde_json::to_value(&old.min_agent_version)),
            json(serde_json::to_value(&new.min_agent_version)),
        ),
        (
            "disabled",
            Value::from(old.disabled),
            Value::from(new.disabled),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .map(|(field, from, to)| FieldChange { field, from, to })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::digest::sha256;

    pub(crate) fn facts(id: &str, content: &str) -> RuleFacts {
        RuleFacts {
            cves: Box::default(),
            digest: sha256(content.as_bytes()),
            disabled: false,
            id: id.into(),
            min_agent_version: None,
            mode: None,
            name: format!("rule {id}").into(),
            revision: Some(1),
            severity: None,
        }
    }

    fn rules(kind: Kind, list: Vec<RuleFacts>) -> Rules {
        BTreeMap::from([(kind, list)])
    }

    #[test]
    fn shared_text_is_held_once_up_to_a_bound() {
        let mut shared = SharedText::default();
        let (a, b) = (shared.get("Critical"), shared.get("Critical"));
        assert!(Arc::ptr_eq(&a, &b));
        for n in 0..SharedText::MOST {
            shared.get(&n.to_string());
        }
        let (c, d) = (shared.get("late"), shared.get("late"));
        assert_eq!((&*c, &*d), ("late", "late"));
        assert!(
            !Arc::ptr_eq(&c, &d),
            "no more values are held past the bound"
        );
    }

    #[test]
    fn new_updated_and_removed_rules_are_found_by_id_and_digest() {
        let old = rules(
            Kind::Firewall,
            vec![facts("1", "a"), facts("2", "b"), facts("3", "c")],
        );
        let new = rules(
            Kind::Firewall,
            vec![facts("1", "a"), facts("2", "B"), facts("4", "d")],
        );
        let changes = &diff(&old, &new).kinds[&Kind::Firewall];
        let ids = |list: &[RuleSummary]| list.iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&changes.new), ["4"]);
        assert_eq!(ids(&changes.removed), ["3"]);
        assert_eq!(changes.updated.len(), 1);
        assert_eq!(&*changes.updated[0].rule.id, "2");
        assert_eq!(changes.total, 3);
    }

    #[test]
    fn updates_name_the_fields_people_care_about() {
        let old = facts("1", "a");
        let mut new = facts("1", "b");
        new.revision = Some(2);
        new.mode = Some(Mode::Prevent);
        let mut detect = old.clone();
        detect.mode = Some(Mode::Detect);
        let changes = diff(
            &rules(Kind::IntrusionPrevention, vec![detect]),
            &rules(Kind::IntrusionPrevention, vec![new]),
        );
        let kind = &changes.kinds[&Kind::IntrusionPrevention];
        let fields: Vec<&str> = kind.updated[0].changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["revision", "mode"]);
        assert_eq!(&*kind.moved_to_prevent[0].id, "1");
    }

    #[test]
    fn the_same_rules_are_no_change() {
        let old = rules(Kind::Firewall, vec![facts("1", "a")]);
        assert!(diff(&old, &old.clone()).is_empty());
        assert!(!diff(&Rules::new(), &old).is_empty());
    }
}
