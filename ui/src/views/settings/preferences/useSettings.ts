// Settings: idle lock, the refund password threshold (yuan text ↔ fen), language, the owner's
// password, and the staff login (owner only). Staff see the settings but cannot change them.
import { reactive, ref } from 'vue'
import type { BackendError } from '@/backend'
import { normalizeError } from '@/backend'
import { changeVaultPassword, setStaffPassword } from '@/api/app'
import { useAppStore } from '@/stores/app'
import { fenToYuanText, parseYuan } from '@/utils/money'
import { MIN_PASSWORD_LENGTH } from '@/views/setup/wizard/useSetupWizard'

export const IDLE_LOCK_MIN = 1
export const IDLE_LOCK_MAX = 240

export function useSettings() {
  const app = useAppStore()
  // The language is not part of this form: it switches at once (app.setLocale) wherever it is
  // chosen, so Save can never put back an older choice.
  const form = reactive({ idleLockMinutes: 10, thresholdYuan: '' })
  const loading = ref(false)
  const saving = ref(false)
  const error = ref<BackendError | null>(null)
  /** i18n key of the threshold's problem */
  const thresholdProblem = ref<string | null>(null)

  function fill(): void {
    const s = app.settings
    if (!s) return
    form.idleLockMinutes = s.idle_lock_minutes
    form.thresholdYuan = fenToYuanText(s.refund_password_threshold_fen)
  }

  async function load(): Promise<void> {
    loading.value = true
    try {
      await app.loadSettings()
      error.value = null
      fill()
    } catch (e) {
      error.value = normalizeError(e)
    } finally {
      loading.value = false
    }
  }

  async function save(): Promise<boolean> {
    if (app.isStaff) return false // the shell would answer `forbidden`
    const parsed = parseYuan(form.thresholdYuan)
    if (!parsed.ok) {
      thresholdProblem.value = `money.${parsed.error}`
      return false
    }
    thresholdProblem.value = null
    const minutes = Math.min(IDLE_LOCK_MAX, Math.max(IDLE_LOCK_MIN, Math.round(form.idleLockMinutes)))
    saving.value = true
    try {
      await app.saveSettings({
        idle_lock_minutes: minutes,
        refund_password_threshold_fen: parsed.fen,
        locale: app.locale,
      })
      error.value = null
      fill()
      return true
    } catch (e) {
      error.value = normalizeError(e)
      return false
    } finally {
      saving.value = false
    }
  }

  // ---- password ----------------------------------------------------------------------------

  const pw = reactive({ old: '', next: '', next2: '' })
  const changing = ref(false)
  /** i18n key of the password form's problem */
  const pwProblem = ref<{ field: 'old' | 'next' | 'next2'; key: string } | null>(null)
  const pwError = ref<BackendError | null>(null)

  function passwordProblem(): { field: 'old' | 'next' | 'next2'; key: string } | null {
    if (!pw.old) return { field: 'old', key: 'settings.password.oldRequired' }
    if (pw.next.length < MIN_PASSWORD_LENGTH) return { field: 'next', key: 'setup.errors.passwordTooShort' }
    if (pw.next === pw.old) return { field: 'next', key: 'settings.password.same' }
    if (pw.next !== pw.next2) return { field: 'next2', key: 'setup.errors.passwordMismatch' }
    return null
  }

  /** Rejected with `wrong_password` when the current password is wrong; nothing changes then. */
  async function changePassword(): Promise<boolean> {
    pwProblem.value = passwordProblem()
    if (pwProblem.value) return false
    changing.value = true
    pwError.value = null
    try {
      await changeVaultPassword(pw.old, pw.next)
      Object.assign(pw, { old: '', next: '', next2: '' })
      return true
    } catch (e) {
      pwError.value = normalizeError(e)
      return false
    } finally {
      changing.value = false
    }
  }

  // ---- staff login ------------------------------------------------------------------------

  type StaffField = 'owner' | 'next' | 'next2'
  const staff = reactive({ owner: '', next: '', next2: '' })
  const staffBusy = ref<'set' | 'remove' | null>(null)
  const staffProblem = ref<{ field: StaffField; key: string } | null>(null)
  const staffError = ref<BackendError | null>(null)

  function staffProblemFor(removing: boolean): { field: StaffField; key: string } | null {
    if (!staff.owner) return { field: 'owner', key: 'settings.staff.ownerRequired' }
    if (removing) return null
    if (staff.next.length < MIN_PASSWORD_LENGTH) return { field: 'next', key: 'setup.errors.passwordTooShort' }
    // The shell tries the owner's vault first: a staff password equal to it would open as owner.
    if (staff.next === staff.owner) return { field: 'next', key: 'settings.staff.sameAsOwner' }
    if (staff.next !== staff.next2) return { field: 'next2', key: 'setup.errors.passwordMismatch' }
    return null
  }

  /** Sets the staff password (or, with `remove`, removes the staff login); checked with the owner's password. */
  async function setStaff(remove = false): Promise<boolean> {
    if (staffBusy.value || app.isStaff) return false
    staffProblem.value = staffProblemFor(remove)
    if (staffProblem.value) return false
    staffBusy.value = remove ? 'remove' : 'set'
    staffError.value = null
    try {
      await setStaffPassword(staff.owner, remove ? null : staff.next)
      Object.assign(staff, { owner: '', next: '', next2: '' })
      return true
    } catch (e) {
      staffError.value = normalizeError(e)
      return false
    } finally {
      staffBusy.value = null
    }
  }

  return {
    form,
    loading,
    saving,
    error,
    thresholdProblem,
    load,
    save,
    fill,
    pw,
    changing,
    pwProblem,
    pwError,
    changePassword,
    staff,
    staffBusy,
    staffProblem,
    staffError,
    setStaff,
  }
}
