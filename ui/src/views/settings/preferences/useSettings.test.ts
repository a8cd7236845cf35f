import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { setBackend } from '@/backend'
import { useAppStore } from '@/stores/app'
import { FakeBackend } from '../../../../tests/fakeBackend'
import { appStatus } from '../../../../tests/fixtures'
import { useSettings } from './useSettings'

let fake: FakeBackend
beforeEach(() => {
  setActivePinia(createPinia())
  fake = new FakeBackend()
  setBackend(fake)
  useAppStore().setStatus(appStatus())
})
afterEach(() => setBackend(null))

describe('useSettings: staff login', () => {
  it('checks the form before asking the shell', async () => {
    const s = useSettings()
    expect(await s.setStaff()).toBe(false)
    expect(s.staffProblem.value).toEqual({ field: 'owner', key: 'settings.staff.ownerRequired' })
    Object.assign(s.staff, { owner: 'owner-pass', next: 'short', next2: 'short' })
    await s.setStaff()
    expect(s.staffProblem.value?.key).toBe('setup.errors.passwordTooShort')
    Object.assign(s.staff, { owner: 'same-pass-1', next: 'same-pass-1', next2: 'same-pass-1' })
    await s.setStaff()
    expect(s.staffProblem.value?.key).toBe('settings.staff.sameAsOwner')
    Object.assign(s.staff, { owner: 'owner-pass', next: 'staff-pass-1', next2: 'staff-pass-2' })
    await s.setStaff()
    expect(s.staffProblem.value?.key).toBe('setup.errors.passwordMismatch')
    expect(fake.calls).toHaveLength(0)
  })

  it('sets the staff password with the owner password, and removes it with null', async () => {
    fake.handle('staff_password_set', () => null)
    const s = useSettings()
    Object.assign(s.staff, { owner: 'owner-pass', next: 'staff-pass-1', next2: 'staff-pass-1' })
    expect(await s.setStaff()).toBe(true)
    expect(s.staff).toEqual({ owner: '', next: '', next2: '' })
    s.staff.owner = 'owner-pass'
    expect(await s.setStaff(true)).toBe(true)
    expect(fake.argsOf('staff_password_set')).toEqual([
      { ownerPassword: 'owner-pass', staffPassword: 'staff-pass-1' },
      { ownerPassword: 'owner-pass', staffPassword: null },
    ])
  })

  it('shows wrong_password and keeps what was typed', async () => {
    fake.handle('staff_password_set', () => {
      throw { code: 'wrong_password', message: '店主密码不正确' }
    })
    const s = useSettings()
    Object.assign(s.staff, { owner: 'nope-nope', next: 'staff-pass-1', next2: 'staff-pass-1' })
    expect(await s.setStaff()).toBe(false)
    expect(s.staffError.value).toEqual({ code: 'wrong_password', message: '店主密码不正确' })
    expect(s.staff.next).toBe('staff-pass-1')
  })

  it('lets staff change nothing', async () => {
    useAppStore().setStatus(appStatus({ user: { name: '小李', role: 'staff' } }))
    const s = useSettings()
    s.form.thresholdYuan = '100'
    expect(await s.save()).toBe(false)
    Object.assign(s.staff, { owner: 'owner-pass', next: 'staff-pass-1', next2: 'staff-pass-1' })
    expect(await s.setStaff()).toBe(false)
    expect(fake.calls).toHaveLength(0)
  })
})
