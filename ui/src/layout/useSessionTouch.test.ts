import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { effectScope } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from '@/stores/app'
import { FakeBackend, flush } from '../../tests/fakeBackend'
import { appStatus } from '../../tests/fixtures'
import { TOUCH_INTERVAL_MS, useSessionTouch } from './useSessionTouch'

let fake: FakeBackend
beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  fake.handle('session_touch', () => null)
  setBackend(fake)
})
afterEach(() => setBackend(null))

describe('useSessionTouch', () => {
  it('touches the session on activity at most once per interval, only while unlocked', async () => {
    useAppStore().setStatus(appStatus())
    let now = 1_000_000
    const target = new EventTarget()
    const scope = effectScope()
    scope.run(() => useSessionTouch({ now: () => now, target }))
    target.dispatchEvent(new Event('pointermove'))
    target.dispatchEvent(new Event('keydown'))
    now += TOUCH_INTERVAL_MS - 1
    target.dispatchEvent(new Event('pointerdown'))
    await flush()
    expect(fake.argsOf('session_touch')).toHaveLength(1)
    now += 1
    target.dispatchEvent(new Event('wheel'))
    await flush()
    expect(fake.argsOf('session_touch')).toHaveLength(2)

    useAppStore().markLocked('idle')
    now += TOUCH_INTERVAL_MS
    target.dispatchEvent(new Event('keydown'))
    await flush()
    expect(fake.argsOf('session_touch')).toHaveLength(2)

    scope.stop() // listeners removed
    useAppStore().setStatus(appStatus())
    now += TOUCH_INTERVAL_MS
    target.dispatchEvent(new Event('keydown'))
    await flush()
    expect(fake.argsOf('session_touch')).toHaveLength(2)
  })
})
