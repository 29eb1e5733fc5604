//! Secrets typed into the Sources page, kept sealed at rest.
//!
//! A source file's `[secrets]` are the operator's text (a literal or a `${VAR}`). A token typed
//! into the page is written there sealed instead, `api_token = "euno-sealed:v1.<nonce>.<ct>"`:
//! ChaCha20-Poly1305 under a 32-byte key, with the source's and the secret's names as
//! associated data, so that a sealed value copied under another name does not open. So the sealed
//! value travels with the definition, whether a file or a definition in a shared database, and
//! any process holding the key opens it when it runs the source. The key is `EUNO_SECRET_KEY`
//! (64 hex digits), or, for a single host without it, `secret.key` in the data directory (32
//! random bytes, made with mode 0600; a key file others may read is refused). Every worker that
//! runs the same sources needs the same key.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::fsutil::{self, KeyFileError};
use crate::secret::Secret;

/// The environment variable holding the key, as 64 hex digits.
pub const KEY_VAR: &str = "EUNO_SECRET_KEY";
/// The key file in the data directory, when [`KEY_VAR`] is not set.
pub const KEY_FILE: &str = "secret.key";
/// What a sealed value starts with.
pub const SEALED_PREFIX: &str = "euno-sealed:";
/// The version of a sealed value.
const VERSION: &str = "v1";

/// Whether `text` (a `[secrets]` value) is a sealed value.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

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
    /// The key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A sealed value does not open with this key (another key, or it was changed).
    #[error(
        "secret `secrets.{secret}` of source \"{source_name}\" does not open with this key: every \
         process running the same sources needs the same {KEY_VAR} (or {KEY_FILE}); type the \
         secret again to seal it anew"
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

/// The sealing key of a data directory (or of `EUNO_SECRET_KEY`). Cheap to make: the key is
/// read when first needed.
#[derive(Debug, Clone)]
pub struct Vault {
    dir: PathBuf,
}

impl Vault {
    /// The vault of the data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// Seals `secret`, the secret `name` of `source`, as a `[secrets]` value.
    pub fn seal(&self, source: &str, name: &str, secret: &Secret) -> Result<String, VaultError> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(VaultError::Random)?;
        let aad = associated(source, name);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            // Encryption fails only past what a source's secret can be (256 GiB).
            .map_err(|_| VaultError::WrongKey {
                source_name: source.to_owned(),
                secret: name.to_owned(),
            })?;
        Ok(format!(
            "{SEALED_PREFIX}{VERSION}.{}.{}",
            B64.encode(nonce),
            B64.encode(sealed)
        ))
    }

    /// Opens `text`, a sealed value of the secret `name` of `source`.
    pub fn open(&self, source: &str, name: &str, text: &str) -> Result<Secret, VaultError> {
        let cipher = self.cipher()?;
        open(&cipher, source, name, text)
            .map(Secret::new)
            .ok_or_else(|| VaultError::WrongKey {
                source_name: source.to_owned(),
                secret: name.to_owned(),
            })
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

fn open(cipher: &ChaCha20Poly1305, source: &str, name: &str, value: &str) -> Option<String> {
    let mut parts = value.strip_prefix(SEALED_PREFIX)?.split('.');
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
    fsutil::load_or_create_key(path).map_err(|error| match error {
        KeyFileError::Io(source) => VaultError::Io {
            path: path.to_owned(),
            source,
        },
        KeyFileError::Random(error) => VaultError::Random(error),
        KeyFileError::Unsafe { mode, len } => VaultError::UnsafeKeyFile {
            path: path.to_owned(),
            mode,
            len,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> Secret {
        Secret::new(value.to_owned())
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_source_and_name_and_shows_nothing_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path());
        let sealed = vault
            .seal("Hex", "api_token", &secret("hxtp_very_secret"))
            .unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hxtp_very_secret"));
        assert_eq!(
            vault.open("Hex", "api_token", &sealed).unwrap().expose(),
            "hxtp_very_secret"
        );
        assert!(matches!(
            vault.open("Other", "api_token", &sealed),
            Err(VaultError::WrongKey { .. })
        ));
        assert!(matches!(
            vault.open("Hex", "other", &sealed),
            Err(VaultError::WrongKey { .. })
        ));
        // Another data directory has another key.
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(
            Vault::new(elsewhere.path())
                .open("Hex", "api_token", &sealed)
                .is_err()
        );
    }

    #[test]
    fn the_key_file_is_private_and_one_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(dir.path());
        let sealed = vault.seal("s", "t", &secret("value")).unwrap();
        let key = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            vault.open("s", "t", &sealed),
            Err(VaultError::UnsafeKeyFile { mode: 0o644, .. })
        ));
    }

    #[test]
    fn a_hex_key_parses_and_anything_else_does_not() {
        assert_eq!(parse_hex_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_hex_key("abc"), None);
        assert_eq!(parse_hex_key(&"zz".repeat(32)), None);
    }
}
