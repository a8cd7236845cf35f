// Both sides' totals of a day as rows of a table: ledger, WeChat's bill, and the difference
// (WeChat − ledger). Amounts in fen go through formatFen (BigInt); fees and net arrive as exact
// yuan text (fees are counted in 0.00001 yuan) and go through formatYuanText: never a float.
import type { Totals } from '@/backend'
import { formatFen, formatYuanText, sameYuanText, subtractYuanText, toFenBigInt } from '@/utils/money'

export type TotalsField = keyof Totals
export type TotalsKind = 'count' | 'fen' | 'yuan'

export const TOTALS_FIELDS: readonly { field: TotalsField; kind: TotalsKind }[] = [
  { field: 'payments_count', kind: 'count' },
  { field: 'payments_fen', kind: 'fen' },
  { field: 'refunds_count', kind: 'count' },
  { field: 'refunds_fen', kind: 'fen' },
  { field: 'fees_yuan', kind: 'yuan' },
  { field: 'net_yuan', kind: 'yuan' },
]

export interface TotalsCell {
  /** the exact value as the shell sent it (count, fen, or yuan text) */
  raw: string
  text: string
}

export interface TotalsRow {
  field: TotalsField
  kind: TotalsKind
  /** the test id part: payments_fen → "payments-fen" */
  id: string
  ledger: TotalsCell
  wechat: TotalsCell | null
  /** WeChat − ledger, signed; null without a bill or when it cannot be computed exactly */
  diff: string | null
  /** null without a bill */
  same: boolean | null
}

/** 1234567 → "1,234,567" (digits only, no locale database). */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

function cell(kind: TotalsKind, value: number | string): TotalsCell {
  const raw = String(value)
  try {
    if (kind === 'count') return { raw, text: formatCount(Number(value)) }
    if (kind === 'fen') return { raw, text: formatFen(value) }
    return { raw, text: formatYuanText(raw) }
  } catch {
    return { raw, text: raw } // shown as it came, never rounded
  }
}

function difference(kind: TotalsKind, ledger: number | string, wechat: number | string): { diff: string | null; same: boolean } {
  try {
    if (kind === 'yuan') {
      const d = subtractYuanText(String(wechat), String(ledger))
      return { diff: d === null ? null : formatYuanText(d, { plusSign: true }), same: sameYuanText(String(wechat), String(ledger)) }
    }
    const d = toFenBigInt(wechat as number) - toFenBigInt(ledger as number)
    const text = kind === 'fen' ? formatFen(d, { plusSign: true }) : (d > 0n ? '+' : '') + formatCount(Number(d))
    return { diff: text, same: d === 0n }
  } catch {
    return { diff: null, same: String(ledger) === String(wechat) }
  }
}

export function totalsRows(ledger: Totals, wechat: Totals | null): TotalsRow[] {
  return TOTALS_FIELDS.map(({ field, kind }) => {
    const cmp = wechat ? difference(kind, ledger[field], wechat[field]) : null
    return {
      field,
      kind,
      id: field.replace(/_/g, '-'),
      ledger: cell(kind, ledger[field]),
      wechat: wechat ? cell(kind, wechat[field]) : null,
      diff: cmp?.diff ?? null,
      same: cmp ? cmp.same : null,
    }
  })
}
