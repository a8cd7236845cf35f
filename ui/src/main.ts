import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n, applyLocale, storedLocale } from './locales'
import { installElementPlus } from './element-plus'
import { reportFirstScreen } from './api/app'
import './styles.css'

applyLocale(storedLocale())

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
installElementPlus(app)
app.use(router)
app.mount('#app')

// Start-up measurement (scripts/bench-app): once the first route is resolved and two frames are painted, the
// first screen is on. Outside the shell the call is refused; that is fine.
void router.isReady().then(() =>
  requestAnimationFrame(() => requestAnimationFrame(() => void reportFirstScreen().catch(() => undefined))),
)
