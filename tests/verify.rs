//! `rulecut verify` and `rulecut audit` run as an importer runs them, on releases cut by the
//! real binary in a temporary folder with the sample rules and a release key made by
//! `rulecut keygen`. Each test damages a fresh release one way and pins the exit status and
//! the exact problem line that names the file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{ZipArchive, ZipWriter};

use rulecut::digest::{sha256, sha256_file};
use rulecut::manifest::{self, Manifest, SignedFile};
use rulecut::sign::{self, SigningKey, TrustedComment};
use rulecut::verify::{self, Expectations};

const FIRST: &str = "2026-12-01T09:00:00Z";
const SECOND: &str = "2026-12-08T09:00:00Z";
const PRODUCT: &str = "Example Rule Update";

/// A folder with the sample rules, a `release.yaml` and a release key.
struct Workspace {
    dir: TempDir,
    key: SigningKey,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace::with_development(false)
    }

    /// A workspace whose `release.yaml` says `development: development`.
    fn with_development(development: bool) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ran = rulecut(dir.path(), &["keygen", "--out", "keys/release"]);
        assert!(ran.status.success(), "keygen: {}", text(&ran.stderr));
        let key = SigningKey::load(&dir.path().join("keys/release.key")).expect("the key");
        copy_rules(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
            dir.path(),
        );
        let yaml = format!(
            "product: {PRODUCT}\nsigning: {{ key: unused.key, development: {development} }}\n\
             output: dist\nsources:\n\
             \x20 - {{ name: fw-core, kind: firewall, path: rules/firewall }}\n\
             \x20 - {{ name: ips-core, kind: intrusion-prevention, path: rules/intrusion-prevention }}\n\
             \x20 - {{ name: im-core, kind: integrity-monitoring, path: rules/integrity-monitoring }}\n\
             \x20 - {{ name: li-core, kind: log-inspection, path: rules/log-inspection }}\n"
        );
        fs::write(dir.path().join("release.yaml"), yaml).expect("release.yaml");
        Workspace { dir, key }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Cuts a release at `at` with the binary, as CI does, and gives its folder, relative.
    fn cut(&self, at: &str) -> String {
        let key = fs::read_to_string(self.path("keys/release.key")).expect("key text");
        let output = cargo_bin_cmd!("rulecut")
            .current_dir(self.dir.path())
            .env("RULECUT_SIGNING_KEY", key)
            .env_remove("RULECUT_SIGNING_KEY_FILE")
            .args(["build", "--at", at, "--out", "dist"])
            .output()
            .expect("run rulecut build");
        assert!(output.status.success(), "build: {}", text(&output.stderr));
        let printed = text(&output.stdout);
        let folder = Path::new(printed.trim())
            .file_name()
            .expect("a release folder");
        format!("dist/{}", folder.to_string_lossy())
    }

    /// `rulecut verify PATH --key keys/release.pub ARGS...`, run in the workspace.
    fn verify(&self, path: &str, args: &[&str]) -> Output {
        let mut all = vec!["verify", path, "--key", "keys/release.pub"];
        all.extend_from_slice(args);
        rulecut(self.dir.path(), &all)
    }

    fn key_id(&self) -> String {
        self.key.key_id().to_string()
    }
}

fn rulecut(dir: &Path, args: &[&str]) -> Output {
    cargo_bin_cmd!("rulecut")
        .current_dir(dir)
        .env_remove("RULECUT_SIGNING_KEY")
        .env_remove("RULECUT_SIGNING_KEY_FILE")
        .args(args)
        .output()
        .expect("run rulecut")
}

fn copy_rules(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to
            .join("rules")
            .join(entry.strip_prefix(from).expect("inside"));
        fs::create_dir_all(target.parent().expect("a parent")).expect("rules folder");
        fs::copy(&entry, target).expect("copy rule file");
    }
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("list folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The problem lines of a run: stderr's `warning:` lines, without the prefix.
fn problems(output: &Output) -> Vec<String> {
    text(&output.stderr)
        .lines()
        .filter_map(|line| line.strip_prefix("warning: "))
        .map(str::to_owned)
        .collect()
}

/// Asserts exit 1 and exactly these problem lines, in order.
fn assert_refused(output: &Output, expected: &[String]) {
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(problems(output), expected, "{}", text(&output.stderr));
}

/// Asserts exit 1 and that these problem lines are among those printed.
fn assert_refused_with(output: &Output, expected: &[String]) {
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let found = problems(output);
    for line in expected {
        assert!(found.contains(line), "missing {line:?} in {found:#?}");
    }
}

fn assert_accepted(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(problems(output).is_empty(), "{}", text(&output.stderr));
}

/// Every file under `dir` with its bytes, mode and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)> {
    walk(dir)
        .into_iter()
        .map(|path| {
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let bytes = fs::read(&path).expect("read");
            (path, (bytes, meta.mode(), meta.mtime(), meta.mtime_nsec()))
        })
        .collect()
}

