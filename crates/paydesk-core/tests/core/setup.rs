//! The setup wizard against a real wxpay-sim: sandbox defaults, certificate inspection (sim-issued .p12 and PEM
//! pair; expired, soon-expiring, not-yet-valid and mismatched ones made with rcgen), the connection test and its
//! plain-words failures, and completing the setup.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use paydesk_core::contract::{CertSource, MerchantInput, VaultState};
use paydesk_core::setup::{self, Endpoint, SandboxLocator};
use paydesk_core::{Core, CoreOptions, Locale, Secret};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use wxpay::SignType;

use crate::common::*;

fn merchant() -> MerchantInput {
    MerchantInput { appid: APPID.into(), mch_id: MCH.into(), sign_type: SignType::Md5 }
}

fn p12(path: &str) -> CertSource {
    CertSource::P12 { path: path.into(), password: None }
}

fn pem(cert: &Path, key: &Path) -> CertSource {
    CertSource::Pem { cert_path: cert.display().to_string(), key_path: key.display().to_string() }
}

/// A self-signed certificate for `cn`, valid `from..to` days from now, written as a PEM pair; its key or another
/// one (`mismatched`).
fn rcgen_pair(dir: &Path, name: &str, cn: &str, from_days: i64, to_days: i64, mismatched: bool) -> CertSource {
    let ymd = |t: chrono::DateTime<Utc>| {
        use chrono::Datelike;
        rcgen::date_time_ymd(t.year(), u8::try_from(t.month()).unwrap(), u8::try_from(t.day()).unwrap())
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "微信商户系统");
    params.distinguished_name = dn;
    params.not_before = ymd(Utc::now() + chrono::Duration::days(from_days));
    params.not_after = ymd(Utc::now() + chrono::Duration::days(to_days));
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let key_pem = if mismatched { KeyPair::generate().unwrap().serialize_pem() } else { key.serialize_pem() };
    let (c, k) = (dir.join(format!("{name}_cert.pem")), dir.join(format!("{name}_key.pem")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key_pem).unwrap();
    pem(&c, &k)
}

fn codes(view: &paydesk_core::contract::CertificateView) -> Vec<&'static str> {
    view.warnings.iter().map(|w| w.code).collect()
}

#[tokio::test]
async fn sandbox_defaults_find_the_running_simulator_and_its_certificate() {
    let sim = sim().await;
    let core = Core::open(sim.dir.path().join("desk"), options(&sim)).unwrap();
    let d = core.setup_sandbox_defaults().await.unwrap();
    assert_eq!(d.base_url, sim.handle.base_url);
    assert_eq!(d.merchant, merchant());
    assert_eq!(d.api_key_hint, KEY);
    assert!(Path::new(&d.ca_path).ends_with("ca/ca_cert.pem"), "{}", d.ca_path);
    assert_eq!(std::fs::read_to_string(&d.ca_path).unwrap(), sim.handle.ca_cert_pem);
    // The .p12 was issued by the simulator into its data dir, password = mch_id.
    assert!(d.p12_path.ends_with("apiclient_cert.p12"), "{}", d.p12_path);
    let info = core.setup_inspect_certificate(&p12(&d.p12_path), MCH).unwrap();
    assert!(info.subject.contains(&format!("CN={MCH}")), "{}", info.subject);
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    // Asking again finds the same certificate instead of issuing another.
    let again = core.setup_sandbox_defaults().await.unwrap();
    assert_eq!(again.p12_path, d.p12_path);
    assert_eq!(core.setup_inspect_certificate(&p12(&again.p12_path), MCH).unwrap().serial_hex, info.serial_hex);
}

