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
use crate::rules::{Format, Kind, Location};
use crate::schedule::{self, Schedule, ScheduleError};

/// The grace period when `release.grace` is absent.
pub const DEFAULT_GRACE_HOURS: i64 = 48;

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
        _ => PathBuf::from("."),
    };
    check(raw, &display, base, path)
}

fn check(raw: RawConfig, display: &str, base: PathBuf, path: &Path) -> Result<Config, ConfigError> {
    let at = |span: &serde_saphyr::Location| {
        Location::new(display, span.line() as u32, span.column() as u32)
    };
    let invalid = |location, message: String| ConfigError::Invalid { location, message };

    if raw.product.value.trim().is_empty() {
        return Err(invalid(
            at(&raw.product.referenced),
            "`product` may not be empty".into(),
        ));
    }
    let id = match &raw.release.id {
        Some(id) => IdPattern::parse(&id.value).map_err(|m| invalid(at(&id.referenced), m))?,
        None => IdPattern(DEFAULT_ID_PATTERN.to_owned()),
    };
    let max_removed_share = match &raw.guards.max_removed_share {
        Some(share) if !(0.0..=1.0).contains(&share.value) => {
            let message = format!(
                "`max_removed_share` is {}: allowed is 0.0 to 1.0",
                share.value
            );
            return Err(invalid(at(&share.referenced), message));
        }
        Some(share) => share.value,
        None => 0.05,
    };
    let sources = check_sources(raw.sources, display, &base)?;
    let grace = match &raw.release.grace {
        Some(grace) => schedule::parse_duration(&grace.value)
            .map_err(|e| invalid(at(&grace.referenced), e.to_string()))?,
        None => TimeDelta::hours(DEFAULT_GRACE_HOURS),
    };
    let timezone = raw.release.timezone.as_ref();
    let schedule = match (&raw.release.schedule, timezone) {
        (Some(crontab), zone) => {
            let zone_name = zone.map_or(schedule::DEFAULT_TIMEZONE, |z| z.value.as_str());
            let parsed = Schedule::parse(&crontab.value, zone_name);
            let span = match parsed {
                Err(ScheduleError::UnknownTimezone { .. }) => {
                    zone.map_or(&crontab.referenced, |z| &z.referenced)
                }
                _ => &crontab.referenced,
            };
            Some(parsed.map_err(|e| invalid(at(span), e.to_string()))?)
        }
        (None, Some(zone)) => {
            return Err(invalid(
                at(&zone.referenced),
                "`timezone` needs a `schedule`".into(),
            ));
        }
        (None, None) => None,
    };
    Ok(Config {
        guards: Guards { max_removed_share },
        output: base.join(raw.output.as_deref().unwrap_or("dist")),
        path: path.to_owned(),
        product: raw.product.value,
        release: ReleaseSettings {
            grace,
            id,
            schedule,
            skip_unchanged: raw.release.skip_unchanged.unwrap_or(true),
        },
        signing: SigningSettings {
            development: raw.signing.development,
            key: raw.signing.key.map(|key| base.join(key)),
        },
        sources,
        templates: raw.notes.templates.map(|t| base.join(t)),
        base,
    })
}

fn check_sources(
    raw: Vec<RawSource>,
    display: &str,
    base: &Path,
) -> Result<Vec<SourceConfig>, ConfigError> {
    let mut sources: Vec<SourceConfig> = Vec::new();
    for source in raw {
        let span = &source.name.referenced;
        let location = Location::new(display, span.line() as u32, span.column() as u32);
        let invalid = |message: String| ConfigError::Invalid {
            location: location.clone(),
            message,
        };
        let name = source.name.value;
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || name.starts_with('.') || !name.chars().all(safe) {
            return Err(invalid(format!(
                "source name `{name}` may hold only letters, digits, `-`, `_` and `.`, and may \
                 not start with `.`"
            )));
        }
        if let Some(first) = sources.iter().find(|s| s.name == name) {
            return Err(invalid(format!(
                "source `{name}` is also named at {}",
                first.location
            )));
        }
        let origin = match (source.path, source.git) {
            (Some(path), None) => Origin::Folder(base.join(path)),
            (None, Some(git)) => Origin::Git {
                path: git.path.unwrap_or_default(),
                reference: git.reference.unwrap_or_else(|| "HEAD".to_owned()),
                repo: base.join(git.repo),
            },
            _ => {
                return Err(invalid(format!(
                    "source `{name}` needs either `path` or `git`"
                )));
            }
        };
        sources.push(SourceConfig {
            format: source.format,
            kind: source.kind,
            location,
            name,
            origin,
        });
    }
    Ok(sources)
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
