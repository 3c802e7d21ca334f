//! Collecting rule files from sources: the collect stage of the pipeline.
//!
//! A folder source is walked on disk; a git source is read straight from the repository's
//! object database at the resolved commit, with no checkout and no network, so uncommitted
//! changes in a work tree are never released. Every file is read once, and the files come back
//! sorted by their path bytes whatever order the file system lists them in. Files whose format
//! is not the source's (or, without one, that no extension names) are skipped, as are hidden
//! files and folders.

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;
use walkdir::WalkDir;

use crate::config::{Origin, SourceConfig};
use crate::digest::{Sha256, sha256};
use crate::rules::{Format, Kind, RuleFile};

#[derive(Debug, Error)]
pub enum CollectError {
    #[error("source `{source_name}` holds no rule files in `{}`", path.display())]
    Empty { path: PathBuf, source_name: String },
    #[error("cannot open git repository `{}`", path.display())]
    OpenRepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read `{}` in git repository `{}`", path, repo.display())]
    ReadGitObject {
        path: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read `{}`", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list `{}`", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("ref `{reference}` does not resolve to a commit in `{}`", repo.display())]
    ResolveGitRef {
        reference: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("`{}` is a symbolic link, which rulecut does not follow", path.display())]
    SymbolicLink { path: PathBuf },
}

/// Which state of a source a release was cut from.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revision {
    /// A git commit id.
    Commit(String),
    /// A folder's tree digest: SHA-256 over `sha256sum`-style lines, one per rule file in path
    /// order (`<file digest>  <path within the source>\n`).
    Tree(Sha256),
}

/// The rule files of one source, read and sorted.
#[derive(Debug)]
pub struct Collected {
    pub files: Vec<(RuleFile, Format)>,
    pub kind: Kind,
    pub name: String,
    pub revision: Revision,
}

/// Reads every rule file of a source.
pub fn collect(source: &SourceConfig) -> Result<Collected, CollectError> {
    let (files, revision, root) = match &source.origin {
        Origin::Folder(path) => {
            let files = collect_folder(path, source)?;
            let revision = Revision::Tree(tree_digest(&files));
            (files, revision, path.clone())
        }
        Origin::Git {
            repo,
            reference,
            path,
        } => {
            let (files, commit) = collect_git(repo, reference, path, source)?;
            (files, Revision::Commit(commit), repo.join(path))
        }
    };
    if files.is_empty() {
        return Err(CollectError::Empty {
            path: root,
            source_name: source.name.clone(),
        });
    }
    Ok(Collected {
        files,
        kind: source.kind,
        name: source.name.clone(),
        revision,
    })
}

/// The format a file is read in, or `None` when the source skips it.
fn format_of(path: &Path, source: &SourceConfig) -> Option<Format> {
    let inferred = Format::infer(path);
    match source.format {
        Some(format) if inferred == Some(format) => Some(format),
        Some(_) => None,
        None => inferred,
    }
}

fn rule_file(source: &SourceConfig, display: String, relative: &str, bytes: Vec<u8>) -> RuleFile {
    RuleFile {
        bytes,
        display,
        entry: format!("{}/{relative}", source.name),
        source: source.name.clone(),
    }
}

