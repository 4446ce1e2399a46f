import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SessionStore, SessionToken } from '../sessions/SessionStore.js'

/**
 * Sessions in a JSON file, so a paid token outlives the process. Writes go to a temporary file
 * renamed over the old one: a crash leaves the old or the new file, never half of one. The file
 * holds bearer credentials: keep it private (it is created with mode 0600).
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
  return {
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
