//! Cutting a release: the pipeline from `release.yaml` to a published release folder.
//!
//! Plan, then act. Sources are collected, parsed and validated, and bundles packaged, before
//! anything is written; then, under the output folder's lock, the history is read from the
//! manifests, the release id, sequence and previous release are fixed, the signing key is
//! loaded (only now, and only because a release is being cut), everything is signed, and the
//! release is published atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::config::Config;
use crate::diff::{self, ChangeSet, SharedText};
use crate::digest::Sha256;
use crate::guard::{self, Guard, Violation};
use crate::ledger::{self, History, LedgerError};
use crate::manifest::{
    self, BundleRecord, Latest, Manifest, Previous, SignedFile, SourceRecord, Trigger,
};
use crate::notes::{self, Notes, NotesError};
use crate::package::{self, Bundle, IndexPiece, IndexedRule, PackageError, Part};
use crate::publish::{self, NamedFile, OutputLock, PublishError, Stage, Step};
use crate::review::Reviewed;
use crate::rules::{Diagnostic, Format, Kind, Parsed, RuleFile};
use crate::sign::{self, SignError, SigningKey, TrustedComment};
use crate::source::git::TagError;
use crate::source::{self, CollectError, Collected, Revision};
use crate::validate::{Entry, Gathering, Origin, RuleSet, Validated};
use crate::version::AgentVersion;

/// How long `latest.json` stays valid after it is signed.
pub const LATEST_VALIDITY: chrono::TimeDelta = chrono::TimeDelta::days(14);

#[derive(Debug, Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("{} guard(s) refuse the release", .0.len())]
    Guarded(Vec<Violation>),
    #[error("{} problem(s) in the rules", .0.iter().filter(|d| d.is_error()).count())]
    Invalid(Vec<Diagnostic>),
    #[error("signing key `{}` differs from the key given in the environment", path.display())]
    KeyMismatch { path: PathBuf },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("no signing key: `{}` does not exist", path.display())]
    NoSigningKey { development: bool, path: PathBuf },
    #[error("`release.schedule` is not set, so no slot is ever due")]
    NoSchedule,
    #[error(transparent)]
    Notes(#[from] NotesError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Review(#[from] crate::review::Mismatch),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(
        "release `{release}` is published and stands, but {} git source(s) could not be tagged",
        failures.len()
    )]
    Tag {
        failures: Vec<TagError>,
        release: String,
    },
    #[error("release time {at} is before the previous release `{previous}` at {previous_at}")]
    TimeOrder {
        at: String,
        previous: String,
        previous_at: String,
    },
}

impl ReleaseError {
    /// 1 where the inputs were checked and rejected, 2 where the job could not be done.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReleaseError::Invalid(_)
            | ReleaseError::Guarded(_)
            | ReleaseError::Review(_)
            | ReleaseError::TimeOrder { .. } => 1,
            _ => 2,
        }
    }

    pub fn help(&self) -> Option<String> {
        match self {
            ReleaseError::KeyMismatch { .. } => Some(
                "unset RULECUT_SIGNING_KEY and RULECUT_SIGNING_KEY_FILE, or remove the \
                 configured key file"
                    .to_owned(),
            ),
            ReleaseError::NoSigningKey {
                development: false, ..
            } => Some(
                "make one with `rulecut keygen --out keys/release`, or give the key file's \
                 contents in RULECUT_SIGNING_KEY"
                    .to_owned(),
            ),
            ReleaseError::NoSigningKey {
                development: true, ..
            } => Some(
                "development keys are made only for manual builds; give a release key for \
                 scheduled and emergency releases"
                    .to_owned(),
            ),
            ReleaseError::Collect(error) => error.help(),
            ReleaseError::Guarded(violations) => Some(guard::help(violations)),
            ReleaseError::Publish(error) => error.help(),
            ReleaseError::Sign(error) => error.help(),
            ReleaseError::Tag { failures, .. } => failures.iter().find_map(TagError::help),
            _ => None,
        }
    }
}

/// A signing key given outside `release.yaml`, as CI secrets give it.
#[derive(Clone)]
pub enum KeyInput {
    /// A key file's path.
    File(PathBuf),
    /// A key file's contents.
    Text(String),
}

