// The refunds area: the application queue (menu entry, badge with the PENDING count) and the
// refunds themselves (reached from the queue's tabs; the menu stays on "Refunds").
import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'refunds',
  name: 'refunds',
  component: () => import('@/views/refunds/applications/index.vue'),
  meta: { title: 'nav.refunds', icon: 'Money', rank: 3 },
} satisfies RouteRecordRaw

export const refundsList = {
  path: 'refunds/list',
  name: 'refunds-list',
  component: () => import('@/views/refunds/list/index.vue'),
  meta: { title: 'refunds.tabs.refunds' },
} satisfies RouteRecordRaw
