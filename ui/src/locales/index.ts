// vue-i18n set-up: zh-CN is the default, English is available; the choice is remembered on this
// computer (localStorage) so the unlock screen already speaks it, and saved in Settings.locale.
import { createI18n } from 'vue-i18n'
import type { Locale } from '@/backend/contract'
import zhCN, { type Messages } from './zh-CN'
import en from './en'

export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
export const DEFAULT_LOCALE: Locale = 'zh-CN'
const STORAGE_KEY = 'paydesk.locale'

export function isLocale(v: unknown): v is Locale {
  return v === 'zh-CN' || v === 'en'
}

export function storedLocale(): Locale {
  try {
    const v = globalThis.localStorage?.getItem(STORAGE_KEY)
    return isLocale(v) ? v : DEFAULT_LOCALE
  } catch {
    return DEFAULT_LOCALE
  }
}

export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: DEFAULT_LOCALE,
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function currentLocale(): Locale {
  return i18n.global.locale.value
}

/** Switches the UI language now and remembers it on this computer. */
export function applyLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  document.documentElement.lang = locale
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, locale)
  } catch {
    // storage unavailable: the choice still holds until the app closes
  }
}
