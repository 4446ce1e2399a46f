import { type Address, getAddress, type Hex, type WalletClient } from 'viem'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { Permit2Proof, Permit2Request } from '../methods/Permit2.js'
import type { PayContext } from '../signers/Signer.js'
import type { TypedDataSigner } from './account.js'
import { permit2Address } from './permit2.js'

/**
 * The chain reads Permit2 payments need: what a viem `PublicClient` has, for any chain (typed by
 * shape, since a client bound to a chain with its own formatters is not a plain `PublicClient`).
 */
export type EvmChainReader = {
  /** The chain it reads, when it is bound to one (a viem client made with `chain`). */
  readonly chain?: { readonly id: number } | undefined
  readContract(parameters: never): Promise<unknown>
  estimateFeesPerGas(): Promise<{ maxFeePerGas?: bigint | undefined; maxPriorityFeePerGas?: bigint | undefined }>
  getTransactionCount(parameters: { address: Address; blockTag: 'pending' }): Promise<number>
  waitForTransactionReceipt(parameters: { hash: Hex }): Promise<{ status: 'success' | 'reverted' }>
}

/** How `evm()` may make sure Permit2 can move the payer's token before it signs a Permit2 payment. */
export type Permit2AllowanceOptions = {
  /** Reads allowances, EIP-2612 nonces and fees. */
  readonly publicClient?: EvmChainReader | undefined
  /** Sends the payer's own `approve(Permit2, allowance)` when nothing else grants it. */
  readonly approvePermit2?: Permit2Approval | undefined
}

/**
 * An opt-in on-chain approval of Permit2, sent from the payer's own wallet (it pays the gas) when
 * the server sponsors no grant. Reported as an `approval.sent` event.
 */
export type Permit2Approval = {
  /** A viem `WalletClient` for the payer's address, bound to the chain it approves on. */
  readonly wallet: WalletClient
  /** The allowance granted. Default: unlimited, as Permit2 expects (each payment is still a capped signature). */
  readonly allowance?: bigint | undefined
}

