import type { Keypair, VersionedTransaction } from '@solana/web3.js'
import type { BrowserContext } from 'playwright-core'
import type { TestEip1193Provider } from './eip1193Provider.js'

// Wallets as a browser extension injects them: an object on `window` before the page's scripts
// run, whose keys live outside the page (here, in the test process, reached through a binding).
// Errors cross as `{ error }` and are thrown again in the page with the wallet's `code`.

type Answer = { result?: unknown; error?: { code?: number; message: string } }

async function answer(run: () => Promise<unknown>): Promise<Answer> {
  try {
    return { result: await run() }
  } catch (error) {
    const { code, message } = error as { code?: number; message?: string }
    return { error: { ...(typeof code === 'number' && { code }), message: String(message ?? error) } }
  }
}

const rethrow = `(answer) => {
  if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error.code === undefined ? {} : { code: answer.error.code })
  return answer.result
}`

/** `window.ethereum`: an EIP-1193 provider backed by `provider` (a local key, node calls to anvil). */
export async function injectEthereum(context: BrowserContext, provider: TestEip1193Provider): Promise<void> {
  await context.exposeFunction('__testEthereum', (args: { method: string; params?: unknown }) =>
    answer(() => provider.request(args)),
  )
  await context.addInitScript({
    content: `window.ethereum = { isTestWallet: true, request: (args) => window.__testEthereum({ method: args.method, params: args.params }).then(${rethrow}) }`,
  })
}

export type TestWebln = {
  /** Invoices the page asked the wallet to pay, in order. */
  readonly invoices: string[]
  /** Whether the page called `enable()`. */
  enabled: boolean
}

/**
 * `window.webln`: a WebLN provider whose `sendPayment` pays through `pay` (the local Lightning
 * node), as a wallet extension pays through its node. `enable()` is the connect prompt, accepted.
 */
export async function injectWebln(
  context: BrowserContext,
  pay: (invoice: string) => { preimage: string },
): Promise<TestWebln> {
  const wallet: TestWebln = { invoices: [], enabled: false }
  await context.exposeFunction('__testWebln', (call: { method: 'enable' | 'sendPayment'; invoice?: string }) =>
    answer(async () => {
      if (call.method === 'enable') return void (wallet.enabled = true)
      wallet.invoices.push(String(call.invoice))
      return { preimage: pay(String(call.invoice)).preimage }
    }),
  )
  await context.addInitScript({
    content: `window.webln = {
  enable: () => window.__testWebln({ method: 'enable' }).then(${rethrow}),
  sendPayment: (invoice) => window.__testWebln({ method: 'sendPayment', invoice }).then(${rethrow}),
}`,
  })
  return wallet
}

export type TestSolanaWallet = {
  /** Transactions the page asked the wallet to sign, as it received them. */
  readonly signed: Uint8Array[]
}

/**
 * `window.solana`: a wallet-adapter-shaped wallet (`publicKey`, `signTransaction`) for `keypair`. The
 * page hands it a web3.js `VersionedTransaction`; the test process signs it with `keypair` and the
 * page gets a `VersionedTransaction` of the same class back, as Phantom's adapter does.
 */
export async function injectSolanaWallet(
  context: BrowserContext,
  keypair: Keypair,
  VersionedTransactionClass: { deserialize(bytes: Uint8Array): VersionedTransaction },
): Promise<TestSolanaWallet> {
  const wallet: TestSolanaWallet = { signed: [] }
  await context.exposeFunction('__testSolana', (bytes: number[]) =>
    answer(async () => {
      wallet.signed.push(Uint8Array.from(bytes))
      const transaction = VersionedTransactionClass.deserialize(Uint8Array.from(bytes))
      transaction.sign([keypair])
      return Array.from(transaction.serialize())
    }),
  )
  await context.addInitScript({
    content: `window.solana = {
  publicKey: { toBase58: () => ${JSON.stringify(keypair.publicKey.toBase58())} },
  signTransaction: async (transaction) => {
    const signed = await window.__testSolana(Array.from(transaction.serialize())).then(${rethrow})
    return transaction.constructor.deserialize(Uint8Array.from(signed))
  },
}`,
  })
  return wallet
}
