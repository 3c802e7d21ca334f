//! Reading `FLEET.yaml` and the published versions file into checked values.
//!
//! Two passes: serde-saphyr reads the YAML into raw structs that keep each scalar's place,
//! then every check runs over all of it, so that one error lists every problem in the file,
//! sorted, each at `path:line:col`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use thiserror::Error;

use super::{Agent, Available, Fleet, Relay};
use crate::rules::Location;
use crate::version::{AgentVersion, VersionError};

/// Why a fleet file or a published versions file could not be used.
#[derive(Debug, Error)]
pub enum FleetError {
    #[error("found {} in `{}`:{}", plural(.problems.len()), .path.display(), list(.problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<FleetProblem>,
    },
    #[error("cannot parse `{location}`")]
    ParseYaml {
        /// `path:line:col`, or only the path where the parser gives no place.
        location: String,
        // Boxed because the parser's error is large and errors travel by value.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("cannot read `{}`", .path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One problem in a file that parsed as YAML. [`FleetError::Invalid`] carries all of them, so
/// that one run shows everything to fix.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
pub enum FleetProblem {
    #[error(
        "{location}: `{name}` is already the name of an entry at line {first_line}\n\
         help: relays and agents share one set of names, because the upgrade order lists them"
    )]
    DuplicateName {
        first_line: u32,
        location: Location,
        name: String,
    },
    #[error("{location}: a name must not be empty")]
    EmptyName { location: Location },
    #[error("{location}: {reason}")]
    InvalidVersion {
        location: Location,
        reason: VersionError,
    },
    #[error(
        "{location}: agent `{agent}` names relay `{relay}`, which is not under `relays`\n\
         help: add relay `{relay}` under `relays`, or name one of the relays listed there"
    )]
    UnknownRelay {
        agent: String,
        location: Location,
        relay: String,
    },
}

impl FleetProblem {
    pub fn location(&self) -> &Location {
        match self {
            FleetProblem::DuplicateName { location, .. }
            | FleetProblem::EmptyName { location }
            | FleetProblem::InvalidVersion { location, .. }
            | FleetProblem::UnknownRelay { location, .. } => location,
        }
    }
}

fn plural(count: usize) -> String {
    match count {
        1 => "1 problem".to_owned(),
        _ => format!("{count} problems"),
    }
}