fn collect_folder(
    root: &Path,
    source: &SourceConfig,
) -> Result<Vec<(RuleFile, Format)>, CollectError> {
    let hidden = |entry: &walkdir::DirEntry| {
        entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
    };
    let mut files = Vec::new();
    for entry in WalkDir::new(root).into_iter().filter_entry(|e| !hidden(e)) {
        let entry = entry.map_err(|source| CollectError::ReadFolder {
            path: root.to_owned(),
            source,
        })?;
        let path = entry.path();
        if entry.path_is_symlink() {
            return Err(CollectError::SymbolicLink {
                path: path.to_owned(),
            });
        }
        let Some(format) = entry
            .file_type()
            .is_file()
            .then(|| format_of(path, source))
            .flatten()
        else {
            tracing::debug!(path = %path.display(), "skipped: not a rule file of this source");
            continue;
        };
        let relative = relative_path(root, path);
        let bytes = std::fs::read(path).map_err(|source| CollectError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let display = display_path(path);
        files.push((rule_file(source, display, &relative, bytes), format));
    }
    // walkdir sorts within a folder at best; a canonical order is by the whole path's bytes.
    files.sort_by(|a, b| a.0.entry.cmp(&b.0.entry));
    Ok(files)
}

/// `path` relative to `root`, with `/` separators whatever the platform.
fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// A path as people should read it in messages: without a leading `./`.
pub fn display_path(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

fn tree_digest(files: &[(RuleFile, Format)]) -> Sha256 {
    let mut listing = String::new();
    for (file, _) in files {
        let within = file
            .entry
            .split_once('/')
            .map_or(file.entry.as_str(), |(_, rest)| rest);
        listing.push_str(&format!("{}  {within}\n", sha256(&file.bytes)));
    }
    sha256(listing.as_bytes())
}

fn collect_git(
    repo_path: &Path,
    reference: &str,
    path: &str,
    source: &SourceConfig,
) -> Result<(Vec<(RuleFile, Format)>, String), CollectError> {
    let repo = git2::Repository::open(repo_path).map_err(|e| CollectError::OpenRepository {
        path: repo_path.to_owned(),
        source: e,
    })?;
    let commit = repo
        .revparse_single(reference)
        .and_then(|object| object.peel_to_commit())
        .map_err(|e| CollectError::ResolveGitRef {
            reference: reference.to_owned(),
            repo: repo_path.to_owned(),
            source: e,
        })?;
    let read_error = |what: &str, e| CollectError::ReadGitObject {
        path: what.to_owned(),
        repo: repo_path.to_owned(),
        source: e,
    };
    let mut tree = commit.tree().map_err(|e| read_error(path, e))?;
    let trimmed = path.trim_matches('/');
    if !trimmed.is_empty() {
        let entry = tree
            .get_path(Path::new(trimmed))
            .map_err(|e| read_error(trimmed, e))?;
        tree = entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(|e| read_error(trimmed, e))?;
    }
    let mut files = Vec::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |folder, entry| {
        let relative = format!("{folder}{}", String::from_utf8_lossy(entry.name_bytes()));
        if entry.kind() != Some(git2::ObjectType::Blob)
            || relative.split('/').any(|p| p.starts_with('.'))
        {
            return git2::TreeWalkResult::Ok;
        }
        let Some(format) = format_of(Path::new(&relative), source) else {
            return git2::TreeWalkResult::Ok;
        };
        if entry.filemode() == i32::from(git2::FileMode::Link) {
            failure = Some(CollectError::SymbolicLink {
                path: repo_path.join(trimmed).join(&relative),
            });
            return git2::TreeWalkResult::Abort;
        }
        match repo.find_blob(entry.id()) {
            Ok(blob) => {
                let display = format!(
                    "{}@{}:{}",
                    display_path(repo_path),
                    reference,
                    join(trimmed, &relative)
                );
                files.push((
                    rule_file(source, display, &relative, blob.content().to_vec()),
                    format,
                ));
                git2::TreeWalkResult::Ok
            }
            Err(e) => {
                failure = Some(read_error(&relative, e));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .map_err(|e| read_error(trimmed, e))
    .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    files.sort_by(|a, b| a.0.entry.cmp(&b.0.entry));
    Ok((files, commit.id().to_string()))
}

/// The most commits [`commits_since`] lists: release notes are not a git log.
pub const MAX_COMMITS: usize = 100;

/// The commits after `from` up to `to` that change anything under `path`, newest first, each
/// as its first 12 hex digits and its subject. A fixed-length id rather than git's shortest
/// unique one, so the same two commits give the same lines whatever else the repository holds.
pub fn commits_since(
    repo_path: &Path,
    path: &str,
    from: &str,
    to: &str,
) -> Result<Vec<String>, CollectError> {
    let repo = git2::Repository::open(repo_path).map_err(|e| CollectError::OpenRepository {
        path: repo_path.to_owned(),
        source: e,
    })?;
    let error = |e| CollectError::ReadGitObject {
        path: format!("{from}..{to}"),
        repo: repo_path.to_owned(),
        source: e,
    };
    let mut walk = repo.revwalk().map_err(error)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(error)?;
    walk.push(git2::Oid::from_str(to).map_err(error)?)
        .map_err(error)?;
    walk.hide(git2::Oid::from_str(from).map_err(error)?)
        .map_err(error)?;
    let trimmed = Path::new(path.trim_matches('/'));
    let mut commits = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid.map_err(error)?).map_err(error)?;
        let parent = commit.parents().next();
        if subtree(&commit, trimmed) != parent.and_then(|p| subtree(&p, trimmed)) {
            let id = commit.id().to_string();
            let subject = String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default());
            commits.push(format!("{} {subject}", &id[..12]));
        }
        if commits.len() == MAX_COMMITS {
            break;
        }
    }
    Ok(commits)
}

/// The id of the tree under `path` in a commit, if it has one there.
fn subtree(commit: &git2::Commit<'_>, path: &Path) -> Option<git2::Oid> {
    let tree = commit.tree().ok()?;
    if path.as_os_str().is_empty() {
        return Some(tree.id());
    }
    tree.get_path(path).ok().map(|entry| entry.id())
}

fn join(folder: &str, file: &str) -> String {
    if folder.is_empty() {
        file.to_owned()
    } else {
        format!("{folder}/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Location;

    fn folder_source(path: &Path, format: Option<Format>) -> SourceConfig {
        SourceConfig {
            format,
            kind: Kind::Firewall,
            location: Location::new("release.yaml", 1, 1),
            name: "fw".into(),
            origin: Origin::Folder(path.to_owned()),
        }
    }

    #[test]
    fn folders_are_read_in_path_order_skipping_hidden_and_foreign_files() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for name in [
            "b.yaml",
            "a/z.yaml",
            "a-b.yaml",
            "README.md",
            ".hidden.yaml",
            ".git/x.yaml",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, "[]").expect("write");
        }
        let collected = collect(&folder_source(dir.path(), None)).expect("collected");
        let entries: Vec<&str> = collected
            .files
            .iter()
            .map(|(f, _)| f.entry.as_str())
            .collect();
        assert_eq!(entries, ["fw/a-b.yaml", "fw/a/z.yaml", "fw/b.yaml"]);
    }

    #[test]
    fn a_named_format_takes_only_its_own_files() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("x.rules"), "").expect("write");
        std::fs::write(dir.path().join("y.yaml"), "[]").expect("write");
        let collected =
            collect(&folder_source(dir.path(), Some(Format::Suricata))).expect("collected");
        assert_eq!(collected.files.len(), 1);
        assert_eq!(collected.files[0].1, Format::Suricata);
    }

    #[test]
    fn the_tree_digest_changes_with_content_and_names_only() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("a.yaml"), "[]").expect("write");
        let first = collect(&folder_source(dir.path(), None))
            .expect("collected")
            .revision;
        assert_eq!(
            first,
            collect(&folder_source(dir.path(), None))
                .expect("collected")
                .revision
        );
        std::fs::write(dir.path().join("a.yaml"), "[ ]").expect("write");
        assert_ne!(
            first,
            collect(&folder_source(dir.path(), None))
                .expect("collected")
                .revision
        );
    }

    #[test]
    fn an_empty_source_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let error = collect(&folder_source(dir.path(), None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("source `fw` holds no rule files"), "{error}");
    }

    #[test]
    fn symbolic_links_are_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("x.yaml")).expect("symlink");
        let error = collect(&folder_source(dir.path(), None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a symbolic link"), "{error}");
    }
}