/// What the caller asks for.
#[derive(Clone)]
pub struct Request {
    pub at: DateTime<Utc>,
    pub key: Option<KeyInput>,
    pub output: PathBuf,
    /// The guards whose refusal the caller overrides.
    pub overrides: BTreeSet<Guard>,
    pub trigger: Trigger,
    /// How long to wait for another run's lock; `None` fails at once.
    pub wait_for_lock: Option<Duration>,
}

/// What rule files are read for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Purpose {
    /// To check them, plan a release or compare: nothing is packaged.
    Check,
    /// To cut a release: each file is also compressed for its bundle as soon as it is read,
    /// so that only its compressed bytes are held from then on.
    Cut,
}

/// Collected, parsed and validated sources. Reading consumes the sources' files: `collected`
/// keeps each source's name, kind and revision.
pub struct Checked {
    pub collected: Vec<Collected>,
    /// How many rule files were read.
    pub files: usize,
    /// Each kind's index, a piece for each rule file, made when read to cut a release.
    pub index: BTreeMap<Kind, Vec<IndexPiece>>,
    /// Where each rule of a kind was read, in the kind's order, for the kinds where a rule
    /// replaced another: their index is made again in that order (see [`package_all`]).
    pub origins: BTreeMap<Kind, Vec<Origin>>,
    /// Each kind's rule files, compressed for its bundle when read to cut a release.
    pub parts: BTreeMap<Kind, Vec<Part>>,
    pub validated: Validated,
}

