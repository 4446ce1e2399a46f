import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { track, untrack } from './children.js'

/** A throwaway redis-server on loopback (Debian's `redis-server`, installed by .ci/run). */
export type RedisServer = {
  readonly url: string
  readonly port: number
  /** Kills the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>
}

/** Starts `redis-server` on 127.0.0.1 and a free port, with no persistence. */
export async function startRedis(timeoutMs = 10_000): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'payfetch-redis-'))
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  track(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  let output = ''
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    untrack(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      )
      child.stdout?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-4_000)
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited (code ${code}):\n${output}`))
      })
    })
    return { url: `redis://127.0.0.1:${port}`, port, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}
