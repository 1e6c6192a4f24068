import { EXIT } from '../exit-codes.ts'
import { readdirSync, existsSync } from 'node:fs'
import { readUserFile, MAX_BYTES } from '../../safe-open.ts'
import { isOpsError } from '../../errors.ts'
import { basename, join } from 'node:path'
import { usageRefusal, type CliContext } from '../cli/context.ts'
import { workflowsDir } from '../cli/open-workflow.ts'
import { CMD } from '../help.ts'
import { shownPath } from '../load.ts'

/** --list: the workflow files and their descriptions, without loading (or validating) them. */
export async function listCommand(ctx: CliContext): Promise<number> {
  const dir = workflowsDir(ctx.env, ctx.root)
  if (!existsSync(dir)) {
    const from = ctx.env.CREDFLOW_WORKFLOWS_DIR ? ` (from CREDFLOW_WORKFLOWS_DIR=${ctx.env.CREDFLOW_WORKFLOWS_DIR})` : ''
    throw usageRefusal(`no workflows directory at ${dir}${from}: point CREDFLOW_WORKFLOWS_DIR at the directory holding the workflow files`)
  }
  ctx.out.write(listWorkflows(dir))
  return EXIT.ok
}

function listWorkflows(dir: string): string {
  const rows = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => {
      let text: string
      try {
        text = readUserFile(join(dir, f), { what: 'workflow file', maxBytes: MAX_BYTES.workflow }).bytes.toString('utf8')
      } catch (e) {
        if (!isOpsError(e)) throw e
        return `  ${basename(f).replace(/\.ya?ml$/, '').padEnd(20)} (cannot be read: ${e.message})`
      }
      const desc = /^description:\s*(?:[>|]-?\s*\n\s+)?(.+)$/m.exec(text)?.[1]?.replace(/^["']|["']$/g, '') ?? ''
      return `  ${basename(f).replace(/\.ya?ml$/, '').padEnd(20)} ${desc}`
    })
  return `Workflows in ${shownPath(dir)}:\n${rows.join('\n')}\n\nRun one: ${CMD} <workflow> [--dry-run]\n`
}
