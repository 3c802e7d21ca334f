//! Making a new key pair and writing its three files.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};

use super::key::SecretKey;
use super::{KeyId, SignError};

/// Makes a new random key pair and writes `PREFIX.key` (the secret key, mode 0600),
/// `PREFIX.pub` (the public key) and `PREFIX.pem` (the public key for openssl).
///
/// Refuses to replace any of the three that exists unless `force`. Each file is written to a
/// temporary name in the same folder and then moved into place, so a crash leaves either no
/// file or a whole one under the real name; the secret key is created with mode 0600, so it is
/// never readable by others, not even while it is being written. A missing parent folder is
/// created with mode 0700.
///
/// The secret key file is signify's format, but signify itself takes a secret key only under
/// a name ending in `.sec`: copy it to one before using it with `signify-openbsd -S`.
pub fn keygen(prefix: &Path, force: bool) -> Result<KeyId, SignError> {
    let paths = KeyPaths::new(prefix)?;
    if !force {
        paths.refuse_existing()?;
    }
    let random = SystemRandom::new();
    let secret = SecretKey::generate(&random)?;
    let public = secret.public_key();
    create_parent(&paths.dir)?;

    let writer = KeyWriter::new(&random, force)?;
    writer.write(&paths.secret, &secret.to_text(), 0o600)?;
    writer.write(&paths.public, &public.to_text(), 0o644)?;
    writer.write(&paths.pem, &public.to_pem(), 0o644)?;
    sync_dir(&paths.dir)?;
    Ok(public.key_id())
}

/// The three files of a key pair, and the folder they go in.
struct KeyPaths {
    dir: PathBuf,
    pem: PathBuf,
    public: PathBuf,
    secret: PathBuf,
}

impl KeyPaths {
    fn new(prefix: &Path) -> Result<KeyPaths, SignError> {
        // A prefix such as `keys/` would give hidden files named `.key` inside `keys`.
        let ends_in_name =
            prefix.file_name().is_some() && !prefix.as_os_str().to_string_lossy().ends_with('/');
        if !ends_in_name {
            let path = prefix.to_owned();
            return Err(SignError::KeyPrefix { path });
        }
        let dir = match prefix.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok(KeyPaths {
            dir,
            pem: with_suffix(prefix, ".pem"),
            public: with_suffix(prefix, ".pub"),
            secret: with_suffix(prefix, ".key"),
        })
    }

    fn refuse_existing(&self) -> Result<(), SignError> {
        for path in [&self.secret, &self.public, &self.pem] {
            // `symlink_metadata` so that a dangling link counts as existing too.
            if fs::symlink_metadata(path).is_ok() {
                let path = path.clone();
                return Err(SignError::KeyFileExists { path });
            }
        }
        Ok(())
    }
}

/// `prefix` with `suffix` appended. Not `with_extension`, which would replace the `.v2` of a
/// prefix such as `keys/release.v2`.
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = OsString::from(prefix.as_os_str());
    path.push(suffix);
    PathBuf::from(path)
}

fn create_parent(dir: &Path) -> Result<(), SignError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SignError::CreateKeyDir {
            path: dir.to_owned(),
            source,
        })
}

/// Writes key files through temporary files moved into place.
struct KeyWriter {
    /// Whether an existing file may be replaced.
    force: bool,
    /// Makes temporary names unguessable and unique to this run.
    tag: String,
}

impl KeyWriter {
    fn new(random: &SystemRandom, force: bool) -> Result<KeyWriter, SignError> {
        let mut tag = [0; 8];
        random.fill(&mut tag).map_err(|_| SignError::GenerateKey)?;
        let tag = hex::encode(tag);
        Ok(KeyWriter { force, tag })
    }

