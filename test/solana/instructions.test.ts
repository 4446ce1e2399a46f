import { AccountRole, createNoopSigner, generateKeyPairSigner } from '@solana/kit'
import { getAssociatedTokenAddressSync, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID } from '@solana/spl-token'
import { PublicKey } from '@solana/web3.js'
import { getSetComputeUnitLimitInstruction, getSetComputeUnitPriceInstruction } from '@solana-program/compute-budget'
import { findAssociatedTokenPda, getTransferCheckedInstruction, TOKEN_PROGRAM_ADDRESS } from '@solana-program/token'
import {
  getTransferCheckedInstruction as getTransferCheckedInstruction2022,
  TOKEN_2022_PROGRAM_ADDRESS,
} from '@solana-program/token-2022'
import { describe, expect, test } from 'vitest'
import { findAssociatedTokenAddress } from '../../src/solana/associatedTokenAddress.js'
import {
  maxU64,
  memo,
  setComputeUnitLimit,
  setComputeUnitPrice,
  transferChecked,
} from '../../src/solana/instructions.js'
import {
  associatedTokenProgram,
  computeBudgetProgram,
  memoProgram,
  token2022Program,
  tokenProgram,
} from '../../src/solana/programs.js'

// The hand-encoded instructions against the program clients the x402 reference uses
// (@solana-program/*, generated from the programs' IDLs): same program, accounts and bytes.
const address = async () => (await generateKeyPairSigner()).address
const [source, mint, destination, authority, owner] = await Promise.all([
  address(),
  address(),
  address(),
  address(),
  address(),
])
const plain = (instruction: {
  programAddress: string
  accounts?: readonly { address: string; role: AccountRole }[]
  data?: ArrayLike<number>
}) => ({
  programAddress: instruction.programAddress,
  accounts: (instruction.accounts ?? []).map(({ address, role }) => ({ address, role })),
  data: Array.from(instruction.data ?? []),
})

describe('instructions', () => {
  test('behavior: program addresses are the ones the program clients use', () => {
    expect(tokenProgram).toBe(TOKEN_PROGRAM_ADDRESS)
    expect(token2022Program).toBe(TOKEN_2022_PROGRAM_ADDRESS)
    expect(computeBudgetProgram).toBe('ComputeBudget111111111111111111111111111111')
    expect(memoProgram).toBe('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr')
    expect(associatedTokenProgram).toBe('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL')
  })

  test('behavior: SetComputeUnitLimit and SetComputeUnitPrice encode as @solana-program/compute-budget does', () => {
    for (const units of [0, 20_000, 1_400_000, 2 ** 32 - 1])
      expect(plain(setComputeUnitLimit(units))).toEqual(plain(getSetComputeUnitLimitInstruction({ units })))
    for (const microLamports of [0n, 1n, 5_000_000n, maxU64])
      expect(plain(setComputeUnitPrice(microLamports))).toEqual(
        plain(getSetComputeUnitPriceInstruction({ microLamports })),
      )
    expect(Array.from(setComputeUnitLimit(20_000).data ?? [])).toEqual([2, 0x20, 0x4e, 0, 0])
  })

  test('behavior: TransferChecked encodes as @solana-program/token and token-2022 do, for both programs', () => {
    for (const amount of [1n, 10_000n, 123_456_789_012n, maxU64]) {
      for (const decimals of [0, 6, 9, 255]) {
        const ours = transferChecked({ tokenProgram, source, mint, destination, authority, amount, decimals })
        expect(plain(ours)).toEqual(
          plain(
            getTransferCheckedInstruction({
              source,
              mint,
              destination,
              authority: createNoopSigner(authority),
              amount,
              decimals,
            }),
          ),
        )
        const ours2022 = transferChecked({
          tokenProgram: token2022Program,
          source,
          mint,
          destination,
          authority,
          amount,
          decimals,
        })
        expect(plain(ours2022)).toEqual(
          plain(
            getTransferCheckedInstruction2022({
              source,
              mint,
              destination,
              authority: createNoopSigner(authority),
              amount,
              decimals,
            }),
          ),
        )
      }
    }
    const { accounts, data } = transferChecked({
      tokenProgram,
      source,
      mint,
      destination,
      authority,
      amount: 10_000n,
      decimals: 6,
    })
    expect(accounts?.map((account) => account.role)).toEqual([
      AccountRole.WRITABLE,
      AccountRole.READONLY,
      AccountRole.WRITABLE,
      AccountRole.READONLY_SIGNER,
    ])
    expect(Array.from(data ?? [])).toEqual([12, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 6])
  })

  test('error: an amount outside u64 is refused, never wrapped modulo 2^64', () => {
    const parameters = { tokenProgram, source, mint, destination, authority, decimals: 6 }
    expect(() => transferChecked({ ...parameters, amount: maxU64 + 1n })).toThrow(RangeError)
    expect(() => transferChecked({ ...parameters, amount: 2n ** 64n + 10_000n })).toThrow(RangeError)
    expect(() => transferChecked({ ...parameters, amount: 0n })).toThrow(RangeError)
  })

  test('behavior: a memo carries its bytes and no accounts (so nobody else has to sign)', () => {
    const bytes = new TextEncoder().encode('invoice 42 ✓')
    expect(plain(memo(bytes))).toEqual({ programAddress: memoProgram, accounts: [], data: Array.from(bytes) })
  })

  test('behavior: associated token addresses match findAssociatedTokenPda for Token and Token-2022', async () => {
    for (const program of [tokenProgram, token2022Program]) {
      const [expected] = await findAssociatedTokenPda({ owner, mint, tokenProgram: program })
      expect(await findAssociatedTokenAddress(owner, mint, program)).toBe(expected)
    }
    expect(await findAssociatedTokenAddress(owner, mint, tokenProgram)).not.toBe(
      await findAssociatedTokenAddress(owner, mint, token2022Program),
    )
    // And against @solana/web3.js + @solana/spl-token, an implementation that shares no code with kit.
    for (const [program, web3Program] of [
      [tokenProgram, TOKEN_PROGRAM_ID],
      [token2022Program, TOKEN_2022_PROGRAM_ID],
    ] as const) {
      const web3 = getAssociatedTokenAddressSync(
        new PublicKey(mint),
        new PublicKey(owner),
        true,
        web3Program,
      ).toBase58()
      expect(await findAssociatedTokenAddress(owner, mint, program)).toBe(web3)
    }
  })
})
