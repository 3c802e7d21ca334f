//! The kind-specific sections of the YAML rule format, and their checks.
//!
//! Firewall rules follow what host firewalls ship: an action, a priority 0 (lowest) to 4
//! (highest) where `allow` is always 0 and `log-only` always 4, a direction, a frame type, a
//! protocol, and for each end an IP, MAC and port spec that a leading `!` inverts.
//! Integrity-monitoring rules watch entity sets. Each check returns the section as JSON for
//! the bundle's index.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::suricata;
use super::yaml::Checker;

const ACTIONS: [&str; 5] = ["allow", "bypass", "deny", "force-allow", "log-only"];
const DIRECTIONS: [&str; 2] = ["incoming", "outgoing"];
const FRAMES: [&str; 7] = ["any", "arp", "ip", "ipv4", "ipv6", "other", "revarp"];
const PROTOCOLS: [&str; 13] = [
    "any", "ggp", "icmp", "icmpv6", "idp", "igmp", "nd", "other", "pup", "raw", "tcp", "tcp+udp",
    "udp",
];
const PORT_PROTOCOLS: [&str; 3] = ["tcp", "tcp+udp", "udp"];
const TCP_FLAGS: [&str; 6] = ["ack", "fin", "psh", "rst", "syn", "urg"];
const ENTITY_TYPES: [&str; 10] = [
    "directories",
    "files",
    "groups",
    "ports",
    "processes",
    "registry-keys",
    "registry-values",
    "services",
    "software",
    "users",
];
const ATTRIBUTES: [&str; 9] = [
    "content",
    "created",
    "flags",
    "group",
    "modified",
    "owner",
    "permissions",
    "size",
    "symlink-target",
];
const HIVES: [&str; 5] = ["HKCC", "HKCR", "HKCU", "HKLM", "HKU"];

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    action: Spanned<String>,
    destination: Option<Endpoint>,
    direction: Spanned<String>,
    frame: Option<Spanned<String>>,
    frame_number: Option<Spanned<u16>>,
    icmp_code: Option<Spanned<u8>>,
    icmp_type: Option<Spanned<u8>>,
    priority: Option<Spanned<u8>>,
    protocol: Option<Spanned<String>>,
    protocol_number: Option<Spanned<u8>>,
    source: Option<Endpoint>,
    tcp_flags: Option<Vec<Spanned<String>>>,
}

