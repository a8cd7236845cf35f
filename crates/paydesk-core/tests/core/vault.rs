//! The vault: round trip, a wrong password changes nothing, changing the password, no plaintext secret in any file
//! the desk writes, the real KDF cost, and the idle lock.

use std::time::{Duration, Instant};

use base64::Engine as _;
use paydesk_core::contract::{LockReason, Settings, VaultState};
use paydesk_core::vault::{self, KdfParams, StoredCertificate, VaultContents};
use paydesk_core::{Core, CoreError, CoreEvent};

use crate::common::*;

fn contents() -> VaultContents {
    VaultContents {
        api_key: KEY.into(),
        certificate: Some(StoredCertificate::Pem {
            cert_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n".into(),
        }),
        ledger_url: "postgres://shop:pg0secret@db/paydesk".into(),
    }
}

#[test]
fn a_vault_opens_with_its_password_and_holds_what_was_put_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    vault::create(&path, OWNER_PASSWORD, &contents(), FAST_KDF).unwrap();
    let opened = vault::open(&path, OWNER_PASSWORD).unwrap();
    assert_eq!(opened.api_key, KEY);
    assert_eq!(opened.ledger_url, contents().ledger_url);
    assert!(
        matches!(&opened.certificate, Some(StoredCertificate::Pem { key_pem, .. }) if key_pem.contains("SECRETKEYMATERIAL"))
    );
}

#[test]
fn a_wrong_password_is_refused_and_overwrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    vault::create(&path, OWNER_PASSWORD, &contents(), FAST_KDF).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(vault::open(&path, "wrong password"), Err(CoreError::WrongPassword)));
    assert!(matches!(
        vault::change_password(&path, "wrong password", "another password", FAST_KDF),
        Err(CoreError::WrongPassword)
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    assert!(vault::open(&path, OWNER_PASSWORD).is_ok());
}

#[test]
fn changing_the_password_re_encrypts_under_a_new_salt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    vault::create(&path, OWNER_PASSWORD, &contents(), FAST_KDF).unwrap();
    let before: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    vault::change_password(&path, OWNER_PASSWORD, "new owner password", FAST_KDF).unwrap();
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_ne!(before["kdf"]["salt"], after["kdf"]["salt"]);
    assert_ne!(before["nonce"], after["nonce"]);
    assert!(matches!(vault::open(&path, OWNER_PASSWORD), Err(CoreError::WrongPassword)));
    assert_eq!(vault::open(&path, "new owner password").unwrap().api_key, KEY);
}

#[test]
fn the_default_kdf_is_argon2id_with_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    vault::create(&path, OWNER_PASSWORD, &contents(), KdfParams::default()).unwrap();
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["kdf"]["algorithm"], "argon2id");
    assert_eq!(file["kdf"]["m_cost_kib"], 65536);
    assert_eq!(file["kdf"]["t_cost"], 3);
    assert_eq!(file["cipher"], "xchacha20poly1305");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(file["nonce"].as_str().unwrap()).unwrap().len(), 24);
    assert_eq!(vault::open(&path, OWNER_PASSWORD).unwrap().api_key, KEY);
}

/// Every file in `dir` (recursively), as bytes.
fn all_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_file_the_desk_writes_holds_a_secret_in_clear() {
    let sim = sim().await;
    let desk = desk(&Engine::Sqlite, &sim).await;
    // Put some traffic through, so the ledger has evidence and audit entries.
    let n = no("V");
    sim.create_order(&n, 100).await;
    desk.register(&n, 100, chrono::Utc::now(), true).await;
    sim.pay(&n).await;
    desk.core.sync_round().await.unwrap();
    desk.core.vault_lock().await;
    desk.ledger.close().await;

    let defaults = desk.core.setup_sandbox_defaults().await.unwrap();
    let p12 = std::fs::read(&defaults.p12_path).unwrap();
    let p12_b64 = base64::engine::general_purpose::STANDARD.encode(&p12);
    let key_pem_body = {
        // The private key inside the .p12, as the PEM the simulator wrote beside it.
        let pem = std::fs::read_to_string(std::path::Path::new(&defaults.p12_path).with_file_name("apiclient_key.pem"))
            .unwrap();
        pem.lines().nth(1).unwrap().to_string()
    };
    let files = all_files(desk.core.paths().data_dir());
    assert!(files.iter().any(|(p, _)| p.ends_with("vault.json")));
    assert!(files.iter().any(|(p, _)| p.ends_with("ledger.db")));
    for (path, bytes) in &files {
        for (what, secret) in [
            ("API key", KEY.as_bytes()),
            ("owner password", OWNER_PASSWORD.as_bytes()),
            ("p12", &p12[..64]),
            ("p12 base64", &p12_b64.as_bytes()[..64]),
            ("private key", key_pem_body.as_bytes()),
        ] {
            assert!(!contains(bytes, secret), "{path} holds the {what} in clear");
        }
    }
}

