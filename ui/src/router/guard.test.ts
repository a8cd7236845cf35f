import { describe, expect, it } from 'vitest'
import { redirectFor, safeRedirect } from './guard'

const to = (name: string, fullPath: string, query: Record<string, unknown> = {}) => ({ name, fullPath, query })

describe('redirectFor', () => {
  it('sends a first run (no vault) to the setup wizard, whatever was asked', () => {
    expect(redirectFor('absent', to('orders', '/orders'))).toEqual({ name: 'setup' })
    expect(redirectFor('absent', to('unlock', '/unlock'))).toEqual({ name: 'setup' })
    expect(redirectFor('absent', to('setup', '/setup'))).toBeNull()
  })

  it('sends a locked vault to /unlock, remembering the page', () => {
    expect(redirectFor('locked', to('orders', '/orders?search=T1'))).toEqual({
      name: 'unlock',
      query: { redirect: '/orders?search=T1' },
    })
    expect(redirectFor('locked', to('setup', '/setup'))).toEqual({ name: 'unlock', query: { redirect: '/dashboard' } })
    expect(redirectFor('locked', to('unlock', '/unlock'))).toBeNull()
  })

  it('keeps an unlocked vault away from setup and unlock', () => {
    expect(redirectFor('unlocked', to('dashboard', '/dashboard'))).toBeNull()
    expect(redirectFor('unlocked', to('setup', '/setup'))).toEqual({ path: '/dashboard' })
    expect(redirectFor('unlocked', to('unlock', '/unlock', { redirect: '/sync' }))).toEqual({ path: '/sync' })
  })

  it('only redirects inside the app', () => {
    expect(safeRedirect('//evil.example')).toBe('/dashboard')
    expect(safeRedirect('https://evil.example')).toBe('/dashboard')
    expect(safeRedirect('/unlock?x')).toBe('/dashboard')
    expect(safeRedirect('/orders')).toBe('/orders')
  })
})