impl Checked {
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.validated.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Collects, parses and validates every source. Problems in the rules come back inside
/// [`Checked`]; only a failure to read a source is an error here.
pub fn check(config: &Config) -> Result<Checked, ReleaseError> {
    Ok(check_collected(config, collect(config)?, Purpose::Check))
}

/// Reads every source's files.
pub fn collect(config: &Config) -> Result<Vec<Collected>, ReleaseError> {
    Ok(config
        .sources
        .par_iter()
        .map(source::collect)
        .collect::<Result<_, _>>()?)
}

/// Parses and validates collected sources. Each file's rules are turned into [`Entry`]s as
/// soon as it is read, so only one file's parsed rules are held at a time per thread, and its
/// bytes are dropped once read (and compressed, to cut a release). Files are read a batch at a
/// time and their entries gathered before the next batch, so the entries are never held twice,
/// once in their files' lists and once in their kinds' sets.
pub fn check_collected(
    config: &Config,
    mut collected: Vec<Collected>,
    purpose: Purpose,
) -> Checked {
    // Every file of every source is one task: a source holds most of a release's files.
    let files: Vec<(Kind, RuleFile, Format)> = collected
        .iter_mut()
        .flat_map(|c| {
            let kind = c.kind;
            let files = std::mem::take(&mut c.files).into_iter();
            files.map(move |(file, format)| (kind, file, format))
        })
        .collect();
    let count = files.len();
    let (parts, index, validated) = read_and_gather(config, files, purpose);
    tracing::info!(
        sources = collected.len(),
        rules = validated.sets.values().map(RuleSet::len).sum::<usize>(),
        "checked"
    );
    Checked {
        collected,
        files: count,
        index,
        origins: BTreeMap::new(),
        parts,
        validated,
    }
}

/// Reads the files in parallel and gathers their rules on this thread, in file order, while
/// later files are still being read; to cut a release, also compresses each file and its
/// rules' index entries as it is read. Only a few files more than there are threads are read
/// ahead of the gathering, so a file's entries are never held twice for long, once in its own
/// list and once in its kind's set.
fn read_and_gather(
    config: &Config,
    files: Vec<(Kind, RuleFile, Format)>,
    purpose: Purpose,
) -> (Packing<Part>, Packing<IndexPiece>, Validated) {
    let mut parts: Packing<Part> = BTreeMap::new();
    let mut index: Packing<IndexPiece> = BTreeMap::new();
    let mut gathering = Gathering::new(config.missing_references);
    // Enough files ahead to keep every thread busy while the slowest file is read.
    let ahead = 4 * rayon::current_num_threads();
    let (sender, finished) = std::sync::mpsc::channel();
    rayon::in_place_scope(|scope| {
        let mut files = files.into_iter().enumerate();
        let mut early = BTreeMap::new();
        let (mut started, mut gathered) = (0, 0);
        loop {
            while started < gathered + ahead
                && let Some((number, (kind, file, format))) = files.next()
            {
                let sender = sender.clone();
                scope.spawn(move |_| {
                    let read = catch_unwind(AssertUnwindSafe(|| {
                        read_file(config, kind, &file, format, purpose)
                    }));
                    // The receiver lives until every file is gathered.
                    let _ = sender.send((number, read));
                });
                started += 1;
            }
            if gathered == started {
                break;
            }
            let read = match early.remove(&gathered) {
                Some(read) => read,
                None => {
                    let (number, read) = finished.recv().expect("a sender is held here");
                    early.insert(number, read);
                    continue;
                }
            };
            let (kind, parsed, packed) = read.unwrap_or_else(|panic| resume_unwind(panic));
            if let Some((part, piece)) = packed {
                parts.entry(kind).or_default().push(part);
                index.entry(kind).or_default().push(piece);
            }
            gathering.add(kind, parsed);
            gathered += 1;
        }
    });
    (parts, index, gathering.finish())
}

/// One file read: its kind, its rules as validation takes them and, to cut a release, its
/// compressed bytes and index entries.
type ReadFile = (Kind, Parsed<Entry>, Option<(Part, IndexPiece)>);

fn read_file(
    config: &Config,
    kind: Kind,
    file: &RuleFile,
    format: Format,
    purpose: Purpose,
) -> ReadFile {
    let (parsed, indexed) = entries(config, file, format.parse(file, kind));
    let packed = match purpose {
        Purpose::Cut => Some((Part::of(file, format), IndexPiece::of(&indexed))),
        Purpose::Check => None,
    };
    (kind, parsed, packed)
}

/// What each kind's bundle is made of, by kind, in the order its files are read.
type Packing<T> = BTreeMap<Kind, Vec<T>>;

/// A file's parsed rules as validation takes them, and their index entries. A rule that names
/// no minimum agent version takes the one `release.yaml` gives its source.
fn entries(config: &Config, file: &RuleFile, parsed: Parsed) -> (Parsed<Entry>, Vec<IndexedRule>) {
    let path: Arc<str> = file.entry.as_str().into();
    let default = source_default(config, &file.source);
    let mut shared = SharedText::default();
    let rules = parsed.rules.into_iter().map(|mut rule| {
        if rule.min_agent_version.is_none() {
            rule.min_agent_version = default.clone();
        }
        Entry::new(rule, &path, &mut shared)
    });
    let (rules, indexed) = rules.unzip();
    let parsed = Parsed {
        diagnostics: parsed.diagnostics,
        rules,
    };
    (parsed, indexed)
}

/// The release to cut, fixed before anything is written.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub changes: ChangeSet,
    /// The notes' lines for each git source's commits since its previous release, by name.
    pub commits: BTreeMap<String, Vec<String>>,
    #[serde(with = "manifest::rfc3339")]
    pub created: DateTime<Utc>,
    /// What the guards found, overridden or not.
    pub guards: Vec<Violation>,
    pub output: PathBuf,
    /// The guards whose refusal was overridden when the plan was made.
    pub overrides: BTreeSet<Guard>,
    pub previous: Option<Previous>,
    pub release: String,
    pub sequence: u64,
    pub sources: Vec<SourceRecord>,
    pub trigger: Trigger,
    pub year_sequence: u32,
}

impl Plan {
    /// The violations no override covers: the release must not be cut while there are any.
    pub fn refusals(&self) -> Vec<Violation> {
        self.guards
            .iter()
            .filter(|v| !v.overridden)
            .cloned()
            .collect()
    }

    /// The names of the guards whose refusal was overridden, as the manifest records them.
    pub fn guards_overridden(&self) -> Vec<String> {
        let overridden = self.guards.iter().filter(|v| v.overridden);
        let names: BTreeSet<&str> = overridden.map(|v| v.guard.name()).collect();
        names.into_iter().map(str::to_owned).collect()
    }
}

/// A release that was cut.
#[derive(Debug)]
pub struct Cut {
    pub key_id: String,
    pub path: PathBuf,
    pub plan: Plan,
}

