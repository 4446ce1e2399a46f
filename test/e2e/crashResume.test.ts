import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { track, untrack } from '../../examples/local-stack/children.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt } from '../../src/index.js'
import { fileLedger } from '../../src/node/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { reservation } from '../support/ledgerFixtures.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// The crash proof of issue 5: a process killed with SIGKILL after its proof left leaves a durable
// pending payment; a fresh ledger on the same file resumes it and the merchant settles once. Killed
// before the proof left, nothing is pending and nothing settles.
const worker = fileURLToPath(new URL('../support/crashWorker.ts', import.meta.url))
const payerKey = generatePrivateKey()

let merchant: Merchant
let dir: string
let releaseHeld: () => void = () => {}
const held = new Promise<void>((resolve) => (releaseHeld = resolve))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'payfetch-crash-'))
  // payment-identifier declared, as x402 servers do to make retries idempotent: the same id and
  // payload again get the first answer, without a second settlement.
  merchant = await startMerchant(
    {
      // Settles the proof, then holds the answer until the test lets it go.
      '/held': async (request, response, self) =>
        self.charge(request, response, [requirement()], async () => {
          await held
          response.writeHead(200, { 'content-type': 'text/plain' }).end('paid report')
        }),
      '/report': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('report')),
    },
    { paymentIdentifier: { required: true } },
  )
})

afterAll(async () => {
  releaseHeld()
  await merchant?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Starts the worker; `lines` resolves each line it prints, `exit` when it is gone. */
function startWorker(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', worker], {
    env: { ...process.env, PAYER_KEY: payerKey, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  let stdout = ''
  let stderr = ''
  const waiting: { line: string; resolve: () => void }[] = []
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
    for (const wait of waiting.filter((entry) => stdout.split('\n').includes(entry.line))) wait.resolve()
  })
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4_000)))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': a line printed just before exiting may arrive after 'exit'.
    child.once('close', (code, signal) => {
      untrack(child)
      resolve({ code, signal })
    }),
  )
  const failed = exit.then(({ code, signal }) =>
    Promise.reject(new Error(`worker exited early (${code ?? signal}):\n${stdout}\n${stderr}`)),
  )
  failed.catch(() => {})
  return {
    child,
    exit,
    /** Resolves when the worker prints `line`; rejects if it dies first. */
    printed: (line: string) => Promise.race([new Promise<void>((resolve) => waiting.push({ line, resolve })), failed]),
    failed,
    output: () => stdout,
  }
}

/** A ledger whose clock is one lease (five minutes) ahead releases the dead process's reservation on its first reserve. */
async function expectReleasedAfterLease(ledgerPath: string) {
  const after = await fileLedger(ledgerPath, { now: () => Date.now() + 300_000 })
  expect(await after.reserve(reservation(0n, { charges: [], host: 'probe.example.com' }))).toEqual({ ok: true })
  expect((await after.report()).totals.filter((total) => total.host !== 'probe.example.com')).toEqual([])
}

async function kill(child: ChildProcess, exit: Promise<{ signal: NodeJS.Signals | null }>) {
  child.kill('SIGKILL')
  expect((await exit).signal).toBe('SIGKILL')
}

