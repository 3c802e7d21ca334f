//! Command-line arguments, and the glue from each command to the library.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use rulecut::config::{self, Config};
use rulecut::manifest::Trigger;
use rulecut::release::{self, KeyInput, ReleaseError, Request};
use rulecut::rules::Diagnostic;
use rulecut::validate::RuleSet;
use rulecut::verify::VerifyError;
use rulecut::{cadence, fleet, package, review, sign};

mod history;
mod verify;

const EXIT_CODES: &str = "\
Exit status:
  0  success, including \"nothing due\"
  1  inputs checked and rejected: invalid rules, a bad signature, a checksum mismatch,
     a rollback, a missed slot
  2  the job could not be done: usage, I/O, git, key or template errors

Environment:
  RULECUT_SIGNING_KEY       the signing key file's contents (wins over release.yaml)
  RULECUT_SIGNING_KEY_FILE  the signing key file's path (wins over release.yaml)
  SOURCE_DATE_EPOCH         the release time, in seconds since 1970, when --at is absent
  NO_COLOR                  no colour on stderr";

/// Cuts signed, reproducible security rule releases, and verifies them before import.
#[derive(Debug, Parser)]
#[command(name = "rulecut", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The release configuration
    #[arg(
        short,
        long,
        global = true,
        default_value = "release.yaml",
        value_name = "FILE"
    )]
    config: PathBuf,
    /// Errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also log the decisions: files skipped, refs resolved, templates used
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check every release of an output folder, the hash chain between them, `latest.json`
    /// and the ledger
    #[command(after_help = verify::EXIT_CODES)]
    Audit(verify::AuditArgs),
    /// Cut a release: collect, validate, package, sign and publish, then print its folder
    Build(BuildArgs),
    /// Collect, parse and validate the sources, and list every problem
    Check,
    /// Show what changed between two releases, or between a release and the sources now
    Diff(history::DiffArgs),
    /// Check the readiness of relays and agents for a release, under the upgrade policy
    Fleet(FleetArgs),
    /// Make a signing key pair: PREFIX.key (secret, mode 0600), PREFIX.pub and PREFIX.pem
    Keygen {
        /// Write over existing key files
        #[arg(long)]
        force: bool,
        /// Where to write, without extension
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// Print the next scheduled slots
    Next {
        /// From this time, RFC 3339 (default: now)
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        after: Option<DateTime<Utc>>,
        /// How many slots
        #[arg(short, default_value_t = 5)]
        n: usize,
    },
    /// Render a release's notes again, from its folder and the previous release's
    #[command(after_help = history::NOTES_CONTEXT)]
    Notes(history::NotesArgs),
    /// The CI entry point: cut the release of the latest slot at or before now, once
    ///
    /// Outcomes: `released`, `not-due`, `already-released` and `unchanged` exit 0; `missed`
    /// (a slot older than the grace period with no release) exits 1 so that CI turns red.
    Scheduled {
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
        /// The time to act as if it were, RFC 3339 (default: now)
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
        /// The output folder (default: `output` in release.yaml)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Verify a release folder, or one bundle, before import; refuse anything unsigned,
    /// altered, incomplete, unsafe or older than the installed release. Writes nothing
    #[command(after_help = verify::EXIT_CODES)]
    Verify(verify::VerifyArgs),
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// The release time, RFC 3339 (default: SOURCE_DATE_EPOCH, else now)
    #[arg(long, value_name = "TIME", conflicts_with = "plan")]
    at: Option<String>,
    /// Print the plan and write nothing; exit 1 if a guard refuses the release
    #[arg(long)]
    dry_run: bool,
    /// Cut an out-of-band release now; needs --reason
    #[arg(long, requires = "reason")]
    emergency: bool,
    /// Print the plan as JSON (with --dry-run)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    guards: history::GuardArgs,
    /// The output folder (default: `output` in release.yaml)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Cut the release a `--dry-run --json` plan describes, at its time and with its
    /// overrides, only if every input still matches it
    #[arg(long, value_name = "PLAN", conflicts_with = "dry_run")]
    plan: Option<PathBuf>,
    /// Why this emergency release is cut
    #[arg(long, value_name = "TEXT", requires = "emergency")]
    reason: Option<String>,
    /// After publishing, tag each git source's released commit with the release id
    /// (an annotated tag); a tag of that name pointing elsewhere is an error, exit 2
    #[arg(long)]
    tag: bool,
}

#[derive(Args, Debug)]
struct FleetArgs {
    /// The published versions: `agent: [...]` and `relay: [...]`
    #[arg(long, value_name = "VERSIONS")]
    available: Option<PathBuf>,
    /// FLEET.yaml: the relays and agents
    fleet: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// A release folder whose rules the agents must run
    #[arg(long, value_name = "DIR")]
    release: Option<PathBuf>,
    /// Also fail when an agent would miss rules of the release
    #[arg(long)]
    strict: bool,
}

/// What an importer trusts and expects, for `verify` and `audit`.
/// A command that failed: the exit code, the error, a hint, and lines to print first.
pub struct Failure {
    pub code: u8,
    pub error: Option<anyhow::Error>,
    pub help: Option<String>,
    pub lines: Vec<String>,
}

impl Failure {
    pub fn new(code: u8, error: anyhow::Error) -> Failure {
        Failure {
            code,
            error: Some(error),
            help: None,
            lines: Vec::new(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::new(2, error)
    }
}

impl From<ReleaseError> for Failure {
    fn from(error: ReleaseError) -> Failure {
        let lines = match &error {
            ReleaseError::Invalid(diagnostics) => {
                diagnostics.iter().map(Diagnostic::to_string).collect()
            }
            ReleaseError::Guarded(violations) => violations.iter().map(|v| v.to_string()).collect(),
            ReleaseError::Review(mismatch) => mismatch.differences.clone(),
            ReleaseError::Tag { failures, .. } => failures.iter().map(error_line).collect(),
            _ => Vec::new(),
        };
        Failure {
            code: error.exit_code(),
            help: error.help(),
            lines,
            error: Some(error.into()),
        }
    }
}

impl From<VerifyError> for Failure {
    fn from(error: VerifyError) -> Failure {
        Failure {
            help: error.help(),
            ..Failure::new(2, error.into())
        }
    }
}

impl From<sign::SignError> for Failure {
    fn from(error: sign::SignError) -> Failure {
        Failure {
            help: error.help(),
            ..Failure::new(2, error.into())
        }
    }
}

pub fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Audit(args) => verify::audit(args),
        Command::Build(args) => build(&cli.config, args),
        Command::Check => check(&cli.config),
        Command::Diff(args) => history::diff(&cli.config, args),
        Command::Fleet(args) => run_fleet(args),
        Command::Keygen { force, out } => keygen(&out, force),
        Command::Next { after, n } => next(&cli.config, n, after),
        Command::Notes(args) => history::notes(&cli.config, args),
        Command::Scheduled { json, now, out } => scheduled(&cli.config, json, now, out),
        Command::Verify(args) => verify::verify(args),
    }
}

pub fn load_config(path: &Path) -> Result<Config, Failure> {
    config::load(path).map_err(|error| {
        let help = matches!(error, config::ConfigError::Read { .. }).then(|| {
            "run rulecut in the folder holding release.yaml, or name the file with -c FILE"
                .to_owned()
        });
        Failure {
            help,
            ..Failure::new(2, error.into())
        }
    })
}

fn check(config_path: &Path) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let checked = release::check(&config)?;
    for diagnostic in &checked.validated.diagnostics {
        eprintln!("{diagnostic}");
    }
    let rules: usize = checked.validated.sets.values().map(RuleSet::len).sum();
    let files = checked.files;
    let errors = checked.validated.errors().count();
    if errors > 0 {
        let error = anyhow::anyhow!("{errors} problem(s) in {files} rule files");
        return Err(Failure::new(1, error));
    }
    eprintln!("checked {rules} rules in {files} files: no problems");
    Ok(0)
}

