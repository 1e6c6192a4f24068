/**
 * Run the Google stand-in on its own for demos:
 *   node test/oauth-server/main.ts [--port N] [--auto-approve] [--testing] [--email a@b] [--client-id ID --client-secret S]
 * Prints one JSON line: {url, endpoints, client: {id, secret, testing}, account}. Drive it with POST /_control/<method>.
 * The client secret it prints is the stand-in's own, made up on the spot.
 */
import { parseArgs } from 'node:util'
import { startGoogleStandIn } from './index.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'auto-approve': { type: 'boolean', default: false },
    testing: { type: 'boolean', default: false },
    email: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
  },
})

const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be 0..65535, got ${values.port}`)
  process.exit(2)
}

const standIn = await startGoogleStandIn({
  port,
  host: values.host,
  autoApprove: values['auto-approve'],
  account: values.email ? { email: values.email } : undefined,
})
const client = standIn.control.registerClient({ id: values['client-id'], secret: values['client-secret'], testing: values.testing })
const account = standIn.control.setAccount({ email: values.email ?? 'operator@example.com' })
console.log(
  JSON.stringify({
    url: standIn.url,
    endpoints: standIn.endpoints,
    client: { id: client.id, secret: client.secret, testing: client.testing },
    account: account.email,
  }),
)

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void standIn.close().then(() => process.exit(0)))
}
