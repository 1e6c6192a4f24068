/**
 * Where the ops tests find their tools: $CREDFLOW_TOOLS_DIR if set, else the directory
 * test/ops/tools.sh installs into (`tools.sh --print-dir`, which builds nothing); the Debian
 * tools straight from their version-keyed cache directories (`debian-packages.sh --print`), not
 * through that directory's links, which a run of another checkout's tools.sh may point elsewhere.
 * A missing tool is a failure with the command to run, never a skip.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TOOLS_SH = fileURLToPath(new URL('./tools.sh', import.meta.url))
const DEBIAN_SH = fileURLToPath(new URL('./debian-packages.sh', import.meta.url))

export type OpsTool = 'promtool' | 'shellcheck' | 'actionlint' | 'act' | 'tfrender' | 'tofu' | 'prometheus' | 'kube-state-metrics' | 'libfaketime.so.1'

let cachedDir: string | undefined
let debianPaths: Map<string, string> | undefined

export function toolsDir(): string {
  if (process.env.CREDFLOW_TOOLS_DIR) return process.env.CREDFLOW_TOOLS_DIR
  cachedDir ??= execFileSync('bash', [TOOLS_SH, '--print-dir'], { encoding: 'utf8' }).trim()
  return cachedDir
}

/** The Debian tools' paths in their cache directories, as `debian-packages.sh --print` lists them. */
export function debianToolPaths(): Map<string, string> {
  debianPaths ??= new Map(execFileSync('bash', [DEBIAN_SH, '--print'], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ') as [string, string]))
  return debianPaths
}

/** Absolute path of a tool; throws (failing the test) when it is not installed. */
export function toolPath(name: OpsTool): string {
  const dir = toolsDir()
  const path = (!process.env.CREDFLOW_TOOLS_DIR && debianToolPaths().get(name)) || join(dir, name)
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

/**
 * Environment for tofu: the CLI config that points dev_overrides at the built
 * hashicorp/kubernetes provider (no provider registry is reachable), and no prompts.
 */
export function tofuEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dir = toolsDir()
  for (const f of ['tofurc', 'terraform-provider-kubernetes']) {
    if (!existsSync(join(dir, f))) throw new Error(`${f} is not in ${dir}: run \`bash test/ops/tools.sh\``)
  }
  return { ...process.env, TF_CLI_CONFIG_FILE: join(dir, 'tofurc'), TF_IN_AUTOMATION: '1', TF_INPUT: '0', ...extra }
}
