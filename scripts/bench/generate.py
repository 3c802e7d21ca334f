#!/usr/bin/env python3
"""Writes a synthetic rule tree for rulecut's benchmark.

    generate.py N SEED OUT_DIR
    generate.py --corpus CORPUS_DIR OUT_DIR

OUT_DIR gets ips/ (Suricata rule lines), li/ (OSSEC/Wazuh rule XML), fw/ and im/ (rulecut's
YAML firewall and integrity-monitoring rules), a release.yaml building all four kinds, a
release-ips.yaml building only the intrusion-prevention rules (for the comparison with
suricata-update), and generated.json saying what was written.

With --corpus, OUT_DIR gets only the release files and generated.json, pointing at the real
rule sets in CORPUS_DIR (the project's ../shared/corpus): ET Open's Suricata rules and Wazuh
v3.12.0's rule XML. The corpus has no firewall or integrity-monitoring rules.

generated.json also tells the harness what the baseline zips (`zip_root`, and `zip_args` by
kind) and
where suricata-update finds the intrusion-prevention rules (`ips_dir`).

The tree is a pure function of N, SEED and this file: the same arguments give the same bytes
on any machine, so two runs of the benchmark measure the same work. Rules are invented, not
copied from any rule set; their shapes follow what vendors ship:

- intrusion-prevention, 70% of N: Emerging-Threats-like rule lines of 400 to 600 bytes (ET
  Open's median is about 510), about a fifth of them commented out, as ET ships disabled
  rules, 3,000 rules a file;
- log-inspection, 20%: Wazuh-like XML, several top-level <group> elements a file and a <var>,
  each group a level-0 root rule and children whose if_sid points at rules of the same group,
  2,500 rules a file;
- firewall and integrity-monitoring, 5% each: YAML lists, 2,000 rules a file.

Text is drawn from small vocabularies plus random hex (hashes, byte patterns), so it compresses
roughly as real rule files do (about 5x with zip's default level).
"""

import hashlib
import json
import os
import random
import sys

SHARES = [("ips", 0.70), ("li", 0.20), ("fw", 0.05), ("im", 0.05)]
RULES_PER_FILE = {"ips": 3000, "li": 2500, "fw": 2000, "im": 2000}
DISABLED_SHARE = 0.2

ET_CATEGORIES = [
    "ATTACK_RESPONSE", "CURRENT_EVENTS", "DNS", "EXPLOIT", "HUNTING", "INFO", "MALWARE",
    "MOBILE_MALWARE", "PHISHING", "POLICY", "SCAN", "USER_AGENTS", "WEB_CLIENT", "WEB_SERVER",
    "WEB_SPECIFIC_APPS",
]
CLASSTYPES = [
    "attempted-admin", "attempted-recon", "attempted-user", "bad-unknown", "command-and-control",
    "credential-theft", "domain-c2", "exploit-kit", "misc-activity", "policy-violation",
    "social-engineering", "successful-admin", "trojan-activity", "web-application-attack",
]
WORDS = [
    "Possible", "Suspicious", "Inbound", "Outbound", "Observed", "Attempt", "Exploit", "Remote",
    "Code", "Execution", "Backdoor", "Loader", "Stealer", "Dropper", "CnC", "Beacon", "Checkin",
    "Request", "Response", "Download", "Upload", "Webshell", "Injection", "Traversal", "Overflow",
    "Apache", "Struts", "Log4j", "Confluence", "Exchange", "WordPress", "Plugin", "Jenkins",
    "Citrix", "Fortinet", "VMware", "Oracle", "WebLogic", "PHP", "Java", "PowerShell", "Windows",
    "Linux", "Android", "Router", "Camera", "Cobalt", "Strike", "Emotet", "Qakbot", "AgentTesla",
    "Mirai", "Gafgyt", "RedLine", "Formbook", "Lokibot", "Generic", "Encoded", "Base64", "XOR",
    "Host", "Header", "Cookie", "Domain", "Query", "TLS", "SNI", "Certificate", "User-Agent",
]
PATHS = [
    "/wp-admin/admin-ajax.php", "/cgi-bin/luci", "/api/v1/login", "/index.php?page=",
    "/manager/html", "/solr/admin/cores", "/owa/auth/", "/vpn/../vpns/", "/HNAP1/",
    "/boaform/admin/formLogin", "/shell?cd+/tmp", "/setup.cgi?next_file=", "/actuator/env",
    "/remote/fgt_lang?lang=", "/.env", "/jenkins/script", "/ecp/default.flt", "/console/login",
]
CONTENT_WORDS = [
    "cmd.exe", "/bin/sh", "wget http", "curl -s", "powershell -enc", "eval(", "base64_decode",
    "User-Agent|3a 20|", "Content-Type|3a 20|", "multipart/form-data", "application/json",
    "POST", "GET", "HTTP/1.1", "Authorization|3a 20|Basic", "${jndi:ldap", "chmod 777",
    "|0d 0a|", "|00 00 00|", "MZ", "This program cannot be run", "<script>", "document.cookie",
    "SELECT", "UNION", "etc/passwd", "../..", "nc -e", "Mozilla/5.0", "X-Forwarded-For",
]
TLDS = ["com", "net", "org", "xyz", "top", "ru", "info", "io", "online", "site"]
PROTOCOLS = [("http", 40), ("tcp", 22), ("tls", 10), ("dns", 10), ("udp", 8), ("smb", 4),
             ("ssh", 3), ("icmp", 3)]