/// Checks the sources and gathers the facts of their rules, for `purpose`: everything that
/// needs no lock and writes nothing. The rules' facts move from `checked` into lists, one per
/// kind; to cut a release, `checked` keeps the compressed files and index, which packaging
/// needs later.
pub fn prepare(
    config: &Config,
    collected: Vec<Collected>,
    purpose: Purpose,
) -> Result<(Checked, diff::Rules), ReleaseError> {
    let mut checked = check_collected(config, collected, purpose);
    if checked.validated.has_errors() {
        return Err(ReleaseError::Invalid(checked.validated.diagnostics));
    }
    let sets = std::mem::take(&mut checked.validated.sets);
    let mut facts = diff::Rules::new();
    for (kind, set) in sets {
        let (rules, origins) = set.into_facts();
        facts.insert(kind, rules);
        checked
            .origins
            .extend(origins.map(|origins| (kind, origins)));
    }
    Ok((checked, facts))
}

/// The minimum agent version `release.yaml` gives a source's rules that name none.
fn source_default(config: &Config, source: &str) -> Option<String> {
    let found = config.sources.iter().find(|s| s.name == source);
    found.and_then(|s| s.min_agent_version.clone())
}

/// Packages each kind's compressed files and index into its bundle.
///
/// Where a rule replaced another of an earlier file (OSSEC's `overwrite="yes"`), the pieces of
/// the index written as the files were read no longer hold the kind's rules in order: the
/// kind's files are read again from their compressed bytes and its index made whole, in the
/// order of [`Checked::origins`]. That costs a second reading of those files, which only such
/// kinds pay.
///
/// Each bundle goes to `place` as soon as it is made, which writes it out and keeps what the
/// release needs of it, so the bundles are not all held in memory at once.
fn package_all<T: Send>(
    config: &Config,
    checked: Checked,
    place: impl Fn(Bundle, Vec<u8>) -> Result<T, ReleaseError> + Sync,
) -> Result<Vec<T>, ReleaseError> {
    let Checked {
        mut index,
        origins,
        mut parts,
        ..
    } = checked;
    for (kind, origins) in origins {
        let kind_parts = parts.get(&kind).map_or(&[][..], Vec::as_slice);
        index.insert(kind, vec![reindex(config, kind, kind_parts, &origins)]);
    }
    let kinds: Vec<(Kind, Vec<Part>, Vec<IndexPiece>)> = index
        .into_iter()
        .map(|(kind, pieces)| (kind, parts.remove(&kind).unwrap_or_default(), pieces))
        .collect();
    let placed = kinds.into_par_iter().map(|(kind, parts, pieces)| {
        let (bundle, bytes) = package::package(kind, parts, pieces)?;
        place(bundle, bytes)
    });
    placed.collect()
}

/// A kind's whole index, its files read again, with each rule where `origins` says it was read.
fn reindex(config: &Config, kind: Kind, parts: &[Part], origins: &[Origin]) -> IndexPiece {
    let mut files: Vec<Vec<Option<IndexedRule>>> = parts
        .par_iter()
        .map(|part| {
            let file = part.file();
            let (_, indexed) = entries(config, &file, part.format.parse(&file, kind));
            indexed.into_iter().map(Some).collect()
        })
        .collect();
    let rules: Vec<IndexedRule> = origins
        .iter()
        .map(|&(file, rule)| files[file as usize][rule as usize].take())
        .map(|rule| rule.expect("a file read again gives the same rules"))
        .collect();
    IndexPiece::of(&rules)
}

/// Fixes the release's id, numbers and previous release from the history, and the changes
/// from the previous release's bundles.
pub fn plan(
    config: &Config,
    request: &Request,
    checked: &Checked,
    new: &diff::Rules,
    history: &History,
) -> Result<Plan, ReleaseError> {
    check_time_order(request, history)?;
    let (sequence, mut year_sequence) = history.next_numbers(request.at.year());
    let mut release = config.release.id.format(request.at.year(), year_sequence);
    while history.folders.contains(&release) {
        year_sequence += 1;
        release = config.release.id.format(request.at.year(), year_sequence);
    }
    let old = previous_rules(&request.output, history)?;
    let changes = diff::diff(&old, new);
    let guards = check_guards(config, request, history, (&old, new), &changes)?;
    Ok(Plan {
        changes,
        commits: commit_logs(config, checked, history)?,
        created: request.at,
        guards,
        output: request.output.clone(),
        overrides: request.overrides.clone(),
        previous: history.last().map(ledger::Entry::as_previous),
        release,
        sequence,
        sources: source_records(config, &checked.collected),
        trigger: request.trigger.clone(),
        year_sequence,
    })
}

