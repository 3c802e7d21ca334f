//! Git sources: rule files read from a repository's object database, the commits since an
//! earlier release, and the tag that marks a release.
//!
//! Nothing here checks out a work tree or touches the network. A repository is opened at a
//! local path (`release.yaml` may name it by a `file://` URL, which the configuration turns
//! into a path, since libgit2 opens paths and not URLs), the ref is resolved to a commit, and
//! blobs are read from that commit's tree, so uncommitted changes are never released. The one
//! write is the annotated tag made after a release is published, and only when asked.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{ErrorCode, ObjectType, Oid, Repository, Signature, Sort, TreeWalkMode, TreeWalkResult};
use thiserror::Error;

use super::{CollectError, ReleasedCommit, display_path, format_of, rule_file};
use crate::config::SourceConfig;
use crate::rules::{Format, RuleFile};

/// The most commit subjects the notes list for one source; past it, one line says how many
/// more there are, so that a source that was not released for a long time cannot swamp them.
pub const MAX_LISTED_COMMITS: usize = 500;

/// The tagger when the repository's configuration names nobody.
const FALLBACK_TAGGER: (&str, &str) = ("rulecut", "rulecut@localhost");

#[derive(Debug, Error)]
pub enum TagError {
    #[error(
        "tag `{tag}` in `{}` already points at {existing}, not at the released commit {commit}",
        repo.display()
    )]
    Conflict {
        commit: String,
        existing: String,
        repo: PathBuf,
        tag: String,
    },
    #[error("cannot tag commit {commit} as `{tag}` in `{}`", repo.display())]
    Create {
        commit: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
        tag: String,
    },
}

impl TagError {
    pub fn help(&self) -> Option<String> {
        match self {
            TagError::Conflict {
                commit, repo, tag, ..
            } => Some(format!(
                "the release stands; if the old tag is wrong, move it with \
                 `git -C {} tag -f -a {tag} {commit}`",
                repo.display()
            )),
            TagError::Create { .. } => None,
        }
    }
}

/// An annotated tag to make in each git source once its release is published.
#[derive(Clone, Debug)]
pub struct Tag<'a> {
    pub message: &'a str,
    pub name: &'a str,
    /// The tagger's time: the release time, so that the same release makes the same tag.
    pub time: DateTime<Utc>,
}

/// Whether a tag was made, or was already there, pointing at the right commit.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Tagged {
    Created,
    Existing,
}

/// Where a git source is read from, for the messages of every error.
struct At<'a> {
    path: &'a str,
    reference: &'a str,
    repo: &'a Path,
}

impl At<'_> {
    fn read_error(&self, path: &str) -> impl Fn(git2::Error) -> CollectError {
        let (path, repo) = (path.to_owned(), self.repo.to_owned());
        move |source| CollectError::ReadGitObject {
            path: path.clone(),
            repo: repo.clone(),
            source,
        }
    }
}

pub(super) fn open(repo: &Path) -> Result<Repository, CollectError> {
    Repository::open(repo).map_err(|source| CollectError::OpenRepository {
        path: repo.to_owned(),
        source,
    })
}

/// Reads a git source's rule files at `reference`, and the commit it resolved to.
pub(super) fn collect(
    repo_path: &Path,
    reference: &str,
    path: &str,
    source: &SourceConfig,
) -> Result<(Vec<(RuleFile, Format)>, String), CollectError> {
    let repo = open(repo_path)?;
    let at = At {
        path: path.trim_matches('/'),
        reference,
        repo: repo_path,
    };
    let commit = repo
        .revparse_single(reference)
        .and_then(|object| object.peel_to_commit())
        .map_err(|source| CollectError::ResolveGitRef {
            reference: reference.to_owned(),
            repo: repo_path.to_owned(),
            source,
        })?;
    tracing::debug!(source = %source.name, reference, commit = %commit.id(), "resolved the ref");
    let tree = subtree(&repo, &at, &commit)?;
    let mut files = read_tree(&repo, &at, &tree, source)?;
    files.sort_by(|a, b| a.0.entry.cmp(&b.0.entry));
    Ok((files, commit.id().to_string()))
}

