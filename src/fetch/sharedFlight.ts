import { PayfetchError } from '../errors/PayfetchError.js'
import type { SessionLock, SessionToken } from '../sessions/SessionStore.js'
import { bounded } from '../utils/bounded.js'
import { originOf, type PayingContext, refuse } from './context.js'
import { storeFailed } from './storeFailed.js'

/** The lock's life, renewed by its holder every third of it while it pays. */
export const flightLockMs = 30_000

/** The call that pays for an origin's token; `land` hands the token (or nothing) to those waiting. */
export type Flight = { land(token: SessionToken | undefined): Promise<void> }

/**
 * One payment per origin for a reusable token (L402): a call that needs one either gets a token
 * another call paid for or becomes the call that pays, in this process (a shared promise) and
 * across the processes sharing the session store (its `lock`, when it has one).
 *
 * A call waits while another holds the flight: in this process until that payment ends, across
 * processes while the lock is held, looking for the stored token as it waits (every 20 ms at
 * first, then every 250 ms). The wait is bounded: the caller's abort signal ends it, a dead
 * holder's lock expires after {@link flightLockMs}, and a live holder that takes longer than
 * `approveTimeoutMs` plus two minutes ends it with `PAYMENT_IN_PROGRESS` (nothing paid).
 */
export async function joinFlight(
  context: PayingContext,
  url: string,
  signal: AbortSignal | undefined,
  stored: () => Promise<SessionToken | undefined>,
): Promise<{ token: SessionToken } | { flight: Flight }> {
  const origin = originOf(url)
  const deadline = Date.now() + context.approveTimeoutMs + 120_000
  for (;;) {
    const running = context.flights.get(origin)
    if (!running) break
    const token = await bounded(running, { signal })
    if (token) return { token }
    // That payment brought no token: another call may have started paying meanwhile.
    if (Date.now() >= deadline) throw inProgress(context, url)
  }
  // Lead in this process, registered before any await so concurrent calls find the flight.
  let land: (token: SessionToken | undefined) => void = () => {}
  const landing = new Promise<SessionToken | undefined>((resolve) => {
    land = resolve
  })
  context.flights.set(origin, landing)
  const landed = (token: SessionToken | undefined) => {
    if (context.flights.get(origin) === landing) context.flights.delete(origin)
    land(token)
  }
  try {
    const token = await stored()
    if (token) {
      landed(token)
      return { token }
    }
    const outcome = await takeLock(context, url, signal, deadline, stored)
    if ('token' in outcome) {
      landed(outcome.token)
      return outcome
    }
    const { lock } = outcome
    const renewing = lock && setInterval(() => void lock.renew().catch(() => {}), flightLockMs / 3)
    ;(renewing as { unref?: () => void } | undefined)?.unref?.()
    return {
      flight: {
        async land(token) {
          clearInterval(renewing)
          landed(token)
          await lock?.release().catch(() => {})
        },
      },
    }
  } catch (error) {
    landed(undefined)
    throw error
  }
}

// Takes the store's lock for the origin, or waits for the token its holder pays for.
async function takeLock(
  context: PayingContext,
  url: string,
  signal: AbortSignal | undefined,
  deadline: number,
  stored: () => Promise<SessionToken | undefined>,
): Promise<{ token: SessionToken } | { lock: SessionLock | undefined }> {
  const { sessions } = context
  if (typeof sessions.lock !== 'function') return { lock: undefined }
  for (let attempt = 0; ; attempt++) {
    let lock: SessionLock | undefined
    try {
      lock = await sessions.lock(originOf(url), flightLockMs)
    } catch (error) {
      throw refuse(context, url, storeFailed('sessions', 'lock', false, url, error))
    }
    if (lock) {
      // The holder may have stored its token just before letting go.
      const token = await stored()
      if (!token) return { lock }
      await lock.release().catch(() => {})
      return { token }
    }
    const token = await stored()
    if (token) return { token }
    if (Date.now() >= deadline) throw inProgress(context, url)
    await bounded(new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 250))), { signal })
  }
}

function inProgress(context: PayingContext, url: string): PayfetchError {
  return refuse(
    context,
    url,
    new PayfetchError(
      'PAYMENT_IN_PROGRESS',
      'Another call or process is paying this origin for a token; nothing was paid.',
      { details: { url, origin: originOf(url) } },
    ),
  )
}