fn build(config_path: &Path, args: BuildArgs) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let trigger = match args.reason {
        Some(reason) if args.emergency => Trigger::Emergency { reason },
        _ => Trigger::Manual,
    };
    let reviewed = args
        .plan
        .as_deref()
        .map(review::read)
        .transpose()
        .map_err(|e| Failure::new(2, e.into()))?;
    let request = Request {
        at: match &reviewed {
            Some(reviewed) => reviewed.created,
            None => release_time(args.at.as_deref())?,
        },
        key: key_input()?,
        output: args.out.unwrap_or_else(|| config.output.clone()),
        overrides: reviewed
            .as_ref()
            .map_or_else(|| args.guards.overrides(), |r| r.overrides.clone()),
        trigger,
        wait_for_lock: None,
    };
    if args.dry_run {
        return dry_run(&config, &request, args.json, args.tag);
    }
    let cut = release::build_reviewed(&config, &request, reviewed.as_ref(), &mut |_| Ok(()))?;
    if let Some(previous) = &cut.plan.previous
        && cut.plan.changes.is_empty()
    {
        // Most often a release cut from the wrong branch or folder, emergencies above all.
        tracing::warn!(
            previous = %previous.release,
            "no rule changed: this release ships the same rules as the previous one"
        );
    }
    println!("{}", cut.path.display());
    if args.tag {
        release::tag(&config, &cut.plan)?;
    }
    Ok(0)
}

