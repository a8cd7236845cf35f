// The daily close: the month calendar with the 30-day chart (menu entry), and one day's close
// (reached from the calendar, the chart or an import; the menu stays on "Daily close").
import type { RouteRecordRaw } from 'vue-router'

export default {
  path: 'close',
  name: 'close',
  component: () => import('@/views/close/calendar/index.vue'),
  meta: { title: 'nav.close', icon: 'Calendar', rank: 1.5 },
} satisfies RouteRecordRaw

export const closeDay = {
  path: 'close/:day(\\d{4}-\\d{2}-\\d{2})',
  name: 'close-day',
  component: () => import('@/views/close/day/index.vue'),
  meta: { title: 'close.day.menuTitle' },
} satisfies RouteRecordRaw
