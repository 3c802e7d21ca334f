//! Cutting a release of the samples: what independent verifiers accept, reproducibility, the
//! refusal of bad input, the keys, and what the library reads back.

mod common;

use std::path::Path;

use common::{Project, have, snapshot, succeeds};
use predicates::prelude::*;
use rulecut::digest::sha256;
use rulecut::manifest::{self, Manifest, SignedFile};
use rulecut::package::{Index, IndexedRule};
use rulecut::sign::{self, PublicKey};

const AT: &str = "2026-12-01T09:00:00Z";

fn public_key(project: &Project) -> PublicKey {
    PublicKey::load(&project.public_key).expect("the public key")
}

#[test]
fn sha256sum_accepts_the_checksums() {
    let project = Project::samples();
    let release = project.build(AT);
    if have("sha256sum") {
        succeeds(&release, "sha256sum", &["-c", "--strict", "SHA256SUMS"]);
    }
}

#[test]
fn signify_accepts_the_checksums_and_every_bundle() {
    let project = Project::samples();
    let release = project.build(AT);
    if !have("signify-openbsd") {
        return;
    }
    let key = project.public_key.to_string_lossy().into_owned();
    succeeds(
        &release,
        "signify-openbsd",
        &["-C", "-p", &key, "-x", "SHA256SUMS.sig"],
    );
    for kind in [
        "firewall",
        "intrusion-prevention",
        "integrity-monitoring",
        "log-inspection",
    ] {
        succeeds(
            &release,
            "signify-openbsd",
            &["-V", "-q", "-p", &key, "-m", &format!("{kind}.zip")],
        );
    }
}

#[test]
fn minisign_accepts_every_detached_signature_and_its_trusted_comment() {
    let project = Project::samples();
    let release = project.build(AT);
    if !have("minisign") {
        return;
    }
    let key = project.public_key.to_string_lossy().into_owned();
    let signed = [
        "firewall.zip",
        "intrusion-prevention.zip",
        "integrity-monitoring.zip",
        "log-inspection.zip",
        "manifest.json",
    ];
    for file in signed {
        let sig = format!("{file}.sig");
        succeeds(
            &release,
            "minisign",
            &["-V", "-q", "-p", &key, "-m", file, "-x", &sig],
        );
    }
    let latest = release.parent().expect("the output folder");
    succeeds(
        latest,
        "minisign",
        &[
            "-V",
            "-q",
            "-p",
            &key,
            "-m",
            "latest.json",
            "-x",
            "latest.json.sig",
        ],
    );
}

#[test]
fn openssl_accepts_the_manifest_signature_with_the_pem_key() {
    let project = Project::samples();
    let release = project.build(AT);
    if !have("openssl") {
        return;
    }
    let text = std::fs::read_to_string(release.join("manifest.json.sig")).expect("a signature");
    let line = text.lines().nth(1).expect("a signature line");
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line)
        .expect("base64");
    std::fs::write(release.join("../raw.sig"), &raw[10..]).expect("write");
    let pem = project
        .public_key
        .with_extension("pem")
        .to_string_lossy()
        .into_owned();
    succeeds(
        &release,
        "openssl",
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            &pem,
            "-rawin",
            "-in",
            "manifest.json",
            "-sigfile",
            "../raw.sig",
        ],
    );
}

