import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { track, untrack } from './children.js'

/**
 * A throwaway redis-server on loopback (Debian's `redis-server`, installed by .ci/run), or any
 * server that speaks its protocol and takes its flags: Valkey's `valkey-server`.
 */
export type RedisServer = {
  readonly url: string
  readonly port: number
  /** Where it keeps its files (the append-only file, with `appendOnly`). */
  readonly dir: string
  /**
   * Stops the server and starts it again on the same port and directory: with `appendOnly`, what
   * it acknowledged is back. `SIGTERM` (default) shuts it down cleanly; `SIGKILL` kills it.
   */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  /** Kills the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>
}

export type RedisOptions = {
  /** Persist every write to an append-only file, fsynced before each reply (`appendfsync always`). */
  appendOnly?: boolean | undefined
  /** Runs as a Redis Cluster node (`cluster-enabled yes`, its `nodes.conf` in its directory). */
  cluster?: boolean | undefined
  /** The port; default: a free one (with the cluster bus port, +10 000, free too for a cluster node). */
  port?: number | undefined
  timeoutMs?: number | undefined
  /** The server to run. Default `redis-server`; `valkey-server` takes the same flags. */
  server?: string | undefined
}

/** Starts `redis-server` (or `options.server`) on 127.0.0.1, with no persistence unless `appendOnly`. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort(options.cluster === true))
  const dir = await mkdtemp(join(tmpdir(), 'payfetch-redis-'))
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    ...(options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] : []),
  ]
  const executable = options.server ?? 'redis-server'
  let running = await launch(executable, args, options.timeoutMs ?? 10_000)
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async restart(signal = 'SIGTERM') {
      await running.halt(signal)
      running = await launch(executable, args, options.timeoutMs ?? 10_000)
    },
    async stop() {
      await running.halt('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** One running server process. */
async function launch(
  executable: string,
  args: string[],
  timeoutMs: number,
): Promise<{ halt(signal: NodeJS.Signals): Promise<void> }> {
  const child: ChildProcess = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  let output = ''
  const halt = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
    untrack(child)
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${executable} did not start within ${timeoutMs} ms:\n${output}`)),
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
        reject(new Error(`${executable} exited (code ${code}):\n${output}`))
      })
    })
    return { halt }
  } catch (error) {
    await halt('SIGKILL')
    throw error
  }
}

/** A local Redis Cluster: masters on loopback, every slot assigned, no replicas. */
export type RedisCluster = {
  readonly nodes: readonly { host: string; port: number }[]
  stop(): Promise<void>
}

/**
 * Starts `masters` cluster-enabled `redis-server`s (or `server`s) and joins them with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`; resolves once every node
 * reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3, timeoutMs = 30_000, server?: string): Promise<RedisCluster> {
  const servers: RedisServer[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()))
  }
  try {
    for (let index = 0; index < masters; index++) servers.push(await startRedis({ cluster: true, server }))
    const run = promisify(execFile)
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((server) => `127.0.0.1:${server.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: timeoutMs },
    )
    const deadline = Date.now() + timeoutMs
    for (const server of servers) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(server.port), 'cluster', 'info'])
        if (stdout.includes('cluster_state:ok')) break
        if (Date.now() > deadline) throw new Error(`the cluster did not become ok:\n${stdout}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    return { nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })), stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function freePort(withBus: boolean): Promise<number> {
  for (;;) {
    const port = await listenOnce(0)
    // A cluster node also listens on port + 10 000 (the cluster bus).
    if (!withBus) return port
    if (port + 10_000 > 65_535) continue
    if (
      await listenOnce(port + 10_000).then(
        () => true,
        () => false,
      )
    )
      return port
  }
}

async function listenOnce(port: number): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}
