//! Secrets typed into the Sources page, kept sealed at rest.
//!
//! A source file's `[secrets]` are the operator's text (a literal or a `${VAR}`); a token typed
//! into the page has no file to live in, so it is sealed here instead: ChaCha20-Poly1305 under a
//! 32-byte key, with the source's and the secret's names as associated data, so that a sealed
//! value copied under another name does not open. The key is `EUNO_SECRET_KEY` (64 hex digits),
//! or, for a single host without it, `secret.key` in the data directory (32 random bytes, made
//! with mode 0600; a key file others may read is refused). Every process that runs the same
//! sources needs the same key.
//!
//! The sealed values are one JSON file, `sealed-secrets.json` in the data directory, written
//! atomically: `{"<source>": {"<secret>": "v1.<nonce>.<ciphertext>"}}` (base64). Nothing here
//! prints, logs or returns a secret but [`Vault::secrets_of`], which hands them to the run.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::fsutil::write_atomically;
use crate::secret::Secret;

/// The environment variable holding the key, as 64 hex digits.
pub const KEY_VAR: &str = "EUNO_SECRET_KEY";
/// The key file in the data directory, when [`KEY_VAR`] is not set.
pub const KEY_FILE: &str = "secret.key";
/// The sealed secrets in the data directory.
pub const SEALED_FILE: &str = "sealed-secrets.json";
/// The version prefix of a sealed value.
const VERSION: &str = "v1";

/// Why secrets could not be sealed or opened. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// `EUNO_SECRET_KEY` is not 64 hex digits.
    #[error("{KEY_VAR} must be 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`")]
    BadKeyVar,
    /// The key file is not a private 32-byte file.
    #[error(
        "the secret key {} is not a private 32-byte file (mode {mode:o}, {len} bytes): `chmod 600` it, or set {KEY_VAR}",
        path.display()
    )]
    UnsafeKeyFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// Its length.
        len: u64,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The sealed secrets file is not what this module writes.
    #[error("{}: not a sealed secrets file: {problem}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A sealed value does not open with this key (another key, or it was changed).
    #[error(
        "secret `{secret}` of source \"{source_name}\" does not open with this key: every process \
         running the same sources needs the same {KEY_VAR} (or {KEY_FILE}); type the secret again \
         to seal it anew"
    )]
    WrongKey {
        /// The source.
        source_name: String,
        /// The secret's name.
        secret: String,
    },
    /// No randomness.
    #[error("cannot get random bytes: {0}")]
    Random(getrandom::Error),
}

/// The sealed secrets of a data directory. Cheap to make: the key is read when first needed.
#[derive(Debug)]
pub struct Vault {
    dir: PathBuf,
    /// Serialises this process's read-modify-write of the sealed file.
    lock: Mutex<()>,
}

type Sealed = BTreeMap<String, BTreeMap<String, String>>;

impl Vault {
    /// The vault of the data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            lock: Mutex::new(()),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(SEALED_FILE)
    }

    fn read(&self) -> Result<Sealed, VaultError> {
        let path = self.file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| VaultError::Corrupt {
                path,
                problem: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sealed::new()),
            Err(source) => Err(VaultError::Io { path, source }),
        }
    }

    fn write(&self, sealed: &Sealed) -> Result<(), VaultError> {
        let path = self.file();
        let bytes = serde_json::to_vec_pretty(sealed).map_err(|e| VaultError::Corrupt {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        write_atomically(&path, &bytes).map_err(|source| VaultError::Io { path, source })
    }

    /// The names of the secrets sealed for `source`.
    pub fn names_of(&self, source: &str) -> Result<Vec<String>, VaultError> {
        Ok(self
            .read()?
            .get(source)
            .map(|secrets| secrets.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// The secrets sealed for `source`, opened: for the run (or check) of that source only.
    pub fn secrets_of(&self, source: &str) -> Result<BTreeMap<String, Secret>, VaultError> {
        let sealed = self.read()?;
        let Some(secrets) = sealed.get(source) else {
            return Ok(BTreeMap::new());
        };
        let cipher = self.cipher()?;
        secrets
            .iter()
            .map(|(name, value)| {
                let opened =
                    open(&cipher, source, name, value).ok_or_else(|| VaultError::WrongKey {
                        source_name: source.to_owned(),
                        secret: name.clone(),
                    })?;
                Ok((name.clone(), Secret::new(opened)))
            })
            .collect()
    }

    /// Seals `secrets` for `source`, beside (or replacing) the ones already sealed for it.
    pub fn seal(&self, source: &str, secrets: &BTreeMap<String, Secret>) -> Result<(), VaultError> {
        if secrets.is_empty() {
            return Ok(());
        }
        let cipher = self.cipher()?;
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut sealed = self.read()?;
        let entry = sealed.entry(source.to_owned()).or_default();
        for (name, secret) in secrets {
            entry.insert(name.clone(), seal(&cipher, source, name, secret.expose())?);
        }
        self.write(&sealed)
    }

    /// Moves the secrets sealed for `from` to `to` (a source renamed), sealing them anew.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), VaultError> {
        if from == to {
            return Ok(());
        }
        let secrets = self.secrets_of(from)?;
        self.forget(to)?;
        self.seal(to, &secrets)?;
        self.forget(from)
    }

    /// Forgets every secret sealed for `source`.
    pub fn forget(&self, source: &str) -> Result<(), VaultError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut sealed = self.read()?;
        if sealed.remove(source).is_some() {
            self.write(&sealed)?;
        }
        Ok(())
    }

    fn cipher(&self) -> Result<ChaCha20Poly1305, VaultError> {
        let key = match std::env::var(KEY_VAR) {
            Ok(text) => parse_hex_key(&text).ok_or(VaultError::BadKeyVar)?,
            Err(_) => load_or_create_key(&self.dir.join(KEY_FILE))?,
        };
        Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
    }
}

/// What the seal binds a value to: its source and its name.
fn associated(source: &str, name: &str) -> Vec<u8> {
    format!("euno-secret\0{source}\0{name}").into_bytes()
}

fn seal(
    cipher: &ChaCha20Poly1305,
    source: &str,
    name: &str,
    plain: &str,
) -> Result<String, VaultError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(VaultError::Random)?;
    let aad = associated(source, name);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad,
            },
        )
        // Encryption fails only for messages beyond what a source's secret can be (256 GiB).
        .map_err(|_| VaultError::Corrupt {
            path: PathBuf::from(SEALED_FILE),
            problem: "a secret too large to seal".to_owned(),
        })?;
    Ok(format!(
        "{VERSION}.{}.{}",
        B64.encode(nonce),
        B64.encode(sealed)
    ))
}

