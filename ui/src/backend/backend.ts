// The Backend interface: everything the UI can ask of the Rust side. The real implementation is
// tauri.ts (invoke/listen); unit tests of composables plug in a fake (tests/fakeBackend.ts).
import type { CallArgs, CommandName, CommandResult, EventMap, EventName } from './contract'

export type Unlisten = () => void

export interface Backend {
  /** Runs a command. Rejects with a BackendError `{ code, message }`, never anything else. */
  call<K extends CommandName>(command: K, ...args: CallArgs<K>): Promise<CommandResult<K>>
  /** Subscribes to an event from the Rust side; resolves to the function that unsubscribes. */
  on<E extends EventName>(event: E, handler: (payload: EventMap[E]) => void): Promise<Unlisten>
}
