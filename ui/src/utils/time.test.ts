import { describe, expect, it } from 'vitest'
import {
  addDays,
  addMonths,
  daysOfMonth,
  isMonth,
  monthOf,
  weekdayMondayFirst,
  yesterdayBeijing,
  beijingDayOf,
  beijingDayRangeUtc,
  beijingDayStartUtc,
  formatBeijing,
  formatBeijingOr,
  isDay,
  lastBeijingDays,
  minutesSince,
  parseInstant,
  todayBeijing,
} from './time'

describe('formatBeijing', () => {
  it('shows UTC instants in Beijing time (UTC+8)', () => {
    expect(formatBeijing('2024-03-01T04:05:06Z')).toBe('2024-03-01 12:05:06')
    expect(formatBeijing('2024-03-01T04:05:06Z', 'minute')).toBe('2024-03-01 12:05')
    expect(formatBeijing('2024-03-01T04:05:06Z', 'date')).toBe('2024-03-01')
    expect(formatBeijing('2024-03-01T04:05:06Z', 'time')).toBe('12:05:06')
    expect(formatBeijing('2024-03-01T04:05:06Z', 'short')).toBe('03-01 12:05')
  })

  it('crosses the date line at 16:00 UTC', () => {
    expect(formatBeijing('2024-03-01T15:59:59Z')).toBe('2024-03-01 23:59:59')
    expect(formatBeijing('2024-03-01T16:00:00Z')).toBe('2024-03-02 00:00:00')
    expect(formatBeijing('2023-12-31T16:00:00Z')).toBe('2024-01-01 00:00:00')
    expect(formatBeijing('2024-02-28T16:30:00Z')).toBe('2024-02-29 00:30:00')
  })

  it('accepts fractional seconds, offsets and lowercase RFC 3339 letters', () => {
    expect(formatBeijing('2024-03-01T04:05:06.789Z')).toBe('2024-03-01 12:05:06')
    expect(formatBeijing('2024-03-01T12:05:06+08:00')).toBe('2024-03-01 12:05:06')
    expect(formatBeijing('2024-03-01t04:05:06z')).toBe('2024-03-01 12:05:06')
  })

  it('does not depend on the laptop time zone (fixed offset, no DST)', () => {
    expect(formatBeijing(Date.UTC(2024, 6, 1, 0, 0, 0))).toBe('2024-07-01 08:00:00')
    expect(formatBeijing(new Date(Date.UTC(2024, 0, 1, 0, 0, 0)))).toBe('2024-01-01 08:00:00')
  })

  it('shows text that is not a time unchanged rather than hiding it', () => {
    expect(formatBeijing('yesterday')).toBe('yesterday')
    expect(formatBeijing('2024-03-01 12:00')).toBe('2024-03-01 12:00')
  })

  it('uses a placeholder for missing times', () => {
    expect(formatBeijingOr(null)).toBe('—')
    expect(formatBeijingOr(undefined, 'date', '-')).toBe('-')
    expect(formatBeijingOr('2024-03-01T04:05:06Z', 'date')).toBe('2024-03-01')
  })
})

describe('parseInstant', () => {
  it('parses RFC 3339 and refuses the rest', () => {
    expect(parseInstant('1970-01-01T00:00:00Z')).toBe(0)
    expect(parseInstant('2024-03-01T12:05:06+08:00')).toBe(Date.UTC(2024, 2, 1, 4, 5, 6))
    expect(() => parseInstant('2024-03-01')).toThrow(RangeError)
    expect(() => parseInstant('2024-03-01T04:05:06')).toThrow(RangeError) // no zone: ambiguous
    expect(() => parseInstant('2024-02-30T00:00:00Z')).toThrow(RangeError)
    expect(() => parseInstant('20240301040506')).toThrow(RangeError)
  })
})

