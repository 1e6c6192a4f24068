import type { Change, Outputs } from './step.ts'

export type NodeStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'cached'
  | 'planned'
  | 'skipped'
  | 'failed'
  | 'blocked'
  | 'interrupted'

/** Statuses after which descendants may start. `planned` exists only in a dry run. */
export const SATISFIED: ReadonlySet<NodeStatus> = new Set(['succeeded', 'cached', 'skipped', 'planned'])

export interface ErrorInfo {
  message: string
  hint?: string
  reason: string
}

export interface InstanceInfo {
  id: string
  node: string
  needs: string[]
  description: string
  isFinally: boolean
  interactive: boolean
}

/** Everything the engine tells the renderers. The state file is built from the same facts. */
export type EngineEvent =
  | { type: 'run-start'; runId: string | undefined; workflow: string; dryRun: boolean; resumeOf?: string; instances: InstanceInfo[] }
  | { type: 'status'; id: string; status: NodeStatus; attempt?: number; reason?: string; error?: ErrorInfo; durationMs?: number; outputs?: Outputs }
  | { type: 'log'; id: string; line: string }
  | { type: 'plan'; id: string; changes: Change[] }
  | { type: 'change'; id: string; change: Change }
  | { type: 'retry'; id: string; attempt: number; delayMs: number; error: ErrorInfo; /** Since the node started. */ elapsedMs?: number }
  | { type: 'notice'; message: string }
  | { type: 'run-end'; status: RunStatus; exitCode: number }

/** `incomplete`: no failure, but some nodes have not run yet (after --only): --resume runs them. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'planned' | 'incomplete'

export type Listener = (e: EngineEvent) => void

export class EventBus {
  #listeners: Listener[] = []
  on(l: Listener): void {
    this.#listeners.push(l)
  }
  emit(e: EngineEvent): void {
    for (const l of this.#listeners) l(e)
  }
}
