/**
 * Where the ops tests find their tools: $CREDFLOW_TOOLS_DIR if set, else the directory
 * test/ops/tools.sh installs into (`tools.sh --print-dir`, which builds nothing). A missing tool
 * is a failure with the command to run, never a skip.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TOOLS_SH = fileURLToPath(new URL('./tools.sh', import.meta.url))

export type OpsTool = 'promtool' | 'shellcheck' | 'actionlint' | 'act' | 'tfrender'

let cachedDir: string | undefined

export function toolsDir(): string {
  if (process.env.CREDFLOW_TOOLS_DIR) return process.env.CREDFLOW_TOOLS_DIR
  cachedDir ??= execFileSync('bash', [TOOLS_SH, '--print-dir'], { encoding: 'utf8' }).trim()
  return cachedDir
}

/** Absolute path of a tool; throws (failing the test) when it is not installed. */
export function toolPath(name: OpsTool): string {
  const dir = toolsDir()
  const path = join(dir, name)
  if (!existsSync(path)) {
    throw new Error(
      `${name} is not installed in ${dir}: run \`bash test/ops/tools.sh\` (installs the pinned ops tools ` +
        `and prints their directory; export it as CREDFLOW_TOOLS_DIR to use another one)`,
    )
  }
  return path
}

/** Runs a tool from the repository root; never throws on a non-zero exit. */
export function runTool(name: OpsTool, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(toolPath(name), args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, encoding: 'utf8' })
  if (result.error) throw result.error
  return result
}

export interface ToolResult {
  status: number | null
  stdout: string
  stderr: string
}

/** runTool without blocking the event loop, so independent tool runs can overlap. */
export function runToolAsync(name: OpsTool, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  const child = spawn(toolPath(name), args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}
