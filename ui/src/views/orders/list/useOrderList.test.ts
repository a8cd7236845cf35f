import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type OrderFilter, type OrderPage } from '@/backend'
import { emptyFilterForm, useOrdersStore } from '@/stores/orders'
import { deferred, FakeBackend, flush } from '../../../../tests/fakeBackend'
import { orderDetail, orderRow } from '../../../../tests/fixtures'
import { buildOrderFilter, MAX_ROW_REFRESH, PAGE_SIZE, useOrderList } from './useOrderList'
import { useOrderDetail } from './useOrderDetail'

let fake: FakeBackend
let scope: EffectScope

beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
  scope = effectScope()
})
afterEach(() => {
  scope.stop()
  setBackend(null)
})

const run = <T>(fn: () => T): T => scope.run(fn) as T
const page = (nos: string[], next: string | null = null): OrderPage => ({
  items: nos.map((n) => orderRow({ out_trade_no: n })),
  next_cursor: next,
})

describe('buildOrderFilter', () => {
  it('sends an empty filter as "everything"', () => {
    expect(buildOrderFilter(emptyFilterForm())).toEqual({
      ok: true,
      filter: { states: [], from_day: null, to_day: null, min_fen: null, max_fen: null, search: null },
    })
  })

  it('converts yuan text to fen exactly and trims the search', () => {
    const r = buildOrderFilter({
      states: ['SUCCESS', 'REFUND'],
      days: ['2024-03-01', '2024-03-14'],
      minYuan: '0.29',
      maxYuan: ' 1,000.5 ',
      search: '  T2024  ',
    })
    expect(r).toEqual({
      ok: true,
      filter: {
        states: ['SUCCESS', 'REFUND'],
        from_day: '2024-03-01',
        to_day: '2024-03-14',
        min_fen: 29,
        max_fen: 100050,
        search: 'T2024',
      },
    })
  })

  it('refuses inexact or malformed amounts, naming the field', () => {
    const r = buildOrderFilter({ ...emptyFilterForm(), minYuan: '1.234', maxYuan: 'abc' })
    expect(r).toEqual({
      ok: false,
      problems: [
        { field: 'minYuan', key: 'money.too_precise' },
        { field: 'maxYuan', key: 'money.malformed' },
      ],
    })
  })

  it('refuses a minimum above the maximum', () => {
    const r = buildOrderFilter({ ...emptyFilterForm(), minYuan: '10', maxYuan: '9.99' })
    expect(r).toEqual({ ok: false, problems: [{ field: 'maxYuan', key: 'orders.filters.rangeInvalid' }] })
  })

  it('puts reversed days in order and accepts an open-ended range', () => {
    const swapped = buildOrderFilter({ ...emptyFilterForm(), days: ['2024-03-09', '2024-03-01'] })
    expect(swapped.ok && [swapped.filter.from_day, swapped.filter.to_day]).toEqual(['2024-03-01', '2024-03-09'])
    const open = buildOrderFilter({ ...emptyFilterForm(), days: ['', '2024-03-09'] })
    expect(open.ok && [open.filter.from_day, open.filter.to_day]).toEqual([null, '2024-03-09'])
  })
})

