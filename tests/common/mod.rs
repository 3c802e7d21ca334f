//! Shared fixtures for integration tests: a copy of the sample project, a release key, the
//! binary, and checks for independent tools that must be installed in CI.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A project folder holding the samples' rules and templates, with a release key.
pub struct Project {
    pub dir: TempDir,
    pub key: String,
    pub public_key: PathBuf,
}

impl Project {
    /// The sample project, configured for a release key rather than a development key.
    pub fn samples() -> Project {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_tree(&root.join("rules"), &dir.path().join("rules"));
        copy_tree(&root.join("templates"), &dir.path().join("templates"));
        let config = std::fs::read_to_string(root.join("release.yaml")).expect("release.yaml");
        let config = config.replace("development: true", "development: false");
        std::fs::write(dir.path().join("release.yaml"), config).expect("write release.yaml");
        let prefix = dir.path().join("test-key");
        rulecut::sign::keygen(&prefix, false).expect("a key pair");
        let key = std::fs::read_to_string(prefix.with_extension("key")).expect("the key");
        Project {
            dir,
            key,
            public_key: prefix.with_extension("pub"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rulecut ARGS` in the project folder, with the release key in the environment.
    pub fn rulecut(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("rulecut").expect("the rulecut binary");
        command
            .current_dir(self.path())
            .env("RULECUT_SIGNING_KEY", &self.key)
            .env_remove("RULECUT_SIGNING_KEY_FILE")
            .env_remove("SOURCE_DATE_EPOCH");
        command
    }

    /// Builds a release at `at` and returns its folder.
    pub fn build(&self, at: &str) -> PathBuf {
        let output = self
            .rulecut()
            .args(["build", "--at", at])
            .output()
            .expect("rulecut runs");
        assert!(
            output.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = String::from_utf8(output.stdout).expect("UTF-8");
        self.path().join(printed.trim())
    }
}

/// The real rule sets, in `shared/corpus` beside the project; missing, the test fails.
pub fn corpus() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    assert!(
        path.is_dir(),
        "the rule corpus is missing: expected shared/corpus beside the repository, at {}",
        path.display()
    );
    path
}

/// The files in a folder with an extension, sorted; a folder without any is a failure.
pub fn files(folder: &Path, extension: &str) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no .{extension} files in {}",
        folder.display()
    );
    paths
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("a readable tree");
        let target = to.join(entry.path().strip_prefix(from).expect("inside the tree"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir` with its bytes, by relative path.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("a readable tree");
        if entry.file_type().is_file() {
            let relative = entry
                .path()
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            files.insert(relative, std::fs::read(entry.path()).expect("read"));
        }
    }
    files
}

/// Whether an independent tool is installed. In CI a missing tool fails the test; elsewhere
/// the test says it skipped and returns.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{tool}` must be installed in CI: .ci/run installs it"
        );
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: {tool} not installed");
    }
    found
}

/// Runs a command in `dir` and asserts that it succeeds.
pub fn succeeds(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the tool runs");
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