/// The tree of the source's folder at `commit`.
fn subtree<'r>(
    repo: &'r Repository,
    at: &At,
    commit: &git2::Commit<'r>,
) -> Result<git2::Tree<'r>, CollectError> {
    let tree = commit.tree().map_err(at.read_error(at.path))?;
    if at.path.is_empty() {
        return Ok(tree);
    }
    let entry = match tree.get_path(Path::new(at.path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(CollectError::MissingGitPath {
                commit: commit.id().to_string(),
                path: at.path.to_owned(),
                reference: at.reference.to_owned(),
                repo: at.repo.to_owned(),
            });
        }
        Err(e) => return Err(at.read_error(at.path)(e)),
    };
    entry
        .to_object(repo)
        .and_then(|o| o.peel_to_tree())
        .map_err(at.read_error(at.path))
}

/// Every rule file in `tree`, skipping hidden files and folders as a folder source does.
fn read_tree(
    repo: &Repository,
    at: &At,
    tree: &git2::Tree,
    source: &SourceConfig,
) -> Result<Vec<(RuleFile, Format)>, CollectError> {
    // Gather first and read after: errors cannot leave the walk's callback.
    let mut blobs = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |folder, entry| {
        if entry.name_bytes().starts_with(b".") {
            return TreeWalkResult::Skip;
        }
        let relative = format!("{folder}{}", String::from_utf8_lossy(entry.name_bytes()));
        match entry.kind() {
            Some(ObjectType::Blob) => blobs.push((relative, entry.id(), entry.filemode())),
            Some(ObjectType::Commit) => tracing::debug!(path = %relative, "skipped: a submodule"),
            _ => {}
        }
        TreeWalkResult::Ok
    })
    .map_err(at.read_error(at.path))?;
    let mut files = Vec::new();
    for (relative, id, mode) in blobs {
        let Some(format) = format_of(Path::new(&relative), source) else {
            tracing::debug!(path = %relative, "skipped: not a rule file of this source");
            continue;
        };
        let within = join(at.path, &relative);
        if mode == i32::from(git2::FileMode::Link) {
            return Err(CollectError::SymbolicLink {
                path: at.repo.join(&within),
            });
        }
        let blob = repo.find_blob(id).map_err(at.read_error(&within))?;
        let display = format!("{}@{}:{within}", display_path(at.repo), at.reference);
        let file = rule_file(source, display, &relative, blob.content().to_vec());
        files.push((file, format));
    }
    Ok(files)
}

fn join(folder: &str, file: &str) -> String {
    if folder.is_empty() {
        file.to_owned()
    } else {
        format!("{folder}/{file}")
    }
}

/// The notes' lines for the commits after `since` up to `commit`, newest first: each
/// commit's subject, at most [`MAX_LISTED_COMMITS`], then a line saying how many more there
/// are. Where `since` is not an ancestor of `commit` (history was rewritten, say by a
/// force-push) or is not in the repository at all, a list would mislead, so one line says
/// that instead.
pub(super) fn log_since(
    repo_path: &Path,
    commit: &str,
    since: &ReleasedCommit,
) -> Result<Vec<String>, CollectError> {
    let repo = open(repo_path)?;
    let fail = |source| CollectError::ReadGitHistory {
        repo: repo_path.to_owned(),
        source,
    };
    let new = Oid::from_str(commit).map_err(fail)?;
    let old = Oid::from_str(since.commit)
        .ok()
        .filter(|id| repo.find_commit(*id).is_ok());
    let Some(old) = old else {
        return Ok(vec![format!(
            "the commit of {} ({}) is not in this repository, so no commits are listed",
            since.release,
            short(since.commit)
        )]);
    };
    if new != old && !repo.graph_descendant_of(new, old).map_err(fail)? {
        return Ok(vec![format!(
            "history was rewritten: the commit of {} ({}) is not an ancestor of this one, so \
             no commits are listed",
            since.release,
            short(since.commit)
        )]);
    }
    subjects(&repo, new, old).map_err(fail)
}

