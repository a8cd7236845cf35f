// Routes: the shell (layout/) holds one child per menu area (modules/); the wizard and the unlock
// screen stand alone. The guard asks the session store for the vault state before each move.
import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { useAppStore } from '@/stores/app'
import Layout from '@/layout/index.vue'
import auth from './modules/auth'
import dashboard from './modules/dashboard'
import orders from './modules/orders'
import refunds, { refundsList } from './modules/refunds'
import close, { closeDay } from './modules/close'
import audit from './modules/audit'
import sync from './modules/sync'
import settings from './modules/settings'
import { redirectFor } from './guard'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page title / menu label */
    title?: string
    /** Element Plus icon name for the menu */
    icon?: string
    /** menu order */
    rank?: number
    /** screens reachable without an unlocked vault */
    public?: 'setup' | 'unlock'
  }
}

/** The menu areas, in menu order (the sidebar reads this). */
export const menuRoutes = [dashboard, close, orders, refunds, sync, audit, settings].sort(
  (a, b) => (a.meta?.rank ?? 0) - (b.meta?.rank ?? 0),
)

const routes: RouteRecordRaw[] = [
  ...auth,
  {
    path: '/',
    component: Layout,
    redirect: '/dashboard',
    children: [...menuRoutes, refundsList, closeDay],
  },
  { path: '/:pathMatch(.*)*', redirect: '/dashboard' },
]

// Hash history: the built app is served from tauri:// (or a custom protocol), not a web server.
export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach(async (to) => {
  const app = useAppStore()
  let vault
  try {
    vault = (await app.ensureStatus()).vault
  } catch {
    return true // App.vue shows the start-up error with a retry button
  }
  return redirectFor(vault, to) ?? true
})
