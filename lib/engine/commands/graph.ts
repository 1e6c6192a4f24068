import { EXIT } from '../exit-codes.ts'
import type { CliArgs } from '../args.ts'
import type { CliContext } from '../cli/context.ts'
import { openWorkflow } from '../cli/open-workflow.ts'
import { toMermaid } from '../graph.ts'

/** --graph: the DAG as a Mermaid flowchart. It does not depend on params: no --set needed. */
export async function graphCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const { wf } = openWorkflow(ctx, args)
  const needs = new Map(wf.nodes.filter((n) => !n.isFinally).map((n) => [n.id, n.needs]))
  const labels = new Map(wf.nodes.map((n) => [n.id, n.spec.description ?? n.spec.run]))
  ctx.out.write(toMermaid(needs, labels, wf.nodes.filter((n) => n.isFinally).map((n) => n.id)))
  return EXIT.ok
}
