//! The hash-chained audit log: an edited or deleted entry is found at that entry.

use chrono::Duration;
use ledger::*;

use crate::common::*;

async fn five_entries(l: &Ledger) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    for i in 0..5_i64 {
        let entry = NewAuditEntry {
            actor: "desk:owner".into(),
            action: "settings.change".into(),
            subject: format!("setting:{i}"),
            result: if i == 3 { AuditResult::Refused } else { AuditResult::Ok },
            detail: format!("{{\"n\":{i},\"名\":\"店\"}}"),
            at: now() + Duration::microseconds(i * 1_000_001),
        };
        out.push(l.append_audit(&entry).await.unwrap());
    }
    out
}

fn drop_guards(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        Engine::Postgres => {
            "DROP TRIGGER audit_log_no_update ON audit_log; DROP TRIGGER audit_log_no_delete ON audit_log;"
        }
    }
}

pub async fn untouched_audit_chain_verifies(db: &TestDb) {
    let l = &db.ledger;
    let entries = five_entries(l).await;
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(l.audit_entries(0, 100).await.unwrap(), entries, "what is read back hashes the same");
    let report = l.verify_audit_chain().await.unwrap();
    assert_eq!(report, ChainReport { entries_checked: 5, first_broken: None });
}

pub async fn editing_an_audit_entry_breaks_the_chain_at_that_entry(db: &TestDb) {
    let l = &db.ledger;
    five_entries(l).await;
    db.raw(drop_guards(l.engine())).await.unwrap();
    assert_eq!(db.raw("UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 3").await.unwrap(), 1);
    let report = l.verify_audit_chain().await.unwrap();
    assert_eq!(report.first_broken, Some(BrokenEntry { seq: 3, problem: ChainProblem::HashMismatch }));
    assert_eq!(report.entries_checked, 2);
}

pub async fn deleting_an_audit_entry_breaks_the_chain_at_that_entry(db: &TestDb) {
    let l = &db.ledger;
    five_entries(l).await;
    db.raw(drop_guards(l.engine())).await.unwrap();
    assert_eq!(db.raw("DELETE FROM audit_log WHERE seq = 2").await.unwrap(), 1);
    let report = l.verify_audit_chain().await.unwrap();
    assert_eq!(report.first_broken, Some(BrokenEntry { seq: 2, problem: ChainProblem::Missing }));
    // Renumbering the rest to hide the gap does not help: the next entry's prev_hash gives it away.
    db.raw("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2").await.unwrap();
    let report = l.verify_audit_chain().await.unwrap();
    assert_eq!(report.first_broken.map(|b| b.seq), Some(2));
}

pub async fn deleting_the_last_audit_entry_is_found_by_the_head(db: &TestDb) {
    let l = &db.ledger;
    five_entries(l).await;
    db.raw(drop_guards(l.engine())).await.unwrap();
    db.raw("DELETE FROM audit_log WHERE seq = 5").await.unwrap();
    let report = l.verify_audit_chain().await.unwrap();
    assert_eq!(report.first_broken, Some(BrokenEntry { seq: 5, problem: ChainProblem::Missing }));
}

pub async fn audit_log_refuses_update_and_delete(db: &TestDb) {
    let l = &db.ledger;
    five_entries(l).await;
    assert!(db.raw("UPDATE audit_log SET actor = 'someone' WHERE seq = 1").await.is_err());
    assert!(db.raw("DELETE FROM audit_log WHERE seq = 1").await.is_err());
    assert_eq!(l.verify_audit_chain().await.unwrap().first_broken, None);
}
