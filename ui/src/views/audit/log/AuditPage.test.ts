import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { setBackend } from '@/backend'
import { FakeBackend, flush } from '../../../../tests/fakeBackend'
import { auditRow, chainReport } from '../../../../tests/fixtures'
import { byTestId, mountPage } from '../../../../tests/mountPage'
import AuditPage from './index.vue'

let fake: FakeBackend
beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
  fake.handle('audit_list', () => ({ entries: [auditRow(5), auditRow(4), auditRow(3, { result: 'refused' })], next_before: 3 }))
})
afterEach(() => {
  setBackend(null)
  document.body.innerHTML = ''
})

describe('the audit log page', () => {
  it('shows a broken chain loudly, naming the entry', async () => {
    fake.handle('audit_verify', () =>
      chainReport({ ok: false, entries_checked: 5, broken_at_seq: 3, message: '第 3 条记录的哈希对不上' }),
    )
    const w = await mountPage(AuditPage)
    await flush()
    await w.vm.$nextTick()
    const broken = byTestId('audit-chain-broken')
    expect(broken).not.toBeNull()
    expect(broken!.textContent).toContain('第 3 条')
    expect(broken!.textContent).toContain('第 3 条记录的哈希对不上')
    expect(broken!.getAttribute('data-seq')).toBe('3')
    expect(byTestId('audit-chain-ok')).toBeNull()
    expect(byTestId('audit-chain')!.getAttribute('data-ok')).toBe('false')
    expect(byTestId('audit-row-3')!.getAttribute('data-result')).toBe('refused')
    expect(byTestId('audit-load-more')).not.toBeNull()
    w.unmount()
  })

  it('shows an intact chain as a quiet line', async () => {
    fake.handle('audit_verify', () => chainReport({ entries_checked: 5 }))
    const w = await mountPage(AuditPage, { locale: 'en' })
    await flush()
    await w.vm.$nextTick()
    expect(byTestId('audit-chain-broken')).toBeNull()
    expect(byTestId('audit-chain-ok')!.textContent).toContain('5 entries checked')
    w.unmount()
  })
})
