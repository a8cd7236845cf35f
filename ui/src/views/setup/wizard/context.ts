// The wizard's state is made once in index.vue and shared with the step components.
import { inject, provide, type InjectionKey } from 'vue'
import type { SetupWizard } from './useSetupWizard'

const KEY: InjectionKey<SetupWizard> = Symbol('setup-wizard')

export function provideWizard(w: SetupWizard): void {
  provide(KEY, w)
}

export function useWizard(): SetupWizard {
  const w = inject(KEY)
  if (!w) throw new Error('setup step used outside the wizard')
  return w
}
