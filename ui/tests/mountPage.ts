// Mounts a page the way the app does (Pinia, vue-i18n, Element Plus and a router in memory) for the
// few tests that check what the owner actually sees. Element Plus is installed whole here, without
// its CSS (Node cannot import .css); src/element-plus.test.ts checks that the app registers every
// component the templates use.
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Component } from 'vue'
import { i18n, applyLocale } from '@/locales'
import ElementPlus from 'element-plus'
import type { Locale } from '@/backend'

export async function mountPage(page: Component, options: { path?: string; locale?: Locale; pinia?: Pinia } = {}) {
  const pinia = options.pinia ?? createPinia()
  setActivePinia(pinia)
  applyLocale(options.locale ?? 'zh-CN')
  const stub = { template: '<div />' }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/refunds', name: 'refunds', component: stub },
      { path: '/refunds/list', name: 'refunds-list', component: stub },
      { path: '/close', name: 'close', component: stub },
      { path: '/close/:day', name: 'close-day', component: stub },
      { path: '/:rest(.*)*', component: stub },
    ],
  })
  await router.push(options.path ?? '/')
  await router.isReady()
  const wrapper = mount(page, {
    attachTo: document.body,
    global: { plugins: [pinia, i18n, router, ElementPlus] },
  })
  return Object.assign(wrapper, { router })
}

/** Everything in the document with that data-testid (dialogs are teleported to <body>). */
export const byTestId = (id: string) => document.body.querySelector<HTMLElement>(`[data-testid="${id}"]`)