fn open(cipher: &ChaCha20Poly1305, source: &str, name: &str, value: &str) -> Option<String> {
    let mut parts = value.split('.');
    let (Some(VERSION), Some(nonce), Some(sealed), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let nonce: [u8; 12] = B64.decode(nonce).ok()?.try_into().ok()?;
    let sealed = B64.decode(sealed).ok()?;
    let aad = associated(source, name);
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// The key in `path`, made (32 random bytes, mode 0600) if there is none yet; a key file others
/// may read or write is refused rather than replaced, so that the change is noticed.
fn load_or_create_key(path: &Path) -> Result<[u8; 32], VaultError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let io = |source| VaultError::Io {
        path: path.to_owned(),
        source,
    };
    loop {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                let mode = meta.mode() & 0o7777;
                let unsafe_file = || VaultError::UnsafeKeyFile {
                    path: path.to_owned(),
                    mode,
                    len: meta.len(),
                };
                if !meta.file_type().is_file() || mode & 0o077 != 0 || meta.len() != 32 {
                    return Err(unsafe_file());
                }
                let bytes = std::fs::read(path).map_err(io)?;
                return bytes.try_into().map_err(|_| unsafe_file());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(VaultError::Random)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let candidate = dir.join(format!("{KEY_FILE}.new.{}", std::process::id()));
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
            Err(e) => return Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> BTreeMap<String, Secret> {
        BTreeMap::from([(name.to_owned(), Secret::new(value.to_owned()))])
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_source_and_name_and_is_not_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path());
        vault
            .seal("Hex", &one("api_token", "hxtp_very_secret"))
            .unwrap();
        let opened = vault.secrets_of("Hex").unwrap();
        assert_eq!(opened["api_token"].expose(), "hxtp_very_secret");
        assert_eq!(vault.names_of("Hex").unwrap(), ["api_token"]);
        let stored = std::fs::read_to_string(dir.path().join(SEALED_FILE)).unwrap();
        assert!(!stored.contains("hxtp_very_secret"), "{stored}");

        // The same ciphertext under another source's name does not open.
        let moved = stored.replace("\"Hex\"", "\"Other\"");
        std::fs::write(dir.path().join(SEALED_FILE), moved).unwrap();
        assert!(matches!(
            vault.secrets_of("Other"),
            Err(VaultError::WrongKey { .. })
        ));
    }

    #[test]
    fn the_key_file_is_private_and_one_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path());
        vault.seal("s", &one("t", "value")).unwrap();
        let key = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            vault.secrets_of("s"),
            Err(VaultError::UnsafeKeyFile { mode: 0o644, .. })
        ));
    }

    #[test]
    fn rename_and_forget_move_and_drop_a_sources_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path());
        vault.seal("a", &one("t", "value")).unwrap();
        vault.rename("a", "b").unwrap();
        assert!(vault.secrets_of("a").unwrap().is_empty());
        assert_eq!(vault.secrets_of("b").unwrap()["t"].expose(), "value");
        vault.forget("b").unwrap();
        assert!(vault.names_of("b").unwrap().is_empty());
    }

    #[test]
    fn a_hex_key_parses_and_anything_else_does_not() {
        assert_eq!(parse_hex_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_hex_key("abc"), None);
        assert_eq!(parse_hex_key(&"zz".repeat(32)), None);
    }
}
