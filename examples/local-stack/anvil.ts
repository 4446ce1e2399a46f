import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { track, untrack } from './children.js'

/** A running anvil node on loopback. */
export type Anvil = {
  readonly rpcUrl: string
  readonly chainId: number
  /** Kills the node and resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>
}

export type StartAnvilOptions = {
  readonly chainId: number
  /** `tempo` runs anvil's Tempo mode: TIP-20 pathUSD and friends preinstalled, fees paid in stablecoins. */
  readonly network?: 'tempo' | undefined
  /** Give up if anvil has not printed its port by then. */
  readonly timeoutMs?: number
}

const listening = /Listening on 127\.0\.0\.1:(\d+)/

/**
 * Spawns the anvil binary from npm on `127.0.0.1` and a free port.
 *
 * The binary is spawned directly, never through `npx`: killing a wrapper leaves anvil orphaned.
 *
 * @example
 * const anvil = await startAnvil({ chainId: 84532 })
 * // … use anvil.rpcUrl …
 * await anvil.stop()
 */
export async function startAnvil(options: StartAnvilOptions): Promise<Anvil> {
  const { chainId, network, timeoutMs = 10_000 } = options
  const args = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId)]
  if (network) args.push('--network', network)
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)

  let recentOutput = ''
  const remember = (chunk: Buffer) => {
    recentOutput = (recentOutput + chunk.toString('utf8')).slice(-4_000)
  }
  // anvil logs every RPC call; the pipes must keep draining or it blocks once they fill.
  child.stdout?.on('data', remember)
  child.stderr?.on('data', remember)

  // A spawn that fails (e.g. ENOENT) emits 'error' and may never emit 'exit'.
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    untrack(child)
  }

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`anvil did not start within ${timeoutMs} ms`)), timeoutMs)
      const onData = () => {
        const match = listening.exec(recentOutput)
        if (!match?.[1]) return
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        resolve(Number(match[1]))
      }
      child.stdout?.on('data', onData)
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`anvil exited before listening (code ${code}, signal ${signal}):\n${recentOutput}`))
      })
    })
    return { rpcUrl: `http://127.0.0.1:${port}`, chainId, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@foundry-rs/anvil-linux-amd64/package.json')), 'bin', 'anvil')
}
