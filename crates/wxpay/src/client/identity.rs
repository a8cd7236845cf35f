//! The merchant's API certificate (§8) as a TLS client identity: loaded from the PEM pair
//! (`apiclient_cert.pem` + `apiclient_key.pem`) or from `apiclient_cert.p12`, checked (the key belongs to
//! the certificate, the validity period) and described for the setup wizard ([`CertificateInfo`]).
//!
//! rustls only takes DER certificates and keys, so a PKCS#12 file is decrypted here, in memory, with the
//! pure-Rust `p12-keystore` (no OpenSSL to ship on Windows). The private key never appears in `Debug`
//! output or in an error message, and neither does the `.p12` password.

use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};

/// Why an API certificate cannot be used. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("could not read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("no certificate found: the certificate file must be apiclient_cert.pem (it starts with -----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("no private key found: the key file is apiclient_key.pem (it starts with -----BEGIN PRIVATE KEY-----), and a .p12 file must hold the key too")]
    NoPrivateKey,
    #[error("the certificate and key files look swapped: give apiclient_cert.pem as the certificate and apiclient_key.pem as the key")]
    FilesSwapped,
    #[error("the private key is password-protected; use apiclient_key.pem exactly as WeChat Pay's certificate tool wrote it")]
    EncryptedPrivateKey,
    #[error("the certificate cannot be read: {reason}")]
    UnreadableCertificate { reason: String },
    /// Deliberately without detail: a parser's message about a key file could quote part of it.
    #[error("the private key cannot be read or is not an RSA (2048–8192 bit) or ECDSA P-256/P-384 key")]
    UnreadablePrivateKey,
    #[error("the .p12 file cannot be read: {reason}")]
    UnreadableP12 { reason: String },
    #[error(
        "wrong password for the .p12 file (the password of WeChat Pay's apiclient_cert.p12 is the merchant id, mch_id)"
    )]
    WrongP12Password,
    #[error("the private key does not belong to the certificate {subject} (serial {serial_hex}): use the apiclient_key.pem that was downloaded together with this apiclient_cert.pem")]
    KeyMismatch { subject: String, serial_hex: String },
    #[error("the API certificate {serial_hex} expired on {not_after}: a new one is applied for in the merchant platform, 账户中心 → API安全 → API证书")]
    Expired { serial_hex: String, not_after: DateTime<Utc> },
    #[error("the API certificate {serial_hex} is valid only from {not_before}: check this computer's date and time")]
    NotYetValid { serial_hex: String, not_before: DateTime<Utc> },
}

/// What the setup wizard shows about a certificate. Built from the DER certificate alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    /// The subject as text, e.g. `CN=1900000109, O=微信商户系统, OU=<company>` (§8).
    pub subject: String,
    pub issuer: String,
    /// Upper-case hex without DER padding: the 40 characters the merchant platform shows (§8).
    pub serial_hex: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The subject's attribute values, for [`CertificateInfo::subject_contains_mch_id`].
    #[serde(skip)]
    subject_values: Vec<String>,
}

impl CertificateInfo {
    /// Reads the facts of one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::UnreadableCertificate { reason: e.to_string() })?;
        let validity = cert.validity();
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0).ok_or_else(|| IdentityError::UnreadableCertificate {
                reason: format!("validity time {t} is out of range"),
            })
        };
        Ok(CertificateInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial_hex: serial_hex(cert.raw_serial()),
            not_before: time(validity.not_before.timestamp())?,
            not_after: time(validity.not_after.timestamp())?,
            subject_values: cert
                .subject()
                .iter_attributes()
                .filter_map(|a| a.as_str().ok())
                .map(str::to_string)
                .collect(),
        })
    }

    /// Whether `mch_id` appears in the subject as a whole number. One real certificate has
    /// `CN=<mch_id>` (§8, unconfirmed §13.9), so any attribute value is searched, but only whole digit
    /// runs count: merchant `12345` must not match a certificate of `1234567`.
    pub fn subject_contains_mch_id(&self, mch_id: &str) -> bool {
        let mch_id = mch_id.trim();
        !mch_id.is_empty()
            && self.subject_values.iter().any(|v| v.split(|c: char| !c.is_ascii_digit()).any(|run| run == mch_id))
    }

    /// Whole days from `now` until `not_after`; negative once expired.
    pub fn days_until_expiry(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    /// Whether the certificate is inside its validity period at `now`.
    pub fn check_validity(&self, now: DateTime<Utc>) -> Result<(), IdentityError> {
        if now < self.not_before {
            return Err(IdentityError::NotYetValid {
                serial_hex: self.serial_hex.clone(),
                not_before: self.not_before,
            });
        }
        if now > self.not_after {
            return Err(IdentityError::Expired { serial_hex: self.serial_hex.clone(), not_after: self.not_after });
        }
        Ok(())
    }
}

