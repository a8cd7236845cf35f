// The session: what app_status says (vault state, merchant, user), the settings once unlocked,
// and the UI language.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { AppStatus, BackendError, Locale, Settings } from '@/backend'
import { normalizeError } from '@/backend'
import { getAppStatus, getSettings, lockVault, onVaultLocked, unlockVault, updateSettings } from '@/api/app'
import { applyLocale, currentLocale } from '@/locales'

export const useAppStore = defineStore('app', () => {
  const status = ref<AppStatus | null>(null)
  const statusError = ref<BackendError | null>(null)
  const settings = ref<Settings | null>(null)
  const lockReason = ref<'idle' | 'user' | null>(null)
  const locale = ref<Locale>(currentLocale())

  const vault = computed(() => status.value?.vault ?? null)
  const merchant = computed(() => status.value?.merchant ?? null)
  const user = computed(() => status.value?.user ?? null)
  const sandbox = computed(() => status.value?.merchant?.sandbox ?? false)
  /** Staff see orders and register refund applications; the shell refuses the rest (`forbidden`). */
  const isStaff = computed(() => status.value?.user?.role === 'staff')

  function setStatus(next: AppStatus): void {
    status.value = next
    if (next.vault !== 'unlocked') settings.value = null
  }

  /** Asks the shell; keeps the error for the start screen and rethrows it. */
  async function refreshStatus(): Promise<AppStatus> {
    try {
      const next = await getAppStatus()
      statusError.value = null
      setStatus(next)
      return next
    } catch (e) {
      statusError.value = normalizeError(e)
      throw statusError.value
    }
  }

  async function ensureStatus(): Promise<AppStatus> {
    return status.value ?? refreshStatus()
  }

  async function loadSettings(): Promise<Settings> {
    const s = await getSettings()
    settings.value = s
    setLocale(s.locale, false)
    return s
  }

  /** Rejects with `wrong_password` (nothing changed) so the unlock form can say so. */
  async function unlock(password: string): Promise<AppStatus> {
    const next = await unlockVault(password)
    lockReason.value = null
    setStatus(next)
    if (next.vault === 'unlocked') await loadSettings().catch(() => undefined)
    return next
  }

  async function lock(): Promise<void> {
    const next = await lockVault()
    lockReason.value = 'user'
    setStatus(next)
  }

  /** The shell locked the vault by itself (idle) or another window did. */
  function markLocked(reason: 'idle' | 'user'): void {
    lockReason.value = reason
    if (status.value) setStatus({ ...status.value, vault: 'locked' })
  }

  async function saveSettings(next: Settings): Promise<Settings> {
    const saved = await updateSettings(next)
    settings.value = saved
    setLocale(saved.locale, false)
    return saved
  }

  /** Switches the language now; when unlocked also saves it in the settings. */
  function setLocale(next: Locale, persist = true): Promise<unknown> {
    applyLocale(next)
    locale.value = next
    // Staff may not change settings: their language choice stays on this computer only.
    if (persist && settings.value && settings.value.locale !== next && vault.value === 'unlocked' && !isStaff.value) {
      return saveSettings({ ...settings.value, locale: next }).catch(() => undefined)
    }
    return Promise.resolve()
  }

  async function listen(): Promise<void> {
    await onVaultLocked((p) => markLocked(p.reason))
  }

  return {
    status,
    statusError,
    settings,
    lockReason,
    locale,
    vault,
    merchant,
    user,
    sandbox,
    isStaff,
    setStatus,
    refreshStatus,
    ensureStatus,
    loadSettings,
    unlock,
    lock,
    markLocked,
    saveSettings,
    setLocale,
    listen,
  }
})
