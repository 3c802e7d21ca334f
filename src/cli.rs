//! Command-line arguments, and the glue from each command to the library.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use rulecut::config::{self, Config};
use rulecut::manifest::Trigger;
use rulecut::release::{self, KeyInput, ReleaseError, Request};
use rulecut::rules::Diagnostic;
use rulecut::sign::KeyId;
use rulecut::verify::{self, AuditReport, Expectations, Report, VerifyError};
use rulecut::{fleet, package, schedule, sign};

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

const VERIFY_EXIT_CODES: &str = "\
Exit status:
  0  accepted: one summary line on stderr (and the JSON on stdout with --json)
  1  refused: one `warning:` line per problem on stderr, naming the file and the reason
  2  could not verify: an unreadable key, a missing path, an I/O error

Nothing is written or changed.";

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
    #[command(after_help = VERIFY_EXIT_CODES)]
    Audit(AuditArgs),
    /// Cut a release: collect, validate, package, sign and publish, then print its folder
    Build(BuildArgs),
    /// Collect, parse and validate the sources, and list every problem
    Check,
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
        /// How many slots
        #[arg(short, default_value_t = 5)]
        n: usize,
    },
    /// Verify a release folder, or one bundle, before import; refuse anything unsigned,
    /// altered, incomplete, unsafe or older than the installed release. Writes nothing
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// The release time, RFC 3339 (default: SOURCE_DATE_EPOCH, else now)
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Print the plan and write nothing
    #[arg(long)]
    dry_run: bool,
    /// Cut an out-of-band release now; needs --reason
    #[arg(long, requires = "reason")]
    emergency: bool,
    /// Print the plan as JSON (with --dry-run)
    #[arg(long)]
    json: bool,
    /// The output folder (default: `output` in release.yaml)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Why this emergency release is cut
    #[arg(long, value_name = "TEXT", requires = "emergency")]
    reason: Option<String>,
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
#[derive(Args, Debug)]
struct TrustArgs {
    /// Accept a release signed with a development key
    #[arg(long)]
    allow_development: bool,
    /// Print the outcome and every problem as JSON on stdout
    #[arg(long)]
    json: bool,
    /// A trusted public key, or a folder of them (`*.pub`); repeat to trust several, as
    /// when a key is rotated
    #[arg(long, required = true, value_name = "PUB")]
    key: Vec<PathBuf>,
    /// The time to judge `latest.json`'s expiry by, RFC 3339 (default: now)
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The product the release must be for, as its manifest names it
    #[arg(long, value_name = "NAME")]
    product: Option<String>,
    /// A key id that is no longer trusted, such as `F08E6109CF907708`; repeatable
    #[arg(long, value_name = "KEYID")]
    revoked: Vec<KeyId>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The installed release's `manifest.json`: the release must have a higher sequence, and
    /// chain to it where it says it follows it
    #[arg(long, value_name = "MANIFEST")]
    installed: Option<PathBuf>,
    /// The feed's `latest.json`, with `latest.json.sig` beside it: it must name this release
    /// and not have expired
    #[arg(long, value_name = "FILE")]
    latest: Option<PathBuf>,
    /// A release folder, such as `dist/RU26-001`, or one bundle, such as
    /// `dist/RU26-001/firewall.zip` (checked against `firewall.zip.sig` beside it)
    path: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
}

#[derive(Args, Debug)]
struct AuditArgs {
    /// The output folder, such as `dist`
    dist: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
}

/// A command that failed: the exit code, the error, a hint, and lines to print first.
pub struct Failure {
    pub code: u8,
    pub error: Option<anyhow::Error>,
    pub help: Option<String>,
    pub lines: Vec<String>,
}

impl Failure {
    fn new(code: u8, error: anyhow::Error) -> Failure {
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
        Command::Audit(args) => audit(args),
        Command::Build(args) => build(&cli.config, args),
        Command::Check => check(&cli.config),
        Command::Fleet(args) => run_fleet(args),
        Command::Keygen { force, out } => keygen(&out, force),
        Command::Next { n } => next(&cli.config, n),
        Command::Verify(args) => verify(args),
    }
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    config::load(path).map_err(|error| Failure::new(2, error.into()))
}

fn check(config_path: &Path) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let checked = release::check(&config)?;
    for diagnostic in &checked.validated.diagnostics {
        eprintln!("{diagnostic}");
    }
    let rules: usize = checked.validated.sets.values().map(|s| s.rules.len()).sum();
    let files: usize = checked.collected.iter().map(|c| c.files.len()).sum();
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
    let request = Request {
        at: release_time(args.at.as_deref())?,
        key: key_input()?,
        output: args.out.unwrap_or_else(|| config.output.clone()),
        trigger,
        wait_for_lock: None,
    };
    if args.dry_run {
        return dry_run(&config, &request, args.json);
    }
    let cut = release::build(&config, &request, &mut |_| Ok(()))?;
    println!("{}", cut.path.display());
    Ok(0)
}

fn dry_run(config: &Config, request: &Request, json: bool) -> Result<u8, Failure> {
    let (checked, bundles) = release::prepare(config)?;
    let history = rulecut::ledger::read(&request.output).map_err(ReleaseError::from)?;
    let plan = release::plan(config, request, &checked, &bundles, &history)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).context("cannot write the plan")?
        );
        return Ok(0);
    }
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
    }
    for (kind, changes) in &plan.changes.kinds {
        let counts = (
            changes.new.len(),
            changes.updated.len(),
            changes.removed.len(),
            changes.total,
        );
        println!(
            "changes  {kind}: {} new, {} updated, {} removed, {} in all",
            counts.0, counts.1, counts.2, counts.3
        );
    }
    Ok(0)
}

