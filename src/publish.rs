//! Writing a release into the output folder atomically: the publish stage of the pipeline.
//!
//! A release is assembled in a staging folder inside the output folder ([`Stage`]), each file
//! written and synced as soon as it is made, then renamed into place in one step, so it
//! appears whole or not at all. Only then are `latest.json` and the ledger replaced, each by
//! write-then-rename. A build that fails removes its staging folder; a crash at any point
//! leaves the last good state, or the whole new release with a stale ledger, which the next run
//! rebuilds from the manifests. Staging folders left by a crash are removed by the next run,
//! under the lock.
//!
//! The lock is a file, `.rulecut.lock`, that is never renamed or removed, so every process
//! locks the same inode.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::digest::{Sha256, sha256};

pub const LOCK_NAME: &str = ".rulecut.lock";
const STAGING_PREFIX: &str = ".staging-";

#[derive(Debug, Error)]
pub enum PublishError {
    #[error("release folder `{}` already exists", path.display())]
    Exists { path: PathBuf },
    #[error("another rulecut run holds the lock on `{}`", path.display())]
    Locked { path: PathBuf },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PublishError {
    pub fn help(&self) -> Option<String> {
        match self {
            PublishError::Locked { .. } => {
                Some("wait for the other build to finish, then run this one again".to_owned())
            }
            _ => None,
        }
    }
}

/// The steps of publishing, in order; a checkpoint runs after each, which crash tests use to
/// stop a publish part way.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Step {
    Staged,
    Renamed,
    LatestWritten,
    LedgerWritten,
}

/// Exclusive use of an output folder, held until dropped.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Locks `output`, creating it if needed. Without `wait`, fails at once if another run
    /// holds the lock; with it, retries until the time is up.
    pub fn acquire(output: &Path, wait: Option<Duration>) -> Result<OutputLock, PublishError> {
        std::fs::create_dir_all(output).map_err(write_error(output))?;
        let path = output.join(LOCK_NAME);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&path)
            .map_err(write_error(&path))?;
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(OutputLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(PublishError::Write { path, source });
                }
            }
            if deadline.is_none_or(|d| Instant::now() >= d) {
                return Err(PublishError::Locked {
                    path: output.to_owned(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Removes staging folders left by interrupted runs. Call with the lock held.
pub fn clean_staging(output: &Path, _lock: &OutputLock) -> Result<(), PublishError> {
    let Ok(listing) = std::fs::read_dir(output) else {
        return Ok(());
    };
    for entry in listing.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            tracing::info!(folder = %entry.path().display(), "removing a staging folder left by an interrupted run");
            std::fs::remove_dir_all(entry.path()).map_err(write_error(&entry.path()))?;
        }
    }
    Ok(())
}

/// A file to write: its bare name and its bytes.
pub type NamedFile = (String, Vec<u8>);

/// A release folder being assembled: each file is written into the staging folder as soon as
/// it is made, so that none is held in memory until the end, and the folder appears in the
/// output only when [`Stage::publish`] renames it into place. Dropped unpublished, for an
/// error at any step, the staging folder is removed; after a crash the next run removes it
/// ([`clean_staging`]).
#[derive(Debug)]
pub struct Stage<'a> {
    folder: PathBuf,
    _lock: &'a OutputLock,
    output: PathBuf,
    published: bool,
    target: PathBuf,
}

impl<'a> Stage<'a> {
    /// Opens the staging folder of release `id` in `output`, refusing a release folder that
    /// already exists.
    pub fn open(output: &Path, id: &str, lock: &'a OutputLock) -> Result<Stage<'a>, PublishError> {
        let target = output.join(id);
        if target.exists() {
            return Err(PublishError::Exists { path: target });
        }
        let folder = output.join(format!("{STAGING_PREFIX}{id}"));
        std::fs::create_dir(&folder).map_err(write_error(&folder))?;
        let stage = Stage {
            folder,
            _lock: lock,
            output: output.to_owned(),
            published: false,
            target,
        };
        std::fs::set_permissions(&stage.folder, std::fs::Permissions::from_mode(0o755))
            .map_err(write_error(&stage.folder))?;
        Ok(stage)
    }

    /// Writes one file of the release folder, synced, and gives its digest.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<Sha256, PublishError> {
        write_synced(&self.folder.join(name), bytes)?;
        Ok(sha256(bytes))
    }

    /// Renames the release folder into place, then replaces the `pointers` beside it (such as
    /// `latest.json`) and the ledger, returning the release folder's path.
    pub fn publish(
        mut self,
        pointers: &[NamedFile],
        ledger: &[u8],
        checkpoint: &mut dyn FnMut(Step) -> std::io::Result<()>,
    ) -> Result<PathBuf, PublishError> {
        sync_folder(&self.folder)?;
        checkpoint(Step::Staged).map_err(write_error(&self.folder))?;
        std::fs::rename(&self.folder, &self.target).map_err(write_error(&self.target))?;
        self.published = true;
        sync_folder(&self.output)?;
        checkpoint(Step::Renamed).map_err(write_error(&self.target))?;
        for (name, bytes) in pointers {
            write_atomic(&self.output.join(name), bytes)?;
        }
        checkpoint(Step::LatestWritten).map_err(write_error(&self.output))?;
        write_atomic(&self.output.join(crate::ledger::LEDGER_NAME), ledger)?;
        checkpoint(Step::LedgerWritten).map_err(write_error(&self.output))?;
        Ok(self.target.clone())
    }
}

impl Drop for Stage<'_> {
    fn drop(&mut self) {
        if !self.published
            && let Err(error) = std::fs::remove_dir_all(&self.folder)
        {
            tracing::warn!(folder = %self.folder.display(), %error, "cannot remove the staging folder; the next run removes it");
        }
    }
}

