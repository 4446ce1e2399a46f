// The process that dies in the crash proof (test/e2e/crashResume.test.ts): it pays through a file
// ledger and is killed with SIGKILL by its parent at the moment MODE names.
//   pay      — the proof is sent; the merchant settles it and holds the answer (killed then)
//   approve  — the approve hook never answers (killed before any reservation or signature)
//   sign     — the signer has signed but the proof has not left (killed between sign and send)
import { privateKeyToAccount } from 'viem/accounts'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, type Signer } from '../../src/index.js'
import { fileLedger } from '../../src/node/index.js'
import { wrapPayers } from './countingSigner.js'

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const mode = env('MODE')
const say = (line: string) => process.stdout.write(`${line}\n`)
const never = new Promise<never>(() => {})
// Nothing else may hold the process open while it waits to be killed.
setInterval(() => {}, 60_000)

const real = evm({ account: privateKeyToAccount(env('PAYER_KEY') as `0x${string}`) })
const signer: Signer =
  mode === 'sign'
    ? wrapPayers(real, (pay) => async (request, context) => (await pay(request, context), say('signed'), never))
    : real
const fetchPaid = createPayingFetch({
  signers: [signer],
  ledger: await fileLedger(env('LEDGER_PATH')),
  approve: mode === 'approve' ? () => (say('approving'), never) : undefined,
  approveTimeoutMs: 600_000,
})
say('started')
await fetchPaid(env('URL'))
say('answered')
