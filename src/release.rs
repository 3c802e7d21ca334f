//! Cutting a release: the pipeline from `release.yaml` to a published release folder.
//!
//! Plan, then act. Sources are collected, parsed and validated, and bundles packaged, before
//! anything is written; then, under the output folder's lock, the history is read from the
//! manifests, the release id, sequence and previous release are fixed, the signing key is
//! loaded (only now, and only because a release is being cut), everything is signed, and the
//! release is published atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::config::Config;
use crate::diff::{self, ChangeSet};
use crate::digest::sha256;
use crate::ledger::{self, History, LedgerError};
use crate::manifest::{
    self, BundleRecord, Latest, Manifest, Previous, SignedFile, SourceRecord, Trigger,
};
use crate::notes::{self, Notes, NotesError, SourceNote};
use crate::package::{self, Bundle, IndexedRule, PackageError};
use crate::publish::{self, NamedFile, OutputLock, Publication, PublishError, Step};
use crate::rules::{Diagnostic, Kind};
use crate::sign::{self, SignError, SigningKey, TrustedComment};
use crate::source::{self, CollectError, Collected, Revision};
use crate::validate::{self, Validated};
use crate::version::AgentVersion;

/// How long `latest.json` stays valid after it is signed.
pub const LATEST_VALIDITY: chrono::TimeDelta = chrono::TimeDelta::days(14);

#[derive(Debug, Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Collect(#[from] CollectError),
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
    #[error("cannot read the previous release `{release}`")]
    ReadPrevious {
        release: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sign(#[from] SignError),
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
            ReleaseError::Invalid(_) | ReleaseError::TimeOrder { .. } => 1,
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
            ReleaseError::Publish(error) => error.help(),
            ReleaseError::Sign(error) => error.help(),
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
    pub trigger: Trigger,
    /// How long to wait for another run's lock; `None` fails at once.
    pub wait_for_lock: Option<Duration>,
}

/// Collected, parsed and validated sources.
pub struct Checked {
    pub collected: Vec<Collected>,
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
    let collected: Vec<Collected> = config
        .sources
        .par_iter()
        .map(source::collect)
        .collect::<Result<_, _>>()?;
    let parsed = collected
        .par_iter()
        .flat_map_iter(|c| {
            c.files
                .iter()
                .map(move |(file, format)| (c.kind, file, *format))
        })
        .map(|(kind, file, format)| (kind, format.parse(file, kind)))
        .collect();
    let validated = validate::validate(parsed, config.missing_references);
    tracing::info!(
        sources = collected.len(),
        rules = validated
            .sets
            .values()
            .map(|s| s.rules.len())
            .sum::<usize>(),
        "checked"
    );
    Ok(Checked {
        collected,
        validated,
    })
}

/// The release to cut, fixed before anything is written.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub changes: ChangeSet,
    #[serde(with = "manifest::rfc3339")]
    pub created: DateTime<Utc>,
    pub output: PathBuf,
    pub previous: Option<Previous>,
    pub release: String,
    pub sequence: u64,
    pub sources: Vec<SourceRecord>,
    pub trigger: Trigger,
    pub year_sequence: u32,
}

/// A release that was cut.
#[derive(Debug)]
pub struct Cut {
    pub key_id: String,
    pub path: PathBuf,
    pub plan: Plan,
}

/// Checks and packages the sources: everything that needs no lock and writes nothing.
pub fn prepare(config: &Config) -> Result<(Checked, Vec<Bundle>), ReleaseError> {
    let checked = check(config)?;
    if checked.validated.has_errors() {
        return Err(ReleaseError::Invalid(checked.validated.diagnostics));
    }
    let bundles = package_all(&checked)?;
    Ok((checked, bundles))
}

fn package_all(checked: &Checked) -> Result<Vec<Bundle>, ReleaseError> {
    let kinds: Vec<Kind> = checked.validated.sets.keys().copied().collect();
    let bundles = kinds.par_iter().map(|kind| {
        let files: Vec<&crate::rules::RuleFile> = checked
            .collected
            .iter()
            .filter(|c| c.kind == *kind)
            .flat_map(|c| c.files.iter().map(|(f, _)| f))
            .collect();
        let by_entry: BTreeMap<&str, &crate::rules::RuleFile> =
            files.iter().map(|f| (f.display.as_str(), *f)).collect();
        let rules = checked.validated.sets[kind]
            .rules
            .iter()
            .map(|rule| IndexedRule::new(rule, by_entry[rule.location.path.as_str()]))
            .collect();
        package::package(*kind, &files, rules)
    });
    Ok(bundles.collect::<Result<Vec<_>, _>>()?)
}

