//! `release.yaml`: everything about a product's releases, read and checked before any work.
//!
//! The first stage of the pipeline. Unknown keys and bad values are errors that name the file,
//! line and column and say what is allowed; relative paths are resolved against the folder
//! holding `release.yaml`, so a build means the same thing from any working directory.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use serde::Deserialize;
use serde_saphyr::Spanned;
use thiserror::Error;

use crate::rules::yaml::describe_error;
use crate::rules::{Format, Kind, Location, Severity};
use crate::schedule::{self, Schedule, ScheduleError};
use crate::version::AgentVersion;

/// The grace period when `release.grace` is absent.
pub const DEFAULT_GRACE_HOURS: i64 = 48;

/// The share of a kind's rules a release may remove when `guards.max_removed_share` is absent.
pub const DEFAULT_MAX_REMOVED_SHARE: f64 = 0.05;

/// The release id pattern used when `release.id` is absent.
pub const DEFAULT_ID_PATTERN: &str = "RU{yy}-{seq}";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
    #[error("cannot read configuration `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A checked `release.yaml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The folder `release.yaml` is in; every relative path is relative to it.
    pub base: PathBuf,
    pub guards: Guards,
    pub output: PathBuf,
    pub path: PathBuf,
    pub product: String,
    pub release: ReleaseSettings,
    pub signing: SigningSettings,
    pub sources: Vec<SourceConfig>,
    /// A folder of release-notes templates overriding the built-in ones.
    pub templates: Option<PathBuf>,
    /// Whether a rule building on a rule the release does not hold is an error or a warning.
    pub missing_references: Severity,
}

#[derive(Clone, Debug)]
pub struct Guards {
    /// The largest share of a kind's rules a release may remove.
    pub max_removed_share: f64,
}

#[derive(Clone, Debug)]
pub struct ReleaseSettings {
    /// How late a missed slot may still be cut.
    pub grace: TimeDelta,
    pub id: IdPattern,
    pub schedule: Option<Schedule>,
    pub skip_unchanged: bool,
}

#[derive(Clone, Debug)]
pub struct SigningSettings {
    /// True only for samples: a missing key is then created, and marked as a development key.
    pub development: bool,
    pub key: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub format: Option<Format>,
    pub kind: Kind,
    pub location: Location,
    /// The minimum agent version of the source's rules that name none.
    pub min_agent_version: Option<String>,
    pub name: String,
    pub origin: Origin,
}

/// Where a source's files come from.
#[derive(Clone, Debug)]
pub enum Origin {
    Folder(PathBuf),
    Git {
        path: String,
        reference: String,
        repo: PathBuf,
    },
}

/// A release id pattern such as `RU{yy}-{seq}`: `{yy}` or `{yyyy}` is the year, `{seq}` the
/// release's number within that year, zero-padded to three digits.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IdPattern(String);

