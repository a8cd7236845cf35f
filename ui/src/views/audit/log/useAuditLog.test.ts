import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setBackend, type AuditPage } from '@/backend'
import { FakeBackend } from '../../../../tests/fakeBackend'
import { auditRow, chainReport } from '../../../../tests/fixtures'
import { AUDIT_PAGE_SIZE, indentDetail, useAuditLog } from './useAuditLog'

let fake: FakeBackend
beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => setBackend(null))

const page = (seqs: number[], next: number | null): AuditPage => ({ entries: seqs.map((s) => auditRow(s)), next_before: next })

describe('useAuditLog', () => {
  it('opens with the newest page and the chain check', async () => {
    fake.handle('audit_list', ({ beforeSeq }) => (beforeSeq === null ? page([120, 119], 119) : page([118], null)))
    fake.handle('audit_verify', () => chainReport())
    const a = useAuditLog()
    await a.open()
    expect(fake.argsOf('audit_list')).toEqual([{ beforeSeq: null, limit: AUDIT_PAGE_SIZE }])
    expect(fake.calls.map((c) => c.command).sort()).toEqual(['audit_list', 'audit_verify'])
    expect(a.entries.value.map((e) => e.seq)).toEqual([120, 119])
    expect(a.chainBroken.value).toBe(false)
    expect(a.hasMore.value).toBe(true)
  })

  it('loads older pages with next_before until there are none', async () => {
    fake.handle('audit_list', ({ beforeSeq }) => (beforeSeq === null ? page([3, 2], 2) : page([2, 1], null)))
    const a = useAuditLog()
    await a.load()
    await a.loadMore()
    expect(fake.argsOf('audit_list')[1]).toEqual({ beforeSeq: 2, limit: AUDIT_PAGE_SIZE })
    expect(a.entries.value.map((e) => e.seq)).toEqual([3, 2, 1]) // an overlapping entry is shown once
    expect(a.hasMore.value).toBe(false)
    expect(await a.loadMore()).toBe(false)
    expect(fake.argsOf('audit_list')).toHaveLength(2)
  })

  it('reports a broken chain with the entry it breaks at', async () => {
    fake.handle('audit_list', () => page([5], null))
    fake.handle('audit_verify', () =>
      chainReport({ ok: false, entries_checked: 5, broken_at_seq: 3, message: '第 3 条记录与前一条对不上：记录被改动或删除过' }),
    )
    const a = useAuditLog()
    await a.open()
    expect(a.chainBroken.value).toBe(true)
    expect(a.report.value?.broken_at_seq).toBe(3)
  })

  it('exports the CSV and says where it went; failures are shown', async () => {
    fake.handle('audit_export_csv', () => ({ path: '/home/shop/Downloads/paydesk-audit.csv', rows: 120 }))
    const a = useAuditLog()
    expect(await a.exportCsv()).toEqual({ path: '/home/shop/Downloads/paydesk-audit.csv', rows: 120 })
    expect(a.exported.value?.rows).toBe(120)
    fake.handle('audit_export_csv', () => {
      throw { code: 'internal', message: '下载文件夹不可写' }
    })
    await a.exportCsv()
    expect(a.exportError.value?.message).toBe('下载文件夹不可写')
  })
})

describe('indentDetail', () => {
  it('indents JSON text without parsing values (amounts stay as recorded)', () => {
    expect(indentDetail('{"amount_fen":9007199254740993,"note":"a, {b}: \\"c\\"","tags":[]}')).toBe(
      '{\n  "amount_fen": 9007199254740993,\n  "note": "a, {b}: \\"c\\"",\n  "tags": []\n}',
    )
  })
  it('leaves anything else as it is', () => {
    expect(indentDetail('plain words')).toBe('plain words')
  })
})