/// The merchant's API certificate and its private key, ready for mutual TLS.
///
/// Every constructor checks that the key belongs to the certificate; the validity period depends on
/// the clock, so it is checked by [`ClientIdentity::check_validity`] (and when a transport is built).
pub struct ClientIdentity {
    /// Leaf first, then any intermediates found beside it (sent to the server as the chain).
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    info: CertificateInfo,
}

impl ClientIdentity {
    /// From `apiclient_cert.pem` and `apiclient_key.pem` (PKCS#8, or PKCS#1 RSA / SEC1 EC keys).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, IdentityError> {
        let certs = read_pem_certificates(cert_pem)?;
        if certs.is_empty() {
            let key_file_has_certificate = read_pem_certificates(key_pem).is_ok_and(|c| !c.is_empty());
            return Err(if has_pem_key(cert_pem) && key_file_has_certificate {
                IdentityError::FilesSwapped
            } else {
                IdentityError::NoCertificate
            });
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(_) if contains(key_pem, b"ENCRYPTED PRIVATE KEY") => return Err(IdentityError::EncryptedPrivateKey),
            Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(IdentityError::NoPrivateKey),
            Err(_) => return Err(IdentityError::UnreadablePrivateKey),
        };
        Self::assemble(certs, key, None)
    }

    /// From the two PEM files.
    pub fn from_pem_files(cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<Self, IdentityError> {
        Self::from_pem(&read_file(cert_path.as_ref())?, &read_file(key_path.as_ref())?)
    }

    /// From a PKCS#12 file (`apiclient_cert.p12`). Reads what OpenSSL and WeChat's tool write: PBES1
    /// (SHA-1 with 3DES or 40-bit RC2) and PBES2 (PBKDF2 + AES-CBC), MAC with SHA-1 or SHA-2.
    pub fn from_pkcs12(p12: &[u8], password: &str) -> Result<Self, IdentityError> {
        use p12_keystore::error::Error as P12Error;

        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(p12, password).map_err(|e| match e {
            // With a MAC (OpenSSL and WeChat always write one) a wrong password fails the MAC check;
            // without one it fails at the padding of the first decrypted bag.
            P12Error::MacError(_) | P12Error::UnpadError => IdentityError::WrongP12Password,
            P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => IdentityError::UnreadableP12 {
                reason: format!("{e}; re-export it with `openssl pkcs12 -export` (AES-256 or 3DES)"),
            },
            other => IdentityError::UnreadableP12 { reason: other.to_string() },
        })?;
        let Some(key_bag) = archive.keys.first() else {
            return Err(IdentityError::NoPrivateKey);
        };
        if archive.certs.is_empty() {
            return Err(IdentityError::NoCertificate);
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_bag.key.as_der().to_vec()));
        // The bag linked to the key by localKeyId is the leaf when the key matches nothing better.
        let linked = archive.certs.iter().position(
            |c| matches!((&c.local_key_id, &key_bag.local_key_id), (Some(a), Some(b)) if a.as_slice() == b.as_ref()),
        );
        let certs = archive.certs.iter().map(|c| CertificateDer::from(c.cert.as_der().to_vec())).collect();
        Self::assemble(certs, key, linked)
    }

    /// From WeChat's `apiclient_cert.p12`, whose password is the merchant id (§8).
    pub fn from_wechat_pkcs12(p12: &[u8], mch_id: &str) -> Result<Self, IdentityError> {
        Self::from_pkcs12(p12, mch_id)
    }

    /// From a `.p12` file on disk.
    pub fn from_pkcs12_file(path: impl AsRef<Path>, password: &str) -> Result<Self, IdentityError> {
        Self::from_pkcs12(&read_file(path.as_ref())?, password)
    }

    /// The facts about the certificate, for display.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// Whether the certificate is valid at `now` ([`IdentityError::Expired`] / [`IdentityError::NotYetValid`]).
    pub fn check_validity(&self, now: DateTime<Utc>) -> Result<(), IdentityError> {
        self.info.check_validity(now)
    }

    /// The chain and key for rustls; only the transport needs them.
    pub(crate) fn chain_and_key(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }

    /// Picks the leaf (the certificate whose public key is the key's; else `preferred`; else the
    /// first), puts it in front, and refuses a key that belongs to none of the certificates.
    fn assemble(
        mut certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        preferred: Option<usize>,
    ) -> Result<Self, IdentityError> {
        let key_public = key_public_key(&key)?;
        let matching = certs.iter().position(|c| certificate_holds_key(c, &key_public));
        let leaf_index = matching.or(preferred).unwrap_or(0);
        if leaf_index >= certs.len() {
            return Err(IdentityError::NoCertificate);
        }
        let leaf = certs.remove(leaf_index);
        let info = CertificateInfo::from_der(&leaf)?;
        if matching.is_none() {
            return Err(IdentityError::KeyMismatch { subject: info.subject, serial_hex: info.serial_hex });
        }
        let mut chain = vec![leaf];
        chain.extend(certs);
        Ok(ClientIdentity { chain, key, info })
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity { chain: self.chain.clone(), key: self.key.clone_key(), info: self.info.clone() }
    }
}