impl IdPattern {
    pub fn parse(text: &str) -> Result<IdPattern, String> {
        let rest = text
            .replace("{yyyy}", "")
            .replace("{yy}", "")
            .replace("{seq}", "");
        if !text.contains("{seq}") || !(text.contains("{yy}") || text.contains("{yyyy}")) {
            return Err(format!(
                "release id `{text}` needs `{{seq}}` and `{{yy}}` or `{{yyyy}}`"
            ));
        }
        if text.matches("{seq}").count() != 1 {
            return Err(format!("release id `{text}` must hold `{{seq}}` once"));
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !rest.chars().all(safe) || text.starts_with('.') {
            return Err(format!(
                "release id `{text}` may hold only letters, digits, `-`, `_` and `.` besides its \
                 placeholders, and may not start with `.`"
            ));
        }
        Ok(IdPattern(text.to_owned()))
    }

    /// The id of the `year_sequence`th release of `year`.
    pub fn format(&self, year: i32, year_sequence: u32) -> String {
        self.0
            .replace("{yyyy}", &format!("{year:04}"))
            .replace("{yy}", &format!("{:02}", year.rem_euclid(100)))
            .replace("{seq}", &format!("{year_sequence:03}"))
    }
}

impl fmt::Display for IdPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// The file as written. Values that need checking beyond their type are `Spanned`, so that
// an error can name their line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    guards: RawGuards,
    #[serde(default)]
    notes: RawNotes,
    output: Option<String>,
    product: Spanned<String>,
    #[serde(default)]
    release: RawRelease,
    #[serde(default)]
    signing: RawSigning,
    sources: Vec<RawSource>,
    #[serde(default)]
    validation: RawValidation,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidation {
    missing_references: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    max_removed_share: Option<Spanned<f64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotes {
    templates: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    grace: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    skip_unchanged: Option<bool>,
    timezone: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    #[serde(default)]
    development: bool,
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    format: Option<Format>,
    git: Option<RawGit>,
    kind: Kind,
    min_agent_version: Option<Spanned<String>>,
    name: Spanned<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGit {
    path: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    repo: String,
}

/// Reads and checks `release.yaml`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let display = path.display().to_string();
    let raw: RawConfig = serde_saphyr::from_str(&text).map_err(|error| {
        let (line, column, message) = describe_error(&error);
        ConfigError::Invalid {
            location: Location::new(&display, line, column),
            message,
        }
    })?;
    let base = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        // Joined onto nothing, relative paths stay as people wrote them in messages.
        _ => PathBuf::new(),
    };
    check(raw, &display, base, path)
}

/// Turns a place in `release.yaml` into an error there.
struct Places<'a> {
    display: &'a str,
}

impl Places<'_> {
    fn at(&self, span: &serde_saphyr::Location) -> Location {
        Location::new(self.display, span.line() as u32, span.column() as u32)
    }

    fn error(&self, span: &serde_saphyr::Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: self.at(span),
            message: message.into(),
        }
    }
}

fn check(raw: RawConfig, display: &str, base: PathBuf, path: &Path) -> Result<Config, ConfigError> {
    let places = Places { display };
    if raw.product.value.trim().is_empty() {
        return Err(places.error(&raw.product.referenced, "`product` may not be empty"));
    }
    let release = check_release(&raw.release, &places)?;
    let max_removed_share = check_share(raw.guards.max_removed_share.as_ref(), &places)?;
    let missing_references = check_severity(raw.validation.missing_references.as_ref(), &places)?;
    Ok(Config {
        guards: Guards { max_removed_share },
        missing_references,
        output: base.join(raw.output.as_deref().unwrap_or("dist")),
        path: path.to_owned(),
        product: raw.product.value,
        release,
        signing: SigningSettings {
            development: raw.signing.development,
            key: raw.signing.key.map(|key| base.join(key)),
        },
        sources: check_sources(raw.sources, display, &base)?,
        templates: raw.notes.templates.map(|t| base.join(t)),
        base,
    })
}

fn check_release(raw: &RawRelease, places: &Places) -> Result<ReleaseSettings, ConfigError> {
    let id = match &raw.id {
        Some(id) => IdPattern::parse(&id.value).map_err(|m| places.error(&id.referenced, m))?,
        None => IdPattern(DEFAULT_ID_PATTERN.to_owned()),
    };
    let grace = match &raw.grace {
        Some(grace) => schedule::parse_duration(&grace.value)
            .map_err(|e| places.error(&grace.referenced, e.to_string()))?,
        None => TimeDelta::hours(DEFAULT_GRACE_HOURS),
    };
    Ok(ReleaseSettings {
        grace,
        id,
        schedule: check_schedule(raw, places)?,
        skip_unchanged: raw.skip_unchanged.unwrap_or(true),
    })
}

fn check_schedule(raw: &RawRelease, places: &Places) -> Result<Option<Schedule>, ConfigError> {
    let zone = raw.timezone.as_ref();
    let Some(crontab) = &raw.schedule else {
        return match zone {
            Some(zone) => Err(places.error(&zone.referenced, "`timezone` needs a `schedule`")),
            None => Ok(None),
        };
    };
    let zone_name = zone.map_or(schedule::DEFAULT_TIMEZONE, |z| z.value.as_str());
    let parsed = Schedule::parse(&crontab.value, zone_name);
    // An unknown zone is the zone's fault: point at it, not at the crontab.
    let span = match (&parsed, zone) {
        (Err(ScheduleError::UnknownTimezone { .. }), Some(zone)) => &zone.referenced,
        _ => &crontab.referenced,
    };
    parsed
        .map(Some)
        .map_err(|e| places.error(span, e.to_string()))
}

