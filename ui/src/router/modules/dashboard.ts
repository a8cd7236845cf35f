import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'dashboard',
  name: 'dashboard',
  component: () => import('@/views/dashboard/overview/index.vue'),
  meta: { title: 'nav.dashboard', icon: 'DataLine', rank: 1 },
} satisfies RouteRecordRaw
