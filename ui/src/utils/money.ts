// Money in the UI: integer fen (分) in, text out, and typed yuan text back to integer fen.
//
// No floats touch money here: amounts are converted to BigInt and split with integer division,
// and typed text is parsed digit by digit. The ONE documented exception is `fenToChartYuan`,
// which produces an approximate yuan number for a chart axis and must never be used for anything
// that is shown as an amount, compared, summed or sent back.
//
// Limits: amounts arrive as JSON numbers, so a `number` must be a safe integer (|n| ≤ 2^53 − 1);
// anything else is refused with a RangeError instead of being shown wrong. A `bigint` or a string
// of digits of any size is formatted exactly. `parseYuan` refuses results above 2^53 − 1 fen
// (≈ 90 万亿元) because they could not be sent to the backend as exact JSON numbers.

/** What the backend sends (number), what tests and big sums may use (bigint), or digits as text. */
export type FenLike = number | bigint | string

export const MAX_SAFE_FEN = Number.MAX_SAFE_INTEGER

/** Converts to BigInt exactly, or throws RangeError/TypeError: never rounds. */
export function toFenBigInt(fen: FenLike): bigint {
  if (typeof fen === 'bigint') return fen
  if (typeof fen === 'number') {
    if (!Number.isInteger(fen)) throw new RangeError(`amount in fen must be an integer, got ${fen}`)
    if (!Number.isSafeInteger(fen)) {
      throw new RangeError(`amount ${fen} fen is beyond 2^53 and may already have lost precision`)
    }
    return BigInt(fen)
  }
  if (typeof fen === 'string' && /^[+-]?\d+$/.test(fen)) return BigInt(fen)
  throw new TypeError(`not an amount in fen: ${String(fen)}`)
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

export interface FormatOptions {
  /** prefix "¥" (default true) */
  symbol?: boolean
  /** thousands separators: "1,234.56" (default true) */
  grouping?: boolean
  /** "+¥1.00" for positive amounts (default false); negative amounts always get "-" */
  plusSign?: boolean
}

/** 1234 → "¥12.34", -5 → "-¥0.05", 123456789 → "¥1,234,567.89". Exact for any size of bigint. */
export function formatFen(fen: FenLike, options: FormatOptions = {}): string {
  const { symbol = true, grouping = true, plusSign = false } = options
  const value = toFenBigInt(fen)
  const negative = value < 0n
  const abs = negative ? -value : value
  const yuan = (abs / 100n).toString()
  const cents = (abs % 100n).toString().padStart(2, '0')
  const sign = negative ? '-' : plusSign && abs > 0n ? '+' : ''
  return `${sign}${symbol ? '¥' : ''}${grouping ? groupThousands(yuan) : yuan}.${cents}`
}

/** Plain yuan text for an input box: 1234 → "12.34", 100 → "1.00", -1 → "-0.01". */
export function fenToYuanText(fen: FenLike): string {
  return formatFen(fen, { symbol: false, grouping: false })
}

export type ParseYuanError = 'empty' | 'malformed' | 'too_precise' | 'too_large'
export type ParseYuanResult = { ok: true; fen: number } | { ok: false; error: ParseYuanError }

export interface ParseOptions {
  /** accept "-1.00" (default false: filters and limits are never negative) */
  allowNegative?: boolean
}

// Optional sign, optional ¥/￥, yuan digits (optionally grouped by commas in threes), then an
// optional fraction. Exponents, hex, spaces inside the number and a bare "." are refused.
const YUAN_RE = /^([+-])?[¥￥]?(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d*))?$/

/**
 * Typed yuan text → integer fen, exactly: "12.34" → 1234, "12" → 1200, "0.5" → 50, "1,234.5" →
 * 123450. More than two decimals are refused ("1.234" → too_precise) unless the extra digits are
 * zeros ("1.230" is exactly 123 fen). Never goes through a float.
 */
export function parseYuan(input: string, options: ParseOptions = {}): ParseYuanResult {
  const text = input.trim()
  if (text === '') return { ok: false, error: 'empty' }
  const m = YUAN_RE.exec(text)
  if (!m) return { ok: false, error: 'malformed' }
  const [, sign, intPartRaw, fracRaw] = m
  const intPart = (intPartRaw ?? '').replace(/,/g, '')
  const frac = fracRaw ?? ''
  if (intPart === '' && frac === '') return { ok: false, error: 'malformed' } // "", ".", "-", "¥"
  if (sign === '-' && !options.allowNegative) return { ok: false, error: 'malformed' }
  if (frac.length > 2 && /[^0]/.test(frac.slice(2))) return { ok: false, error: 'too_precise' }
  const cents = frac.slice(0, 2).padEnd(2, '0')
  let fen = BigInt(intPart === '' ? '0' : intPart) * 100n + BigInt(cents)
  if (sign === '-') fen = -fen
  if (fen > BigInt(MAX_SAFE_FEN) || fen < -BigInt(MAX_SAFE_FEN)) return { ok: false, error: 'too_large' }
  return { ok: true, fen: Number(fen) } // exact: |fen| ≤ 2^53 − 1
}

