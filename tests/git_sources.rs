//! Git sources end to end: a history scripted with git2 at fixed dates, released by the real
//! binary. The commit is recorded, the work tree is ignored, the notes list the commits since
//! the previous release, bad refs and paths are clear errors, `--tag` tags the released commit,
//! and a `file://` URL names a local repository.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::Project;
use git2::{Oid, Repository, Signature, Time};
use predicates::prelude::*;
use serde_json::{Value, json};

const AT: &str = "2026-12-01T09:00:00Z";
const AT_SECONDS: i64 = 1_796_115_600;
const LATER: &str = "2026-12-08T09:00:00Z";
const RULES: &str = "\
- id: \"100100\"
  name: sshd messages
  severity: low
  log_inspection:
    level: 0
    decoded_as: sshd

- id: \"100101\"
  name: sshd authentication failed
  severity: medium
  log_inspection:
    level: 5
    if_sid: [\"100100\"]
    match: 'Failed password'
";

/// A repository whose commits are made at fixed times an hour apart, so that every run of a
/// test makes the very same commits.
struct History {
    clock: i64,
    repo: Repository,
}

impl History {
    fn init(path: &Path) -> History {
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        History {
            clock: 1_764_579_600,
            repo: Repository::init_opts(path, &options).expect("git init"),
        }
    }

    fn work_tree(&self) -> &Path {
        self.repo.workdir().expect("a work tree")
    }

    /// Writes `files` into the work tree and commits them on the branch HEAD names.
    fn commit(&mut self, files: &[(&str, &str)], message: &str) -> Oid {
        let mut index = self.repo.index().expect("the index");
        for (path, text) in files {
            let full = self.work_tree().join(path);
            std::fs::create_dir_all(full.parent().expect("a folder")).expect("mkdir");
            std::fs::write(&full, text).expect("write a file");
            index.add_path(Path::new(path)).expect("git add");
        }
        index.write().expect("write the index");
        let tree = self.repo.find_tree(index.write_tree().expect("a tree"));
        let tree = tree.expect("the tree");
        let when = Time::new(self.clock, 0);
        self.clock += 3600;
        let who = Signature::new("Ada Lovelace", "ada@example.org", &when).expect("a signature");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let id = self
            .repo
            .commit(Some("HEAD"), &who, &who, message, &tree, &parents);
        id.expect("a commit")
    }
}

/// A project whose one source is the git repository `li-rules` inside it, at `main`, with
/// the rules committed once.
fn project() -> (Project, History) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut history = History::init(&dir.path().join("li-rules"));
    history.commit(&[("rules/sshd.yaml", RULES)], "Add the sshd rules");
    write_config(dir.path(), "li-rules", "main", "rules");
    let keys = tempfile::tempdir().expect("a folder for the key");
    let prefix = keys.path().join("ci");
    rulecut::sign::keygen(&prefix, false).expect("a key pair");
    let project = Project {
        key: std::fs::read_to_string(prefix.with_extension("key")).expect("the key"),
        public_key: prefix.with_extension("pub"),
        dir,
    };
    (project, history)
}

fn write_config(dir: &Path, repo: &str, reference: &str, path: &str) {
    let config = format!(
        "product: Git Check\noutput: dist\nsources:\n  - name: li\n    kind: log-inspection\n    \
         git: {{ repo: '{repo}', ref: {reference}, path: {path} }}\n"
    );
    std::fs::write(dir.join("release.yaml"), config).expect("write release.yaml");
}

fn build(project: &Project, at: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut command = project.rulecut();
    command.args(["build", "--at", at]).args(extra).assert()
}

fn json_file(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("JSON")
}

fn release(project: &Project, id: &str) -> PathBuf {
    project.path().join("dist").join(id)
}

/// The bundle's entries other than its index, with their text.
fn bundle_files(folder: &Path) -> Vec<(String, String)> {
    let file = std::fs::File::open(folder.join("log-inspection.zip")).expect("the bundle");
    let mut archive = zip::ZipArchive::new(file).expect("a zip file");
    let mut files = Vec::new();
    for n in 0..archive.len() {
        let mut entry = archive.by_index(n).expect("an entry");
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("UTF-8 text");
        let name = entry.name().expect("a UTF-8 entry name").into_owned();
        if name != "index.json" {
            files.push((name, text));
        }
    }
    files
}

