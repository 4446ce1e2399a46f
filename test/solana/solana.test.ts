import {
  type Address,
  address,
  createSolanaRpc,
  decompileTransactionMessage,
  generateKeyPair,
  generateKeyPairSigner,
  getAddressEncoder,
  getCompiledTransactionMessageDecoder,
  getPublicKeyFromAddress,
  getTransactionEncoder,
  lamports,
  partiallySignTransaction,
  type SignatureBytes,
  signBytes,
  type Transaction,
  type TransactionModifyingSigner,
  verifySignature,
} from '@solana/kit'
import {
  Keypair,
  PublicKey,
  TransactionInstruction,
  TransactionMessage,
  VersionedTransaction,
  type Transaction as Web3Transaction,
} from '@solana/web3.js'
import {
  parseSetComputeUnitLimitInstruction,
  parseSetComputeUnitPriceInstruction,
} from '@solana-program/compute-budget'
import { findAssociatedTokenPda, parseTransferCheckedInstruction } from '@solana-program/token'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { ExactSvmScheme } from '@x402/svm/exact/facilitator'
import { FailedTransactionMetadata } from 'litesvm'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { liteSvmFacilitatorSigner } from '../../examples/local-stack/solanaFacilitator.js'
import { startSolanaRpc } from '../../examples/local-stack/solanaRpc.js'
import { isPayfetchError, type Offer, PayfetchError } from '../../src/index.js'
import { solana, walletAdapter } from '../../src/solana/index.js'
import { lighthouseProgram, memoProgram } from '../../src/solana/programs.js'
import {
  countingSigner,
  decodeWire,
  devnet,
  type Ledger,
  mainnet,
  offerFor,
  payerOf,
  payloadOf,
  startLedger,
} from './support.js'

// payfetch builds and partially signs; a facilitator co-signs as fee payer and sends to a LiteSVM
// that verifies every signature. Mints and blockhashes are read over real HTTP from an RPC shim.
let ledger: Ledger

beforeAll(async () => {
  ledger = await startLedger()
})

afterAll(async () => {
  await ledger?.close()
})

const context = { url: 'http://127.0.0.1/resource' }
const compiledOf = (transaction: Transaction) => getCompiledTransactionMessageDecoder().decode(transaction.messageBytes)

/** A funded kit payer and a devnet signer for it. */
async function payer(options: { funds?: bigint; token?: 'usdc' | 't22' } = {}) {
  const key = await generateKeyPairSigner()
  const token = ledger[options.token ?? 'usdc']
  if (options.funds !== 0n) await ledger.chain.mint(token, key.address, options.funds ?? 1_000_000n)
  const counting = countingSigner(key)
  return { key, counting, signer: solana({ signer: counting, rpc: ledger.rpc.url, networks: [devnet] }) }
}

/** The facilitator reference verification (`@x402/svm`), run on the payload as a server would. */
async function referenceVerify(offer: Offer, transaction: string) {
  const requirements = offer.raw as PaymentRequirements
  const payload = {
    x402Version: 2,
    resource: { url: context.url },
    accepted: requirements,
    payload: { transaction },
  } as unknown as PaymentPayload
  return new ExactSvmScheme(liteSvmFacilitatorSigner(ledger.chain.svm, ledger.feePayer)).verify(payload, requirements)
}

async function balances(token: 'usdc' | 't22', owner: Address) {
  return {
    owner: await ledger.chain.balanceOf(ledger[token], owner),
    merchant: await ledger.chain.balanceOf(ledger[token], ledger.merchant),
  }
}

