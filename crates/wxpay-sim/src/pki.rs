//! The simulator's certificates (§8): its own CA (generated on first start into `<data_dir>/ca/` and
//! kept), the HTTPS server certificate it signs for itself, and merchants' API certificates shaped
//! like WeChat's download (`apiclient_cert.p12` with the mch_id as password, `apiclient_cert.pem`,
//! `apiclient_key.pem`; subject `CN=<mch_id>, O=微信商户系统, OU=<company>`), plus reading the
//! subject of the certificate a client presented.
//!
//! Keys are ECDSA P-256, not WeChat's RSA 2048: the `ring` provider the workspace uses cannot
//! generate RSA keys, and nothing in the protocol depends on the key type.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

/// A certificate problem: generating, reading or writing.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("PKCS#12: {0}")]
    Pkcs12(String),
    #[error("{0}")]
    Other(String),
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> PkiError {
    PkiError::Io { path: path.display().to_string(), reason: e.to_string() }
}

/// The simulator's certificate authority.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
    cert_pem: String,
    /// Where `ca_cert.pem` is, when the CA lives on disk.
    cert_path: Option<PathBuf>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("cert_path", &self.cert_path).finish_non_exhaustive()
    }
}

/// The common name of the simulator's CA.
pub const CA_NAME: &str = "wxpay-sim Root CA";

/// The CA's fixed subject. Rebuilding it from the same parameters and key reproduces an issuer
/// that the saved `ca_cert.pem` verifies (same name, same key, same key identifier).
fn ca_params(common_name: &str) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::OrganizationName, "Tenpay.com");
    dn.push(DnType::OrganizationalUnitName, "Tenpay.com CA Center (wxpay-sim)");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2050, 1, 1);
    Ok(params)
}

impl Ca {
    /// A fresh CA in memory named `common_name` (tests use one as a "foreign" CA).
    pub fn generate(common_name: &str) -> Result<Ca, PkiError> {
        Ca::from_key(KeyPair::generate()?, None, common_name)
    }

    fn from_key(key: KeyPair, cert_path: Option<PathBuf>, common_name: &str) -> Result<Ca, PkiError> {
        let cert = ca_params(common_name)?.self_signed(&key)?;
        let cert_pem = cert.pem();
        Ok(Ca { cert, key, cert_pem, cert_path })
    }

    /// Loads `<dir>/ca_cert.pem` + `<dir>/ca_key.pem`, creating them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Ca, PkiError> {
        let cert_path = dir.join("ca_cert.pem");
        let key_path = dir.join("ca_key.pem");
        if cert_path.exists() && key_path.exists() {
            let key_pem = fs::read_to_string(&key_path).map_err(|e| io_err(&key_path, e))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let saved = fs::read_to_string(&cert_path).map_err(|e| io_err(&cert_path, e))?;
            let mut ca = Ca::from_key(key, Some(cert_path), CA_NAME)?;
            // Serve and print the certificate clients already trust, byte for byte.
            ca.cert_pem = saved;
            return Ok(ca);
        }
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let ca = Ca::from_key(KeyPair::generate()?, Some(cert_path.clone()), CA_NAME)?;
        write_private(&key_path, ca.key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, ca.cert_pem.as_bytes()).map_err(|e| io_err(&cert_path, e))?;
        Ok(ca)
    }

    /// The CA certificate clients trust (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn cert_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// The server certificate for `localhost`, `127.0.0.1`, `::1`, `api.mch.weixin.qq.com` and
    /// `extra` names, valid for a year.
    pub fn issue_server(
        &self,
        extra: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PkiError> {
        let mut names: Vec<String> =
            ["localhost", "127.0.0.1", "::1", "api.mch.weixin.qq.com", "api2.mch.weixin.qq.com"]
                .map(String::from)
                .to_vec();
        names.extend(extra.iter().filter(|n| !n.is_empty()).cloned());
        names.dedup();
        let mut params = CertificateParams::new(names)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "CN");
        dn.push(DnType::OrganizationName, "wxpay-sim");
        dn.push(DnType::CommonName, "api.mch.weixin.qq.com (wxpay-sim)");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let now = Utc::now();
        let (y, m, d) = ymd(now - chrono::Duration::days(1));
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = ymd(now + chrono::Duration::days(365));
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der()], key_der))
    }

    /// A merchant's API certificate, valid 5 years from `now` (§8).
    pub fn issue_client(&self, mch_id: &str, company: &str, now: DateTime<Utc>) -> Result<ClientCert, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "CN");
        dn.push(DnType::LocalityName, "Shenzhen");
        dn.push(DnType::OrganizationName, "微信商户系统");
        dn.push(DnType::OrganizationalUnitName, company);
        dn.push(DnType::CommonName, mch_id);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.use_authority_key_identifier_extension = true;
        // 20 bytes → the 40 hex characters the merchant platform shows; top bit clear so DER adds no padding.
        let mut serial: [u8; 20] = rand::random();
        serial[0] = (serial[0] & 0x7f) | 0x10;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let (y, m, d) = ymd(now - chrono::Duration::days(1));
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = ymd(now + chrono::Duration::days(5 * 365));
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        let p12 = pkcs12(cert.der(), &key.serialize_der(), &self.cert_der(), mch_id)?;
        Ok(ClientCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), p12, serial_hex: hex_upper(&serial) })
    }
}

