import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'audit',
  name: 'audit',
  component: () => import('@/views/audit/log/index.vue'),
  meta: { title: 'nav.audit', icon: 'Document', rank: 8 },
} satisfies RouteRecordRaw