SEVERITIES = ["low", "medium", "high", "critical"]
ATTACK_IDS = ["T1059", "T1059.001", "T1110", "T1190", "T1071.001", "T1505.003", "T1098",
              "T1547.001", "T1053.005", "T1543.003", "T1021.002", "T1003.001", "T1046"]

LI_SERVICES = ["sshd", "apache", "nginx", "postfix", "dovecot", "vsftpd", "mysql", "pam",
               "sudo", "named", "squid", "openvpn", "samba", "auditd", "docker", "kernel"]
LI_MATCHES = [
    "Failed password for", "Invalid user", "authentication failure", "Accepted publickey for",
    "error: maximum authentication attempts exceeded", "Connection closed by", "denied by rule",
    "client denied by server configuration", "File does not exist", "segfault at",
    "Out of memory: Kill process", "NOQUEUE: reject", "relay access denied",
    "Access denied for user", "refused connect from", "TCP_DENIED/403", "TLS handshake failed",
    "possible SYN flooding", "session opened for user root", "COMMAND=/bin/bash",
]
LI_GROUPS = ["authentication_failed", "authentication_success", "invalid_login", "attack",
             "recon", "web", "accesslog", "syscheck", "policy_violation", "service_availability"]
LI_COMPLIANCE = ["pci_dss_10.2.4", "pci_dss_10.2.5", "pci_dss_11.4", "gpg13_7.1",
                 "gdpr_IV_35.7.d", "gdpr_IV_32.2", "hipaa_164.312.b", "nist_800_53_AU.14",
                 "nist_800_53_AC.7", "nist_800_53_SI.4", "tsc_CC6.1", "tsc_CC7.2"]

FW_ACTIONS = [("allow", 35), ("deny", 35), ("log-only", 10), ("force-allow", 10), ("bypass", 10)]
FW_SERVICES = [("tcp", "22", "SSH"), ("tcp", "80, 443", "web"), ("tcp", "139, 445", "SMB"),
               ("tcp", "3389", "RDP"), ("udp", "53", "DNS"), ("udp", "67-68", "DHCP"),
               ("udp", "123", "NTP"), ("tcp", "1433", "SQL Server"), ("tcp", "5985-5986", "WinRM"),
               ("tcp+udp", "88", "Kerberos"), ("icmp", None, "ICMP echo"), ("tcp", "8000-8999",
               "alternate web"), ("udp", "161-162", "SNMP"), ("tcp", "25, 587", "SMTP")]
IM_FILES = [("/etc", ["passwd", "shadow", "group", "sudoers"]), ("/etc/ssh", ["sshd_config"]),
            ("/usr/bin", ["*"]), ("/usr/sbin", ["*"]), ("/boot", ["grub/grub.cfg", "vmlinuz*"]),
            ("/var/www", ["*.php", "*.js"]), ("C:\\Windows\\System32", ["*.dll", "*.exe"]),
            ("C:\\Windows\\System32\\drivers\\etc", ["hosts"]), ("/etc/cron.d", ["*"])]