/// The subjects of the commits reachable from `new` and not from `old`, newest first.
fn subjects(repo: &Repository, new: Oid, old: Oid) -> Result<Vec<String>, git2::Error> {
    let mut walk = repo.revwalk()?;
    // Topological so that no commit comes before one built on it; by time among the rest.
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push(new)?;
    walk.hide(old)?;
    let mut lines = Vec::new();
    let mut more = 0usize;
    for id in walk {
        let id = id?;
        if lines.len() == MAX_LISTED_COMMITS {
            more += 1;
            continue;
        }
        let message = String::from_utf8_lossy(repo.find_commit(id)?.message_bytes()).into_owned();
        let subject = message.lines().next().unwrap_or_default().trim().to_owned();
        lines.push(if subject.is_empty() {
            "(no subject)".to_owned()
        } else {
            subject
        });
    }
    if more > 0 {
        lines.push(format!("... and {more} more"));
    }
    Ok(lines)
}

/// The first twelve digits of a commit id, enough to find it by.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Makes the annotated tag `tag` at `commit`. A tag of that name already at `commit` is left
/// alone, so a retry is harmless; one pointing elsewhere is never moved.
pub(super) fn tag(repo_path: &Path, commit: &str, tag: &Tag) -> Result<Tagged, TagError> {
    let create_error = |source| TagError::Create {
        commit: commit.to_owned(),
        repo: repo_path.to_owned(),
        source,
        tag: tag.name.to_owned(),
    };
    let repo = Repository::open(repo_path).map_err(create_error)?;
    let target = Oid::from_str(commit)
        .and_then(|id| repo.find_commit(id))
        .map_err(create_error)?;
    match existing_tag(&repo, tag.name).map_err(create_error)? {
        Some(existing) if existing == target.id() => return Ok(Tagged::Existing),
        Some(existing) => {
            return Err(TagError::Conflict {
                commit: commit.to_owned(),
                existing: existing.to_string(),
                repo: repo_path.to_owned(),
                tag: tag.name.to_owned(),
            });
        }
        None => {}
    }
    let tagger = repo
        .config()
        .and_then(|config| tagger(&config, tag.time))
        .map_err(create_error)?;
    repo.tag(tag.name, target.as_object(), &tagger, tag.message, false)
        .map_err(create_error)?;
    Ok(Tagged::Created)
}

