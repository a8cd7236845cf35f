import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend } from '@/backend'
import { FakeBackend, deferred } from '../../tests/fakeBackend'
import { PROGRESS_IDLE_MS, useCloseStore } from './close'

let fake: FakeBackend
beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => {
  setBackend(null)
  vi.useRealTimers()
})

describe('useCloseStore progress', () => {
  it('follows close-progress: a percentage with a total, indeterminate without', async () => {
    const s = useCloseStore()
    await s.listen()
    expect(s.visible).toBe(false)
    fake.emit('close-progress', { day: '2024-03-04', stage: 'import', done: 250, total: 1000 })
    expect(s.visible).toBe(true)
    expect(s.percent).toBe(25)
    fake.emit('close-progress', { day: '2024-03-04', stage: 'download', done: 4096, total: null })
    expect(s.percent).toBeNull()
    expect(s.progress?.stage).toBe('download')
    fake.emit('close-progress', { day: '2024-03-04', stage: 'reconcile', done: 1200, total: 1000 })
    expect(s.percent).toBe(100) // never more than full
    fake.emit('close-progress', { day: '2024-03-04', stage: 'reconcile', done: 1, total: 3 })
    expect(s.percent).toBe(33) // whole percent, rounded down
  })

  it('clears progress nobody here started once the events stop', async () => {
    vi.useFakeTimers()
    const s = useCloseStore()
    await s.listen()
    fake.emit('close-progress', { day: '2024-03-04', stage: 'import', done: 1, total: 10 })
    vi.advanceTimersByTime(PROGRESS_IDLE_MS - 1)
    expect(s.visible).toBe(true)
    vi.advanceTimersByTime(1)
    expect(s.visible).toBe(false)
  })

  it('shows the bar for the whole of an operation it runs, one at a time', async () => {
    vi.useFakeTimers()
    const s = useCloseStore()
    await s.listen()
    const op = deferred<string>()
    const running = s.track('import', null, () => op.promise)
    expect(s.visible).toBe(true)
    expect(s.runningStage).toBe('import')
    await expect(s.track('reconcile', null, async () => 'x')).rejects.toMatchObject({ code: 'busy' })
    fake.emit('close-progress', { day: '2024-03-04', stage: 'import', done: 5, total: 10 })
    vi.advanceTimersByTime(PROGRESS_IDLE_MS * 3) // no idle clearing while it runs
    expect(s.percent).toBe(50)
    op.resolve('done')
    expect(await running).toBe('done')
    expect(s.visible).toBe(false)
  })

  it('hides the bar when the operation fails', async () => {
    const s = useCloseStore()
    await expect(
      s.track('download', '2024-03-04', async () => {
        throw { code: 'wechat_unreachable', message: 'x' }
      }),
    ).rejects.toMatchObject({ code: 'wechat_unreachable' })
    expect(s.visible).toBe(false)
  })
})
