// A vitest reporter for CI (.ci/run passes it): for every failing test, its file, name, error
// message and the changed lines of its diff (under the key that holds them), appended to the
// file CREDFLOW_FAILURE_DIFFS names. The JSON report keeps only the stack, so a deep-equal
// failure there reads "expected { … } to deeply equal { … }"; this says which field differed.
import { appendFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Reporter, TestCase } from 'vitest/node'

/** Lines of the diff kept per error: enough for the changed fields and their context. */
const DIFF_LINES = 24
const ansi = /\x1b\[[0-9;]*m/g

export default class FailureDiffs implements Reporter {
  #file = process.env.CREDFLOW_FAILURE_DIFFS

  onTestCaseResult(test: TestCase): void {
    const result = test.result()
    if (!this.#file || result.state !== 'failed') return
    const lines = [`${relative(test.project.config.root, test.module.moduleId)}: ${test.fullName}`]
    for (const e of result.errors ?? []) {
      lines.push(`  ${String(e.message ?? e.name ?? 'error').split('\n')[0]}`)
      const diff = typeof e.diff === 'string' ? changed(e.diff.replace(ansi, '').split('\n')) : []
      for (const l of diff.slice(0, DIFF_LINES)) lines.push(`    ${l}`)
      if (diff.length > DIFF_LINES) lines.push(`    … ${diff.length - DIFF_LINES} more diff lines in the log above`)
    }
    appendFileSync(this.#file, lines.join('\n') + '\n')
  }
}

/** The changed lines of a diff ("- Expected"/"+ Received" first), each run of them under the key that holds it. */
export function changed(diff: string[]): string[] {
  const isChange = (l: string) => /^[-+]( |$)/.test(l)
  const indent = (l: string) => l.slice(2).search(/\S|$/)
  const out: string[] = []
  diff.forEach((line, i) => {
    if (!isChange(line)) return
    if (i > 0 && !isChange(diff[i - 1])) {
      let j = i - 1
      while (j > 0 && (isChange(diff[j]) || indent(diff[j]) >= indent(line))) j--
      if (j > 0) out.push(diff[j])
    }
    out.push(line)
  })
  return out
}