/// An error and its causes on one line each, as `main` prints the final error.
fn error_line(error: &impl std::error::Error) -> String {
    let mut text = format!("rulecut: error: {error}");
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(&format!("\n  caused by: {next}"));
        cause = next.source();
    }
    text
}

fn dry_run(config: &Config, request: &Request, json: bool, tag: bool) -> Result<u8, Failure> {
    let purpose = release::Purpose::Check;
    let (checked, facts) = release::prepare(config, release::collect(config)?, purpose)?;
    let history = rulecut::ledger::read(&request.output).map_err(ReleaseError::from)?;
    let plan = release::plan(config, request, &checked, &facts, &history)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).context("cannot write the plan")?
        );
    } else {
        print_plan(&plan, tag);
    }
    release::refuse_guarded(&plan)?;
    Ok(0)
}

fn print_plan(plan: &release::Plan, tag: bool) {
    println!(
        "release  {} (sequence {}, {} #{})",
        plan.release,
        plan.sequence,
        plan.created.format("%Y"),
        plan.year_sequence
    );
    println!("created  {}", rulecut::manifest::format_time(plan.created));
    println!("trigger  {}", plan.trigger.name());
    println!(
        "previous {}",
        plan.previous
            .as_ref()
            .map_or("none", |p| p.release.as_str())
    );
    println!("output   {}", plan.output.join(&plan.release).display());
    print_sources(plan, tag);
    for (kind, c) in &plan.changes.kinds {
        let (new, updated, removed) = (c.new.len(), c.updated.len(), c.removed.len());
        let total = c.total;
        println!(
            "changes  {kind}: {new} new, {updated} updated, {removed} removed, {total} in all"
        );
    }
    history::print_guards(&plan.guards);
}

/// The plan's sources: each one's commit or tree digest, its commits since the previous
/// release, and the tag `--tag` would make.
fn print_sources(plan: &release::Plan, tag: bool) {
    for source in &plan.sources {
        let revision = source
            .commit
            .clone()
            .or(source.tree_sha256.map(|t| format!("tree {t}")));
        println!(
            "source   {} ({}): {}",
            source.name,
            source.kind,
            revision.unwrap_or_default()
        );
        for line in plan.commits.get(&source.name).into_iter().flatten() {
            println!("           - {line}");
        }
        if let (true, Some(commit)) = (tag, &source.commit) {
            println!("tag      {} at {commit}", plan.release);
        }
    }
}

/// The release time: `--at`, else `SOURCE_DATE_EPOCH`, else now.
fn release_time(at: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    if let Some(at) = at {
        return parse_time(at).map_err(usage);
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => {
            let seconds: i64 = epoch.trim().parse().map_err(|_| {
                usage(format!(
                    "SOURCE_DATE_EPOCH `{epoch}` is not a number of seconds"
                ))
            })?;
            DateTime::from_timestamp(seconds, 0)
                .ok_or_else(|| usage(format!("SOURCE_DATE_EPOCH `{epoch}` is out of range")))
        }
        Err(_) => Ok(Utc::now()),
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an RFC 3339 time like `2026-12-01T09:00:00Z`"))
}

fn scheduled(
    config_path: &Path,
    json: bool,
    now: Option<DateTime<Utc>>,
    out: Option<PathBuf>,
) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let request = Request {
        at: now.unwrap_or_else(Utc::now),
        key: key_input()?,
        output: out.unwrap_or_else(|| config.output.clone()),
        overrides: Default::default(),
        trigger: Trigger::Manual,
        wait_for_lock: Some(cadence::LOCK_WAIT),
    };
    let outcome = cadence::run(&config, &request)?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&outcome).context("cannot write the outcome")?
        );
    } else if let cadence::Outcome::Released { path, .. } = &outcome {
        println!("{path}");
    }
    eprintln!("{}", describe(&outcome));
    Ok(u8::from(outcome.is_alarm()))
}

