//! The fleet report: JSON for machines through `Serialize`, text for people.
//!
//! The JSON has exactly five keys, `relays_behind`, `alerts`, `no_alert`, `missing_rules` and
//! `upgrade_order`, and each entry exactly the keys its type's docs name; everything else a
//! type holds (current versions, upgrade targets) is there for the text and skipped in JSON.

use serde::{Serialize, Serializer};

use crate::version::AgentVersion;

/// What [`super::assess`] found. Fields are in the order the text shows them, which is also
/// the order of the JSON keys.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct FleetReport {
    pub relays_behind: Vec<RelayBehind>,
    pub alerts: Vec<Alert>,
    pub no_alert: Vec<NoAlert>,
    pub missing_rules: Vec<MissingRules>,
    pub upgrade_order: Vec<Upgrade>,
    /// Whether published versions were given; without them the text says alerts were not
    /// checked rather than that there are none.
    #[serde(skip)]
    pub(super) checked_available: bool,
    /// Whether a release was given, for the same reason.
    #[serde(skip)]
    pub(super) checked_release: bool,
}

/// A relay that runs an older version than an agent it serves. JSON: `{relay, agent}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct RelayBehind {
    pub agent: String,
    #[serde(skip)]
    pub agent_version: AgentVersion,
    pub relay: String,
    #[serde(skip)]
    pub relay_version: AgentVersion,
}

/// An update alert: the version an agent should move to. JSON: `{agent, version}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Alert {
    pub agent: String,
    /// The version the agent runs now.
    #[serde(skip)]
    pub from: AgentVersion,
    pub version: AgentVersion,
}

/// A published agent version that alerts nobody, and why. JSON: `{version, reason}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct NoAlert {
    pub reason: String,
    pub version: AgentVersion,
}

/// The rules of a release an agent cannot run. JSON: `{agent, rules, needs}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct MissingRules {
    pub agent: String,
    /// The highest minimum agent version among `rules`: the version that runs them all.
    pub needs: AgentVersion,
    /// Each rule as `kind/id`, such as `intrusion-prevention/1:2000001`, sorted.
    pub rules: Vec<String>,
    /// The version the agent runs now.
    #[serde(skip)]
    pub version: AgentVersion,
}

/// Whether an upgrade is of a relay or of an agent.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Role {
    Agent,
    Relay,
}

/// One step of the upgrade order. JSON: the name alone.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Upgrade {
    /// The lowest version that satisfies the policy: for a relay, the newest version its agents
    /// will run; for an agent, its alert.
    pub at_least: AgentVersion,
    pub from: AgentVersion,
    pub name: String,
    pub role: Role,
    /// The version to install; `None` for a relay when no published relay version is at least
    /// `at_least`.
    pub to: Option<AgentVersion>,
}

impl Serialize for Upgrade {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl FleetReport {
    /// True when some relay runs an older version than an agent it serves.
    pub fn relays_behind_any(&self) -> bool {
        !self.relays_behind.is_empty()
    }

    /// True when some agent cannot run some rule of the release.
    pub fn missing_any(&self) -> bool {
        !self.missing_rules.is_empty()
    }

    /// The report for people, one section a finding, in the order of the JSON keys.
    pub fn render_text(&self) -> String {
        let sections = [
            self.relays_behind_text(),
            self.alerts_text(),
            self.no_alert_text(),
            self.missing_rules_text(),
            self.upgrade_order_text(),
        ];
        let shown: Vec<String> = sections.into_iter().filter(|s| !s.is_empty()).collect();
        shown.join("\n")
    }

    fn relays_behind_text(&self) -> String {
        let lines = self.relays_behind.iter().map(|behind| {
            format!(
                "relay `{}` runs {}, older than agent `{}` on {}: upgrade the relay first",
                behind.relay, behind.relay_version, behind.agent, behind.agent_version
            )
        });
        section("relays behind an agent they serve", lines, "none")
    }

    fn alerts_text(&self) -> String {
        if !self.checked_available {
            return section(
                "update alerts",
                [],
                "not checked: no published versions given",
            );
        }
        let lines = self.alerts.iter().map(|alert| {
            format!(
                "agent `{}`: {} -> {}",
                alert.agent, alert.from, alert.version
            )
        });
        section("update alerts", lines, "none")
    }

    fn no_alert_text(&self) -> String {
        if !self.checked_available {
            return String::new();
        }
        let lines = self
            .no_alert
            .iter()
            .map(|quiet| format!("{}: {}", quiet.version, quiet.reason));
        section("published versions that alert nobody", lines, "none")
    }

    fn missing_rules_text(&self) -> String {
        if !self.checked_release {
            return section(
                "rules agents cannot run",
                [],
                "not checked: no release given",
            );
        }
        let lines = self.missing_rules.iter().map(|missing| {
            format!(
                "agent `{}` on {} needs {} for {}: {}",
                missing.agent,
                missing.version,
                missing.needs,
                count(missing.rules.len(), "rule"),
                missing.rules.join(", ")
            )
        });
        section("rules agents cannot run", lines, "none")
    }

    fn upgrade_order_text(&self) -> String {
        let lines = self.upgrade_order.iter().enumerate().map(|(index, step)| {
            let role = match step.role {
                Role::Agent => "agent",
                Role::Relay => "relay",
            };
            let to = match step.to {
                Some(to) => to.to_string(),
                None => format!("{} or newer (no published relay version is)", step.at_least),
            };
            format!(
                "{}. {role} `{}`: {} -> {to}",
                index + 1,
                step.name,
                step.from
            )
        });
        section("upgrade order, relays first", lines, "nothing to upgrade")
    }
}

/// A heading, then each line indented, or `empty` when there are none.
fn section(heading: &str, lines: impl IntoIterator<Item = String>, empty: &str) -> String {
    let mut lines: Vec<String> = lines.into_iter().collect();
    if lines.is_empty() {
        lines.push(empty.to_owned());
    }
    let body: String = lines.iter().map(|line| format!("  {line}\n")).collect();
    format!("{heading}:\n{body}")
}

fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}
