import { FLAGS } from './args.ts'
import type { Workflow } from './load.ts'
import { paramEnvName } from './params.ts'

/** How operators invoke the CLI, in every printed hint. */
export const CMD = 'npx zx tasks/run.mjs'

export function generalHelp(): string {
  const flags = FLAGS.map((f) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.kind === 'optional' ? ` [${f.arg}]` : f.arg ? ` ${f.arg}` : ''}`
    return `  ${left.padEnd(30)} ${f.help}${f.env ? `\n  ${''.padEnd(30)} env: ${f.env}` : ''}`
  })
  return `credflow: run a credential workflow, a YAML DAG of idempotent, resumable steps.

Usage:
  ${CMD} <workflow> [flags]        run it (every step starts by checking whether it is already done)
  ${CMD} <workflow> --help         its params and steps
  ${CMD} --list                    the workflows in workflows/

Flags:
${flags.join('\n')}

Environment:
  CREDFLOW_WORKFLOW=NAME         the workflow to run when none is named on the command line
  CREDFLOW_WORKFLOWS_DIR=DIR     where workflow files are found (default: workflows/ of this checkout;
                                 steps load from DIR/../tasks)
  CREDFLOW_SET_<PARAM>=VALUE     a param, like --set (tokenFile -> CREDFLOW_SET_TOKENFILE)

Exit codes: 0 success, 1 a node failed (--status: a check could not look), 2 usage or workflow
error, 3 another run holds the lock, 130 interrupted by SIGINT, SIGTERM or SIGHUP (state saved;
continue with --resume).
`
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

export function workflowHelp(wf: Workflow): string {
  const params = Object.entries(wf.params).map(([name, p]) => {
    const def = p.default === undefined ? (p.required ? ' (required)' : '') : ` (default: ${p.secret ? '<secret>' : show(p.default)})`
    return [`  ${name} <${p.type}>${def}`, p.description && `      ${p.description}`, `      --set ${name}=...  or  ${paramEnvName(name)}=...`].filter(Boolean).join('\n')
  })
  const nodes = wf.nodes.map((n) => {
    const tags = [n.isFinally && 'finally', n.spec.interactive && 'interactive', n.spec.confirm && 'confirm', n.forEach && `forEach ${n.forEach.param}`, n.spec.when && `when ${n.spec.when}`]
      .filter(Boolean)
      .join(', ')
    return `  ${n.id.padEnd(16)} ${n.spec.description ?? n.spec.run}${n.needs.length ? `  (after ${n.needs.join(', ')})` : ''}${tags ? `  [${tags}]` : ''}`
  })
  return `${wf.name}: ${wf.description.trim()}

Usage: ${CMD} ${wf.name} [--dry-run] [--resume [id]] [--from NODE] [--only NODE] [--set key=value]... [--status]

Params:
${params.join('\n') || '  (none)'}

Nodes, in order:
${nodes.join('\n')}

Run '${CMD} --help' for every flag.
`
}
