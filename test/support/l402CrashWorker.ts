// The process that dies in the Lightning crash proof (test/e2e/l402Crash.test.ts): it pays an L402
// server through NWC with a file ledger; once the wallet has paid and answered, the answer is held
// (the window between the wallet paying and the proof being kept) and the parent kills it with SIGKILL.
import WebSocket from 'ws'
import { createPayingFetch } from '../../src/index.js'
import { type LightningWallet, lightning, nwc } from '../../src/lightning/index.js'
import { fileLedger } from '../../src/node/index.js'

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const say = (line: string) => process.stdout.write(`${line}\n`)
const never = new Promise<never>(() => {})
// Nothing else may hold the process open while it waits to be killed.
setInterval(() => {}, 60_000)

const real = nwc(env('NWC_URI'), { WebSocket })
const wallet: LightningWallet = {
  name: 'nwc',
  async payInvoice(invoice, options) {
    await real.payInvoice(invoice, options)
    say('paid')
    return never
  },
}
const fetchPaid = createPayingFetch({
  signers: [lightning({ wallet, networks: ['regtest'], timeoutMs: 600_000 })],
  ledger: await fileLedger(env('LEDGER_PATH')),
})
say('ready')
await fetchPaid(env('URL'))
say('answered')
