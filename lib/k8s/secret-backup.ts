/**
 * The copy of a Secret taken right before update-secret deletes it, kept as a 0600 file in
 * the run's private state directory until verify-decode passes. It lets `--resume` heal a
 * crash between delete and create without losing the Secret's other keys and labels.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../atomic-file.ts'
import { SecretValue } from '../secret-value.ts'
import type { SecretRef, SecretSnapshot } from './secrets.ts'

interface BackupFile {
  namespace: string
  name: string
  type: string
  labels: Record<string, string>
  annotations: Record<string, string>
  immutable: boolean
  uid: string
  resourceVersion: string
  creationTimestamp: string
  /** base64, as in the Secret itself. */
  data: Record<string, string>
}

export function backupPath(runDir: string, ref: SecretRef): string {
  return join(runDir, `backup-secret-${ref.namespace}-${ref.name}.json`)
}

export function saveBackup(runDir: string, s: SecretSnapshot): string {
  const file: BackupFile = {
    namespace: s.namespace,
    name: s.name,
    type: s.type,
    labels: s.labels,
    annotations: s.annotations,
    immutable: s.immutable,
    uid: s.uid,
    resourceVersion: s.resourceVersion,
    creationTimestamp: s.creationTimestamp.toISOString(),
    data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, v.reveal().toString('base64')])),
  }
  const path = backupPath(runDir, s)
  writeFileAtomic(path, JSON.stringify(file) + '\n', 0o600)
  return path
}

export function loadBackup(runDir: string, ref: SecretRef): SecretSnapshot | undefined {
  const path = backupPath(runDir, ref)
  if (!existsSync(path)) return undefined
  const f = JSON.parse(readFileSync(path, 'utf8')) as BackupFile
  return {
    namespace: f.namespace,
    name: f.name,
    type: f.type,
    labels: f.labels,
    annotations: f.annotations,
    immutable: f.immutable,
    ownerReferences: [],
    uid: f.uid,
    resourceVersion: f.resourceVersion,
    creationTimestamp: new Date(f.creationTimestamp),
    data: Object.fromEntries(Object.entries(f.data).map(([k, v]) => [k, new SecretValue(Buffer.from(v, 'base64'))])),
  }
}

/** Removes the backup of one Secret once its new content is verified. Returns whether there was one. */
export function dropBackup(runDir: string, ref: SecretRef): boolean {
  const path = backupPath(runDir, ref)
  if (!existsSync(path)) return false
  rmSync(path, { force: true })
  return true
}

/**
 * Once a run verified the Secret's new content, every run's backup of it is obsolete: the
 * crashed run that took one would recreate nothing from it (the Secret exists). Returns the
 * run ids whose backup was removed.
 */
export function dropBackupsOfAllRuns(runsDir: string, ref: SecretRef): string[] {
  if (!existsSync(runsDir)) return []
  return readdirSync(runsDir).filter((id) => dropBackup(join(runsDir, id), ref))
}

/** The id of another run (a sibling of `runDir`) that still holds a backup of this Secret. */
export function otherRunBackup(runDir: string, ref: SecretRef): string | undefined {
  return runWithBackup(dirname(runDir), ref, runDir)
}

/** The id of a run under `runsDir` (other than `except`) that holds a backup of this Secret. */
export function runWithBackup(runsDir: string, ref: SecretRef, except?: string): string | undefined {
  if (!existsSync(runsDir)) return undefined
  return readdirSync(runsDir).find((id) => join(runsDir, id) !== except && existsSync(backupPath(join(runsDir, id), ref)))
}