const erc20Abi = [
  {
    type: 'function',
    name: 'allowance',
    stateMutability: 'view',
    inputs: [
      { name: 'owner', type: 'address' },
      { name: 'spender', type: 'address' },
    ],
    outputs: [{ type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'nonces',
    stateMutability: 'view',
    inputs: [{ name: 'owner', type: 'address' }],
    outputs: [{ type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'approve',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'spender', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [{ type: 'bool' }],
  },
] as const

const eip2612Types = {
  Permit: [
    { name: 'owner', type: 'address' },
    { name: 'spender', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

/** What Permit2 must be allowed to move for one permit (a payment, a channel deposit), and what the server sponsors. */
export type Permit2Need = Pick<Permit2Request, 'chainId' | 'token' | 'amount' | 'tokenDomain' | 'sponsoring'>

const maxUint256 = 2n ** 256n - 1n

// An allowance of 2^255 or more (what `approve(Permit2, max)` grants, the usual grant) falls only by
// an explicit revoke, so it is read again once a minute, not before every payment: each read is a
// round trip to the RPC. A finite allowance, which every Permit2 spender of the payer draws on, is
// read each time. Known per chain reader, chain, token and payer.
const unlimited = 2n ** 255n
const rereadAfterMs = 60_000
const unlimitedUntil = new WeakMap<EvmChainReader, Map<string, number>>()
// What an `approve` costs at most; the server that sponsors it pays.
const approveGas = 70_000n

/**
 * Why a Permit2 payment of `what` on `chainId` cannot be checked with this reader, if it cannot: a
 * permit Permit2 cannot honour would sit with the server until its deadline, so the allowance is
 * read first, and on the permit's own chain.
 */
export function readerRefusal(reader: EvmChainReader | undefined, chainId: number, what: string): string | undefined {
  if (!reader) return `${what} needs evm({ publicClient }) to check the Permit2 allowance before signing`
  const reads = reader.chain?.id
  return reads !== undefined && reads !== chainId ? `the publicClient reads eip155:${reads}` : undefined
}

/**
 * Makes sure Permit2 may move `request.amount` of the token for the payer (a payment's price or
 * ceiling, a channel's deposit), before anything is signed. Returns the grant to send along when
 * the server sponsors one, `undefined` when the allowance is there (or was just granted by
 * `approvePermit2`).
 *
 * @throws {PayfetchError} `ALLOWANCE_REQUIRED` when the allowance is short and no way to grant it
 * was offered or configured; `PAYMENT_FAILED` when it cannot be read. Nothing was signed.
 */
export async function ensurePermit2Allowance(
  signer: TypedDataSigner,
  request: Permit2Need,
  deadline: bigint,
  options: Permit2AllowanceOptions,
  context: PayContext,
): Promise<Permit2Proof['sponsored']> {
  const { publicClient, approvePermit2 } = options
  if (!publicClient) throw new PayfetchError('PAYMENT_FAILED', 'Paying through Permit2 needs evm({ publicClient }).')
  const owner = getAddress(signer.address)
  const token = getAddress(request.token)
  const read = (functionName: 'allowance' | 'nonces', args: readonly [Address] | readonly [Address, Address]) =>
    publicClient.readContract({ address: token, abi: erc20Abi, functionName, args } as never) as Promise<bigint>
  const known = unlimitedUntil.get(publicClient) ?? new Map<string, number>()
  unlimitedUntil.set(publicClient, known)
  const key = `${request.chainId}:${token}:${owner}`
  if ((known.get(key) ?? 0) > Date.now()) return undefined
  let allowance: bigint
  try {
    allowance = await read('allowance', [owner, permit2Address])
  } catch (cause) {
    throw new PayfetchError('PAYMENT_FAILED', 'The Permit2 allowance could not be read; nothing was signed.', {
      details: { url: context.url, network: `eip155:${request.chainId}`, token },
      cause,
    })
  }
  if (allowance >= unlimited) known.set(key, Date.now() + rereadAfterMs)
  else known.delete(key)
  if (allowance >= request.amount) return undefined
  const offered = request.sponsoring ?? []
  const base = { from: owner, asset: token, spender: permit2Address, amount: request.amount.toString(), version: '1' }

  // The server's facilitator submits an EIP-2612 permit for Permit2 with the payment.
  if (offered.includes('eip2612') && request.tokenDomain) {
    const nonce = await read('nonces', [owner]).catch(() => undefined)
    if (nonce !== undefined) {
      const signature = await signer.sign({
        domain: { ...request.tokenDomain, chainId: request.chainId, verifyingContract: token },
        types: eip2612Types,
        primaryType: 'Permit',
        message: { owner, spender: permit2Address, value: request.amount, nonce, deadline },
      })
      return {
        extension: 'eip2612GasSponsoring',
        info: { ...base, nonce: nonce.toString(), deadline: deadline.toString(), signature },
      }
    }
  }

  // The server's facilitator funds and broadcasts the payer's signed `approve` with the payment.
  if (offered.includes('erc20Approval') && signer.signTransaction) {
    const fees = await publicClient.estimateFeesPerGas().catch(() => ({
      maxFeePerGas: 1_000_000_000n,
      maxPriorityFeePerGas: 100_000_000n,
    }))
    const signedTransaction = await signer.signTransaction({
      type: 'eip1559',
      chainId: request.chainId,
      to: token,
      data: approveCalldata(request.amount),
      nonce: await publicClient.getTransactionCount({ address: owner, blockTag: 'pending' }),
      gas: approveGas,
      maxFeePerGas: fees.maxFeePerGas ?? 1_000_000_000n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 100_000_000n,
    })
    return { extension: 'erc20ApprovalGasSponsoring', info: { ...base, signedTransaction } }
  }

  if (approvePermit2) {
    await approve(approvePermit2, token, request.chainId, publicClient, context)
    return undefined
  }
  throw new PayfetchError(
    'ALLOWANCE_REQUIRED',
    `Permit2 may not move ${token} for ${owner} yet and the server sponsors no approval this account can sign: approve Permit2 for this token once, or pass evm({ approvePermit2: { wallet } }) to let payfetch send that approval.`,
    {
      details: {
        url: context.url,
        network: `eip155:${request.chainId}`,
        token,
        spender: permit2Address,
        allowance: allowance.toString(),
        required: request.amount.toString(),
      },
    },
  )
}

// One `approve(Permit2, allowance)` from the payer's wallet, mined before the permit is signed.
async function approve(
  { wallet, allowance = maxUint256 }: Permit2Approval,
  token: Address,
  chainId: number,
  publicClient: EvmChainReader,
  context: PayContext,
): Promise<void> {
  const account = wallet.account
  if (!account) throw new PayfetchError('PAYMENT_FAILED', 'evm({ approvePermit2 }) needs a wallet with an account.')
  // An approval on another chain would spend gas and grant nothing this payment can use.
  if (wallet.chain?.id !== chainId)
    throw new PayfetchError(
      'ALLOWANCE_REQUIRED',
      `evm({ approvePermit2 }) has a wallet for chain ${wallet.chain?.id ?? 'unknown'}, not ${chainId}: nothing was sent or signed.`,
      { details: { url: context.url, network: `eip155:${chainId}`, token, spender: permit2Address } },
    )
  let transaction: Hex
  try {
    transaction = await wallet.writeContract({
      account,
      chain: wallet.chain ?? null,
      address: token,
      abi: erc20Abi,
      functionName: 'approve',
      args: [permit2Address, allowance],
    })
    const receipt = await publicClient.waitForTransactionReceipt({ hash: transaction })
    if (receipt.status !== 'success') throw new Error(`the approval ${transaction} reverted`)
  } catch (cause) {
    throw new PayfetchError('PAYMENT_FAILED', 'The Permit2 approval failed; nothing was signed.', {
      details: { url: context.url, network: `eip155:${chainId}`, token },
      cause,
    })
  }
  context.report?.({
    type: 'approval.sent',
    url: context.url,
    network: `eip155:${chainId}`,
    token,
    spender: permit2Address,
    amount: allowance,
    transaction,
  })
}

// `approve(Permit2, amount)`: selector 0x095ea7b3 and two 32-byte words, encoded by hand to keep
// viem's ABI encoder out of the bundle.
function approveCalldata(amount: bigint): Hex {
  const word = (hex: string) => hex.padStart(64, '0')
  return `0x095ea7b3${word(permit2Address.slice(2).toLowerCase())}${word(amount.toString(16))}`
}