/// Re-signs `file` of a release folder with `key`, its trusted comment naming the release.
fn sign_file(release: &Path, file: &str, key: &SigningKey) {
    let manifest = read_manifest(release);
    let signed = SignedFile {
        file: file.to_owned(),
        product: manifest.product.clone(),
        release: manifest.release.clone(),
        sequence: manifest.sequence,
    };
    let comment = TrustedComment::new(signed.to_comment()).expect("comment");
    let bytes = fs::read(release.join(file)).expect("file to sign");
    let signature = sign::sign_detached(key, &bytes, &comment);
    fs::write(release.join(format!("{file}.sig")), signature).expect("write signature");
}

fn read_manifest(release: &Path) -> Manifest {
    let bytes = fs::read(release.join(manifest::MANIFEST_NAME)).expect("manifest");
    serde_json::from_slice(&bytes).expect("a manifest")
}

/// Signs a release folder again after its bundles changed, as an attacker holding the key
/// would: bundle signatures, manifest sizes and digests, manifest signature, checksums.
fn reseal(release: &Path, key: &SigningKey) {
    let mut manifest = read_manifest(release);
    for record in &mut manifest.bundles {
        let bytes = fs::read(release.join(&record.file)).expect("bundle");
        record.size = bytes.len() as u64;
        record.sha256 = sha256(&bytes);
    }
    fs::write(release.join(manifest::MANIFEST_NAME), manifest.to_bytes()).expect("manifest");
    for record in &manifest.bundles {
        sign_file(release, &record.file, key);
    }
    sign_file(release, manifest::MANIFEST_NAME, key);
    let listed: Vec<(String, rulecut::digest::Sha256)> = walk(release)
        .into_iter()
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !name.starts_with(manifest::CHECKSUMS_NAME))
        .map(|name| {
            let digest = sha256_file(&release.join(&name)).expect("hash");
            (name, digest)
        })
        .collect();
    let checksums = manifest::checksums(&listed);
    fs::write(release.join("SHA256SUMS"), &checksums).expect("SHA256SUMS");
    let signed = sign::sign_embedded(key, &checksums);
    fs::write(release.join("SHA256SUMS.sig"), signed).expect("SHA256SUMS.sig");
}

/// The bundle with one more entry, named `name`.
fn with_entry(bundle: &[u8], name: &str) -> Vec<u8> {
    let mut archive = ZipArchive::new(Cursor::new(bundle)).expect("a zip");
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for number in 0..archive.len() {
        zip.raw_copy_file(archive.by_index_raw(number).expect("entry"))
            .expect("copy entry");
    }
    let options = SimpleFileOptions::default().unix_permissions(0o644);
    zip.start_file(name, options).expect("start entry");
    zip.write_all(b"owned\n").expect("write entry");
    zip.finish().expect("finish zip").into_inner()
}

#[test]
fn the_release_as_built_is_accepted_and_nothing_is_written() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let before = snapshot(ws.dir.path());
    let output = ws.verify(&release, &[]);
    assert_accepted(&output);
    assert!(output.stdout.is_empty());
    assert_eq!(
        text(&output.stderr),
        format!(
            "accepted release `RU26-001` (sequence 1): 4 bundle(s), 30 rule(s), signed by key \
             `{}`\n",
            ws.key_id()
        )
    );
    assert_eq!(
        snapshot(ws.dir.path()),
        before,
        "verify changed the workspace"
    );
}

#[test]
fn a_refused_release_and_an_audit_write_nothing_either() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    fs::write(ws.path(&release).join("extra.txt"), "x").expect("extra");
    let before = snapshot(ws.dir.path());
    assert_eq!(ws.verify(&release, &["--json"]).status.code(), Some(1));
    let audit = rulecut(
        ws.dir.path(),
        &["audit", "dist", "--key", "keys/release.pub"],
    );
    assert_eq!(audit.status.code(), Some(1));
    assert_eq!(
        snapshot(ws.dir.path()),
        before,
        "verify or audit changed the workspace"
    );
}

