// The harness keeps its promises: every port it opens is on 127.0.0.1, stop() leaves no
// process and no directory behind, and a component that cannot start fails the run with the
// tail of its log. Starts planes of its own (the shared one from globalSetup is not touched).
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBinaries } from '../k8s/binaries.ts'
import { startControlPlane, type ControlPlane } from '../k8s/harness.ts'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Socket inodes a process holds open (from /proc/<pid>/fd). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) out.add(m[1])
    } catch {} // closed while we looked
  }
  return out
}

/** Listening TCP sockets of the whole host (/proc/net/tcp{,6}): local address and inode. */
function listeners(): { address: string; port: number; inode: string }[] {
  const out: { address: string; port: number; inode: string }[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[3] !== '0A') continue // LISTEN
      const [hex, port] = f[1].split(':')
      out.push({ address: decodeAddress(hex), port: parseInt(port, 16), inode: f[9] })
    }
  }
  return out
}

/** /proc/net/tcp addresses are little-endian 32-bit words. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''))
  if (words.length === 1) return words[0].match(/../g)!.map((b) => parseInt(b, 16)).join('.')
  const v6 = words.join('')
  if (v6 === '00000000000000000000000000000001') return '::1'
  if (v6.startsWith('00000000000000000000ffff')) return `::ffff:${decodeAddress(hex.slice(24))}`
  return v6.replace(/(.{4})/g, '$1:').slice(0, -1)
}

describe('a control plane started by the harness', () => {
  let plane: ControlPlane
  beforeAll(async () => {
    plane = await startControlPlane({ onProgress: () => {} })
  }, 120_000)
  afterAll(() => plane?.stop())

  it('listens on 127.0.0.1 only, and the apiserver is among its listeners', () => {
    const mine = listeners().filter((l) => plane.components.some((c) => socketInodes(c.pid).has(l.inode)))
    expect(mine.length).toBeGreaterThanOrEqual(3) // etcd client + peer, kube-apiserver
    expect(mine.map((l) => l.port)).toContain(Number(new URL(plane.server).port))
    for (const l of mine) expect(l.address, `port ${l.port}`).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/)
  })

  it('stop() ends every child, by pid, and removes its directories', async () => {
    const pids = plane.components.map((c) => c.pid)
    expect(plane.components.map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kwok'])
    expect(pids.every(alive)).toBe(true)
    expect(existsSync(plane.runDir) && existsSync(plane.etcdDir)).toBe(true)
    await plane.stop()
    expect(pids.filter(alive)).toEqual([])
    expect(existsSync(plane.runDir)).toBe(false)
    expect(existsSync(plane.etcdDir)).toBe(false)
  })
})

describe('a component that cannot start', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'credflow-badplane-'))
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  it('fails the start with its exit status and log tail, stops what had started and keeps the logs', async () => {
    // The real etcd, kube-controller-manager and kwok, and a kube-apiserver that dies at once.
    const real = await ensureBinaries(() => {})
    const bin = join(scratch, 'bin')
    mkdirSync(bin)
    for (const b of ['etcd', 'kube-controller-manager', 'kwok']) symlinkSync(join(real, b), join(bin, b))
    writeFileSync(join(bin, 'kube-apiserver'), '#!/bin/sh\necho "E1125 run.go:72] error: unable to load server certificate: out of cheese" >&2\nexit 3\n')
    chmodSync(join(bin, 'kube-apiserver'), 0o755)

    const before = new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('credflow-plane-')))
    const err = await startControlPlane({ binDir: bin, onProgress: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err).toBeInstanceOf(Error)
    expect(err!.message).toContain('kube-apiserver exited (exit code 3) before ready (/readyz)')
    expect(err!.message).toContain('out of cheese')
    const kept = /every component's log is kept in (\S+);/.exec(err!.message)?.[1]
    expect(kept).toBeDefined()
    expect(readFileSync(join(kept!, 'kube-apiserver.log'), 'utf8')).toContain('out of cheese')
    expect(existsSync(join(kept!, 'etcd.log'))).toBe(true)
    expect(before.has(kept!.split('/').pop()!)).toBe(false)
    // etcd had started: it was stopped; nothing started from this bin directory still runs.
    const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(bin)
      } catch {
        return false
      }
    })
    expect(left).toEqual([])
    rmSync(kept!, { recursive: true, force: true })
  }, 120_000)
})