/// One end of a connection. Each spec is `any`, one item or a comma-separated list, and a
/// leading `!` matches everything but it.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    ip: Option<Spanned<String>>,
    mac: Option<Spanned<String>>,
    port: Option<Spanned<String>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    entities: Vec<EntitySet>,
    /// Watch in real time rather than at each scan.
    #[serde(default)]
    realtime: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<Spanned<String>>,
    base: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exclude: Vec<String>,
    hive: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    include: Vec<String>,
    key: Option<String>,
    recurse: Option<bool>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntrusionPrevention {
    action: Spanned<String>,
    header: Spanned<String>,
    options: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogInspection {
    decoded_as: Option<String>,
    frequency: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    if_sid: Vec<String>,
    level: Spanned<u8>,
    #[serde(rename = "match")]
    matches: Option<String>,
    regex: Option<String>,
    timeframe: Option<u32>,
}

fn to_json<T: Serialize>(section: &T) -> Value {
    serde_json::to_value(section).expect("a rule section always converts to JSON")
}

/// The ids of the rules a section builds on.
pub fn depends_on(section: &Value) -> Vec<String> {
    let ids = section.get("if_sid").and_then(Value::as_array);
    ids.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

pub fn check_firewall(rule: &Firewall, checker: &mut Checker) -> Value {
    checker.one_of("direction", &rule.direction, &DIRECTIONS);
    if checker.one_of("action", &rule.action, &ACTIONS) {
        check_priority(rule, checker);
    }
    let frame = rule.frame.as_ref();
    if frame.is_none_or(|f| checker.one_of("frame", f, &FRAMES)) {
        let other = frame.is_some_and(|f| f.value == "other");
        check_number_for_other(
            "frame",
            other,
            rule.frame_number.as_ref().map(|n| &n.referenced),
            checker,
        );
    }
    let protocol = rule.protocol.as_ref().map_or("any", |p| p.value.as_str());
    if rule
        .protocol
        .as_ref()
        .is_none_or(|p| checker.one_of("protocol", p, &PROTOCOLS))
    {
        let number = rule.protocol_number.as_ref().map(|n| &n.referenced);
        check_number_for_other("protocol", protocol == "other", number, checker);
    }
    for end in [&rule.source, &rule.destination].into_iter().flatten() {
        check_endpoint(end, protocol, checker);
    }
    check_protocol_options(rule, protocol, checker);
    to_json(rule)
}

fn check_priority(rule: &Firewall, checker: &mut Checker) {
    let fixed = match rule.action.value.as_str() {
        "allow" => Some(0),
        "log-only" => Some(4),
        _ => None,
    };
    match (&rule.priority, fixed) {
        (Some(p), _) if p.value > 4 => {
            checker.error(
                &p.referenced,
                format!("priority {} is out of range 0 to 4", p.value),
            );
        }
        (Some(p), Some(fixed)) if p.value != fixed => {
            let message = format!(
                "an `{}` rule always has priority {fixed}",
                rule.action.value
            );
            checker.error(&p.referenced, message);
        }
        (None, None) => {
            let message = format!(
                "a `{}` rule needs a `priority` from 0 to 4",
                rule.action.value
            );
            checker.error(&rule.action.referenced, message);
        }
        _ => {}
    }
}

fn check_number_for_other(
    what: &str,
    other: bool,
    number: Option<&serde_saphyr::Location>,
    checker: &mut Checker,
) {
    if let (false, Some(span)) = (other, number) {
        checker.error(span, format!("`{what}_number` is only for {what} `other`"));
    }
}

fn check_protocol_options(rule: &Firewall, protocol: &str, checker: &mut Checker) {
    for flag in rule.tcp_flags.iter().flatten() {
        if protocol != "tcp" {
            checker.error(&flag.referenced, "`tcp_flags` are only for protocol `tcp`");
            break;
        }
        checker.one_of("tcp flag", flag, &TCP_FLAGS);
    }
    for icmp in [&rule.icmp_type, &rule.icmp_code].into_iter().flatten() {
        if !matches!(protocol, "icmp" | "icmpv6") {
            checker.error(
                &icmp.referenced,
                "`icmp_type` and `icmp_code` are only for ICMP",
            );
        }
    }
}

fn check_endpoint(end: &Endpoint, protocol: &str, checker: &mut Checker) {
    if let Some(ip) = &end.ip {
        check_list(ip, "IP", check_ip_item, checker);
    }
    if let Some(mac) = &end.mac {
        check_list(mac, "MAC", check_mac_item, checker);
    }
    if let Some(port) = &end.port {
        let spec = port.value.trim().trim_start_matches('!');
        if spec != "any" && !PORT_PROTOCOLS.contains(&protocol) {
            let message =
                format!("a port spec needs protocol tcp, udp or tcp+udp, not `{protocol}`");
            checker.error(&port.referenced, message);
        } else {
            check_list(port, "port", check_port_item, checker);
        }
    }
}

/// Checks a spec: `any`, or a comma-separated list of items, optionally inverted with `!`.
fn check_list(
    spec: &Spanned<String>,
    what: &str,
    item: fn(&str) -> Result<(), String>,
    checker: &mut Checker,
) {
    let text = spec.value.trim();
    let list = text.strip_prefix('!').unwrap_or(text).trim();
    if list == "any" {
        return;
    }
    for part in list.split(',').map(str::trim) {
        if let Err(reason) = item(part) {
            checker.error(&spec.referenced, format!("{what} spec `{text}`: {reason}"));
        }
    }
}

fn check_ip_item(item: &str) -> Result<(), String> {
    let address = |s: &str| {
        s.trim()
            .parse::<IpAddr>()
            .map_err(|_| format!("`{s}` is not an IP address"))
    };
    if let Some((from, to)) = item.split_once('-') {
        let (from, to) = (address(from)?, address(to)?);
        return match (from, to) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) if from <= to => Ok(()),
            _ if from.is_ipv4() != to.is_ipv4() => {
                Err(format!("range `{item}` mixes IPv4 and IPv6"))
            }
            _ => Err(format!("range `{item}` ends before it starts")),
        };
    }
    let Some((ip, mask)) = item.split_once('/') else {
        return address(item).map(drop);
    };
    let bits = if address(ip)?.is_ipv4() { 32 } else { 128 };
    match mask.parse::<u8>() {
        Ok(mask) if mask <= bits => Ok(()),
        _ => Err(format!("`/{mask}` is not a mask from 0 to {bits}")),
    }
}

