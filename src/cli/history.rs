//! The commands about release history: `diff`, `notes`, and the guard overrides of `build`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use rulecut::config::{self, Config};
use rulecut::diff::{self, ChangeSet};
use rulecut::guard::{Guard, Violation};
use rulecut::{ledger, notes, release};

use super::{Failure, load_config};

/// What `rulecut notes --help` says the templates see.
pub const NOTES_CONTEXT: &str = "\
Templates see (minijinja; also all of it as `notes`):
  product, release, sequence, created      the release, its global sequence and time
  trigger.type (manual, scheduled, emergency, revert), trigger.slot, trigger.reason
  previous                                 the previous release's id, if any
  guards_overridden                        guard names, such as `mass-removal`
  min_agent_version                        the highest minimum agent version of new rules
  kinds.<kind>.new, .removed, .moved_to_prevent
                                           rules: id, name, revision, severity, cves,
                                           min_agent_version
  kinds.<kind>.updated                     the same, and changes: field, from, to
  kinds.<kind>.total                       the kind's rules after the release
  sources: name, kind, revision, previous  and commits: the subjects since the last release

The previous release must be in the folder beside RELEASE_DIR, in the chain of manifests. With
a release.yaml (-c), its `notes.templates` folder and git sources are used: commit subjects
are read from the repositories, and left out where they cannot be.";

/// The overrides of `build`, one per guard. Each lets one kind of refused change through and
/// is recorded in the manifest's `guards_overridden`.
#[derive(Args, Debug)]
pub struct GuardArgs {
    /// Let a rule an emergency release shipped be removed or taken back
    #[arg(long, conflicts_with = "plan")]
    allow_emergency_rollback: bool,
    /// Let a rule's revision go down
    #[arg(long, conflicts_with = "plan")]
    allow_lowered_revision: bool,
    /// Let more than `guards.max_removed_share` of a kind's rules be removed at once
    #[arg(long, conflicts_with = "plan")]
    allow_mass_removal: bool,
    /// Let an id removed by an earlier release come back with other content
    #[arg(long, conflicts_with = "plan")]
    allow_reused_id: bool,
    /// Let a rule's content change without its revision rising
    #[arg(long, conflicts_with = "plan")]
    allow_unraised_revision: bool,
}

impl GuardArgs {
    pub fn overrides(&self) -> BTreeSet<Guard> {
        let given = [
            (self.allow_emergency_rollback, Guard::EmergencyRollback),
            (self.allow_lowered_revision, Guard::LoweredRevision),
            (self.allow_mass_removal, Guard::MassRemoval),
            (self.allow_reused_id, Guard::ReusedId),
            (self.allow_unraised_revision, Guard::UnraisedRevision),
        ];
        given
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, g)| g)
            .collect()
    }
}

// Positional arguments are taken in field order, so OLD comes before NEW.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier release folder
    old: PathBuf,
    /// The later release folder; or give --sources
    #[arg(required_unless_present = "sources", conflicts_with = "sources")]
    new: Option<PathBuf>,
    /// Print the change set as JSON
    #[arg(long)]
    json: bool,
    /// Compare OLD with the rules the sources in release.yaml hold now
    #[arg(long)]
    sources: bool,
}

#[derive(Args, Debug)]
pub struct NotesArgs {
    /// Render the JSON notes rather than the Markdown ones
    #[arg(long, conflicts_with = "template")]
    json: bool,
    /// A release folder; the previous release must be in the folder beside it
    release: PathBuf,
    /// Render with this template file instead
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
}

/// The violations in a plan, one line each, for a dry run's text output.
pub fn print_guards(guards: &[Violation]) {
    for violation in guards {
        let verdict = if violation.overridden {
            "overridden"
        } else {
            "refuses"
        };
        println!("guard    {verdict}: {violation}");
    }
}

/// `rulecut diff OLD NEW` and `rulecut diff OLD --sources`.
pub fn diff(config_path: &Path, args: DiffArgs) -> Result<u8, Failure> {
    let old = release_rules(&args.old)?;
    let new = match &args.new {
        Some(folder) => release_rules(folder)?,
        None => {
            let config = load_config(config_path)?;
            let collected = release::collect(&config)?;
            release::prepare(&config, collected, release::Purpose::Check)?.1
        }
    };
    let changes: ChangeSet = diff::diff(&old, &new);
    if args.json {
        let json = serde_json::to_string_pretty(&changes).context("cannot write the changes")?;
        write_out(&format!("{json}\n"))?;
    } else {
        write_out(&changes.to_text())?;
    }
    Ok(0)
}

fn release_rules(folder: &Path) -> Result<diff::Rules, Failure> {
    let read = |folder: &Path| {
        let (manifest, _) = ledger::read_release(folder)?;
        ledger::read_all_rules(folder, &manifest)
    };
    read(folder).map_err(|e| Failure::new(2, e.into()))
}

/// `rulecut notes RELEASE_DIR`: the release's notes rebuilt from its folder, rendered again.
pub fn notes(config_path: &Path, args: NotesArgs) -> Result<u8, Failure> {
    let config = optional_config(config_path)?;
    let sources = config.as_ref().map_or(&[][..], |c| c.sources.as_slice());
    let failed = |e: notes::NotesError| Failure::new(e.exit_code(), e.into());
    let notes = notes::rebuild(&args.release, sources).map_err(failed)?;
    let text = match &args.template {
        Some(template) => notes::render_file(&notes, template).map_err(failed)?,
        None => {
            let folder = config.as_ref().and_then(|c| c.templates.as_deref());
            let rendered = notes::render(&notes, folder).map_err(failed)?;
            if args.json {
                rendered.json
            } else {
                rendered.markdown
            }
        }
    };
    write_out(&text)?;
    Ok(0)
}

/// Writes a command's product to stdout. A reader that stops early (`| head`) closes the pipe,
/// which is no failure of ours: stop writing and succeed.
fn write_out(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e)
            .context("cannot write to stdout")
            .into()),
        _ => Ok(()),
    }
}

/// `release.yaml` where there is one: `notes` needs it only for the templates folder and the
/// git repositories that commit subjects are read from.
fn optional_config(path: &Path) -> Result<Option<Config>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    config::load(path)
        .map(Some)
        .map_err(|e| Failure::new(2, e.into()))
}
