// Words and colours for the daily close's states, shared by the calendar and the day view. Pure:
// each returns an i18n key (and its parameters), so it is unit-tested without mounting anything.
import type { CloseDay, CloseStatus, DiscrepancyRow, DiscrepancyStatus } from '@/backend'

export type TagType = 'success' | 'info' | 'warning' | 'danger' | 'primary'

export interface Words {
  key: string
  params?: Record<string, unknown>
  /** shown as is when the shell sent a state this UI does not know */
  raw?: string
}

const KNOWN_STATUS: readonly string[] = ['clean', 'open', 'not_reconciled', 'no_bill', 'not_yet']

/** Short words for a calendar cell: "✓ 已对平", "3 处差异", "未对账", "无账单", "未出账单". */
export function dayStatusShort(d: Pick<CloseDay, 'status' | 'open_discrepancies'>): Words {
  if (!KNOWN_STATUS.includes(d.status)) return { key: '', raw: d.status }
  return d.status === 'open'
    ? { key: 'close.status.short.open', params: { n: d.open_discrepancies } }
    : { key: `close.status.short.${d.status}` }
}

/** A sentence for the day view's header. */
export function dayStatusLong(status: CloseStatus, open: number): Words {
  if (!KNOWN_STATUS.includes(status)) return { key: '', raw: status }
  return status === 'open' ? { key: 'close.status.long.open', params: { n: open } } : { key: `close.status.long.${status}` }
}

export const STATUS_TAG: Record<CloseStatus, TagType> = {
  clean: 'success',
  open: 'danger',
  not_reconciled: 'warning',
  no_bill: 'info',
  not_yet: 'info',
}

export const DISCREPANCY_STATUS_TAG: Record<DiscrepancyStatus, TagType> = {
  open: 'danger',
  action_pending: 'warning',
  waiting: 'primary',
  resolved: 'success',
  explained: 'info',
}

/** Open ones first, then those being acted on, then waiting, then settled; the shell's order within each. */
const STATUS_RANK: Record<string, number> = { open: 0, action_pending: 1, waiting: 2, resolved: 3, explained: 3 }

export function sortDiscrepancies(rows: readonly DiscrepancyRow[]): DiscrepancyRow[] {
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => (STATUS_RANK[a.row.status] ?? 1) - (STATUS_RANK[b.row.status] ?? 1) || a.i - b.i)
    .map(({ row }) => row)
}

/** Whether a discrepancy still needs someone (open, or an action not finished yet). */
export function needsAttention(row: DiscrepancyRow): boolean {
  return row.status === 'open' || row.status === 'action_pending'
}
