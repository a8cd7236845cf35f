import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n, applyLocale, storedLocale } from './locales'
import { installElementPlus } from './element-plus'
import './styles.css'

applyLocale(storedLocale())

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
installElementPlus(app)
app.use(router)
app.mount('#app')