#[tokio::test]
async fn the_desk_refuses_a_wrong_password_without_changing_anything_and_changes_it_on_request() {
    let sim = sim().await;
    let desk = desk(&Engine::Sqlite, &sim).await;
    let path = desk.core.paths().vault_file();
    desk.core.vault_lock().await;
    let before = std::fs::read(&path).unwrap();
    let err = desk.core.vault_unlock("not the password").await.unwrap_err();
    let ui = desk.core.ui_error(&err);
    assert_eq!(ui.code, "wrong_password");
    assert!(ui.message.contains("密码不正确"), "{}", ui.message);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(desk.core.app_status().await.vault, VaultState::Locked);

    assert_eq!(
        desk.core.vault_change_password("not the password", "new password 2").await.unwrap_err().code(),
        "wrong_password"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(desk.core.vault_change_password(OWNER_PASSWORD, "short").await.unwrap_err().code(), "invalid_input");
    desk.core.vault_change_password(OWNER_PASSWORD, "new password 2").await.unwrap();
    assert_eq!(desk.core.vault_unlock(OWNER_PASSWORD).await.unwrap_err().code(), "wrong_password");
    assert_eq!(desk.core.vault_unlock("new password 2").await.unwrap().vault, VaultState::Unlocked);
}

#[tokio::test]
async fn the_desk_locks_after_the_idle_minutes_and_says_why() {
    let sim = sim().await;
    let desk = desk(&Engine::Sqlite, &sim).await;
    let settings = Settings { idle_lock_minutes: 2, ..desk.core.settings_get().await.unwrap() };
    assert_eq!(desk.core.settings_update(settings).await.unwrap(), settings);
    let mut events = desk.core.subscribe();
    let start = Instant::now();
    desk.core.touch();
    assert!(!desk.core.check_idle_lock_at(start + Duration::from_secs(60)).await);
    assert_eq!(desk.core.app_status().await.vault, VaultState::Unlocked);
    assert!(desk.core.check_idle_lock_at(Instant::now() + Duration::from_secs(121)).await);
    assert_eq!(desk.core.app_status().await.vault, VaultState::Locked);
    assert_eq!(events.try_recv().unwrap(), CoreEvent::VaultLocked { reason: LockReason::Idle });
    assert_eq!(CoreEvent::VaultLocked { reason: LockReason::Idle }.payload(), serde_json::json!({ "reason": "idle" }));
    assert_eq!(desk.core.settings_get().await.unwrap_err().code(), "vault_locked");
    // Settings survive: the new Core reads them back after unlocking.
    let again = Core::open(desk.core.paths().data_dir(), options(&sim)).unwrap();
    again.vault_unlock(OWNER_PASSWORD).await.unwrap();
    assert_eq!(again.settings_get().await.unwrap().idle_lock_minutes, 2);
    // 0 turns the idle lock off.
    again.settings_update(Settings { idle_lock_minutes: 0, ..settings }).await.unwrap();
    assert!(!again.check_idle_lock_at(Instant::now() + Duration::from_secs(86_400)).await);
}

#[test]
fn setup_input_never_prints_its_secrets() {
    let input = setup_input("/x/apiclient_cert.p12", Some("postgres://u:pgpass@h/db".into()));
    let text = format!("{input:?}");
    assert!(!text.contains(KEY) && !text.contains(OWNER_PASSWORD) && !text.contains("pgpass"), "{text}");
}
