import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'sync',
  name: 'sync',
  component: () => import('@/views/sync/status/index.vue'),
  meta: { title: 'nav.sync', icon: 'Refresh', rank: 4 },
} satisfies RouteRecordRaw