#[test]
fn the_manifest_records_the_commit_the_ref_resolved_to() {
    let (project, history) = project();
    let head = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    build(&project, AT, &[]).code(0).stdout("dist/RU26-001\n");
    let manifest = json_file(&release(&project, "RU26-001").join("manifest.json"));
    assert_eq!(
        manifest["sources"],
        json!([{"commit": head.to_string(), "kind": "log-inspection", "name": "li"}])
    );
    let notes = std::fs::read_to_string(release(&project, "RU26-001").join("RELEASE-NOTES.md"));
    let notes = notes.expect("notes");
    assert!(
        notes.ends_with(&format!("- li (log-inspection): commit {head}\n")),
        "{notes}"
    );
}

#[test]
fn uncommitted_changes_in_the_work_tree_are_not_released() {
    let (project, history) = project();
    let rules = history.work_tree().join("rules");
    std::fs::write(
        rules.join("sshd.yaml"),
        RULES.replace("level: 5", "level: 9"),
    )
    .expect("edit");
    std::fs::write(rules.join("untracked.yaml"), "[]\n").expect("a new file");
    build(&project, AT, &[]).code(0);
    let files = bundle_files(&release(&project, "RU26-001"));
    assert_eq!(files, [("li/sshd.yaml".to_owned(), RULES.to_owned())]);
}

#[test]
fn the_next_release_lists_the_commits_since_the_previous_one_newest_first() {
    let (project, mut history) = project();
    build(&project, AT, &[]).code(0);
    let raised = RULES.replace("level: 5", "level: 6");
    history.commit(
        &[("rules/sshd.yaml", &raised)],
        "Raise the level of failed sshd logins\n\nSo that they reach the SOC.\n",
    );
    history.commit(
        &[("README.md", "Rules.\n")],
        "Say what the repository holds",
    );
    let expected = [
        "Say what the repository holds",
        "Raise the level of failed sshd logins",
    ];
    build(&project, LATER, &["--dry-run"])
        .code(0)
        .stdout(predicate::str::contains(format!(
            "\n           - {}\n           - {}\n",
            expected[0], expected[1]
        )));
    build(&project, LATER, &[])
        .code(0)
        .stdout("dist/RU26-002\n");
    let folder = release(&project, "RU26-002");
    let notes = json_file(&folder.join("release-notes.json"));
    assert_eq!(notes["sources"][0]["commits"], json!(expected));
    let markdown = std::fs::read_to_string(folder.join("RELEASE-NOTES.md")).expect("notes");
    let listed = format!("\n  - {}\n  - {}\n", expected[0], expected[1]);
    assert!(markdown.contains(&listed), "{markdown}");
}

#[test]
fn rewritten_history_is_said_in_the_notes_instead_of_a_list() {
    let (project, mut history) = project();
    build(&project, AT, &[]).code(0);
    let released = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    // A force-push: `main` starts again from a new root commit.
    history
        .repo
        .reference_symbolic("HEAD", "refs/heads/rewritten", true, "orphan")
        .expect("HEAD");
    history.commit(&[("rules/sshd.yaml", RULES)], "Start again");
    write_config(project.path(), "li-rules", "rewritten", "rules");
    build(&project, LATER, &[]).code(0);
    let notes = json_file(&release(&project, "RU26-002").join("release-notes.json"));
    let expected = format!(
        "history was rewritten: the commit of RU26-001 ({}) is not an ancestor of this one, so \
         no commits are listed",
        &released.to_string()[..12]
    );
    assert_eq!(notes["sources"][0]["commits"], json!([expected]));
}

#[test]
fn a_ref_that_does_not_resolve_is_an_error_naming_the_ref_and_repository() {
    let (project, _history) = project();
    write_config(project.path(), "li-rules", "release/2027", "rules");
    let assert = build(&project, AT, &[]).code(2).stdout("");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "rulecut: error: ref `release/2027` does not resolve to a commit in git repository \
             `li-rules`"
        )
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            "help: list the branches and tags with `git -C li-rules show-ref`; `release/2027` \
             is not among them"
        )
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_path_missing_at_the_ref_is_an_error_naming_the_path_and_repository() {
    let (project, history) = project();
    let head = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    write_config(project.path(), "li-rules", "main", "rules/wazuh");
    build(&project, AT, &[]).code(2).stdout("").stderr(format!(
        "rulecut: error: path `rules/wazuh` does not exist at ref `main` (commit {head}) in git \
         repository `li-rules`\nhelp: list the folders at that ref with `git -C li-rules \
         ls-tree -d -r --name-only main`\n"
    ));
    assert!(!project.path().join("dist").exists());
}

