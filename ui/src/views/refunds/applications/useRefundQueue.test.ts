import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type ApplicationRow } from '@/backend'
import { useAppStore } from '@/stores/app'
import { useOrdersStore } from '@/stores/orders'
import { useRefundsStore } from '@/stores/refunds'
import { deferred, FakeBackend, flush } from '../../../../tests/fakeBackend'
import { application, appStatus } from '../../../../tests/fixtures'
import { useRefundQueue } from './useRefundQueue'

let fake: FakeBackend
let scope: EffectScope
const run = <T>(fn: () => T): T => scope.run(fn) as T

beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
  scope = effectScope()
  useAppStore().setStatus(appStatus())
})
afterEach(() => {
  scope.stop()
  setBackend(null)
})

const pending = [application({ id: 1 }), application({ id: 2, amount_fen: 1 })]
const all = [application({ id: 3, status: 'REJECTED', decision_note: '已使用' }), ...pending]

describe('useRefundQueue', () => {
  it('loads the PENDING queue first and sets the sidebar badge from it', async () => {
    fake.handle('refund_applications_list', ({ status }) => (status === 'PENDING' ? pending : all))
    const q = run(() => useRefundQueue())
    expect(await q.load()).toBe(true)
    expect(fake.argsOf('refund_applications_list')).toEqual([{ status: 'PENDING' }])
    expect(q.rows.value.map((r) => r.id)).toEqual([1, 2])
    expect(useRefundsStore().pendingCount).toBe(2)
    expect(q.canDecide.value).toBe(true)
  })

  it('toggles to ALL and back; ALL does not change the badge', async () => {
    fake.handle('refund_applications_list', ({ status }) => (status === 'PENDING' ? pending : all))
    const q = run(() => useRefundQueue())
    await q.load()
    await q.setStatus('ALL')
    expect(q.rows.value.map((r) => r.id)).toEqual([3, 1, 2])
    expect(useRefundsStore().pendingCount).toBe(2)
    await q.setStatus('PENDING')
    expect(fake.argsOf('refund_applications_list').map((a) => a.status)).toEqual(['PENDING', 'ALL', 'PENDING'])
  })

  it('keeps only the latest answer when the toggle is flipped quickly', async () => {
    const slow = deferred<ApplicationRow[]>()
    fake.handle('refund_applications_list', ({ status }) => (status === 'PENDING' ? slow.promise : all))
    const q = run(() => useRefundQueue())
    const first = q.load()
    await q.setStatus('ALL')
    slow.resolve(pending)
    await first
    expect(q.status.value).toBe('ALL')
    expect(q.rows.value).toHaveLength(3)
  })

  it('shows the shell message on failure and keeps the rows', async () => {
    let fail = false
    fake.handle('refund_applications_list', () => {
      if (fail) throw { code: 'internal', message: '账本暂时打不开' }
      return pending
    })
    const q = run(() => useRefundQueue())
    await q.load()
    fail = true
    expect(await q.load()).toBe(false)
    expect(q.error.value).toEqual({ code: 'internal', message: '账本暂时打不开' })
    expect(q.rows.value).toHaveLength(2)
  })

  it('reloads on refunds-changed, orders-changed and applications-new once loaded', async () => {
    fake.handle('refund_applications_list', () => pending)
    const refunds = useRefundsStore()
    const orders = useOrdersStore()
    await refunds.listen()
    await orders.listen()
    const q = run(() => useRefundQueue())
    fake.emit('refunds-changed', { out_refund_nos: ['R1'] })
    await flush()
    const before = fake.argsOf('refund_applications_list').length // the badge refresh only
    await q.load()
    fake.emit('refunds-changed', { out_refund_nos: ['R1'] })
    await flush()
    fake.emit('orders-changed', { out_trade_nos: ['T1'] })
    await flush()
    fake.emit('applications-new', { applications: [application({ id: 9 })] })
    await flush()
    // each event: one queue reload (+ the store's own badge refresh for refunds/applications events)
    expect(fake.argsOf('refund_applications_list').length - before).toBe(1 + 2 + 1 + 2)
  })

  it('hides decisions from staff', async () => {
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    const q = run(() => useRefundQueue())
    expect(q.canDecide.value).toBe(false)
  })

  it('drops a decided row from PENDING at once, then re-reads', async () => {
    const answers = [pending, [pending[1]!]]
    fake.handle('refund_applications_list', () => answers.shift()!)
    const q = run(() => useRefundQueue())
    await q.load()
    const reload = q.decided({ ...pending[0]!, status: 'REJECTED' })
    expect(q.rows.value.map((r) => r.id)).toEqual([2])
    await reload
    expect(useRefundsStore().pendingCount).toBe(1)
  })
})
