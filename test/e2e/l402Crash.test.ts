import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { createPayingFetch, getReceipt, isPayfetchError } from '../../src/index.js'
import { lightning, nwc } from '../../src/lightning/index.js'
import { fileLedger } from '../../src/node/index.js'
import { createPayfetchTools } from '../../src/tools/index.js'
import { startWorker } from '../support/workers.js'

// The Lightning crash proof (issue 10 §2): a process killed with SIGKILL after its wallet paid an
// L402 invoice, before the wallet's answer (the preimage) was kept, leaves a durable pending
// payment named by its payment hash; a fresh process finishes it by asking the wallet (NIP-47
// `lookup_invoice` over the relay), never by paying again.
const worker = fileURLToPath(new URL('../support/l402CrashWorker.ts', import.meta.url))

let stack: LightningStack
let dir: string

beforeAll(async () => {
  stack = await startLightningStack()
  dir = await mkdtemp(join(tmpdir(), 'payfetch-l402-crash-'))
})

afterAll(async () => {
  await stack?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('a process killed between its Lightning wallet paying and the proof being kept', () => {
  test('behavior: the payment is pending with its payment hash; a fresh process resumes it through the wallet lookup, the server answers, the ledger commits it once and the wallet paid once', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService()
    const ledgerPath = join(dir, 'l402.jsonl')
    const url = `${server.url}/report`
    const settledBefore = stack.node.settled.length

    const run = await startWorker(worker, { NWC_URI: service.uri, LEDGER_PATH: ledgerPath, URL: url })
    await run.printed('paid')
    await run.kill()
    expect((await run.exit).signal).toBe('SIGKILL')
    expect(run.output()).not.toContain('answered')
    // The money left (the node settled the invoice), the proof never reached the server.
    expect(service.requests).toHaveLength(1)
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    const paymentHash = stack.node.settled.at(-1)?.paymentHash as string
    expect(server.stats.accepted).toBe(0)

    const signer = lightning({ wallet: nwc(service.uri, { WebSocket }), networks: ['regtest'] })
    // A restarted process sees it, by its hash: the paying fetch, and the agent tools (`payfetch pending`).
    const early = createPayingFetch({ signers: [signer], ledger: await fileLedger(ledgerPath) })
    const [held] = await early.pendingPayments()
    expect(held).toMatchObject({
      protocol: 'l402',
      url,
      reference: paymentHash,
      proof: {},
      challenge: { 'www-authenticate': expect.stringContaining('invoice=') },
    })
    const tools = createPayfetchTools({ payfetch: { signers: [signer], ledger: await fileLedger(ledgerPath) } })
    const listed = await tools.get('pending_payments')?.run({}, {})
    expect(listed).toMatchObject({
      ok: true,
      output: { pending: [{ id: held?.id, protocol: 'l402', amount: '21000', payment_hash: paymentHash }] },
    })
    // The dead process's lease holds it until it passes: nobody asks the wallet alongside it.
    const inProgress = await early.resume(held as NonNullable<typeof held>).catch((error: unknown) => error)
    expect(isPayfetchError(inProgress, 'PAYMENT_IN_PROGRESS')).toBe(true)
    expect(service.lookups).toHaveLength(0)

    // One lease later (a clock moved on, not a wait) it is anyone's to resume.
    const fetchPaid = createPayingFetch({
      signers: [signer],
      ledger: await fileLedger(ledgerPath, { now: () => Date.now() + 300_000 }),
    })
    // Counted all along, as money that may have moved: the amount plus the fee limit.
    expect((await fetchPaid.spendReport()).totals).toEqual([
      expect.objectContaining({ spent: 0n, reserved: 0n, unknown: 31_000n }),
    ])
    const [pending] = await fetchPaid.pendingPayments()
    const response = await fetchPaid.resume(pending as NonNullable<typeof pending>)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, path: '/report' })
    expect(getReceipt(response)).toMatchObject({ protocol: 'l402', amount: 21_000n, reference: paymentHash })

    // The wallet paid once and was asked once; the server accepted the one proof.
    expect(service.requests).toHaveLength(1)
    expect(service.lookups).toEqual([expect.objectContaining({ payment_hash: paymentHash })])
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    expect(server.stats.accepted).toBe(1)
    expect(server.authorizations.at(-1)).toMatch(/^L402 [A-Za-z0-9+/]+=*:[0-9a-f]{64}$/)

    // Committed once, durably: another fresh ledger on the file sees it spent, nothing pending.
    const reopened = await fileLedger(ledgerPath)
    expect(await reopened.pending()).toEqual([])
    expect((await reopened.report()).totals).toEqual([
      expect.objectContaining({ spent: 21_000n, reserved: 0n, unknown: 0n }),
    ])
    const commits = (await readFile(ledgerPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      // Each journal line is `<json>\t<checksum>`.
      .map((line) => JSON.parse(line.slice(0, line.lastIndexOf('\t'))) as { op: string; id?: string; state?: string })
      .filter((record) => record.op === 'state' && record.id === held?.id && record.state === 'committed')
    expect(commits).toHaveLength(1)
    await expect(fetchPaid.resume(pending as NonNullable<typeof pending>)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    })
    expect(service.requests).toHaveLength(1)
  })
})