/// Refuses a release time before the previous release's.
fn check_time_order(request: &Request, history: &History) -> Result<(), ReleaseError> {
    let last = history.chain.last().map(|(_, m)| m);
    match last.filter(|m| m.created > request.at) {
        Some(last) => Err(ReleaseError::TimeOrder {
            at: manifest::format_time(request.at),
            previous: last.release.clone(),
            previous_at: manifest::format_time(last.created),
        }),
        None => Ok(()),
    }
}

/// Runs the guards, reading the history's bundle indexes they ask for.
fn check_guards(
    config: &Config,
    request: &Request,
    history: &History,
    (old, new): (&diff::Rules, &diff::Rules),
    changes: &ChangeSet,
) -> Result<Vec<Violation>, ReleaseError> {
    let input = guard::Input {
        changes,
        history: &history.chain,
        max_removed_share: config.guards.max_removed_share,
        new,
        old,
        overrides: &request.overrides,
    };
    let mut load = |position: usize, kind: Kind| {
        let (entry, manifest) = &history.chain[position];
        tracing::debug!(release = %entry.id, %kind, "reading a rules index for the guards");
        ledger::read_rules(&request.output.join(&entry.id), manifest, kind)
    };
    Ok(guard::check(&input, &mut load)?)
}

/// Each git source's commits since the release that last recorded one for it.
fn commit_logs(
    config: &Config,
    checked: &Checked,
    history: &History,
) -> Result<BTreeMap<String, Vec<String>>, ReleaseError> {
    let released = |name: &str| history.released_commit(name);
    Ok(source::commit_logs(
        &config.sources,
        &checked.collected,
        released,
    )?)
}

pub fn source_records(config: &Config, collected: &[Collected]) -> Vec<SourceRecord> {
    collected
        .iter()
        .map(|c| SourceRecord {
            min_agent_version: source_default(config, &c.name),
            commit: match &c.revision {
                Revision::Commit(commit) => Some(commit.clone()),
                Revision::Tree(_) => None,
            },
            kind: c.kind,
            name: c.name.clone(),
            tree_sha256: match &c.revision {
                Revision::Tree(digest) => Some(*digest),
                Revision::Commit(_) => None,
            },
        })
        .collect()
}

/// The rules of the newest release in the history, from its bundles' indexes.
pub fn previous_rules(output: &Path, history: &History) -> Result<diff::Rules, ReleaseError> {
    let Some((entry, manifest)) = history.chain.last() else {
        return Ok(diff::Rules::new());
    };
    Ok(ledger::read_all_rules(&output.join(&entry.id), manifest)?)
}