fn describe(outcome: &cadence::Outcome) -> String {
    use cadence::Outcome;
    let time = |t: &DateTime<Utc>| rulecut::manifest::format_time(*t);
    match outcome {
        Outcome::AlreadyReleased { release, slot } => {
            format!("already-released: slot {} is {release}", time(slot))
        }
        Outcome::Missed { slot } => {
            format!(
                "missed: slot {} has no release and its grace period is over",
                time(slot)
            )
        }
        Outcome::NotDue => "not-due: nothing to do".to_owned(),
        Outcome::Released { release, slot, .. } => {
            format!("released: {release} for slot {}", time(slot))
        }
        Outcome::Unchanged { slot } => format!(
            "unchanged: no rule changed for slot {}; latest.json signed again",
            time(slot)
        ),
    }
}

fn usage(message: String) -> Failure {
    Failure::new(2, anyhow::anyhow!(message))
}

/// The signing key given in the environment, as CI secrets give it.
fn key_input() -> Result<Option<KeyInput>, Failure> {
    let text = std::env::var("RULECUT_SIGNING_KEY")
        .ok()
        .filter(|t| !t.is_empty());
    let file = std::env::var_os("RULECUT_SIGNING_KEY_FILE").filter(|f| !f.is_empty());
    match (text, file) {
        (Some(_), Some(_)) => Err(usage(
            "both RULECUT_SIGNING_KEY and RULECUT_SIGNING_KEY_FILE are set: give one".to_owned(),
        )),
        (Some(text), None) => Ok(Some(KeyInput::Text(text))),
        (None, Some(file)) => Ok(Some(KeyInput::File(PathBuf::from(file)))),
        (None, None) => Ok(None),
    }
}

fn keygen(prefix: &Path, force: bool) -> Result<u8, Failure> {
    let key_id = sign::keygen(prefix, force)?;
    for extension in ["key", "pub", "pem"] {
        println!("{}", prefix.with_extension(extension).display());
    }
    eprintln!("key id {key_id}");
    Ok(0)
}

fn next(config_path: &Path, n: usize, after: Option<DateTime<Utc>>) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let Some(schedule) = &config.release.schedule else {
        return Err(Failure::from(ReleaseError::NoSchedule));
    };
    for slot in schedule.next_n(after.unwrap_or_else(Utc::now), n) {
        let local = slot.with_timezone(&schedule.timezone());
        println!("{} {}", local.format("%a"), local.to_rfc3339());
    }
    Ok(0)
}

fn run_fleet(args: FleetArgs) -> Result<u8, Failure> {
    let fleet_error = |e: fleet::FleetError| Failure::new(2, e.into());
    let fleet = fleet::load_fleet(&args.fleet).map_err(fleet_error)?;
    let available = args
        .available
        .as_deref()
        .map(fleet::load_available)
        .transpose()
        .map_err(fleet_error)?;
    let rules = args.release.as_deref().map(release_rules).transpose()?;
    let report = fleet::assess(&fleet, available.as_ref(), rules.as_deref());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot write the report")?
        );
    } else {
        print!("{}", report.render_text());
    }
    let failed = report.relays_behind_any() || (args.strict && report.missing_any());
    Ok(u8::from(failed))
}

/// The rules of a release folder, from its bundles' indexes.
fn release_rules(folder: &Path) -> Result<Vec<fleet::ReleaseRule>, Failure> {
    let manifest_path = folder.join(rulecut::manifest::MANIFEST_NAME);
    let text = std::fs::read(&manifest_path)
        .with_context(|| format!("cannot read `{}`", manifest_path.display()))?;
    let manifest: rulecut::manifest::Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("`{}` is not a manifest", manifest_path.display()))?;
    let mut rules = Vec::new();
    for bundle in &manifest.bundles {
        let path = folder.join(&bundle.file);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let index = package::read_index::<rulecut::diff::RuleFacts>(&bundle.file, &bytes)
            .map_err(|e| Failure::new(2, e.into()))?;
        rules.extend(index.rules.into_iter().map(|rule| fleet::ReleaseRule {
            id: rule.id.to_string(),
            kind: bundle.kind.to_string(),
            min_agent_version: rule.min_agent_version.and_then(|v| v.parse().ok()),
        }));
    }
    Ok(rules)
}
