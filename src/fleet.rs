//! Fleet readiness: whether the relays and agents that consume releases can run one, and
//! what to upgrade, in which order, under the fleet's upgrade policy.
//!
//! This sits beside the release pipeline rather than in it: it reads `FLEET.yaml` (relays and
//! the agents each serves) and a list of published versions, takes the rules of a release
//! from the caller, and reports. Nothing here changes a release. The policy, as this module
//! applies it:
//!
//! - **Relays at or above their agents.** A relay whose version is lower than that of an agent
//!   it serves is reported in `relays_behind`, one entry per such agent.
//! - **Alerts stay within a line.** A line is `major.minor` (`9.6`, `20.0`). Each agent is
//!   alerted to at most one version: the newest published agent version of its own line, when
//!   that is newer than what it runs. An agent on `9.6.100` with `9.6.150` and `9.6.200`
//!   published is alerted to `9.6.200` only, because it would skip `9.6.150` anyway.
//! - **No alert for a new line.** A published version of a line that no agent runs (`10.0.100`
//!   when nobody runs `10.0`) alerts nobody; once one agent runs that line, its newer builds
//!   alert the agents on it. Every published agent version that alerts nobody is listed in
//!   `no_alert` with the reason: no agent runs its line, every agent on its line already runs
//!   it or newer, or a newer build of its line is the one alerted to.
//! - **Rules need a minimum agent.** With a release, each agent that cannot run some of its
//!   rules (its version is lower than a rule's minimum agent version) is listed with those
//!   rules, written `kind/id` and sorted, and `needs`, the highest of their minimums: the
//!   version that lets it run them all. Rules without a minimum run everywhere.
//! - **Relays first.** The upgrade order lists every relay that must be upgraded before any
//!   agent, then every agent with an alert, each name once. A relay must be upgraded when it is
//!   behind an agent it serves now, or would be once its agents take their alerts; relays
//!   behind now come first, then the others, each group by name. Its target is the lowest
//!   published relay version at or above the newest version its agents will run, the smallest
//!   step that keeps it ahead. Agents follow by name: once every relay is ahead, their order
//!   does not matter. Agents that miss rules but have no alert are not in the order, because
//!   moving to a new line is a decision the policy leaves to people.
//!
//! Published relay versions only choose relay targets; they raise no alerts.

mod load;
mod report;

use std::collections::HashMap;

use crate::version::AgentVersion;
pub use load::{
    FleetError, FleetProblem, load_available, load_fleet, parse_available, parse_fleet,
};
pub use report::{Alert, FleetReport, MissingRules, NoAlert, RelayBehind, Role, Upgrade};

/// A relay: it passes rule updates on to the agents that name it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Relay {
    pub name: String,
    pub version: AgentVersion,
}

/// An agent: it runs rules, and receives them through one relay.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Agent {
    pub name: String,
    /// The name of the relay it receives rules through.
    pub relay: String,
    pub version: AgentVersion,
}

/// Relays and agents as `FLEET.yaml` lists them, checked: names are unique across both, and
/// every agent's relay is one of the relays. Built by [`load_fleet`] or [`parse_fleet`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Fleet {
    agents: Vec<Agent>,
    relays: Vec<Relay>,
}

impl Fleet {
    /// The agents, in the order the file lists them.
    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    /// The relays, in the order the file lists them.
    pub fn relays(&self) -> &[Relay] {
        &self.relays
    }

    /// The agents a relay serves.
    fn served_by<'a>(&'a self, relay: &'a Relay) -> impl Iterator<Item = &'a Agent> + Clone {
        self.agents.iter().filter(|agent| agent.relay == relay.name)
    }
}

/// The versions published for agents and for relays.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Available {
    pub agent: Vec<AgentVersion>,
    pub relay: Vec<AgentVersion>,
}

/// What this module needs to know of one rule of a release.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ReleaseRule {
    pub id: String,
    /// The rule's kind as bundles name it, such as `intrusion-prevention`.
    pub kind: String,
    pub min_agent_version: Option<AgentVersion>,
}

/// Applies the upgrade policy (see the module docs) to a fleet. Without `available` there are
/// no alerts and relay targets are unknown; without `release` no rule is missed.
pub fn assess(
    fleet: &Fleet,
    available: Option<&Available>,
    release: Option<&[ReleaseRule]>,
) -> FleetReport {
    let published = available.cloned().unwrap_or_default();

    let alerts = alerts(fleet, &published.agent);
    let upgrade_order = upgrade_order(fleet, &alerts, &published.relay);

    FleetReport {
        relays_behind: relays_behind(fleet),
        no_alert: no_alert(fleet, &published.agent),
        missing_rules: release.map_or_else(Vec::new, |rules| missing_rules(fleet, rules)),
        alerts,
        upgrade_order,
        checked_available: available.is_some(),
        checked_release: release.is_some(),
    }
}

/// Every pair of a relay and an agent it serves that runs a newer version, by relay then agent.
fn relays_behind(fleet: &Fleet) -> Vec<RelayBehind> {
    let mut behind: Vec<RelayBehind> = fleet
        .relays
        .iter()
        .flat_map(|relay| {
            fleet
                .served_by(relay)
                .filter(|agent| agent.version > relay.version)
                .map(|agent| RelayBehind {
                    agent: agent.name.clone(),
                    agent_version: agent.version,
                    relay: relay.name.clone(),
                    relay_version: relay.version,
                })
        })
        .collect();
    behind.sort_by(|a, b| (&a.relay, &a.agent).cmp(&(&b.relay, &b.agent)));
    behind
}

