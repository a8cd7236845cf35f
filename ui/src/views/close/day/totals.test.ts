import { describe, expect, it } from 'vitest'
import { totals } from '../../../../tests/fixtures'
import { formatCount, totalsRows } from './totals'

const byField = (rows: ReturnType<typeof totalsRows>) => Object.fromEntries(rows.map((r) => [r.field, r]))

describe('totalsRows', () => {
  it('formats counts, fen and the exact yuan text of fees (5 decimals) and net', () => {
    const rows = byField(totalsRows(totals(), totals()))
    expect(rows.payments_count!.ledger).toEqual({ raw: '42', text: '42' })
    expect(rows.payments_fen!.ledger).toEqual({ raw: '123456', text: '¥1,234.56' })
    expect(rows.refunds_fen!.wechat).toEqual({ raw: '2000', text: '¥20.00' })
    expect(rows.fees_yuan!.wechat).toEqual({ raw: '7.28736', text: '¥7.28736' })
    expect(rows.net_yuan!.ledger).toEqual({ raw: '1207.27264', text: '¥1,207.27264' })
    expect(Object.values(rows).every((r) => r.same === true)).toBe(true)
    expect(rows.payments_fen!.id).toBe('payments-fen')
    expect(rows.fees_yuan!.id).toBe('fees-yuan')
  })

  it('shows the difference WeChat − ledger exactly', () => {
    const ledger = totals({ payments_count: 42, payments_fen: 123456, fees_yuan: '7.28736', net_yuan: '1207.27264' })
    const wechat = totals({ payments_count: 43, payments_fen: 127256, fees_yuan: '7.51536', net_yuan: '1210.84464' })
    const rows = byField(totalsRows(ledger, wechat))
    expect(rows.payments_count!.diff).toBe('+1')
    expect(rows.payments_fen!.diff).toBe('+¥38.00')
    expect(rows.fees_yuan!.diff).toBe('+¥0.228')
    expect(rows.net_yuan!.diff).toBe('+¥3.572')
    expect(rows.refunds_fen!.same).toBe(true)
    expect(rows.payments_fen!.same).toBe(false)
    const back = byField(totalsRows(wechat, ledger))
    expect(back.payments_fen!.diff).toBe('-¥38.00')
    expect(back.payments_count!.diff).toBe('-1')
  })

  it('treats equal yuan text written differently as the same', () => {
    const rows = byField(totalsRows(totals({ fees_yuan: '0.6' }), totals({ fees_yuan: '0.60000' })))
    expect(rows.fees_yuan!.same).toBe(true)
    expect(rows.fees_yuan!.wechat?.text).toBe('¥0.60')
  })

  it('has no WeChat side and no difference without a bill', () => {
    const rows = totalsRows(totals(), null)
    expect(rows.every((r) => r.wechat === null && r.diff === null && r.same === null)).toBe(true)
  })

  it('never rounds text it cannot read', () => {
    const rows = byField(totalsRows(totals({ fees_yuan: 'n/a' }), totals()))
    expect(rows.fees_yuan!.ledger.text).toBe('n/a')
    expect(rows.fees_yuan!.same).toBe(false)
  })

  it('groups counts', () => {
    expect(formatCount(1000000)).toBe('1,000,000')
    expect(formatCount(-1234)).toBe('-1,234')
  })
})
