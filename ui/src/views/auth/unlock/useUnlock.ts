// Unlock: send the password; a wrong one keeps the form as it is and shows the shell's message.
import { ref } from 'vue'
import type { AppStatus, BackendError } from '@/backend'
import { normalizeError } from '@/backend'
import { useAppStore } from '@/stores/app'

export function useUnlock() {
  const app = useAppStore()
  const password = ref('')
  const submitting = ref(false)
  /** `required` when nothing was typed; otherwise the shell's error (wrong_password, …). */
  const error = ref<BackendError | { code: 'required'; message: '' } | null>(null)

  async function submit(): Promise<AppStatus | null> {
    if (submitting.value) return null
    if (!password.value) {
      error.value = { code: 'required', message: '' }
      return null
    }
    submitting.value = true
    error.value = null
    try {
      const status = await app.unlock(password.value)
      password.value = ''
      return status
    } catch (e) {
      error.value = normalizeError(e)
      return null
    } finally {
      submitting.value = false
    }
  }

  return { password, submitting, error, submit }
}
