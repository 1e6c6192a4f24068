import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kwok'] as const

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'build.sh')

/**
 * The directory holding etcd, kube-apiserver, kube-controller-manager and kwok.
 * `$CREDFLOW_K8S_BIN` wins; otherwise build.sh answers (instantly when cached, tens of
 * minutes on a cold cache), and its progress lines go to `onProgress` as they come.
 */
export async function ensureBinaries(onProgress: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  const fromEnv = process.env.CREDFLOW_K8S_BIN
  if (fromEnv) {
    const missing = COMPONENTS.filter((b) => !existsSync(join(fromEnv, b)))
    if (missing.length) throw new Error(`CREDFLOW_K8S_BIN=${fromEnv} lacks ${missing.join(', ')}`)
    return fromEnv
  }
  return runBuildScript(onProgress)
}

function runBuildScript(onProgress: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    const recent: string[] = []
    let partial = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        recent.push(line)
        if (recent.length > 30) recent.shift()
        // `go get` prints one line per module; show our own progress lines and errors only.
        if (!/^go: (added|downloading|upgraded|finding) /.test(line)) onProgress(line)
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const bin = stdout.trim().split('\n').pop() ?? ''
      if (code === 0 && bin && COMPONENTS.every((b) => existsSync(join(bin, b)))) return resolve(bin)
      reject(new Error(`test/k8s/build.sh failed (exit ${code}); last output:\n${[...recent, partial].join('\n')}`))
    })
  })
}