#[tokio::test]
async fn sandbox_defaults_without_a_simulator_are_not_found() {
    let empty = tempfile::tempdir().unwrap();
    let options = |locator| CoreOptions { kdf: FAST_KDF, sandbox: locator, ..CoreOptions::default() };
    let core = Core::open(
        empty.path().join("desk"),
        options(SandboxLocator { data_dir: Some(empty.path().into()), ..SandboxLocator::default() }),
    )
    .unwrap();
    let err = core.setup_sandbox_defaults().await.unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(err.message(Locale::ZhCn).contains("wxpay-sim"), "{}", err.message(Locale::ZhCn));

    // The data dir exists (a CA), but nothing listens there any more.
    let sim = sim().await;
    let mut locator = sim.locator();
    sim.handle.shutdown().await;
    locator.base_url = Some(format!("https://127.0.0.1:{}", free_port()));
    let core = Core::open(empty.path().join("desk2"), options(locator)).unwrap();
    let err = core.setup_sandbox_defaults().await.unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(err.message(Locale::En).contains("No wxpay-sim is running"), "{}", err.message(Locale::En));
}

#[tokio::test]
async fn sandbox_defaults_read_the_key_from_the_simulator_config() {
    let key = "custom0sandbox0key00000000000042";
    let sim = sim_with(key).await;
    let mut locator = sim.locator();
    let core =
        Core::open(sim.dir.path().join("desk"), CoreOptions { sandbox: locator.clone(), ..options(&sim) }).unwrap();
    // Not one of the sample keys: unknown without the config file.
    assert_eq!(core.setup_sandbox_defaults().await.unwrap_err().code(), "not_found");
    let config = sim.dir.path().join("sim.toml");
    std::fs::write(&config, format!("[[merchants]]\nmch_id = \"{MCH}\"\nappid = \"{APPID}\"\nkey = \"{key}\"\n"))
        .unwrap();
    locator.config_file = Some(config);
    let core = Core::open(sim.dir.path().join("desk"), CoreOptions { sandbox: locator, ..options(&sim) }).unwrap();
    assert_eq!(core.setup_sandbox_defaults().await.unwrap().api_key_hint, key);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn inspect_shows_the_facts_and_warnings_of_each_certificate() {
    let sim = sim().await;
    let dir = sim.dir.path().join("certs");
    let files = sim.handle.issue_client_cert(MCH, &dir).unwrap();
    let core = Core::open(sim.dir.path().join("desk"), options(&sim)).unwrap();

    // The sim-issued .p12 (password defaulting to the mch_id) and PEM pair: same certificate, no warnings.
    let from_p12 = core.setup_inspect_certificate(&p12(&files[0].display().to_string()), MCH).unwrap();
    let from_pem = core.setup_inspect_certificate(&pem(&files[1], &files[2]), MCH).unwrap();
    assert_eq!(from_p12, from_pem);
    assert_eq!(from_p12.serial_hex.len(), 40);
    assert!(from_p12.issuer.contains("wxpay-sim"), "{}", from_p12.issuer);
    assert!((5 * 365 - 2..=5 * 365).contains(&from_p12.days_until_expiry), "{}", from_p12.days_until_expiry);
    assert!(from_p12.warnings.is_empty());
    assert!(from_p12.not_after.ends_with('Z'));

    // Another merchant's certificate: mch_id not in the subject.
    let other = core.setup_inspect_certificate(&p12(&files[0].display().to_string()), "1900000999");
    assert!(other.is_err(), "the .p12 password is the mch_id: another mch_id does not open it");
    let other = CertSource::P12 { path: files[0].display().to_string(), password: Some(Secret::from(MCH)) };
    assert_eq!(codes(&core.setup_inspect_certificate(&other, "1900000999").unwrap()), ["mch_id_not_in_subject"]);

    // A wrong .p12 password is an error that says so; a missing file too.
    let wrong = CertSource::P12 { path: files[0].display().to_string(), password: Some(Secret::from("nope")) };
    let err = core.setup_inspect_certificate(&wrong, MCH).unwrap_err();
    assert_eq!(err.code(), "certificate");
    assert!(err.message(Locale::ZhCn).contains("密码不正确"), "{}", err.message(Locale::ZhCn));
    assert_eq!(
        core.setup_inspect_certificate(&p12("/nonexistent/apiclient_cert.p12"), MCH).unwrap_err().code(),
        "certificate"
    );

    // rcgen-made ones: expired, expiring in 10 days, not yet valid, and a key that belongs to another certificate.
    let expired = rcgen_pair(&dir, "expired", MCH, -400, -5, false);
    assert_eq!(codes(&core.setup_inspect_certificate(&expired, MCH).unwrap()), ["expired"]);
    let soon = rcgen_pair(&dir, "soon", MCH, -300, 10, false);
    let view = core.setup_inspect_certificate(&soon, MCH).unwrap();
    assert_eq!(codes(&view), ["expires_soon"]);
    assert!((9..=10).contains(&view.days_until_expiry));
    let future = rcgen_pair(&dir, "future", MCH, 3, 400, false);
    assert_eq!(codes(&core.setup_inspect_certificate(&future, MCH).unwrap()), ["not_yet_valid"]);
    let mismatched = rcgen_pair(&dir, "mismatch", MCH, -1, 300, true);
    let view = core.setup_inspect_certificate(&mismatched, MCH).unwrap();
    assert_eq!(codes(&view), ["key_mismatch"]);
    assert!(view.subject.contains(MCH));
}

#[tokio::test]
async fn test_connection_passes_with_the_sandbox_and_explains_each_failure() {
    let sim = sim().await;
    let core = Core::open(sim.dir.path().join("desk"), options(&sim)).unwrap();
    let d = core.setup_sandbox_defaults().await.unwrap();

    // The right key, without and with the certificate.
    let t = core.setup_test_connection(&merchant(), KEY, None, true).await.unwrap();
    assert!(t.ok && t.code == "ok", "{t:?}");
    assert!(t.message.contains("未设置 API 证书"), "{}", t.message);
    let t = core.setup_test_connection(&merchant(), KEY, Some(&p12(&d.p12_path)), true).await.unwrap();
    assert!(t.ok && t.code == "ok", "{t:?}");

    // A wrong API key: WeChat says 签名错误.
    let t = core.setup_test_connection(&merchant(), "0123456789abcdef0123456789abcdef", None, true).await.unwrap();
    assert_eq!((t.ok, t.code), (false, "signature"), "{t:?}");
    assert!(t.message.contains("API 密钥不正确"), "{}", t.message);

    // A certificate from another CA (right mch_id): refused in the TLS handshake.
    let other_ca = wxpay_sim::pki::Ca::generate("Some Other CA").unwrap();
    let stranger = other_ca.issue_client(MCH, "某某咖啡", Utc::now()).unwrap();
    let dir = sim.dir.path().join("stranger");
    stranger.write_to(&dir, MCH).unwrap();
    let src = p12(&dir.join("apiclient_cert.p12").display().to_string());
    let t = core.setup_test_connection(&merchant(), KEY, Some(&src), true).await.unwrap();
    assert_eq!((t.ok, t.code), (false, "certificate"), "{t:?}");
    assert!(t.message.contains("TLS"), "{}", t.message);

    // A key that does not belong to the certificate, an unreadable file: certificate problems, nothing sent.
    let mismatched = rcgen_pair(sim.dir.path(), "mm", MCH, -1, 300, true);
    let t = core.setup_test_connection(&merchant(), KEY, Some(&mismatched), true).await.unwrap();
    assert_eq!((t.ok, t.code), (false, "certificate"), "{t:?}");
    let t = core.setup_test_connection(&merchant(), KEY, Some(&p12("/nonexistent.p12")), true).await.unwrap();
    assert_eq!((t.ok, t.code), (false, "certificate"), "{t:?}");

    // The simulator's CA not trusted: the server's certificate does not verify.
    let m = setup::merchant(&merchant(), KEY).unwrap();
    let untrusted = Endpoint { base_url: sim.handle.base_url.clone(), backup_base_url: None, ca_pem: None };
    let t = setup::test_connection(&m, None, &untrusted, (Duration::from_secs(5), Duration::from_secs(5)), Locale::En)
        .await;
    assert_eq!((t.ok, t.code), (false, "tls"), "{t:?}");
    assert!(t.message.contains("TLS"), "{}", t.message);

    // Input that cannot be sent at all is refused before anything happens.
    assert_eq!(core.setup_test_connection(&merchant(), "short", None, true).await.unwrap_err().code(), "invalid_input");

    // The simulator stops: unreachable.
    sim.handle.shutdown().await;
    let t = core.setup_test_connection(&merchant(), KEY, None, true).await.unwrap();
    assert_eq!((t.ok, t.code), (false, "unreachable"), "{t:?}");
    assert!(t.message.contains("网络"), "{}", t.message);
}

#[tokio::test]
async fn setup_complete_writes_config_vault_ledger_merchant_and_audit_and_unlocks() {
    let sim = sim().await;
    let data = sim.dir.path().join("desk");
    let core = Core::open(&data, options(&sim)).unwrap();
    assert_eq!(core.app_status().await.vault, VaultState::Absent);
    assert_eq!(core.orders_list(&Default::default(), None, 10).await.unwrap_err().code(), "vault_locked");
    let d = core.setup_sandbox_defaults().await.unwrap();

    // Bad input is refused and writes nothing.
    let mut bad = setup_input(&d.p12_path, None);
    bad.owner_password = Secret::from("short");
    assert_eq!(core.setup_complete(bad).await.unwrap_err().code(), "invalid_input");
    assert!(!data.join("vault.json").exists() && !data.join("config.json").exists());

    let status = core.setup_complete(setup_input(&d.p12_path, None)).await.unwrap();
    assert_eq!(status.vault, VaultState::Unlocked);
    let m = status.merchant.unwrap();
    assert_eq!((m.mch_id.as_str(), m.sandbox), (MCH, true));
    let ledger = status.ledger.unwrap();
    assert_eq!(ledger.kind, "sqlite");
    assert!(ledger.display.ends_with("ledger.db"), "{}", ledger.display);
    assert_eq!(status.user.unwrap().name, "王老板");
    assert!(status.certificate.unwrap().subject.contains(MCH));

    // The ledger has the merchant and an audit entry of the setup, without any secret.
    let db = ledger::Ledger::open(&core.paths().default_ledger_url()).await.unwrap();
    let merchant = db.merchant_by_mch_id(&wxpay::MchId::new(MCH).unwrap()).await.unwrap().unwrap();
    assert_eq!(merchant.settings.api_base_url.as_deref(), Some(sim.handle.base_url.as_str()));
    let audit = db.audit_entries(0, 100).await.unwrap();
    let setup_entry = audit.iter().find(|e| e.action == "setup.complete").unwrap();
    assert_eq!(setup_entry.actor, "desk:王老板");
    assert!(audit.iter().all(|e| !e.detail.contains(KEY) && !e.detail.contains(OWNER_PASSWORD)));
    assert_eq!(db.verify_audit_chain().await.unwrap().first_broken, None);

    // A second setup is refused; the desk locks and unlocks; a new Core on the same folder sees it locked.
    assert_eq!(core.setup_complete(setup_input(&d.p12_path, None)).await.unwrap_err().code(), "invalid_input");
    assert_eq!(core.vault_lock().await.vault, VaultState::Locked);
    assert_eq!(core.dashboard().await.unwrap_err().code(), "vault_locked");
    let other = Core::open(&data, options(&sim)).unwrap();
    let status = other.app_status().await;
    assert_eq!(status.vault, VaultState::Locked);
    assert!(status.user.is_none());
    assert_eq!(other.vault_unlock(OWNER_PASSWORD).await.unwrap().vault, VaultState::Unlocked);
    assert!(other.sync_status().await.unwrap().watched.is_empty());
}
