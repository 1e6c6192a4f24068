import { Listr, DefaultRenderer, PRESET_TIMER, type ListrTaskWrapper } from 'listr2'
import { changeText } from './changes.ts'
import type { EngineEvent, InstanceInfo } from '../events.ts'
import { paint } from './style.ts'

interface Deferred {
  promise: Promise<void>
  resolve(): void
  reject(e: Error): void
}
function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const promise = new Promise<void>((a, b) => ((resolve = a), (reject = b)))
  promise.catch(() => {})
  return { promise, resolve, reject }
}

let active: PausableRenderer | undefined
let started = deferred()

/** listr2's default renderer with pause/resume, so a child process can own the terminal. */
class PausableRenderer extends DefaultRenderer {
  #released = false
  constructor(...args: ConstructorParameters<typeof DefaultRenderer>) {
    super(...args)
    active = this
  }
  override async render(): Promise<void> {
    await super.render()
    started.resolve()
  }
  pause(): void {
    if (this.#released) return
    const self = this as unknown as { spinner: { stop(): void }; updater?: { clear(): void; done(): void }; logger: { process: { release(): void } } }
    // Leave the node list as it stands on the screen (done(), not clear()): the step's own
    // output (a consent URL, a question) goes below it, and the next frame is drawn after that.
    super.update()
    self.spinner.stop()
    self.updater?.done()
    self.logger.process.release()
    this.#released = true
  }
  /** listr2 redraws on every task event; while a step owns the terminal nothing may be drawn over it. */
  override update(): void {
    if (!this.#released) super.update()
  }
  resume(): void {
    if (!this.#released) return
    const self = this as unknown as { spinner: { start(cb: () => void): void }; logger: { process: { hijack(): void } } }
    self.logger.process.hijack()
    self.spinner.start(() => this.update())
    this.#released = false
  }
  override end(): void {
    this.resume() // end() expects the hijacked state it set up
    super.end()
  }
}

/**
 * The live view on a terminal: one listr2 task per node instance. The engine drives
 * everything through events; each task only waits for its instance to settle.
 */
export class TtyView {
  #gates = new Map<string, Deferred>()
  #tasks = new Map<string, ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof DefaultRenderer>>()
  #pending = new Map<string, EngineEvent[]>()
  #list?: Promise<void>

  handle = (e: EngineEvent): void => {
    if (e.type === 'run-start') return this.#start(e.instances, e.dryRun)
    if (e.type === 'notice') return
    if (e.type === 'run-end') return this.#finish()
    const task = this.#tasks.get(e.id)
    if (!task) {
      this.#pending.set(e.id, [...(this.#pending.get(e.id) ?? []), e])
      if (e.type === 'status' && ['cached', 'succeeded', 'planned', 'skipped', 'blocked', 'failed', 'interrupted'].includes(e.status)) {
        // Settled before its task started (e.g. kept from a previous run): settle the gate now.
        this.#settle(e)
      }
      return
    }
    this.#apply(task, e)
  }

  #title(i: InstanceInfo): string {
    return i.needs.length ? `${i.id} ${paint('dim', `← ${i.needs.join(', ')}`)}` : i.id
  }

  #start(instances: InstanceInfo[], dryRun: boolean): void {
    started = deferred()
    for (const i of instances) this.#gates.set(i.id, deferred())
    const list = new Listr(
      instances.map((i) => ({
        title: this.#title(i),
        rendererOptions: { outputBar: 3, persistentOutput: dryRun },
        task: async (_: unknown, task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof DefaultRenderer>) => {
          this.#tasks.set(i.id, task)
          for (const e of this.#pending.get(i.id) ?? []) this.#apply(task, e)
          this.#pending.delete(i.id)
          await this.#gates.get(i.id)!.promise
          if (!this.#settled.has(i.id)) task.skip('not run')
        },
      })),
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false,
        renderer: PausableRenderer as unknown as typeof DefaultRenderer,
        rendererOptions: { collapseSkips: false, collapseErrors: false, showSkipMessage: true, showErrorMessage: true, timer: PRESET_TIMER },
      },
    )
    this.#list = list.run().then(() => undefined, () => undefined)
  }

  /** Nodes that never ran (interrupted run, --only) settle as skipped, so the view can end. */
  #finish(): void {
    for (const [id, gate] of this.#gates) {
      if (this.#settled.has(id)) continue
      gate.resolve()
    }
  }

  #settled = new Set<string>()

  #settle(e: Extract<EngineEvent, { type: 'status' }>): void {
    this.#settled.add(e.id)
    const gate = this.#gates.get(e.id)
    if (!gate) return
    if (e.status === 'failed' || e.status === 'interrupted') gate.reject(new Error(e.error ? e.error.message + (e.error.hint ? `\n  hint: ${e.error.hint}` : '') : e.status))
    else gate.resolve()
  }

  #apply(task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof DefaultRenderer>, e: EngineEvent): void {
    const base = e.type !== 'run-start' && e.type !== 'notice' && e.type !== 'run-end' ? e.id : ''
    switch (e.type) {
      case 'log':
        task.output = e.line
        break
      case 'plan':
        task.output = e.changes.length ? e.changes.map((c) => `would ${changeText(c)}`).join('\n') : 'no changes'
        break
      case 'change':
        task.output = `changed: ${changeText(e.change)}`
        break
      case 'retry':
        task.title = `${base} (attempt ${e.attempt - 1} failed: ${e.error.message}; retrying)`
        break
      case 'status':
        if (e.status === 'running') task.title = `${base}${e.attempt && e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`
        else if (e.status === 'cached') task.title = `${base} ${paint('dim', `(already done: ${e.reason ?? ''})`)}`
        else if (e.status === 'planned') task.title = `${base} ${paint('cyan', `(would change: ${e.reason ?? ''})`)}`
        else if (e.status === 'skipped' || e.status === 'blocked') task.skip(`${e.status}: ${e.reason ?? ''}`)
        else if (e.status === 'succeeded') task.title = base
        if (e.status !== 'pending' && e.status !== 'running') this.#settle(e)
        break
    }
  }

  #terminal: Promise<unknown> = Promise.resolve()

  /** One owner of the terminal at a time; the live view waits until its first frame, then steps aside. */
  withTerminal<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      await started.promise
      active?.pause()
      try {
        return await fn()
      } finally {
        active?.resume()
      }
    }
    const next = this.#terminal.then(run, run)
    this.#terminal = next.catch(() => {})
    return next
  }

  async done(): Promise<void> {
    await this.#list
  }
}