    fn write(&self, path: &Path, contents: &str, mode: u32) -> Result<(), SignError> {
        let temp = self.temp_path(path);
        let result = write_new(&temp, contents.as_bytes(), mode)
            .map_err(|source| SignError::WriteKeyFile {
                path: path.to_owned(),
                source,
            })
            .and_then(|()| self.publish(&temp, path));
        if result.is_err() {
            // Leave no copy of the key behind, whole or partial. The error already says
            // what went wrong; a failure to clean up would only hide it.
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn temp_path(&self, path: &Path) -> PathBuf {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        path.with_file_name(format!(".{name}.{}.tmp", self.tag))
    }

    /// Moves the finished temporary file to its real name.
    fn publish(&self, temp: &Path, path: &Path) -> Result<(), SignError> {
        let write_error = |source| SignError::WriteKeyFile {
            path: path.to_owned(),
            source,
        };
        if self.force {
            return fs::rename(temp, path).map_err(write_error);
        }
        // A hard link, unlike a rename, fails when the name exists, so a key file that
        // appeared since `refuse_existing` looked is not replaced.
        fs::hard_link(temp, path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => SignError::KeyFileExists {
                path: path.to_owned(),
            },
            _ => write_error(source),
        })?;
        fs::remove_file(temp).map_err(|source| SignError::WriteKeyFile {
            path: temp.to_owned(),
            source,
        })
    }
}

/// Creates `path`, which must not exist, with `mode` from the start, and writes it to disk.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the new names durable: without it a crash can lose a rename that `write` reported.
fn sync_dir(dir: &Path) -> Result<(), SignError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| SignError::WriteKeyFile {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sign::{PublicKey, SigningKey};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn keygen_writes_three_files_that_load_as_one_key_pair() {
        let dir = tempfile::tempdir().expect("temp dir");
        let prefix = dir.path().join("release");
        let key_id = keygen(&prefix, false).expect("keygen");

        let key = SigningKey::load(&dir.path().join("release.key")).expect("secret key");
        let public = PublicKey::load(&dir.path().join("release.pub")).expect("public key");
        assert_eq!(key.key_id(), key_id);
        assert_eq!(public, key.public_key());
        assert_eq!(mode(&dir.path().join("release.key")), 0o600);
        let pem = fs::read_to_string(dir.path().join("release.pem")).expect("pem");
        assert_eq!(pem, public.to_pem());
    }

    #[test]
    fn keygen_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("k"), false).expect("keygen");
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .expect("read dir")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["k.key", "k.pem", "k.pub"]);
    }

    #[test]
    fn keygen_refuses_to_replace_a_key_unless_forced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let prefix = dir.path().join("k");
        let first = keygen(&prefix, false).expect("first keygen");

        let error = keygen(&prefix, false).expect_err("second keygen");
        assert!(matches!(&error, SignError::KeyFileExists { path } if path.ends_with("k.key")));
        assert!(error.help().expect("help").contains("--force"));
        let kept = SigningKey::load(&dir.path().join("k.key")).expect("still loads");
        assert_eq!(kept.key_id(), first);

        let second = keygen(&prefix, true).expect("forced keygen");
        assert_ne!(second, first);
        assert_eq!(mode(&dir.path().join("k.key")), 0o600);
    }

    #[test]
    fn keygen_refuses_when_only_the_public_key_exists() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("k.pub"), "someone else's key").expect("write");
        let error = keygen(&dir.path().join("k"), false).expect_err("pub exists");
        assert!(matches!(error, SignError::KeyFileExists { path } if path.ends_with("k.pub")));
        assert!(!dir.path().join("k.key").exists());
    }

    #[test]
    fn keygen_creates_a_missing_folder_private_to_its_owner() {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("keys/release"), false).expect("keygen");
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        assert!(dir.path().join("keys/release.key").is_file());
    }

    #[test]
    fn keygen_keeps_dots_in_the_prefix() {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("release.v2"), false).expect("keygen");
        assert!(dir.path().join("release.v2.key").is_file());
    }

    #[test]
    fn keygen_refuses_a_prefix_that_names_a_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let prefix = PathBuf::from(format!("{}/", dir.path().display()));
        let error = keygen(&prefix, false).expect_err("folder prefix");
        assert!(matches!(error, SignError::KeyPrefix { .. }));
    }

    #[test]
    fn a_signing_key_that_others_can_read_is_refused_with_the_chmod_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("k"), false).expect("keygen");
        let path = dir.path().join("k.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 644");

        let error = SigningKey::load(&path).expect_err("readable by others");
        assert!(matches!(
            error,
            SignError::SigningKeyReadable { mode: 0o644, .. }
        ));
        assert_eq!(
            error.to_string(),
            format!(
                "signing key `{}` can be read by others (mode 0644)",
                path.display()
            )
        );
        assert_eq!(error.help(), Some(format!("chmod 600 {}", path.display())));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
        assert!(SigningKey::load(&path).is_ok());
    }

    #[test]
    fn a_signing_key_that_others_can_change_is_refused_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("k"), false).expect("keygen");
        let path = dir.path().join("k.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o620)).expect("chmod 620");
        let error = SigningKey::load(&path).expect_err("writable by the group");
        assert!(
            error
                .to_string()
                .ends_with("can be changed or run by others (mode 0620)")
        );
    }

    #[test]
    fn a_missing_signing_key_error_names_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("absent.key");
        let error = SigningKey::load(&path).expect_err("missing");
        assert_eq!(
            error.to_string(),
            format!("cannot read signing key `{}`", path.display())
        );
    }
}