IM_KEYS = ["Software\\Microsoft\\Windows\\CurrentVersion\\Run",
           "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
           "System\\CurrentControlSet\\Services",
           "Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
           "Software\\Policies\\Microsoft\\Windows Defender"]
IM_ATTRIBUTES = ["content", "created", "flags", "group", "modified", "owner", "permissions",
                 "size", "symlink-target"]


def weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def hex_bytes(rng, count):
    return " ".join(f"{rng.randrange(256):02x}" for _ in range(count))


def date(rng, first_year=2015):
    return f"{rng.randint(first_year, 2025)}_{rng.randint(1, 12):02d}_{rng.randint(1, 28):02d}"


def iso_date(rng):
    return date(rng, 2019).replace("_", "-")


def domain(rng):
    return f"{rng.choice(WORDS).lower()}{rng.randrange(10, 9999)}.{rng.choice(TLDS)}"


def yaml_quote(text):
    return "'" + text.replace("'", "''") + "'"


# intrusion-prevention ----------------------------------------------------------------------


def ips_buffers(rng, proto):
    """The rule's flow option and its protocol's detection options, as Suricata 7 writes them."""
    to_server = "flow:established,to_server; "
    if proto == "http":
        parts = [f'http.method; content:"{rng.choice(["GET", "POST", "PUT"])}";',
                 f'http.uri; content:"{rng.choice(PATHS)}"; fast_pattern;']
        if rng.random() < 0.5:
            parts.append(f'http.user_agent; content:"{rng.choice(WORDS)}/{rng.randint(1, 9)}.0";')
        return to_server, " ".join(parts)
    if proto == "tls":
        name = domain(rng)
        return to_server, f'tls.sni; content:"{name}"; bsize:{len(name)}; fast_pattern;'
    if proto == "dns":
        return "", f'dns.query; dotprefix; content:".{domain(rng)}"; nocase; endswith;'
    if proto == "icmp":
        return "", f'itype:{rng.choice([0, 8, 13])}; content:"|{hex_bytes(rng, 6)}|"; depth:6;'
    if proto == "udp":
        return "", f'content:"|{hex_bytes(rng, 8)}|"; offset:{rng.randint(0, 8)}; depth:16;'
    count = rng.randint(4, 10)
    return to_server, f'content:"|{hex_bytes(rng, count)}|"; depth:{rng.randint(count, 64)};'



def ips_header(rng, proto):
    outbound = rng.random() < 0.6
    nets = ("$HOME_NET", "$EXTERNAL_NET") if outbound else ("$EXTERNAL_NET", "$HOME_NET")
    port = {"smb": "445", "ssh": "22", "tcp": str(rng.choice([80, 443, 445, 1433, 3389, 4444,
                                                               8080, 8443]))}.get(proto, "any")
    if proto in ("icmp", "dns", "tls", "http", "udp"):
        port = "any"
    return f"{proto} {nets[0]} any -> {nets[1]} {port}"


def ips_filler(rng, length):
    """Content words up to `length` bytes; the rest in letters, so no `|..|` escape is cut."""
    words = []
    size = -1
    while True:
        word = rng.choice(CONTENT_WORDS)
        if size + 1 + len(word) > length:
            break
        words.append(word)
        size += 1 + len(word)
    pad = length - max(size, 0) - (1 if words else 0)
    letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(pad))
    return " ".join(words + ([letters] if letters else []))


