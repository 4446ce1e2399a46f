import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * An append-only file of JSON records, each line sealed with a checksum. A process killed in the
 * middle of a write (kill -9) leaves at most a torn last line, which readers skip: a record is
 * either whole and counted once, or absent.
 */
export type Journal = {
  /** Runs `work` holding the cross-process lock, after reading what others appended. */
  locked<T>(work: (append: (record: unknown) => Promise<void>) => Promise<T>): Promise<T>
  /** Reads records appended since the last read (by any process). */
  refresh(): Promise<void>
}

const lockStaleMs = 30_000

/** Opens `path`, calling `apply` for every whole record, in order, now and as others append. */
export async function openJournal(path: string, apply: (record: unknown) => void): Promise<Journal> {
  let offset = 0
  let partial = ''
  await mkdir(dirname(path), { recursive: true })
  const handle = await open(path, 'a+')

  async function refresh(): Promise<void> {
    const { size } = await handle.stat()
    if (size <= offset) return
    const buffer = Buffer.alloc(size - offset)
    await handle.read(buffer, 0, buffer.length, offset)
    offset = size
    const lines = (partial + buffer.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const record = unseal(line)
      if (record !== undefined) apply(record)
    }
  }

  const lockPath = `${path}.lock`
  const ownerPath = join(lockPath, 'pid')
  async function acquire(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(lockPath)
        await writeFile(ownerPath, String(process.pid))
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        // A holder killed with SIGKILL never releases: take over from a dead process at once,
        // and from any holder after longer than a real hold takes.
        const age = await stat(lockPath).then(
          (info) => Date.now() - info.mtimeMs,
          () => 0,
        )
        if (age > lockStaleMs || (age > 1_000 && !(await ownerAlive())))
          await rm(lockPath, { recursive: true, force: true })
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 + attempt, 20)))
      }
    }
  }
  async function ownerAlive(): Promise<boolean> {
    const pid = Number(await readFile(ownerPath, 'utf8').catch(() => ''))
    if (!Number.isSafeInteger(pid) || pid <= 0) return false
    try {
      process.kill(pid, 0)
      return true
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  // Calls of this process queue here, so only one of them polls the lock directory.
  let queue: Promise<unknown> = Promise.resolve()

  await refresh()
  return {
    refresh,
    locked(work) {
      const run = queue.then(() => withLock(work))
      queue = run.catch(() => {})
      return run
    },
  }

  async function withLock<T>(work: (append: (record: unknown) => Promise<void>) => Promise<T>): Promise<T> {
    await acquire()
    try {
      await refresh()
      // A torn line from a killed writer must not glue itself to the next record.
      if (partial !== '') {
        await handle.appendFile('\n')
        partial = ''
      }
      return await work(async (record) => {
        await handle.appendFile(`${seal(record)}\n`)
        await handle.datasync()
      })
    } finally {
      await refresh()
      await rm(lockPath, { recursive: true, force: true })
    }
  }
}

function seal(record: unknown): string {
  const json = JSON.stringify(record)
  return `${json}\t${checksum(json)}`
}

function unseal(line: string): unknown {
  const tab = line.lastIndexOf('\t')
  if (tab < 0) return undefined
  const json = line.slice(0, tab)
  if (checksum(json) !== line.slice(tab + 1)) return undefined
  try {
    return JSON.parse(json) as unknown
  } catch {
    return undefined
  }
}

const checksum = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16)
