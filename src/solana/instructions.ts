import { AccountRole, type Address, type Instruction } from '@solana/kit'
import { computeBudgetProgram, memoProgram } from './programs.js'

// The four instructions of an x402 `exact` payment, encoded by hand: each is a discriminator and a
// few little-endian integers, which keeps `@solana-program/*` out of users' dependencies.

/** The largest amount an SPL token transfer can carry. */
export const maxU64 = 2n ** 64n - 1n

/** ComputeBudget `SetComputeUnitLimit` (discriminator 2, u32 units). */
export function setComputeUnitLimit(units: number): Instruction {
  const data = new Uint8Array(5)
  data[0] = 2
  new DataView(data.buffer).setUint32(1, units, true)
  return { programAddress: computeBudgetProgram, data }
}

/** ComputeBudget `SetComputeUnitPrice` (discriminator 3, u64 micro-lamports per compute unit). */
export function setComputeUnitPrice(microLamports: bigint): Instruction {
  const data = new Uint8Array(9)
  data[0] = 3
  new DataView(data.buffer).setBigUint64(1, microLamports, true)
  return { programAddress: computeBudgetProgram, data }
}

export type TransferCheckedParameters = {
  /** The mint's owner: the Token or the Token-2022 program. */
  readonly tokenProgram: Address
  readonly source: Address
  readonly mint: Address
  readonly destination: Address
  /** The source's owner, who signs. */
  readonly authority: Address
  /** Atomic units; at most 2^64 − 1. */
  readonly amount: bigint
  readonly decimals: number
}

/**
 * SPL Token / Token-2022 `TransferChecked` (discriminator 12, u64 amount, u8 decimals). The program
 * checks the mint and its decimals, so a wrong mint or scale fails instead of moving another amount.
 */
export function transferChecked(parameters: TransferCheckedParameters): Instruction {
  // DataView would wrap a larger value modulo 2^64 without a word.
  if (parameters.amount <= 0n || parameters.amount > maxU64) throw new RangeError('The amount does not fit in a u64.')
  const data = new Uint8Array(10)
  data[0] = 12
  new DataView(data.buffer).setBigUint64(1, parameters.amount, true)
  data[9] = parameters.decimals
  return {
    programAddress: parameters.tokenProgram,
    accounts: [
      { address: parameters.source, role: AccountRole.WRITABLE },
      { address: parameters.mint, role: AccountRole.READONLY },
      { address: parameters.destination, role: AccountRole.WRITABLE },
      { address: parameters.authority, role: AccountRole.READONLY_SIGNER },
    ],
    data,
  }
}

/** SPL Memo with no signer accounts: `data` is the memo's UTF-8 bytes. */
export function memo(data: Uint8Array): Instruction {
  return { programAddress: memoProgram, data }
}
