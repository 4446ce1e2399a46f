import { type ChildProcess, spawn } from 'node:child_process'
import { track, untrack } from '../../examples/local-stack/children.js'

/** A worker process run with `node --import tsx`, read line by line. */
export type Worker<Report> = {
  readonly child: ChildProcess
  /** Resolves when the worker prints `line` (or a line starting with it); rejects if it dies first. */
  printed(line: string): Promise<string>
  /** Resolves with the `count`-th line starting with `prefix` once it is printed; rejects if it dies first. */
  nth(prefix: string, count: number): Promise<string>
  /** The JSON line the worker prints last, once it exits with 0. */
  readonly report: Promise<Report>
  /** How it ended. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Kills it with SIGKILL and waits for it to be gone. */
  kill(): Promise<void>
  output(): string
}

/** Starts `script` with `env`; resolves once it printed `ready` (when `ready` is true). */
export async function startWorker<Report>(
  script: string,
  env: Record<string, string>,
  options: { ready?: boolean } = {},
): Promise<Worker<Report>> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  track(child)
  let stdout = ''
  let stderr = ''
  const waiting: { prefix: string; count: number; resolve: (line: string) => void }[] = []
  const check = () => {
    // Whole lines only: the last piece may still be arriving.
    const lines = stdout.split('\n').slice(0, -1)
    for (const wait of [...waiting]) {
      const found = lines.filter((line) => line.startsWith(wait.prefix))[wait.count - 1]
      if (found === undefined) continue
      waiting.splice(waiting.indexOf(wait), 1)
      wait.resolve(found)
    }
  }
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
    check()
  })
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4_000)))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': the last stdout chunk may arrive after the process has exited.
    child.once('close', (code, signal) => {
      untrack(child)
      resolve({ code, signal })
    }),
  )
  const died = exit.then(({ code, signal }) =>
    Promise.reject(new Error(`worker exited (${code ?? signal}):\n${stdout}\n${stderr}`)),
  )
  died.catch(() => {})
  const report = exit.then(({ code, signal }) => {
    const line = stdout
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .at(-1)
    if (code === 0 && line) return JSON.parse(line) as Report
    throw new Error(`worker exited (${code ?? signal}):\n${stdout}\n${stderr}`)
  })
  report.catch(() => {})
  const worker: Worker<Report> = {
    child,
    printed: (prefix) => worker.nth(prefix, 1),
    nth: (prefix, count) =>
      Promise.race([
        new Promise<string>((resolve) => {
          waiting.push({ prefix, count, resolve })
          check()
        }),
        died,
      ]),
    report,
    exit,
    async kill() {
      child.kill('SIGKILL')
      await exit
    },
    output: () => stdout,
  }
  if (options.ready ?? true) await worker.printed('ready')
  return worker
}
