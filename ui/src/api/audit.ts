// The audit log (contract § "Audit log"): pages newest first, the hash-chain check, CSV export.
import { backend } from '@/backend'

export const listAudit = (beforeSeq: number | null, limit: number) => backend().call('audit_list', { beforeSeq, limit })
/** Checks the whole chain. */
export const verifyAudit = () => backend().call('audit_verify')
/** Writes the whole log as UTF-8 CSV (with a BOM) to the Downloads folder. */
export const exportAuditCsv = () => backend().call('audit_export_csv')
