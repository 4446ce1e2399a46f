import { PayfetchError } from '../errors/PayfetchError.js'

/** Safe context about one wallet call: never a key, macaroon, rune or preimage. */
export type WalletReport = Record<string, string | number | undefined>

/** The wallet said no, or failed before the payment left it: nothing was paid. */
export function paymentFailed(
  wallet: string,
  message: string,
  paymentHash: string,
  report: WalletReport = {},
  cause?: unknown,
): PayfetchError {
  return new PayfetchError('PAYMENT_FAILED', `The ${wallet} wallet did not pay: ${message}.`, {
    details: { wallet, paymentHash, ...clip(report) },
    cause,
  })
}

/** The request reached the wallet but no final answer came back: the invoice may have been paid. */
export function outcomeUnknown(
  wallet: string,
  message: string,
  paymentHash: string,
  report: WalletReport = {},
  cause?: unknown,
): PayfetchError {
  return new PayfetchError(
    'PAYMENT_OUTCOME_UNKNOWN',
    `The ${wallet} wallet may have paid: ${message}. Look the payment up by its hash before paying again.`,
    {
      details: { wallet, paymentHash, ...clip(report) },
      cause,
    },
  )
}

// Wallet messages are the wallet's own words, kept short in case one echoes a whole request.
function clip(report: WalletReport): WalletReport {
  return Object.fromEntries(
    Object.entries(report).map(([key, value]) => [key, typeof value === 'string' ? value.slice(0, 300) : value]),
  )
}
