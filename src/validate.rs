//! Checks across files: the validate stage of the pipeline.
//!
//! Parsers check each file on its own; here the rules of every file are gathered into one
//! [`RuleSet`] per kind, and the checks that need them all run: the same id twice in a kind
//! (naming both places), OSSEC's `overwrite="yes"` replacing an earlier rule as the engine
//! does, and references to rules that the release does not hold. Every problem of every file
//! comes back together, sorted by place.

use std::collections::{BTreeMap, HashMap, hash_map};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diff::{RuleFacts, SharedText};
use crate::package::IndexedRule;
use crate::rules::{Diagnostic, Kind, Location, Parsed, Rule, Severity};

/// A rule as validation and the release need it once its file is read: the facts releases are
/// compared by, and where it is and how it relates to other rules. The parsed [`Rule`] is
/// dropped as soon as its file is read, and its index entry once its file's part of the index
/// is written, so a release holds this much smaller form of every rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub depends_on: Vec<String>,
    pub facts: RuleFacts,
    pub location: Location,
    pub overwrite: bool,
}

impl Entry {
    /// The entry of a rule found in the bundle entry `path`, and the rule's index entry; text
    /// the file's rules repeat comes from `shared`.
    pub fn new(mut rule: Rule, path: &Arc<str>, shared: &mut SharedText) -> (Entry, IndexedRule) {
        let depends_on = std::mem::take(&mut rule.depends_on);
        let location = rule.location.clone();
        let overwrite = rule.overwrite;
        let indexed = IndexedRule::new(rule, path);
        let entry = Entry {
            depends_on,
            facts: RuleFacts::of(&indexed, shared),
            location,
            overwrite,
        };
        (entry, indexed)
    }

    pub fn id(&self) -> &str {
        &self.facts.id
    }

    /// What validation keeps of the entry beside its facts, and the facts. `file` is the path
    /// of the entry's file, shared by the places of all its rules.
    fn split(self, file: &Arc<str>) -> (Place, RuleFacts) {
        let Location { path, line, column } = self.location;
        let place = Place {
            depends_on: self.depends_on,
            column,
            line,
            path: if *path == **file {
                Arc::clone(file)
            } else {
                path.into()
            },
        };
        (place, self.facts)
    }
}

/// Where a rule was read: the number of its file among its kind's files, in the order they are
/// gathered, and its number among the rules read from that file.
pub type Origin = (u32, u32);

/// All rules of one kind, in the order of their files and their places in them.
///
/// The rules' facts are one list, handed on whole once validation is done. What only
/// validation and packaging need is kept beside them: each rule's place and where it was read,
/// at the same position, and where each id is held.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// How many files have been gathered.
    files: u32,
    /// Where each rule held was read, at the same position.
    origins: Vec<Origin>,
    /// True once a rule has replaced another (OSSEC's `overwrite="yes"`): the rules are then
    /// no longer their files' rules in their files' order.
    overwritten: bool,
    places: Vec<Place>,
    /// Where each rule id is held in `rules`.
    positions: HashMap<Arc<str>, usize>,
    rules: Vec<RuleFacts>,
}

/// Where a rule is and how it relates to other rules: what validation needs besides its index
/// entry.
#[derive(Debug)]
struct Place {
    column: u32,
    depends_on: Vec<String>,
    line: u32,
    path: Arc<str>,
}

impl Place {
    fn location(&self) -> Location {
        Location::new(&self.path, self.line, self.column)
    }
}