/// Cuts a release: checks, packages, plans, signs and publishes.
pub fn build(
    config: &Config,
    request: &Request,
    checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Cut, ReleaseError> {
    build_reviewed(config, request, None, checkpoint)
}

/// Cuts a release as [`build`] does, and, given a plan reviewed from a dry run, only if the
/// release about to be cut is still the one that plan describes.
pub fn build_reviewed(
    config: &Config,
    request: &Request,
    reviewed: Option<&Reviewed>,
    checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Cut, ReleaseError> {
    let (checked, facts) = prepare(config, collect(config)?, Purpose::Cut)?;
    let lock = OutputLock::acquire(&request.output, request.wait_for_lock)?;
    publish::clean_staging(&request.output, &lock)?;
    let history = ledger::read(&request.output)?;
    let plan = plan(config, request, &checked, &facts, &history)?;
    drop(facts);
    if let Some(reviewed) = reviewed {
        reviewed.matches(&plan)?;
    }
    refuse_guarded(&plan)?;
    cut(config, request, plan, checked, &history, &lock, checkpoint)
}

/// Refuses a plan that a guard refuses and no override covers.
pub fn refuse_guarded(plan: &Plan) -> Result<(), ReleaseError> {
    let refusals = plan.refusals();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(ReleaseError::Guarded(refusals))
    }
}

/// Packages, signs and publishes a planned release from what [`prepare`] gave. Call with the
/// output folder's lock held.
pub fn cut(
    config: &Config,
    request: &Request,
    plan: Plan,
    checked: Checked,
    history: &History,
    lock: &OutputLock,
    checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Cut, ReleaseError> {
    let key = signing_key(config, request)?;
    let stage = Stage::open(&request.output, &plan.release, lock)?;
    tracing::info!(key_id = %key.key_id(), release = %plan.release, "signing");
    let manifest_digest = stage_release(config, &plan, checked, history, &key, &stage)?;
    let newest = Previous {
        manifest_sha256: manifest_digest,
        release: plan.release.clone(),
        sequence: plan.sequence,
    };
    let latest = latest_files(config, &newest, request.at, &key)?;
    let mut ledger = history.ledger();
    ledger.releases.push(ledger::Entry {
        created: manifest::format_time(plan.created),
        id: plan.release.clone(),
        manifest_sha256: manifest_digest,
        sequence: plan.sequence,
        trigger: plan.trigger.clone(),
        year_sequence: plan.year_sequence,
    });
    let mut ledger_bytes =
        serde_json::to_vec_pretty(&ledger).expect("a ledger always converts to JSON");
    ledger_bytes.push(b'\n');
    let path = stage.publish(&latest, &ledger_bytes, checkpoint)?;
    tracing::info!(release = %plan.release, path = %path.display(), "published");
    Ok(Cut {
        key_id: key.key_id().to_string(),
        path,
        plan,
    })
}

/// Writes every file of the release folder into `stage`, signed, and gives the manifest's
/// digest. Each file is written as soon as it is made and then dropped.
fn stage_release(
    config: &Config,
    plan: &Plan,
    checked: Checked,
    history: &History,
    key: &SigningKey,
    stage: &Stage,
) -> Result<Sha256, ReleaseError> {
    // A file and its detached signature, written; their names and digests.
    let write_signed = |name: &str, bytes: &[u8]| -> Result<[(String, Sha256); 2], ReleaseError> {
        let signed = SignedFile {
            file: name.to_owned(),
            product: config.product.clone(),
            release: plan.release.clone(),
            sequence: plan.sequence,
        };
        let comment = TrustedComment::new(signed.to_comment())?;
        let signature = format!("{name}.sig");
        let signature_digest = stage.write(
            &signature,
            sign::sign_detached(key, bytes, &comment).as_bytes(),
        )?;
        Ok([
            (name.to_owned(), stage.write(name, bytes)?),
            (signature, signature_digest),
        ])
    };
    let bundles = package_all(config, checked, |bundle, bytes| {
        let written = write_signed(&bundle.file_name(), &bytes)?;
        Ok((bundle, written))
    })?;
    let manifest = manifest_of(config, plan, &bundles, key);
    let mut listed: Vec<(String, Sha256)> = bundles
        .into_iter()
        .flat_map(|(_, written)| written)
        .collect();
    let [(name, manifest_digest), signature] =
        write_signed(manifest::MANIFEST_NAME, &manifest.to_bytes())?;
    listed.extend([(name, manifest_digest), signature]);
    let previous = history.chain.last().map(|(_, manifest)| manifest);
    let notes = Notes::new(&manifest, previous, plan.changes.clone(), &plan.commits);
    let rendered = notes::render(&notes, config.templates.as_deref())?;
    for (name, text) in [
        (notes::MARKDOWN_NAME, rendered.markdown),
        (notes::JSON_NAME, rendered.json),
    ] {
        listed.push((name.to_owned(), stage.write(name, text.as_bytes())?));
    }
    let checksums = manifest::checksums(&listed);
    stage.write(
        &format!("{}.sig", manifest::CHECKSUMS_NAME),
        sign::sign_embedded(key, &checksums).as_bytes(),
    )?;
    stage.write(manifest::CHECKSUMS_NAME, checksums.as_bytes())?;
    Ok(manifest_digest)
}

/// The manifest of a release whose bundles are written, each with its file's digest first.
fn manifest_of(
    config: &Config,
    plan: &Plan,
    bundles: &[(Bundle, [(String, Sha256); 2])],
    key: &SigningKey,
) -> Manifest {
    let bundle_records: Vec<BundleRecord> = bundles
        .iter()
        .map(|(b, [(_, digest), _])| BundleRecord {
            file: b.file_name(),
            kind: b.kind,
            min_agent_version: b.min_agent_version.as_ref().map(ToString::to_string),
            rules: b.counts.clone(),
            sha256: *digest,
            size: b.size,
        })
        .collect();
    let highest = |version: fn(&Bundle) -> Option<&AgentVersion>| {
        let found = bundles.iter().map(|(b, _)| b).filter_map(version).max();
        found.map(ToString::to_string)
    };
    Manifest {
        format: manifest::FORMAT,
        release: plan.release.clone(),
        sequence: plan.sequence,
        created: plan.created,
        trigger: plan.trigger.clone(),
        previous: plan.previous.clone(),
        bundles: bundle_records,
        changes: Some(plan.changes.counts()),
        guards_overridden: plan.guards_overridden(),
        min_agent_version: highest(|b| b.min_agent_version.as_ref()),
        min_manager_version: highest(|b| b.min_manager_version.as_ref()),
        product: config.product.clone(),
        signing: manifest::Signing {
            development: config.signing.development,
            key_id: key.key_id().to_string(),
        },
        sources: plan.sources.clone(),
        tool: manifest::Tool {
            name: "rulecut".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        year_sequence: plan.year_sequence,
    }
}

/// Tags each git source's released commit with the release id, in an annotated tag whose
/// message names the product and the release. Call only after publishing: a failure leaves
/// the release standing, and is reported once every source has been tried.
pub fn tag(config: &Config, plan: &Plan) -> Result<(), ReleaseError> {
    let message = format!("{} {}\n", config.product, plan.release);
    let request = source::git::Tag {
        message: &message,
        name: &plan.release,
        time: plan.created,
    };
    let commit_of = |name: &str| {
        let record = plan.sources.iter().find(|s| s.name == name);
        record.and_then(|s| s.commit.clone())
    };
    let failures = source::tag_sources(&config.sources, commit_of, &request);
    if failures.is_empty() {
        return Ok(());
    }
    Err(ReleaseError::Tag {
        failures,
        release: plan.release.clone(),
    })
}

/// `latest.json` and its signature, naming the given release. It expires at the next slot
/// plus the grace period, or after [`LATEST_VALIDITY`] without a schedule, so an importer can
/// tell a frozen feed from a quiet week.
pub fn latest_files(
    config: &Config,
    newest: &Previous,
    issued: DateTime<Utc>,
    key: &SigningKey,
) -> Result<Vec<NamedFile>, ReleaseError> {
    let next_slot = config
        .release
        .schedule
        .as_ref()
        .and_then(|s| s.after(issued).next());
    let latest = Latest {
        expires: next_slot.map_or(issued + LATEST_VALIDITY, |slot| slot + config.release.grace),
        format: manifest::FORMAT,
        issued,
        manifest_sha256: newest.manifest_sha256,
        product: config.product.clone(),
        release: newest.release.clone(),
        sequence: newest.sequence,
    };
    let bytes = latest.to_bytes();
    let signed = SignedFile {
        file: manifest::LATEST_NAME.to_owned(),
        product: config.product.clone(),
        release: newest.release.clone(),
        sequence: newest.sequence,
    };
    let signature = sign::sign_detached(key, &bytes, &TrustedComment::new(signed.to_comment())?);
    Ok(vec![
        (manifest::LATEST_NAME.to_owned(), bytes),
        (
            format!("{}.sig", manifest::LATEST_NAME),
            signature.into_bytes(),
        ),
    ])
}

/// The signing key: from the environment where given, else the configured file; a
/// development key is created only where `release.yaml` asks for one, and only for a manual
/// build.
pub fn signing_key(config: &Config, request: &Request) -> Result<SigningKey, ReleaseError> {
    let configured = config
        .signing
        .key
        .clone()
        .unwrap_or_else(|| config.base.join("keys/development.key"));
    let given = match &request.key {
        Some(KeyInput::Text(text)) => Some(SigningKey::from_text(text)?),
        Some(KeyInput::File(path)) => Some(SigningKey::load(path)?),
        None => None,
    };
    if let Some(key) = given {
        if configured.exists() && SigningKey::load(&configured)?.key_id() != key.key_id() {
            return Err(ReleaseError::KeyMismatch { path: configured });
        }
        return Ok(key);
    }
    if configured.exists() {
        return Ok(SigningKey::load(&configured)?);
    }
    let manual = request.trigger == Trigger::Manual;
    if !config.signing.development || !manual {
        return Err(ReleaseError::NoSigningKey {
            development: config.signing.development,
            path: configured,
        });
    }
    let prefix = configured.with_extension("");
    let key_id = sign::keygen(&prefix, false)?;
    tracing::warn!(
        key = %prefix.with_extension("key").display(),
        key_id = %key_id,
        "created a DEVELOPMENT signing key, because release.yaml says `development: true`; \
         releases signed with it are refused by importers unless they accept development keys"
    );
    Ok(SigningKey::load(&prefix.with_extension("key"))?)
}