#[test]
fn a_flipped_byte_in_a_bundle_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let path = ws.path(&release).join("firewall.zip");
    let mut bytes = fs::read(&path).expect("bundle");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&path, bytes).expect("flip a byte");
    let output = ws.verify(&release, &[]);
    assert_refused_with(
        &output,
        &[
            format!(
                "`firewall.zip` does not match its signature by key `{}`: it was altered after \
                 signing",
                ws.key_id()
            ),
            "`firewall.zip` does not match its digest in `manifest.json`: it was altered".into(),
            "`firewall.zip` does not match its digest in `SHA256SUMS`: it was altered".into(),
        ],
    );
}

#[test]
fn a_bundle_signed_again_by_another_key_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    sign::keygen(&ws.path("keys/other"), false).expect("another key");
    let other = SigningKey::load(&ws.path("keys/other.key")).expect("other key");
    sign_file(&ws.path(&release), "firewall.zip", &other);
    assert_refused(
        &ws.verify(&release, &[]),
        &[
            format!(
                "`firewall.zip` has not been signed by a trusted key and cannot be imported (it \
                 names key `{}`)",
                other.key_id()
            ),
            "`firewall.zip.sig` does not match its digest in `SHA256SUMS`: it was altered".into(),
        ],
    );
}

#[test]
fn signatures_swapped_between_bundles_are_refused() {
    let ws = Workspace::new();
    let release = ws.path(&ws.cut(FIRST));
    let (a, b) = (
        release.join("firewall.zip.sig"),
        release.join("log-inspection.zip.sig"),
    );
    let (sig_a, sig_b) = (fs::read(&a).expect("sig a"), fs::read(&b).expect("sig b"));
    fs::write(&a, sig_b).expect("swap");
    fs::write(&b, sig_a).expect("swap");
    let id = ws.key_id();
    let mismatch = "does not match its signature by key";
    assert_refused(
        &ws.verify("dist/RU26-001", &[]),
        &[
            format!("`firewall.zip` {mismatch} `{id}`: it was altered after signing"),
            "`firewall.zip.sig` does not match its digest in `SHA256SUMS`: it was altered".into(),
            format!("`log-inspection.zip` {mismatch} `{id}`: it was altered after signing"),
            "`log-inspection.zip.sig` does not match its digest in `SHA256SUMS`: it was altered"
                .into(),
        ],
    );
}

#[test]
fn a_bundle_passed_off_under_another_bundles_name_is_refused() {
    let ws = Workspace::new();
    let release = ws.path(&ws.cut(FIRST));
    // Both the bundle and its signature, so that the signature still matches the bytes and
    // only its trusted comment tells the files apart.
    for extension in ["zip", "zip.sig"] {
        let a = release.join(format!("firewall.{extension}"));
        let b = release.join(format!("log-inspection.{extension}"));
        let (bytes_a, bytes_b) = (fs::read(&a).expect("a"), fs::read(&b).expect("b"));
        fs::write(&a, bytes_b).expect("swap");
        fs::write(&b, bytes_a).expect("swap");
    }
    assert_refused_with(
        &ws.verify("dist/RU26-001", &[]),
        &[
            "`firewall.zip` is signed as `log-inspection.zip`, not as `firewall.zip`".into(),
            "`log-inspection.zip` is signed as `firewall.zip`, not as `log-inspection.zip`".into(),
            "`firewall.zip` holds `log-inspection` rules, and its name says `firewall`".into(),
        ],
    );
}

#[test]
fn an_unlisted_file_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    fs::write(ws.path(&release).join("install.sh"), "#!/bin/sh\n").expect("extra");
    assert_refused(
        &ws.verify(&release, &[]),
        &["`install.sh` is not listed in `SHA256SUMS`".into()],
    );
}

#[test]
fn a_missing_file_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    fs::remove_file(ws.path(&release).join("log-inspection.zip.sig")).expect("remove");
    assert_refused(
        &ws.verify(&release, &[]),
        &[
            "`log-inspection.zip` has no signature: `log-inspection.zip.sig` is missing".into(),
            "`log-inspection.zip.sig` is missing".into(),
        ],
    );
}

