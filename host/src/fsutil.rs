//! The file chores several layers share: writing a file so that no reader ever sees half of it,
//! naming bytes by their SHA-256 digest, and keeping a private key file.

use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, lowercase hex: how a component is named in the cache, the run history and
/// the manifests.
pub fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` through a file of this process's beside it and a rename, so that a
/// reader (a running `serve`, another process loading the same cached component) never sees half
/// a file. Creates the parent directory when needed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let aside = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lowercase_hex_sha256() {
        assert_eq!(
            hex_digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("file.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}

/// Why a key file cannot be used ([`load_or_create_key`]); the caller names the file.
#[derive(Debug)]
pub enum KeyFileError {
    /// Reading or writing it failed.
    Io(std::io::Error),
    /// No randomness for a new key.
    Random(getrandom::Error),
    /// It is not a private regular file of the key's length: its permission bits and length.
    /// Such a file is not replaced either: someone changed it, and should hear about it.
    Unsafe {
        /// Its permission bits.
        mode: u32,
        /// Its length in bytes.
        len: u64,
    },
}

/// The `N`-byte key in `path`, made (random, mode 0600) if there is none yet. Two processes
/// making it at once agree: each writes its own candidate aside and links it into place, and the
/// one that finds a key there already uses that one.
pub fn load_or_create_key<const N: usize>(path: &Path) -> Result<[u8; N], KeyFileError> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    loop {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                let mode = meta.mode() & 0o7777;
                let unsafe_file = |len| KeyFileError::Unsafe { mode, len };
                if !meta.file_type().is_file() || mode & 0o077 != 0 || meta.len() != N as u64 {
                    return Err(unsafe_file(meta.len()));
                }
                let bytes = std::fs::read(path).map_err(KeyFileError::Io)?;
                return bytes
                    .try_into()
                    .map_err(|bytes: Vec<u8>| unsafe_file(bytes.len() as u64));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(KeyFileError::Io(e)),
        }
        let mut key = [0u8; N];
        getrandom::fill(&mut key).map_err(KeyFileError::Random)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(KeyFileError::Io)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let candidate = dir.join(format!("{name}.new.{}", std::process::id()));
        let _ = std::fs::remove_file(&candidate);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&candidate)
            .and_then(|mut file| {
                file.write_all(&key)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::hard_link(&candidate, path));
        let _ = std::fs::remove_file(&candidate);
        match written {
            Ok(()) => return Ok(key),
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(KeyFileError::Io(e)),
        }
    }
}