fn check_share(share: Option<&Spanned<f64>>, places: &Places) -> Result<f64, ConfigError> {
    match share {
        Some(share) if !(0.0..=1.0).contains(&share.value) => {
            let message = format!(
                "`max_removed_share` is {}: allowed is 0.0 to 1.0",
                share.value
            );
            Err(places.error(&share.referenced, message))
        }
        Some(share) => Ok(share.value),
        None => Ok(DEFAULT_MAX_REMOVED_SHARE),
    }
}

fn check_severity(
    value: Option<&Spanned<String>>,
    places: &Places,
) -> Result<Severity, ConfigError> {
    match value.map(|v| (v, v.value.as_str())) {
        None | Some((_, "error")) => Ok(Severity::Error),
        Some((_, "warning")) => Ok(Severity::Warning),
        Some((v, other)) => {
            let message =
                format!("`missing_references` is `{other}`: allowed are `error` and `warning`");
            Err(places.error(&v.referenced, message))
        }
    }
}

fn check_sources(
    raw: Vec<RawSource>,
    display: &str,
    base: &Path,
) -> Result<Vec<SourceConfig>, ConfigError> {
    let places = Places { display };
    if raw.is_empty() {
        let message = "`sources` lists no source: a release needs at least one";
        return Err(ConfigError::Invalid {
            location: Location::new(display, 1, 1),
            message: message.into(),
        });
    }
    let mut sources: Vec<SourceConfig> = Vec::new();
    for source in raw {
        let name = &source.name;
        if let Some(first) = sources.iter().find(|s| s.name == name.value) {
            let message = format!(
                "source `{}` is also named at {}",
                name.value, first.location
            );
            return Err(places.error(&name.referenced, message));
        }
        sources.push(check_source(source, &places, base)?);
    }
    Ok(sources)
}

fn check_source(
    source: RawSource,
    places: &Places,
    base: &Path,
) -> Result<SourceConfig, ConfigError> {
    let span = source.name.referenced;
    let name = source.name.value;
    // Source names become folder names inside bundles.
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(safe) {
        let message = format!(
            "source name `{name}` may hold only letters, digits, `-`, `_` and `.`, and may not \
             start with `.`"
        );
        return Err(places.error(&span, message));
    }
    let origin = origin(source.path, source.git, base)
        .map_err(|message| places.error(&span, format!("source `{name}` {message}")))?;
    if let Some(version) = &source.min_agent_version {
        let parsed = version.value.parse::<AgentVersion>();
        parsed.map_err(|e| places.error(&version.referenced, e.to_string()))?;
    }
    Ok(SourceConfig {
        format: source.format,
        kind: source.kind,
        location: places.at(&span),
        min_agent_version: source.min_agent_version.map(|v| v.value),
        name,
        origin,
    })
}

/// Where a source's files come from, or what is wrong with how it says so.
fn origin(path: Option<String>, git: Option<RawGit>, base: &Path) -> Result<Origin, String> {
    match (path, git) {
        (Some(path), None) => Ok(Origin::Folder(base.join(path))),
        (None, Some(git)) => Ok(Origin::Git {
            path: git.path.unwrap_or_default(),
            reference: git.reference.unwrap_or_else(|| "HEAD".to_owned()),
            repo: repository_path(&git.repo, base)?,
        }),
        _ => Err("needs either `path` or `git`".to_owned()),
    }
}