#[test]
fn the_library_reads_back_and_checks_what_build_writes() {
    let project = Project::samples();
    let release = project.build(AT);
    let keys = [public_key(&project)];
    let (_, signed_text) = sign::verify_embedded(&keys, &read(&release, "SHA256SUMS.sig"))
        .expect("a valid embedded signature");
    assert_eq!(signed_text, read(&release, "SHA256SUMS"));
    let listed = manifest::parse_checksums(&signed_text).expect("checksums");
    for (name, digest) in &listed {
        assert_eq!(
            sha256(&std::fs::read(release.join(name)).expect("a listed file")),
            *digest,
            "{name}"
        );
    }
    let manifest: Manifest =
        serde_json::from_str(&read(&release, "manifest.json")).expect("a manifest");
    assert_eq!(
        (
            manifest.release.as_str(),
            manifest.sequence,
            manifest.year_sequence
        ),
        ("RU26-001", 1, 1)
    );
    assert_eq!(manifest.signing.key_id, keys[0].key_id().to_string());
    assert!(!manifest.signing.development);
    for bundle in &manifest.bundles {
        let bytes = std::fs::read(release.join(&bundle.file)).expect("a bundle");
        assert_eq!(
            (sha256(&bytes), bytes.len() as u64),
            (bundle.sha256, bundle.size)
        );
        let verified = sign::verify_detached(
            &keys,
            &bytes,
            &read(&release, &format!("{}.sig", bundle.file)),
        )
        .expect("a valid signature");
        let comment: SignedFile =
            serde_json::from_str(&verified.trusted_comment).expect("a JSON trusted comment");
        assert_eq!(
            (
                comment.file.as_str(),
                comment.release.as_str(),
                comment.sequence
            ),
            (bundle.file.as_str(), "RU26-001", 1)
        );
        assert_eq!(comment.product, "Example Rule Update");
        let index: Index<IndexedRule> =
            rulecut::package::read_index(&bundle.file, &bytes).expect("an index");
        assert_eq!(index.rules.len(), bundle.rules.total);
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("a release file")
}

#[test]
fn builds_are_byte_identical_from_any_folder_umask_time_zone_and_file_order() {
    let first = Project::samples();
    let second = Project::samples();
    // the same key in both, and the second project's rule files created in reverse order
    std::fs::remove_dir_all(second.path().join("rules")).expect("remove");
    let mut files: Vec<_> = walkdir::WalkDir::new(first.path().join("rules"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .collect();
    files.reverse();
    for entry in files {
        let target = second
            .path()
            .join(entry.path().strip_prefix(first.path()).expect("inside"));
        std::fs::create_dir_all(target.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(entry.path(), &target).expect("copy");
    }
    let one = first.build(AT);
    let output = second
        .rulecut()
        .env("RULECUT_SIGNING_KEY", &first.key)
        .env("TZ", "Asia/Kathmandu")
        .args(["build", "--at", AT])
        .output()
        .expect("rulecut runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let two = second
        .path()
        .join(String::from_utf8_lossy(&output.stdout).trim());
    assert_eq!(snapshot(&one), snapshot(&two));
}

#[test]
fn editing_one_rule_changes_only_its_bundle_and_the_files_that_list_it() {
    let first = Project::samples();
    let second = Project::samples();
    let rule = second.path().join("rules/firewall/base.yaml");
    let text = std::fs::read_to_string(&rule).expect("a rule file");
    std::fs::write(
        &rule,
        text.replace(
            "name: Allow DHCP server replies",
            "name: Allow DHCP replies",
        ),
    )
    .expect("write");
    let one = snapshot(
        &first
            .rulecut()
            .env("RULECUT_SIGNING_KEY", &first.key)
            .args(["build", "--at", AT])
            .ok()
            .map(|_| first.path().join("dist/RU26-001"))
            .expect("built"),
    );
    let two = snapshot(
        &second
            .rulecut()
            .env("RULECUT_SIGNING_KEY", &first.key)
            .args(["build", "--at", AT])
            .ok()
            .map(|_| second.path().join("dist/RU26-001"))
            .expect("built"),
    );
    let changed: Vec<&str> = one
        .keys()
        .filter(|name| one[*name] != two[*name])
        .map(String::as_str)
        .collect();
    let expected = [
        "RELEASE-NOTES.md",
        "SHA256SUMS",
        "SHA256SUMS.sig",
        "firewall.zip",
        "firewall.zip.sig",
        "manifest.json",
        "manifest.json.sig",
        "release-notes.json",
    ];
    assert_eq!(changed, expected);
}

#[test]
fn bad_yaml_bad_values_and_duplicates_are_all_listed_and_change_nothing() {
    let project = Project::samples();
    project.build(AT);
    let before = snapshot(&project.path().join("dist"));
    let folder = project.path().join("rules/firewall");
    std::fs::copy(folder.join("base.yaml"), folder.join("zz-copy.yaml")).expect("copy");
    std::fs::write(folder.join("zz-broken.yaml"), "- id: [unclosed\n").expect("write");
    let text = std::fs::read_to_string(folder.join("hardening.yaml")).expect("read");
    std::fs::write(
        folder.join("hardening.yaml"),
        text.replace("priority: 3", "priority: 9"),
    )
    .expect("write");
    for command in [vec!["check"], vec!["build", "--at", "2026-12-08T09:00:00Z"]] {
        project
            .rulecut()
            .args(&command)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("rules/firewall/hardening.yaml:13:15: priority 9 is out of range 0 to 4"))
            .stderr(predicate::str::contains("rules/firewall/zz-broken.yaml:1:7: expected string scalar\n"))
            .stderr(predicate::str::contains("rules/firewall/zz-copy.yaml:2:7: duplicate firewall rule id `fw-1000001`: also defined at rules/firewall/base.yaml:2:7"));
    }
    let after = snapshot(&project.path().join("dist"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert_eq!(before, after);
}

#[test]
fn a_build_that_fails_after_packaging_leaves_the_output_as_it_was() {
    let project = Project::samples();
    project.build(AT);
    let before = snapshot(&project.path().join("dist"));
    // The notes are the last files made, after every bundle is written and signed.
    let template = project.path().join("templates/release-notes.json.j2");
    std::fs::write(&template, "{ \"release\": {{ release }}\n").expect("write");
    project
        .rulecut()
        .args(["build", "--at", "2026-12-08T09:00:00Z"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not render valid JSON"));
    assert_eq!(snapshot(&project.path().join("dist")), before);
}

#[test]
fn problems_are_sorted_by_file_and_line() {
    let project = Project::samples();
    let folder = project.path().join("rules/log-inspection");
    std::fs::write(
        folder.join("b.yaml"),
        "- id: x\n  name: ''\n  log_inspection: { level: 99 }\n",
    )
    .expect("write");
    std::fs::write(
        folder.join("a.yaml"),
        "- id: y\n  name: ''\n  log_inspection: { level: 1 }\n",
    )
    .expect("write");
    let output = project
        .rulecut()
        .arg("check")
        .output()
        .expect("rulecut runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("rules/")).collect();
    assert_eq!(
        lines,
        [
            "rules/log-inspection/a.yaml:2:9: `name` may not be empty",
            "rules/log-inspection/b.yaml:2:9: `name` may not be empty",
            "rules/log-inspection/b.yaml:3:28: level 99 is out of range 0 to 16",
        ]
    );
}

#[test]
fn a_dry_run_prints_the_plan_and_writes_nothing() {
    let project = Project::samples();
    project
        .rulecut()
        .args(["build", "--dry-run", "--at", AT])
        .assert()
        .success()
        .stdout(predicate::str::contains("release  RU26-001 (sequence 1"));
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_second_build_while_one_holds_the_lock_fails_at_once() {
    let project = Project::samples();
    let output = project.path().join("dist");
    let _held = rulecut::publish::OutputLock::acquire(&output, None).expect("locked");
    project
        .rulecut()
        .args(["build", "--at", AT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "another rulecut run holds the lock on `dist`",
        ));
}

#[test]
fn a_deleted_ledger_loses_nothing() {
    let project = Project::samples();
    project.build(AT);
    let ledger = project.path().join("dist/releases.json");
    let before = std::fs::read_to_string(&ledger).expect("a ledger");
    std::fs::remove_file(&ledger).expect("remove");
    let second = project.build("2026-12-08T09:00:00Z");
    assert!(second.ends_with("RU26-002"));
    let manifest: Manifest =
        serde_json::from_str(&read(&second, "manifest.json")).expect("a manifest");
    let previous = manifest.previous.expect("a previous release");
    assert_eq!(
        (previous.release.as_str(), previous.sequence),
        ("RU26-001", 1)
    );
    let rebuilt = std::fs::read_to_string(&ledger).expect("a ledger");
    assert!(
        rebuilt.starts_with(before.trim_end().trim_end_matches(['}', ']', '\n', ' '])),
        "{rebuilt}"
    );
}

#[test]
fn a_release_time_before_the_previous_release_is_refused() {
    let project = Project::samples();
    project.build(AT);
    project
        .rulecut()
        .args(["build", "--at", "2026-11-30T09:00:00Z"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "release time 2026-11-30T09:00:00Z is before the previous release `RU26-001`",
        ));
}

#[test]
fn the_sequence_goes_on_and_ids_restart_at_the_turn_of_the_year() {
    let project = Project::samples();
    project.build("2026-12-29T09:00:00Z");
    let release = project.build("2027-01-05T09:00:00Z");
    assert!(release.ends_with("RU27-001"), "{}", release.display());
    let manifest: Manifest =
        serde_json::from_str(&read(&release, "manifest.json")).expect("a manifest");
    assert_eq!(manifest.sequence, 2);
}

#[test]
fn a_release_without_a_changed_rule_is_cut_with_a_warning() {
    let project = Project::samples();
    let build = |at: &str, args: &[&str]| {
        let output = project
            .rulecut()
            .args(["build", "--at", at])
            .args(args)
            .output()
            .expect("rulecut runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stderr).expect("UTF-8")
    };
    let warning = "no rule changed: this release ships the same rules as the previous one";
    assert!(!build("2026-12-01T09:00:00Z", &[]).contains(warning));
    let emergency = build(
        "2026-12-02T09:00:00Z",
        &["--emergency", "--reason", "CVE-2026-1234"],
    );
    assert!(
        emergency.contains(&format!("WARN {warning} previous=RU26-001")),
        "{emergency}"
    );
    // `-q` keeps errors only.
    assert!(!build("2026-12-03T09:00:00Z", &["-q"]).contains(warning));
    let rule = project.path().join("rules/firewall/base.yaml");
    let text = std::fs::read_to_string(&rule).expect("a firewall rule file");
    std::fs::write(&rule, text.replace("revision: 1", "revision: 2")).expect("write");
    assert!(!build("2026-12-04T09:00:00Z", &[]).contains(warning));
}

#[test]
fn a_newcomer_gets_a_development_key_only_where_release_yaml_asks() {
    let project = Project::samples();
    let config = project.path().join("release.yaml");
    let text = std::fs::read_to_string(&config).expect("release.yaml");
    project
        .rulecut()
        .env_remove("RULECUT_SIGNING_KEY")
        .args(["build", "--at", AT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no signing key: `keys/development.key` does not exist",
        ))
        .stderr(predicate::str::contains(
            "help: make one with `rulecut keygen",
        ));
    assert!(!project.path().join("keys").exists());
    std::fs::write(
        &config,
        text.replace("development: false", "development: true"),
    )
    .expect("write");
    project
        .rulecut()
        .env_remove("RULECUT_SIGNING_KEY")
        .args(["build", "--at", AT])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "created a DEVELOPMENT signing key",
        ));
    let manifest: Manifest = serde_json::from_str(&read(
        &project.path().join("dist/RU26-001"),
        "manifest.json",
    ))
    .expect("a manifest");
    assert!(manifest.signing.development);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(project.path().join("keys/development.key"))
            .expect("a key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_key_file_others_can_read_is_refused_with_the_chmod() {
    let project = Project::samples();
    let key = project.path().join("test-key.key");
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&key).expect("a key").permissions(),
        0o644,
    );
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    project
        .rulecut()
        .env_remove("RULECUT_SIGNING_KEY")
        .env("RULECUT_SIGNING_KEY_FILE", &key)
        .args(["build", "--at", AT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("help: chmod 600"))
        .stderr(predicate::str::contains("PRIVATE").not());
}

#[test]
fn a_configured_key_that_differs_from_the_environment_is_an_error() {
    let project = Project::samples();
    rulecut::sign::keygen(&project.path().join("keys/development"), false).expect("another key");
    project
        .rulecut()
        .args(["build", "--at", AT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "signing key `keys/development.key` differs from the key given in the environment",
        ));
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let project = Project::samples();
    project
        .rulecut()
        .args(["keygen", "--out", "k"])
        .assert()
        .success()
        .stdout("k.key\nk.pub\nk.pem\n");
    project
        .rulecut()
        .args(["keygen", "--out", "k"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    project
        .rulecut()
        .args(["keygen", "--out", "k", "--force"])
        .assert()
        .success();
}

/// A Suricata rule file of `count` distinct rules, several deflate pieces long.
fn large_rule_file(count: u32) -> String {
    let words = [
        "Exchange",
        "Log4j",
        "Citrix",
        "WebLogic",
        "Confluence",
        "Mirai",
        "Qakbot",
    ];
    (0..count)
        .map(|i| {
            let word = words[i as usize % words.len()];
            format!(
                "alert http $EXTERNAL_NET any -> $HOME_NET any (msg:\"LOCAL WEB {word} probe \
                 {i}\"; flow:established,to_server; http.uri; content:\"/{word}/{}\"; \
                 classtype:web-application-attack; sid:{}; rev:1; metadata:signature_severity \
                 Major, created_at 2024_01_11;)\n",
                i * 7919 % 100_003,
                3_000_000 + i
            )
        })
        .collect()
}

#[test]
fn bundles_of_many_deflate_pieces_are_the_same_on_one_thread_as_on_four() {
    let one = Project::samples();
    let four = Project::samples();
    let big = large_rule_file(6000);
    assert!(
        big.len() > 1 << 20,
        "the file must span several 1 MiB pieces"
    );
    let build = |project: &Project, threads: &str| {
        let path = project.path().join("rules/intrusion-prevention/big.rules");
        std::fs::write(path, &big).expect("write big.rules");
        project
            .rulecut()
            .env("RULECUT_SIGNING_KEY", &one.key)
            .env("RAYON_NUM_THREADS", threads)
            .args(["build", "--at", AT])
            .assert()
            .success();
        project.path().join("dist/RU26-001")
    };
    let (single, several) = (build(&one, "1"), build(&four, "4"));
    assert_eq!(snapshot(&single), snapshot(&several));
    if have("python3") {
        // Python's zipfile, not our reader: every CRC checks, and the rule file is intact.
        let script = "import sys, zipfile\n\
                      z = zipfile.ZipFile(sys.argv[1])\n\
                      assert z.testzip() is None\n\
                      sys.stdout.write(z.read('ips-core/big.rules').decode())";
        let bundle = single.join("intrusion-prevention.zip");
        let output = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&bundle)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), big);
    }
}

/// Files are read a batch at a time; what relates rules of different files works the same
/// whichever batches the files fall in. Far more files than any batch holds here.
#[test]
fn duplicates_and_overwrites_are_found_across_many_files() {
    let project = Project::samples();
    let folder = project.path().join("rules/log-inspection");
    let count = 40 * std::thread::available_parallelism().map_or(1, usize::from);
    let rule = |id: usize, overwrite: &str, text: &str| {
        format!(
            "<group name=\"many,\">\n  <rule id=\"{id}\" level=\"3\"{overwrite}>\n    \
             <match>{text}</match>\n    <description>rule {text}</description>\n  \
             </rule>\n</group>\n"
        )
    };
    for n in 0..count {
        let text = rule(300_000 + n, "", &format!("n{n}"));
        std::fs::write(folder.join(format!("many-{n:04}.xml")), text).expect("write");
    }
    // A file without rules still counts among the kind's files.
    std::fs::write(folder.join("many-none.xml"), "<var name=\"NONE\">1</var>\n").expect("write");
    let last = folder.join("zz-last.xml");
    std::fs::write(&last, rule(300_000, "", "again")).expect("write");
    project
        .rulecut()
        .arg("check")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "rules/log-inspection/zz-last.xml:2:3: duplicate log-inspection rule id `300000`: \
             also defined at rules/log-inspection/many-0000.xml:2:3",
        ));

    std::fs::write(&last, rule(300_000, " overwrite=\"yes\"", "again")).expect("write");
    let release = project.build(AT);
    let bundle = std::fs::read(release.join("log-inspection.zip")).expect("the bundle");
    let index: Index<IndexedRule> =
        rulecut::package::read_index("log-inspection.zip", &bundle).expect("an index");
    let many: Vec<(&str, &str)> = (index.rules.iter())
        .filter(|r| r.path.contains("many-") || r.path.contains("zz-last"))
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(many.len(), count, "the overwritten rule is held once");
    assert_eq!(
        many[0],
        ("300000", "rule again"),
        "in the place of the rule it replaces"
    );
    assert_eq!(many[count - 1].0, (300_000 + count - 1).to_string());
}