describe('a paying process killed with SIGKILL', () => {
  test('behavior: killed after its proof reached the merchant, the payment is claimed by nobody until its lease passes, then resumed from the file ledger and settled exactly once', async () => {
    const ledgerPath = join(dir, 'paid.jsonl')
    const run = startWorker({ MODE: 'pay', LEDGER_PATH: ledgerPath, URL: `${merchant.url}/held` })
    // The merchant has verified and settled the proof; its answer is held. Kill the payer now.
    await Promise.race([merchant.whenSettled(1), run.failed])
    await kill(run.child, run.exit)
    expect(run.output()).not.toContain('answered')
    releaseHeld()

    // A new ledger on the same file: what a restarted process sees. The dead process's claim on
    // its pending payment holds until its lease passes: nobody sends that proof alongside it.
    const signer = countingSigner(evm({ account: privateKeyToAccount(payerKey) }))
    const early = createPayingFetch({ signers: [signer], ledger: await fileLedger(ledgerPath) })
    const [held] = await early.pendingPayments()
    await expect(early.resume(held as NonNullable<typeof held>)).rejects.toMatchObject({
      code: 'PAYMENT_IN_PROGRESS',
      details: { pendingId: held?.id, until: expect.any(Number) },
    })
    expect(merchant.seen.filter((entry) => entry.path === '/held' && entry.headers['payment-signature'])).toHaveLength(
      1,
    )
    // One lease later (a clock moved on, not a wait) it is anyone's to resume.
    const ledger = await fileLedger(ledgerPath, { now: () => Date.now() + 300_000 })
    const fetchPaid = createPayingFetch({ signers: [signer], ledger })
    const pending = await fetchPaid.pendingPayments()
    expect(pending).toEqual([
      expect.objectContaining({
        url: `${merchant.url}/held`,
        method: 'GET',
        amount: '10000',
        protocol: 'x402',
        payer: privateKeyToAccount(payerKey).address,
      }),
    ])
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ reserved: 10_000n, spent: 0n })])

    const response = await fetchPaid.resume(pending[0] as (typeof pending)[number])
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('paid report')
    expect(getReceipt(response)).toMatchObject({
      protocol: 'x402',
      amount: 10_000n,
      reference: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    })

    // One settlement; the resumed proof is the killed process's proof, byte for byte; nothing signed.
    expect(merchant.settled).toHaveLength(1)
    expect(merchant.replayed).toBe(1)
    const proofs = merchant.seen.filter((entry) => entry.path === '/held' && entry.headers['payment-signature'])
    expect(proofs).toHaveLength(2)
    expect(proofs[1]?.headers['payment-signature']).toBe(proofs[0]?.headers['payment-signature'])
    expect(proofs[1]?.headers['idempotency-key']).toBe(proofs[0]?.headers['idempotency-key'])
    expect(signer.calls).toHaveLength(0)

    expect(await fetchPaid.pendingPayments()).toEqual([])
    // The outcome is durable too: another fresh ledger on the file sees it spent, nothing pending.
    const reopened = await fileLedger(ledgerPath)
    expect(await reopened.pending()).toEqual([])
    expect((await reopened.report()).totals).toEqual([
      expect.objectContaining({ spent: 10_000n, reserved: 0n, unknown: 0n }),
    ])
  })

  test('behavior: killed inside approve, before anything was signed, nothing is pending or settled, and the reservation stays counted until its lease passes', async () => {
    const ledgerPath = join(dir, 'approve.jsonl')
    const before = {
      settled: merchant.settled.length,
      proofs: merchant.seen.filter((entry) => entry.headers['payment-signature']).length,
    }
    const run = startWorker({ MODE: 'approve', LEDGER_PATH: ledgerPath, URL: `${merchant.url}/report` })
    await run.printed('approving')
    await kill(run.child, run.exit)

    const ledger = await fileLedger(ledgerPath)
    expect(await ledger.pending()).toEqual([])
    // The amount is reserved before anyone is asked to approve it; a crash leaves it counted (fail closed)…
    expect((await ledger.report()).totals).toEqual([
      expect.objectContaining({ reserved: 10_000n, spent: 0n, unknown: 0n }),
    ])
    // …until its lease passes: the first reserve after that releases it.
    await expectReleasedAfterLease(ledgerPath)
    expect(merchant.settled.length).toBe(before.settled)
    expect(merchant.seen.filter((entry) => entry.headers['payment-signature']).length).toBe(before.proofs)
  })

  test('behavior: killed after signing but before the proof left, nothing is pending or settled, and the reservation stays counted until its lease passes', async () => {
    const ledgerPath = join(dir, 'sign.jsonl')
    const before = {
      settled: merchant.settled.length,
      proofs: merchant.seen.filter((entry) => entry.headers['payment-signature']).length,
    }
    const run = startWorker({ MODE: 'sign', LEDGER_PATH: ledgerPath, URL: `${merchant.url}/report` })
    await run.printed('signed')
    await kill(run.child, run.exit)

    const ledger = await fileLedger(ledgerPath)
    expect(await ledger.pending()).toEqual([])
    // Fail closed: the signed authorization never left, but nothing proves that to the ledger…
    expect((await ledger.report()).totals).toEqual([
      expect.objectContaining({ reserved: 10_000n, spent: 0n, unknown: 0n }),
    ])
    // …but with no pending payment it cannot have left: released once its lease passes.
    await expectReleasedAfterLease(ledgerPath)
    expect(merchant.settled.length).toBe(before.settled)
    expect(merchant.seen.filter((entry) => entry.headers['payment-signature']).length).toBe(before.proofs)
  })
})