describe('solana signer: building and settling on litesvm', () => {
  test('behavior: builds the x402 exact layout (CU limit, CU price, TransferChecked, memo), signed by the payer only', async () => {
    const { key, signer } = await payer()
    const offer = offerFor(ledger)
    expect(payerOf(signer).canPay(offer)).toBe(true)
    const payment = await payerOf(signer).pay(offer, context)
    expect(payment.payer).toBe(key.address)

    const transaction = decodeWire(payloadOf(payment))
    const compiled = compiledOf(transaction)
    expect(compiled.version).toBe(0)
    expect(compiled.staticAccounts.slice(0, compiled.header.numSignerAccounts)).toEqual([
      ledger.feePayer.address,
      key.address,
    ])
    expect(transaction.signatures[ledger.feePayer.address]).toBeNull()
    const signature = transaction.signatures[key.address] as SignatureBytes
    expect(await verifySignature(await getPublicKeyFromAddress(key.address), signature, transaction.messageBytes)).toBe(
      true,
    )
    expect(compiled.lifetimeToken).toBe(ledger.chain.svm.latestBlockhash())

    const [limit, price, transfer, memo, ...rest] = decompileTransactionMessage(compiled).instructions
    expect(rest).toEqual([])
    expect(parseSetComputeUnitLimitInstruction(limit as never).data.units).toBe(20_000)
    expect(parseSetComputeUnitPriceInstruction(price as never).data.microLamports).toBe(1n)
    const parsed = parseTransferCheckedInstruction(transfer as never)
    expect(transfer?.programAddress).toBe(ledger.usdc.tokenProgram)
    expect(parsed.data).toMatchObject({ amount: 10_000n, decimals: 6 })
    const [source] = await findAssociatedTokenPda({
      owner: key.address,
      mint: ledger.usdc.mint,
      tokenProgram: ledger.usdc.tokenProgram,
    })
    const [destination] = await findAssociatedTokenPda({
      owner: ledger.merchant,
      mint: ledger.usdc.mint,
      tokenProgram: ledger.usdc.tokenProgram,
    })
    expect(parsed.accounts.source.address).toBe(source)
    expect(parsed.accounts.destination.address).toBe(destination)
    expect(parsed.accounts.mint.address).toBe(ledger.usdc.mint)
    expect(parsed.accounts.authority.address).toBe(key.address)
    expect(memo?.programAddress).toBe(memoProgram)
    expect(new TextDecoder().decode(memo?.data as Uint8Array)).toMatch(/^[0-9a-f]{32}$/)
  })

  test('behavior: co-signed by the fee payer it settles; balances move by exactly the price and the payer needs no SOL', async () => {
    const { key, signer } = await payer()
    const before = await balances('usdc', key.address)
    const feePayerLamports = ledger.chain.lamports(ledger.feePayer.address)
    const signature = await ledger.settle(
      payloadOf(await payerOf(signer).pay(offerFor(ledger, { amount: 123_456n }), context)),
    )
    expect(ledger.chain.transaction(signature)).not.toBeInstanceOf(FailedTransactionMetadata)
    expect(await balances('usdc', key.address)).toEqual({
      owner: before.owner - 123_456n,
      merchant: before.merchant + 123_456n,
    })
    expect(ledger.chain.lamports(key.address)).toBe(0n)
    // The fee payer paid the network fee (two signatures), the payer nothing.
    expect(ledger.chain.lamports(ledger.feePayer.address)).toBeLessThan(feePayerLamports)
  })

  test('behavior: a Token-2022 mint works: its program is read from the mint owner, its 9 decimals from the chain', async () => {
    const { key, signer } = await payer({ token: 't22', funds: 10_000_000_000n })
    const offer = offerFor(ledger, { amount: 2_500_000_000n }, ledger.t22)
    const payment = await payerOf(signer).pay(offer, context)
    const transfer = decompileTransactionMessage(compiledOf(decodeWire(payloadOf(payment)))).instructions[2]
    expect(transfer?.programAddress).toBe(ledger.t22.tokenProgram)
    expect(Array.from(transfer?.data ?? []).at(-1)).toBe(9)
    expect(await referenceVerify(offer, payloadOf(payment))).toMatchObject({ isValid: true, payer: key.address })
    const before = await balances('t22', key.address)
    await ledger.settle(payloadOf(payment))
    expect(await balances('t22', key.address)).toEqual({
      owner: before.owner - 2_500_000_000n,
      merchant: before.merchant + 2_500_000_000n,
    })
  })

  test('behavior: the @x402/svm facilitator verification accepts the payload, with and without a server memo', async () => {
    const { key, signer } = await payer()
    for (const extra of [{}, { memo: 'invoice 42 ✓' }]) {
      const offer = offerFor(ledger, extra)
      expect(await referenceVerify(offer, payloadOf(await payerOf(signer).pay(offer, context)))).toMatchObject({
        isValid: true,
        payer: key.address,
      })
    }
  })

  test('policy: a tampered transaction is rejected by signature verification (amount changed, destination swapped) and moves nothing', async () => {
    const { key, signer } = await payer()
    const offer = offerFor(ledger, { amount: 10_000n })
    const original = decodeWire(payloadOf(await payerOf(signer).pay(offer, context)))
    const compiled = compiledOf(original)
    const bytes = Uint8Array.from(original.messageBytes)

    // The amount: the u64 after TransferChecked's discriminator, found by its exact bytes.
    const amountBytes = [12, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 6]
    const at = bytes.findIndex((_, index) => amountBytes.every((byte, offset) => bytes[index + offset] === byte))
    expect(at).toBeGreaterThan(0)
    const richer = Uint8Array.from(bytes)
    richer[at + 2] = 0xff // 10_000 -> 65_296

    // The destination: an attacker's own associated token account in place of the merchant's.
    const attacker = (await generateKeyPairSigner()).address
    const attackerAccount = await ledger.chain.createTokenAccount(ledger.usdc, attacker)
    const [merchantAccount] = await findAssociatedTokenPda({
      owner: ledger.merchant,
      mint: ledger.usdc.mint,
      tokenProgram: ledger.usdc.tokenProgram,
    })
    const index = compiled.staticAccounts.indexOf(merchantAccount)
    const swapped = Uint8Array.from(bytes)
    const keysStart = 1 + 3 + 1 // v0 prefix, header, account count (one byte below 128 accounts)
    swapped.set(getAddressEncoder().encode(attackerAccount), keysStart + 32 * index)
    expect(compiledOf({ messageBytes: swapped } as unknown as Transaction).staticAccounts[index]).toBe(attackerAccount)

    const before = await balances('usdc', key.address)
    for (const messageBytes of [richer, swapped]) {
      const tampered = { ...original, messageBytes } as unknown as Transaction
      const wire = Buffer.from(getTransactionEncoder().encode(tampered)).toString('base64')
      expect(await referenceVerify(offer, wire)).toMatchObject({
        isValid: false,
        invalidReason: 'invalid_exact_svm_payload_signature_invalid',
      })
      // Even co-signed by the fee payer, the chain refuses the payer's signature over other bytes.
      const result = ledger.chain.svm.sendTransaction(
        await partiallySignTransaction([ledger.feePayer.keyPair], tampered),
      )
      expect(result).toBeInstanceOf(FailedTransactionMetadata)
      expect((result as FailedTransactionMetadata).err()).toBe(11) // TransactionError::SignatureFailure
    }
    expect(await balances('usdc', key.address)).toEqual(before)
    expect(await ledger.chain.balanceOf(ledger.usdc, attacker)).toBe(0n)
  })

  test('policy: a replayed transaction is rejected by litesvm (already processed) and moves nothing more', async () => {
    const { key, signer } = await payer()
    const partial = decodeWire(payloadOf(await payerOf(signer).pay(offerFor(ledger), context)))
    const signed = await partiallySignTransaction([ledger.feePayer.keyPair], partial)
    const before = await balances('usdc', key.address)
    expect(ledger.chain.svm.sendTransaction(signed)).not.toBeInstanceOf(FailedTransactionMetadata)
    const replay = ledger.chain.svm.sendTransaction(signed)
    expect(replay).toBeInstanceOf(FailedTransactionMetadata)
    expect((replay as FailedTransactionMetadata).err()).toBe(6) // TransactionError::AlreadyProcessed
    expect(await balances('usdc', key.address)).toEqual({
      owner: before.owner - 10_000n,
      merchant: before.merchant + 10_000n,
    })
  })

  test('behavior: the server’s extra.recentBlockhash is used without asking the RPC; extra.memo is carried verbatim', async () => {
    const { signer } = await payer()
    await payerOf(signer).pay(offerFor(ledger), context) // reads and caches the mint
    const callsBefore = ledger.rpc.calls.length
    const recentBlockhash = ledger.chain.svm.latestBlockhash()
    const offer = offerFor(ledger, { recentBlockhash, lastValidBlockHeight: 150n, memo: 'order-7' })
    const transaction = decodeWire(payloadOf(await payerOf(signer).pay(offer, context)))
    expect(ledger.rpc.calls.slice(callsBefore)).toEqual([])
    const compiled = compiledOf(transaction)
    expect(compiled.lifetimeToken).toBe(recentBlockhash)
    expect(new TextDecoder().decode(decompileTransactionMessage(compiled).instructions[3]?.data as Uint8Array)).toBe(
      'order-7',
    )
    await ledger.settle(Buffer.from(getTransactionEncoder().encode(transaction)).toString('base64'))
  })

  test('behavior: each payment carries a fresh random memo, so two identical payments are two transactions', async () => {
    const { key, signer } = await payer()
    const offer = offerFor(ledger)
    const [first, second] = [
      payloadOf(await payerOf(signer).pay(offer, context)),
      payloadOf(await payerOf(signer).pay(offer, context)),
    ]
    expect(first).not.toBe(second)
    const before = await balances('usdc', key.address)
    await ledger.settle(first as string)
    await ledger.settle(second as string)
    expect((await balances('usdc', key.address)).owner).toBe(before.owner - 20_000n)
  })

  test('behavior: the mint is read once per network and mint; a failed read is retried, not cached', async () => {
    const { key, signer } = await payer()
    const reads = () => ledger.rpc.calls.filter((method) => method === 'getAccountInfo').length
    const start = reads()
    await Promise.all([payerOf(signer).pay(offerFor(ledger), context), payerOf(signer).pay(offerFor(ledger), context)])
    await payerOf(signer).pay(offerFor(ledger), context)
    expect(reads() - start).toBe(1)

    // A mint that does not exist yet: refused, then paid by the same signer once it exists.
    const later = await generateKeyPairSigner()
    const token = { mint: later.address, decimals: 6, tokenProgram: ledger.usdc.tokenProgram, symbol: 'LATER' }
    const offer = offerFor(ledger, {}, token)
    await expect(payerOf(signer).pay(offer, context)).rejects.toMatchObject({
      code: 'PAYMENT_FAILED',
      shortMessage: expect.stringMatching(/does not exist/),
    })
    await ledger.chain.createMint({ symbol: 'LATER', decimals: 6, address: later.address })
    await ledger.chain.mint(token, key.address, 50_000n)
    await ledger.chain.createTokenAccount(token, ledger.merchant)
    await ledger.settle(payloadOf(await payerOf(signer).pay(offer, context)))
    expect(await ledger.chain.balanceOf(token, key.address)).toBe(40_000n)
  })

  test('behavior: a @solana/kit Rpc from createSolanaRpc serves as rpc', async () => {
    const key = await generateKeyPairSigner()
    await ledger.chain.mint(ledger.usdc, key.address, 100_000n)
    const signer = solana({ signer: key, rpc: createSolanaRpc(ledger.rpc.url), networks: [devnet] })
    await ledger.settle(payloadOf(await payerOf(signer).pay(offerFor(ledger), context)))
    expect(await ledger.chain.balanceOf(ledger.usdc, key.address)).toBe(90_000n)
  })
})

