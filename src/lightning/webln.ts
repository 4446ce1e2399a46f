import { abortable } from './abortable.js'
import type { LightningWallet } from './LightningWallet.js'
import { outcomeUnknown, paymentFailed } from './walletErrors.js'

/** The part of a WebLN provider (`window.webln`) payfetch uses. */
export type WebLNProvider = {
  enable?(): Promise<unknown>
  sendPayment(invoice: string): Promise<{ preimage: string }>
}

/**
 * Pays through a WebLN provider in the browser (a wallet extension's `window.webln`, or the one
 * given): `enable()`, then `sendPayment(invoice)`. WebLN takes no fee limit and cannot be
 * cancelled: the wallet's own limits and prompt apply; a rejection is taken as the user or the
 * wallet declining, and the signer's timeout leaves the outcome unknown.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { lightning, webln } from 'payfetch/lightning'
 *
 * const fetchPaid = createPayingFetch({ signers: [lightning({ wallet: webln() })] })
 * ```
 */
export function webln(provider?: WebLNProvider): LightningWallet {
  return {
    name: 'webln',
    async payInvoice(invoice, { signal, paymentHash }) {
      const target = provider ?? (globalThis as { webln?: WebLNProvider }).webln
      if (typeof target?.sendPayment !== 'function')
        throw paymentFailed('webln', 'no WebLN provider is available', paymentHash)
      try {
        await abortable(Promise.resolve(target.enable?.()), signal)
      } catch (error) {
        throw paymentFailed('webln', 'the provider was not enabled', paymentHash, {}, error)
      }
      if (signal.aborted) throw paymentFailed('webln', 'the timeout passed before the payment was sent', paymentHash)
      let result: { preimage?: unknown } | undefined
      try {
        result = await abortable(target.sendPayment(invoice), signal)
      } catch (error) {
        if (signal.aborted) throw outcomeUnknown('webln', 'no answer came before the timeout', paymentHash, {}, error)
        throw paymentFailed(
          'webln',
          'sendPayment was rejected',
          paymentHash,
          { message: String((error as { message?: unknown } | undefined)?.message ?? error) },
          error,
        )
      }
      // A resolved payment without a preimage is caught by the signer's check.
      return { preimage: String(result?.preimage ?? '') }
    },
  }
}
