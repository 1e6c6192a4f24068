import { resolveValue, MissingOutputError, type Scope } from './template.ts'
import type { Change, StepDefinition } from './step.ts'

/** The `with` inputs that can be resolved before upstream nodes have run. */
export interface PartialInputs {
  /** Resolved keys; keys that need unknown upstream outputs are left out (undefined). */
  inputs: Record<string, unknown>
  /** The `with` keys left out. */
  unknownKeys: string[]
  /** The upstream nodes whose outputs those keys wait for, in order of first use. */
  waitingOn: string[]
}

/**
 * Resolves `with` key by key: a key whose template needs an output that is not known yet is
 * left out, every other key is resolved as usual (other template errors still throw).
 */
export function resolvePartialInputs(withSpec: Record<string, unknown>, scope: Scope): PartialInputs {
  const inputs: Record<string, unknown> = {}
  const unknownKeys: string[] = []
  const waitingOn: string[] = []
  for (const [key, value] of Object.entries(withSpec)) {
    try {
      inputs[key] = resolveValue(value, scope)
    } catch (e) {
      if (!(e instanceof MissingOutputError)) throw e
      unknownKeys.push(key)
      if (!waitingOn.includes(e.node)) waitingOn.push(e.node)
    }
  }
  return { inputs, unknownKeys, waitingOn }
}

/** "its inputs x, y are known only after a and b run", for plans and --status. */
export function unknownInputsNote(p: PartialInputs): string {
  const keys = p.unknownKeys.map((k) => `"${k}"`).join(', ')
  return `input${p.unknownKeys.length === 1 ? '' : 's'} ${keys} known only after ${p.waitingOn.join(' and ')} ${p.waitingOn.length === 1 ? 'runs' : 'run'}`
}

export type ProbeResult = { observed?: string; changes: Change[] }

/** Calls the step's probe with the partial inputs; the caller decides what a throw means. */
export async function runProbe(step: StepDefinition, ctx: Parameters<NonNullable<StepDefinition['probe']>>[0]): Promise<ProbeResult> {
  const r = await step.probe!(ctx)
  return { observed: r?.observed, changes: JSON.parse(JSON.stringify(r?.changes ?? [])) as Change[] }
}