/// The error of a write to `path` that failed, for `map_err`.
fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_owned();
    move |source| PublishError::Write { path, source }
}

/// Writes a file with mode 0644 whatever the umask, and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o644)
        .open(path)
        .map_err(write_error(path))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(write_error(path))?;
    file.write_all(bytes).map_err(write_error(path))?;
    file.sync_all().map_err(write_error(path))
}

/// Replaces a file in one step: written beside it, synced, renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    write_synced(&temporary, bytes)?;
    std::fs::rename(&temporary, path).map_err(write_error(path))?;
    if let Some(parent) = path.parent() {
        sync_folder(parent)?;
    }
    Ok(())
}

fn sync_folder(path: &Path) -> Result<(), PublishError> {
    let folder = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(write_error(folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_at_once_and_a_waiting_one_gives_up() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let held = OutputLock::acquire(dir.path(), None).expect("locked");
        let error = OutputLock::acquire(dir.path(), None).unwrap_err();
        assert!(matches!(error, PublishError::Locked { .. }));
        assert!(OutputLock::acquire(dir.path(), Some(Duration::from_millis(100))).is_err());
        drop(held);
        assert!(OutputLock::acquire(dir.path(), None).is_ok());
    }

    #[test]
    fn a_publish_stopped_before_the_rename_leaves_no_release() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let lock = OutputLock::acquire(dir.path(), None).expect("locked");
        let stage = Stage::open(dir.path(), "R1", &lock).expect("staged");
        stage.write("a.txt", b"a").expect("written");
        let mut stop = |step| {
            if step == Step::Staged {
                Err(std::io::Error::other("crash"))
            } else {
                Ok(())
            }
        };
        assert!(stage.publish(&[], b"{}", &mut stop).is_err());
        let names = || -> Vec<_> {
            let listing = std::fs::read_dir(dir.path()).expect("listed");
            listing.flatten().map(|e| e.file_name()).collect()
        };
        assert_eq!(names(), [LOCK_NAME], "no release and no staging folder");

        let stage = Stage::open(dir.path(), "R1", &lock).expect("staged");
        let digest = stage.write("a.txt", b"a").expect("written");
        assert_eq!(digest, sha256(b"a"));
        let path = stage
            .publish(&[], b"{}", &mut |_| Ok(()))
            .expect("published");
        assert_eq!(std::fs::read(path.join("a.txt")).expect("read"), b"a");
        let mode = std::fs::metadata(path.join("a.txt"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        let error = Stage::open(dir.path(), "R1", &lock).unwrap_err();
        assert!(matches!(error, PublishError::Exists { .. }), "{error:?}");
    }

    #[test]
    fn a_staging_folder_left_by_a_crash_is_removed_by_the_next_run() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let lock = OutputLock::acquire(dir.path(), None).expect("locked");
        let staging = dir.path().join(format!("{STAGING_PREFIX}R1"));
        std::fs::create_dir(&staging).expect("created");
        std::fs::write(staging.join("a.txt"), "a").expect("written");
        clean_staging(dir.path(), &lock).expect("cleaned");
        assert!(!staging.exists());
    }
}
