import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileSessions } from '../../src/node/fileSessions.js'
import { credential, origin, sessionContract } from '../sessions/sessionContract.js'

let dir = ''
let files = 0
const sessionsPath = () => join(dir, `sessions-${++files}`, 'sessions.json')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'payfetch-file-sessions-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

sessionContract({
  name: 'fileSessions',
  locks: 'ttl',
  shared: true,
  create: async () => {
    const path = sessionsPath()
    return { store: await fileSessions(path), reopen: () => fileSessions(path) }
  },
})

describe('fileSessions', () => {
  test('policy: the file holding bearer credentials is created with mode 0600, and stays 0600 when it was wider', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    await store.set(origin, credential('secret'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    await chmod(path, 0o644)
    await store.set(origin, credential('rotated'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  test('behavior: credentials survive a new instance (a restart), as JSON on disk', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    const expiresAt = Date.now() + 3_600_000
    await store.set(origin, credential('kept', expiresAt))
    const restarted = await fileSessions(path)
    expect(restarted.get(origin)).toEqual(credential('kept', expiresAt))
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ [origin]: credential('kept', expiresAt) })
  })

  test('behavior: every write replaces the file by rename (a new inode), leaving no temporary file behind', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    await store.set(origin, credential('one'))
    const before = (await stat(path)).ino
    await store.set(origin, credential('two'))
    expect((await stat(path)).ino).not.toBe(before)
    expect(await readdir(join(path, '..'))).toEqual(['sessions.json'])
  })

  test('behavior: a reader never sees a half-written file, however many writes are in flight', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    await store.set('seed', credential('seed'))
    let writing = true
    const reads: Promise<number> = (async () => {
      let count = 0
      while (writing) {
        // Throws (and fails the test) on an empty or truncated file.
        JSON.parse(await readFile(path, 'utf8'))
        count++
      }
      return count
    })()
    // A large file makes a non-atomic write observable.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.set(`https://host-${i}.example.com`, credential('x'.repeat(2_000)))),
    )
    writing = false
    expect(await reads).toBeGreaterThan(0)
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')))).toHaveLength(101)
  })

  test('behavior: writes land in call order: the last set wins on disk', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    const writes = Array.from({ length: 20 }, (_, i) => store.set(origin, credential(`v${i}`)))
    await Promise.all(writes)
    expect((await fileSessions(path)).get(origin)).toEqual(credential('v19'))
  })

  test('error: a failed write rejects that set only; later writes go through', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    await store.set(origin, credential('before'))
    // The destination becomes a non-empty directory: the rename over it fails.
    await rm(path)
    await mkdir(path)
    await writeFile(join(path, 'block'), '')
    await expect(store.set(origin, credential('blocked'))).rejects.toThrow()
    await rm(path, { recursive: true })
    await store.set(origin, credential('after'))
    expect((await fileSessions(path)).get(origin)).toEqual(credential('after'))
  })

  test('behavior: two stores on one file in one process never fail each other’s writes', async () => {
    const path = sessionsPath()
    const [a, b] = [await fileSessions(path), await fileSessions(path)]
    for (let i = 0; i < 20; i++) {
      const results = await Promise.allSettled([
        a.set('https://a.example.com', credential(`a${i}`)),
        b.set('https://b.example.com', credential(`b${i}`)),
      ])
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled'])
    }
    expect(await readdir(join(path, '..'))).toEqual(['sessions.json'])
  })

  test('error: a sessions file that is not JSON is refused at open, and left as it was', async () => {
    // payfetch itself never leaves half a file (rename); something else wrote this one.
    const path = sessionsPath()
    await mkdir(join(path, '..'), { recursive: true })
    const corrupt = '{"https://api.example.com": {"protocol"'
    await writeFile(path, corrupt)
    await expect(fileSessions(path)).rejects.toThrow(SyntaxError)
    expect(await readFile(path, 'utf8')).toBe(corrupt)
  })

  test('behavior: a missing file (and a missing directory) starts empty', async () => {
    const path = join(dir, 'not', 'yet', 'there', 'sessions.json')
    const store = await fileSessions(path)
    expect(store.get(origin)).toBeUndefined()
    await store.set(origin, credential('first'))
    expect((await fileSessions(path)).get(origin)).toEqual(credential('first'))
  })
})