/// Fixes the release's id, numbers and previous release from the history, and the changes
/// from the previous release's bundles.
pub fn plan(
    config: &Config,
    request: &Request,
    checked: &Checked,
    bundles: &[Bundle],
    history: &History,
) -> Result<Plan, ReleaseError> {
    if let Some(last) = history
        .chain
        .last()
        .map(|(_, m)| m)
        .filter(|m| m.created > request.at)
    {
        return Err(ReleaseError::TimeOrder {
            at: manifest::format_time(request.at),
            previous: last.release.clone(),
            previous_at: manifest::format_time(last.created),
        });
    }
    let (sequence, mut year_sequence) = history.next_numbers(request.at.year());
    let mut release = config.release.id.format(request.at.year(), year_sequence);
    while history.folders.contains(&release) {
        year_sequence += 1;
        release = config.release.id.format(request.at.year(), year_sequence);
    }
    let new: diff::Rules = bundles.iter().map(|b| (b.kind, b.rules.clone())).collect();
    let old = previous_rules(&request.output, history)?;
    Ok(Plan {
        changes: diff::diff(&old, &new),
        created: request.at,
        output: request.output.clone(),
        previous: history.last().map(ledger::Entry::as_previous),
        release,
        sequence,
        sources: source_records(&checked.collected),
        trigger: request.trigger.clone(),
        year_sequence,
    })
}