#[test]
fn tag_makes_an_annotated_tag_named_after_the_release_at_its_commit() {
    let (project, history) = project();
    let head = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    let mut config = history
        .repo
        .config()
        .expect("the repository's configuration");
    config
        .set_str("user.name", "Release Bot")
        .expect("user.name");
    config
        .set_str("user.email", "release@example.org")
        .expect("user.email");
    build(&project, AT, &["--tag"])
        .code(0)
        .stdout("dist/RU26-001\n");
    let reference = history.repo.find_reference("refs/tags/RU26-001");
    let tag = reference
        .expect("the tag")
        .peel_to_tag()
        .expect("an annotated tag");
    assert_eq!(tag.target_id(), head);
    assert_eq!(tag.message().ok().flatten(), Some("Git Check RU26-001\n"));
    let tagger = tag.tagger().expect("a tagger");
    assert_eq!(tagger.name().ok(), Some("Release Bot"));
    assert_eq!(tagger.email().ok(), Some("release@example.org"));
    assert_eq!(tagger.when().seconds(), AT_SECONDS);
}

#[test]
fn the_tagger_is_rulecut_where_git_names_nobody() {
    let (project, history) = project();
    // No global configuration: a HOME of its own. The system's (/etc/gitconfig) still counts,
    // and names nobody on the machines this runs on.
    let home = tempfile::tempdir().expect("an empty home");
    let mut command = project.rulecut();
    command
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path());
    command
        .args(["build", "--tag", "--at", AT])
        .assert()
        .code(0);
    let reference = history.repo.find_reference("refs/tags/RU26-001");
    let tag = reference
        .expect("the tag")
        .peel_to_tag()
        .expect("an annotated tag");
    let tagger = tag.tagger().expect("a tagger");
    assert_eq!(tagger.name().ok(), Some("rulecut"));
    assert_eq!(tagger.email().ok(), Some("rulecut@localhost"));
}

#[test]
fn a_tag_of_that_name_elsewhere_is_an_error_after_publishing_and_the_release_stands() {
    let (project, mut history) = project();
    let old = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    history
        .repo
        .reference("refs/tags/RU26-001", old, false, "an earlier tag")
        .expect("a tag");
    let head = history.commit(
        &[("README.md", "Rules.\n")],
        "Say what the repository holds",
    );
    let assert = build(&project, AT, &["--tag"])
        .code(2)
        .stdout("dist/RU26-001\n");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let expected = format!(
        "rulecut: error: tag `RU26-001` in `li-rules` already points at {old}, not at the \
         released commit {head}\nrulecut: error: release `RU26-001` is published and stands, \
         but 1 git source(s) could not be tagged\nhelp: the release stands; if the old tag is \
         wrong, move it with `git -C li-rules tag -f -a RU26-001 {head}`\n"
    );
    assert!(stderr.ends_with(&expected), "{stderr}");
    assert!(
        release(&project, "RU26-001")
            .join("manifest.json")
            .is_file()
    );
    let tagged = history
        .repo
        .revparse_single("RU26-001")
        .expect("the tag")
        .id();
    assert_eq!(tagged, old, "the old tag was moved");
}

#[test]
fn a_file_url_names_a_local_repository() {
    let (project, history) = project();
    let head = history
        .repo
        .head()
        .expect("HEAD")
        .target()
        .expect("a commit");
    let url = format!("file://{}", history.work_tree().display());
    write_config(project.path(), url.trim_end_matches('/'), "main", "rules");
    build(&project, AT, &[]).code(0).stdout("dist/RU26-001\n");
    let manifest = json_file(&release(&project, "RU26-001").join("manifest.json"));
    assert_eq!(manifest["sources"][0]["commit"], head.to_string());
}
