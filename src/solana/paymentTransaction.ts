import {
  type Address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createTransactionMessage,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type Transaction,
  type TransactionWithBlockhashLifetime,
} from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'
import { findAssociatedTokenAddress } from './associatedTokenAddress.js'
import type { BlockhashLifetime } from './blockhash.js'
import { memo, setComputeUnitLimit, setComputeUnitPrice, transferChecked } from './instructions.js'
import { computeBudgetProgram, memoProgram } from './programs.js'

/** The compute units an x402 payment asks for: a transfer and a memo, as the reference client. */
export const computeUnitLimit = 20_000
/** The priority fee the fee payer is asked to pay, per compute unit; facilitators accept up to 5 lamports. */
export const computeUnitPriceMicroLamports = 1n

export type PaymentTransactionParameters = {
  /** Owns the source token account and signs the transfer. */
  readonly payer: Address
  /** The facilitator that pays the network fee and submits the transaction. */
  readonly feePayer: Address
  readonly payTo: Address
  readonly mint: Address
  readonly tokenProgram: Address
  readonly decimals: number
  readonly amount: bigint
  readonly memo: Uint8Array
  readonly lifetime: BlockhashLifetime
}

/** A compiled, unsigned payment transaction. */
export type PaymentTransaction = Transaction & TransactionWithBlockhashLifetime

/**
 * Builds the x402 `exact` transaction in the layout facilitators check, instruction by instruction:
 * compute-unit limit, compute-unit price, `TransferChecked` from the payer's associated token
 * account to `payTo`'s, memo. v0 message, no lookup tables.
 *
 * @throws {PayfetchError} `PAYMENT_FAILED` when the fee payer is one of the payment's own accounts.
 */
export async function buildPaymentTransaction(parameters: PaymentTransactionParameters): Promise<PaymentTransaction> {
  const { payer, feePayer, payTo, mint, tokenProgram } = parameters
  const [source, destination] = await Promise.all([
    findAssociatedTokenAddress(payer, mint, tokenProgram),
    findAssociatedTokenAddress(payTo, mint, tokenProgram),
  ])
  // A fee payer inside the instructions would turn the payer's signature into spending the
  // facilitator's accounts, or the facilitator's into moving the payer's: facilitators refuse it too.
  const accounts = [payer, source, destination, mint, tokenProgram, computeBudgetProgram, memoProgram]
  if (accounts.includes(feePayer))
    throw new PayfetchError('PAYMENT_FAILED', 'The fee payer the server named is one of the payment’s own accounts.', {
      details: { feePayer },
    })

  const message = appendTransactionMessageInstructions(
    [
      setComputeUnitLimit(computeUnitLimit),
      setComputeUnitPrice(computeUnitPriceMicroLamports),
      transferChecked({
        tokenProgram,
        source,
        mint,
        destination,
        authority: payer,
        amount: parameters.amount,
        decimals: parameters.decimals,
      }),
      memo(parameters.memo),
    ],
    setTransactionMessageLifetimeUsingBlockhash(
      parameters.lifetime,
      setTransactionMessageFeePayer(feePayer, createTransactionMessage({ version: 0 })),
    ),
  )
  return compileTransaction(message)
}