#[test]
fn an_edited_checksum_list_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let path = ws.path(&release).join("SHA256SUMS");
    let edited = fs::read_to_string(&path)
        .expect("SHA256SUMS")
        .replace("(firewall.zip)", "(firewall.zip.old)");
    fs::write(&path, edited).expect("edit");
    assert_refused(
        &ws.verify(&release, &[]),
        &[
            "`SHA256SUMS` differs from the text signed in `SHA256SUMS.sig`, which alone is \
           trusted"
                .into(),
        ],
    );
}

#[test]
fn a_revoked_key_is_refused_everywhere_it_signed() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let id = ws.key_id();
    let revoked = format!("is signed by revoked key `{id}` and cannot be imported");
    let files = [
        "SHA256SUMS.sig",
        "firewall.zip",
        "integrity-monitoring.zip",
        "intrusion-prevention.zip",
        "log-inspection.zip",
        "manifest.json",
    ];
    let expected: Vec<String> = files.iter().map(|f| format!("`{f}` {revoked}")).collect();
    assert_refused(&ws.verify(&release, &["--revoked", &id]), &expected);
}

#[test]
fn another_product_is_refused() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    assert_refused(
        &ws.verify(&release, &["--product", "Other Product"]),
        &[format!(
            "`manifest.json` is for product `{PRODUCT}`, not `Other Product`"
        )],
    );
    assert_accepted(&ws.verify(&release, &["--product", PRODUCT]));
}

#[test]
fn a_development_release_needs_allow_development() {
    let ws = Workspace::with_development(true);
    let release = ws.cut(FIRST);
    let output = ws.verify(&release, &[]);
    assert_refused(
        &output,
        &["`manifest.json` was signed with a development key, which importers refuse".into()],
    );
    assert!(
        text(&output.stderr).ends_with(
            "help: to import a development release on purpose, pass `--allow-development`\n"
        ),
        "{}",
        text(&output.stderr)
    );
    assert_accepted(&ws.verify(&release, &["--allow-development"]));
}

#[test]
fn entries_that_climb_out_or_are_absolute_are_refused_even_when_signed() {
    for (entry, reason) in [
        ("../evil", "which climbs out of the bundle with `..`"),
        ("/etc/cron.d/evil", "an absolute path"),
    ] {
        let ws = Workspace::new();
        let release = ws.path(&ws.cut(FIRST));
        let path = release.join("firewall.zip");
        let bundle = with_entry(&fs::read(&path).expect("bundle"), entry);
        fs::write(&path, bundle).expect("write crafted bundle");
        reseal(&release, &ws.key);
        assert_refused(
            &ws.verify("dist/RU26-001", &[]),
            &[format!("`firewall.zip` holds entry `{entry}`, {reason}")],
        );
    }
}

#[test]
fn an_older_or_equal_release_than_installed_is_a_rollback() {
    let ws = Workspace::new();
    let (first, second) = (ws.cut(FIRST), ws.cut(SECOND));
    let installed = format!("{second}/manifest.json");
    assert_refused(
        &ws.verify(&first, &["--installed", &installed]),
        &[
            "`manifest.json` is release `RU26-001` (sequence 1), not newer than the installed \
           release `RU26-002` (sequence 2)"
                .into(),
        ],
    );
    assert_refused(
        &ws.verify(&second, &["--installed", &installed]),
        &[
            "`manifest.json` is release `RU26-002` (sequence 2), not newer than the installed \
           release `RU26-002` (sequence 2)"
                .into(),
        ],
    );
    let installed = format!("{first}/manifest.json");
    assert_accepted(&ws.verify(&second, &["--installed", &installed]));
}

#[test]
fn a_release_that_does_not_chain_to_the_installed_one_is_refused() {
    let ws = Workspace::new();
    let (first, second) = (ws.cut(FIRST), ws.cut(SECOND));
    // The installed manifest as another build of the same release would have it: the same
    // release id and sequence, other bytes.
    let original = fs::read(ws.path(&first).join("manifest.json")).expect("manifest");
    let value: Value = serde_json::from_slice(&original).expect("JSON");
    let other = serde_json::to_vec(&value).expect("compact JSON");
    fs::write(ws.path("installed.json"), &other).expect("installed manifest");
    assert_refused(
        &ws.verify(&second, &["--installed", "installed.json"]),
        &[format!(
            "`manifest.json` follows the installed release `RU26-001` by manifest digest {}, \
             and the installed manifest's digest is {}",
            sha256(&original),
            sha256(&other)
        )],
    );
}

