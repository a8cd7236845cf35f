/// <reference types="vitest/config" />
// Vite config for the webview UI. Tauri loads http://localhost:1420 in `tauri dev` and the built
// `dist/` in `tauri build` (src-tauri/tauri.conf.json: devUrl + frontendDist = "../ui/dist").
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  // Tauri expects a fixed port and wants to see Rust's output in the same terminal.
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: process.env.TAURI_DEV_HOST || false,
    watch: { ignored: ['**/src-tauri/**'] },
  },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  // Compile-time flags: drop vue-i18n's legacy API and devtools hooks from the bundle.
  define: {
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    __VUE_I18N_FULL_INSTALL__: 'false',
    __VUE_I18N_LEGACY_API__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
  },
  build: {
    // ECharts (dashboard only) is the largest chunk; it is loaded with its route, not at start.
    chunkSizeWarningLimit: 900,
    sourcemap: false,
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    // Two cores shared with Rust builds.
    maxWorkers: 1,
  },
})