/// Each problem on its own lines, indented under the summary.
fn list(problems: &[FleetProblem]) -> String {
    problems
        .iter()
        .flat_map(|problem| {
            let text = problem.to_string();
            text.lines()
                .map(|line| format!("\n  {line}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    #[serde(default)]
    agents: Vec<RawAgent>,
    #[serde(default)]
    relays: Vec<RawRelay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: Spanned<String>,
    relay: Spanned<String>,
    version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelay {
    name: Spanned<String>,
    version: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAvailable {
    #[serde(default)]
    agent: Vec<Spanned<String>>,
    #[serde(default)]
    relay: Vec<Spanned<String>>,
}

/// Reads and checks a fleet file: relays and the agents each serves.
pub fn load_fleet(path: &Path) -> Result<Fleet, FleetError> {
    parse_fleet(&read(path)?, path)
}

/// Reads and checks a published versions file: `agent` and `relay` lists of versions.
pub fn load_available(path: &Path) -> Result<Available, FleetError> {
    parse_available(&read(path)?, path)
}

fn read(path: &Path) -> Result<String, FleetError> {
    fs::read_to_string(path).map_err(|source| FleetError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// Checks the text of a fleet file; `path` is only named in errors. Both keys may be left
/// out, so an empty file is a fleet with nothing in it.
pub fn parse_fleet(text: &str, path: &Path) -> Result<Fleet, FleetError> {
    let raw: RawFleet = parse_yaml(text, path)?;
    let mut check = Check::new(path);

    let relay_names: HashSet<&str> = raw.relays.iter().map(|r| r.name.value.as_str()).collect();
    let relays: Vec<Option<Relay>> = raw.relays.iter().map(|raw| check.relay(raw)).collect();
    let agents: Vec<Option<Agent>> = raw
        .agents
        .iter()
        .map(|raw| check.agent(raw, &relay_names))
        .collect();

    check.finish()?;
    Ok(Fleet {
        agents: agents.into_iter().flatten().collect(),
        relays: relays.into_iter().flatten().collect(),
    })
}

/// Checks the text of a published versions file; `path` is only named in errors.
pub fn parse_available(text: &str, path: &Path) -> Result<Available, FleetError> {
    let raw: RawAvailable = parse_yaml(text, path)?;
    let mut check = Check::new(path);

    let agent: Vec<Option<AgentVersion>> = raw.agent.iter().map(|v| check.version(v)).collect();
    let relay: Vec<Option<AgentVersion>> = raw.relay.iter().map(|v| check.version(v)).collect();

    check.finish()?;
    Ok(Available {
        agent: agent.into_iter().flatten().collect(),
        relay: relay.into_iter().flatten().collect(),
    })
}

fn parse_yaml<'de, T: Deserialize<'de>>(text: &'de str, path: &Path) -> Result<T, FleetError> {
    serde_saphyr::from_str(text).map_err(|source: serde_saphyr::Error| {
        let location = match source.location() {
            Some(at) => format!("{}:{}:{}", path.display(), at.line(), at.column()),
            None => path.display().to_string(),
        };
        FleetError::ParseYaml {
            location,
            source: Box::new(source),
        }
    })
}

/// The checks of one file, gathering every problem rather than stopping at the first.
struct Check {
    /// The line each name was first given at.
    names: HashMap<String, u32>,
    path: PathBuf,
    problems: Vec<FleetProblem>,
}

impl Check {
    fn new(path: &Path) -> Check {
        Check {
            names: HashMap::new(),
            path: path.to_owned(),
            problems: Vec::new(),
        }
    }

    fn locate<T>(&self, spanned: &Spanned<T>) -> Location {
        // A file of more than four billion lines is not a fleet file; saturate rather than fail.
        let number = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Location::new(
            &self.path.display().to_string(),
            number(spanned.referenced.line()),
            number(spanned.referenced.column()),
        )
    }

    fn version(&mut self, raw: &Spanned<String>) -> Option<AgentVersion> {
        match raw.value.parse() {
            Ok(version) => Some(version),
            Err(reason) => {
                let location = self.locate(raw);
                self.problems
                    .push(FleetProblem::InvalidVersion { location, reason });
                None
            }
        }
    }

    /// Records a name, refusing it when empty or already taken by a relay or an agent.
    fn name(&mut self, raw: &Spanned<String>) -> Option<String> {
        let location = self.locate(raw);
        if raw.value.is_empty() {
            self.problems.push(FleetProblem::EmptyName { location });
            return None;
        }
        if let Some(&first_line) = self.names.get(&raw.value) {
            let name = raw.value.clone();
            self.problems.push(FleetProblem::DuplicateName {
                first_line,
                location,
                name,
            });
            return None;
        }
        self.names.insert(raw.value.clone(), location.line);
        Some(raw.value.clone())
    }

    fn relay(&mut self, raw: &RawRelay) -> Option<Relay> {
        let name = self.name(&raw.name);
        let version = self.version(&raw.version);
        Some(Relay {
            name: name?,
            version: version?,
        })
    }

    fn agent(&mut self, raw: &RawAgent, relays: &HashSet<&str>) -> Option<Agent> {
        let name = self.name(&raw.name);
        let version = self.version(&raw.version);
        if !relays.contains(raw.relay.value.as_str()) {
            self.problems.push(FleetProblem::UnknownRelay {
                agent: raw.name.value.clone(),
                location: self.locate(&raw.relay),
                relay: raw.relay.value.clone(),
            });
            return None;
        }
        Some(Agent {
            name: name?,
            relay: raw.relay.value.clone(),
            version: version?,
        })
    }

    /// Fails with every problem found, in the order of the file.
    fn finish(mut self) -> Result<(), FleetError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        self.problems.sort_by(|a, b| a.location().cmp(b.location()));
        Err(FleetError::Invalid {
            path: self.path,
            problems: self.problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet_error(text: &str) -> FleetError {
        parse_fleet(text, Path::new("fleet.yaml")).expect_err("the fleet is invalid")
    }

    fn problems(text: &str) -> Vec<FleetProblem> {
        match fleet_error(text) {
            FleetError::Invalid { problems, .. } => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example_loads() {
        let text = "relays:\n  - { name: relay-eu, version: 20.0.1-1000 }\nagents:\n  \
                    - { name: web-01, version: 20.0.1-900, relay: relay-eu }\n  \
                    - { name: db-01, version: 9.6.100, relay: relay-eu }\n";
        let fleet = parse_fleet(text, Path::new("fleet.yaml")).expect("a valid fleet");
        assert_eq!(fleet.relays().len(), 1);
        assert_eq!(fleet.relays()[0].version.to_string(), "20.0.1-1000");
        let agents: Vec<(&str, String, &str)> = fleet
            .agents()
            .iter()
            .map(|a| (a.name.as_str(), a.version.to_string(), a.relay.as_str()))
            .collect();
        assert_eq!(
            agents,
            [
                ("web-01", "20.0.1-900".to_owned(), "relay-eu"),
                ("db-01", "9.6.100".to_owned(), "relay-eu")
            ]
        );
    }

    #[test]
    fn an_unknown_relay_names_the_agent_and_its_place() {
        let text = "relays:\n  - { name: relay-eu, version: 20.0.1-1000 }\nagents:\n  \
                    - { name: web-01, version: 20.0.1-900, relay: relay-us }\n";
        let error = fleet_error(text);
        assert_eq!(
            error.to_string(),
            "found 1 problem in `fleet.yaml`:\n  \
             fleet.yaml:4:49: agent `web-01` names relay `relay-us`, which is not under `relays`\n  \
             help: add relay `relay-us` under `relays`, or name one of the relays listed there"
        );
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = "relays:\n  - { name: r, version: 9.6 }\nagents:\n  \
                    - { name: a, version: 20.0.1-x, relay: nowhere }\n  \
                    - { name: r, version: 9.6.100, relay: r }\n";
        let found: Vec<String> = problems(text)
            .iter()
            .map(|p| p.to_string().lines().next().unwrap_or_default().to_owned())
            .collect();
        let bad_version = |text: &str, at: &str| {
            format!(
                "fleet.yaml:{at}: {}",
                VersionError::Shape {
                    text: text.to_owned()
                }
            )
        };
        assert_eq!(
            found,
            [
                bad_version("9.6", "2:25"),
                bad_version("20.0.1-x", "4:25"),
                "fleet.yaml:4:42: agent `a` names relay `nowhere`, which is not under `relays`"
                    .to_owned(),
                "fleet.yaml:5:13: `r` is already the name of an entry at line 2".to_owned(),
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused_at_their_place() {
        let text = "relays: []\nagents:\n  - { name: a, version: 9.6.100, relay: r, site: x }\n";
        let error = fleet_error(text);
        let FleetError::ParseYaml { location, .. } = &error else {
            panic!("expected a parse error, got {error:?}");
        };
        assert!(location.starts_with("fleet.yaml:3:"), "{location}");
        assert!(error.to_string().starts_with("cannot parse `fleet.yaml:3:"));
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(cause.is_some_and(|cause| cause.contains("unknown field `site`")));
    }

    #[test]
    fn an_empty_file_is_an_empty_fleet() {
        let fleet = parse_fleet("", Path::new("fleet.yaml")).expect("an empty fleet");
        assert!(fleet.agents().is_empty() && fleet.relays().is_empty());
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let error = load_fleet(Path::new("/nonexistent/fleet.yaml")).expect_err("no such file");
        assert_eq!(error.to_string(), "cannot read `/nonexistent/fleet.yaml`");
        assert!(matches!(error, FleetError::ReadFile { .. }));
    }

    #[test]
    fn published_versions_load_in_every_form() {
        let text = "agent: [9.6.200, 10.0.100, 20.0.1-1100, 20.0.0.8438]\nrelay: [20.0.1-1100]\n";
        let available = parse_available(text, Path::new("versions.yaml")).expect("valid");
        let shown: Vec<String> = available.agent.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["9.6.200", "10.0.100", "20.0.1-1100", "20.0.0.8438"]);
        assert_eq!(available.relay.len(), 1);
    }

    #[test]
    fn a_bad_published_version_is_located() {
        let text = "agent: [9.6.200, 10.0]\n";
        let error = parse_available(text, Path::new("versions.yaml")).expect_err("invalid");
        let FleetError::Invalid { problems, .. } = error else {
            panic!("expected problems");
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location().to_string(), "versions.yaml:1:18");
    }
}
