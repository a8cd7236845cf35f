// Screens outside the shell: the first-run wizard and the unlock screen.
import type { RouteRecordRaw } from 'vue-router'

export default [
  {
    path: '/setup',
    name: 'setup',
    component: () => import('@/views/setup/wizard/index.vue'),
    meta: { title: 'setup.title', public: 'setup' },
  },
  {
    path: '/unlock',
    name: 'unlock',
    component: () => import('@/views/auth/unlock/index.vue'),
    meta: { title: 'unlock.title', public: 'unlock' },
  },
] satisfies RouteRecordRaw[]
