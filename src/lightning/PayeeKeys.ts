import { secp256k1 } from '@noble/curves/secp256k1'

type Point = typeof secp256k1.ProjectivePoint.BASE

/** A node key whose signature already checked out, with a table of its multiples once met again. */
export type PayeeKey = {
  /** The compressed key, 66 lowercase hex characters. */
  readonly hex: string
  /** The key's point with its table: built the second time the key signs, so a node met once costs nothing more. */
  readonly point?: Point | undefined
}

/**
 * Window of a payee key's table (`utils.precompute`): 264 points, built in about the time of one
 * check, and a later multiplication by the key about 3× cheaper (`bench/invoice-check.md`).
 */
const window = 4

/**
 * The last few payee keys that signed a checked invoice, most recent first, so a check of the next
 * invoice from the same node multiplies by tables instead of by a bare point. Bounded: the oldest
 * key is dropped. What it holds is public; it changes what a check costs, never what it answers.
 */
export class PayeeKeys {
  private keys: PayeeKey[] = []

  constructor(readonly size = 8) {}

  /** Most recent first. */
  get recent(): readonly PayeeKey[] {
    return this.keys
  }

  /** Puts a key that signed a checked invoice first (its table built when met again), dropping the oldest. */
  remember(hex: string, point?: Point): void {
    const known = this.keys.find((key) => key.hex === hex)
    try {
      const entry = !known
        ? { hex }
        : known.point
          ? known
          : { hex, point: secp256k1.utils.precompute(window, point ?? secp256k1.ProjectivePoint.fromHex(hex)) }
      this.keys = [entry, ...this.keys.filter((key) => key !== known)].slice(0, this.size)
    } catch {
      // A key that checked out always has a point; were it not so, it is simply not kept.
    }
  }

  clear(): void {
    this.keys = []
  }
}

/** The keys every check in this process shares. */
export const payeeKeys = new PayeeKeys()
