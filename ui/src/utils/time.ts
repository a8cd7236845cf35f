// Time in the UI: the backend sends RFC 3339 UTC instants ("2024-03-01T04:05:06Z"); the shop
// owner reads Beijing time (UTC+8, no daylight saving since 1991). A "day" is a Beijing calendar
// day "YYYY-MM-DD": it starts at 16:00 UTC of the previous UTC day.
//
// Deliberately no Intl / time-zone database: Beijing is a fixed offset, so adding 8 hours and
// reading the UTC fields gives the same answer on every laptop whatever its own time zone.

export const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000

const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/

/** RFC 3339 text → epoch milliseconds. Throws RangeError for anything else. */
export function parseInstant(iso: string): number {
  const m = RFC3339_RE.exec(iso)
  if (!m) throw new RangeError(`not an RFC 3339 time: ${iso}`)
  const normalized = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${(m[7] ?? '').slice(0, 4)}${
    m[8] === 'z' ? 'Z' : m[8]
  }`
  const ms = Date.parse(normalized)
  if (Number.isNaN(ms) || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new RangeError(`not a valid time: ${iso}`)
  }
  return ms
}

function isRealDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false
  const dt = new Date(Date.UTC(y, m - 1, d))
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d
}

const pad2 = (n: number) => String(n).padStart(2, '0')

interface Parts {
  y: number
  mo: number
  d: number
  h: number
  mi: number
  s: number
}

function beijingParts(ms: number): Parts {
  const t = new Date(ms + BEIJING_OFFSET_MS)
  return {
    y: t.getUTCFullYear(),
    mo: t.getUTCMonth() + 1,
    d: t.getUTCDate(),
    h: t.getUTCHours(),
    mi: t.getUTCMinutes(),
    s: t.getUTCSeconds(),
  }
}

function toMs(instant: string | number | Date): number {
  if (typeof instant === 'number') return instant
  if (instant instanceof Date) return instant.getTime()
  return parseInstant(instant)
}

export type TimeStyle = 'datetime' | 'minute' | 'date' | 'time' | 'short'

/**
 * An instant shown in Beijing time: "2024-03-01T04:05:06Z" → "2024-03-01 12:05:06".
 * Styles: datetime (default), minute "2024-03-01 12:05", date "2024-03-01", time "12:05:06",
 * short "03-01 12:05". Text that is not RFC 3339 is returned unchanged (shown, not hidden).
 */
export function formatBeijing(instant: string | number | Date, style: TimeStyle = 'datetime'): string {
  let ms: number
  try {
    ms = toMs(instant)
  } catch {
    return String(instant)
  }
  const p = beijingParts(ms)
  const date = `${p.y}-${pad2(p.mo)}-${pad2(p.d)}`
  const hm = `${pad2(p.h)}:${pad2(p.mi)}`
  switch (style) {
    case 'date':
      return date
    case 'time':
      return `${hm}:${pad2(p.s)}`
    case 'minute':
      return `${date} ${hm}`
    case 'short':
      return `${pad2(p.mo)}-${pad2(p.d)} ${hm}`
    default:
      return `${date} ${hm}:${pad2(p.s)}`
  }
}

/** Like formatBeijing, with a placeholder for a missing time. */
export function formatBeijingOr(
  instant: string | null | undefined,
  style: TimeStyle = 'datetime',
  empty = '—',
): string {
  return instant ? formatBeijing(instant, style) : empty
}

/** The Beijing calendar day an instant falls on: "2024-03-01T15:59:59Z" → "2024-03-01", 16:00Z → next day. */
export function beijingDayOf(instant: string | number | Date): string {
  return formatBeijing(toMs(instant), 'date')
}

/** Today in Beijing. */
export function todayBeijing(now: number = Date.now()): string {
  return beijingDayOf(now)
}

/** Whether text is a real calendar day "YYYY-MM-DD". */
export function isDay(day: string): boolean {
  const m = DAY_RE.exec(day)
  return !!m && isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))
}

function dayToUtcMidnight(day: string): number {
  const m = DAY_RE.exec(day)
  if (!m || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new RangeError(`not a day (YYYY-MM-DD): ${day}`)
  }
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
}

/** The UTC instant a Beijing day starts: "2024-03-01" → "2024-02-29T16:00:00Z". */
export function beijingDayStartUtc(day: string): string {
  return new Date(dayToUtcMidnight(day) - BEIJING_OFFSET_MS).toISOString().replace('.000Z', 'Z')
}

/** [start, end) of a Beijing day in UTC: end is the next day's start. */
export function beijingDayRangeUtc(day: string): { start: string; end: string } {
  return { start: beijingDayStartUtc(day), end: beijingDayStartUtc(addDays(day, 1)) }
}

/** Calendar arithmetic on days: addDays("2024-02-28", 1) → "2024-02-29". */
export function addDays(day: string, n: number): string {
  return new Date(dayToUtcMidnight(day) + n * DAY_MS).toISOString().slice(0, 10)
}

/** The last n Beijing days ending today, oldest first. */
export function lastBeijingDays(n: number, now: number = Date.now()): string[] {
  const today = todayBeijing(now)
  return Array.from({ length: n }, (_, i) => addDays(today, i - (n - 1)))
}

/** Whole minutes from an instant to now (0 if in the future), for "3 分钟前". */
export function minutesSince(instant: string, now: number = Date.now()): number {
  return Math.max(0, Math.floor((now - parseInstant(instant)) / 60000))
}

// ---- Months (the daily close calendar) --------------------------------------------------------

const MONTH_RE = /^(\d{4})-(\d{2})$/

/** Whether text is a month "YYYY-MM". */
export function isMonth(month: string): boolean {
  const m = MONTH_RE.exec(month)
  return !!m && Number(m[2]) >= 1 && Number(m[2]) <= 12
}

/** The month a day is in: "2024-03-05" → "2024-03". */
export function monthOf(day: string): string {
  return day.slice(0, 7)
}

/** Calendar arithmetic on months: addMonths("2024-01", -1) → "2023-12". */
export function addMonths(month: string, n: number): string {
  const m = MONTH_RE.exec(month)
  if (!m || !isMonth(month)) throw new RangeError(`not a month (YYYY-MM): ${month}`)
  const index = Number(m[1]) * 12 + (Number(m[2]) - 1) + n
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${pad2((index % 12) + 1)}`
}

/** Every day of a month, oldest first. */
export function daysOfMonth(month: string): string[] {
  const first = `${month}-01`
  const out: string[] = []
  for (let d = first; monthOf(d) === month; d = addDays(d, 1)) out.push(d)
  return out
}

/** Day of the week, Monday = 0 … Sunday = 6 (Chinese calendars start on Monday). */
export function weekdayMondayFirst(day: string): number {
  return (new Date(dayToUtcMidnight(day)).getUTCDay() + 6) % 7
}

/** Yesterday in Beijing: the day the morning's close is about. */
export function yesterdayBeijing(now: number = Date.now()): string {
  return addDays(todayBeijing(now), -1)
}
