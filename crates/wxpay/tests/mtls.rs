//! The HTTPS transport against a real local TLS server (tokio-rustls, HTTP/1.1 written by hand):
//! mutual TLS accepted and refused, PEM and PKCS#12 identities, certificate checks, server
//! verification, error mapping, and the backup-host rule. Certificates are made here by rcgen; the
//! PKCS#12 interop tests also use the `openssl` command when it is installed.

// The helpers below (certificates, server) are test setup: a failure there should panic the test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wxpay::client::{ClientConfig, ClientIdentity, ConfigError, HttpTransport, IdentityError, TransportError};
use wxpay::Api;

const MCH_ID: &str = "1900000109";
const REFUND_BODY: &str = "<xml><mch_id>1900000109</mch_id></xml>";

// ---------------------------------------------------------------------------------------------
// Certificates

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }

    fn server(&self) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (params.signed_by(&key, &self.cert, &self.key).unwrap(), key)
    }

    /// A merchant API certificate shaped like WeChat's (§8): CN = mch_id.
    fn client(&self, key: &KeyPair, not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> Certificate {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, MCH_ID);
        params.distinguished_name.push(DnType::OrganizationName, "微信商户系统");
        params.distinguished_name.push(DnType::OrganizationalUnitName, "Paydesk Test Shop");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        params.signed_by(key, &self.cert, &self.key).unwrap()
    }

    fn valid_client(&self, key: &KeyPair) -> Certificate {
        self.client(key, (2020, 1, 1), (2090, 1, 1))
    }
}