#[test]
fn an_expired_latest_json_says_the_feed_may_be_frozen() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let args = [
        "--latest",
        "dist/latest.json",
        "--now",
        "2026-12-10T00:00:00Z",
    ];
    assert_accepted(&ws.verify(&release, &args));
    let args = [
        "--latest",
        "dist/latest.json",
        "--now",
        "2027-01-01T00:00:00Z",
    ];
    assert_refused(
        &ws.verify(&release, &args),
        &["`dist/latest.json` expired at 2026-12-15T09:00:00Z: the feed may be frozen".into()],
    );
}

#[test]
fn a_latest_json_naming_another_release_is_refused() {
    let ws = Workspace::new();
    let (first, _) = (ws.cut(FIRST), ws.cut(SECOND));
    let args = [
        "--latest",
        "dist/latest.json",
        "--now",
        "2026-12-10T00:00:00Z",
    ];
    assert_refused(
        &ws.verify(&first, &args),
        &[format!(
            "`dist/latest.json` names release `RU26-002` (sequence 2) of `{PRODUCT}`, not \
             release `RU26-001` (sequence 1) of `{PRODUCT}`"
        )],
    );
}

#[test]
fn a_single_bundle_is_verified_by_the_signature_beside_it() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let output = ws.verify(&format!("{release}/firewall.zip"), &[]);
    assert_accepted(&output);
    assert_eq!(
        text(&output.stderr),
        format!(
            "accepted `dist/RU26-001/firewall.zip` of release `RU26-001` (sequence 1): 1 \
             bundle(s), 7 rule(s), signed by key `{}`\n",
            ws.key_id()
        )
    );
    let older = ws.cut(SECOND);
    let installed = format!("{older}/manifest.json");
    let args = ["--installed", installed.as_str()];
    assert_refused(
        &ws.verify(&format!("{release}/firewall.zip"), &args),
        &[
            "`firewall.zip` is release `RU26-001` (sequence 1), not newer than the installed \
           release `RU26-002` (sequence 2)"
                .into(),
        ],
    );
}

#[test]
fn a_single_bundle_renamed_to_another_kinds_name_is_refused() {
    let ws = Workspace::new();
    let release = ws.path(&ws.cut(FIRST));
    fs::create_dir(ws.path("inbox")).expect("inbox");
    fs::copy(
        release.join("firewall.zip"),
        ws.path("inbox/log-inspection.zip"),
    )
    .expect("copy");
    let signature = ws.path("inbox/log-inspection.zip.sig");
    fs::copy(release.join("firewall.zip.sig"), signature).expect("copy signature");
    assert_refused(
        &ws.verify("inbox/log-inspection.zip", &[]),
        &[
            "`log-inspection.zip` is signed as `firewall.zip`, not as `log-inspection.zip`".into(),
            "`log-inspection.zip` holds `firewall` rules, and its name says `log-inspection`"
                .into(),
        ],
    );
}

#[test]
fn json_gives_the_outcome_and_every_problem() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let output = ws.verify(&release, &["--json"]);
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["outcome"], "accepted");
    assert_eq!(json["release"], "RU26-001");
    assert_eq!(json["problems"], Value::Array(Vec::new()));

    fs::write(ws.path(&release).join("extra.txt"), "x").expect("extra");
    let output = ws.verify(&release, &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["outcome"], "refused");
    assert_eq!(
        json["problems"],
        serde_json::json!([{"file": "extra.txt", "reason": "is not listed in `SHA256SUMS`"}])
    );
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    let missing = ws.verify("dist/RU99-999", &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("rulecut: error: cannot read `dist/RU99-999`"));
    let no_key = rulecut(
        ws.dir.path(),
        &["verify", &release, "--key", "keys/none.pub"],
    );
    assert_eq!(no_key.status.code(), Some(2));
    assert!(
        text(&no_key.stderr).starts_with("rulecut: error: cannot read public key `keys/none.pub`")
    );
    let no_keys_at_all = rulecut(ws.dir.path(), &["verify", &release]);
    assert_eq!(no_keys_at_all.status.code(), Some(2));
}

#[test]
fn a_folder_of_trusted_keys_lets_keys_rotate() {
    let ws = Workspace::new();
    let release = ws.cut(FIRST);
    fs::create_dir(ws.path("trusted")).expect("trusted keys");
    sign::keygen(&ws.path("trusted/next"), false).expect("the next key");
    fs::copy(ws.path("keys/release.pub"), ws.path("trusted/release.pub")).expect("copy");
    let output = rulecut(ws.dir.path(), &["verify", &release, "--key", "trusted"]);
    assert_accepted(&output);
}