/// Written by hand so that the private key can never be printed.
impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.info.subject)
            .field("serial_hex", &self.info.serial_hex)
            .field("not_after", &self.info.not_after)
            .field("chain_len", &self.chain.len())
            .field("key", &"<hidden>")
            .finish()
    }
}

/// The public key (algorithm OID and key bits) derived from the private key by ring, through rustls.
struct PublicKey {
    algorithm: String,
    bits: Vec<u8>,
}

fn key_public_key(key: &PrivateKeyDer<'_>) -> Result<PublicKey, IdentityError> {
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(key).map_err(|_| IdentityError::UnreadablePrivateKey)?;
    let spki = signing_key.public_key().ok_or(IdentityError::UnreadablePrivateKey)?;
    let (_, parsed) = SubjectPublicKeyInfo::from_der(spki.as_ref()).map_err(|_| IdentityError::UnreadablePrivateKey)?;
    Ok(PublicKey {
        algorithm: parsed.algorithm.algorithm.to_id_string(),
        bits: parsed.subject_public_key.data.to_vec(),
    })
}

/// Compares algorithm and key bits rather than the whole SubjectPublicKeyInfo: encoders differ on
/// details such as an explicit NULL parameter for RSA.
fn certificate_holds_key(cert: &CertificateDer<'_>, key: &PublicKey) -> bool {
    match X509Certificate::from_der(cert.as_ref()) {
        Ok((_, c)) => {
            let spki = c.public_key();
            spki.algorithm.algorithm.to_id_string() == key.algorithm
                && spki.subject_public_key.data.as_ref() == key.bits
        }
        Err(_) => false,
    }
}

fn read_pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IdentityError::UnreadableCertificate { reason: e.to_string() })
}

fn has_pem_key(pem: &[u8]) -> bool {
    contains(pem, b"PRIVATE KEY-----")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_file(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|e| IdentityError::Read { path: path.display().to_string(), reason: e.to_string() })
}

/// DER integers carry a leading zero byte when the top bit is set; the merchant platform and
/// `openssl x509 -serial` show the number without it.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len().saturating_sub(1));
    hex::encode_upper(&raw[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_with_subject(values: &[&str]) -> CertificateInfo {
        CertificateInfo {
            subject: String::new(),
            issuer: String::new(),
            serial_hex: "01".into(),
            not_before: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            not_after: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            subject_values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn mch_id_matches_only_whole_digit_runs() {
        let info = info_with_subject(&["1900000109", "微信商户系统", "某某公司 1234567"]);
        assert!(info.subject_contains_mch_id("1900000109"));
        assert!(info.subject_contains_mch_id(" 1234567 "));
        assert!(!info.subject_contains_mch_id("190000010"));
        assert!(!info.subject_contains_mch_id("12345"));
        assert!(!info.subject_contains_mch_id(""));
    }

    #[test]
    fn serial_drops_der_padding_only() {
        assert_eq!(serial_hex(&[0x00, 0x9d, 0x01]), "9D01");
        assert_eq!(serial_hex(&[0x1d, 0xde]), "1DDE");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn validity_edges_and_days_left() {
        let info = info_with_subject(&[]);
        let at = |t| DateTime::from_timestamp(t, 0).unwrap();
        assert!(matches!(info.check_validity(at(1_699_999_999)), Err(IdentityError::NotYetValid { .. })));
        assert!(info.check_validity(at(1_700_000_000)).is_ok());
        assert!(info.check_validity(at(1_800_000_000)).is_ok());
        assert!(matches!(info.check_validity(at(1_800_000_001)), Err(IdentityError::Expired { .. })));
        assert_eq!(info.days_until_expiry(at(1_800_000_000 - 86_400 * 30)), 30);
        assert_eq!(info.days_until_expiry(at(1_800_000_000 + 86_400 * 2)), -2);
    }
}