fn identity(cert: &Certificate, key: &KeyPair) -> ClientIdentity {
    ClientIdentity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The server

#[derive(Clone, Copy)]
enum Behaviour {
    /// Reply 200 with an XML body describing what was received.
    Echo,
    /// Reply with this status and an empty body.
    Status(u16),
    /// Read the request and never answer (closes after 10 s so the test process never leaks it).
    Hang,
}

struct Server {
    addr: SocketAddr,
    /// Requests read completely (after a successful handshake).
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A TLS server on 127.0.0.1; with `client_ca`, it requires a client certificate issued by it.
async fn serve(ca: &Ca, client_ca: Option<&Ca>, behaviour: Behaviour) -> Server {
    serve_versions(ca, client_ca, behaviour, rustls::DEFAULT_VERSIONS).await
}

async fn serve_versions(
    ca: &Ca,
    client_ca: Option<&Ca>,
    behaviour: Behaviour,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Server {
    let (cert, key) = ca.server();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions).unwrap();
    let builder = match client_ca {
        Some(client_ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(client_ca.cert.der().clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = builder.with_single_cert(vec![cert.der().clone(), ca.cert.der().clone()], server_key).unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).into_fallible().await {
                    Ok(tls) => tls,
                    Err((_, mut tcp)) => {
                        // The alert is written; read what the client already sent so that closing
                        // does not reset the connection before the client has read the alert.
                        let mut sink = [0u8; 4096];
                        let _ = tokio::time::timeout(Duration::from_millis(500), async {
                            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                        })
                        .await;
                        return;
                    }
                };
                let client_cn = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(|der| wxpay::client::CertificateInfo::from_der(der).ok())
                    .map(|info| info.subject)
                    .unwrap_or_default();
                let Some(request) = read_request(&mut tls).await else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let response = match behaviour {
                    Behaviour::Echo => {
                        let body = format!(
                            "<xml><path>{}</path><content_type>{}</content_type><client>{}</client><body>{}</body></xml>",
                            request.path, request.content_type, client_cn, request.body
                        );
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    Behaviour::Status(status) => {
                        format!("HTTP/1.1 {status} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    }
                    Behaviour::Hang => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        return;
                    }
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server { addr, requests }
}

struct Request {
    path: String,
    content_type: String,
    body: String,
}

async fn read_request(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let content_type = header("content-type");
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < header_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[header_end..header_end + length]).to_string();
    Some(Request { path, content_type, body })
}

/// A port on which nothing listens (bound, then released).
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("https://127.0.0.1:{port}")
}

fn config(server: &Server, ca: &Ca, identity: Option<ClientIdentity>) -> ClientConfig {
    ClientConfig { identity, ..ClientConfig::sandbox(server.url(), ca.pem()) }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS

#[tokio::test]
async fn mutual_tls_accepts_the_pem_pair() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let transport = HttpTransport::new(config(&server, &ca, Some(identity(&ca.valid_client(&key), &key)))).unwrap();

    let reply = text(&transport.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap());

    assert!(reply.contains("<path>/secapi/pay/refund</path>"), "{reply}");
    assert!(reply.contains("<content_type>text/xml; charset=utf-8</content_type>"), "{reply}");
    assert!(reply.contains(&format!("CN={MCH_ID}")), "the server saw no client certificate: {reply}");
    assert!(reply.contains(&format!("<body>{REFUND_BODY}</body>")), "{reply}");
}

#[tokio::test]
async fn mutual_tls_accepts_a_p12_written_here() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let cert = ca.valid_client(&key);

    for algorithm in [
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
        p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
    ] {
        let p12 = write_p12(&cert, &key, &ca, MCH_ID, algorithm);
        let from_p12 = ClientIdentity::from_wechat_pkcs12(&p12, MCH_ID).unwrap();
        assert_eq!(from_p12.info(), identity(&cert, &key).info());
        let transport = HttpTransport::new(config(&server, &ca, Some(from_p12))).unwrap();
        let reply = text(&transport.post(Api::DownloadFundFlow, REFUND_BODY.to_string()).await.unwrap());
        assert!(reply.contains(&format!("CN={MCH_ID}")), "{algorithm:?}: {reply}");
    }
}

#[tokio::test]
async fn mutual_tls_is_refused_without_a_certificate() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let transport = HttpTransport::new(config(&server, &ca, None)).unwrap();

    let err = transport.post_to_path("/secapi/pay/refund", REFUND_BODY.to_string(), false).await.unwrap_err();

    assert!(matches!(err, TransportError::ClientCertificateRefused { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn mutual_tls_refuses_a_certificate_from_another_ca() {
    let ca = Ca::new("Test Tenpay CA");
    let other = Ca::new("Someone Else's CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let transport = HttpTransport::new(config(&server, &ca, Some(identity(&other.valid_client(&key), &key)))).unwrap();

    let err = transport.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap_err();

    assert!(matches!(err, TransportError::ClientCertificateRefused { .. }), "{err:?}");
    assert_eq!(server.requests(), 0);
}

/// With TLS 1.2 the server refuses during the handshake, with TLS 1.3 only after the client has
/// finished it (the alert arrives with the reply): both must read as a refused certificate.
#[tokio::test]
async fn mutual_tls_refusal_is_recognised_over_tls12_too() {
    let ca = Ca::new("Test Tenpay CA");
    let other = Ca::new("Someone Else's CA");
    let server = serve_versions(&ca, Some(&ca), Behaviour::Echo, &[&rustls::version::TLS12]).await;
    let key = KeyPair::generate().unwrap();

    let without = HttpTransport::new(config(&server, &ca, None)).unwrap();
    let err = without.post_to_path("/secapi/pay/refund", REFUND_BODY.to_string(), false).await.unwrap_err();
    assert!(matches!(err, TransportError::ClientCertificateRefused { .. }), "{err:?}");

    let foreign = HttpTransport::new(config(&server, &ca, Some(identity(&other.valid_client(&key), &key)))).unwrap();
    let err = foreign.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap_err();
    assert!(matches!(err, TransportError::ClientCertificateRefused { .. }), "{err:?}");

    let good = HttpTransport::new(config(&server, &ca, Some(identity(&ca.valid_client(&key), &key)))).unwrap();
    let reply = text(&good.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap());
    assert!(reply.contains(&format!("CN={MCH_ID}")), "{reply}");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn refund_without_a_configured_certificate_is_refused_before_sending() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let transport = HttpTransport::new(config(&server, &ca, None)).unwrap();

    let err = transport.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap_err();

    assert!(matches!(&err, TransportError::MissingCertificate { path } if path == "/secapi/pay/refund"), "{err:?}");
    assert!(err.to_string().contains("API安全"), "the message should say where to get the certificate: {err}");
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn plain_calls_do_not_present_the_certificate() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, None, Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let transport = HttpTransport::new(config(&server, &ca, Some(identity(&ca.valid_client(&key), &key)))).unwrap();

    let reply = text(&transport.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap());

    assert!(
        reply.contains(
            "<path>/pay/orderquery</path><content_type>text/xml; charset=utf-8</content_type><client></client>"
        ),
        "{reply}"
    );
}

// ---------------------------------------------------------------------------------------------
// Identity checks

#[tokio::test]
async fn expired_certificate_is_refused_when_the_transport_is_built() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let expired = identity(&ca.client(&key, (2019, 1, 1), (2021, 1, 1)), &key);

    let err = HttpTransport::new(config(&server, &ca, Some(expired.clone()))).unwrap_err();
    assert!(matches!(&err, ConfigError::Identity(IdentityError::Expired { .. })), "{err:?}");
    assert!(err.to_string().contains("2021-01-01"), "{err}");

    // The same certificate was fine while it was valid.
    let in_2020 = Utc.with_ymd_and_hms(2020, 6, 1, 0, 0, 0).unwrap();
    assert!(expired.check_validity(in_2020).is_ok());
    let before = Utc.with_ymd_and_hms(2018, 6, 1, 0, 0, 0).unwrap();
    assert!(matches!(expired.check_validity(before), Err(IdentityError::NotYetValid { .. })));
}

#[test]
fn key_that_does_not_belong_to_the_certificate_is_refused() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let other_key = KeyPair::generate().unwrap();
    let cert = ca.valid_client(&key);

    let err = ClientIdentity::from_pem(cert.pem().as_bytes(), other_key.serialize_pem().as_bytes()).unwrap_err();

    assert!(matches!(&err, IdentityError::KeyMismatch { subject, .. } if subject.contains(MCH_ID)), "{err:?}");
}

#[test]
fn wrong_p12_password_is_a_clear_error() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let p12 = write_p12(
        &ca.valid_client(&key),
        &key,
        &ca,
        MCH_ID,
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
    );

    let err = ClientIdentity::from_pkcs12(&p12, "1900000108").unwrap_err();

    assert_eq!(err, IdentityError::WrongP12Password);
    assert!(err.to_string().contains("mch_id"), "{err}");
    assert!(!err.to_string().contains("1900000108"), "the password must not be echoed: {err}");
}

#[test]
fn unreadable_inputs_are_named() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let cert_pem = ca.valid_client(&key).pem();
    let key_pem = key.serialize_pem();

    assert_eq!(ClientIdentity::from_pem(b"hello", key_pem.as_bytes()).unwrap_err(), IdentityError::NoCertificate);
    assert_eq!(ClientIdentity::from_pem(cert_pem.as_bytes(), b"hello").unwrap_err(), IdentityError::NoPrivateKey);
    assert_eq!(
        ClientIdentity::from_pem(key_pem.as_bytes(), cert_pem.as_bytes()).unwrap_err(),
        IdentityError::FilesSwapped
    );
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        ClientIdentity::from_pem(cert_pem.as_bytes(), encrypted.as_bytes()).unwrap_err(),
        IdentityError::EncryptedPrivateKey
    );
    assert!(matches!(
        ClientIdentity::from_pkcs12(b"not a p12 file", MCH_ID).unwrap_err(),
        IdentityError::UnreadableP12 { .. }
    ));
    assert!(matches!(
        ClientIdentity::from_pkcs12_file("/nonexistent/apiclient_cert.p12", MCH_ID).unwrap_err(),
        IdentityError::Read { .. }
    ));
}

#[test]
fn certificate_facts_for_the_setup_wizard() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let cert = ca.client(&key, (2024, 3, 1), (2029, 3, 1));
    let id = identity(&cert, &key);
    let info = id.info();

    assert!(info.subject.contains(&format!("CN={MCH_ID}")), "{}", info.subject);
    assert!(info.subject.contains("微信商户系统"), "{}", info.subject);
    assert!(info.issuer.contains("Test Tenpay CA"), "{}", info.issuer);
    assert!(info.subject_contains_mch_id(MCH_ID));
    assert!(!info.subject_contains_mch_id("1900000108"));
    assert!(!info.serial_hex.is_empty() && info.serial_hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_lowercase()));
    assert_eq!(info.not_before, Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap());
    assert_eq!(info.not_after, Utc.with_ymd_and_hms(2029, 3, 1, 0, 0, 0).unwrap());
    assert_eq!(info.days_until_expiry(Utc.with_ymd_and_hms(2029, 1, 30, 0, 0, 0).unwrap()), 30);
}

#[test]
fn debug_output_hides_the_private_key() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let id = identity(&ca.valid_client(&key), &key);
    let key_body: String = key.serialize_pem().lines().nth(1).unwrap().to_string();

    let config = ClientConfig { identity: Some(id.clone()), ..ClientConfig::default() };
    for shown in [format!("{id:?}"), format!("{id:#?}"), format!("{config:?}")] {
        assert!(shown.contains("<hidden>"), "{shown}");
        assert!(!shown.contains(&key_body[..16]), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Server verification

#[tokio::test]
async fn server_certificate_from_an_unknown_ca_fails_verification() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, None, Behaviour::Echo).await;
    // Public roots only, as in production.
    let transport =
        HttpTransport::new(ClientConfig { base_url: server.url(), backup_base_url: None, ..ClientConfig::default() })
            .unwrap();

    let err = transport.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap_err();

    assert!(matches!(&err, TransportError::Tls { reason, .. } if reason.contains("trusted")), "{err:?}");
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn plain_call_works_with_the_extra_ca() {
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, None, Behaviour::Echo).await;
    let transport = HttpTransport::new(config(&server, &ca, None)).unwrap();

    let reply = text(&transport.post(Api::UnifiedOrder, "<xml/>".to_string()).await.unwrap());

    assert!(reply.contains("<path>/pay/unifiedorder</path>"), "{reply}");
}

#[test]
fn plain_http_and_bad_extra_ca_are_configuration_errors() {
    let err = HttpTransport::new(ClientConfig { base_url: "http://127.0.0.1:1".into(), ..ClientConfig::default() });
    assert!(matches!(err, Err(ConfigError::InvalidUrl { .. })));
    let err = HttpTransport::new(ClientConfig::sandbox("https://127.0.0.1:1", b"no pem here".to_vec()));
    assert!(matches!(err, Err(ConfigError::ExtraRootCa { .. })));
}

// ---------------------------------------------------------------------------------------------
// Failures and the backup host

#[tokio::test]
async fn backup_host_is_used_when_the_primary_refuses_connections() {
    let ca = Ca::new("Test Tenpay CA");
    let backup = serve(&ca, None, Behaviour::Echo).await;
    let transport = HttpTransport::new(ClientConfig {
        base_url: closed_port_url().await,
        backup_base_url: Some(format!("https://localhost:{}", backup.addr.port())),
        ..ClientConfig::sandbox("unused", ca.pem())
    })
    .unwrap();

    let reply = text(&transport.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap());

    assert!(reply.contains("<path>/pay/orderquery</path>"), "{reply}");
    assert_eq!(backup.requests(), 1);
}

/// A server that accepts TCP and never answers the TLS handshake: nothing was sent, so this is a
/// connection failure (after `connect_timeout`), and the backup host is tried.
#[tokio::test]
async fn stalled_handshake_is_a_connection_failure_and_moves_to_the_backup() {
    let ca = Ca::new("Test Tenpay CA");
    let backup = serve(&ca, None, Behaviour::Echo).await;
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok(Ok((tcp, _))) = tokio::time::timeout(Duration::from_secs(10), silent.accept()).await {
            held.push(tcp);
        }
    });
    let sandbox = ClientConfig {
        connect_timeout: Duration::from_millis(500),
        ..ClientConfig::sandbox(format!("https://127.0.0.1:{silent_port}"), ca.pem())
    };

    let alone = HttpTransport::new(sandbox.clone()).unwrap();
    let err = alone.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap_err();
    assert!(matches!(&err, TransportError::Connect { reason, .. } if reason.contains("0.5 s")), "{err:?}");

    let with_backup = HttpTransport::new(ClientConfig { backup_base_url: Some(backup.url()), ..sandbox }).unwrap();
    let reply = text(&with_backup.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap());
    assert!(reply.contains("<path>/pay/orderquery</path>"), "{reply}");
}