fn check_mac_item(item: &str) -> Result<(), String> {
    let parts: Vec<&str> = item.split([':', '-']).collect();
    let hex = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.len() == 6 && parts.iter().all(hex) {
        Ok(())
    } else {
        Err(format!(
            "`{item}` is not a MAC address like `00:1a:2b:3c:4d:5e`"
        ))
    }
}

fn check_port_item(item: &str) -> Result<(), String> {
    let port = |s: &str| match s.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n),
        _ => Err(format!("`{}` is not a port from 1 to 65535", s.trim())),
    };
    match item.split_once('-') {
        Some((from, to)) if port(from)? > port(to)? => {
            Err(format!("range `{item}` ends before it starts"))
        }
        Some(_) => Ok(()),
        None => port(item).map(drop),
    }
}

pub fn check_integrity(rule: &Integrity, checker: &mut Checker) -> Value {
    for set in &rule.entities {
        if !checker.one_of("entity type", &set.kind, &ENTITY_TYPES) {
            continue;
        }
        let kind = set.kind.value.as_str();
        let filesystem = matches!(kind, "files" | "directories");
        let registry = kind.starts_with("registry-");
        if filesystem && set.base.as_deref().is_none_or(str::is_empty) {
            checker.error(
                &set.kind.referenced,
                format!("`{kind}` need a `base` folder"),
            );
        }
        if registry {
            check_registry(set, checker);
        }
        for attribute in &set.attributes {
            if !filesystem {
                checker.error(
                    &attribute.referenced,
                    "`attributes` are only for files and directories",
                );
                break;
            }
            checker.one_of("attribute", attribute, &ATTRIBUTES);
        }
        if set.recurse.is_some() && !(filesystem || kind == "registry-keys") {
            checker.error(
                &set.kind.referenced,
                format!("`recurse` does not apply to `{kind}`"),
            );
        }
    }
    to_json(rule)
}

fn check_registry(set: &EntitySet, checker: &mut Checker) {
    match &set.hive {
        Some(hive) => {
            checker.one_of("hive", hive, &HIVES);
        }
        None => checker.error(&set.kind.referenced, "registry entities need a `hive`"),
    }
    if set.key.as_deref().is_none_or(str::is_empty) {
        checker.error(&set.kind.referenced, "registry entities need a `key`");
    }
}

pub fn check_ips(rule: &IntrusionPrevention, checker: &mut Checker) -> Value {
    checker.one_of("action", &rule.action, &suricata::ACTIONS);
    let fields = rule.header.value.split_whitespace().count();
    if fields != 6 && fields != 1 {
        let message = "`header` is `protocol source port direction destination port`, or a \
                       protocol alone for application-layer rules";
        checker.error(&rule.header.referenced, message);
    }
    to_json(rule)
}

pub fn check_log(rule: &LogInspection, checker: &mut Checker) -> Value {
    if rule.level.value > 16 {
        let message = format!("level {} is out of range 0 to 16", rule.level.value);
        checker.error(&rule.level.referenced, message);
    }
    to_json(rule)
}

#[cfg(test)]
mod tests {
    use super::super::yaml::tests::{messages, parse_text};
    use crate::rules::Kind;

    fn firewall(section: &str) -> Vec<String> {
        let text = format!("- id: fw-1\n  name: x\n  firewall:\n{section}");
        messages(&parse_text(&text, Kind::Firewall))
    }

    #[test]
    fn a_dhcp_client_rule_is_valid() {
        let all = firewall(
            "    action: allow\n    direction: outgoing\n    frame: ipv4\n    protocol: udp\n    \
             source: { port: '68' }\n    destination: { ip: 255.255.255.255, port: '67' }\n",
        );
        assert!(all.is_empty(), "{all:?}");
    }

