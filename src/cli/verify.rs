//! The commands of the consumer's side: `verify` and `audit`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use clap::Args;

use rulecut::sign::KeyId;
use rulecut::verify::{self, AuditReport, Expectations, Report, VerifyError};

use super::{Failure, parse_time, usage};

pub const EXIT_CODES: &str = "\
Exit status:
  0  accepted: one summary line on stderr (and the JSON on stdout with --json)
  1  refused: one `warning:` line per problem on stderr, naming the file and the reason
  2  could not verify: an unreadable key, a missing path, an I/O error

Nothing is written or changed.";

#[derive(Args, Debug)]
pub struct TrustArgs {
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
pub struct VerifyArgs {
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
pub struct AuditArgs {
    /// The output folder, such as `dist`
    dist: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
}

/// The importer's expectations from the flags; the current time is read here, never in the
/// library.
fn expectations(
    trust: &TrustArgs,
    installed: Option<&Path>,
    latest: Option<PathBuf>,
) -> Result<Expectations, Failure> {
    let now = match &trust.now {
        Some(text) => parse_time(text).map_err(usage)?,
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

pub fn verify(args: VerifyArgs) -> Result<u8, Failure> {
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

pub fn audit(args: AuditArgs) -> Result<u8, Failure> {
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
