/**
 * Hostile cases that need no cluster (run by test/unit/hostile-local.test.ts): parse-time
 * numbers and durations, files that are not what they claim, the state directory, resume,
 * signals during a wait, the exit table. The gmail-reauth workflow is the real one.
 */
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { ROOT as ROOT_DIR } from '../fixtures/engine/harness.ts'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { HostileCase } from './case.ts'
import { type LocalSandbox } from './local.ts'

type Case = HostileCase<LocalSandbox>

const USAGE = "Run 'npx zx tasks/run.mjs --help' for usage."
const REFUSED = 'nothing was changed and no run was recorded'
const DRY_RUN_DONE = 'dry run: nothing was changed and no state was written'
const mkfifo = (p: string) => execFileSync('mkfifo', [p])
const RUN_ID = '20261201T020000Z-ab12'

/** A recorded run of gmail-reauth (failed at restart), for resume cases; `patch` edits the document. */
function recordRun(s: LocalSandbox, text: string | ((doc: Record<string, unknown>) => unknown), runId = RUN_ID): string {
  const dir = join(s.stateDir, 'gmail-reauth', 'runs', runId)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const doc = {
    schema: 1,
    tool: 'credflow',
    workflow: 'gmail-reauth',
    file: 'workflows/gmail-reauth.yaml',
    workflowHash: 'sha256:0',
    runId,
    status: 'failed',
    params: {},
    host: 'h',
    pid: 1,
    startedAt: '2026-12-01T02:00:00.000Z',
    updatedAt: '2026-12-01T02:00:00.000Z',
    resumes: 0,
    nodes: {},
  }
  const body = typeof text === 'string' ? text : JSON.stringify(text(doc) ?? doc)
  writeFileSync(join(dir, 'state.json'), body, { mode: 0o600 })
  return join(dir, 'state.json')
}

const param = (name: string, value: string, ...phrases: Array<string | RegExp>): Omit<Case, 'id' | 'cls' | 'did'> => ({
  exit: 2,
  says: [`--set ${name}: `, ...phrases, USAGE],
  run: (s) => ({ args: s.args('--set', `${name}=${value}`) }),
})

