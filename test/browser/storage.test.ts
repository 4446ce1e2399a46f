import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { type ErrorCode, PayfetchError } from '../../src/errors/PayfetchError.js'
import type { Ledger } from '../../src/ledger/Ledger.js'
import { ledgerContract } from '../support/ledgerContract.js'

// payfetch/browser bundled as the browser gets it, served from loopback and run in Debian's
// Chromium with a profile on disk: the real IndexedDB (LevelDB files, not incognito's memory),
// the real localStorage, page reloads, and tabs racing for one budget.

let context: BrowserContext
let profile = ''
let base = ''
const server = createServer((request, response) => {
  if (request.url === '/payfetch-browser.js') {
    response.writeHead(200, { 'content-type': 'text/javascript' })
    return response.end(bundle)
  }
  response.writeHead(200, { 'content-type': 'text/html' })
  // The page loads the bundle itself: vitest rewrites import() inside functions given to page.evaluate.
  response.end(`<!doctype html><title>payfetch storage</title>
<script type="module">import * as payfetch from '/payfetch-browser.js'; window.ledgers = {}; window.clocks = {}; window.payfetch = payfetch</script>`)
})
let bundle = ''

beforeAll(async () => {
  const [built] = await Promise.all([
    build({
      entryPoints: [join(import.meta.dirname, '../../src/browser/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
    }),
    listen(server).then((url) => (base = url)),
    mkdtemp(join(tmpdir(), 'payfetch-chromium-')).then((dir) => (profile = dir)),
  ])
  bundle = built.outputFiles[0]?.text ?? ''
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--disable-dev-shm-usage'],
  })
})

afterAll(async () => {
  await context?.close()
  await close(server)
  if (profile) await rm(profile, { recursive: true, force: true })
})

type BrowserModule = typeof import('../../src/browser/index.js')
declare global {
  interface Window {
    payfetch: BrowserModule
    /** Ledgers the Node side drives by handle (the contract's proxies). */
    ledgers: Record<string, Ledger>
    /** Test clocks of the contract's ledgers, by database name. */
    clocks: Record<string, number>
  }
}