describe('useOrderList', () => {
  it('loads the first page with the filter, no cursor and the page size', async () => {
    fake.handle('orders_list', () => page(['A', 'B'], 'cur-1'))
    const list = run(() => useOrderList())
    list.form.minYuan = '12.34'
    list.form.states = ['NOTPAY']
    expect(await list.search()).toBe(true)
    expect(fake.argsOf('orders_list')).toEqual([
      {
        filter: { states: ['NOTPAY'], from_day: null, to_day: null, min_fen: 1234, max_fen: null, search: null },
        cursor: null,
        limit: PAGE_SIZE,
      },
    ])
    expect(list.rows.value.map((r) => r.out_trade_no)).toEqual(['A', 'B'])
    expect(list.hasMore.value).toBe(true)
    expect(list.loading.value).toBe(false)
  })

  it('pages with next_cursor and the same filter until the cursor is null', async () => {
    const answers: Record<string, OrderPage> = { first: page(['A', 'B'], 'c1'), c1: page(['C'], 'c2'), c2: page(['D']) }
    fake.handle('orders_list', ({ cursor }) => answers[cursor ?? 'first']!)
    const list = run(() => useOrderList())
    list.form.search = 'T'
    await list.search()
    await list.loadMore()
    await list.loadMore()
    expect(list.rows.value.map((r) => r.out_trade_no)).toEqual(['A', 'B', 'C', 'D'])
    expect(list.hasMore.value).toBe(false)
    const calls = fake.argsOf('orders_list')
    expect(calls.map((c) => c.cursor)).toEqual([null, 'c1', 'c2'])
    expect(new Set(calls.map((c) => JSON.stringify(c.filter))).size).toBe(1)
    expect(await list.loadMore()).toBe(false) // nothing more to load
    expect(fake.argsOf('orders_list')).toHaveLength(3)
  })

  it('pages with the filter that was searched, not with edits made since', async () => {
    fake.handle('orders_list', ({ cursor }) => (cursor ? page(['C']) : page(['A'], 'c1')))
    const list = run(() => useOrderList())
    list.form.maxYuan = '5'
    await list.search()
    list.form.maxYuan = '500' // typed but not searched yet
    await list.loadMore()
    expect(fake.argsOf('orders_list')[1]!.filter.max_fen).toBe(500)
  })

  it('does not call the backend when the filter is invalid, and says why', async () => {
    fake.handle('orders_list', () => page([]))
    const list = run(() => useOrderList())
    list.form.minYuan = '1.005'
    expect(await list.search()).toBe(false)
    expect(fake.calls).toHaveLength(0)
    expect(list.problems.value).toEqual([{ field: 'minYuan', key: 'money.too_precise' }])
  })

  it('keeps only the answer to the latest search when answers arrive out of order', async () => {
    const slow = deferred<OrderPage>()
    const fast = deferred<OrderPage>()
    const queue = [slow, fast]
    fake.handle('orders_list', () => queue.shift()!.promise)
    const list = run(() => useOrderList())
    const first = list.search()
    list.form.search = 'NEW'
    const second = list.search()
    fast.resolve(page(['NEW-1']))
    await second
    slow.resolve(page(['OLD-1', 'OLD-2']))
    await first
    expect(list.rows.value.map((r) => r.out_trade_no)).toEqual(['NEW-1'])
    expect(list.loading.value).toBe(false)
  })

  it('drops a "load more" answer that arrives after a new search', async () => {
    const more = deferred<OrderPage>()
    let n = 0
    fake.handle('orders_list', ({ cursor }) => (cursor ? more.promise : page([`P${++n}`], 'c1')))
    const list = run(() => useOrderList())
    await list.search()
    const loading = list.loadMore()
    await list.search()
    more.resolve(page(['STALE']))
    await loading
    expect(list.rows.value.map((r) => r.out_trade_no)).toEqual(['P2'])
  })

  it('shows the backend message on failure and keeps the rows it had', async () => {
    let fail = false
    fake.handle('orders_list', () => {
      if (fail) throw { code: 'vault_locked', message: '已锁定，请先解锁' }
      return page(['A'])
    })
    const list = run(() => useOrderList())
    await list.search()
    fail = true
    expect(await list.search()).toBe(false)
    expect(list.error.value).toEqual({ code: 'vault_locked', message: '已锁定，请先解锁' })
    expect(list.rows.value.map((r) => r.out_trade_no)).toEqual(['A'])
  })

  it('sets Beijing day presets from "now" (after 16:00 UTC it is already tomorrow in Beijing)', () => {
    const list = run(() => useOrderList({ now: () => Date.UTC(2024, 2, 1, 16, 30) }))
    list.setDayPreset('today')
    expect(list.form.days).toEqual(['2024-03-02', '2024-03-02'])
    list.setDayPreset('last7')
    expect(list.form.days).toEqual(['2024-02-25', '2024-03-02'])
  })

  it('resets the filter and searches again', async () => {
    fake.handle('orders_list', () => page([]))
    const list = run(() => useOrderList())
    list.form.search = 'X'
    list.form.states = ['CLOSED']
    await list.resetFilters()
    expect(list.form).toEqual(emptyFilterForm())
    expect(fake.argsOf('orders_list')[0]!.filter).toEqual<OrderFilter>({
      states: [],
      from_day: null,
      to_day: null,
      min_fen: null,
      max_fen: null,
      search: null,
    })
  })

  it('on orders-changed re-reads listed orders in place and counts the others', async () => {
    fake.handle('orders_list', () => page(['A', 'B']))
    fake.handle('order_detail', ({ outTradeNo }) => orderDetail({ out_trade_no: outTradeNo, state: 'REFUND', refunded_fen: 100 }))
    const store = useOrdersStore()
    await store.listen()
    const list = run(() => useOrderList())
    await list.search()
    fake.emit('orders-changed', { out_trade_nos: ['B', 'Z'] })
    await flush()
    expect(fake.argsOf('order_detail')).toEqual([{ outTradeNo: 'B' }])
    expect(list.rows.value.map((r) => [r.out_trade_no, r.state, r.refunded_fen])).toEqual([
      ['A', 'SUCCESS', 0],
      ['B', 'REFUND', 100],
    ])
    expect(list.changedElsewhere.value).toEqual(['Z'])
    await list.search() // a reload clears the banner
    expect(list.changedElsewhere.value).toEqual([])
  })

  it('re-reads at most MAX_ROW_REFRESH rows one by one; the rest go to the banner', async () => {
    const nos = Array.from({ length: MAX_ROW_REFRESH + 3 }, (_, i) => `N${i}`)
    fake.handle('orders_list', () => page(nos))
    fake.handle('order_detail', ({ outTradeNo }) => orderDetail({ out_trade_no: outTradeNo }))
    const list = run(() => useOrderList())
    await list.search()
    await list.applyChanges(nos)
    expect(fake.argsOf('order_detail')).toHaveLength(MAX_ROW_REFRESH)
    expect(list.changedElsewhere.value).toHaveLength(3)
  })
})

