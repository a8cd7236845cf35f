// The translated message for a field's problem, for el-form-item's `error` prop.
import { useI18n } from 'vue-i18n'
import type { ProblemField } from '../useSetupWizard'
import { useWizard } from '../context'

export function useFieldError() {
  const { t } = useI18n()
  const { problemOf } = useWizard()
  return (field: ProblemField): string => {
    const p = problemOf(field)
    return p ? t(`setup.errors.${p.key}`, p.params ?? {}) : ''
  }
}
