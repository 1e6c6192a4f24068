import { z } from 'zod'
import { durationProblem, parseDuration, MAX_TIMER_MS } from '../duration.ts'

/**
 * The shape of `workflows/<name>.yaml`. Strict objects everywhere so a typo is an error,
 * not a silently ignored key. `schemas/workflow.schema.json` is generated from this
 * (npm run schema) and a test fails when the two drift.
 */
const Id = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes, starting with a letter')

const Duration = z
  .string()
  .superRefine((s, ctx) => {
    const problem = durationProblem(s)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
  .describe('A duration: 500ms, 30s, 5m, 1h, 5d (more than zero, less than 24.8d)')

const ParamType = z.enum(['string', 'number', 'boolean', 'duration', 'timestamp', 'list', 'object'])

export const ParamSchema = z
  .strictObject({
    type: ParamType.describe('Value type; --set parses list and object values as JSON'),
    description: z.string().optional().describe('Shown by --help'),
    default: z.unknown().optional().describe('Used when neither --set nor CREDFLOW_SET_<NAME> gives a value'),
    required: z.boolean().optional().describe('Fail with exit 2 when no value is given and there is no default'),
    secret: z.boolean().optional().describe('Never print the value (fingerprint only)'),
    min: z.union([z.number(), z.string()]).optional().describe('Smallest value: a number, or for a duration a duration (default: more than zero)'),
    max: z.union([z.number(), z.string()]).optional().describe('Largest value: a number, or for a duration a duration (default: what a timer can hold, about 24.8d)'),
    integer: z.boolean().optional().describe('A number param: whole numbers only'),
    enum: z.array(z.string()).min(1).optional().describe('A string param: the values it may take (checked at parse time, with "did you mean")'),
  })
  .describe('A typed workflow parameter')

const Retry = z
  .strictObject({
    attempts: z.number().int().min(1).max(20).describe('Total attempts, including the first'),
    backoff: Duration.optional().describe('Delay before the second attempt; doubles each time (default 1s)'),
  })
  // The last wait is backoff * 2^(attempts-2): it must still fit a timer.
  .refine((r) => !r.backoff || (parseDuration(r.backoff) ?? 0) * 2 ** Math.max(0, r.attempts - 2) <= MAX_TIMER_MS, {
    message: 'the last backoff (backoff doubled for each attempt) is longer than a timer can wait (about 24.8 days): fewer attempts or a shorter backoff',
    path: ['backoff'],
  })

const ForEach = z.union([
  z.string().describe('Name of a list param; one instance per item'),
  z.strictObject({
    param: z.string().describe('Name of a list param'),
    key: z.string().optional().describe('Item field that names each instance (default: the item, or its index)'),
  }),
])

export const NodeSchema = z
  .strictObject({
    run: z.string().regex(/^[a-z0-9-]+(\/[a-z0-9-]+)*$/, 'must be a task id like gmail/reauth').describe('Task id: tasks/<id>.ts'),
    description: z.string().optional(),
    needs: z.array(z.string()).optional().describe('Nodes that must succeed first'),
    with: z.record(z.string(), z.unknown()).optional().describe('Inputs; strings may hold ${{ params.x }}, ${{ needs.n.outputs.y }}, ${{ item.z }}'),
    when: z.string().optional().describe('Skip the node unless this expression is true, e.g. ${{ params.prune }}'),
    retry: Retry.optional(),
    timeout: Duration.optional().describe('Per attempt; the step is aborted through its AbortSignal'),
    interactive: z.boolean().optional().describe('Needs an operator at a terminal when its check is not satisfied'),
    confirm: z.boolean().optional().describe('Ask before apply on a terminal; --yes answers for CI'),
    forEach: ForEach.optional().describe('Expand into one node per item of a list param'),
  })
  .describe('A node of the DAG')

export const LockSchema = z
  .strictObject({
    run: z.string().regex(/^[a-z0-9-]+(\/[a-z0-9-]+)*$/, 'must be a task id like k8s/lease').describe('Task id: tasks/<id>.ts, exporting a run lock (acquire, inspect)'),
    description: z.string().optional(),
    with: z.record(z.string(), z.unknown()).optional().describe('Inputs; strings may hold ${{ params.x }} (no outputs: the lock is taken before any node runs)'),
  })
  .describe('A lock held for the whole run, e.g. a Kubernetes Lease: taken before the first node, renewed while the run lives, released at the end; a run that cannot take it exits 3')

export const WorkflowSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1),
    name: Id,
    description: z.string(),
    params: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'param names are camelCase identifiers'), ParamSchema).optional(),
    nodes: z.record(Id, NodeSchema).refine((n) => Object.keys(n).length > 0, 'a workflow needs at least one node'),
    finally: z.record(Id, NodeSchema).optional().describe('Nodes that always run, after the others, and see every status'),
    lock: LockSchema.optional(),
  })
  .describe('A credflow workflow: a DAG of idempotent steps')

export type WorkflowFile = z.infer<typeof WorkflowSchema>
export type NodeSpec = z.infer<typeof NodeSchema>
export type ParamSpec = z.infer<typeof ParamSchema>
export type LockSpec = z.infer<typeof LockSchema>

export function workflowJsonSchema(): unknown {
  return z.toJSONSchema(WorkflowSchema, { target: 'draft-7', io: 'input' })
}
