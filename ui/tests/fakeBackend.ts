// A test double for the Rust side, for unit tests of composables ONLY (the real app is tested
// end to end against the real shell and wxpay-sim). Each command answers from a handler the test
// sets; every call is recorded; events are emitted by hand.
import type {
  Backend,
  CallArgs,
  CommandArgs,
  CommandName,
  CommandResult,
  EventMap,
  EventName,
  FileDropEvent,
  Unlisten,
} from '@/backend'
import { normalizeError } from '@/backend'

type Handler<K extends CommandName> = (args: CommandArgs<K>) => CommandResult<K> | Promise<CommandResult<K>>

export class FakeBackend implements Backend {
  readonly calls: { command: CommandName; args: unknown }[] = []
  private readonly handlers = new Map<CommandName, Handler<CommandName>>()
  private readonly listeners = new Map<EventName, Set<(payload: never) => void>>()

  /** Sets what a command answers (a value, a promise, or a thrown `{ code, message }`). */
  handle<K extends CommandName>(command: K, handler: Handler<K>): this {
    this.handlers.set(command, handler as unknown as Handler<CommandName>)
    return this
  }

  async call<K extends CommandName>(command: K, ...args: CallArgs<K>): Promise<CommandResult<K>> {
    this.calls.push({ command, args: args[0] })
    const handler = this.handlers.get(command) as Handler<K> | undefined
    if (!handler) throw { code: 'internal', message: `fake backend: no handler for ${command}` }
    try {
      return await handler(args[0] as CommandArgs<K>)
    } catch (e) {
      throw normalizeError(e)
    }
  }

  async on<E extends EventName>(event: E, handler: (payload: EventMap[E]) => void): Promise<Unlisten> {
    const set = this.listeners.get(event) ?? new Set()
    set.add(handler as (payload: never) => void)
    this.listeners.set(event, set)
    return () => set.delete(handler as (payload: never) => void)
  }

  emit<E extends EventName>(event: E, payload: EventMap[E]): void {
    for (const h of this.listeners.get(event) ?? []) (h as (p: EventMap[E]) => void)(payload)
  }

  private readonly dropListeners = new Set<(e: FileDropEvent) => void>()

  async onFileDrop(handler: (event: FileDropEvent) => void): Promise<Unlisten> {
    this.dropListeners.add(handler)
    return () => this.dropListeners.delete(handler)
  }

  /** Files dragged onto the window (`enter` / `leave` / `drop`), as Tauri's webview would say. */
  fileDrop(event: FileDropEvent): void {
    for (const h of this.dropListeners) h(event)
  }

  /** How many handlers listen to an event (or to file drops): checks that pages clean up. */
  listenerCount(event: EventName | 'file-drop'): number {
    return event === 'file-drop' ? this.dropListeners.size : (this.listeners.get(event)?.size ?? 0)
  }

  /** The argument objects of every call of one command, in order. */
  argsOf<K extends CommandName>(command: K): CommandArgs<K>[] {
    return this.calls.filter((c) => c.command === command).map((c) => c.args as CommandArgs<K>)
  }
}

/** A promise the test resolves or rejects when it wants (to test overlapping requests). */
export function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise<void>((r) => setTimeout(r, 0))
