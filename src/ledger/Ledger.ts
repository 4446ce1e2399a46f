import type { Charge } from '../caps/budgets.js'

/** What one payment is, for budgets and reports. Amounts are atomic units of `asset`. */
export type Spend = {
  readonly network: string
  readonly asset: string
  readonly amount: bigint
  readonly host: string
  /** The value in nano-dollars, when payfetch could value it. */
  readonly nanoUsd?: bigint | undefined
}

/** A reservation: taken before signing, counted against every budget in `charges`. */
export type Reservation = {
  readonly id: string
  /** Unix time in milliseconds: where the reservation sits in its budgets' windows. */
  readonly time: number
  readonly spend: Spend
  readonly charges: readonly Charge[]
  /**
   * Who holds it: the payment attempt that will sign and send it. With an owner the reservation
   * is leased to it (see {@link Ledger.leaseMs}); without one it is never released by a lease.
   */
  readonly owner?: string | undefined
}

/** The ledger's answer to `reserve`: the budget that has no room, when there is one. */
export type ReserveResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly used: bigint; readonly limit: bigint }

/**
 * A paid request whose proof was (or is about to be) sent and whose answer is not known yet. It
 * holds the exact request, proof included, so it can be replayed without signing again.
 */
export type PendingPayment = {
  /** The reservation id. */
  readonly id: string
  readonly idempotencyKey: string
  readonly protocol: string
  /** The offer's scheme or intent (`exact`, `upto`, `charge`): whether a settled amount may differ. */
  readonly scheme?: string | undefined
  readonly url: string
  readonly method: string
  /** The caller's request headers. */
  readonly headers: Readonly<Record<string, string>>
  /** The proof headers (and the idempotency key) sent on top of `headers`. */
  readonly proof: Readonly<Record<string, string>>
  /** The request body, base64, when there is one. */
  readonly body?: string | undefined
  readonly network: string
  readonly asset: string
  readonly amount: string
  /** What the reservation holds (the amount plus the signer's fee limit), in the same units. */
  readonly reserved?: string | undefined
  /** The reservation's value in nano-dollars, when payfetch could value it. */
  readonly nanoUsd?: string | undefined
  readonly payTo: string
  readonly payer?: string | undefined
  /** The settlement reference known before the answer (a Lightning payment hash), for the receipt. */
  readonly reference?: string | undefined
  /** The fee the wallet reported, in the asset's atomic units (Lightning: msat). */
  readonly fee?: string | undefined
  /** The money moved when the signer paid (a Lightning invoice), whatever the server answers. */
  readonly paidOnSigning?: boolean | undefined
  /**
   * Kept before a wallet that pays on signing is asked (`proof` is empty then): the 402's challenge
   * headers the offer and its proof are read from. A crash before the wallet's answer is kept
   * leaves it so: `resume` asks the wallet for the payment by `reference` (its payment hash) and
   * builds the proof from these, never paying again. The proof replaces them once known.
   */
  readonly challenge?: Readonly<Record<string, string>> | undefined
  readonly time: number
}

/**
 * The ledger's answer to `claim`: the lease is the claimer's until `until` (on the ledger's
 * clock), or another owner holds it until `until`, or there is nothing left to claim (the payment
 * settled, was refused or released, or was never reserved).
 */
export type ClaimResult =
  | { readonly ok: true; readonly until: number }
  | { readonly ok: false; readonly reason: 'held'; readonly until: number }
  | { readonly ok: false; readonly reason: 'gone' }

/** What a committed payment really spent: the same budgets as its reservation, other amounts. */
export type Settled = {
  readonly spend: Spend
  readonly charges: readonly Charge[]
}

/**
 * The state of one reservation. `unknown` (no answer came) and `refused` (the server refused a
 * proof it may still settle) stay counted; only `released` frees the amount.
 */
export type EntryState = 'reserved' | 'committed' | 'released' | 'unknown' | 'refused'

/** What was spent and what is held, per budget and per host and asset. */
export type SpendReport = {
  readonly budgets: readonly {
    readonly key: string
    readonly used: bigint
    readonly limit: bigint
    readonly windowMs?: number | undefined
  }[]
  readonly totals: readonly {
    readonly host: string
    readonly network: string
    readonly asset: string
    readonly spent: bigint
    readonly reserved: bigint
    readonly unknown: bigint
  }[]
}

/**
 * Where reservations live. `reserve` must check every charge and record the reservation
 * atomically, so concurrent calls (and, for shared ledgers, processes) never overspend.
 *
 * Leases: a reservation with an `owner` is that owner's for {@link Ledger.leaseMs}, and the owner
 * renews it (with `claim`) while it works. One that is still only reserved (no pending payment:
 * its proof cannot have left) when its lease has passed belonged to a process that died, and the
 * next `reserve` releases it. A reservation with a pending payment is never released by a lease:
 * its proof may have left. Its lease says who may send that proof now, so one process at a time
 * resends a pending payment.
 */
export type Ledger = {
  /**
   * How long a lease lasts, in ms, on the ledger's clock. Owners renew at a third of it. A process
   * that dies holds its reservation's room that long at most.
   */
  readonly leaseMs: number
  /**
   * Checks every charge and records the reservation, atomically. Reservations whose lease has
   * passed with no pending payment are released first.
   */
  reserve(reservation: Reservation): Promise<ReserveResult>
  /**
   * Takes or renews the lease of reservation `id` for `owner`: granted to its holder (a renewal),
   * or to anyone when the reservation has a pending payment nobody holds (no lease, or its lease
   * has passed). A resumer claims a pending payment before sending its proof again.
   */
  claim(id: string, owner: string): Promise<ClaimResult>
  /**
   * The payment went through. `settled` is what actually left, when it differs from what was
   * reserved (a Lightning fee below or above its limit, an `upto` charge): the entry's spend and
   * budget charges become these, so budgets count what was spent, not what was feared.
   */
  commit(id: string, settled?: Settled): Promise<void>
  /** The payment provably did not happen: its amount is free again. */
  release(id: string): Promise<void>
  /**
   * The proof is about to leave: keep it durably so a restarted process can resume. With `owner`,
   * the lease becomes that owner's. Rejects when the reservation is not held any more (released,
   * by its lease or otherwise, settled, or never made): such a proof must not leave. A wallet that
   * pays on signing has its payment kept before it is asked (no proof yet, `challenge` set); saved
   * again with its proof, the record replaces the first, whole.
   */
  savePending(pending: PendingPayment, owner?: string): Promise<void>
  /** The answer never came: stays counted, and stays pending for `resume`; its lease ends. */
  markUnknown(id: string): Promise<void>
  /** The server refused the proof: stays counted (it may still settle), no longer pending. */
  markRefused(id: string): Promise<void>
  /** Payments whose outcome is not known yet. */
  pending(): Promise<PendingPayment[]>
  /** Spent, reserved and unknown amounts; budgets as of now. */
  report(
    rules?: readonly { key: string; limit: bigint; windowMs?: number | undefined; perHost?: boolean | undefined }[],
  ): Promise<SpendReport>
}
