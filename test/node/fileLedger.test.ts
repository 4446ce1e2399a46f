import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileLedger } from '../../src/node/fileLedger.js'
import { ledgerContract, pendingFor, reservation, usdcBase } from '../support/ledgerContract.js'
import { t0, testClock } from '../support/ledgerFixtures.js'

let dir = ''
let files = 0
const journalPath = () => join(dir, `ledger-${++files}.jsonl`)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'payfetch-file-ledger-'))
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

ledgerContract({
  name: 'fileLedger',
  shared: true,
  create: async (options = {}) => {
    const path = journalPath()
    const clock = testClock(options.now)
    const open = () => fileLedger(path, { leaseMs: options.leaseMs, now: clock.now })
    return { ledger: await open(), reopen: open, setNow: clock.set }
  },
})

// ---- reading the journal independently of the ledger: JSON, a tab, 16 hex of its sha256 ----

type JournalRecord = { op: string; entry?: { id: string }; id?: string; pending?: { id: string } }
type Line = { whole: boolean; record?: JournalRecord | undefined }
async function journalLines(path: string): Promise<{ lines: Line[]; endsWithNewline: boolean }> {
  const text = await readFile(path, 'utf8')
  const lines = text.split('\n')
  const last = lines.pop()
  const parsed = lines.map((line): Line => {
    const tab = line.lastIndexOf('\t')
    const json = line.slice(0, tab)
    if (tab < 0 || createHash('sha256').update(json).digest('hex').slice(0, 16) !== line.slice(tab + 1))
      return { whole: false }
    return { whole: true, record: JSON.parse(json) as JournalRecord }
  })
  if (last) parsed.push({ whole: false })
  return { lines: parsed, endsWithNewline: last === '' }
}
const reserveIds = (lines: Line[]) =>
  lines.flatMap((line) => (line.record?.op === 'reserve' && line.record.entry ? [line.record.entry.id] : []))

// ---- child processes ----

const children = new Set<ChildProcess>()
const childScript = join(import.meta.dirname, '../support/ledgerChild.ts')

function startChild(
  args: string[],
  env: Record<string, string> = {},
): {
  child: ChildProcess
  lines: AsyncIterator<string>
  exited: Promise<number | null>
} {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  children.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    }),
  )
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return { child, lines, exited }
}