export const LOCAL_CASES: Case[] = [
  // 3: durations and numbers, refused at parse time naming the param and the range
  { id: 'L01', cls: 3, did: '--set rolloutTimeout=30d (beyond what a timer holds)', ...param('rolloutTimeout', '30d', '30d is longer than a timer can wait (about 24.8 days); allowed: 1s to 6h') },
  { id: 'L02', cls: 3, did: '--set rolloutTimeout=0s', ...param('rolloutTimeout', '0s', '0s is zero; allowed: 1s to 6h') },
  { id: 'L03', cls: 3, did: '--set rolloutTimeout=-5m', ...param('rolloutTimeout', '-5m', 'must be a duration like 30s, 5m or 5d, got "-5m"') },
  { id: 'L04', cls: 3, did: '--set rolloutTimeout=7h (over its maximum)', ...param('rolloutTimeout', '7h', '7h is too long; allowed: 1s to 6h') },
  { id: 'L05', cls: 3, did: '--set reauthAfter=30d (past what a timer holds)', ...param('reauthAfter', '30d', '30d is longer than a timer can wait (about 24.8 days); allowed: 0s to 24d') },
  { id: 'L06', cls: 3, did: '--set reauthAfter=10 (no unit)', ...param('reauthAfter', '10', 'must be a duration like 30s, 5m or 5d, got "10"') },
  { id: 'L07', cls: 3, did: '--set requestTimeout=0ms', ...param('requestTimeout', '0ms', '0ms is zero; allowed: 1s to 10m') },
  { id: 'L08', cls: 3, did: '--set requestTimeout=500ms (under its minimum)', ...param('requestTimeout', '500ms', '500ms is too short; allowed: 1s to 10m') },
  {
    id: 'L09',
    cls: 3,
    did: '--request-timeout 25d (the flag, beyond a timer)',
    exit: 2,
    says: ['--set requestTimeout: 25d is longer than a timer can wait (about 24.8 days); allowed: 1s to 10m'],
    run: (s) => ({ args: s.args('--request-timeout', '25d') }),
  },
  {
    id: 'L10',
    cls: 3,
    did: 'CREDFLOW_SET_ROLLOUTTIMEOUT=1y in the environment',
    exit: 2,
    says: ['CREDFLOW_SET_ROLLOUTTIMEOUT: rolloutTimeout must be a duration like 30s, 5m or 5d, got "1y"'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_SET_ROLLOUTTIMEOUT: '1y' } }),
  },
  { id: 'L11', cls: 3, did: '--set loopbackPort=70000', ...param('loopbackPort', '70000', '70000 is out of range; allowed: 0 to 65535, whole numbers') },
  { id: 'L12', cls: 3, did: '--set loopbackPort=-1', ...param('loopbackPort', '-1', '-1 is out of range; allowed: 0 to 65535') },
  { id: 'L13', cls: 3, did: '--set loopbackPort=80.5', ...param('loopbackPort', '80.5', 'must be a whole number, got 80.5') },
  { id: 'L14', cls: 3, did: '--set loopbackPort=http', ...param('loopbackPort', 'http', 'must be a number, got "http"') },
  { id: 'L15', cls: 3, did: "--set targets=oops (not JSON)", ...param('targets', 'oops', `must be JSON (a list, e.g. '["a","b"]'; quote it for the shell), got "oops"`) },
  { id: 'L16', cls: 3, did: '--set targets={"namespace":"x"} (a map, not a list)', ...param('targets', '{"namespace":"x"}', 'must be a list, got object') },
  { id: 'L17', cls: 3, did: '--set requiredScopes=gmail.send (not JSON)', ...param('requiredScopes', 'gmail.send', 'must be JSON (a list') },
  { id: 'L18', cls: 3, did: '--set targets=[{"namespace": (truncated JSON)', ...param('targets', '[{"namespace":', 'must be JSON') },
  {
    id: 'L19',
    cls: 3,
    did: '--max-parallel 1000',
    exit: 2,
    says: ['--max-parallel 1000: expected a whole number from 1 to 64', USAGE],
    run: (s) => ({ args: s.args('--max-parallel', '1000') }),
  },
  {
    id: 'L20',
    cls: 3,
    did: '--max-parallel 0',
    exit: 2,
    says: ['--max-parallel 0: expected a whole number from 1 to 64'],
    run: (s) => ({ args: s.args('--max-parallel', '0') }),
  },
  {
    id: 'L21',
    cls: 3,
    did: 'a workflow file with timeout: 30d on a node',
    exit: 2,
    says: ['invalid workflow:', 'nodes.update-secret.timeout: 30d is longer than a timer can wait (about 24.8 days)', 'fix each problem at the position shown (file:line:col)'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_WORKFLOWS_DIR: editedWorkflow(s, (t) => t.replace('    timeout: 2m\n', '    timeout: 30d\n')) } }),
  },
  {
    id: 'L22',
    cls: 3,
    did: 'a workflow file with retry backoff 1d over 20 attempts',
    exit: 2,
    says: ['retry.backoff: the last backoff (backoff doubled for each attempt) is longer than a timer can wait'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_WORKFLOWS_DIR: editedWorkflow(s, (t) => t.replace('retry: { attempts: 3, backoff: 2s }', 'retry: { attempts: 20, backoff: 1d }')) } }),
  },
  {
    id: 'L23',
    cls: 3,
    did: 'a workflow param default out of its own range',
    exit: 2,
    says: ['params.rolloutTimeout.default: default 9h is too long; allowed: 1s to 6h'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_WORKFLOWS_DIR: editedWorkflow(s, (t) => t.replace('    default: 5m\n    min: 1s\n    max: 6h', '    default: 9h\n    min: 1s\n    max: 6h')) } }),
  },

  // 1: inputs judged against each other before anything runs (no cluster needed for these)
  {
    id: 'L24',
    cls: 1,
    did: '--set account=westsidebasketball (not an email address)',
    exit: 2,
    says: ['refused before any change', 'reauth, verify-scopes: input account (from param account): Invalid email address', 'fix it: --set account=', REFUSED],
    run: (s) => ({ args: s.args('--set', 'account=westsidebasketball') }),
  },
  {
    id: 'L25',
    cls: 1,
    did: '--set requiredScopes=[] (no scope to check)',
    exit: 2,
    says: ['reauth, verify-scopes: input requiredScopes (from param requiredScopes): Too small: expected array to have >=1 items'],
    run: (s) => ({ args: s.args('--set', 'requiredScopes=[]') }),
  },
  {
    id: 'L26',
    cls: 1,
    did: '--set reauthMode=manual (not one of its values)',
    exit: 2,
    says: ['--set reauthMode: must be one of builtin, external, got "manual"', USAGE],
    never: ['did you mean'],
    run: (s) => ({ args: s.args('--set', 'reauthMode=manual') }),
  },
  {
    id: 'L27',
    cls: 1,
    did: 'two targets with the same namespace',
    exit: 2,
    says: ['param targets: targets[0] and targets[1] both have namespace "basketball-api"', 'so the two would race on the same objects', 'merge them into one item'],
    run: (s) => ({ args: s.args('--set', `targets=${JSON.stringify([target(), target({ secret: 'other' })])}`) }),
  },
  {
    id: 'L28',
    cls: 1,
    did: 'a target without a namespace',
    exit: 2,
    says: ['targets[0] has no "namespace" (a non-empty string): every item needs one'],
    run: (s) => ({ args: s.args('--set', `targets=${JSON.stringify([{ secret: 'gmail-oauth-token', key: 'k', deployments: ['d'] }])}`) }),
  },
  {
    id: 'L29',
    cls: 1,
    did: 'a target whose staleSecrets names the target Secret itself',
    exit: 2,
    says: ['delete-stale[basketball-api]: input names (from targets item basketball-api field staleSecrets): staleSecrets must not list the Secret being updated'],
    run: (s) => ({ args: s.args('--set', `targets=${JSON.stringify([target({ staleSecrets: ['gmail-oauth-token'] })])}`) }),
  },
  {
    id: 'L30',
    cls: 1,
    did: 'a target with no Deployments to restart',
    exit: 2,
    says: ['restart[basketball-api]: input deployments (from targets item basketball-api field deployments): lists no Deployment: nothing would restart'],
    run: (s) => ({ args: s.args('--set', `targets=${JSON.stringify([target({ deployments: [] })])}`) }),
  },
  {
    id: 'L31',
    cls: 1,
    did: 'a target given as a string, not an object',
    exit: 2,
    says: ['targets[0] has no "namespace"'],
    run: (s) => ({ args: s.args('--set', 'targets=["basketball-api/gmail-oauth-token"]') }),
  },
  {
    id: 'L32',
    cls: 4,
    did: 'client secrets of another client than the one the token file was issued to',
    exit: 2,
    says: [/client secrets file \S+other-client\.json is for client other\.apps\.googleusercontent\.com, but the token file was issued to client fixture-client/, 'give the client secrets of the client that issued the token'],
    // On the plane the token file is a grant of the stand-in's own client (a generated id).
    onPlane: { exit: 2, says: [/client secrets file \S+other-client\.json is for client other\.apps\.googleusercontent\.com, but the token file was issued to client \d+-\w+\.apps\.googleusercontent\.com/, REFUSED] },
    run: (s) => {
      const other = join(s.dir, 'other-client.json')
      writeFileSync(other, JSON.stringify({ installed: { client_id: 'other.apps.googleusercontent.com', client_secret: 'x' } }), { mode: 0o600 })
      return { args: s.args('--set', `clientSecretsFile=${other}`) }
    },
  },

  // 4: files that are not what they claim; no blocking, no reading of devices
  {
    id: 'L33',
    cls: 4,
    did: 'tokenFile is a FIFO (nobody writing to it)',
    exit: 2,
    says: [/reauth: token file \S+token\.fifo is a FIFO \(named pipe\), not a regular file: refusing to read it/],
    run: (s) => {
      mkfifo(join(s.dir, 'token.fifo'))
      return { args: s.args('--set', `tokenFile=${join(s.dir, 'token.fifo')}`), deadlineMs: 20_000 }
    },
  },
  { id: 'L34', cls: 4, did: 'tokenFile=/dev/zero', exit: 2, says: ['token file /dev/zero is a character device, not a regular file'], run: (s) => ({ args: s.args('--set', 'tokenFile=/dev/zero') }) },
  { id: 'L35', cls: 4, did: 'tokenFile=/proc/self/environ', exit: 2, says: ['token file /proc/self/environ is on the proc pseudo-filesystem'], run: (s) => ({ args: s.args('--set', 'tokenFile=/proc/self/environ') }) },
  { id: 'L36', cls: 4, did: 'tokenFile is a directory', exit: 2, says: [/token file \S+\/secrets is a directory, not a regular file/], run: (s) => ({ args: s.args('--set', `tokenFile=${join(s.dir, 'secrets')}`) }) },
  {
    id: 'L37',
    cls: 4,
    did: 'tokenFile is a 10 MB log file',
    exit: 2,
    says: [/token file \S+big\.log is 9\.5 MiB; a token file is at most 64 KiB: is this the right file\?/],
    run: (s) => {
      writeFileSync(join(s.dir, 'big.log'), Buffer.alloc(10_000_000, 'x'), { mode: 0o600 })
      return { args: s.args('--set', `tokenFile=${join(s.dir, 'big.log')}`) }
    },
  },
  {
    id: 'L38',
    cls: 4,
    did: 'clientSecretsFile is a FIFO',
    exit: 2,
    says: [/client secrets file \S+cs\.fifo is a FIFO \(named pipe\), not a regular file/],
    run: (s) => {
      mkfifo(join(s.dir, 'cs.fifo'))
      return { args: s.args('--set', `clientSecretsFile=${join(s.dir, 'cs.fifo')}`), deadlineMs: 20_000 }
    },
  },
  {
    id: 'L39',
    cls: 4,
    did: 'clientSecretsFile is not JSON',
    exit: 2,
    says: [/client secrets file \S+bad\.json is not valid JSON/, 'Download it from Google Cloud Console'],
    never: ['installed-not-json-secret'],
    run: (s) => {
      writeFileSync(join(s.dir, 'bad.json'), 'installed-not-json-secret', { mode: 0o600 })
      return { args: s.args('--set', `clientSecretsFile=${join(s.dir, 'bad.json')}`) }
    },
  },
  {
    id: 'L40',
    cls: 4,
    did: 'clientSecretsFile is a "Web application" client',
    exit: 2,
    says: ['is for a "Web application" client; the loopback flow needs a "Desktop app" client'],
    run: (s) => {
      writeFileSync(join(s.dir, 'web.json'), JSON.stringify({ web: { client_id: 'w', client_secret: 's' } }), { mode: 0o600 })
      return { args: s.args('--set', `clientSecretsFile=${join(s.dir, 'web.json')}`) }
    },
  },
  {
    id: 'L41',
    cls: 4,
    did: 'kubeconfig param names a FIFO',
    exit: 2,
    says: [/kubeconfig \S+kube\.fifo is a FIFO \(named pipe\), not a regular file: refusing to read it/, '--set kubeconfig=<path>'],
    run: (s) => {
      mkfifo(join(s.dir, 'kube.fifo'))
      return { args: s.args('--set', `kubeconfig=${join(s.dir, 'kube.fifo')}`), deadlineMs: 20_000 }
    },
  },
  {
    id: 'L42',
    cls: 4,
    did: 'KUBECONFIG (the environment) names a FIFO, no kubeconfig param',
    exit: 2,
    says: [/kubeconfig \S+env\.fifo is a FIFO/],
    run: (s) => {
      mkfifo(join(s.dir, 'env.fifo'))
      return { args: s.args('--set', 'kubeconfig='), env: { KUBECONFIG: join(s.dir, 'env.fifo') }, deadlineMs: 20_000 }
    },
  },
  { id: 'L43', cls: 4, did: 'kubeconfig param names a directory', exit: 2, says: [/kubeconfig \S+ is a directory, not a regular file/], run: (s) => ({ args: s.args('--set', `kubeconfig=${s.dir}`) }) },
  { id: 'L44', cls: 4, did: 'kubeconfig param names a file that does not exist', exit: 2, says: [/kubeconfig \S+nope\.yaml does not exist/], run: (s) => ({ args: s.args('--set', `kubeconfig=${join(s.dir, 'nope.yaml')}`) }) },
  {
    id: 'L45',
    cls: 4,
    did: 'the workflow file is a FIFO',
    exit: 2,
    says: ['invalid workflow:', /gmail-reauth\.yaml is a FIFO \(named pipe\), not a regular file/],
    run: (s) => {
      const wf = join(s.dir, 'wf', 'workflows')
      mkdirSync(wf, { recursive: true })
      mkfifo(join(wf, 'gmail-reauth.yaml'))
      return { args: s.args(), env: { CREDFLOW_WORKFLOWS_DIR: wf }, deadlineMs: 20_000 }
    },
  },
  {
    id: 'L46',
    cls: 4,
    did: 'the token file is readable by everyone (0644)',
    exit: 1,
    says: [/warning: token file \S+ has mode 0644: every user on this host can read the credential in it; fix: chmod 600/],
    // Only a warning: with a cluster to plan against, the dry run succeeds.
    onPlane: { exit: 0, says: [/warning: token file \S+ has mode 0644: every user on this host can read the credential in it; fix: chmod 600/, DRY_RUN_DONE] },
    run: (s) => {
      chmodSync(s.tokenFile, 0o644)
      return { args: s.args('--dry-run') }
    },
  },
  {
    id: 'L47',
    cls: 4,
    did: 'the token file is a symlink to a file outside its directory',
    exit: 1,
    says: [/warning: token file \S+link\.json is a symlink to \S+elsewhere\.json, outside \S+google-oauth: make sure that is the file you mean/],
    onPlane: { exit: 0, says: [/warning: token file \S+link\.json is a symlink to \S+elsewhere\.json, outside \S+google-oauth: make sure that is the file you mean/, DRY_RUN_DONE] },
    run: (s) => {
      writeFileSync(join(s.dir, 'elsewhere.json'), readFileSync(s.tokenFile), { mode: 0o600 })
      symlinkSync(join(s.dir, 'elsewhere.json'), join(s.dir, 'secrets', 'google-oauth', 'link.json'))
      return { args: s.args('--dry-run', '--set', `tokenFile=${join(s.dir, 'secrets', 'google-oauth', 'link.json')}`) }
    },
  },

  // 2: waits bounded and named (a server that accepts and never answers)
  {
    id: 'L48',
    cls: 2,
    cluster: 'own',
    did: 'an apiserver that accepts connections and never answers, --request-timeout 2s',
    exit: 1,
    says: [/COULD NOT CHECK: no answer from https:\/\/127\.0\.0\.1:\d+ \(context "hostile"\) within 2s to get version \(request timeout\)/, /kubectl --context hostile --request-timeout=2s get --raw=\/readyz/, 'nothing was changed'],
    run: (s) => ({ args: s.args('--set', `kubeconfig=${s.hangKubeconfig}`, '--request-timeout', '2s', '--dry-run'), deadlineMs: 40_000 }),
  },
  {
    id: 'L49',
    cls: 2,
    cluster: 'own',
    did: 'the same wedged apiserver, --set requestTimeout=6s: a progress line while it waits',
    exit: 1,
    says: [/preflight: waiting for GET https:\/\/127\.0\.0\.1:\d+\/version: 5\.\ds so far \(gives up at 6\.0s\)/, 'within 6s to get version (request timeout)'],
    run: (s) => ({ args: s.args('--set', `kubeconfig=${s.hangKubeconfig}`, '--set', 'requestTimeout=6s'), deadlineMs: 30_000 }),
  },
  {
    id: 'L50',
    cls: 2,
    cluster: 'own',
    did: 'an apiserver that refuses connections',
    exit: 1,
    says: [/COULD NOT CHECK: cannot reach https:\/\/127\.0\.0\.1:1 \(context "hostile"\) to get version: ECONNREFUSED/, 'kubectl config get-contexts'],
    run: (s) => ({ args: s.args('--set', `kubeconfig=${s.refusedKubeconfig}`), env: { KUBECONFIG: s.refusedKubeconfig } }),
  },
  {
    id: 'L52',
    cls: 4,
    cluster: 'own',
    did: 'SIGTERM while the preflight waits on a wedged apiserver',
    exit: 130,
    says: ['credflow: SIGTERM: stopping running steps', 'interrupted during the preflight: nothing was changed and no run was recorded'],
    run: (s) => ({ args: s.args('--set', `kubeconfig=${s.hangKubeconfig}`, '--request-timeout', '30s'), signal: { name: 'SIGTERM', after: /waiting for GET/ }, deadlineMs: 30_000 }),
    never: ['COULD NOT CHECK'],
  },
  {
    id: 'L53',
    cls: 4,
    cluster: 'own',
    did: 'SIGINT (Ctrl-C) while the preflight waits on a wedged apiserver, stdin open',
    exit: 130,
    says: ['credflow: SIGINT: stopping running steps', 'interrupted during the preflight: nothing was changed and no run was recorded'],
    run: (s) => ({ args: s.args('--set', `kubeconfig=${s.hangKubeconfig}`, '--request-timeout', '30s'), signal: { name: 'SIGINT', after: /waiting for GET/ }, stdin: 'open', deadlineMs: 30_000 }),
  },

  // 5: the state directory, never a stack trace
  {
    id: 'L54',
    cls: 5,
    did: '--state-dir names a file',
    exit: 2,
    says: [/the state directory \S+ cannot be used: \S+notadir is a file/, /mv \S+notadir \S+notadir\.bak/, '--state-dir DIR'],
    run: (s) => {
      writeFileSync(join(s.dir, 'notadir'), 'x')
      return { args: s.args('--state-dir', join(s.dir, 'notadir')) }
    },
  },
  {
    id: 'L55',
    cls: 5,
    did: '--state-dir below a file (file/state)',
    exit: 2,
    says: [/\S+notadir is a file/],
    run: (s) => {
      writeFileSync(join(s.dir, 'notadir'), 'x')
      return { args: s.args('--state-dir', join(s.dir, 'notadir', 'state')) }
    },
  },
  { id: 'L56', cls: 5, did: '--state-dir on /proc', exit: 2, says: ['the state directory /proc/credflow-state/gmail-reauth is on the proc pseudo-filesystem'], run: (s) => ({ args: s.args('--state-dir', '/proc/credflow-state') }) },
  {
    id: 'L57',
    cls: 5,
    did: 'the state directory is not writable by this user',
    exit: 2,
    says: [/cannot create \S+ro-state in the state directory \S+: permission denied \(EACCES\)/, 'fix its owner or mode'],
    run: (s) => {
      mkdirSync(join(s.dir, 'ro-state'), { mode: 0o555 })
      // As root, modes do not stop writes: run as nobody then (a real non-root operator).
      if (process.getuid?.() !== 0) return { args: s.args('--state-dir', join(s.dir, 'ro-state')) }
      for (const p of [s.dir, join(s.dir, 'secrets'), join(s.dir, 'secrets', 'google-oauth')]) chmodSync(p, 0o755)
      return { args: s.args('--state-dir', join(s.dir, 'ro-state')), uid: 65534, gid: 65534 }
    },
  },
  {
    id: 'L58',
    cls: 5,
    did: '--resume RUN_ID whose state.json was truncated by a crash',
    exit: 2,
    says: [`the state of run ${RUN_ID}`, 'is not valid JSON (22 bytes: truncated by a crash or a full disk?)', /move it aside \(mv \S+state\.json \S+state\.json\.unreadable\)/],
    run: (s) => {
      recordRun(s, '{"schema": 1, "tool": ')
      return { args: s.args('--resume', RUN_ID) }
    },
  },
  {
    id: 'L59',
    cls: 5,
    did: '--resume whose latest run has an empty state.json',
    exit: 2,
    says: [`the state of run ${RUN_ID}`, 'is not valid JSON (empty)', 'start a new run'],
    run: (s) => {
      recordRun(s, '')
      return { args: s.args('--resume') }
    },
  },
  {
    id: 'L60',
    cls: 5,
    did: '--resume RUN_ID recorded by a newer credflow (state schema 2)',
    exit: 2,
    says: [`run ${RUN_ID} was recorded by a newer credflow (state schema 2; this one reads 1)`, 'continue it with the credflow that started it'],
    run: (s) => {
      recordRun(s, (d) => ({ ...d, schema: 2 }))
      return { args: s.args('--resume', RUN_ID) }
    },
  },
  {
    id: 'L61',
    cls: 5,
    did: '--resume RUN_ID whose state.json is a JSON list',
    exit: 2,
    says: [`the state of run ${RUN_ID}`, 'is not a credflow run state'],
    run: (s) => {
      recordRun(s, '[1, 2, 3]')
      return { args: s.args('--resume', RUN_ID) }
    },
  },
  {
    id: 'L62',
    cls: 5,
    did: '--resume RUN_ID whose state.json is a FIFO',
    exit: 2,
    says: [/state file \S+state\.json is a FIFO \(named pipe\), not a regular file/],
    run: (s) => {
      const dir = join(s.stateDir, 'gmail-reauth', 'runs', RUN_ID)
      mkdirSync(dir, { recursive: true })
      mkfifo(join(dir, 'state.json'))
      return { args: s.args('--resume', RUN_ID), deadlineMs: 20_000 }
    },
  },
  {
    id: 'L63',
    cls: 5,
    did: "the workflow's directory in the state dir is a file",
    exit: 2,
    says: [/the state directory \S+gmail-reauth cannot be used: \S+gmail-reauth is a file/],
    run: (s) => {
      mkdirSync(s.stateDir, { recursive: true })
      writeFileSync(join(s.stateDir, 'gmail-reauth'), 'x')
      return { args: s.args() }
    },
  },

  // 6: resume after a usage error
  {
    id: 'L64',
    cls: 6,
    did: 'a bad --set, then --resume: the bad value was never recorded',
    exit: 1,
    says: ['credflow: nothing to resume: no run of gmail-reauth in', 'starting a new run'],
    onPlane: { exit: 0, says: ['credflow: nothing to resume: no run of gmail-reauth in', 'starting a new run', DRY_RUN_DONE] },
    run: (s) => ({ args: s.args('--resume', '--dry-run') }),
  },
  {
    id: 'L65',
    cls: 6,
    did: '--resume with a corrected --set of a recorded run: the change is named, with the command that continues',
    exit: 2,
    says: ['refusing to continue run', 'param rolloutTimeout: "90s" -> "10m"', /pass --force to continue anyway with these values \(npx zx tasks\/run\.mjs gmail-reauth .*--set rolloutTimeout=10m --resume 20261201T020000Z-ab12 --force\)/],
    run: (s) => {
      recordRun(s, (d) => ({ ...d, params: { rolloutTimeout: '90s' } }))
      return { args: s.args('--resume', '--set', 'rolloutTimeout=10m') }
    },
  },
  {
    id: 'L66',
    cls: 6,
    did: '--resume with a bad --set: refused at parse time, the run untouched',
    exit: 2,
    says: ['--set rolloutTimeout: 0s is zero'],
    run: (s) => {
      recordRun(s, (d) => ({ ...d, params: { rolloutTimeout: '90s' } }))
      return { args: s.args('--resume', '--set', 'rolloutTimeout=0s') }
    },
  },

  // 7: one exit-code table
  {
    id: 'L67',
    cls: 7,
    did: 'the wrapper script with an unknown option',
    exit: 2,
    says: ['gmail-reauth.sh: unknown option: --bogus', '  2     usage, input or plan error, refused before any change'],
    run: () => ({ args: ['--bogus'], bin: 'wrapper' }),
  },
  {
    id: 'L68',
    cls: 7,
    did: 'the wrapper script with --resume=notarunid',
    exit: 2,
    says: ['--resume notarunid: not a run id'],
    run: () => ({ args: ['--resume=notarunid'], bin: 'wrapper' }),
  },
  {
    id: 'L69',
    cls: 7,
    did: 'an unknown flag to the CLI',
    exit: 2,
    says: ['credflow: unknown flag --dryrun', USAGE],
    run: (s) => ({ args: s.args('--dryrun') }),
  },

  // 3 (issue 13): a param with a fixed set of values is judged at parse time, with "did you mean"
  {
    id: 'L70',
    cls: 3,
    did: '--set reauthMode=bultin (a typo)',
    exit: 2,
    says: ['--set reauthMode: must be one of builtin, external, got "bultin"; did you mean builtin?', USAGE],
    run: (s) => ({ args: s.args('--set', 'reauthMode=bultin') }),
  },
  {
    id: 'L71',
    cls: 3,
    did: '--set tokenFormat=gmail_sdk (underscore for the dash)',
    exit: 2,
    says: ['--set tokenFormat: must be one of auto, gmail-sdk, google-auth, node, got "gmail_sdk"; did you mean gmail-sdk?', USAGE],
    run: (s) => ({ args: s.args('--set', 'tokenFormat=gmail_sdk') }),
  },
  {
    id: 'L72',
    cls: 3,
    did: 'CREDFLOW_SET_REAUTHMODE=External in the environment (values are exact)',
    exit: 2,
    says: ['CREDFLOW_SET_REAUTHMODE: reauthMode must be one of builtin, external, got "External"; did you mean external?'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_SET_REAUTHMODE: 'External' } }),
  },
  {
    id: 'L73',
    cls: 3,
    did: 'a workflow whose param default is not one of its own values',
    exit: 2,
    says: ['params.reauthMode.default: default must be one of builtin, external, got "browser"'],
    run: (s) => ({ args: s.args(), env: { CREDFLOW_WORKFLOWS_DIR: editedWorkflow(s, (t) => t.replace('    enum: [builtin, external]\n    default: builtin', '    enum: [builtin, external]\n    default: browser')) } }),
  },
  // 1: a consent command that cannot run is refused before any change (exit 2, not a failed run)
  {
    id: 'L74',
    cls: 1,
    did: 'reauthMode=external with a reauthCommand that is not on PATH',
    exit: 2,
    says: ['[reauth] REFUSED: reauthCommand "no-such-consent-tool" cannot run: no-such-consent-tool is not on PATH', 'working alternatives', REFUSED],
    run: (s) => ({ args: s.args('--set', 'reauthMode=external', '--set', 'reauthCommand=no-such-consent-tool') }),
  },
]

function target(over: Record<string, unknown> = {}) {
  return { namespace: 'basketball-api', secret: 'gmail-oauth-token', key: 'gmail-westsidebasketball.json', staleSecrets: ['gmail-oauth-westsidebasketball'], deployments: ['basketball-api'], ...over }
}

/** A copy of workflows/gmail-reauth.yaml edited by `edit`, in a workflows dir beside the real tasks. */
function editedWorkflow(s: LocalSandbox, edit: (text: string) => string): string {
  const dir = join(s.dir, 'wf', 'workflows')
  mkdirSync(dir, { recursive: true })
  // Steps load from <workflows>/../tasks: the real ones, through a symlink.
  symlinkSync(join(ROOT_DIR, 'tasks'), join(s.dir, 'wf', 'tasks'))
  writeFileSync(join(s.dir, 'wf', 'package.json'), '{ "type": "module" }\n')
  const text = readWorkflow()
  const edited = edit(text)
  if (edited === text) throw new Error('the edit changed nothing: the workflow file moved on')
  writeFileSync(join(dir, 'gmail-reauth.yaml'), edited)
  return dir
}

const readWorkflow = () => readFileSync(join(ROOT_DIR, 'workflows/gmail-reauth.yaml'), 'utf8')