def ips_rule(rng, sid):
    proto = weighted(rng, PROTOCOLS)
    category = rng.choice(ET_CATEGORIES)
    msg = f"ET {category} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
    created = date(rng)
    meta = [f"attack_target {rng.choice(['Client_Endpoint', 'Server', 'Web_Server', 'IoT'])}",
            f"created_at {created}",
            f"deployment {rng.choice(['Perimeter', 'Internal', 'Datacenter'])}",
            f"signature_severity {rng.choice(['Informational', 'Minor', 'Major', 'Critical'])}",
            f"updated_at {max(created, date(rng))}"]
    refs = []
    if rng.random() < 0.25:
        refs.append(f"reference:cve,{rng.randint(2014, 2025)}-{rng.randint(1000, 49999)};")
    if rng.random() < 0.3:
        refs.append(f"reference:md5,{rng.getrandbits(128):032x};")
    if rng.random() < 0.3:
        refs.append(f"reference:url,{domain(rng)}/blog/{rng.getrandbits(32):08x};")
    flow, detection = ips_buffers(rng, proto)
    head = f"alert {ips_header(rng, proto)} (msg:\"{msg}\"; {flow}"
    tail = (f"{detection} " + " ".join(refs) + (" " if refs else "")
            + f"classtype:{rng.choice(CLASSTYPES)}; sid:{sid}; rev:{rng.randint(1, 6)}; "
            f"metadata:{', '.join(meta)};)")
    # A payload match sized so that the line is 400 to 600 bytes long, as ET's are.
    target = rng.randint(400, 600)
    room = target - len(head) - len(tail) - len('content:""; ')
    filler = f'content:"{ips_filler(rng, room)}"; ' if room > 4 else ""
    line = head + filler + tail
    return ("#" + line) if rng.random() < DISABLED_SHARE else line


def write_ips(rng, count, folder, first_sid, seed):
    files = []
    for index, start in enumerate(range(0, count, RULES_PER_FILE["ips"])):
        end = min(count, start + RULES_PER_FILE["ips"])
        name = f"bench-{ET_CATEGORIES[index % len(ET_CATEGORIES)].lower()}-{index:04d}.rules"
        lines = [f"# Synthetic Suricata rules for rulecut's benchmark (seed {seed}).",
                 "# Invented text; not for use on a network.", ""]
        lines.extend(ips_rule(rng, first_sid + i) for i in range(start, end))
        files.append(write_file(folder, name, "\n".join(lines) + "\n"))
    return files


# log-inspection ----------------------------------------------------------------------------


def li_rule(rng, rule_id, parent, earlier):
    level = rng.choice([3, 5, 5, 6, 7, 8, 10, 12])
    lines = []
    attributes = f' level="{level}"'
    if earlier and rng.random() < 0.1:
        attributes += f' frequency="{rng.randint(4, 12)}" timeframe="{rng.choice([60, 120, 360])}"'
        lines.append(f"    <if_matched_sid>{rng.choice(earlier)}</if_matched_sid>")
        lines.append("    <same_source_ip />")
    else:
        target = rng.choice(earlier) if earlier and rng.random() < 0.3 else parent
        lines.append(f"    <if_sid>{target}</if_sid>")
        # Real match strings name programs, paths and codes, which is most of their variety.
        detail = rng.choice([f"{rng.choice(WORDS).lower()}{rng.randrange(1000)}",
                             f"/var/{rng.choice(LI_SERVICES)}/{rng.getrandbits(24):06x}",
                             f"code {rng.randrange(100, 600)}", f"pid {rng.randrange(1, 65535)}"])
        lines.append(f"    <match>{rng.choice(LI_MATCHES)} {detail}</match>")
        if rng.random() < 0.3:
            lines.append(f"    <regex>^\\S+ \\d+ {rng.choice(WORDS).lower()}"
                         f"{rng.randrange(100)}: \\S+ port \\d+</regex>")
    description = " ".join(rng.choice(WORDS).lower() for _ in range(rng.randint(4, 10)))
    lines.append(f"    <description>{rng.choice(LI_SERVICES)}: {description} "
                 f"({rng.getrandbits(16):04x}).</description>")
    if rng.random() < 0.6:
        lines.append(f"    <mitre>\n      <id>{rng.choice(ATTACK_IDS)}</id>\n    </mitre>")
    groups = [rng.choice(LI_GROUPS)] + rng.sample(LI_COMPLIANCE, rng.randint(2, 6))
    lines.append(f"    <group>{','.join(groups)},</group>")
    return f'  <rule id="{rule_id}"{attributes}>\n' + "\n".join(lines) + "\n  </rule>\n"