#[tokio::test]
async fn refused_connection_without_a_backup_is_a_connect_error() {
    let ca = Ca::new("Test Tenpay CA");
    let transport = HttpTransport::new(ClientConfig::sandbox(closed_port_url().await, ca.pem())).unwrap();

    let err = transport.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap_err();

    assert!(matches!(&err, TransportError::Connect { reason, .. } if reason == "connection refused"), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn timeout_maps_to_timeout_and_never_moves_to_the_backup() {
    let ca = Ca::new("Test Tenpay CA");
    let primary = serve(&ca, Some(&ca), Behaviour::Hang).await;
    let backup = serve(&ca, Some(&ca), Behaviour::Echo).await;
    let key = KeyPair::generate().unwrap();
    let transport = HttpTransport::new(ClientConfig {
        backup_base_url: Some(backup.url()),
        timeout: Duration::from_secs(1),
        ..config(&primary, &ca, Some(identity(&ca.valid_client(&key), &key)))
    })
    .unwrap();

    let err = transport.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap_err();

    assert!(matches!(err, TransportError::Timeout { seconds: 1, .. }), "{err:?}");
    assert_eq!(primary.requests(), 1, "the refund reached the primary");
    assert_eq!(backup.requests(), 0, "a refund that may have been received must not be sent elsewhere");
}

#[tokio::test]
async fn http_error_status_never_moves_to_the_backup() {
    let ca = Ca::new("Test Tenpay CA");
    let primary = serve(&ca, None, Behaviour::Status(502)).await;
    let backup = serve(&ca, None, Behaviour::Echo).await;
    let transport =
        HttpTransport::new(ClientConfig { backup_base_url: Some(backup.url()), ..config(&primary, &ca, None) })
            .unwrap();

    let err = transport.post(Api::OrderQuery, "<xml/>".to_string()).await.unwrap_err();

    assert!(matches!(err, TransportError::Status { status: 502, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(backup.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// PKCS#12 interop with OpenSSL, and RSA keys (WeChat's are RSA 2048, §8; ring cannot generate them)

/// Writes a `.p12` the way the simulator would, with p12-keystore.
fn write_p12(
    cert: &Certificate,
    key: &KeyPair,
    ca: &Ca,
    password: &str,
    algorithm: p12_keystore::EncryptionAlgorithm,
) -> Vec<u8> {
    use p12_keystore::{KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey, PrivateKeyChain};
    let chain = PrivateKeyChain::new(
        b"apiclient".as_slice(),
        PrivateKey::from_der(&key.serialize_der()).unwrap(),
        [
            p12_keystore::Certificate::from_der(cert.der()).unwrap(),
            p12_keystore::Certificate::from_der(ca.cert.der()).unwrap(),
        ],
    );
    let mut store = KeyStore::new();
    store.add_entry("Tenpay Certificate", KeyStoreEntry::PrivateKeyChain(chain));
    let mac = match algorithm {
        p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256 => MacAlgorithm::HmacSha256,
        _ => MacAlgorithm::HmacSha1,
    };
    store.writer(password).encryption_algorithm(algorithm).mac_algorithm(mac).write().unwrap()
}

fn openssl_available() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("openssl not found: PKCS#12 interop not checked");
    }
    found
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wxpay-mtls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn p12_files_written_by_openssl_are_read_and_used_with_an_rsa_key() {
    if !openssl_available() {
        return;
    }
    let dir = scratch_dir("read");
    let ca = Ca::new("Test Tenpay CA");
    let server = serve(&ca, Some(&ca), Behaviour::Echo).await;
    openssl(&dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "apiclient_key.pem"]);
    let rsa_key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("apiclient_key.pem")).unwrap()).unwrap();
    std::fs::write(dir.join("apiclient_cert.pem"), ca.valid_client(&rsa_key).pem()).unwrap();

    let from_pem =
        ClientIdentity::from_pem_files(dir.join("apiclient_cert.pem"), dir.join("apiclient_key.pem")).unwrap();
    // The three encodings in circulation: OpenSSL 1.x / WeChat's tool (RC2-40 certificates, 3DES
    // key, SHA-1 MAC), all-3DES, and OpenSSL 3's default (PBES2 AES-256-CBC, SHA-256 MAC).
    let variants: [(&str, &[&str]); 3] = [
        ("legacy", &["-legacy"]),
        ("3des", &["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"]),
        ("aes", &[]),
    ];
    for (name, extra) in variants {
        let file = format!("{name}.p12");
        let mut args = vec!["pkcs12", "-export", "-in", "apiclient_cert.pem", "-inkey", "apiclient_key.pem"];
        args.extend_from_slice(&["-out", &file, "-passout", "pass:1900000109", "-name", "Tenpay Certificate"]);
        args.extend_from_slice(extra);
        openssl(&dir, &args);

        let id = ClientIdentity::from_pkcs12_file(dir.join(&file), MCH_ID).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.info(), from_pem.info(), "{name}");
        assert_eq!(
            ClientIdentity::from_pkcs12_file(dir.join(&file), "wrong").unwrap_err(),
            IdentityError::WrongP12Password,
            "{name}"
        );
        let transport = HttpTransport::new(config(&server, &ca, Some(id))).unwrap();
        let reply = text(&transport.post(Api::Refund, REFUND_BODY.to_string()).await.unwrap());
        assert!(reply.contains(&format!("CN={MCH_ID}")), "{name}: {reply}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn p12_written_here_is_read_by_openssl() {
    if !openssl_available() {
        return;
    }
    let dir = scratch_dir("write");
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let cert = ca.valid_client(&key);
    for (name, algorithm) in [
        ("aes", p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256),
        ("3des", p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc),
    ] {
        let file = format!("{name}.p12");
        std::fs::write(dir.join(&file), write_p12(&cert, &key, &ca, MCH_ID, algorithm)).unwrap();
        let dump = openssl(&dir, &["pkcs12", "-info", "-in", &file, "-passin", "pass:1900000109", "-nodes"]);
        assert!(dump.contains(&format!("CN = {MCH_ID}")) || dump.contains(&format!("CN={MCH_ID}")), "{name}: {dump}");
        assert!(dump.contains("BEGIN PRIVATE KEY"), "{name}: openssl did not decrypt the key");
        assert!(dump.contains("BEGIN CERTIFICATE"), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn p12_round_trips_through_this_crate() {
    let ca = Ca::new("Test Tenpay CA");
    let key = KeyPair::generate().unwrap();
    let cert = ca.valid_client(&key);
    let p12 = write_p12(&cert, &key, &ca, MCH_ID, p12_keystore::EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc);

    let id = ClientIdentity::from_wechat_pkcs12(&p12, MCH_ID).unwrap();

    assert_eq!(id.info(), identity(&cert, &key).info());
}
