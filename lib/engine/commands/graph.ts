import { EXIT } from '../exit-codes.ts'
import type { CliArgs } from '../args.ts'
import type { CliContext } from '../cli/context.ts'
import { openWorkflow } from '../cli/open-workflow.ts'
import { toMermaid, toTree } from '../graph.ts'
import { clip, terminalWidth } from '../render/style.ts'

/** --graph: the DAG as a Mermaid flowchart (--graph=tree: a plain-text tree). It does not depend on params: no --set needed. */
export async function graphCommand(ctx: CliContext, args: CliArgs): Promise<number> {
  const { wf } = openWorkflow(ctx, args)
  const needs = new Map(wf.nodes.filter((n) => !n.isFinally).map((n) => [n.id, n.needs]))
  const labels = new Map(wf.nodes.map((n) => [n.id, n.spec.description ?? n.spec.run]))
  const finallyIds = wf.nodes.filter((n) => n.isFinally).map((n) => n.id)
  if (args.graphFormat === 'mermaid') ctx.out.write(toMermaid(needs, labels, finallyIds))
  // On a terminal, each line cut to its width (the description goes first); a pipe gets them whole.
  else ctx.out.write(toTree(needs, labels, finallyIds).split('\n').map((l) => clip(l, terminalWidth(ctx.out) ?? Infinity)).join('\n'))
  return EXIT.ok
}