impl RuleSet {
    /// Makes room for `more` rules.
    fn reserve(&mut self, more: usize) {
        self.origins.reserve(more);
        self.places.reserve(more);
        self.positions.reserve(more);
        self.rules.reserve(more);
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The facts of the rules, in order, and, where a rule replaced another, where each was
    /// read: the index must then be made again in that order (see `release::package_all`).
    pub fn into_facts(self) -> (Vec<RuleFacts>, Option<Vec<Origin>>) {
        (self.rules, self.overwritten.then_some(self.origins))
    }

    /// Adds a rule read at `origin`. One whose id the set holds already replaces the rule held
    /// where it says `overwrite`, as OSSEC does; otherwise it comes back with the position of
    /// the rule held.
    fn add(&mut self, entry: Entry, origin: Origin, file: &Arc<str>) -> Option<(Entry, usize)> {
        match self.positions.entry(Arc::clone(&entry.facts.id)) {
            hash_map::Entry::Vacant(slot) => {
                slot.insert(self.rules.len());
                let (place, rule) = entry.split(file);
                self.origins.push(origin);
                self.places.push(place);
                self.rules.push(rule);
                None
            }
            hash_map::Entry::Occupied(held) if entry.overwrite => {
                let at = *held.get();
                (self.places[at], self.rules[at]) = entry.split(file);
                self.origins[at] = origin;
                self.overwritten = true;
                None
            }
            hash_map::Entry::Occupied(held) => Some((entry, *held.get())),
        }
    }
}

/// The rules of a release by kind, and every problem found on the way.
#[derive(Debug, Default)]
pub struct Validated {
    pub diagnostics: Vec<Diagnostic>,
    pub sets: BTreeMap<Kind, RuleSet>,
}

impl Validated {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// Gathers parsed files, in order, into one rule set per kind, with every problem found on the
/// way, then checks what needs them all.
///
/// Files are added as they are read, so a caller can read them a few at a time: the entries of
/// the files read so far move into the sets, and the memory of their per-file lists serves the
/// next files, instead of every file's list being held beside the sets.
pub struct Gathering {
    diagnostics: Vec<Diagnostic>,
    /// Whether a reference to a rule the release does not hold is an error or a warning.
    missing_reference: Severity,
    sets: BTreeMap<Kind, RuleSet>,
}

impl Gathering {
    pub fn new(missing_reference: Severity) -> Gathering {
        Gathering {
            diagnostics: Vec::new(),
            missing_reference,
            sets: BTreeMap::new(),
        }
    }

    /// Adds the next file's rules to its kind's set.
    pub fn add(&mut self, kind: Kind, file: Parsed<Entry>) {
        self.diagnostics.extend(file.diagnostics);
        let set = self.sets.entry(kind).or_default();
        set.reserve(file.rules.len());
        let number = set.files;
        set.files += 1;
        let path: Arc<str> = file.rules.first().map_or("", |r| &r.location.path).into();
        for (n, rule) in file.rules.into_iter().enumerate() {
            let origin = (
                number,
                u32::try_from(n).expect("fewer than 4 billion rules a file"),
            );
            let Some((rule, at)) = set.add(rule, origin, &path) else {
                continue;
            };
            let message = format!(
                "duplicate {} rule id `{}`: also defined at {}",
                kind,
                rule.id(),
                set.places[at].location()
            );
            self.diagnostics
                .push(Diagnostic::error(rule.location, message));
        }
    }