async function openTab(): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${base}/`)
  await page.waitForFunction(() => window.payfetch !== undefined)
  return page
}

async function reload(page: Page): Promise<void> {
  await page.reload()
  await page.waitForFunction(() => window.payfetch !== undefined)
}

let databases = 0
/** A database name no other test uses: every test starts on an empty ledger. */
const freshName = (label: string) => `payfetch-test-${label}-${++databases}`

// Runs in the page: makes `count` concurrent reservations of `amount` against one budget.
type ReserveArgs = { name: string; count: number; amount: string; limit: string; windowMs?: number; time?: number }
async function reserveInPage(page: Page, args: ReserveArgs): Promise<{ ok: number; refused: number; used: string[] }> {
  return page.evaluate(async ({ name, count, amount, limit, windowMs, time }) => {
    const ledger = window.payfetch.storageLedger({ name })
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        ledger.reserve({
          id: `${crypto.randomUUID()}-${i}`,
          time: time ?? Date.now(),
          spend: {
            network: 'eip155:8453',
            asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
            amount: BigInt(amount),
            host: location.host,
          },
          charges: [{ key: 'day', limit: BigInt(limit), amount: BigInt(amount), windowMs }],
        }),
      ),
    )
    const refused = results.flatMap((result) => (result.ok ? [] : [result]))
    return {
      ok: results.length - refused.length,
      refused: refused.length,
      used: refused.map((result) => result.used.toString()),
    }
  }, args)
}

async function usedInPage(page: Page, name: string, windowMs?: number): Promise<string> {
  return page.evaluate(
    async ({ name, windowMs }) => {
      const report = await window.payfetch.storageLedger({ name }).report([{ key: 'day', limit: 0n, windowMs }])
      return String(report.budgets[0]?.used)
    },
    { name, windowMs },
  )
}

/** The raw records of one object store, read with plain IndexedDB (no payfetch code). */
async function recordsInPage(page: Page, name: string, store = 'ledger'): Promise<unknown[]> {
  return page.evaluate(
    ({ name, store }) =>
      new Promise<unknown[]>((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const all = db.transaction(store, 'readonly').objectStore(store).getAll()
          all.onsuccess = () => {
            db.close()
            resolve(all.result as unknown[])
          }
          all.onerror = () => reject(all.error)
        }
      }),
    { name, store },
  )
}

describe('payfetch/browser in Chromium', () => {
  test('behavior: the page is a secure context with IndexedDB', async () => {
    const page = await openTab()
    expect(await page.evaluate(() => [isSecureContext, typeof indexedDB?.open])).toEqual([true, 'function'])
    await page.close()
  })

  test('policy: storageLedger in IndexedDB reserves within a budget and refuses past it, exactly above 2^64', async () => {
    const page = await openTab()
    const name = freshName('within')
    const result = await reserveInPage(page, { name, count: 3, amount: '400', limit: '1000', windowMs: 86_400_000 })
    expect(result).toEqual({ ok: 2, refused: 1, used: ['800'] })
    const big = (2n ** 64n + 1n).toString()
    expect(
      await reserveInPage(page, {
        name: freshName('big'),
        count: 3,
        amount: big,
        limit: (2n * (2n ** 64n + 1n)).toString(),
      }),
    ).toEqual({
      ok: 2,
      refused: 1,
      used: [(2n * (2n ** 64n + 1n)).toString()],
    })
    await page.close()
  })

  test('behavior: the budget persists across a page reload', async () => {
    const page = await openTab()
    const name = freshName('reload')
    expect((await reserveInPage(page, { name, count: 1, amount: '600', limit: '1000', windowMs: 86_400_000 })).ok).toBe(
      1,
    )
    await reload(page)
    expect(await usedInPage(page, name, 86_400_000)).toBe('600')
    expect(await reserveInPage(page, { name, count: 1, amount: '500', limit: '1000', windowMs: 86_400_000 })).toEqual({
      ok: 0,
      refused: 1,
      used: ['600'],
    })
    expect((await reserveInPage(page, { name, count: 1, amount: '400', limit: '1000', windowMs: 86_400_000 })).ok).toBe(
      1,
    )
    await page.close()
  })

  test('policy: two tabs reserving concurrently never overspend: 2 × 100 reservations of 7 against 1000 → exactly 142, round after round', async () => {
    const [a, b] = await Promise.all([openTab(), openTab()])
    // Several rounds on fresh budgets: the localStorage ledger this replaces overspent (143–153)
    // in most runs of one round and in nearly every run of five.
    const rounds: { ok: number; usedA: string; usedB: string; bothTookPart: boolean }[] = []
    for (let round = 0; round < 5; round++) {
      const args = { name: freshName(`tabs-${round}`), count: 100, amount: '7', limit: '1000', windowMs: 86_400_000 }
      const [fromA, fromB] = await Promise.all([reserveInPage(a, args), reserveInPage(b, args)])
      const [usedA, usedB] = await Promise.all([
        usedInPage(a, args.name, args.windowMs),
        usedInPage(b, args.name, args.windowMs),
      ])
      rounds.push({ ok: fromA.ok + fromB.ok, usedA, usedB, bothTookPart: fromA.ok > 0 && fromB.ok > 0 })
    }
    expect(rounds).toEqual(
      Array.from({ length: 5 }, () => ({ ok: 142, usedA: '994', usedB: '994', bothTookPart: true })),
    )
    await Promise.all([a.close(), b.close()])
  })

  test('behavior: one record per reservation id in the named database and store, amounts as decimal strings; a refusal writes nothing', async () => {
    const page = await openTab()
    const name = freshName('records')
    await page.evaluate(async (name) => {
      const ledger = window.payfetch.storageLedger({ name, store: 'spends' })
      const spend = {
        network: 'eip155:8453',
        asset: '0xA',
        host: 'api.example.com',
        amount: 2n ** 70n,
        nanoUsd: 2n ** 70n * 1000n,
      }
      const charges = [{ key: 'total', limit: 2n ** 71n, amount: 2n ** 70n }]
      await ledger.reserve({ id: 'first', time: 1_700_000_000_000, spend, charges })
      await ledger.reserve({ id: 'second', time: 1_700_000_000_000, spend, charges })
      await ledger.reserve({ id: 'refused', time: 1_700_000_000_000, spend, charges })
    }, name)
    const records = await recordsInPage(page, name, 'spends')
    expect(records.map((record) => (record as { id: string }).id)).toEqual(['first', 'second'])
    expect(records[0]).toEqual({
      id: 'first',
      time: 1_700_000_000_000,
      state: 'reserved',
      spend: {
        network: 'eip155:8453',
        asset: '0xA',
        host: 'api.example.com',
        amount: '1180591620717411303424',
        nanoUsd: '1180591620717411303424000',
      },
      charges: [{ key: 'total', limit: '2361183241434822606848', amount: '1180591620717411303424' }],
    })
    await page.close()
  })

  test('behavior: reserve deletes released entries older than a day; recent released ones and old counted ones stay; report deletes nothing', async () => {
    const page = await openTab()
    const name = freshName('prune')
    await page.evaluate(async (name) => {
      const ledger = window.payfetch.storageLedger({ name })
      const day = 86_400_000
      const entry = (id: string, time: number) => ({
        id,
        time,
        spend: { network: 'eip155:8453', asset: '0xA', host: 'api.example.com', amount: 1n },
        charges: [{ key: 'day', limit: 1000n, amount: 1n }],
      })
      for (const [id, age] of [
        ['old-released', 2 * day],
        ['recent-released', day / 2],
        ['old-committed', 30 * day],
      ] as const)
        await ledger.reserve(entry(id, Date.now() - age))
      await ledger.release('old-released')
      await ledger.release('recent-released')
      await ledger.commit('old-committed')
      await ledger.report([{ key: 'day', limit: 1000n }])
    }, name)
    const ids = async () => (await recordsInPage(page, name)).map((record) => (record as { id: string }).id).sort()
    expect(await ids()).toEqual(['old-committed', 'old-released', 'recent-released'])
    expect(await reserveInPage(page, { name, count: 1, amount: '1000', limit: '1000' })).toEqual({
      ok: 0,
      refused: 1,
      used: ['1'],
    })
    expect(await ids()).toEqual(['old-committed', 'recent-released'])
    await page.close()
  })

  test('behavior: a second store in the same database is added by a version upgrade while another tab holds it open; both ledgers keep working', async () => {
    const [a, b] = await Promise.all([openTab(), openTab()])
    const name = freshName('stores')
    const reserveIn = (page: Page, store: string, amount: string) =>
      page.evaluate(
        async ({ name, store, amount }) => {
          const ledger = (window.ledgers[`${name}/${store}`] ??= window.payfetch.storageLedger({ name, store }))
          const spend = { network: 'eip155:8453', asset: '0xA', host: 'api.example.com', amount: BigInt(amount) }
          const result = await ledger.reserve({
            id: crypto.randomUUID(),
            time: Date.now(),
            spend,
            charges: [{ key: 'total', limit: 1000n, amount: BigInt(amount) }],
          })
          return result.ok ? 'ok' : String(result.used)
        },
        { name, store, amount },
      )
    expect(await reserveIn(a, 'first', '600')).toBe('ok')
    // Tab b's upgrade makes tab a's open connection close (versionchange) instead of blocking it.
    expect(await reserveIn(b, 'second', '700')).toBe('ok')
    // Tab a reconnects; each store keeps its own budget.
    expect(await reserveIn(a, 'first', '500')).toBe('600')
    expect(await reserveIn(a, 'second', '400')).toBe('700')
    expect(await reserveIn(b, 'first', '400')).toBe('ok')
    expect(
      await a.evaluate(
        (name) => indexedDB.databases().then((list) => list.find((db) => db.name === name)?.version),
        name,
      ),
    ).toBe(2)
    await Promise.all([a.close(), b.close()])
  })

  test('error: a record that cannot be read makes reserve reject with the real error and keep nothing of that transaction', async () => {
    const page = await openTab()
    const name = freshName('corrupt')
    expect((await reserveInPage(page, { name, count: 1, amount: '1', limit: '1000' })).ok).toBe(1)
    await page.evaluate(
      (name) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open(name)
          open.onsuccess = () => {
            const transaction = open.result.transaction('ledger', 'readwrite')
            transaction.objectStore('ledger').put({ id: 'corrupt', time: Date.now(), state: 'reserved' })
            transaction.oncomplete = () => (open.result.close(), resolve())
            transaction.onabort = () => reject(transaction.error)
          }
        }),
      name,
    )
    await expect(reserveInPage(page, { name, count: 1, amount: '1', limit: '1000' })).rejects.toThrow(
      /TypeError: Cannot read properties of undefined/,
    )
    expect(await recordsInPage(page, name)).toHaveLength(2)
    await page.close()
  })

  test("policy: storageSessions locks are Web Locks: one tab holds an origin's lock at a time, and a tab that closes (the browser's dead process) frees it", async () => {
    const [a, b] = await Promise.all([openTab(), openTab()])
    const take = (page: Page) =>
      page.evaluate(async () => {
        const lock = await window.payfetch.storageSessions().lock?.('https://api.example.com', 30_000)
        if (lock) (window as unknown as { held: unknown }).held = lock
        return lock !== undefined
      })
    expect(await take(a)).toBe(true)
    expect(await take(b)).toBe(false)
    await a.close()
    // The browser lets the lock go once the tab is gone: polled, not timed.
    await expect.poll(() => take(b), { timeout: 10_000, interval: 50 }).toBe(true)
    await b.evaluate(() => (window as unknown as { held: { release(): Promise<void> } }).held.release())
    await b.close()
  })

  test('behavior: storageSessions round-trips a credential through localStorage, across a reload, and expires it', async () => {
    const page = await openTab()
    const set = await page.evaluate(async () => {
      const store = window.payfetch.storageSessions()
      store.set('https://api.example.com', { protocol: 'l402', headers: { authorization: 'L402 mac:pre' } })
      store.set('https://short.example.com', {
        protocol: 'l402',
        headers: { authorization: 'L402 short:pre' },
        expiresAt: Date.now() + 60_000,
      })
      return [
        await store.get('https://api.example.com'),
        (await store.get('https://short.example.com'))?.headers,
        localStorage.getItem('payfetch:session:https://api.example.com'),
      ]
    })
    expect(set).toEqual([
      { protocol: 'l402', headers: { authorization: 'L402 mac:pre' } },
      { authorization: 'L402 short:pre' },
      JSON.stringify({ protocol: 'l402', headers: { authorization: 'L402 mac:pre' } }),
    ])
    await reload(page)
    const after = await page.evaluate(async () => {
      // The page's clock moves a minute on, by hand: no real deadline to race.
      const now = Date.now
      Date.now = () => now() + 60_000
      const store = window.payfetch.storageSessions()
      const result = [await store.get('https://api.example.com'), await store.get('https://short.example.com')]
      await store.delete('https://api.example.com')
      return [...result, await store.get('https://api.example.com')]
    })
    expect(after).toEqual([{ protocol: 'l402', headers: { authorization: 'L402 mac:pre' } }, undefined, undefined])
    await page.close()
  })
})

// The shared ledger contract, unchanged, against the real ledger: its checks run here, and every
// ledger call runs in a Chromium tab through page.evaluate (bigints cross as bigints). `reopen`
// opens the same database in a second tab, so "opened again" means another tab. Its 200
// concurrent reservations are 200 overlapping calls in one page.
const tabs: Page[] = []
let handles = 0
type Method = Exclude<keyof Ledger, 'leaseMs'>
/** A proxy for a ledger in the tab; with `clock`, the ledger reads its time from `window.clocks[name]`. */
async function ledgerInTab(
  page: Page,
  name: string,
  options: { leaseMs?: number | undefined; clock?: boolean },
): Promise<Ledger> {
  const handle = `contract-${++handles}`
  // A payfetch error thrown in the tab crosses back with its code.
  const call = <M extends Method>(method: M) =>
    (async (...args: Parameters<Ledger[M]>) => {
      const answer = await page.evaluate(
        async ({ handle, method, args }) => {
          try {
            return { value: await (window.ledgers[handle]?.[method] as (...args: unknown[]) => unknown)(...args) }
          } catch (error) {
            const { code, shortMessage } = error as { code?: string; shortMessage?: string }
            if (code) return { code, message: shortMessage ?? '' }
            throw error
          }
        },
        { handle, method, args: args as unknown[] },
      )
      if ('code' in answer) throw new PayfetchError(answer.code as ErrorCode, answer.message ?? '')
      return answer.value
    }) as Ledger[M]
  const leaseMs = await page.evaluate(
    ({ handle, name, leaseMs, clock }) => {
      const ledger = window.payfetch.storageLedger({
        name,
        leaseMs,
        now: clock ? () => window.clocks[name] ?? Date.now() : undefined,
      })
      window.ledgers[handle] = ledger
      return ledger.leaseMs
    },
    { handle, name, ...options },
  )
  return {
    leaseMs,
    reserve: call('reserve'),
    claim: call('claim'),
    commit: call('commit'),
    release: call('release'),
    markUnknown: call('markUnknown'),
    markRefused: call('markRefused'),
    savePending: call('savePending'),
    pending: call('pending'),
    report: call('report'),
  }
}

ledgerContract({
  name: 'storageLedger (IndexedDB in Chromium)',
  shared: true,
  setup: async () => {
    tabs.push(...(await Promise.all([openTab(), openTab()])))
  },
  teardown: async () => {
    await Promise.all(tabs.map((tab) => tab.close()))
  },
  create: async (options = {}) => {
    const [first, second] = tabs
    if (!first || !second) throw new Error('the contract tabs are not open')
    const name = freshName('contract')
    // Both tabs read one test clock, as two tabs of one browser share the system clock.
    const setNow = async (now: number) => {
      await Promise.all(
        tabs.map((tab) => tab.evaluate(({ name, now }) => void (window.clocks[name] = now), { name, now })),
      )
    }
    const clock = options.now !== undefined
    if (clock) await setNow(options.now as number)
    const settings = { leaseMs: options.leaseMs, clock }
    return {
      ledger: await ledgerInTab(first, name, settings),
      reopen: () => ledgerInTab(second, name, settings),
      setNow: clock ? setNow : undefined,
    }
  },
})