/// The newest published version of a line, if any is published.
fn newest_in_line(published: &[AgentVersion], line: (u32, u32)) -> Option<AgentVersion> {
    published.iter().filter(|v| v.line() == line).max().copied()
}

/// One alert per agent at most, to the newest build of its own line, by agent name.
fn alerts(fleet: &Fleet, published: &[AgentVersion]) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = fleet
        .agents
        .iter()
        .filter_map(|agent| {
            let newest = newest_in_line(published, agent.version.line())?;
            (newest > agent.version).then(|| Alert {
                agent: agent.name.clone(),
                from: agent.version,
                version: newest,
            })
        })
        .collect();
    alerts.sort_by(|a, b| a.agent.cmp(&b.agent));
    alerts
}

/// Every published agent version that alerts nobody, oldest first, with the reason.
fn no_alert(fleet: &Fleet, published: &[AgentVersion]) -> Vec<NoAlert> {
    let mut versions = published.to_vec();
    versions.sort();
    versions.dedup();
    versions
        .into_iter()
        .filter_map(|version| {
            let reason = why_no_alert(fleet, published, version)?;
            Some(NoAlert { reason, version })
        })
        .collect()
}

/// Why `version` alerts nobody, or `None` when it alerts someone.
fn why_no_alert(
    fleet: &Fleet,
    published: &[AgentVersion],
    version: AgentVersion,
) -> Option<String> {
    let line = version.line_name();
    let running: Vec<AgentVersion> = fleet
        .agents
        .iter()
        .map(|agent| agent.version)
        .filter(|running| running.line() == version.line())
        .collect();

    if running.is_empty() {
        return Some(format!("no agent runs line {line}"));
    }
    if running.iter().all(|running| *running >= version) {
        return Some(format!(
            "every agent on line {line} runs {version} or newer"
        ));
    }

    // Some agent on the line is older, so the line's newest build alerts it; this version
    // alerts nobody only when it is not that build.
    let newest = newest_in_line(published, version.line())?;
    (newest > version).then(|| format!("agents on line {line} are alerted to the newer {newest}"))
}

/// For each agent that cannot run some of the rules, which and what it needs, by agent name.
fn missing_rules(fleet: &Fleet, rules: &[ReleaseRule]) -> Vec<MissingRules> {
    let mut missing: Vec<MissingRules> = fleet
        .agents
        .iter()
        .filter_map(|agent| missing_for(agent, rules))
        .collect();
    missing.sort_by(|a, b| a.agent.cmp(&b.agent));
    missing
}

fn missing_for(agent: &Agent, rules: &[ReleaseRule]) -> Option<MissingRules> {
    let mut needs: Option<AgentVersion> = None;
    let mut ids = Vec::new();
    for rule in rules {
        if let Some(min) = rule.min_agent_version
            && min > agent.version
        {
            ids.push(format!("{}/{}", rule.kind, rule.id));
            needs = needs.max(Some(min));
        }
    }

    ids.sort();
    ids.dedup();
    Some(MissingRules {
        agent: agent.name.clone(),
        needs: needs?,
        rules: ids,
        version: agent.version,
    })
}

/// Relays that must move, those behind now first, then the agents with alerts.
fn upgrade_order(fleet: &Fleet, alerts: &[Alert], published: &[AgentVersion]) -> Vec<Upgrade> {
    let targets: HashMap<&str, AgentVersion> = alerts
        .iter()
        .map(|alert| (alert.agent.as_str(), alert.version))
        .collect();

    let mut relays: Vec<(bool, Upgrade)> = fleet
        .relays
        .iter()
        .filter_map(|relay| relay_upgrade(fleet, relay, &targets, published))
        .collect();
    relays.sort_by(|(a_behind, a), (b_behind, b)| {
        b_behind.cmp(a_behind).then_with(|| a.name.cmp(&b.name))
    });

    let agents = alerts.iter().map(|alert| Upgrade {
        at_least: alert.version,
        from: alert.from,
        name: alert.agent.clone(),
        role: Role::Agent,
        to: Some(alert.version),
    });
    relays
        .into_iter()
        .map(|(_, relay)| relay)
        .chain(agents)
        .collect()
}

/// The upgrade a relay needs, if any, and whether it is behind an agent now.
fn relay_upgrade(
    fleet: &Fleet,
    relay: &Relay,
    targets: &HashMap<&str, AgentVersion>,
    published: &[AgentVersion],
) -> Option<(bool, Upgrade)> {
    let served = fleet.served_by(relay);
    let running = served.clone().map(|agent| agent.version).max()?;
    let will_run = served
        .map(|agent| {
            targets
                .get(agent.name.as_str())
                .copied()
                .unwrap_or(agent.version)
        })
        .max()?;
    if will_run <= relay.version {
        return None;
    }

    let to = published.iter().filter(|v| **v >= will_run).min().copied();
    let upgrade = Upgrade {
        at_least: will_run,
        from: relay.version,
        name: relay.name.clone(),
        role: Role::Relay,
        to,
    };
    Some((running > relay.version, upgrade))
}

#[cfg(test)]
mod tests;
