// What the `applications-new` notification says: one application by its order and amount, several
// by their count and total (exact, BigInt).
import type { ApplicationRow } from '@/backend'
import { formatFen, sumFen } from '@/utils/money'

export interface NewApplicationsText {
  count: number
  key: string
  params: Record<string, string | number>
}

export function describeNewApplications(apps: readonly ApplicationRow[]): NewApplicationsText | null {
  if (apps.length === 0) return null
  if (apps.length === 1) {
    const a = apps[0]!
    const params = { no: a.order.out_trade_no, amount: formatFen(a.amount_fen) }
    return a.reason
      ? { count: 1, key: 'refunds.notify.oneReason', params: { ...params, reason: a.reason } }
      : { count: 1, key: 'refunds.notify.one', params }
  }
  return {
    count: apps.length,
    key: 'refunds.notify.many',
    params: { n: apps.length, amount: formatFen(sumFen(apps.map((a) => a.amount_fen))) },
  }
}