    #[test]
    fn priorities_follow_the_action() {
        let all = firewall("    action: allow\n    priority: 3\n    direction: incoming\n");
        assert_eq!(all, ["t.yaml:5:15: an `allow` rule always has priority 0"]);
        let all = firewall("    action: deny\n    direction: incoming\n");
        assert_eq!(
            all,
            ["t.yaml:4:13: a `deny` rule needs a `priority` from 0 to 4"]
        );
        let all = firewall("    action: deny\n    priority: 5\n    direction: incoming\n");
        assert_eq!(all, ["t.yaml:5:15: priority 5 is out of range 0 to 4"]);
    }

    #[test]
    fn ports_need_a_protocol_with_ports_and_ranges_in_order() {
        let all = firewall(
            "    action: deny\n    priority: 2\n    direction: incoming\n    protocol: icmp\n    \
             destination: { port: '22' }\n",
        );
        assert!(
            all[0].contains("a port spec needs protocol tcp, udp or tcp+udp, not `icmp`"),
            "{all:?}"
        );
        let all = firewall(
            "    action: deny\n    priority: 2\n    direction: incoming\n    protocol: tcp\n    \
             destination: { port: '443, 9000-8000, 70000' }\n",
        );
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(
            all[0].contains("range `9000-8000` ends before it starts"),
            "{all:?}"
        );
        assert!(
            all[1].contains("`70000` is not a port from 1 to 65535"),
            "{all:?}"
        );
    }

    #[test]
    fn ip_specs_take_addresses_masks_ranges_lists_and_inversion() {
        for good in [
            "10.0.0.1",
            "10.0.0.0/8",
            "10.0.0.1-10.0.0.9",
            "fe80::/10",
            "::1",
            "any",
        ] {
            assert!(
                firewall(&format!(
                    "    action: allow\n    direction: incoming\n    source: {{ ip: '!{good}' }}\n"
                ))
                .is_empty(),
                "{good}"
            );
        }
        for bad in [
            "10.0.0.256",
            "10.0.0.0/33",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-::1",
            "fe80::/129",
        ] {
            let all = firewall(&format!(
                "    action: allow\n    direction: incoming\n    source: {{ ip: '{bad}' }}\n"
            ));
            assert_eq!(all.len(), 1, "{bad}: {all:?}");
        }
    }

    #[test]
    fn macs_and_flags_and_icmp_are_checked() {
        let all = firewall(
            "    action: deny\n    priority: 1\n    direction: incoming\n    protocol: udp\n    \
             tcp_flags: [syn]\n    icmp_type: 8\n    source: { mac: '00:11:22:33:44' }\n",
        );
        assert_eq!(all.len(), 3, "{all:?}");
    }

    #[test]
    fn integrity_sets_need_their_fields() {
        let text = "- id: im-1\n  name: x\n  integrity_monitoring:\n    entities:\n      \
                    - { type: files, attributes: [content, colour] }\n      \
                    - { type: registry-values, key: 'Software' }\n      \
                    - { type: services, attributes: [size] }\n";
        let all = messages(&parse_text(text, Kind::IntegrityMonitoring));
        assert!(
            all.iter()
                .any(|m| m.contains("`files` need a `base` folder")),
            "{all:?}"
        );
        assert!(
            all.iter()
                .any(|m| m.contains("attribute `colour` is not one of")),
            "{all:?}"
        );
        assert!(
            all.iter()
                .any(|m| m.contains("registry entities need a `hive`")),
            "{all:?}"
        );
        assert!(
            all.iter()
                .any(|m| m.contains("`attributes` are only for files")),
            "{all:?}"
        );
        assert_eq!(all.len(), 4, "{all:?}");
    }

    #[test]
    fn log_levels_stop_at_16() {
        let text = "- id: 1\n  name: x\n  log_inspection: { level: 17 }\n";
        let all = messages(&parse_text(text, Kind::LogInspection));
        assert_eq!(all, ["t.yaml:3:28: level 17 is out of range 0 to 16"]);
    }
}
