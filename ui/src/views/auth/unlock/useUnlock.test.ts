import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from '@/stores/app'
import { FakeBackend } from '../../../../tests/fakeBackend'
import { appStatus } from '../../../../tests/fixtures'
import { useUnlock } from './useUnlock'

let fake: FakeBackend
beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
})
afterEach(() => setBackend(null))

describe('useUnlock', () => {
  it('asks for a password before calling anything', async () => {
    const u = useUnlock()
    expect(await u.submit()).toBeNull()
    expect(u.error.value?.code).toBe('required')
    expect(fake.calls).toHaveLength(0)
  })

  it('shows a wrong password clearly and keeps the form as typed', async () => {
    fake.handle('vault_unlock', () => {
      throw { code: 'wrong_password', message: '密码不正确' }
    })
    const app = useAppStore()
    app.setStatus(appStatus({ vault: 'locked' }))
    const u = useUnlock()
    u.password.value = 'oops'
    expect(await u.submit()).toBeNull()
    expect(u.error.value).toEqual({ code: 'wrong_password', message: '密码不正确' })
    expect(u.password.value).toBe('oops')
    expect(app.vault).toBe('locked')
    expect(u.submitting.value).toBe(false)
  })

  it('unlocks, loads the settings and clears the password', async () => {
    fake.handle('vault_unlock', () => appStatus())
    fake.handle('settings_get', () => ({ idle_lock_minutes: 10, refund_password_threshold_fen: 50000, locale: 'zh-CN' }))
    const app = useAppStore()
    const u = useUnlock()
    u.password.value = 'correct horse'
    expect((await u.submit())?.vault).toBe('unlocked')
    expect(fake.argsOf('vault_unlock')).toEqual([{ password: 'correct horse' }])
    expect(app.vault).toBe('unlocked')
    expect(app.settings?.refund_password_threshold_fen).toBe(50000)
    expect(u.password.value).toBe('')
  })

  it('goes back to the unlock screen state when the shell locks on idle', async () => {
    const app = useAppStore()
    app.setStatus(appStatus())
    await app.listen()
    fake.emit('vault-locked', { reason: 'idle' })
    expect(app.vault).toBe('locked')
    expect(app.lockReason).toBe('idle')
  })
})
