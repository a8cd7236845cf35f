import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope, type EffectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend, type BillFetch } from '@/backend'
import { useCloseStore } from '@/stores/close'
import { deferred, FakeBackend, flush } from '../../../tests/fakeBackend'
import { dayClose } from '../../../tests/fixtures'
import { useBillImport } from './useBillImport'

let fake: FakeBackend
let scope: EffectScope
const run = <T>(fn: () => T): T => scope.run(fn) as T

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

const imported = (path: string): BillFetch => ({
  outcome: 'imported',
  message: `已导入 ${path}`,
  day: dayClose({ day: path.includes('03-03') ? '2024-03-03' : '2024-03-04', status: 'open' }),
})

describe('useBillImport', () => {
  it('imports a picked file with the day read from its rows; cancelling does nothing', async () => {
    fake.handle('bill_pick_file', () => null)
    fake.handle('bill_import', ({ path }) => imported(path))
    const seen: BillFetch[] = []
    const imp = run(() => useBillImport({ onImported: (r) => seen.push(r) }))
    expect(await imp.pickAndImport()).toEqual([])
    expect(fake.argsOf('bill_import')).toHaveLength(0)

    fake.handle('bill_pick_file', () => '/home/shop/bills/2024-03-04.csv.gz')
    await imp.pickAndImport()
    expect(fake.argsOf('bill_import')).toEqual([{ path: '/home/shop/bills/2024-03-04.csv.gz', day: null }])
    expect(seen.map((r) => r.outcome)).toEqual(['imported'])
    const close = useCloseStore()
    expect(close.imports).toHaveLength(1)
    expect(close.latestDay?.day).toBe('2024-03-04') // the day view of that day takes it
  })

  it('imports a pasted path, and needs one', async () => {
    fake.handle('bill_import', ({ path }) => imported(path))
    const imp = run(() => useBillImport())
    imp.path.value = '   '
    expect(await imp.importTyped()).toEqual([])
    expect(imp.problem.value).toBe('close.import.pathRequired')
    imp.path.value = ' /tmp/bill-2024-03-04.csv '
    await imp.importTyped()
    expect(fake.argsOf('bill_import')).toEqual([{ path: '/tmp/bill-2024-03-04.csv', day: null }])
    expect(imp.problem.value).toBeNull()
    expect(imp.path.value).toBe('') // done: the field is cleared
  })

  it('keeps outcomes that are states (already imported, no bill) and failures, with the path', async () => {
    fake.handle('bill_import', ({ path }) => {
      if (path.endsWith('bad.csv')) throw { code: 'invalid_input', message: '这不是微信支付账单' }
      return { outcome: 'already_imported', message: '这份账单已经导入过', day: null }
    })
    const imp = run(() => useBillImport())
    imp.path.value = '/tmp/bad.csv'
    await imp.importTyped()
    expect(imp.path.value).toBe('/tmp/bad.csv') // kept to correct it
    const close = useCloseStore()
    expect(close.imports).toEqual([{ path: '/tmp/bad.csv', result: null, error: { code: 'invalid_input', message: '这不是微信支付账单' } }])
    await imp.importPaths(['/tmp/again.csv'])
    expect(close.imports[0]?.result?.outcome).toBe('already_imported')
  })

  it('imports files dropped onto the window, one after another, with the bar showing', async () => {
    const first = deferred<BillFetch>()
    fake.handle('bill_import', ({ path }) => (path.includes('03-03') ? first.promise : imported(path)))
    const imp = run(() => useBillImport())
    await flush()
    expect(fake.listenerCount('file-drop')).toBe(1)
    fake.fileDrop({ type: 'enter', paths: ['/d/2024-03-03.csv'] })
    expect(imp.dragging.value).toBe(true)
    fake.fileDrop({ type: 'leave' })
    expect(imp.dragging.value).toBe(false)
    fake.fileDrop({ type: 'drop', paths: ['/d/2024-03-03.csv', '/d/2024-03-04.csv'] })
    await flush()
    const close = useCloseStore()
    expect(close.importing).toBe(true)
    expect(close.visible).toBe(true)
    expect(close.progress?.stage).toBe('import')
    expect(fake.argsOf('bill_import')).toHaveLength(1) // the second waits for the first
    // a drop meanwhile is refused, not run alongside
    fake.fileDrop({ type: 'drop', paths: ['/d/other.csv'] })
    expect(imp.problem.value).toBe('close.import.busy')
    first.resolve(imported('/d/2024-03-03.csv'))
    await flush()
    await flush()
    expect(fake.argsOf('bill_import').map((a) => a.path)).toEqual(['/d/2024-03-03.csv', '/d/2024-03-04.csv'])
    expect(close.imports.map((o) => o.result?.day?.day)).toEqual(['2024-03-03', '2024-03-04'])
    expect(close.importing).toBe(false)
    expect(close.visible).toBe(false)
  })

  it('imports for the page’s day when it has one (a bill without rows needs it)', async () => {
    fake.handle('bill_import', ({ path }) => imported(path))
    const imp = run(() => useBillImport({ day: () => '2024-03-04' }))
    await imp.importPaths(['/tmp/empty-day.csv'])
    expect(fake.argsOf('bill_import')).toEqual([{ path: '/tmp/empty-day.csv', day: '2024-03-04' }])
    expect(useCloseStore().imports[0]?.result?.outcome).toBe('imported')
  })

  it('stops listening to drops when its page goes', async () => {
    run(() => useBillImport())
    await flush()
    expect(fake.listenerCount('file-drop')).toBe(1)
    scope.stop()
    expect(fake.listenerCount('file-drop')).toBe(0)
  })
})
