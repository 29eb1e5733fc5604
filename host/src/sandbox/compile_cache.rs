//! The cache of compiled components under the data directory, sealed so that only what this
//! host wrote is ever loaded.
//!
//! Loading a compiled component runs its machine code with no further check (wasmtime's
//! `Component::deserialize` is `unsafe` for that reason): a cached file that someone else wrote,
//! or that a disk or a copy damaged, would run outside the sandbox. So each cached artifact ends
//! with an HMAC-SHA256 tag under a key of the cache's own (32 random bytes in `key`, created
//! readable by its owner only), computed over the artifact's name (wasmtime version, engine
//! settings and component digest) and its bytes. A flipped byte, a truncated file, an artifact
//! from another machine, or another component's artifact renamed into place fails the check: the
//! host says so and compiles the component again. The file is read into memory once, checked, and
//! deserialized from that same memory, so it cannot change between the check and the use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::fsutil::{self, KeyFileError, write_atomically};

/// Bytes of the key and of the tag at the end of each cached artifact.
const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 32;

/// The cache key's file, in the cache directory.
const KEY_FILE: &str = "key";

type Tag = Hmac<Sha256>;

/// The secret that seals the cache's artifacts.
struct Key([u8; KEY_BYTES]);

/// A directory of sealed compiled components.
pub struct CompileCache {
    dir: PathBuf,
    /// Read (or created) on first use, so that commands that never compile never touch it.
    /// `None` when it cannot be used: then nothing is cached.
    key: OnceLock<Option<Key>>,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompileCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            key: OnceLock::new(),
        }
    }

    /// The component cached as `name` (a path relative to the cache directory), if its seal
    /// holds and `engine` accepts it. Anything else is logged and ignored: the caller compiles.
    pub fn load(&self, engine: &Engine, name: &str) -> Option<Component> {
        let path = self.dir.join(name);
        let sealed = match std::fs::read(&path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read a compiled component, compiling it again: {e}");
                return None;
            }
        };
        let key = self.key()?;
        let Some(artifact) = unseal(key, name, &sealed) else {
            tracing::warn!(
                path = %path.display(),
                "a cached compiled component failed its integrity check (it was changed, damaged \
                 or not written by this host); ignoring it and compiling the component again"
            );
            return None;
        };
        // SAFETY: `artifact` is the very memory whose tag was just verified: this cache wrote it
        // with `store`, from `Engine::precompile_component` of an engine with the same
        // compatibility hash (part of `name`, which the tag covers) for the component whose
        // digest is in `name`.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring an unusable compiled component: {e:#}");
                None
            }
        }
    }

    /// Seals and caches `artifact` as `name`. A failure only costs a compile next time.
    pub fn store(&self, name: &str, artifact: &[u8]) {
        let Some(key) = self.key() else {
            return;
        };
        let path = self.dir.join(name);
        if let Err(e) = write_atomically(&path, &seal(key, name, artifact)) {
            tracing::warn!(path = %path.display(), "could not cache the compiled component: {e}");
        }
    }

    fn key(&self) -> Option<&Key> {
        self.key
            .get_or_init(|| {
                let path = self.dir.join(KEY_FILE);
                load_or_create_key(&path)
                    .map_err(|e| {
                        tracing::warn!(
                            path = %path.display(),
                            "compiled components are not cached: {e}"
                        );
                    })
                    .ok()
            })
            .as_ref()
    }
}

/// `artifact` followed by its tag.
fn seal(key: &Key, name: &str, artifact: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(artifact.len() + TAG_BYTES);
    sealed.extend_from_slice(artifact);
    sealed.extend_from_slice(&tagger(key, name, artifact).finalize().into_bytes());
    sealed
}

/// The artifact in `sealed`, if its tag is the one `key` gives it under `name`.
fn unseal<'a>(key: &Key, name: &str, sealed: &'a [u8]) -> Option<&'a [u8]> {
    let split = sealed.len().checked_sub(TAG_BYTES)?;
    let (artifact, tag) = sealed.split_at(split);
    // Compared in constant time.
    tagger(key, name, artifact).verify_slice(tag).ok()?;
    Some(artifact)
}

/// The MAC of `name` (length-prefixed, so that no name and artifact pair reads as another) and
/// `artifact`.
fn tagger(key: &Key, name: &str, artifact: &[u8]) -> Tag {
    let mut tag = Tag::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    tag.update(&(name.len() as u64).to_le_bytes());
    tag.update(name.as_bytes());
    tag.update(artifact);
    tag
}

/// Why the cache key cannot be used.
#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("cannot read or create the cache key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a random cache key: {0}")]
    Random(getrandom::Error),
    /// A key others could read lets them forge a tag, so it is not used. It is not replaced
    /// either: someone changed it, and should hear about it.
    #[error(
        "the cache key {} is not a private {KEY_BYTES}-byte file (mode {mode:o}, {len} bytes); \
         fix it with `chmod 600` or delete it to have a new one made",
        path.display()
    )]
    Unsafe { path: PathBuf, mode: u32, len: u64 },
}

/// The key in `path`, made (32 random bytes, mode 0600) if there is none yet. Two processes
/// making it at once agree: each writes its own candidate aside and links it into place, and the
/// one that finds a key there already uses that one.
fn load_or_create_key(path: &Path) -> Result<Key, KeyError> {
    fsutil::load_or_create_key(path)
        .map(Key)
        .map_err(|error| match error {
            KeyFileError::Io(source) => KeyError::Io {
                path: path.to_owned(),
                source,
            },
            KeyFileError::Random(error) => KeyError::Random(error),
            KeyFileError::Unsafe { mode, len } => KeyError::Unsafe {
                path: path.to_owned(),
                mode,
                len,
            },
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const NAME: &str = "wasmtime-48.0.8/abc-0123.cwasm";

    #[test]
    fn a_seal_holds_only_for_the_same_key_name_and_bytes() {
        let key = Key([7; KEY_BYTES]);
        let sealed = seal(&key, NAME, b"machine code");
        assert_eq!(unseal(&key, NAME, &sealed), Some(&b"machine code"[..]));

        let mut flipped = sealed.clone();
        flipped[3] ^= 1;
        assert_eq!(unseal(&key, NAME, &flipped), None, "a flipped byte");
        assert_eq!(
            unseal(&key, "wasmtime-48.0.8/def-0123.cwasm", &sealed),
            None,
            "another component's artifact renamed"
        );
        assert_eq!(
            unseal(&Key([8; KEY_BYTES]), NAME, &sealed),
            None,
            "another key"
        );
        assert_eq!(unseal(&key, NAME, &sealed[..10]), None, "truncated");
        assert_eq!(unseal(&key, NAME, b"machine code"), None, "never sealed");
    }

    #[test]
    fn the_key_is_made_once_private_and_a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join(KEY_FILE);
        let made = load_or_create_key(&path).expect("made");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_key(&path).expect("read").0, made.0);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no candidate left behind"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = load_or_create_key(&path).err().expect("refused");
        assert!(
            matches!(refused, KeyError::Unsafe { mode: 0o644, .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
    }
}