def li_file(rng, first_id, count, seed):
    parts = [f"<!--\n  Synthetic OSSEC/Wazuh rules for rulecut's benchmark (seed {seed}).\n-->\n\n",
             f'<var name="BENCH_BAD_WORDS">core_dumped|failure|error|attack|bad |illegal</var>\n\n']
    rule_id = first_id
    end = first_id + count
    while rule_id < end:
        service = rng.choice(LI_SERVICES)
        size = min(end - rule_id, rng.randint(40, 200))
        parts.append(f'<group name="{service},bench,">\n')
        root = rule_id
        parts.append(f'  <rule id="{root}" level="0" noalert="1">\n    <decoded_as>{service}'
                     f"</decoded_as>\n    <description>{service} messages grouped.</description>\n"
                     "  </rule>\n")
        earlier = []
        for rule in range(root + 1, root + size):
            parts.append(li_rule(rng, rule, root, earlier))
            earlier.append(rule)
        parts.append("</group>\n\n")
        rule_id += size
    return "".join(parts)


def write_li(rng, count, folder, first_id, seed):
    files = []
    for index, start in enumerate(range(0, count, RULES_PER_FILE["li"])):
        size = min(count - start, RULES_PER_FILE["li"])
        text = li_file(rng, first_id + start, size, seed)
        files.append(write_file(folder, f"{index:04d}-bench_rules.xml", text))
    return files


# firewall and integrity monitoring ---------------------------------------------------------


def common_yaml(rng, rule_id, name):
    lines = [f"- id: {rule_id}", f"  revision: {rng.randint(1, 5)}", f"  name: {yaml_quote(name)}",
             f"  severity: {rng.choice(SEVERITIES)}", f"  issued: '{iso_date(rng)}'"]
    if rng.random() < 0.4:
        text = " ".join(rng.choice(WORDS).lower() for _ in range(rng.randint(8, 20)))
        lines.append(f"  description: {yaml_quote(text.capitalize() + '.')}")
    if rng.random() < 0.3:
        lines.append(f"  min_agent_version: '20.0.{rng.randint(0, 1)}.{rng.randint(1000, 9999)}'")
    return lines


def fw_rule(rng, number):
    protocol, ports, service = rng.choice(FW_SERVICES)
    action = weighted(rng, FW_ACTIONS)
    direction = rng.choice(["incoming", "outgoing"])
    verb = {"allow": "Allow", "deny": "Deny", "log-only": "Log", "force-allow": "Force-allow",
            "bypass": "Bypass"}[action]
    name = f"{verb} {direction} {service} {number}"
    lines = common_yaml(rng, f"fw-{number}", name)
    lines += ["  firewall:", f"    action: {action}"]
    if action not in ("allow", "log-only"):
        lines.append(f"    priority: {rng.randint(0, 4)}")
    frame = rng.choice(["ipv4", "ipv4", "ipv6"])
    lines += [f"    direction: {direction}", f"    frame: {frame}", f"    protocol: {protocol}"]
    if frame == "ipv6":
        peer = rng.choice([f"2001:db8:{rng.randrange(65536):x}::/48", "fe80::/10", "any"])
    else:
        third = rng.randrange(256)
        peer = rng.choice([f"10.{third}.0.0/16", f"192.168.{third}.0/24",
                           f"172.16.{third}.1-172.16.{third}.254", f"203.0.113.{third % 254 + 1}",
                           "any"])
    if ports:
        lines.append(f"    source: {{ ip: {yaml_quote(peer)} }}")
        lines.append(f"    destination: {{ port: {yaml_quote(ports)} }}")
        if protocol == "tcp" and rng.random() < 0.2:
            lines.append("    tcp_flags: [syn]")
    else:
        lines.append(f"    source: {{ ip: {yaml_quote(peer)} }}")
        lines.append(f"    icmp_type: {rng.choice([0, 8])}")
        lines.append("    icmp_code: 0")
    return "\n".join(lines) + "\n"


