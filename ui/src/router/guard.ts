// Where a navigation may go, given the vault state. Pure, so it is unit-tested without a router:
//   absent   → only /setup (first run)
//   locked   → only /unlock (remembering where the owner was going)
//   unlocked → everything but /setup and /unlock
import type { VaultState } from '@/backend/contract'

export interface Target {
  name?: string | symbol | null | undefined
  fullPath: string
  query?: Record<string, unknown>
}

export type Redirect = { name: 'setup' } | { name: 'unlock'; query: { redirect: string } } | { path: string }

export function redirectFor(vault: VaultState, to: Target): Redirect | null {
  switch (vault) {
    case 'absent':
      return to.name === 'setup' ? null : { name: 'setup' }
    case 'locked':
      if (to.name === 'unlock') return null
      return { name: 'unlock', query: { redirect: safeRedirect(to.fullPath) } }
    case 'unlocked':
      if (to.name === 'setup' || to.name === 'unlock') {
        const back = typeof to.query?.redirect === 'string' ? to.query.redirect : '/dashboard'
        return { path: safeRedirect(back) }
      }
      return null
  }
}

/** Only in-app paths; never back to the wizard or the unlock screen. */
export function safeRedirect(path: string): string {
  if (!path.startsWith('/') || path.startsWith('//')) return '/dashboard'
  if (path.startsWith('/setup') || path.startsWith('/unlock') || path === '/') return '/dashboard'
  return path
}