/**
 * THE ONE DOCUMENTED EXCEPTION to "no floats": yuan as a JS number for a chart axis (ECharts
 * needs numbers to scale bars). 1234 → 12.34 (approximately, as any float). Use only to draw;
 * tooltips and labels use `formatFen` on the original integer.
 */
export function fenToChartYuan(fen: number): number {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`amount in fen must be a safe integer, got ${fen}`)
  return fen / 100
}

/** Sum of integer fen, exact for any count (BigInt). */
export function sumFen(values: readonly FenLike[]): bigint {
  return values.reduce<bigint>((acc, v) => acc + toFenBigInt(v), 0n)
}

// ---- Exact yuan text (fees and net in the daily close) -----------------------------------------
//
// Fees are counted in 0.00001 yuan, so the shell sends fees and net as exact yuan TEXT
// ("0.12345", "-3.5", "1234.56000") rather than fen. These helpers read that text digit by digit
// into a BigInt with its number of decimals: nothing is rounded, however many decimals come.

/** Yuan text as sent by the shell: optional minus, digits, optional fraction. */
const YUAN_TEXT_RE = /^([+-])?(\d+)(?:\.(\d+))?$/

export interface YuanUnits {
  /** the amount in units of 10^-scale yuan */
  units: bigint
  scale: number
}

/** "12.345" → { units: 12345n, scale: 3 }; anything that is not plain decimal text → null. */
export function parseYuanText(text: string): YuanUnits | null {
  const m = YUAN_TEXT_RE.exec(text.trim())
  if (!m) return null
  const [, sign, int, frac = ''] = m
  let units = BigInt(int! + frac)
  if (sign === '-') units = -units
  return { units, scale: frac.length }
}

function rescale(v: YuanUnits, scale: number): bigint {
  return v.units * 10n ** BigInt(scale - v.scale)
}

function unitsToText(units: bigint, scale: number, options: FormatOptions & { minDecimals?: number }): string {
  const { symbol = true, grouping = true, plusSign = false, minDecimals = 2 } = options
  const negative = units < 0n
  const abs = negative ? -units : units
  const digits = abs.toString().padStart(scale + 1, '0')
  const int = digits.slice(0, digits.length - scale)
  let frac = digits.slice(digits.length - scale)
  // trailing zeros go, down to two decimals: "12.34000" → "12.34", "0.12300" → "0.123"
  frac = frac.replace(/0+$/, '')
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, '0')
  const sign = negative && abs > 0n ? '-' : plusSign && abs > 0n ? '+' : ''
  return `${sign}${symbol ? '¥' : ''}${grouping ? groupThousands(int) : int}${frac ? '.' + frac : ''}`
}

/**
 * Exact yuan text → "¥1,234.56789": every decimal the shell sent is kept, trailing zeros beyond
 * two are dropped ("0.12000" → "¥0.12", "0.00001" → "¥0.00001", "5" → "¥5.00"). Text that is not
 * an amount is returned unchanged, never guessed at.
 */
export function formatYuanText(text: string, options: FormatOptions = {}): string {
  const v = parseYuanText(text)
  return v ? unitsToText(v.units, v.scale, options) : text
}

/** a − b as exact yuan text ("0.5" − "0.12345" → "0.37655"); null if either is not an amount. */
export function subtractYuanText(a: string, b: string): string | null {
  const x = parseYuanText(a)
  const y = parseYuanText(b)
  if (!x || !y) return null
  const scale = Math.max(x.scale, y.scale)
  return unitsToText(rescale(x, scale) - rescale(y, scale), scale, { symbol: false, grouping: false, minDecimals: 0 })
}

/** Whether two yuan texts are the same amount ("1.50" and "1.5000"); text that is not an amount compares as text. */
export function sameYuanText(a: string, b: string): boolean {
  const x = parseYuanText(a)
  const y = parseYuanText(b)
  if (!x || !y) return a === b
  const scale = Math.max(x.scale, y.scale)
  return rescale(x, scale) === rescale(y, scale)
}
