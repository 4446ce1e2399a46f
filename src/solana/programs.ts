import type { Address } from '@solana/kit'

// The on-chain programs a payment touches. Addresses are fixed on every cluster.

/** The System Program: no key signs for it, so tokens sent to its accounts are gone. */
export const systemProgram = '11111111111111111111111111111111' as Address
/** The SPL Token program. */
export const tokenProgram = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA' as Address
/** The SPL Token-2022 program (token extensions). */
export const token2022Program = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb' as Address
/** The associated token account program: the address of an owner's account for a mint. */
export const associatedTokenProgram = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL' as Address
export const computeBudgetProgram = 'ComputeBudget111111111111111111111111111111' as Address
/** SPL Memo v2. */
export const memoProgram = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr' as Address
/** Lighthouse: the assertions some wallets (Phantom) append to what they sign. */
export const lighthouseProgram = 'L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95' as Address

/** Whether `program` is one of the two SPL token programs payfetch can transfer with. */
export function isTokenProgram(program: string): program is Address {
  return program === tokenProgram || program === token2022Program
}
