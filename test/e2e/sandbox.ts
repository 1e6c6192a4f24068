/**
 * The setup every proxied gmail-reauth e2e file shares: fixtures reset, an admin view of the
 * cluster, the Google stand-in sandbox, and the recording apiserver proxy the CLI talks through.
 */
import { resetFixtures } from '../k8s/fixtures.ts'
import { startGmailEnv, type GmailEnv } from './gmail-env.ts'
import { startApiProxy, type ApiProxy } from './api-proxy.ts'
import { clusterView, type ClusterView } from './cluster.ts'

export interface ProxiedSandbox {
  env: GmailEnv
  proxy: ApiProxy
  view: ClusterView
  /** --set flags pointing the workflow at the sandbox, through the proxy. */
  sets: string[]
}

export async function openProxiedSandbox(kubeconfig: string, opts: { decorate?: Parameters<ClusterView['decorateSecret']>[0] } = {}): Promise<ProxiedSandbox> {
  await resetFixtures(kubeconfig)
  const view = await clusterView(kubeconfig)
  if (opts.decorate) await view.decorateSecret(opts.decorate)
  const env = await startGmailEnv({ kubeconfig })
  const proxy = await startApiProxy(kubeconfig, { dir: env.dir })
  return { env, proxy, view, sets: env.sets({ kubeconfig: proxy.kubeconfig }) }
}

/** Stops what `openProxiedSandbox` started (whatever of it exists) and resets the fixtures. */
export async function closeProxiedSandbox(kubeconfig: string, sb: Partial<ProxiedSandbox>): Promise<void> {
  await sb.proxy?.close()
  await sb.env?.close()
  await resetFixtures(kubeconfig)
}
