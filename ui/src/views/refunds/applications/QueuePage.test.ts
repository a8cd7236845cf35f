import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from '@/stores/app'
import { FakeBackend, flush } from '../../../../tests/fakeBackend'
import { application, appStatus, guardCheck, refundView } from '../../../../tests/fixtures'
import { byTestId, mountPage } from '../../../../tests/mountPage'
import QueuePage from './index.vue'

let fake: FakeBackend
beforeEach(() => {
  fake = new FakeBackend()
  setBackend(fake)
  fake.handle('refund_applications_list', () => [application({ id: 7 }), application({ id: 8, amount_fen: 99 })])
})
afterEach(() => {
  setBackend(null)
  document.body.innerHTML = ''
})

async function open(role: 'owner' | 'staff') {
  const pinia = createPinia()
  const w = await mountPage(QueuePage, { path: '/refunds', pinia })
  useAppStore().setStatus(appStatus({ user: { name: role === 'owner' ? '王老板' : '小李', role } }))
  await flush()
  await w.vm.$nextTick()
  return w
}

const settle = async (w: { vm: { $nextTick: () => Promise<void> } }) => {
  await flush()
  await w.vm.$nextTick()
  await flush()
}

describe('the refund queue page', () => {
  it('shows each application with its order money', async () => {
    const w = await open('owner')
    expect(byTestId('application-row-7')!.getAttribute('data-status')).toBe('PENDING')
    expect(byTestId('application-amount-7')!.getAttribute('data-fen')).toBe('2000')
    expect(byTestId('application-paid-7')!.getAttribute('data-fen')).toBe('5000')
    expect(byTestId('application-refunded-7')!.getAttribute('data-fen')).toBe('1000')
    expect(byTestId('application-pending-7')!.getAttribute('data-fen')).toBe('500')
    expect(byTestId('application-remaining-7')!.getAttribute('data-fen')).toBe('3500')
    expect(byTestId('application-days-7')!.getAttribute('data-days')).toBe('3')
    expect(byTestId('application-reason-7')!.textContent).toContain('顾客退货')
    expect(byTestId('application-origin-7')!.getAttribute('data-origin')).toBe('shop_backend')
    w.unmount()
  })

  it('hides approve and reject from staff, who can still add an application', async () => {
    const w = await open('staff')
    expect(byTestId('application-row-7')).not.toBeNull()
    expect(byTestId('application-approve-7')).toBeNull()
    expect(byTestId('application-reject-7')).toBeNull()
    expect(byTestId('refunds-staff-note')).not.toBeNull()
    expect(byTestId('application-new')).not.toBeNull()
    w.unmount()
  })

  it('approve: blocked guards say which and why, and the button stays disabled', async () => {
    fake.handle('refund_guards', () => guardCheck({ interval: '距上次退款不到 1 分钟' }))
    const w = await open('owner')
    byTestId('application-approve-7')!.click()
    await settle(w)
    expect(byTestId('approve-dialog')).not.toBeNull()
    expect((byTestId('approve-amount') as HTMLInputElement).value).toBe('20.00')
    expect(byTestId('guard-paid')!.getAttribute('data-ok')).toBe('true')
    const blocked = byTestId('guard-interval')!
    expect(blocked.getAttribute('data-ok')).toBe('false')
    expect(blocked.textContent).toContain('退款间隔')
    expect(blocked.textContent).toContain('距上次退款不到 1 分钟')
    expect((byTestId('approve-confirm') as HTMLButtonElement).disabled).toBe(true)
    expect(byTestId('approve-desc-note')!.textContent).toContain('顾客')
    w.unmount()
  })

  it('approve: password_required shows the password box in the dialog, then it goes through', async () => {
    fake.handle('refund_guards', () => guardCheck())
    fake.handle('refund_approve', ({ password }) => {
      if (!password) throw { code: 'password_required', message: '这笔退款需要店主密码' }
      return refundView({ phase: 'not_sent' })
    })
    const w = await open('owner')
    byTestId('application-approve-7')!.click()
    await settle(w)
    expect(byTestId('approve-password')).toBeNull()
    const confirm = byTestId('approve-confirm') as HTMLButtonElement
    expect(confirm.disabled).toBe(false)
    confirm.click()
    await settle(w)
    expect(byTestId('approve-error')!.getAttribute('data-code')).toBe('password_required')
    expect(byTestId('approve-dialog')).not.toBeNull()
    expect(byTestId('approve-password')!.tagName).toBe('INPUT') // the id is on the input itself
    const pw = byTestId('approve-password') as HTMLInputElement
    pw.value = 'owner-pass'
    pw.dispatchEvent(new Event('input'))
    await settle(w)
    ;(byTestId('approve-confirm') as HTMLButtonElement).click()
    await settle(w)
    expect(fake.argsOf('refund_approve').map((a) => a.password)).toEqual([null, 'owner-pass'])
    w.unmount()
  })
})