    /// Checks the references in every set, each kind on its own thread, and gives the sets
    /// with every problem, sorted by place.
    pub fn finish(self) -> Validated {
        let severity = self.missing_reference;
        let mut diagnostics = self.diagnostics;
        let missing: Vec<Vec<Diagnostic>> = self
            .sets
            .par_iter()
            .map(|(_, set)| check_references(set, severity))
            .collect();
        diagnostics.extend(missing.into_iter().flatten());
        diagnostics.sort();
        diagnostics.dedup();
        Validated {
            diagnostics,
            sets: self.sets,
        }
    }
}

fn check_references(set: &RuleSet, severity: Severity) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let known = |id: &String| set.positions.contains_key(id.as_str());
    for (rule, place) in set.rules.iter().zip(&set.places) {
        for missing in place.depends_on.iter().filter(|id| !known(id)) {
            let message = format!(
                "rule `{}` builds on rule `{missing}`, which this release does not hold",
                rule.id
            );
            let location = place.location();
            let diagnostic = match severity {
                Severity::Error => Diagnostic::error(location, message),
                Severity::Warning => Diagnostic::warning(location, message),
            };
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Location;

    fn rule(id: &str, path: &str, line: u32) -> Entry {
        let mut rule = Rule::new(
            Kind::LogInspection,
            id.into(),
            Location::new(path, line, 1),
            id.into(),
        );
        rule.name = format!("rule {id}");
        Entry::new(rule, &path.into(), &mut SharedText::default()).0
    }

    /// Gathers the files in order, as a release gathers its batches.
    fn validate(files: Vec<(Kind, Parsed<Entry>)>, missing_reference: Severity) -> Validated {
        let mut gathering = Gathering::new(missing_reference);
        for (kind, file) in files {
            gathering.add(kind, file);
        }
        gathering.finish()
    }

    fn file(rules: Vec<Entry>) -> (Kind, Parsed<Entry>) {
        (
            Kind::LogInspection,
            Parsed {
                diagnostics: Vec::new(),
                rules,
            },
        )
    }

    #[test]
    fn a_duplicate_id_names_both_places() {
        let v = validate(
            vec![
                file(vec![rule("1", "a.xml", 3)]),
                file(vec![rule("1", "b.xml", 7)]),
            ],
            Severity::Error,
        );
        let all: Vec<String> = v.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            all,
            ["b.xml:7:1: duplicate log-inspection rule id `1`: also defined at a.xml:3:1"]
        );
    }

    #[test]
    fn the_same_id_in_two_kinds_is_no_duplicate() {
        let other = (
            Kind::Firewall,
            Parsed {
                diagnostics: Vec::new(),
                rules: vec![rule("1", "f.yaml", 1)],
            },
        );
        let v = validate(
            vec![file(vec![rule("1", "a.xml", 3)]), other],
            Severity::Error,
        );
        assert!(v.diagnostics.is_empty());
    }

    #[test]
    fn overwrite_replaces_the_earlier_rule_in_place() {
        let mut later = rule("1", "b.xml", 7);
        later.overwrite = true;
        later.facts.name = "new".into();
        let v = validate(
            vec![
                file(vec![rule("1", "a.xml", 3), rule("2", "a.xml", 9)]),
                file(vec![later]),
            ],
            Severity::Error,
        );
        assert!(v.diagnostics.is_empty());
        let set = &v.sets[&Kind::LogInspection];
        let rules = &set.rules;
        assert_eq!((&*rules[0].name, rules.len()), ("new", 2));
        // Where each rule held was read: the index is made again in this order.
        assert_eq!(set.origins, [(1, 0), (0, 1)]);
        assert!(set.overwritten);
    }

    #[test]
    fn overwrite_and_duplicates_within_one_file_work_as_across_files() {
        let mut later = rule("1", "a.xml", 7);
        later.overwrite = true;
        later.facts.name = "new".into();
        let parsed = file(vec![
            rule("1", "a.xml", 3),
            rule("2", "a.xml", 5),
            later,
            rule("2", "a.xml", 9),
        ]);
        let v = validate(vec![parsed], Severity::Error);
        let all: Vec<String> = v.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            all,
            ["a.xml:9:1: duplicate log-inspection rule id `2`: also defined at a.xml:5:1"]
        );
        let set = &v.sets[&Kind::LogInspection];
        let names: Vec<&str> = set.rules.iter().map(|r| &*r.name).collect();
        assert_eq!(names, ["new", "rule 2"]);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn missing_references_take_the_configured_severity() {
        let mut child = rule("2", "a.xml", 5);
        child.depends_on = vec!["1".into(), "9".into()];
        let parsed = || vec![file(vec![rule("1", "a.xml", 1), child.clone()])];
        let v = validate(parsed(), Severity::Error);
        assert!(v.has_errors());
        assert!(v.diagnostics[0].message.contains("builds on rule `9`"));
        assert!(!validate(parsed(), Severity::Warning).has_errors());
    }

    #[test]
    fn problems_come_back_sorted_by_place() {
        let bad = |path: &str, line| Parsed {
            diagnostics: vec![Diagnostic::error(Location::new(path, line, 1), "x")],
            rules: Vec::new(),
        };
        let v = validate(
            vec![
                (Kind::Firewall, bad("z.yaml", 1)),
                (Kind::Firewall, bad("a.yaml", 2)),
            ],
            Severity::Error,
        );
        assert_eq!(v.diagnostics[0].location.path, "a.yaml");
    }
}