/// `(year, month, day)` for `rcgen::date_time_ymd`; day 28 at most so that a span from Feb 29 lands
/// on a valid date.
fn ymd(t: DateTime<Utc>) -> (i32, u8, u8) {
    (t.year(), u8::try_from(t.month()).unwrap_or(1), u8::try_from(t.day().min(28)).unwrap_or(1))
}

/// A merchant API certificate as WeChat's download holds it.
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// `apiclient_cert.p12`, password = mch_id.
    pub p12: Vec<u8>,
    /// 40 upper-case hex characters.
    pub serial_hex: String,
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert").field("serial_hex", &self.serial_hex).finish_non_exhaustive()
    }
}

impl ClientCert {
    /// Writes `apiclient_cert.p12`, `apiclient_cert.pem`, `apiclient_key.pem` and a short readme into
    /// `dir` (created if missing). Returns the paths written.
    pub fn write_to(&self, dir: &Path, mch_id: &str) -> Result<Vec<PathBuf>, PkiError> {
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let p12 = dir.join("apiclient_cert.p12");
        let cert = dir.join("apiclient_cert.pem");
        let key = dir.join("apiclient_key.pem");
        let readme = dir.join("证书使用说明.txt");
        write_private(&p12, &self.p12)?;
        fs::write(&cert, self.cert_pem.as_bytes()).map_err(|e| io_err(&cert, e))?;
        write_private(&key, self.key_pem.as_bytes())?;
        let text = format!(
            "wxpay-sim 沙箱商户 API 证书 (merchant API certificate issued by the simulator, not by WeChat)\r\n\
             商户号 mch_id: {mch_id}\r\n证书序列号 serial: {}\r\n\
             apiclient_cert.p12: PKCS#12, 密码 (password) = 商户号 {mch_id}\r\n\
             apiclient_cert.pem / apiclient_key.pem: 证书与私钥 (PEM)\r\n\
             只被 wxpay-sim 接受; 请勿用于真实的微信支付。\r\n",
            self.serial_hex
        );
        fs::write(&readme, text.as_bytes()).map_err(|e| io_err(&readme, e))?;
        Ok(vec![p12, cert, key, readme])
    }
}

/// The .p12 the way WeChat's certificate tool writes it: key and certificate chain under the
/// friendly name "Tenpay Certificate", the legacy PKCS#12 algorithms (3DES key bag, SHA-1 MAC) every
/// client library reads, password = mch_id.
fn pkcs12(cert_der: &[u8], key_pkcs8_der: &[u8], ca_der: &[u8], password: &str) -> Result<Vec<u8>, PkiError> {
    use p12_keystore::{Certificate as P12Cert, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let p12 = |e: p12_keystore::error::Error| PkiError::Pkcs12(e.to_string());
    let leaf = P12Cert::from_der(cert_der).map_err(p12)?;
    let ca = P12Cert::from_der(ca_der).map_err(p12)?;
    let key = PrivateKey::from_der(key_pkcs8_der).map_err(p12)?;
    let local_key_id: [u8; 20] = rand::random();
    let chain = PrivateKeyChain::new(local_key_id.to_vec(), key, [leaf, ca]);
    let mut store = KeyStore::new();
    store.add_entry("Tenpay Certificate", KeyStoreEntry::PrivateKeyChain(chain));
    store
        .writer(password)
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1)
        .encryption_iterations(2048)
        .mac_iterations(2048)
        .write()
        .map_err(p12)
}