describe('solana signer: @solana/web3.js 1.x users', () => {
  /** What `@solana/wallet-adapter`'s signer adapters do: sign the VersionedTransaction in place. */
  function web3Wallet(keypair: Keypair) {
    return {
      publicKey: keypair.publicKey,
      signed: 0,
      async signTransaction<T extends Web3Transaction | VersionedTransaction>(transaction: T): Promise<T> {
        this.signed++
        if (!(transaction instanceof VersionedTransaction)) throw new Error('expected a VersionedTransaction')
        transaction.sign([keypair])
        return transaction
      },
    }
  }

  test('behavior: a web3.js Keypair pays, imported once as a WebCrypto key', async () => {
    const keypair = Keypair.generate()
    const owner = keypair.publicKey.toBase58() as Address
    await ledger.chain.mint(ledger.usdc, owner, 100_000n)
    const signer = solana({ signer: keypair, rpc: ledger.rpc.url, networks: [devnet] })
    const payment = await payerOf(signer).pay(offerFor(ledger), context)
    expect(payment.payer).toBe(owner)
    await ledger.settle(payloadOf(payment))
    expect(await ledger.chain.balanceOf(ledger.usdc, owner)).toBe(90_000n)
  })

  test('behavior: a wallet adapter signs a real web3.js VersionedTransaction and pays', async () => {
    const keypair = Keypair.generate()
    const owner = keypair.publicKey.toBase58() as Address
    await ledger.chain.mint(ledger.usdc, owner, 100_000n)
    const wallet = web3Wallet(keypair)
    const signer = solana({
      signer: walletAdapter(wallet, VersionedTransaction),
      rpc: ledger.rpc.url,
      networks: [devnet],
    })
    const offer = offerFor(ledger)
    const payment = await payerOf(signer).pay(offer, context)
    expect(wallet.signed).toBe(1)
    expect(await referenceVerify(offer, payloadOf(payment))).toMatchObject({ isValid: true, payer: owner })
    await ledger.settle(payloadOf(payment))
    expect(await ledger.chain.balanceOf(ledger.usdc, owner)).toBe(90_000n)
  })

  test('behavior: a wallet that appends Lighthouse assertions (as Phantom does) is accepted', async () => {
    const keypair = Keypair.generate()
    const wallet = {
      publicKey: keypair.publicKey,
      async signTransaction(transaction: VersionedTransaction) {
        const message = TransactionMessage.decompile(transaction.message)
        message.instructions.push(
          new TransactionInstruction({
            programId: new PublicKey(lighthouseProgram),
            keys: [],
            data: Buffer.from([1, 2, 3]),
          }),
        )
        const modified = new VersionedTransaction(message.compileToV0Message())
        modified.sign([keypair])
        return modified
      },
    }
    const signer = solana({
      signer: walletAdapter(wallet, VersionedTransaction),
      rpc: ledger.rpc.url,
      networks: [devnet],
    })
    const transaction = decodeWire(payloadOf(await payerOf(signer).pay(offerFor(ledger), context)))
    const instructions: readonly { programAddress: string }[] = decompileTransactionMessage(
      compiledOf(transaction),
    ).instructions
    const programs = instructions.map((instruction) => instruction.programAddress)
    expect(programs.slice(3)).toEqual([memoProgram, lighthouseProgram])
  })

  test('error: a wallet that changes the transfer, signs with another key, or signs nothing is refused before anything is sent', async () => {
    const keypair = Keypair.generate()
    const other = await generateKeyPair()
    const wallets = {
      'raises the amount': async (transaction: VersionedTransaction) => {
        const message = TransactionMessage.decompile(transaction.message)
        const transfer = message.instructions[2] as TransactionInstruction
        transfer.data = Buffer.from([12, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 6])
        const modified = new VersionedTransaction(message.compileToV0Message())
        modified.sign([keypair])
        return modified
      },
      'signs with another key': async (transaction: VersionedTransaction) => {
        transaction.signatures[1] = await signBytes(other.privateKey, transaction.message.serialize())
        return transaction
      },
      'signs nothing': async (transaction: VersionedTransaction) => transaction,
    }
    for (const [name, signTransaction] of Object.entries(wallets)) {
      const signer = solana({
        signer: walletAdapter({ publicKey: keypair.publicKey, signTransaction }, VersionedTransaction),
        rpc: ledger.rpc.url,
        networks: [devnet],
      })
      const error = await payerOf(signer)
        .pay(offerFor(ledger), context)
        .catch((caught: unknown) => caught)
      expect(isPayfetchError(error, 'PAYMENT_FAILED'), name).toBe(true)
    }
  })

  test('behavior: a kit modifying signer that returns the message unchanged is accepted as is', async () => {
    const key = await generateKeyPairSigner()
    await ledger.chain.mint(ledger.usdc, key.address, 100_000n)
    const modifying: TransactionModifyingSigner = {
      address: key.address,
      async modifyAndSignTransactions(transactions) {
        return Promise.all(
          transactions.map(async (transaction) => ({
            ...transaction,
            ...(await partiallySignTransaction([key.keyPair], transaction)),
          })),
        ) as never
      },
    }
    const payment = await payerOf(solana({ signer: modifying, rpc: ledger.rpc.url, networks: [devnet] })).pay(
      offerFor(ledger),
      context,
    )
    expect(await referenceVerify(offerFor(ledger), payloadOf(payment))).toMatchObject({ isValid: true })
  })
})

