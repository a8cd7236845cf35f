import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from './app'
import { useRefundsStore } from './refunds'
import { FakeBackend, flush } from '../../tests/fakeBackend'
import { application, appStatus, orderMoney } from '../../tests/fixtures'
import { describeNewApplications } from '@/layout/useApplicationsNotifier'

let fake: FakeBackend
beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => setBackend(null))

describe('useRefundsStore', () => {
  it('counts PENDING applications only while unlocked', async () => {
    fake.handle('refund_applications_list', () => [application(), application({ id: 8 })])
    const s = useRefundsStore()
    useAppStore().setStatus(appStatus({ vault: 'locked' }))
    await s.refreshPending()
    expect(fake.calls).toHaveLength(0)
    expect(s.pendingCount).toBeNull()
    useAppStore().setStatus(appStatus())
    await s.refreshPending()
    expect(fake.argsOf('refund_applications_list')).toEqual([{ status: 'PENDING' }])
    expect(s.pendingCount).toBe(2)
  })

  it('on applications-new keeps the batch for the notification and refreshes the badge', async () => {
    fake.handle('refund_applications_list', () => [application(), application({ id: 8 }), application({ id: 9 })])
    useAppStore().setStatus(appStatus())
    const s = useRefundsStore()
    await s.listen()
    fake.emit('applications-new', { applications: [application({ id: 9 })] })
    await flush()
    expect(s.newSeq).toBe(1)
    expect(s.lastNew.map((a) => a.id)).toEqual([9])
    expect(s.pendingCount).toBe(3)
  })

  it('notes refunds-changed for the lists and the open order', async () => {
    fake.handle('refund_applications_list', () => [])
    useAppStore().setStatus(appStatus())
    const s = useRefundsStore()
    await s.listen()
    fake.emit('refunds-changed', { out_refund_nos: ['R1', 'R2'] })
    await flush()
    expect(s.changeSeq).toBe(1)
    expect(s.lastChanged).toEqual(['R1', 'R2'])
    expect(s.pendingCount).toBe(0)
  })

  it('keeps the last count when the shell cannot be asked', async () => {
    useAppStore().setStatus(appStatus())
    const s = useRefundsStore()
    s.setPendingCount(4)
    fake.handle('refund_applications_list', () => {
      throw { code: 'internal', message: 'x' }
    })
    await s.refreshPending()
    expect(s.pendingCount).toBe(4)
  })
})

describe('describeNewApplications', () => {
  it('names one application by its order, amount and reason', () => {
    const one = application({ amount_fen: 1230, reason: '少送一杯', order: orderMoney({ out_trade_no: 'T9' }) })
    expect(describeNewApplications([one])).toEqual({
      count: 1,
      key: 'refunds.notify.oneReason',
      params: { no: 'T9', amount: '¥12.30', reason: '少送一杯' },
    })
    expect(describeNewApplications([{ ...one, reason: null }])?.key).toBe('refunds.notify.one')
  })

  it('sums several exactly', () => {
    const apps = [application({ amount_fen: 10 }), application({ amount_fen: 20 }), application({ amount_fen: 1 })]
    expect(describeNewApplications(apps)).toEqual({ count: 3, key: 'refunds.notify.many', params: { n: 3, amount: '¥0.31' } })
    expect(describeNewApplications([])).toBeNull()
  })
})