describe('Beijing days', () => {
  it('puts an instant on its Beijing calendar day; the boundary is 16:00 UTC', () => {
    expect(beijingDayOf('2024-03-01T15:59:59Z')).toBe('2024-03-01')
    expect(beijingDayOf('2024-03-01T16:00:00Z')).toBe('2024-03-02')
    expect(beijingDayOf('2024-03-01T00:00:00Z')).toBe('2024-03-01')
    expect(beijingDayOf('2024-02-29T16:00:00Z')).toBe('2024-03-01')
  })

  it('gives today in Beijing for a given now', () => {
    expect(todayBeijing(Date.UTC(2024, 2, 1, 15, 59, 59))).toBe('2024-03-01')
    expect(todayBeijing(Date.UTC(2024, 2, 1, 16, 0, 0))).toBe('2024-03-02')
  })

  it('converts a Beijing day to its UTC range', () => {
    expect(beijingDayStartUtc('2024-03-01')).toBe('2024-02-29T16:00:00Z')
    expect(beijingDayStartUtc('2024-01-01')).toBe('2023-12-31T16:00:00Z')
    expect(beijingDayRangeUtc('2024-02-28')).toEqual({
      start: '2024-02-27T16:00:00Z',
      end: '2024-02-28T16:00:00Z',
    })
    expect(() => beijingDayStartUtc('2024-13-01')).toThrow(RangeError)
  })

  it('does calendar arithmetic across months, leap days and years', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29')
    expect(addDays('2023-02-28', 1)).toBe('2023-03-01')
    expect(addDays('2024-01-01', -1)).toBe('2023-12-31')
    expect(addDays('2024-03-01', -13)).toBe('2024-02-17')
  })

  it('lists the last n days ending today, oldest first', () => {
    const now = Date.UTC(2024, 2, 1, 16, 30) // 2024-03-02 00:30 Beijing
    const days = lastBeijingDays(14, now)
    expect(days).toHaveLength(14)
    expect(days[0]).toBe('2024-02-18')
    expect(days[13]).toBe('2024-03-02')
  })

  it('validates day text', () => {
    expect(isDay('2024-02-29')).toBe(true)
    expect(isDay('2023-02-29')).toBe(false)
    expect(isDay('2024-3-1')).toBe(false)
    expect(isDay('')).toBe(false)
  })

  it('counts minutes since an instant', () => {
    const now = Date.UTC(2024, 2, 1, 4, 10, 0)
    expect(minutesSince('2024-03-01T04:05:06Z', now)).toBe(4)
    expect(minutesSince('2024-03-01T05:00:00Z', now)).toBe(0)
  })
})

describe('months (the daily close calendar)', () => {
  it('steps across years', () => {
    expect(addMonths('2024-01', -1)).toBe('2023-12')
    expect(addMonths('2023-12', 1)).toBe('2024-01')
    expect(addMonths('2024-03', 13)).toBe('2025-04')
    expect(() => addMonths('2024-13', 1)).toThrow(RangeError)
  })
  it('lists the days of a month, leap years included', () => {
    expect(daysOfMonth('2024-02')).toHaveLength(29)
    expect(daysOfMonth('2023-02').at(-1)).toBe('2023-02-28')
    expect(daysOfMonth('2024-03')[0]).toBe('2024-03-01')
  })
  it('knows the weekday, Monday first', () => {
    expect(weekdayMondayFirst('2024-03-04')).toBe(0) // a Monday
    expect(weekdayMondayFirst('2024-03-03')).toBe(6) // a Sunday
  })
  it('yesterday is a Beijing day', () => {
    // 2024-03-01 16:30 UTC is already 03-02 00:30 in Beijing: yesterday is 03-01
    expect(yesterdayBeijing(Date.parse('2024-03-01T16:30:00Z'))).toBe('2024-03-01')
    expect(yesterdayBeijing(Date.parse('2024-03-01T15:30:00Z'))).toBe('2024-02-29')
    expect(monthOf('2024-03-05')).toBe('2024-03')
    expect(isMonth('2024-00')).toBe(false)
  })
})
