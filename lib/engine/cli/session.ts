import { EXIT } from '../exit-codes.ts'
import { nextStdinLine, releaseStdin } from '../../stdin-lines.ts'
import type { CliArgs } from '../args.ts'
import type { TtyView } from '../render/tty.ts'
import type { TerminalIo } from '../scheduler.ts'
import { confirmText } from '../render/confirm.ts'
import { paint, terminalWidth, wrap } from '../render/style.ts'
import { clock } from '../render/final.ts'
import { formatDuration } from '../../duration.ts'
import { Refusal, writeRefusal, type CliContext } from './context.ts'

/** The terminal and the process around one run or --status: signals, the live view, stdin. */
export interface Session {
  /** Aborted by the first SIGINT, SIGTERM or SIGHUP. */
  signal: AbortSignal
  /** The live view, on a terminal that can hold it (never with --json). */
  tty?: TtyView
  io: TerminalIo
  /** Nodes may read the operator (a terminal, or --interactive), unless --non-interactive. */
  interactive: boolean
}

/**
 * Runs `fn` with signal handlers and stdin set up, and takes them down after, whatever happens.
 * A refusal inside is written while the pipe-error guard still stands.
 */
export async function withSession(ctx: CliContext, args: CliArgs, fn: (s: Session) => Promise<number>): Promise<number> {
  const { out, err, env, say } = ctx
  const ctl = new AbortController()
  // A terminal without a size (some CI pseudo-terminals), a narrow or a dumb one cannot hold
  // the live view: plain lines instead.
  const isTty = Boolean(process.stdin.isTTY && out.isTTY) && (out.columns ?? 0) >= 40 && env.TERM !== 'dumb' && !isCi(env)
  // Questions go to stderr and answers come from stdin: stdout may be a file (--json > x).
  const interactive = (Boolean(process.stdin.isTTY && err.isTTY) || args.interactive) && !args.nonInteractive

  const tty = isTty && !args.json ? await import('../render/tty.ts').then((m) => new m.TtyView()) : undefined
  const io: TerminalIo = {
    withTerminal: (fn, who) => (tty ? tty.withTerminal(who ? () => announced(err, who, fn) : fn) : fn()),
    // One reader of stdin for the whole run (steps read pastes from it too); a piped or
    // closed stdin answers null instead of leaving a question pending forever.
    prompt: (q, signal) => {
      const ask = async () => {
        err.write(q)
        return nextStdinLine(signal)
      }
      return tty ? tty.withTerminal(ask) : ask()
    },
    // The question carries the whole plan: the live view steps aside while it is asked.
    confirm: async (plan, signal) => {
      const reply = await io.prompt(confirmText(plan, terminalWidth(err)), signal)
      return reply !== null && /^y(es)?$/i.test(reply.trim())
    },
  }

  const onSignal = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) {
      say(`credflow: second ${sig}, exiting now (state is saved after every step)`)
      process.exit(EXIT.interrupted)
    }
    say(`credflow: ${sig}: stopping running steps, saving state (continue later with --resume)`)
    ctl.abort(new Error(sig))
  }
  const signals = SIGNALS // SIGHUP: a dropped SSH session, stopped as cleanly as Ctrl-C
  dropEarly?.()
  for (const s of signals) process.on(s, onSignal)
  // A reader that goes away (`| head`, a closed pipe, a hung-up terminal) must not kill a run
  // halfway through its changes: carry on; state.json and events.jsonl still record everything.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'EIO' && e.code !== 'ERR_STREAM_DESTROYED') throw e
  }
  for (const s of [out, err]) s.on?.('error', onPipeError)
  try {
    return await fn({ signal: ctl.signal, tty, io, interactive })
  } catch (e) {
    if (e instanceof Refusal) return writeRefusal(ctx, e)
    throw e
  } finally {
    for (const s of signals) process.off(s, onSignal)
    releaseStdin()
    for (const s of [out, err]) s.off?.('error', onPipeError)
  }
}

/**
 * While a step owns the terminal the live view is paused: say whose turn it is, since when and
 * until when its timeout waits (the consent deadline), and how long it took when it hands back.
 */
async function announced<T>(err: NodeJS.WriteStream, who: { node: string; deadline?: Date }, fn: () => Promise<T>): Promise<T> {
  const started = new Date()
  const until = who.deadline ? `, gives up at ${clock(who.deadline).slice(11)} (${formatDuration(who.deadline.getTime() - started.getTime())} from now)` : ''
  const line = (s: string) => err.write(wrap(s, terminalWidth(err) ?? 80).map((l) => paint('dim', l)).join('\n') + '\n')
  line(`── ${who.node} has the terminal since ${clock(started).slice(11)}${until}; Ctrl-C stops, --resume continues`)
  try {
    return await fn()
  } finally {
    line(`── ${who.node} handed the terminal back after ${formatDuration(Date.now() - started.getTime())}`)
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
let dropEarly: (() => void) | undefined

/**
 * Until a session's handlers stand (loading the workflow and its steps takes a moment), a
 * signal ends the CLI at once: nothing was written yet. Returns the function that removes them.
 */
export function earlySignals(ctx: CliContext): () => void {
  const early = (sig: NodeJS.Signals) => {
    ctx.say(`credflow: ${sig} before the run started: nothing was changed`)
    process.exit(EXIT.interrupted)
  }
  for (const s of SIGNALS) process.on(s, early)
  dropEarly = () => {
    for (const s of SIGNALS) process.off(s, early)
    dropEarly = undefined
  }
  return () => dropEarly?.()
}

function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true' || env.CI === '1'
}
