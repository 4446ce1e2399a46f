import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileLedger } from '../../src/node/fileLedger.js'
import { fileSessions } from '../../src/node/fileSessions.js'
import { credential, origin, sessionContract } from '../sessions/sessionContract.js'

let dir = ''
let opened = 0
const sessionsPath = () => join(dir, `sessions-${++opened}`, 'sessions.json')
// What a store leaves beside its file, but its locks directory.
const files = async (path: string) => (await readdir(join(path, '..'))).filter((name) => !name.endsWith('.locks'))

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
    expect(await restarted.get(origin)).toEqual(credential('kept', expiresAt))
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ [origin]: credential('kept', expiresAt) })
  })

  test('behavior: every write replaces the file by rename (a new inode), leaving no temporary file behind', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    await store.set(origin, credential('one'))
    const before = (await stat(path)).ino
    await store.set(origin, credential('two'))
    expect((await stat(path)).ino).not.toBe(before)
    expect(await files(path)).toEqual(['sessions.json'])
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
    expect(await (await fileSessions(path)).get(origin)).toEqual(credential('v19'))
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
    expect(await (await fileSessions(path)).get(origin)).toEqual(credential('after'))
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
    expect(await files(path)).toEqual(['sessions.json'])
  })

  test('behavior: stores sharing one file (processes on one machine) see each other’s writes and never write back a stale copy', async () => {
    const path = sessionsPath()
    const [a, b] = [await fileSessions(path), await fileSessions(path)]
    await a.set('https://a.example.com', credential('a1'))
    // b opened before a wrote: it reads the new file, and its own write keeps a's key.
    expect(await b.get('https://a.example.com')).toEqual(credential('a1'))
    await b.set('https://b.example.com', credential('b1'))
    await a.set('https://a.example.com', credential('a2'))
    await b.delete('https://gone.example.com')
    const reader = await fileSessions(path)
    expect([await reader.get('https://a.example.com'), await reader.get('https://b.example.com')]).toEqual([
      credential('a2'),
      credential('b1'),
    ])
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      'https://a.example.com': credential('a2'),
      'https://b.example.com': credential('b1'),
    })
    // Concurrent writes of different keys from both lose none.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).set(`https://k${i}.example.com`, credential(`k${i}`))),
    )
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')))).toHaveLength(12)
  })

  test('policy: a lock file its taker has created but not yet written is held, not an error (lock and write alike)', async () => {
    const path = sessionsPath()
    const store = await fileSessions(path)
    const locks = `${path}.locks`
    await mkdir(locks, { recursive: true })
    await writeFile(join(locks, createHash('sha256').update('race').digest('hex').slice(0, 32)), '')
    expect(await store.lock?.('race', 5_000)).toBeUndefined()
    // The write lock too: a write waits for it (here: until the empty file is removed) instead of failing.
    await writeFile(join(locks, 'write'), '')
    const writing = store.set(origin, credential('after the wait'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await rm(join(locks, 'write'))
    await writing
    expect(await (await fileSessions(path)).get(origin)).toEqual(credential('after the wait'))
  })

  test.each([
    ['not JSON', '{"https://api.example.com": {"protocol"'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['a string', '"sessions"'],
  ])(
    'error: a sessions file that is %s is refused at open (STORE_FAILED naming it), and left as it was',
    async (_, corrupt) => {
      // payfetch itself never leaves half a file (rename); something else wrote this one.
      const path = sessionsPath()
      await mkdir(join(path, '..'), { recursive: true })
      await writeFile(path, corrupt)
      await expect(fileSessions(path)).rejects.toMatchObject({
        code: 'STORE_FAILED',
        message: expect.stringContaining(`${path} is not a JSON object`),
      })
      expect(await readFile(path, 'utf8')).toBe(corrupt)
    },
  )

  test('behavior: a missing file (and a missing directory) starts empty', async () => {
    const path = join(dir, 'not', 'yet', 'there', 'sessions.json')
    const store = await fileSessions(path)
    expect(await store.get(origin)).toBeUndefined()
    await store.set(origin, credential('first'))
    expect(await (await fileSessions(path)).get(origin)).toEqual(credential('first'))
    // The directories it made hold bearer credentials: private to the user.
    expect((await stat(join(dir, 'not', 'yet'))).mode & 0o777).toBe(0o700)
  })

  test('error: a path where mkdir answers ENOENT under a parent that exists (/proc) rejects, where Node’s recursive mkdir spins for good', async () => {
    await expect(fileSessions('/proc/payfetch-test/state/sessions.json')).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(fileLedger('/proc/payfetch-test/state/ledger.jsonl')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