describe('useOrderDetail', () => {
  it('opens an order and computes the refundable remainder exactly', async () => {
    fake.handle('order_detail', () => orderDetail({ total_fee_fen: 1001, refunded_fen: 334 }))
    const d = run(() => useOrderDetail())
    await d.open('T1')
    expect(fake.argsOf('order_detail')).toEqual([{ outTradeNo: 'T1' }])
    expect(d.visible.value).toBe(true)
    expect(d.refundable.value).toBe(667n)
  })

  it('shows no refundable amount for an order that was never paid', async () => {
    fake.handle('order_detail', () => orderDetail({ state: 'NOTPAY', total_fee_fen: 1537 }))
    const d = run(() => useOrderDetail())
    await d.open('T1')
    expect(d.refundable.value).toBeNull()
  })

  it('"Query WeChat now" shows what WeChat said and updates the list row', async () => {
    fake.handle('order_detail', () => orderDetail({ out_trade_no: 'T1', state: 'USERPAYING' }))
    fake.handle('order_query_now', () => orderDetail({ out_trade_no: 'T1', state: 'SUCCESS' }))
    const updated: string[] = []
    const d = run(() => useOrderDetail((row) => updated.push(`${row.out_trade_no}:${row.state}`)))
    await d.open('T1')
    const pending = d.queryNow()
    expect(d.action.value).toBe('query')
    await pending
    expect(fake.argsOf('order_query_now')).toEqual([{ outTradeNo: 'T1' }])
    expect(d.detail.value?.order.state).toBe('SUCCESS')
    expect(updated).toEqual(['T1:SUCCESS'])
    expect(d.action.value).toBeNull()
  })

  it('closes only NOTPAY orders', async () => {
    fake.handle('order_detail', () => orderDetail({ state: 'SUCCESS' }))
    fake.handle('order_close', () => orderDetail({ state: 'CLOSED' }))
    const d = run(() => useOrderDetail())
    await d.open('T1')
    expect(d.canClose.value).toBe(false)
    expect(await d.close()).toBeNull()
    expect(fake.argsOf('order_close')).toHaveLength(0)

    fake.handle('order_detail', () => orderDetail({ state: 'NOTPAY' }))
    await d.open('T2')
    expect(d.canClose.value).toBe(true)
    const closed = await d.close()
    expect(closed?.order.state).toBe('CLOSED')
    expect(fake.argsOf('order_close')).toEqual([{ outTradeNo: 'T2' }])
    expect(d.canClose.value).toBe(false)
  })

  it('shows WeChat refusing an action and keeps the order as it was', async () => {
    fake.handle('order_detail', () => orderDetail({ state: 'NOTPAY' }))
    fake.handle('order_close', () => {
      throw { code: 'wechat_business', message: '微信：订单已支付，不能关闭' }
    })
    const d = run(() => useOrderDetail())
    await d.open('T1')
    expect(await d.close()).toBeNull()
    expect(d.actionError.value).toEqual({ code: 'wechat_business', message: '微信：订单已支付，不能关闭' })
    expect(d.detail.value?.order.state).toBe('NOTPAY')
  })

  it('reloads the open order when orders-changed names it', async () => {
    let state = 'NOTPAY'
    fake.handle('order_detail', () => orderDetail({ out_trade_no: 'T1', state }))
    const store = useOrdersStore()
    const d = run(() => useOrderDetail())
    await d.open('T1')
    state = 'SUCCESS'
    store.noteChanged(['OTHER'])
    await flush()
    expect(d.detail.value?.order.state).toBe('NOTPAY')
    store.noteChanged(['T1'])
    await flush()
    expect(d.detail.value?.order.state).toBe('SUCCESS')
  })
})