describe('solana signer: refusals before signing', () => {
  test('policy: requests it cannot honour are refused, and pay throws without reading or signing anything', async () => {
    const { key, counting, signer } = await payer({ funds: 0n })
    const refused: Record<string, Offer> = {
      'another cluster (mainnet, not configured)': offerFor(ledger, { network: mainnet }),
      'an EVM network': offerFor(ledger, { network: 'eip155:8453' }),
      'a fee payer that is not an address': offerFor(ledger, { feePayer: '0xdeadbeef' }),
      'the payer as fee payer': offerFor(ledger, { feePayer: key.address }),
      'the mint as fee payer': offerFor(ledger, { feePayer: ledger.usdc.mint }),
      'a payTo that is not an address': offerFor(ledger, { payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C' }),
      'the payer as payTo': offerFor(ledger, { payTo: key.address }),
      'the System Program as payTo': offerFor(ledger, { payTo: '11111111111111111111111111111111' }),
      'an asset that is not a mint address': offerFor(ledger, { mint: 'USDC' }),
      'a memo over 256 bytes': offerFor(ledger, { memo: 'é'.repeat(129) }),
      'an amount over u64': offerFor(ledger, { amount: 2n ** 64n }),
      'a zero amount': offerFor(ledger, { amount: 0n }),
    }
    const rpcCalls = ledger.rpc.calls.length
    for (const [name, offer] of Object.entries(refused)) {
      expect(payerOf(signer).canPay(offer), name).toBe(false)
      const error = await payerOf(signer)
        .pay(offer, context)
        .catch((caught: unknown) => caught)
      expect(isPayfetchError(error, 'PAYMENT_FAILED'), name).toBe(true)
    }
    expect(counting.calls).toBe(0)
    expect(ledger.rpc.calls.length).toBe(rpcCalls)
    // The edges that are allowed.
    expect(payerOf(signer).canPay(offerFor(ledger, { amount: 2n ** 64n - 1n }))).toBe(true)
    expect(payerOf(signer).canPay(offerFor(ledger, { memo: 'é'.repeat(128) }))).toBe(true)
  })

  test('error: mints it cannot read are refused after the read, before signing: missing, owned by another program, not a mint', async () => {
    const { counting, signer } = await payer({ funds: 0n })
    const missing = (await generateKeyPairSigner()).address
    const systemOwned = (await generateKeyPairSigner()).address
    ledger.chain.svm.setAccount({
      address: systemOwned,
      data: new Uint8Array(82),
      executable: false,
      lamports: lamports(1_000_000_000n),
      programAddress: address('11111111111111111111111111111111'),
      space: 82n,
    })
    const holder = (await generateKeyPairSigner()).address
    const tokenAccount = await ledger.chain.createTokenAccount(ledger.usdc, holder)
    const cases = {
      [missing]: /does not exist/,
      [systemOwned]: /owned by 1111.*not by the Token/,
      [tokenAccount]: /not an initialized SPL mint/,
    }
    for (const [mint, reason] of Object.entries(cases)) {
      const offer = offerFor(ledger, { mint })
      expect(payerOf(signer).canPay(offer)).toBe(true) // a mint cannot be read without I/O
      const error = await payerOf(signer)
        .pay(offer, context)
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(PayfetchError)
      expect(error).toMatchObject({ code: 'PAYMENT_FAILED', shortMessage: expect.stringMatching(reason) })
    }
    expect(counting.calls).toBe(0)
  })

  test('error: a fee payer that is one of the transfer’s token accounts is refused before signing', async () => {
    const { key, counting, signer } = await payer()
    const [merchantAccount] = await findAssociatedTokenPda({
      owner: ledger.merchant,
      mint: ledger.usdc.mint,
      tokenProgram: ledger.usdc.tokenProgram,
    })
    const [payerAccount] = await findAssociatedTokenPda({
      owner: key.address,
      mint: ledger.usdc.mint,
      tokenProgram: ledger.usdc.tokenProgram,
    })
    for (const feePayer of [merchantAccount, payerAccount]) {
      await expect(payerOf(signer).pay(offerFor(ledger, { feePayer }), context)).rejects.toMatchObject({
        code: 'PAYMENT_FAILED',
        details: { feePayer },
      })
    }
    expect(counting.calls).toBe(0)
  })

  test('error: a mint whose on-chain decimals differ from the listed asset’s is refused (caps priced it with the listed ones)', async () => {
    const { counting, signer } = await payer({ funds: 0n })
    const offer = offerFor(ledger, { decimals: 6 }, ledger.t22)
    await expect(payerOf(signer).pay(offer, context)).rejects.toMatchObject({
      code: 'PAYMENT_FAILED',
      details: { decimals: 9, expected: 6 },
    })
    expect(counting.calls).toBe(0)
  })

  test('error: an RPC that cannot be reached fails the payment with the cause, and no key appears in the error', async () => {
    const keypair = Keypair.generate()
    const rpc = await startSolanaRpc(ledger.chain.svm)
    const signer = solana({ signer: keypair, rpc: rpc.url, networks: [devnet] })
    await rpc.close()
    const error = (await payerOf(signer)
      .pay(offerFor(ledger), context)
      .catch((caught: unknown) => caught)) as PayfetchError
    expect(error).toMatchObject({ code: 'PAYMENT_FAILED' })
    expect(error.cause).toBeInstanceOf(Error)
    const text = JSON.stringify({ message: error.message, details: error.details, cause: String(error.cause) })
    expect(text).not.toContain(Buffer.from(keypair.secretKey).toString('hex'))
    expect(text).not.toContain(Buffer.from(keypair.secretKey).toString('base64'))
  })

  test('error: unusable options are INVALID_OPTIONS at creation', async () => {
    const key = await generateKeyPairSigner()
    const keypair = Keypair.generate()
    const rpc = ledger.rpc.url
    const attempts: Record<string, () => unknown> = {
      'no signer': () => solana({ signer: undefined as never, rpc }),
      'a sending signer': () =>
        solana({ signer: { address: key.address, signAndSendTransactions: async () => [] } as never, rpc }),
      'a short secret key': () => solana({ signer: { secretKey: keypair.secretKey.subarray(0, 32) }, rpc }),
      'a public key that is not the secret key’s': () =>
        solana({ signer: { secretKey: keypair.secretKey, publicKey: Keypair.generate().publicKey }, rpc }),
      'an unwrapped wallet adapter': () =>
        solana({ signer: { publicKey: keypair.publicKey, signTransaction: async (tx: unknown) => tx } as never, rpc }),
      'a disconnected wallet': () =>
        walletAdapter(
          { publicKey: null, signTransaction: async (tx: VersionedTransaction) => tx },
          VersionedTransaction,
        ),
      'a wallet without signTransaction': () => walletAdapter({ publicKey: keypair.publicKey }, VersionedTransaction),
      'no VersionedTransaction class': () =>
        walletAdapter(
          { publicKey: keypair.publicKey, signTransaction: async (tx: VersionedTransaction) => tx },
          undefined as never,
        ),
      'no rpc': () => solana({ signer: key, rpc: undefined as never }),
      'an rpc that is not http': () => solana({ signer: key, rpc: 'ws://127.0.0.1:8900' }),
      'an EVM network': () => solana({ signer: key, rpc, networks: ['eip155:8453'] }),
      'no networks': () => solana({ signer: key, rpc, networks: [] }),
    }
    for (const [name, attempt] of Object.entries(attempts)) {
      let error: unknown
      try {
        attempt()
      } catch (caught) {
        error = caught
      }
      expect(isPayfetchError(error, 'INVALID_OPTIONS'), name).toBe(true)
      expect(String((error as Error).message)).not.toContain(Buffer.from(keypair.secretKey).toString('hex'))
    }
  })

  test('behavior: by default only mainnet is paid; a devnet offer needs networks', async () => {
    const key = await generateKeyPairSigner()
    const signer = solana({ signer: key, rpc: ledger.rpc.url })
    expect(payerOf(signer).canPay(offerFor(ledger))).toBe(false)
    expect(payerOf(signer).canPay(offerFor(ledger, { network: mainnet }))).toBe(true)
  })
})
