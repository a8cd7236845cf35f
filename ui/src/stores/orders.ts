// Orders: the list filter (kept while the owner moves between pages) and the change feed from
// the `orders-changed` event that lists and the open drawer refresh from.
import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import type { TradeState } from '@/backend'
import { onOrdersChanged } from '@/api/orders'

/** What the owner typed in the filter bar: amounts as yuan text, days as Beijing days. */
export interface OrderFilterForm {
  states: TradeState[]
  days: [string, string] | null
  minYuan: string
  maxYuan: string
  search: string
}

export function emptyFilterForm(): OrderFilterForm {
  return { states: [], days: null, minYuan: '', maxYuan: '', search: '' }
}

export const useOrdersStore = defineStore('orders', () => {
  const form = reactive<OrderFilterForm>(emptyFilterForm())
  /** Increases on every `orders-changed`; `lastChanged` holds that event's order numbers. */
  const changeSeq = ref(0)
  const lastChanged = ref<string[]>([])

  function noteChanged(outTradeNos: string[]): void {
    lastChanged.value = outTradeNos
    changeSeq.value++
  }

  function resetForm(): void {
    Object.assign(form, emptyFilterForm())
  }

  async function listen(): Promise<void> {
    await onOrdersChanged((p) => noteChanged(p.out_trade_nos))
  }

  return { form, changeSeq, lastChanged, noteChanged, resetForm, listen }
})
