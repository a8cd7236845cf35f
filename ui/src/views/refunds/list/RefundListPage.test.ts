import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from '@/stores/app'
import { FakeBackend, flush } from '../../../../tests/fakeBackend'
import { appStatus, refundView } from '../../../../tests/fixtures'
import { byTestId, mountPage } from '../../../../tests/mountPage'
import RefundListPage from './index.vue'

let fake: FakeBackend
beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
  fake.handle('refunds_list', () => [
    refundView({
      out_refund_no: 'R1',
      phase: 'retrying',
      status: 'CREATED',
      attempts: 2,
      max_attempts: 5,
      last_error: { code: 'SYSTEMERROR', message: '微信系统繁忙' },
      actions: ['query', 'retry', 'mark_done'],
    }),
    refundView({
      out_refund_no: 'R2',
      phase: 'needs_owner',
      status: 'CHANGE',
      advice: { code: 'CHANGE', message: '顾客的银行卡已注销：请在商户平台把钱退到余额，或线下退款后标记为已处理' },
      actions: ['query', 'mark_done'],
    }),
    refundView({ out_refund_no: 'R3', phase: 'not_sent', status: 'CREATED', attempts: 0, actions: [] }),
  ])
})
afterEach(() => {
  setBackend(null)
  document.body.innerHTML = ''
})

async function open(role: 'owner' | 'staff', locale: 'zh-CN' | 'en' = 'zh-CN') {
  const w = await mountPage(RefundListPage, { path: '/refunds/list', pinia: createPinia(), locale })
  useAppStore().setStatus(appStatus({ user: { name: 'x', role } }))
  await flush()
  await w.vm.$nextTick()
  return w
}

describe('the refunds page', () => {
  it('shows phases in plain words, attempts and the advice', async () => {
    const w = await open('owner', 'en')
    expect(byTestId('refund-phase-R1')!.textContent!.trim()).toBe('Send failed, retrying automatically (attempt 2 of 5)')
    expect(byTestId('refund-phase-R3')!.textContent!.trim()).toBe('Not sent yet')
    expect(byTestId('refund-phase-R2')!.getAttribute('data-phase')).toBe('needs_owner')
    expect(byTestId('refund-last-error-R1')!.textContent).toContain('微信系统繁忙')
    expect(byTestId('refund-advice-R2')!.textContent).toContain('银行卡已注销')
    expect(byTestId('refund-advice-R1')).toBeNull()
    expect(byTestId('refund-retry-R1')).not.toBeNull()
    expect(byTestId('refund-mark-done-R2')).not.toBeNull()
    expect(byTestId('refund-retry-R2')).toBeNull() // not in its actions
    expect(byTestId('refund-query-R3')).toBeNull()
    w.unmount()
  })

  it('gives staff only "ask WeChat"', async () => {
    const w = await open('staff')
    expect(byTestId('refund-query-R1')).not.toBeNull()
    expect(byTestId('refund-retry-R1')).toBeNull()
    expect(byTestId('refund-mark-done-R1')).toBeNull()
    expect(byTestId('refund-mark-done-R2')).toBeNull()
    w.unmount()
  })

  it('mark done asks for a note before anything is sent', async () => {
    fake.handle('refund_mark_done', () => refundView({ out_refund_no: 'R2', phase: 'done_outside', actions: [] }))
    const w = await open('owner')
    byTestId('refund-mark-done-R2')!.click()
    await flush()
    await w.vm.$nextTick()
    ;(byTestId('mark-done-confirm') as HTMLButtonElement).click()
    await flush()
    await w.vm.$nextTick()
    await flush()
    await w.vm.$nextTick()
    expect(fake.argsOf('refund_mark_done')).toHaveLength(0)
    expect(byTestId('mark-done-note')!.closest('.el-form-item')!.classList.contains('is-error')).toBe(true)
    const note = byTestId('mark-done-note') as HTMLTextAreaElement
    note.value = '已在商户平台退款'
    note.dispatchEvent(new Event('input'))
    await w.vm.$nextTick()
    ;(byTestId('mark-done-confirm') as HTMLButtonElement).click()
    await flush()
    expect(fake.argsOf('refund_mark_done')).toEqual([{ outRefundNo: 'R2', note: '已在商户平台退款' }])
    w.unmount()
  })
})