/// Writes a file holding a secret, readable by the owner only where the OS has such modes.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    fs::write(path, bytes).map_err(|e| io_err(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| io_err(path, e))?;
    }
    Ok(())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// What the server knows about the certificate a client presented (already verified against the CA
/// by rustls during the handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// The subject as text, e.g. `C=CN, L=Shenzhen, O=微信商户系统, OU=…, CN=1900000109`.
    pub subject: String,
    /// The subject's common name.
    pub common_name: Option<String>,
    pub serial_hex: String,
}

impl PeerCert {
    pub fn from_der(der: &[u8]) -> Option<PeerCert> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let common_name = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_string);
        Some(PeerCert {
            subject: cert.subject().to_string(),
            common_name,
            serial_hex: hex_upper(cert.raw_serial()).trim_start_matches("00").to_string(),
        })
    }

    /// Whether this certificate belongs to `mch_id` (§8: its CN is the merchant id).
    pub fn is_for(&self, mch_id: &str) -> bool {
        self.common_name.as_deref() == Some(mch_id)
    }
}

/// The rustls server config: the server certificate, TLS 1.2 and 1.3, HTTP/1.1, and a client
/// verifier that lets connections without a certificate through (most paths need none) but refuses
/// in the handshake any certificate not issued by `ca` (a fatal `unknown_ca` / `bad_certificate` alert).
pub fn server_tls_config(ca: &Ca, hostnames: &[String]) -> Result<rustls::ServerConfig, PkiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).map_err(|e| PkiError::Other(format!("CA certificate: {e}")))?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| PkiError::Other(format!("client verifier: {e}")))?;
    let (chain, key) = ca.issue_server(hostnames)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Other(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| PkiError::Other(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_survives_a_restart_and_still_signs_for_its_old_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let first = Ca::load_or_create(dir.path()).unwrap();
        let again = Ca::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_pem(), again.cert_pem());
        // A certificate issued by the reloaded CA verifies against the CA file clients kept.
        let client = again.issue_client("1900000109", "测试商户", Utc::now()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        let saved = rustls::pki_types::pem::PemObject::from_pem_slice(first.cert_pem().as_bytes()).unwrap();
        roots.add(saved).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let leaf: CertificateDer =
            rustls::pki_types::pem::PemObject::from_pem_slice(client.cert_pem.as_bytes()).unwrap();
        let now = rustls::pki_types::UnixTime::now();
        assert!(verifier.verify_client_cert(&leaf, &[], now).is_ok());
    }

    #[test]
    fn client_certificates_look_like_wechats() {
        let ca = Ca::generate(CA_NAME).unwrap();
        let c = ca.issue_client("1900000109", "深圳测试商户", Utc::now()).unwrap();
        assert_eq!(c.serial_hex.len(), 40);
        let der: CertificateDer = rustls::pki_types::pem::PemObject::from_pem_slice(c.cert_pem.as_bytes()).unwrap();
        let peer = PeerCert::from_der(&der).unwrap();
        assert!(peer.is_for("1900000109"));
        assert!(!peer.is_for("1900000110"));
        assert!(peer.subject.contains("微信商户系统"), "{}", peer.subject);
        assert_eq!(peer.serial_hex, c.serial_hex);
        assert!(c.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        // The .p12 opens with the mch_id and holds the key with its certificate.
        let store = p12_keystore::KeyStore::from_pkcs12(&c.p12, "1900000109", Default::default()).unwrap();
        let (_, chain) = store.private_key_chain().unwrap();
        assert_eq!(chain.certs()[0].as_der(), der.as_ref());
        assert!(p12_keystore::KeyStore::from_pkcs12(&c.p12, "wrong", Default::default()).is_err());
    }
}