/** A lock a SIGKILLed holder left behind is only taken over once 30 s old: age it instead of waiting. */
async function ageLeftoverLock(path: string): Promise<boolean> {
  const lock = `${path}.lock`
  const present = await stat(lock).then(
    () => true,
    () => false,
  )
  if (present) await utimes(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
  return present
}

describe('fileLedger: crash safety', () => {
  test('behavior: a child killed with SIGKILL mid-loop loses no confirmed record and counts each whole record once; the journal takes appends after it', async () => {
    const path = journalPath()
    const confirmed = new Set<string>()
    const confirmedPending = new Set<string>()
    let expected = 0
    for (const [round, killAfter] of [
      [0, 25],
      [1, 40],
      [2, 10],
    ] as const) {
      const { child, lines, exited } = startChild(['loop', path, `round${round}`])
      let seen = 0
      while (seen < killAfter) {
        const next = await lines.next()
        if (next.done) throw new Error(`child exited early: ${await exited}`)
        const [kind, id] = next.value.split(' ') as [string, string]
        if (kind === 'reserved') confirmed.add(id)
        else confirmedPending.add(id)
        seen++
      }
      // Kill at an arbitrary point of the next write, not right after a confirmation.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4))
      child.kill('SIGKILL')
      // Lines written before the kill may still sit in the pipe.
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const [kind, id] = next.value.split(' ') as [string, string]
        if (kind === 'reserved') confirmed.add(id)
        else confirmedPending.add(id)
      }
      await exited
      // The child may have died holding the lock (it often does).
      await ageLeftoverLock(path)

      // What is in the file, read independently of the ledger.
      const { lines: journal } = await journalLines(path)
      const ids = reserveIds(journal)
      expect(new Set(ids).size, 'no reserve record is written twice').toBe(ids.length)
      for (const id of confirmed) expect(ids, id).toContain(id)
      // At most the one reservation in flight when the child died is there unconfirmed.
      expect(ids.length - confirmed.size).toBeGreaterThanOrEqual(0)
      expect(ids.length - confirmed.size).toBeLessThanOrEqual(1 + round)

      // A new ledger loads it without error and counts each whole record exactly once.
      const recovered = await fileLedger(path)
      const report = await recovered.report([{ key: 'crash', limit: 10n ** 12n }])
      expect(report.budgets[0]?.used).toBe(BigInt(ids.length))
      expect(report.totals.reduce((sum, total) => sum + total.reserved, 0n)).toBe(BigInt(ids.length))
      const pendingIds = (await recovered.pending()).map((entry) => entry.id)
      for (const id of confirmedPending) expect(pendingIds, id).toContain(id)
      expect(pendingIds.every((id) => ids.includes(id))).toBe(true)

      // And can append after it: the new record is whole and counted by the next reader.
      const after = reservation(1n, { id: `after-${round}`, key: 'crash', limit: 10n ** 12n })
      expect(await recovered.reserve(after)).toEqual({ ok: true })
      expected = ids.length + 1
      const reread = await fileLedger(path)
      expect((await reread.report([{ key: 'crash', limit: 10n ** 12n }])).budgets[0]?.used).toBe(BigInt(expected))
      confirmed.add(after.id)
    }
    const { lines: journal, endsWithNewline } = await journalLines(path)
    expect(endsWithNewline).toBe(true)
    expect(reserveIds(journal)).toHaveLength(expected)
  })

  test('behavior: a hand-truncated journal loads without its torn last line, and the next record is not glued to it', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    const entries = [reservation(100n), reservation(200n), reservation(300n)]
    for (const entry of entries) await ledger.reserve(entry)
    const { size } = await stat(path)
    await truncate(path, size - 25)

    const recovered = await fileLedger(path)
    expect((await recovered.report([{ key: 'total', limit: 1000n }])).budgets[0]?.used).toBe(300n)
    // The torn 300 no longer holds its room.
    expect(await recovered.reserve(reservation(700n))).toEqual({ ok: true })
    expect(await recovered.reserve(reservation(1n))).toEqual({ ok: false, key: 'total', used: 1000n, limit: 1000n })

    const { lines } = await journalLines(path)
    expect(lines.map((line) => (line.whole ? line.record?.op : 'torn'))).toEqual([
      'reserve',
      'reserve',
      'torn',
      'reserve',
    ])
    expect((await (await fileLedger(path)).report([{ key: 'total', limit: 1000n }])).budgets[0]?.used).toBe(1000n)
  })

  test('behavior: a torn line written by another (dead) process while this one is running is skipped, and appends still parse', async () => {
    const path = journalPath()
    const alive = await fileLedger(path)
    await alive.reserve(reservation(100n))
    // Half a record, as a writer killed mid-write leaves it.
    await appendFile(path, '{"op":"reserve","entry":{"id":"ghost","time":1,"state":"reser')
    await alive.reserve(reservation(200n))
    const other = await fileLedger(path)
    for (const ledger of [alive, other])
      expect((await ledger.report([{ key: 'total', limit: 1000n }])).budgets[0]?.used).toBe(300n)
  })

  test('behavior: a record whose checksum does not match (a flipped byte) is skipped, the others count', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    for (const amount of [1n, 20n, 300n]) await ledger.reserve(reservation(amount))
    const text = await readFile(path, 'utf8')
    const lines = text.split('\n')
    lines[1] = lines[1]!.replace('"20"', '"99"')
    await writeFile(path, lines.join('\n'))
    expect((await (await fileLedger(path)).report([{ key: 'total', limit: 1000n }])).budgets[0]?.used).toBe(301n)
  })

  test('behavior: the pending payment and its state survive a restart; a state record for a lost reservation is ignored', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    const entry = reservation(10n)
    await ledger.reserve(entry)
    await ledger.savePending(pendingFor(entry.id))
    await ledger.markUnknown(entry.id)
    await ledger.commit('lost-id')
    const restarted = await fileLedger(path)
    expect(await restarted.pending()).toEqual([pendingFor(entry.id)])
    expect((await restarted.report()).totals).toEqual([
      expect.objectContaining({ unknown: 10n, spent: 0n, reserved: 0n }),
    ])
  })

  test('behavior: close() waits for the write under way, lets the file go, and the ledger is refused afterwards', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    const entry = reservation(10n)
    const reserving = ledger.reserve(entry)
    await ledger.close()
    expect(await reserving).toEqual({ ok: true })
    await expect(ledger.reserve(reservation(5n))).rejects.toThrow()
    const reopened = await fileLedger(path)
    expect((await reopened.report()).totals).toEqual([expect.objectContaining({ reserved: 10n })])
    await reopened.close()
  })

  test('policy: a lock left by a killed holder blocks writers until it is stale (30 s), then is taken over', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    await mkdir(`${path}.lock`)
    let done = false
    const pending = ledger.reserve(reservation(5n)).then((result) => {
      done = true
      return result
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(done).toBe(false)
    await utimes(`${path}.lock`, new Date(Date.now() - 31_000), new Date(Date.now() - 31_000))
    expect(await pending).toEqual({ ok: true })
    // The taker released it in turn.
    await expect(stat(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  test('policy: two processes sharing one journal never overspend a budget together (the lock directory)', async () => {
    const path = journalPath()
    const runs = [startChild(['spend', path, '100']), startChild(['spend', path, '100'])]
    const results = await Promise.all(
      runs.map(async ({ lines, exited }) => {
        const line = await lines.next()
        expect(await exited).toBe(0)
        return JSON.parse(String(line.value)) as { ok: number; refused: number }
      }),
    )
    expect(results.reduce((sum, result) => sum + result.ok, 0)).toBe(142)
    expect(results.reduce((sum, result) => sum + result.refused, 0)).toBe(58)
    // Both really took part.
    expect(results.every((result) => result.ok > 0)).toBe(true)
    const report = await (await fileLedger(path)).report([{ key: 'shared', limit: 1000n, windowMs: 3_600_000 }])
    expect(report.budgets[0]?.used).toBe(994n)
  })
})

describe('fileLedger: compaction', () => {
  const budget = { key: 'window', limit: 10n ** 12n, windowMs: 1_000 }
  const charges = (amount: bigint) => [
    { ...budget, amount },
    { key: 'total', limit: 10n ** 12n, amount },
  ]
  const lineCount = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter(Boolean).length

  test('behavior: payments that left every window are compacted out of the journal; totals, budgets, pending payments and leases read back the same, here and in a fresh process', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path, { compactAfter: 300 })
    let pendingId = ''
    for (let index = 0; index < 800; index++) {
      const entry = { ...reservation(3n, { time: t0 + index * 10, charges: charges(3n) }), owner: 'payer' }
      expect(await ledger.reserve(entry)).toEqual({ ok: true })
      if (index === 790) {
        pendingId = entry.id
        await ledger.savePending(pendingFor(entry.id), 'payer')
      } else if (index % 2) await ledger.commit(entry.id)
      else await ledger.markUnknown(entry.id)
    }
    // 800 payments are 1 600 records; what is left is about the last second's hundred.
    expect(await lineCount(path)).toBeLessThan(700)
    const rules = [
      { key: 'total', limit: 10n ** 12n },
      { key: 'window', limit: 10n ** 12n, windowMs: 1_000 },
    ]
    const before = await ledger.report(rules)
    expect(before.totals).toEqual([
      { host: 'api.example.com', ...usdcBase, spent: 1_200n, reserved: 3n, unknown: 1_197n },
    ])
    expect(before.budgets.map((entry) => entry.used)).toEqual([2_400n, expect.any(BigInt)])
    const fresh = await fileLedger(path)
    expect(await fresh.report(rules)).toEqual(before)
    expect((await fresh.pending()).map((entry) => entry.id)).toEqual([pendingId])
    // The lease went through the snapshot: the sender still holds its pending payment.
    expect(await fresh.claim(pendingId, 'someone-else')).toMatchObject({ ok: false, reason: 'held' })
    expect(await fresh.claim(pendingId, 'payer')).toMatchObject({ ok: true })
  })

  test('behavior: a process sharing the journal notices that another one compacted it, reloads, and keeps one budget with it', async () => {
    const path = journalPath()
    const [a, b] = [await fileLedger(path, { compactAfter: 50 }), await fileLedger(path, { compactAfter: 1_000_000 })]
    for (let index = 0; index < 60; index++) {
      const entry = reservation(10n, { time: t0 + index, key: 'shared', limit: 1_000n })
      expect(await (index % 2 ? a : b).reserve(entry)).toEqual({ ok: true })
      await (index % 2 ? a : b).commit(entry.id)
    }
    expect(await lineCount(path)).toBeLessThan(120)
    // 600 used: 40 more reservations of 10 fit, between both processes, then nothing.
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        (index % 2 ? a : b).reserve(reservation(10n, { key: 'shared', limit: 1_000n })),
      ),
    )
    expect(results.filter((result) => result.ok)).toHaveLength(40)
    for (const ledger of [a, b, await fileLedger(path)])
      expect((await ledger.report([{ key: 'shared', limit: 1_000n }])).budgets[0]?.used).toBe(1_000n)
  })

  test('behavior: a compaction that never reached its rename (a leftover .compact file) changes nothing', async () => {
    const path = journalPath()
    const ledger = await fileLedger(path)
    await ledger.reserve(reservation(400n))
    await writeFile(`${path}.compact`, '{"op":"snapshot","totals":{"budgets":[["total","999"]],"groups":[]}}\tdeadbeef')
    expect((await (await fileLedger(path)).report([{ key: 'total', limit: 1000n }])).budgets[0]?.used).toBe(400n)
    expect(await (await fileLedger(path)).reserve(reservation(600n))).toEqual({ ok: true })
  })

  test('behavior: a child killed with SIGKILL while it compacts every few records leaves a whole journal: every confirmed reservation and pending payment counted once', async () => {
    const path = journalPath()
    const confirmed = new Set<string>()
    const confirmedPending = new Set<string>()
    for (const [round, killAfter] of [
      [0, 30],
      [1, 61],
      [2, 45],
    ] as const) {
      const { child, lines, exited } = startChild(['loop', path, `compact${round}`], { COMPACT_AFTER: '12' })
      const record = (line: string) => {
        const [kind, id] = line.split(' ') as [string, string]
        if (kind === 'reserved') confirmed.add(id)
        else confirmedPending.add(id)
      }
      for (let seen = 0; seen < killAfter; seen++) {
        const next = await lines.next()
        if (next.done) throw new Error(`child exited early: ${await exited}`)
        record(next.value)
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4))
      child.kill('SIGKILL')
      for (let next = await lines.next(); !next.done; next = await lines.next()) record(next.value)
      await exited
      await ageLeftoverLock(path)

      const recovered = await fileLedger(path)
      const used = (await recovered.report([{ key: 'crash', limit: 10n ** 12n }])).budgets[0]?.used ?? 0n
      // Every confirmed reservation counts once; at most the one in flight per kill is there unconfirmed.
      expect(used).toBeGreaterThanOrEqual(BigInt(confirmed.size))
      expect(used).toBeLessThanOrEqual(BigInt(confirmed.size + round + 1))
      const pendingIds = new Set((await recovered.pending()).map((entry) => entry.id))
      for (const id of confirmedPending) expect(pendingIds.has(id), id).toBe(true)
      expect(pendingIds.size).toBeLessThanOrEqual(Number(used))
    }
    // The journal was really rewritten along the way: it starts with a snapshot.
    expect((await readFile(path, 'utf8')).startsWith('{"op":"snapshot"')).toBe(true)
  })
})