def im_entity(rng):
    kind = rng.choice(["files", "files", "directories", "registry-values", "registry-keys",
                       "services", "processes", "ports", "users", "software"])
    if kind in ("files", "directories"):
        base, include = rng.choice(IM_FILES)
        attributes = sorted(rng.sample(IM_ATTRIBUTES, rng.randint(2, 5)))
        entity = (f"{{ type: {kind}, base: {yaml_quote(base)}, include: [{', '.join(yaml_quote(i) for i in include)}], "
                  f"attributes: [{', '.join(attributes)}]")
        if kind == "directories":
            entity += f", recurse: {rng.choice(['true', 'false'])}"
        return entity + " }"
    if kind.startswith("registry-"):
        entity = (f"{{ type: {kind}, hive: {rng.choice(['HKLM', 'HKLM', 'HKCU'])}, "
                  f"key: {yaml_quote(rng.choice(IM_KEYS))}")
        if kind == "registry-keys":
            entity += ", recurse: true"
        return entity + " }"
    names = {"services": ["sshd", "WinDefend", "EventLog", "cron"], "processes": ["lsass.exe",
             "sshd", "svchost.exe"], "ports": ["22", "3389", "445"], "users": ["root", "Administrator"],
             "software": ["OpenSSL", "Java"]}[kind]
    return f"{{ type: {kind}, include: [{', '.join(yaml_quote(n) for n in rng.sample(names, 2))}] }}"


def im_rule(rng, number):
    name = f"Watch {rng.choice(['account databases', 'startup entries', 'system binaries', 'web roots', 'boot files', 'scheduled tasks', 'security services'])} {number}"
    lines = common_yaml(rng, f"im-{number}", name)
    lines.append(f"  attack: [{', '.join(sorted(set(rng.choice(ATTACK_IDS) for _ in range(2))))}]")
    lines += ["  integrity_monitoring:", f"    realtime: {rng.choice(['true', 'false'])}",
              "    entities:"]
    lines += [f"      - {im_entity(rng)}" for _ in range(rng.randint(1, 3))]
    return "\n".join(lines) + "\n"


def write_yaml(rng, kind, count, folder, first, make_rule, seed):
    files = []
    for index, start in enumerate(range(0, count, RULES_PER_FILE[kind])):
        end = min(count, start + RULES_PER_FILE[kind])
        text = [f"# Synthetic {kind} rules for rulecut's benchmark (seed {seed}).\n"]
        text.extend(make_rule(rng, first + i) for i in range(start, end))
        files.append(write_file(folder, f"bench-{kind}-{index:04d}.yaml", "".join(text)))
    return files


# the tree ----------------------------------------------------------------------------------


def write_file(folder, name, text):
    """Writes one rule file, and returns its name and size in bytes."""
    os.makedirs(folder, exist_ok=True)
    data = text.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)
    return name, len(data)


RELEASE_HEAD = """# Written by scripts/bench/generate.py.
product: Bench
release: {{ id: "RU{{yy}}-{{seq}}", schedule: "0 9 * * TUE", timezone: UTC, grace: 48h, skip_unchanged: true }}
signing: {{ key: unused.key }}
output: {output}
guards: {{ max_removed_share: 1.0 }}
sources:
"""
SOURCES = {
    "ips": "  - { name: ips, kind: intrusion-prevention, format: suricata, path: ips }\n",
    "li": "  - { name: li, kind: log-inspection, format: ossec-xml, path: li }\n",
    "fw": "  - { name: fw, kind: firewall, format: yaml, path: fw }\n",
    "im": "  - { name: im, kind: integrity-monitoring, format: yaml, path: im }\n",
}


def counts_for(total):
    counts = {kind: int(total * share) for kind, share in SHARES}
    counts["ips"] += total - sum(counts.values())
    return counts