/// The object the tag `name` finally points at, if there is such a tag.
fn existing_tag(repo: &Repository, name: &str) -> Result<Option<Oid>, git2::Error> {
    match repo.find_reference(&format!("refs/tags/{name}")) {
        Ok(reference) => Ok(Some(reference.peel(ObjectType::Any)?.id())),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The repository's `user.name` and `user.email` where both are set, else rulecut itself; a
/// mix of the two would name someone who does not exist.
fn tagger(config: &git2::Config, time: DateTime<Utc>) -> Result<Signature<'static>, git2::Error> {
    let value = |key| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
    let (name, email) = match (value("user.name"), value("user.email")) {
        (Some(name), Some(email)) => (name, email),
        _ => (FALLBACK_TAGGER.0.to_owned(), FALLBACK_TAGGER.1.to_owned()),
    };
    Signature::new(&name, &email, &git2::Time::new(time.timestamp(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository in a temporary folder, and a way to commit to it at fixed times.
    struct Scripted {
        dir: tempfile::TempDir,
        repo: Repository,
        time: i64,
    }

    impl Scripted {
        fn new() -> Scripted {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let repo = Repository::init(dir.path()).expect("git init");
            Scripted {
                dir,
                repo,
                time: 1_764_579_600,
            }
        }

        /// Commits an empty tree on `parents` with `message`.
        fn commit(&mut self, message: &str, parents: &[Oid]) -> Oid {
            self.time += 60;
            let who = Signature::new("Ada", "ada@example.org", &git2::Time::new(self.time, 0))
                .expect("a signature");
            let tree_id = self
                .repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .expect("a tree");
            let tree = self.repo.find_tree(tree_id).expect("the tree");
            let parents: Vec<git2::Commit> = parents
                .iter()
                .map(|p| self.repo.find_commit(*p).expect("a parent"))
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            self.repo
                .commit(None, &who, &who, message, &tree, &parents)
                .expect("a commit")
        }

        fn log(&self, new: Oid, old: Oid) -> Vec<String> {
            let old = old.to_string();
            let since = ReleasedCommit {
                commit: &old,
                release: "RU26-001",
            };
            log_since(self.dir.path(), &new.to_string(), &since).expect("a log")
        }
    }

    #[test]
    fn subjects_are_listed_newest_first_with_their_first_line_only() {
        let mut git = Scripted::new();
        let first = git.commit("First\n", &[]);
        let second = git.commit("Second rule\n\nWhy it changed.\n", &[first]);
        let third = git.commit("Third", &[second]);
        assert_eq!(git.log(third, first), ["Third", "Second rule"]);
        assert!(git.log(third, third).is_empty());
    }

    #[test]
    fn the_list_stops_at_its_cap_and_says_how_many_more() {
        let mut git = Scripted::new();
        let old = git.commit("base", &[]);
        let mut head = old;
        for n in 0..MAX_LISTED_COMMITS + 3 {
            head = git.commit(&format!("change {n}"), &[head]);
        }
        let lines = git.log(head, old);
        assert_eq!(lines.len(), MAX_LISTED_COMMITS + 1);
        assert_eq!(lines[0], format!("change {}", MAX_LISTED_COMMITS + 2));
        assert_eq!(lines[MAX_LISTED_COMMITS], "... and 3 more");
    }

    #[test]
    fn rewritten_history_is_said_instead_of_listed() {
        let mut git = Scripted::new();
        let base = git.commit("base", &[]);
        let released = git.commit("released, then force-pushed away", &[base]);
        let rewritten = git.commit("rewritten", &[base]);
        let lines = git.log(rewritten, released);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("history was rewritten: the commit of RU26-001 ("),
            "{lines:?}"
        );
    }

    #[test]
    fn a_commit_missing_from_the_repository_is_said_instead_of_listed() {
        let mut git = Scripted::new();
        let head = git.commit("only", &[]);
        let lines = git.log(head, Oid::from_str(&"ab".repeat(20)).expect("an id"));
        assert_eq!(
            lines,
            [
                "the commit of RU26-001 (abababababab) is not in this repository, so no commits \
              are listed"
            ]
        );
    }

    #[test]
    fn the_tagger_is_rulecut_unless_the_repository_names_someone() {
        let time = DateTime::from_timestamp(1_764_579_600, 0).expect("a time");
        let empty = git2::Config::new().expect("an empty configuration");
        let signature = tagger(&empty, time).expect("a signature");
        assert_eq!(signature.name().ok(), Some("rulecut"));
        assert_eq!(signature.email().ok(), Some("rulecut@localhost"));
        assert_eq!(signature.when().seconds(), 1_764_579_600);
    }

    #[test]
    fn a_tag_is_made_once_and_never_moved() {
        let mut git = Scripted::new();
        let first = git.commit("first", &[]);
        let second = git.commit("second", &[first]);
        let time = DateTime::from_timestamp(1_764_579_600, 0).expect("a time");
        let tag_at = |commit: Oid| {
            let request = Tag {
                message: "Example RU26-001\n",
                name: "RU26-001",
                time,
            };
            tag(git.dir.path(), &commit.to_string(), &request)
        };
        assert_eq!(tag_at(first).expect("tagged"), Tagged::Created);
        assert_eq!(tag_at(first).expect("tagged"), Tagged::Existing);
        let error = tag_at(second).unwrap_err();
        assert!(matches!(error, TagError::Conflict { .. }), "{error}");
        let target = git
            .repo
            .revparse_single("RU26-001^{commit}")
            .expect("the tag");
        assert_eq!(target.id(), first);
    }
}
