import { createHash, randomUUID } from 'node:crypto'
import { link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { SessionLock, SessionStore, SessionToken } from '../sessions/SessionStore.js'

/**
 * Sessions in a JSON file, so a paid token outlives the process. Writes go to a temporary file
 * renamed over the old one: a crash leaves the old or the new file, never half of one. The file
 * holds bearer credentials: keep it private (it is created with mode 0600).
 *
 * Its lock (taken per origin before paying for a token) is a file in `<path>.locks/`, created
 * exclusively and holding its taker's token and end; a lock past its end is moved aside
 * atomically and looked at before it is replaced, so processes on one machine pay once.
 */
export async function fileSessions(path: string): Promise<SessionStore> {
  await mkdir(dirname(path), { recursive: true })
  let credentials: Record<string, SessionToken> = await readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as Record<string, SessionToken>,
    () => ({}),
  )
  let writing: Promise<void> = Promise.resolve()
  let writes = 0
  const save = () => {
    const snapshot = JSON.stringify(credentials)
    // A failed write rejects its own set only; without the catch every later write would reject too.
    // Each write has its own temporary file, so two stores on one path cannot rename each other's.
    const write = writing
      .catch(() => {})
      .then(async () => {
        const temporary = `${path}.${process.pid}.${++writes}.${Math.random().toString(36).slice(2, 10)}.tmp`
        await writeFile(temporary, snapshot, { mode: 0o600 })
        await rename(temporary, path).catch(async (error: unknown) => {
          await rm(temporary, { force: true })
          throw error
        })
      })
    writing = write
    return write
  }
  const locks = `${path}.locks`
  return {
    async lock(key, ttlMs) {
      await mkdir(locks, { recursive: true })
      return takeLock(join(locks, createHash('sha256').update(key).digest('hex').slice(0, 32)), ttlMs)
    },
    get(key) {
      const credential = credentials[key]
      if (credential?.expiresAt !== undefined && credential.expiresAt <= Date.now()) return undefined
      return credential
    },
    set(key, credential) {
      credentials = { ...credentials, [key]: credential }
      return save()
    },
    delete(key) {
      const { [key]: _removed, ...rest } = credentials
      credentials = rest
      return save()
    },
  }
}

type LockFile = { token: string; until: number }

const readLock = (file: string) =>
  readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as LockFile,
    () => undefined,
  )

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