#[test]
fn audit_accepts_a_chain_and_says_where_an_edit_breaks_it() {
    let ws = Workspace::new();
    let (first, _) = (ws.cut(FIRST), ws.cut(SECOND));
    let args = [
        "audit",
        "dist",
        "--key",
        "keys/release.pub",
        "--now",
        SECOND,
    ];
    let output = rulecut(ws.dir.path(), &args);
    assert_accepted(&output);
    assert_eq!(
        text(&output.stderr),
        "accepted output folder `dist`: 2 release(s), chained from `RU26-001` to `RU26-002`\n"
    );

    let path = ws.path(&first).join("manifest.json");
    let original = fs::read(&path).expect("manifest");
    let edited = text(&original).replace("\"manual\"", "\"scheduled\"");
    fs::write(&path, &edited).expect("edit the first manifest");
    let output = rulecut(ws.dir.path(), &args);
    assert_refused_with(
        &output,
        &[
            format!(
                "`RU26-002/manifest.json` does not chain to `RU26-001`: it names release \
                 `RU26-001` (sequence 1) with manifest digest {}, and `RU26-001` has manifest \
                 digest {}",
                sha256(&original),
                sha256(edited.as_bytes())
            ),
            "`RU26-001/manifest.json` does not match its digest in `SHA256SUMS`: it was altered"
                .into(),
        ],
    );
}

#[test]
fn the_library_reads_back_what_build_writes() {
    let ws = Workspace::new();
    let release = ws.path(&ws.cut(FIRST));
    let expect = Expectations {
        allow_development: false,
        installed: None,
        keys: vec![ws.key.public_key()],
        latest: Some(ws.path("dist/latest.json")),
        now: chrono::DateTime::parse_from_rfc3339(SECOND)
            .expect("a time")
            .into(),
        product: Some(PRODUCT.into()),
        revoked: Vec::new(),
    };
    let report = verify::verify_release(&release, &expect).expect("verified");
    assert!(report.accepted(), "{:?}", report.problems);
    let manifest = report.manifest.expect("the manifest");
    let digest = sha256_file(&release.join("manifest.json")).expect("hash");
    assert_eq!(report.manifest_sha256, Some(digest));
    assert_eq!(manifest.signing.key_id, ws.key_id());
    let total: usize = manifest.bundles.iter().map(|b| b.rules.total).sum();
    assert_eq!((report.bundles, report.rules), (4, total));

    // Every signature verifies with the public key alone, and its trusted comment names
    // the file it signs; every listed digest is the file's.
    let signed = fs::read_to_string(release.join("SHA256SUMS.sig")).expect("sig");
    let (_, listed) = sign::verify_embedded(&[ws.key.public_key()], &signed).expect("signed");
    for (name, digest) in manifest::parse_checksums(&listed).expect("a checksum list") {
        assert_eq!(
            sha256_file(&release.join(&name)).expect("hash"),
            digest,
            "{name}"
        );
        let Some(file) = name.strip_suffix(".sig") else {
            continue;
        };
        let sig = fs::read_to_string(release.join(&name)).expect("signature");
        let bytes = fs::read(release.join(file)).expect("signed file");
        let verified =
            sign::verify_detached(&[ws.key.public_key()], &bytes, &sig).expect("verifies");
        let comment: SignedFile =
            serde_json::from_str(&verified.trusted_comment).expect("a signed file record");
        assert_eq!((comment.file.as_str(), comment.sequence), (file, 1));
    }
}

#[test]
fn a_single_bundle_without_its_signature_is_refused() {
    let ws = Workspace::new();
    let release = ws.path(&ws.cut(FIRST));
    fs::create_dir(ws.path("inbox")).expect("inbox");
    fs::copy(release.join("firewall.zip"), ws.path("inbox/firewall.zip")).expect("copy");
    let output = ws.verify("inbox/firewall.zip", &[]);
    assert_refused(
        &output,
        &["`firewall.zip` has no signature: `firewall.zip.sig` is missing".into()],
    );
    assert!(
        text(&output.stderr)
            .ends_with("rulecut: error: refused `inbox/firewall.zip`: 1 problem(s)\n"),
        "{}",
        text(&output.stderr)
    );
}
