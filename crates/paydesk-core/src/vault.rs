//! The vault: the secrets of this desk (API key, the API certificate's private key with its chain or the whole
//! `.p12`, and the ledger URL, which may hold a PostgreSQL password) in one file in the data directory,
//! encrypted with a key derived from the owner password (ARCHITECTURE.md §5). Why these choices:
//! `docs/decisions/0007-vault-and-status-sync.md`.
//!
//! File (`vault.json`): a small JSON envelope — format, version, the Argon2id parameters and salt, the cipher,
//! the nonce, and the ciphertext (base64). The key is Argon2id(password, salt, m/t/p) → 32 bytes; the cipher is
//! XChaCha20-Poly1305 with a random 24-byte nonce, and the envelope's parameters are the associated data, so a
//! file whose parameters were edited does not decrypt. A wrong password fails the AEAD tag: [`open`] returns
//! [`CoreError::WrongPassword`] and never writes. Changing the password re-encrypts under a new salt and nonce
//! into a temporary file that is renamed over the old one.
//!
//! Plaintext buffers are wiped after use ([`zeroize`]); [`VaultContents`] wipes itself on drop.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{CoreError, CoreResult};
use crate::paths::write_atomic;

const FORMAT: &str = "paydesk-vault";
const VERSION: u32 = 1;
const CIPHER: &str = "xchacha20poly1305";
const KDF: &str = "argon2id";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

/// Argon2id cost. The default (64 MiB, 3 passes, 1 lane) is RFC 9106's second recommendation; it takes a
/// fraction of a second on a laptop, once per unlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 }
    }
}

/// The API certificate as it was imported.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoredCertificate {
    /// `apiclient_cert.p12` bytes (base64) and its password.
    P12 { p12_b64: String, password: String },
    /// `apiclient_cert.pem` (with any chain) and `apiclient_key.pem`.
    Pem { cert_pem: String, key_pem: String },
}

impl StoredCertificate {
    /// The TLS client identity.
    pub fn identity(&self) -> CoreResult<wxpay::client::ClientIdentity> {
        use wxpay::client::ClientIdentity;
        Ok(match self {
            StoredCertificate::P12 { p12_b64, password } => {
                let bytes = Zeroizing::new(
                    B64.decode(p12_b64).map_err(|_| CoreError::Internal("vault: p12 is not base64".into()))?,
                );
                ClientIdentity::from_pkcs12(&bytes, password)?
            }
            StoredCertificate::Pem { cert_pem, key_pem } => {
                ClientIdentity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?
            }
        })
    }
}

impl std::fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredCertificate::P12 { .. } => f.write_str("StoredCertificate::P12(***)"),
            StoredCertificate::Pem { .. } => f.write_str("StoredCertificate::Pem(***)"),
        }
    }
}

/// What the vault holds.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct VaultContents {
    /// The merchant's API v2 key (32 characters).
    pub api_key: String,
    pub certificate: Option<StoredCertificate>,
    /// The full ledger URL (a PostgreSQL URL may carry a password).
    pub ledger_url: String,
}

