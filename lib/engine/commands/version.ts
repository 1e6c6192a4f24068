import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { EXIT } from '../exit-codes.ts'
import type { CliContext } from '../cli/context.ts'

/** --version: this checkout's package version, the Node.js running it, and where the engine's code came from. */
export async function versionCommand(ctx: CliContext): Promise<number> {
  const { version } = JSON.parse(readFileSync(join(ctx.root, 'package.json'), 'utf8')) as { version: string }
  const engine = ctx.engineDir ? `pre-built, ${relative(ctx.root, ctx.engineDir)}` : 'TypeScript sources'
  ctx.out.write(`credflow ${version} (node ${process.versions.node}; engine: ${engine})\n`)
  return EXIT.ok
}
