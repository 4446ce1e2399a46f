import { createHash, randomUUID } from 'node:crypto'
import { link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { SessionLock, SessionStore, SessionToken } from '../sessions/SessionStore.js'
import { makeDirectory } from './makeDirectory.js'

/**
 * Sessions in a JSON file, so a paid token outlives the process. Writes go to a temporary file
 * renamed over the old one: a crash leaves the old or the new file, never half of one. The file
 * holds bearer credentials: keep it private (it is created with mode 0600).
 *
 * Processes on one machine may share the file: a write takes a lock file, reads what the others
 * wrote and changes only its own key, and a read notices a file another store replaced (its inode,
 * size and time) and reads it again, so no process writes back another's stale copy.
 *
 * Its lock (taken per origin before paying for a token) is a file in `<path>.locks/`, created
 * exclusively and holding its taker's token and end; a lock past its end is moved aside
 * atomically and looked at before it is replaced, so processes on one machine pay once.
 *
 * @throws {PayfetchError} `STORE_FAILED` (here and from its reads) when the file is not a JSON object.
 */
export async function fileSessions(path: string): Promise<SessionStore> {
  await makeDirectory(dirname(path))
  const locks = `${path}.locks`
  let credentials: Record<string, SessionToken> = {}
  // The file last read, by inode, size and modification time; `undefined` for none (or after a write).
  let seen: string | undefined
  // One stat per read; the file is read only when another store replaced it since.
  const missing = (error: NodeJS.ErrnoException): undefined => {
    if (error.code !== 'ENOENT') throw error
  }
  async function load(): Promise<void> {
    const info = await stat(path).catch(missing)
    const version = info && `${info.ino}:${info.size}:${info.mtimeMs}`
    if (version === seen) return
    // Replaced between the stat and the read: what was read is newer than `version`, so the next read reads again.
    credentials = info ? readCredentials(path, (await readFile(path, 'utf8').catch(missing)) ?? '{}') : {}
    seen = version
  }
  await load()

  let writing: Promise<void> = Promise.resolve()
  let writes = 0
  // One write at a time in this process; across processes, under the write lock.
  const update = (change: (all: Record<string, SessionToken>) => Record<string, SessionToken>) => {
    // A failed write rejects its own set only; without the catch every later write would reject too.
    // Each write has its own temporary file, so two stores on one path cannot rename each other's.
    const write = writing
      .catch(() => {})
      .then(async () => {
        await mkdir(locks, { recursive: true })
        const lock = await waitForLock(join(locks, 'write'))
        try {
          await load()
          const next = change(credentials)
          const temporary = `${path}.${process.pid}.${++writes}.${Math.random().toString(36).slice(2, 10)}.tmp`
          await writeFile(temporary, JSON.stringify(next), { mode: 0o600 })
          await rename(temporary, path).catch(async (error: unknown) => {
            await rm(temporary, { force: true })
            throw error
          })
          credentials = next
          seen = undefined // read back once: the next read learns the new file's version
        } finally {
          await lock.release()
        }
      })
    writing = write
    return write
  }
  // A read waits for this process's writes, then sees what every process wrote.
  const current = async () => {
    await writing.catch(() => {})
    await load()
    return credentials
  }
  return {
    async lock(key, ttlMs) {
      await mkdir(locks, { recursive: true })
      return takeLock(join(locks, createHash('sha256').update(key).digest('hex').slice(0, 32)), ttlMs)
    },
    async get(key) {
      const credential = (await current())[key]
      if (credential?.expiresAt !== undefined && credential.expiresAt <= Date.now()) return undefined
      return credential
    },
    set: (key, credential) => update((all) => ({ ...all, [key]: credential })),
    delete: (key) =>
      update((all) => {
        const { [key]: _removed, ...rest } = all
        return rest
      }),
  }
}

// A write holds the file's lock for milliseconds; one held longer than this was left by a dead process.
const writeLockTtlMs = 10_000

/** Takes the write lock, waiting (bounded) while another store holds it. */
async function waitForLock(file: string): Promise<SessionLock> {
  for (let waited = 0; waited <= writeLockTtlMs; waited += 5) {
    const lock = await takeLock(file, writeLockTtlMs)
    if (lock) return lock
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error('Another process holds the sessions file’s write lock.')
}

type LockFile = { token: string; until: number }

// A lock file its taker is still writing reads as empty: `undefined`, like a missing one.
const readLock = (file: string) =>
  readFile(file, 'utf8')
    .then((text) => JSON.parse(text) as LockFile)
    .catch(() => undefined)

/** Creates `file` exclusively with a new token; a lock past its end is taken over. */
async function takeLock(file: string, ttlMs: number): Promise<SessionLock | undefined> {
  const token = randomUUID()
  const write = async (flag: 'wx' | 'w') => {
    const handle = await open(file, flag, 0o600)
    try {
      await handle.writeFile(JSON.stringify({ token, until: Date.now() + ttlMs } satisfies LockFile))
    } finally {
      await handle.close()
    }
  }
  const lock: SessionLock = {
    async renew() {
      if ((await readLock(file))?.token !== token) return false
      await write('w')
      return true
    },
    async release() {
      if ((await readLock(file))?.token === token) await rm(file, { force: true })
    },
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await write('wx')
      return lock
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const held = await readLock(file)
    // Half written (its taker is writing it now, or died doing so): taken.
    if (!held || held.until > Date.now()) return undefined
    // Past its end: moved aside (only one taker's rename can move it), then looked at. If another
    // taker replaced it in between, that fresh lock goes back.
    const aside = `${file}.${token}`
    try {
      await rename(file, aside)
    } catch {
      return undefined
    }
    const moved = await readLock(aside)
    if (moved && moved.until > Date.now()) {
      await link(aside, file).catch(() => {})
      await rm(aside, { force: true })
      return undefined
    }
    await rm(aside, { force: true })
  }
  return undefined
}

// Text that is not a JSON object (a truncated copy, an array, another program's file) is refused,
// never read as no sessions: a write would then replace every credential in it.
function readCredentials(path: string, text: string): Record<string, SessionToken> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {}
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PayfetchError('STORE_FAILED', `The sessions file ${path} is not a JSON object: fix or remove it.`, {
      details: { store: 'sessions', operation: 'read', paid: false },
    })
  return value as Record<string, SessionToken>
}
