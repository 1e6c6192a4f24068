import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT } from '../exit-codes.ts'
import type { CliContext } from '../cli/context.ts'

/** --version: this checkout's package version and the Node.js running it. */
export async function versionCommand(ctx: CliContext): Promise<number> {
  const { version } = JSON.parse(readFileSync(join(ctx.root, 'package.json'), 'utf8')) as { version: string }
  ctx.out.write(`credflow ${version} (node ${process.versions.node})\n`)
  return EXIT.ok
}
