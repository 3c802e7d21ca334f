//! Test fixtures for the verify module: keys, expectations, zip archives made by hand, and
//! real releases cut through `release::build` in a temporary folder.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tempfile::TempDir;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::Expectations;
use crate::config;
use crate::manifest::{
    CHECKSUMS_NAME, MANIFEST_NAME, Manifest, Previous, SignedFile, Signing, Tool, Trigger,
    checksums,
};
use crate::release::{self, KeyInput, Request};
use crate::sign::{self, SigningKey, TrustedComment};

/// A new key pair `<name>.key`, `<name>.pub` in `dir`, loaded.
pub fn key(dir: &Path, name: &str) -> SigningKey {
    let prefix = dir.join(name);
    sign::keygen(&prefix, false).expect("keygen");
    SigningKey::load(&prefix.with_extension("key")).expect("the new key loads")
}

pub fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// Expectations trusting `keys`, at the first release's time.
pub fn expect(keys: &[&SigningKey]) -> Expectations {
    Expectations {
        allow_development: false,
        installed: None,
        keys: keys.iter().map(|k| k.public_key()).collect(),
        latest: None,
        now: time("2026-12-01T10:00:00Z"),
        product: None,
        revoked: Vec::new(),
    }
}

/// A zip archive of `(name, bytes)` entries, deflated, as mode 0644 files.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().unix_permissions(0o644);
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("start entry");
        zip.write_all(bytes).expect("write entry");
    }
    zip.finish().expect("finish zip").into_inner()
}

/// An `index.json` for a firewall bundle whose rules are in the given entries.
pub fn index_json(paths: &[&str]) -> Vec<u8> {
    let rules: Vec<serde_json::Value> = (paths.iter().enumerate())
        .map(|(n, path)| {
            serde_json::json!({
                "digest": crate::digest::sha256(path.as_bytes()).to_string(),
                "id": format!("fw-{n}"),
                "line": 1,
                "name": "a rule",
                "path": path,
            })
        })
        .collect();
    let index = serde_json::json!({"format": 1, "kind": "firewall", "rules": rules});
    serde_json::to_vec(&index).expect("JSON")
}

const RULES: &str = "\
- id: fw-1
  name: Allow DHCP client requests
  firewall:
    action: allow
    direction: outgoing
    protocol: udp
    destination: { port: '67' }
";

/// A real release cut in a temporary folder: its output folder, its release folder and
/// the key that signed it.
pub struct Built {
    pub dir: TempDir,
    pub dist: PathBuf,
    pub key: SigningKey,
    pub release: PathBuf,
}

/// Cuts the first release of a one-rule product, signed with a new release key.
pub fn release() -> Built {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key(dir.path(), "release");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules folder");
    std::fs::write(dir.path().join("rules/fw.yaml"), RULES).expect("rules");
    let yaml = "product: Example\nsigning: { key: unused.key }\noutput: dist\nsources:\n  \
                - { name: fw, kind: firewall, path: rules }\n";
    std::fs::write(dir.path().join("release.yaml"), yaml).expect("release.yaml");
    let dist = dir.path().join("dist");
    let release = cut(dir.path(), "2026-12-01T09:00:00Z");
    Built {
        dir,
        dist,
        key,
        release,
    }
}

/// Cuts another release of the fixture's product at `at`, and gives its folder.
pub fn cut(base: &Path, at: &str) -> PathBuf {
    let config = config::load(&base.join("release.yaml")).expect("a valid release.yaml");
    let text = std::fs::read_to_string(base.join("release.key")).expect("the key file");
    let request = Request {
        at: time(at),
        key: Some(KeyInput::Text(text)),
        output: base.join("dist"),
        overrides: Default::default(),
        trigger: Trigger::Manual,
        wait_for_lock: None,
    };
    release::build(&config, &request, &mut |_| Ok(()))
        .expect("the release is cut")
        .path
}

/// A manifest of no bundles, for checks that read only its identity and chain.
pub fn manifest(release: &str, sequence: u64, previous: Option<Previous>) -> Manifest {
    Manifest {
        format: crate::manifest::FORMAT,
        release: release.into(),
        sequence,
        created: time("2026-12-01T09:00:00Z"),
        trigger: Trigger::Manual,
        previous,
        bundles: Vec::new(),
        changes: None,
        guards_overridden: Vec::new(),
        min_agent_version: None,
        min_manager_version: None,
        product: "Example".into(),
        signing: Signing {
            development: false,
            key_id: "0123456789ABCDEF".into(),
        },
        sources: Vec::new(),
        tool: Tool {
            name: "rulecut".into(),
            version: "0.1.0".into(),
        },
        year_sequence: 1,
    }
}

/// Writes `manifest` into a release folder and signs it and the checksum list again, as
/// someone holding the key would after changing the release.
pub fn reseal(release: &Path, manifest: &Manifest, key: &SigningKey) {
    let bytes = manifest.to_bytes();
    std::fs::write(release.join(MANIFEST_NAME), &bytes).expect("write manifest");
    let signed = SignedFile {
        file: MANIFEST_NAME.into(),
        product: manifest.product.clone(),
        release: manifest.release.clone(),
        sequence: manifest.sequence,
    };
    let comment = TrustedComment::new(signed.to_comment()).expect("a comment");
    let signature = sign::sign_detached(key, &bytes, &comment);
    std::fs::write(release.join(format!("{MANIFEST_NAME}.sig")), signature).expect("write sig");
    let mut listed = Vec::new();
    for entry in std::fs::read_dir(release).expect("list release") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !name.starts_with(CHECKSUMS_NAME) {
            let digest = crate::digest::sha256_file(&release.join(&name)).expect("hash");
            listed.push((name, digest));
        }
    }
    let checksums = checksums(&listed);
    std::fs::write(release.join(CHECKSUMS_NAME), &checksums).expect("write SHA256SUMS");
    let embedded = sign::sign_embedded(key, &checksums);
    std::fs::write(release.join(format!("{CHECKSUMS_NAME}.sig")), embedded).expect("write sig");
}

/// The manifest of a release folder.
pub fn read_manifest(release: &Path) -> Manifest {
    let bytes = std::fs::read(release.join(MANIFEST_NAME)).expect("read manifest");
    serde_json::from_slice(&bytes).expect("a manifest")
}
