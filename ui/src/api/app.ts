// App state, vault and settings (contract § "App state and vault").
import { backend, type EventMap, type Settings } from '@/backend'

export const getAppStatus = () => backend().call('app_status')
export const unlockVault = (password: string) => backend().call('vault_unlock', { password })
export const lockVault = () => backend().call('vault_lock')
export const changeVaultPassword = (oldPassword: string, newPassword: string) =>
  backend().call('vault_change_password', { oldPassword, newPassword })
export const getSettings = () => backend().call('settings_get')
export const updateSettings = (settings: Settings) => backend().call('settings_update', { settings })
/** Sets (or, with null, removes) the staff login; owner only, checked with the owner's password. */
export const setStaffPassword = (ownerPassword: string, staffPassword: string | null) =>
  backend().call('staff_password_set', { ownerPassword, staffPassword })
/** Webview activity: resets the shell's idle-lock timer. */
export const touchSession = () => backend().call('session_touch')
/** Tells the shell the first screen is on (its start-up measurement); harmless when nobody listens. */
export const reportFirstScreen = () => backend().call('ui_first_screen')

export const onVaultLocked = (handler: (payload: EventMap['vault-locked']) => void) =>
  backend().on('vault-locked', handler)
