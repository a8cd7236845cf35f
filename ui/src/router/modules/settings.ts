import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'settings',
  name: 'settings',
  component: () => import('@/views/settings/preferences/index.vue'),
  meta: { title: 'nav.settings', icon: 'Setting', rank: 9 },
} satisfies RouteRecordRaw