impl std::fmt::Debug for VaultContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultContents")
            .field("api_key", &"***")
            .field("certificate", &self.certificate)
            .field("ledger_url", &"***")
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    kdf: KdfHeader,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct KdfHeader {
    algorithm: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

impl Envelope {
    /// The associated data: everything that decides how the ciphertext is read.
    fn aad(&self) -> Vec<u8> {
        format!(
            "{}/{}/{}/m={}/t={}/p={}/salt={}/{}",
            self.format,
            self.version,
            self.kdf.algorithm,
            self.kdf.m_cost_kib,
            self.kdf.t_cost,
            self.kdf.p_cost,
            self.kdf.salt,
            self.cipher
        )
        .into_bytes()
    }
}

fn derive_key(password: &str, salt: &[u8], params: KdfParams) -> CoreResult<Zeroizing<[u8; 32]>> {
    let argon_params = argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| CoreError::Internal(format!("vault: argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), salt, key.as_mut())
        .map_err(|e| CoreError::Internal(format!("vault: argon2: {e}")))?;
    Ok(key)
}

fn seal(password: &str, contents: &VaultContents, params: KdfParams) -> CoreResult<Vec<u8>> {
    let salt: [u8; SALT_LEN] = rand::random();
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut envelope = Envelope {
        format: FORMAT.into(),
        version: VERSION,
        kdf: KdfHeader {
            algorithm: KDF.into(),
            m_cost_kib: params.m_cost_kib,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            salt: B64.encode(salt),
        },
        cipher: CIPHER.into(),
        nonce: B64.encode(nonce),
        ciphertext: String::new(),
    };
    let key = derive_key(password, &salt, params)?;
    let plaintext =
        Zeroizing::new(serde_json::to_vec(contents).map_err(|e| CoreError::Internal(format!("vault: encode: {e}")))?);
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let aad = envelope.aad();
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &aad })
        .map_err(|_| CoreError::Internal("vault: encryption failed".into()))?;
    envelope.ciphertext = B64.encode(ciphertext);
    serde_json::to_vec_pretty(&envelope).map_err(|e| CoreError::Internal(format!("vault: envelope: {e}")))
}

fn unseal(bytes: &[u8], password: &str) -> CoreResult<VaultContents> {
    let corrupt = |what: &str| CoreError::Internal(format!("vault file: {what}"));
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|_| corrupt("not a vault envelope"))?;
    if envelope.format != FORMAT || envelope.version != VERSION {
        return Err(corrupt("unknown format or version"));
    }
    if envelope.kdf.algorithm != KDF || envelope.cipher != CIPHER {
        return Err(corrupt("unknown algorithm"));
    }
    let salt = B64.decode(&envelope.kdf.salt).map_err(|_| corrupt("salt"))?;
    let nonce = B64.decode(&envelope.nonce).map_err(|_| corrupt("nonce"))?;
    let ciphertext = B64.decode(&envelope.ciphertext).map_err(|_| corrupt("ciphertext"))?;
    if salt.len() < 8 || nonce.len() != NONCE_LEN {
        return Err(corrupt("salt or nonce length"));
    }
    let params =
        KdfParams { m_cost_kib: envelope.kdf.m_cost_kib, t_cost: envelope.kdf.t_cost, p_cost: envelope.kdf.p_cost };
    let key = derive_key(password, &salt, params)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let aad = envelope.aad();
    // The tag fails for a wrong password (and for a tampered file): both mean "this password does not open it".
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad })
            .map_err(|_| CoreError::WrongPassword)?,
    );
    serde_json::from_slice(&plaintext).map_err(|_| corrupt("contents"))
}

/// Whether a vault file exists at `path`.
pub fn exists(path: &Path) -> bool {
    path.is_file()
}

/// Writes a new vault (replacing any file at `path`).
pub fn create(path: &Path, password: &str, contents: &VaultContents, params: KdfParams) -> CoreResult<()> {
    let bytes = seal(password, contents, params)?;
    write_atomic(path, &bytes)
}

/// Opens the vault. A wrong password is [`CoreError::WrongPassword`]; the file is only read.
pub fn open(path: &Path, password: &str) -> CoreResult<VaultContents> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    unseal(&bytes, password)
}

/// Re-encrypts the vault under `new_password` (new salt and nonce), atomically. The old password must open it;
/// otherwise nothing is written.
pub fn change_password(path: &Path, old_password: &str, new_password: &str, params: KdfParams) -> CoreResult<()> {
    let contents = open(path, old_password)?;
    create(path, new_password, &contents, params)
}

/// Replaces the contents, keeping the password (verified first).
pub fn rewrite(path: &Path, password: &str, contents: &VaultContents, params: KdfParams) -> CoreResult<()> {
    open(path, password)?;
    create(path, password, contents, params)
}

/// The minimum an owner password must meet.
pub fn check_new_password(password: &str) -> CoreResult<()> {
    if password.chars().count() < 8 {
        return Err(CoreError::invalid(
            "店主密码至少需要 8 个字符。",
            "The owner password needs at least 8 characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams { m_cost_kib: 256, t_cost: 1, p_cost: 1 };

    fn contents() -> VaultContents {
        VaultContents {
            api_key: "192006250b4c09247ec02edce69f6a2d".into(),
            certificate: Some(StoredCertificate::Pem { cert_pem: "CERT".into(), key_pem: "KEYPEM".into() }),
            ledger_url: "sqlite://x.db".into(),
        }
    }

    #[test]
    fn an_edited_parameter_does_not_decrypt() {
        let sealed = seal("password1", &contents(), FAST).unwrap();
        let text = String::from_utf8(sealed).unwrap().replace("\"t_cost\": 1", "\"t_cost\": 2");
        assert!(matches!(unseal(text.as_bytes(), "password1"), Err(CoreError::WrongPassword)));
    }

    #[test]
    fn debug_hides_every_secret() {
        let text = format!("{:?}", contents());
        assert!(!text.contains("192006250b4c") && !text.contains("KEYPEM") && !text.contains("x.db"), "{text}");
    }
}
