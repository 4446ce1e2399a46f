import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { makeDirectory } from './makeDirectory.js'

/**
 * An append-only file of JSON records, each line sealed with a checksum. A process killed in the
 * middle of a write (kill -9) leaves at most a torn last line, which readers skip: a record is
 * either whole and counted once, or absent.
 *
 * The file can be rewritten whole (compaction): the new records go to a file beside it, which is
 * flushed to disk and then renamed over the journal, so a crash leaves the old journal or the new
 * one, never a mix. Every process notices the new file (another inode) on its next read and
 * starts over from it.
 */
export type Journal = {
  /** Runs `work` holding the cross-process lock, after reading what others appended. */
  locked<T>(work: (writer: JournalWriter) => Promise<T>): Promise<T>
  /** Reads records appended since the last read (by any process). */
  refresh(): Promise<void>
  /** Whole records in the current file. */
  readonly records: number
  /** Closes the file once the calls under way are done; later calls fail. */
  close(): Promise<void>
}

/** What `locked` work can do: append records (applied at once), or replace the whole file. */
export type JournalWriter = {
  append(record: unknown): Promise<void>
  /** Replaces the journal with `records`, which must say everything the old one did. */
  rewrite(records: readonly unknown[]): Promise<void>
}

const lockStaleMs = 30_000

/**
 * Opens `path`, calling `apply` for every whole record, in order, now and as others append
 * (appends of this process are applied as they are written). `reset` runs before a rewritten file
 * is read from its start.
 */
export async function openJournal(path: string, apply: (record: unknown) => void, reset: () => void): Promise<Journal> {
  let offset = 0
  let partial = ''
  let records = 0
  await makeDirectory(dirname(path))
  let handle: FileHandle = await open(path, 'a+')
  let inode = (await handle.stat()).ino

  // Another process replaced the file: read the new one from its start.
  async function follow(): Promise<void> {
    const current = await stat(path).catch(() => undefined)
    if (!current || current.ino === inode) return
    const next = await open(path, 'a+')
    await handle.close().catch(() => {})
    handle = next
    inode = (await handle.stat()).ino
    offset = 0
    partial = ''
    records = 0
    reset()
  }

  // Reads and writes of this process's view (offset, partial line, records) take turns: two reads
  // of one range at once would apply its records twice.
  let turn: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(step: () => Promise<T>): Promise<T> => {
    const run = turn.then(step)
    turn = run.catch(() => {})
    return run
  }

  const refresh = () => exclusive(read)
  async function read(): Promise<void> {
    await follow()
    const { size } = await handle.stat()
    if (size <= offset) return
    const buffer = Buffer.alloc(size - offset)
    await handle.read(buffer, 0, buffer.length, offset)
    offset = size
    const lines = (partial + buffer.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const record = unseal(line)
      if (record === undefined) continue
      records++
      apply(record)
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
    get records() {
      return records
    },
    locked(work) {
      const run = queue.then(() => withLock(work))
      queue = run.catch(() => {})
      return run
    },
    close: () => queue.then(() => exclusive(() => handle.close())),
  }

  async function withLock<T>(work: (writer: JournalWriter) => Promise<T>): Promise<T> {
    await acquire()
    try {
      await refresh()
      // A torn line from a killed writer must not glue itself to the next record.
      await exclusive(async () => {
        if (partial === '') return
        await handle.appendFile('\n')
        partial = ''
        offset += 1
      })
      return await work({
        append: (record) =>
          exclusive(async () => {
            const line = `${seal(record)}\n`
            await handle.appendFile(line)
            await handle.datasync()
            // Under the lock nobody else appends: the file ends with this line. (A failed write is
            // read back, whole or torn, by the next refresh instead.)
            offset += Buffer.byteLength(line)
            records++
            apply(record)
          }),
        rewrite: (lines) =>
          exclusive(async () => {
            const temporary = `${path}.compact`
            const text = lines.map((record) => `${seal(record)}\n`).join('')
            const file = await open(temporary, 'w', 0o600)
            try {
              await file.writeFile(text)
              await file.sync()
            } finally {
              await file.close()
            }
            await rename(temporary, path)
            // The rename itself must reach the disk before anyone relies on it.
            const directory = await open(dirname(path), 'r')
            await directory.sync().finally(() => directory.close())
            const next = await open(path, 'a+')
            await handle.close().catch(() => {})
            handle = next
            inode = (await handle.stat()).ino
            offset = Buffer.byteLength(text)
            partial = ''
            records = lines.length
          }),
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
