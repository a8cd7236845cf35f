import { describe, expect, it } from 'vitest'
import {
  fenToChartYuan,
  fenToYuanText,
  formatFen,
  formatYuanText,
  parseYuan,
  parseYuanText,
  sameYuanText,
  subtractYuanText,
  sumFen,
  toFenBigInt,
} from './money'

describe('formatFen', () => {
  it.each([
    [0, '¥0.00'],
    [1, '¥0.01'],
    [10, '¥0.10'],
    [99, '¥0.99'],
    [100, '¥1.00'],
    [1234, '¥12.34'],
    [123456789, '¥1,234,567.89'],
    [100000000, '¥1,000,000.00'],
  ])('%s fen → %s', (fen, text) => {
    expect(formatFen(fen)).toBe(text)
  })

  it('formats negative amounts with a leading minus', () => {
    expect(formatFen(-1)).toBe('-¥0.01')
    expect(formatFen(-1234)).toBe('-¥12.34')
    expect(formatFen(-123456789)).toBe('-¥1,234,567.89')
  })

  it('honours the options', () => {
    expect(formatFen(123456, { symbol: false })).toBe('1,234.56')
    expect(formatFen(123456, { grouping: false })).toBe('¥1234.56')
    expect(formatFen(5, { plusSign: true })).toBe('+¥0.05')
    expect(formatFen(0, { plusSign: true })).toBe('¥0.00')
    expect(formatFen(-5, { plusSign: true })).toBe('-¥0.05')
  })

  it('is exact at the largest safe integer', () => {
    expect(formatFen(Number.MAX_SAFE_INTEGER)).toBe('¥90,071,992,547,409.91')
    expect(formatFen(-Number.MAX_SAFE_INTEGER)).toBe('-¥90,071,992,547,409.91')
  })

  it('formats bigint and digit strings beyond 2^53 exactly', () => {
    expect(formatFen(9007199254740993n)).toBe('¥90,071,992,547,409.93')
    expect(formatFen('123456789012345678901')).toBe('¥1,234,567,890,123,456,789.01')
    expect(formatFen(-(2n ** 64n))).toBe('-¥184,467,440,737,095,516.16')
  })

  it('refuses numbers that are not safe integers instead of showing a wrong amount', () => {
    expect(() => formatFen(2 ** 53)).toThrow(RangeError)
    expect(() => formatFen(12.5)).toThrow(RangeError)
    expect(() => formatFen(Number.NaN)).toThrow(RangeError)
    expect(() => formatFen(Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(() => formatFen('12.34')).toThrow(TypeError)
    expect(() => formatFen('')).toThrow(TypeError)
  })
})

describe('fenToYuanText', () => {
  it('gives plain text for an input box', () => {
    expect(fenToYuanText(1234)).toBe('12.34')
    expect(fenToYuanText(100)).toBe('1.00')
    expect(fenToYuanText(123456789)).toBe('1234567.89')
    expect(fenToYuanText(-1)).toBe('-0.01')
  })
})

describe('parseYuan', () => {
  it.each([
    ['12.34', 1234],
    ['12.3', 1230],
    ['12', 1200],
    ['12.', 1200],
    ['0.01', 1],
    ['.5', 50],
    ['0', 0],
    ['007.10', 710],
    ['  8.88 ', 888],
    ['¥12.34', 1234],
    ['￥12.34', 1234],
    ['+3', 300],
    ['1,234.56', 123456],
    ['1,234,567', 123456700],
    ['1.230', 123],
    ['1.2300000', 123],
  ])('"%s" → %i fen', (text, fen) => {
    expect(parseYuan(text)).toEqual({ ok: true, fen })
  })

  it('parses "12.34" to exactly 1234 where floats would not (0.29 * 100 = 28.999…)', () => {
    expect(0.29 * 100).not.toBe(29)
    expect(parseYuan('0.29')).toEqual({ ok: true, fen: 29 })
    expect(parseYuan('1.005')).toEqual({ ok: false, error: 'too_precise' })
    expect(parseYuan('19.99')).toEqual({ ok: true, fen: 1999 })
  })

  it('rejects inexact input (more than two significant decimals)', () => {
    expect(parseYuan('1.234')).toEqual({ ok: false, error: 'too_precise' })
    expect(parseYuan('0.001')).toEqual({ ok: false, error: 'too_precise' })
    expect(parseYuan('1.2301')).toEqual({ ok: false, error: 'too_precise' })
  })

  it.each(['', '   '])('reports empty input %j', (text) => {
    expect(parseYuan(text)).toEqual({ ok: false, error: 'empty' })
  })

  it.each(['abc', '.', '-', '¥', '1.2.3', '1e3', '1E-2', '0x10', '12 34', '12,34', '1,2345', '12a', 'Infinity', 'NaN', '１２', '--1', '1-'])(
    'rejects malformed input %j',
    (text) => {
      expect(parseYuan(text)).toEqual({ ok: false, error: 'malformed' })
    },
  )

  it('refuses negative amounts unless asked, and then parses them exactly', () => {
    expect(parseYuan('-1.00')).toEqual({ ok: false, error: 'malformed' })
    expect(parseYuan('-1.25', { allowNegative: true })).toEqual({ ok: true, fen: -125 })
    expect(parseYuan('-¥0.01', { allowNegative: true })).toEqual({ ok: true, fen: -1 })
  })

  it('accepts up to 2^53 − 1 fen and refuses anything larger explicitly', () => {
    expect(parseYuan('90071992547409.91')).toEqual({ ok: true, fen: Number.MAX_SAFE_INTEGER })
    expect(parseYuan('90071992547409.92')).toEqual({ ok: false, error: 'too_large' })
    expect(parseYuan('99999999999999999999')).toEqual({ ok: false, error: 'too_large' })
    expect(parseYuan('-90071992547409.92', { allowNegative: true })).toEqual({ ok: false, error: 'too_large' })
  })

  it('round-trips with fenToYuanText', () => {
    for (const fen of [0, 1, 9, 10, 99, 100, 101, 1999, 123456, 100000001, Number.MAX_SAFE_INTEGER]) {
      expect(parseYuan(fenToYuanText(fen))).toEqual({ ok: true, fen })
      expect(parseYuan(formatFen(fen))).toEqual({ ok: true, fen })
    }
  })
})

describe('toFenBigInt and sumFen', () => {
  it('sums exactly beyond 2^53', () => {
    expect(sumFen([Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 2])).toBe(18014398509481984n)
    expect(sumFen([])).toBe(0n)
    expect(sumFen([100, -30, '5', 1n])).toBe(76n)
    expect(toFenBigInt('-42')).toBe(-42n)
  })
})

describe('fenToChartYuan (the documented float exception, for chart axes only)', () => {
  it('divides integer fen by 100 for drawing', () => {
    expect(fenToChartYuan(1234)).toBeCloseTo(12.34, 10)
    expect(fenToChartYuan(0)).toBe(0)
    expect(fenToChartYuan(-250)).toBe(-2.5)
  })
  it('refuses non-integer or unsafe input', () => {
    expect(() => fenToChartYuan(1.5)).toThrow(RangeError)
    expect(() => fenToChartYuan(2 ** 60)).toThrow(RangeError)
  })
})

describe('exact yuan text (fees and net, up to 5 decimals)', () => {
  it.each([
    ['0.12345', '¥0.12345'],
    ['0.00001', '¥0.00001'],
    ['0.12000', '¥0.12'],
    ['0.60', '¥0.60'],
    ['0.6', '¥0.60'],
    ['5', '¥5.00'],
    ['1234567.89012', '¥1,234,567.89012'],
    ['-3.50000', '-¥3.50'],
    ['-0.00000', '¥0.00'],
    ['90071992547409.93001', '¥90,071,992,547,409.93001'],
  ])('%s → %s', (text, shown) => {
    expect(formatYuanText(text)).toBe(shown)
  })

  it('never rounds: more decimals than five are kept too', () => {
    expect(formatYuanText('0.1234567')).toBe('¥0.1234567')
  })

  it('shows text that is not an amount as it came', () => {
    expect(formatYuanText('1e3')).toBe('1e3')
    expect(formatYuanText('')).toBe('')
    expect(formatYuanText('12.')).toBe('12.')
  })

  it('subtracts and compares exactly', () => {
    expect(subtractYuanText('0.5', '0.12345')).toBe('0.37655')
    expect(subtractYuanText('100.00', '100')).toBe('0')
    expect(subtractYuanText('1', '1.00001')).toBe('-0.00001')
    expect(subtractYuanText('x', '1')).toBeNull()
    expect(sameYuanText('1.50', '1.5000')).toBe(true)
    expect(sameYuanText('0.10000', '0.10001')).toBe(false)
    // 0.1 + 0.2 style traps cannot happen: digits, not floats
    expect(subtractYuanText('0.30000', '0.1')).toBe('0.2')
  })

  it('parses digits into units with their scale', () => {
    expect(parseYuanText('12.345')).toEqual({ units: 12345n, scale: 3 })
    expect(parseYuanText('-7')).toEqual({ units: -7n, scale: 0 })
    expect(parseYuanText('1,234.5')).toBeNull()
  })
})
