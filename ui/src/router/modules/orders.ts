import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'orders',
  name: 'orders',
  component: () => import('@/views/orders/list/index.vue'),
  meta: { title: 'nav.orders', icon: 'Tickets', rank: 2 },
} satisfies RouteRecordRaw
