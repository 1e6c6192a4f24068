import { describe, it, expect } from 'vitest'
import type { V1Deployment } from '@kubernetes/client-node'
import { rolloutStatus } from '../../lib/k8s/rollout-status.ts'
import { OpsError } from '../../lib/errors.ts'

function deployment(o: {
  generation?: number; observed?: number; want?: number; replicas?: number; updated?: number; available?: number
  progressingReason?: string; revision?: string
}): V1Deployment {
  return {
    metadata: { name: 'web', namespace: 'shop', generation: o.generation ?? 2, annotations: { 'deployment.kubernetes.io/revision': o.revision ?? '3' } },
    spec: { replicas: o.want ?? 2, selector: {}, template: {} },
    status: {
      observedGeneration: o.observed ?? 2,
      replicas: o.replicas ?? 2,
      updatedReplicas: o.updated ?? 2,
      availableReplicas: o.available ?? 2,
      conditions: o.progressingReason ? [{ type: 'Progressing', status: 'False', reason: o.progressingReason }] : [],
    },
  }
}

describe('rolloutStatus follows kubectl rollout status, branch by branch', () => {
  it('waits while the controller has not observed the spec', () => {
    const s = rolloutStatus(deployment({ generation: 3, observed: 2 }))
    expect(s).toMatchObject({ done: false, message: 'Waiting for deployment spec update to be observed...' })
  })
  it('waits for new replicas to be updated', () => {
    expect(rolloutStatus(deployment({ updated: 1, replicas: 3 })).message)
      .toBe('Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...')
  })
  it('waits for old replicas to terminate', () => {
    expect(rolloutStatus(deployment({ replicas: 3 })).message)
      .toBe('Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...')
  })
  it('waits for updated replicas to become available', () => {
    expect(rolloutStatus(deployment({ available: 1 })).message)
      .toBe('Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...')
  })
  it('is done when everything is updated, available and nothing old remains', () => {
    expect(rolloutStatus(deployment({}))).toMatchObject({ done: true, message: 'deployment "web" successfully rolled out' })
  })
  it('fails with ProgressDeadlineExceeded, checked before replica counts', () => {
    const err = (() => { try { rolloutStatus(deployment({ available: 0, progressingReason: 'ProgressDeadlineExceeded' })) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(OpsError)
    expect((err as OpsError).reason).toBe('ProgressDeadlineExceeded')
    expect((err as OpsError).message).toContain('deployment "web" exceeded its progress deadline')
  })
  it('does not trust a status older than minGeneration (the restart patch)', () => {
    expect(rolloutStatus(deployment({ generation: 2, observed: 2 }), { minGeneration: 3 }).done).toBe(false)
    // even a stale ProgressDeadlineExceeded from the previous rollout is not reported yet
    expect(rolloutStatus(deployment({ observed: 2, progressingReason: 'ProgressDeadlineExceeded' }), { minGeneration: 3 }).done).toBe(false)
  })
  it('with a revision, refuses a Deployment at another one', () => {
    expect(() => rolloutStatus(deployment({ revision: '4' }), { revision: 3 })).toThrow('desired revision (3) is different from the running revision (4)')
    expect(rolloutStatus(deployment({ revision: '3' }), { revision: 3 }).done).toBe(true)
  })
  it('ignores replica counts only when spec.replicas is unset, like kubectl', () => {
    const d = deployment({ updated: 0, replicas: 0, available: 0 })
    delete d.spec!.replicas
    expect(rolloutStatus(d).done).toBe(true)
  })
})
