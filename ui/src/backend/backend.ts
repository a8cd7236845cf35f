// The Backend interface: everything the UI can ask of the Rust side. The real implementation is
// tauri.ts (invoke/listen); unit tests of composables plug in a fake (tests/fakeBackend.ts).
import type { CallArgs, CommandName, CommandResult, EventMap, EventName } from './contract'

export type Unlisten = () => void

/**
 * Files dragged from the desktop onto the window (Tauri's webview drag-drop event, not a
 * contract event): `enter` when files come over the window, `leave` when they go away or the
 * drag is cancelled, `drop` with the dropped files' full paths.
 */
export type FileDropEvent = { type: 'enter'; paths: string[] } | { type: 'leave' } | { type: 'drop'; paths: string[] }

export interface Backend {
  /** Runs a command. Rejects with a BackendError `{ code, message }`, never anything else. */
  call<K extends CommandName>(command: K, ...args: CallArgs<K>): Promise<CommandResult<K>>
  /** Subscribes to an event from the Rust side; resolves to the function that unsubscribes. */
  on<E extends EventName>(event: E, handler: (payload: EventMap[E]) => void): Promise<Unlisten>
  /** Subscribes to files dropped onto the window; resolves to the function that unsubscribes. */
  onFileDrop(handler: (event: FileDropEvent) => void): Promise<Unlisten>
}
