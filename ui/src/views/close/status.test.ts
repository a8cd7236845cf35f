import { describe, expect, it } from 'vitest'
import { i18n, applyLocale } from '@/locales'
import { discrepancy } from '../../../tests/fixtures'
import { dayStatusLong, dayStatusShort, sortDiscrepancies } from './status'

const say = (w: { key: string; params?: Record<string, unknown>; raw?: string }) =>
  w.key ? i18n.global.t(w.key, w.params ?? {}) : w.raw

describe('close status words', () => {
  it('says each day status in plain words, with the count when open', () => {
    applyLocale('zh-CN')
    expect(say(dayStatusShort({ status: 'clean', open_discrepancies: 0 }))).toBe('✓ 已对平')
    expect(say(dayStatusShort({ status: 'open', open_discrepancies: 3 }))).toBe('3 处差异')
    expect(say(dayStatusShort({ status: 'not_reconciled', open_discrepancies: 0 }))).toBe('未对账')
    expect(say(dayStatusShort({ status: 'no_bill', open_discrepancies: 0 }))).toBe('无账单')
    expect(say(dayStatusShort({ status: 'not_yet', open_discrepancies: 0 }))).toBe('未出账单')
    applyLocale('en')
    expect(say(dayStatusShort({ status: 'open', open_discrepancies: 2 }))).toBe('2 open')
    expect(say(dayStatusLong('clean', 0))).toContain('Balanced')
    applyLocale('zh-CN')
  })

  it('shows a status it does not know as it came', () => {
    expect(say(dayStatusShort({ status: 'partial' as never, open_discrepancies: 0 }))).toBe('partial')
  })

  it('puts open discrepancies first, keeping the shell’s order within each group', () => {
    const rows = [
      discrepancy(1, { status: 'resolved' }),
      discrepancy(2, { status: 'open' }),
      discrepancy(3, { status: 'waiting' }),
      discrepancy(4, { status: 'explained' }),
      discrepancy(5, { status: 'open' }),
      discrepancy(6, { status: 'action_pending' }),
    ]
    expect(sortDiscrepancies(rows).map((r) => r.id)).toEqual([2, 5, 6, 3, 1, 4])
  })
})