/// The release time: `--at`, else `SOURCE_DATE_EPOCH`, else now.
fn release_time(at: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    if let Some(at) = at {
        return parse_time(at);
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

fn parse_time(text: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            usage(format!(
                "`{text}` is not an RFC 3339 time like `2026-12-01T09:00:00Z`"
            ))
        })
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

fn next(config_path: &Path, n: usize) -> Result<u8, Failure> {
    let config = load_config(config_path)?;
    let Some(crontab) = &config.release.schedule else {
        return Err(usage(format!(
            "`{}` has no `release.schedule`",
            config_path.display()
        )));
    };
    let schedule = schedule::Schedule::parse(crontab, &config.release.timezone)
        .map_err(|e| Failure::new(2, e.into()))?;
    for slot in schedule.next_n(Utc::now(), n) {
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
        let index =
            package::read_index(&bundle.file, &bytes).map_err(|e| Failure::new(2, e.into()))?;
        rules.extend(index.rules.into_iter().map(|rule| fleet::ReleaseRule {
            id: rule.id,
            kind: bundle.kind.to_string(),
            min_agent_version: rule.min_agent_version.and_then(|v| v.parse().ok()),
        }));
    }
    Ok(rules)
}

/// The importer's expectations from the flags; the current time is read here, never in the
/// library.
fn expectations(
    trust: &TrustArgs,
    installed: Option<&Path>,
    latest: Option<PathBuf>,
) -> Result<Expectations, Failure> {
    let now = match &trust.now {
        Some(text) => parse_time(text)?,
        None => Utc::now(),
    };
    Ok(Expectations {
        allow_development: trust.allow_development,
        installed: installed.map(verify::load_installed).transpose()?,
        keys: verify::load_keys(&trust.key)?,
        latest,
        now,
        product: trust.product.clone(),
        revoked: trust.revoked.clone(),
    })
}

fn verify(args: VerifyArgs) -> Result<u8, Failure> {
    let expect = expectations(&args.trust, args.installed.as_deref(), args.latest)?;
    let report = if args.path.is_dir() {
        verify::verify_release(&args.path, &expect)
    } else {
        verify::verify_bundle(&args.path, &expect)
    };
    let report = report.map_err(|error| {
        let usage = "give a release folder such as `dist/RU26-001`, or a bundle such as \
                     `dist/RU26-001/firewall.zip`";
        verify_failure(error, &args.path, usage)
    })?;
    if args.trust.json {
        let json = serde_json::to_string_pretty(&report).context("cannot write the report")?;
        println!("{json}");
    }
    let subject = subject(&report, &args.path);
    if !report.accepted() {
        return Err(refusal(&report.problems, &subject));
    }
    eprintln!("accepted {subject}: {}", summary(&report));
    Ok(0)
}

/// What was verified, as the summary names it.
fn subject(report: &Report, path: &Path) -> String {
    let release = match (&report.release, report.sequence) {
        (Some(release), Some(sequence)) => {
            Some(format!("release `{release}` (sequence {sequence})"))
        }
        _ => None,
    };
    match (path.is_dir(), release) {
        (true, Some(release)) => release,
        (false, Some(release)) => format!("`{}` of {release}", path.display()),
        (_, None) => format!("`{}`", path.display()),
    }
}

fn summary(report: &Report) -> String {
    let key = report.key_id.map(|k| k.to_string()).unwrap_or_default();
    format!(
        "{} bundle(s), {} rule(s), signed by key `{key}`",
        report.bundles, report.rules
    )
}

/// Exit 2, with a hint for a path given on the command line that does not exist.
fn verify_failure(error: VerifyError, given: &Path, usage: &str) -> Failure {
    let missing = matches!(&error, VerifyError::Read { path, source }
        if path == given && source.kind() == std::io::ErrorKind::NotFound);
    let mut failure = Failure::from(error);
    if missing {
        failure.help = Some(usage.to_owned());
    }
    failure
}

/// Exit 1, with one line per problem before the error.
fn refusal(problems: &[verify::Problem], subject: &str) -> Failure {
    let development = problems
        .iter()
        .any(|p| p.reason == verify::Reason::Development);
    Failure {
        code: 1,
        error: Some(anyhow::anyhow!(
            "refused {subject}: {} problem(s)",
            problems.len()
        )),
        help: development.then(|| {
            "to import a development release on purpose, pass `--allow-development`".to_owned()
        }),
        lines: problems.iter().map(|p| format!("warning: {p}")).collect(),
    }
}

fn audit(args: AuditArgs) -> Result<u8, Failure> {
    let expect = expectations(&args.trust, None, None)?;
    let report = verify::audit(&args.dist, &expect).map_err(|error| {
        verify_failure(error, &args.dist, "give an output folder such as `dist`")
    })?;
    if args.trust.json {
        let json = serde_json::to_string_pretty(&AuditJson::new(&report))
            .context("cannot write the report")?;
        println!("{json}");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let subject = format!("output folder `{}`", args.dist.display());
    if !report.accepted() {
        return Err(refusal(&report.problems, &subject));
    }
    let span = match (report.releases.first(), report.releases.last()) {
        (Some(first), Some(last)) if first != last => {
            format!(", chained from `{first}` to `{last}`")
        }
        (Some(only), _) => format!(": `{only}`"),
        _ => String::new(),
    };
    eprintln!(
        "accepted {subject}: {} release(s){span}",
        report.releases.len()
    );
    Ok(0)
}

/// The audit as JSON: the outcome first, as for `verify`.
#[derive(serde::Serialize)]
struct AuditJson<'a> {
    outcome: &'static str,
    #[serde(flatten)]
    report: &'a AuditReport,
}

impl AuditJson<'_> {
    fn new(report: &AuditReport) -> AuditJson<'_> {
        AuditJson {
            outcome: report.outcome(),
            report,
        }
    }
}
