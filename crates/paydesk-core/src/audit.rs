//! The audit log page: the chain verdict in plain words, and the CSV export (UTF-8 with a BOM so Excel opens the
//! Chinese text right; cells that a spreadsheet would run as a formula are quoted with a leading `'`).

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use ledger::{ChainProblem, ChainReport, Ledger};

use crate::contract::{ChainView, ExportResult};
use crate::error::{CoreError, CoreResult, Locale, Msg};

/// The contract's `ChainReport`.
pub(crate) fn chain_view(report: &ChainReport, locale: Locale) -> ChainView {
    let message = match &report.first_broken {
        None => Msg::new(
            format!("审计日志完整：{} 条记录的哈希链全部校验通过。", report.entries_checked),
            format!("The audit log is intact: all {} entries verify.", report.entries_checked),
        ),
        Some(b) => {
            let (zh, en) = match b.problem {
                ChainProblem::HashMismatch => ("内容被修改过", "its content was changed"),
                ChainProblem::PrevHashMismatch => ("与前一条记录断开", "it no longer links to the entry before it"),
                ChainProblem::Missing => ("记录被删除", "the entry was deleted"),
                ChainProblem::HeadMismatch => ("最后的记录被删除或修改", "the last entries were deleted or changed"),
            };
            Msg::new(
                format!("警告：审计日志在第 {} 条处被篡改（{zh}）。从这里开始的记录不可信：请保留数据库文件并联系技术支持。", b.seq),
                format!("WARNING: the audit log was tampered with at entry {} ({en}). Entries from there on cannot be trusted: keep the database file and contact support.", b.seq),
            )
        }
    };
    ChainView {
        ok: report.first_broken.is_none(),
        entries_checked: report.entries_checked,
        broken_at_seq: report.first_broken.as_ref().map(|b| b.seq),
        message: message.pick(locale),
    }
}

/// One CSV cell: quoted, quotes doubled, formula starters defused.
fn cell(text: &str) -> String {
    let defused =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// Writes the whole log to `dir/paydesk-audit-<time>.csv`, page by page (never all in memory).
pub(crate) async fn export_csv(ledger: &Ledger, dir: &Path, now: DateTime<Utc>) -> CoreResult<ExportResult> {
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let name = format!("paydesk-audit-{}.csv", wxpay::BeijingTime::from_utc(now).to_compact());
    let path = dir.join(name);
    let tmp = path.with_extension("csv.part");
    let file = std::fs::File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    let mut out = std::io::BufWriter::new(file);
    let io = |e: std::io::Error| CoreError::io(&tmp, e);
    out.write_all("\u{feff}seq,at_beijing,actor,action,subject,result,detail,hash\r\n".as_bytes()).map_err(io)?;
    let mut after = 0_i64;
    let mut rows = 0_i64;
    loop {
        let page = ledger.audit_entries(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            let at = wxpay::BeijingTime::from_utc(e.at).to_string();
            let line = [
                e.seq.to_string(),
                at,
                e.actor.clone(),
                e.action.clone(),
                e.subject.clone(),
                e.result.as_str().to_ascii_lowercase(),
                e.detail.clone(),
                e.hash.clone(),
            ]
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join(",");
            out.write_all(line.as_bytes()).map_err(io)?;
            out.write_all(b"\r\n").map_err(io)?;
            rows += 1;
        }
    }
    out.flush().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, &path).map_err(|e| CoreError::io(&path, e))?;
    Ok(ExportResult { path: path.display().to_string(), rows })
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "\"'-1\"");
    }
}