/// A git repository's local path: a path relative to `release.yaml`, or a `file://` URL
/// (RFC 8089: `file:///path` or `file://localhost/path`, `%`-escaped). libgit2 opens paths,
/// not URLs, and rulecut never uses the network, so any other URL is refused here, where the
/// error can name its line.
fn repository_path(text: &str, base: &Path) -> Result<PathBuf, String> {
    if let Some(rest) = text.strip_prefix("file://") {
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if !path.starts_with('/') {
            return Err(format!(
                "has git repository `{text}`, which is not on this machine: a `file://` URL \
                 needs an absolute path, as in `file:///srv/rules.git`"
            ));
        }
        return percent_decode(path)
            .ok_or_else(|| format!("has git repository `{text}`, with a bad `%` escape"));
    }
    let scheme = text.split_once("://").map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(format!(
            "has git repository `{text}`, a remote URL: rulecut reads only local repositories, \
             by path or `file://` URL, and never uses the network"
        ));
    }
    Ok(base.join(text))
}

/// A URL path's `%XX` escapes decoded to the bytes they stand for.
fn percent_decode(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;

    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let escape = tail.get(..2)?;
            bytes.extend(hex::decode(escape).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("release.yaml");
        std::fs::write(&path, text).expect("write release.yaml");
        load(&path)
    }

    const MINIMAL: &str = "product: Example\nsources:\n  - name: fw\n    kind: firewall\n    \
                           path: rules/firewall\n";

    #[test]
    fn defaults_are_safe() {
        let config = load_text(MINIMAL).expect("a valid configuration");
        assert_eq!(config.release.id.to_string(), DEFAULT_ID_PATTERN);
        assert!(!config.signing.development);
        assert!(config.output.ends_with("dist"));
        assert_eq!(config.guards.max_removed_share, 0.05);
        assert!(config.release.schedule.is_none());
        assert_eq!(config.missing_references, Severity::Error);
        assert_eq!(config.release.grace, TimeDelta::hours(48));
    }

    #[test]
    fn unknown_keys_name_their_line_and_the_allowed_keys() {
        let error = load_text(&format!("{MINIMAL}colour: blue\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("release.yaml:6:1"), "{error}");
        assert!(error.contains("unknown field `colour`"), "{error}");
        assert!(error.contains("sources"), "{error}");
    }

    #[test]
    fn unknown_kind_says_what_is_allowed() {
        let error = load_text(&MINIMAL.replace("kind: firewall", "kind: antivirus"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(":4:11"), "{error}");
        assert!(error.contains("intrusion-prevention"), "{error}");
    }

    #[test]
    fn a_source_needs_exactly_one_of_path_and_git() {
        let text = format!("{MINIMAL}    git: {{ repo: ../x }}\n");
        let error = load_text(&text).unwrap_err().to_string();
        assert!(error.contains("needs either `path` or `git`"), "{error}");
    }

    fn git_source(repo: &str) -> Result<Config, ConfigError> {
        load_text(&format!(
            "product: Example\nsources:\n  - name: li\n    kind: log-inspection\n    \
             git: {{ repo: '{repo}', ref: main }}\n"
        ))
    }

    fn repo_of(config: &Config) -> &Path {
        match &config.sources[0].origin {
            Origin::Git { repo, .. } => repo,
            Origin::Folder(_) => panic!("a git source"),
        }
    }

    #[test]
    fn file_urls_name_local_repositories_by_their_decoded_path() {
        for (url, path) in [
            ("file:///srv/li-rules", "/srv/li-rules"),
            ("file://localhost/srv/li-rules", "/srv/li-rules"),
            ("file:///srv/li%20rules%2Egit", "/srv/li rules.git"),
        ] {
            let config = git_source(url).expect("a valid configuration");
            assert_eq!(repo_of(&config), Path::new(path), "{url}");
        }
        let config = git_source("../li-rules").expect("a valid configuration");
        assert!(repo_of(&config).ends_with("../li-rules"));
    }

    #[test]
    fn remote_and_malformed_repository_urls_are_refused_where_written() {
        for (url, expected) in [
            ("https://example.org/li.git", "a remote URL"),
            ("ssh://git@example.org/li.git", "a remote URL"),
            ("file://build-host/srv/li", "not on this machine"),
            ("file:///srv/li%2", "bad `%` escape"),
            ("file:///srv/li%zz", "bad `%` escape"),
        ] {
            let error = git_source(url).unwrap_err().to_string();
            assert!(
                error.contains(":3:11: source `li` has git repository"),
                "{error}"
            );
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn duplicate_source_names_name_the_first() {
        let text = format!("{MINIMAL}  - name: fw\n    kind: firewall\n    path: other\n");
        let error = load_text(&text).unwrap_err().to_string();
        assert!(
            error.contains(":6:11: source `fw` is also named at"),
            "{error}"
        );
    }

    #[test]
    fn removed_share_must_be_a_fraction() {
        let error = load_text(&format!("{MINIMAL}guards:\n  max_removed_share: 5\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(":7:22"), "{error}");
        assert!(error.contains("allowed is 0.0 to 1.0"), "{error}");
    }

    #[test]
    fn schedules_and_grace_periods_are_checked_where_written() {
        let text =
            format!("{MINIMAL}release:\n  schedule: '0 9 * * TUE'\n  timezone: Mars/Olympus\n");
        let error = load_text(&text).unwrap_err().to_string();
        assert!(
            error.contains(":8:13: unknown time zone `Mars/Olympus`"),
            "{error}"
        );
        let text = format!("{MINIMAL}release:\n  schedule: '0 9 * * 8'\n");
        let error = load_text(&text).unwrap_err().to_string();
        assert!(error.contains(":7:13: day-of-week `8`"), "{error}");
        let text = format!("{MINIMAL}release:\n  grace: two days\n");
        assert!(load_text(&text).unwrap_err().to_string().contains(":7:10:"));
        let text = format!("{MINIMAL}release:\n  schedule: '0 9 * * 2'\n  grace: 36h\n");
        let config = load_text(&text).expect("valid");
        assert_eq!(config.release.grace, TimeDelta::hours(36));
        assert_eq!(
            config.release.schedule.expect("a schedule").crontab(),
            "0 9 * * 2"
        );
    }

    #[test]
    fn missing_references_are_an_error_or_a_warning() {
        let text = format!("{MINIMAL}validation:\n  missing_references: warning\n");
        assert_eq!(
            load_text(&text).expect("valid").missing_references,
            Severity::Warning
        );
        let text = format!("{MINIMAL}validation:\n  missing_references: ignore\n");
        let error = load_text(&text).unwrap_err().to_string();
        assert!(
            error.contains(
                ":7:23: `missing_references` is `ignore`: allowed are `error` and `warning`"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_source_wide_minimum_agent_version_is_checked() {
        let text = MINIMAL.replace(
            "    path: rules/firewall\n",
            "    path: rules/firewall\n    min_agent_version: 20.0.1-100\n",
        );
        let config = load_text(&text).expect("valid");
        assert_eq!(
            config.sources[0].min_agent_version.as_deref(),
            Some("20.0.1-100")
        );
        let error = load_text(&text.replace("20.0.1-100", "twenty"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(":6:24: `twenty` is not an agent version"),
            "{error}"
        );
    }

    #[test]
    fn a_release_needs_a_source() {
        let error = load_text("product: X\nsources: []\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("`sources` lists no source: a release needs at least one"),
            "{error}"
        );
    }

    #[test]
    fn id_patterns_restart_their_sequence_per_year_and_pad_it() {
        let pattern = IdPattern::parse("RU{yy}-{seq}").expect("a valid pattern");
        assert_eq!(pattern.format(2026, 49), "RU26-049");
        assert_eq!(pattern.format(2027, 1), "RU27-001");
        assert_eq!(pattern.format(2027, 1234), "RU27-1234");
        assert_eq!(
            IdPattern::parse("R{yyyy}.{seq}")
                .expect("valid")
                .format(2026, 7),
            "R2026.007"
        );
    }

    #[test]
    fn id_patterns_need_a_year_and_a_sequence_and_no_path_characters() {
        assert!(IdPattern::parse("RU-{seq}").is_err());
        assert!(IdPattern::parse("RU{yy}").is_err());
        assert!(IdPattern::parse("../{yy}-{seq}").is_err());
        assert!(IdPattern::parse("a/{yy}-{seq}").is_err());
    }
}
