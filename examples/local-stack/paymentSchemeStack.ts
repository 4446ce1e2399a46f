import type { ChargeServer } from './chargeServer.js'
import { type LightningStack, startLightningStack } from './lightningStack.js'
import { type MppxStack, startMppxStack } from './mppxStack.js'
import { type SolanaChargeStack, startSolanaChargeStack } from './solanaChargeStack.js'

export type { ChargeOutcome, ChargeServer } from './chargeServer.js'
export type { LightningChargeRoute, LightningTerms } from './lightningChargeServer.js'
export { defaultLightningChargeRoutes } from './lightningChargeServer.js'
export type { LightningStack } from './lightningStack.js'
export type { MppxStack } from './mppxStack.js'
export { appBearerToken, pathUsd, tempoChainId } from './mppxStack.js'
export type { ChallengeParams } from './paymentAuth.js'
export type { RecordedRequest, RequestLog } from './requestLog.js'
export type { SolanaChargeRoute, SolanaChargeStack, SolanaTerms } from './solanaChargeStack.js'
export { defaultSolanaChargeRoutes, devnetUsdcMint } from './solanaChargeStack.js'

/** Every `Payment`-scheme server the local stack has, on 127.0.0.1. */
export type PaymentSchemeStack = {
  /** mppx 0.11's own server: EVM (USDC, EURC) and Tempo charges on two anvils, two origins. */
  readonly mppx: MppxStack
  /** The Lightning node, relay and wallets the Lightning charge server settles through. */
  readonly lightning: LightningStack
  /** The Lightning `charge` server (draft-lightning-charge-00), its invoices issued by `lightning.node`. */
  readonly lightningCharge: ChargeServer
  /** The Solana `charge` server (draft-solana-charge-00) on a LiteSVM, with its RPC and accounts. */
  readonly solana: SolanaChargeStack
  /** How long each part took to start, in ms (they start in parallel). */
  readonly startupMs: { readonly mppx: number; readonly lightning: number; readonly solana: number }
  /** Stops everything: servers, relay, both anvils. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts the three `Payment`-scheme stacks in parallel: the mppx stack (EVM and Tempo), the
 * Lightning charge server with its node, relay and wallets, and the Solana charge stack. Each is
 * also available alone (`startMppxStack`, `startLightningStack().chargeServer()`,
 * `startSolanaChargeStack`); the mppx part, with its two anvils, is the slow one.
 *
 * @example
 * const stack = await startPaymentSchemeStack()
 * // `${stack.mppx.url}/weather`, `${stack.lightningCharge.url}/weather`, `${stack.solana.url}/weather`
 * await stack.stop()
 */
export async function startPaymentSchemeStack(): Promise<PaymentSchemeStack> {
  const timed = async <T>(start: () => Promise<T>): Promise<[T, number]> => {
    const started = performance.now()
    const value = await start()
    return [value, Math.round(performance.now() - started)]
  }
  const parts = await Promise.allSettled([
    timed(startMppxStack),
    timed(async () => {
      const lightning = await startLightningStack()
      try {
        return { lightning, charge: await lightning.chargeServer() }
      } catch (error) {
        await lightning.stop()
        throw error
      }
    }),
    timed(startSolanaChargeStack),
  ])
  const [mppx, lightning, solana] = parts
  if (mppx.status === 'rejected' || lightning.status === 'rejected' || solana.status === 'rejected') {
    await Promise.allSettled(
      parts.flatMap((part) =>
        part.status === 'fulfilled' ? [('stop' in part.value[0] ? part.value[0] : part.value[0].lightning).stop()] : [],
      ),
    )
    throw parts.find((part) => part.status === 'rejected')?.reason
  }
  let stopping: Promise<void> | undefined
  return {
    mppx: mppx.value[0],
    lightning: lightning.value[0].lightning,
    lightningCharge: lightning.value[0].charge,
    solana: solana.value[0],
    startupMs: { mppx: mppx.value[1], lightning: lightning.value[1], solana: solana.value[1] },
    stop: () =>
      (stopping ??= Promise.allSettled([
        mppx.value[0].stop(),
        lightning.value[0].lightning.stop(),
        solana.value[0].stop(),
      ]).then(() => {})),
  }
}