def generate(total, seed, out):
    counts = counts_for(total)
    written = {}
    for offset, (kind, _) in enumerate(SHARES):
        rng = random.Random(seed * 16 + offset)
        folder = os.path.join(out, kind)
        if kind == "ips":
            files = write_ips(rng, counts[kind], folder, 2_000_000, seed)
        elif kind == "li":
            files = write_li(rng, counts[kind], folder, 100_000, seed)
        elif kind == "fw":
            files = write_yaml(rng, kind, counts[kind], folder, 1_000_000, fw_rule, seed)
        else:
            files = write_yaml(rng, kind, counts[kind], folder, 2_000_000, im_rule, seed)
        written[kind] = {"files": len(files), "rules": counts[kind],
                         "bytes": sum(size for _, size in files)}
    write_release(out, {kind: kind for kind in SOURCES})
    summary = {"generator": generator_digest(), "rules": total, "seed": seed, "kinds": written,
               "bytes": sum(k["bytes"] for k in written.values()),
               "ips_dir": os.path.join(os.path.abspath(out), "ips"),
               "zip_root": os.path.abspath(out), "zip_args": {kind: [kind] for kind, _ in SHARES}}
    write_summary(out, summary)
    return summary


def write_release(out, paths):
    """Writes release.yaml for every kind in `paths` and release-ips.yaml for IPS alone."""
    with open(os.path.join(out, "release.yaml"), "w") as f:
        f.write(RELEASE_HEAD.format(output="dist"))
        f.write("".join(SOURCES[kind].replace(f"path: {kind} ", f"path: {path} ")
                        for kind, path in paths.items()))
    with open(os.path.join(out, "release-ips.yaml"), "w") as f:
        f.write(RELEASE_HEAD.format(output="dist-ips"))
        f.write(SOURCES["ips"].replace("path: ips ", f"path: {paths['ips']} "))


def generator_digest():
    """This file's SHA-256: a tree made by another version of it is made again."""
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_summary(out, summary):
    with open(os.path.join(out, "generated.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")


CORPUS = {"ips": ("ips/et-open", ".rules"), "li": ("log-inspection/wazuh-v3.12.0", ".xml")}


def count_rules(kind, text):
    if kind == "ips":
        return sum(1 for line in text.splitlines()
                   if line.lstrip("# ").startswith(("alert ", "drop ", "pass ", "reject")))
    return text.count("<rule ")


def describe_corpus(corpus, out):
    """Points release files at the corpus's rule sets and says what they hold."""
    corpus = os.path.abspath(corpus)
    os.makedirs(out, exist_ok=True)
    written, zip_args = {}, {}
    for kind, (folder, extension) in CORPUS.items():
        names = sorted(n for n in os.listdir(os.path.join(corpus, folder)) if n.endswith(extension))
        texts = [open(os.path.join(corpus, folder, n), "rb").read() for n in names]
        written[kind] = {"files": len(names), "bytes": sum(len(t) for t in texts),
                         "rules": sum(count_rules(kind, t.decode("utf-8", "replace"))
                                      for t in texts)}
        zip_args[kind] = [f"{folder}/{n}" for n in names]
    write_release(out, {kind: os.path.join(corpus, folder) for kind, (folder, _) in CORPUS.items()})
    summary = {"generator": generator_digest(), "corpus": corpus, "kinds": written,
               "rules": sum(k["rules"] for k in written.values()),
               "bytes": sum(k["bytes"] for k in written.values()),
               "ips_dir": os.path.join(corpus, CORPUS["ips"][0]), "zip_root": corpus,
               "zip_args": zip_args}
    write_summary(out, summary)
    return summary


def main(argv):
    if argv[1:] == ["--digest"]:
        print(generator_digest())
        return 0
    if len(argv) == 4 and argv[1] == "--corpus":
        summary = describe_corpus(argv[2], argv[3])
        sys.stderr.write(f"generate.py: corpus of {summary['rules']} rules described in "
                         f"{argv[3]}\n")
        return 0
    if len(argv) != 4 or not argv[1].isdigit() or not argv[2].isdigit():
        sys.stderr.write("usage: generate.py N SEED OUT_DIR\n"
                         "       generate.py --corpus CORPUS_DIR OUT_DIR\n")
        return 2
    total, seed, out = int(argv[1]), int(argv[2]), argv[3]
    if os.path.exists(out) and os.listdir(out):
        sys.stderr.write(f"generate.py: `{out}` exists and is not empty\n")
        return 2
    summary = generate(total, seed, out)
    sys.stderr.write(f"generate.py: wrote {total} rules, {summary['bytes']} bytes, to {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