fn source_records(collected: &[Collected]) -> Vec<SourceRecord> {
    collected
        .iter()
        .map(|c| SourceRecord {
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
    let mut rules = diff::Rules::new();
    for bundle in &manifest.bundles {
        let path = output.join(&entry.id).join(&bundle.file);
        let bytes = std::fs::read(&path).map_err(|source| ReleaseError::ReadPrevious {
            release: entry.id.clone(),
            source,
        })?;
        rules.insert(
            bundle.kind,
            package::read_index(&bundle.file, &bytes)?.rules,
        );
    }
    Ok(rules)
}

/// Cuts a release: checks, packages, plans, signs and publishes.
pub fn build(
    config: &Config,
    request: &Request,
    checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Cut, ReleaseError> {
    let (checked, bundles) = prepare(config)?;
    let lock = OutputLock::acquire(&request.output, request.wait_for_lock)?;
    publish::clean_staging(&request.output, &lock)?;
    let history = ledger::read(&request.output)?;
    let plan = plan(config, request, &checked, &bundles, &history)?;
    cut(config, request, plan, bundles, &history, &lock, checkpoint)
}

/// Signs and publishes a planned release. Call with the output folder's lock held.
pub fn cut(
    config: &Config,
    request: &Request,
    plan: Plan,
    bundles: Vec<Bundle>,
    history: &History,
    lock: &OutputLock,
    checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Cut, ReleaseError> {
    let key = signing_key(config, request)?;
    tracing::info!(key_id = %key.key_id(), release = %plan.release, "signing");
    let (files, manifest_digest) = release_files(config, &plan, bundles, &key)?;
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
    let publication = Publication {
        files: &files,
        id: &plan.release,
        ledger: &ledger_bytes,
        pointers: &latest,
    };
    let path = publish::publish(&request.output, &publication, lock, checkpoint)?;
    tracing::info!(release = %plan.release, path = %path.display(), "published");
    Ok(Cut {
        key_id: key.key_id().to_string(),
        path,
        plan,
    })
}

/// Every file of the release folder, signed, and the manifest's digest.
fn release_files(
    config: &Config,
    plan: &Plan,
    bundles: Vec<Bundle>,
    key: &SigningKey,
) -> Result<(Vec<NamedFile>, crate::digest::Sha256), ReleaseError> {
    let signed = |file: &str| SignedFile {
        file: file.to_owned(),
        product: config.product.clone(),
        release: plan.release.clone(),
        sequence: plan.sequence,
    };
    let sign_file = |name: &str, bytes: &[u8]| -> Result<NamedFile, ReleaseError> {
        let comment = TrustedComment::new(signed(name).to_comment())?;
        Ok((
            format!("{name}.sig"),
            sign::sign_detached(key, bytes, &comment).into_bytes(),
        ))
    };
    let manifest = manifest_of(config, plan, &bundles, key);
    let mut files = Vec::new();
    // Each bundle's bytes move into the list of files to write: held once, never copied.
    for bundle in bundles {
        let name = bundle.file_name();
        files.push(sign_file(&name, &bundle.bytes)?);
        files.push((name, bundle.bytes));
    }
    let manifest_bytes = manifest.to_bytes();
    let manifest_digest = sha256(&manifest_bytes);
    files.push(sign_file(manifest::MANIFEST_NAME, &manifest_bytes)?);
    files.push((manifest::MANIFEST_NAME.to_owned(), manifest_bytes));
    let rendered = notes::render(
        &notes_of(config, plan, &manifest),
        config.templates.as_deref(),
    )?;
    files.push((
        notes::MARKDOWN_NAME.to_owned(),
        rendered.markdown.into_bytes(),
    ));
    files.push((notes::JSON_NAME.to_owned(), rendered.json.into_bytes()));
    let listed: Vec<(String, crate::digest::Sha256)> =
        files.iter().map(|(n, b)| (n.clone(), sha256(b))).collect();
    let checksums = manifest::checksums(&listed);
    files.push((
        format!("{}.sig", manifest::CHECKSUMS_NAME),
        sign::sign_embedded(key, &checksums).into_bytes(),
    ));
    files.push((manifest::CHECKSUMS_NAME.to_owned(), checksums.into_bytes()));
    Ok((files, manifest_digest))
}

fn manifest_of(config: &Config, plan: &Plan, bundles: &[Bundle], key: &SigningKey) -> Manifest {
    let bundle_records: Vec<BundleRecord> = bundles
        .iter()
        .map(|b| BundleRecord {
            file: b.file_name(),
            kind: b.kind,
            min_agent_version: highest_version(
                b.rules.iter().map(|r| r.min_agent_version.as_deref()),
            ),
            rules: b.counts.clone(),
            sha256: b.sha256,
            size: b.bytes.len() as u64,
        })
        .collect();
    let all_rules = || bundles.iter().flat_map(|b| b.rules.iter());
    Manifest {
        format: manifest::FORMAT,
        release: plan.release.clone(),
        sequence: plan.sequence,
        created: plan.created,
        trigger: plan.trigger.clone(),
        previous: plan.previous.clone(),
        bundles: bundle_records,
        guards_overridden: Vec::new(),
        min_agent_version: highest_version(all_rules().map(|r| r.min_agent_version.as_deref())),
        min_manager_version: highest_version(all_rules().map(|r| r.min_manager_version.as_deref())),
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

/// The highest of some versions, each already checked by its parser.
fn highest_version<'a>(versions: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let parsed = versions
        .flatten()
        .filter_map(|v| v.parse::<AgentVersion>().ok());
    parsed.max().map(|v| v.to_string())
}

fn notes_of(config: &Config, plan: &Plan, manifest: &Manifest) -> Notes {
    let new_rules = plan.changes.kinds.values().flat_map(|c| c.new.iter());
    Notes {
        created: manifest::format_time(plan.created),
        kinds: plan.changes.clone(),
        min_agent_version: highest_version(new_rules.map(|r| r.min_agent_version.as_deref())),
        previous: plan.previous.as_ref().map(|p| p.release.clone()),
        product: config.product.clone(),
        release: plan.release.clone(),
        sequence: plan.sequence,
        sources: manifest
            .sources
            .iter()
            .map(|s| SourceNote {
                commits: Vec::new(),
                kind: s.kind.to_string(),
                name: s.name.clone(),
                revision: match (&s.commit, &s.tree_sha256) {
                    (Some(commit), _) => format!("commit {commit}"),
                    (None, Some(tree)) => format!("tree {tree}"),
                    (None, None) => String::new(),
                },
            })
            .collect(),
        trigger: plan.trigger.clone(),
    }
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
