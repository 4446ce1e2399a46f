import {
  type Address,
  type CompiledTransactionMessage,
  type CompiledTransactionMessageWithLifetime,
  getCompiledTransactionMessageDecoder,
  getPublicKeyFromAddress,
  type SignatureBytes,
  type Transaction,
  verifySignature,
} from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'
import { lighthouseProgram } from './programs.js'

/**
 * Checks what the signer gave back before it leaves as a proof: the payer's signature verifies over
 * the message, and the message is the one payfetch built, or (for wallets that add Lighthouse
 * assertions) that message with only Lighthouse instructions appended. Returns the transaction with
 * the payer's signature alone; the fee payer's slot stays empty for the facilitator.
 *
 * @throws {PayfetchError} `PAYMENT_FAILED` when the signature is missing or wrong, or the message changed.
 */
export async function acceptSignedTransaction(
  built: Transaction,
  signed: Transaction,
  payer: Address,
  feePayer: Address,
): Promise<Transaction> {
  if (!sameBytes(built.messageBytes, signed.messageBytes)) assertSameIntent(built, signed, payer, feePayer)
  const signature = signed.signatures?.[payer]
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw fail('The signer returned no signature for the payer.', payer)
  if (!(await verifySignature(await getPublicKeyFromAddress(payer), signature, signed.messageBytes)))
    throw fail('The payer’s signature does not verify (another key or message).', payer)
  // Signature slots follow the message's signer order: fee payer first, then the payer.
  const signatures: Record<Address, SignatureBytes | null> = { [feePayer]: null, [payer]: signature }
  return { messageBytes: signed.messageBytes, signatures }
}

function assertSameIntent(built: Transaction, signed: Transaction, payer: Address, feePayer: Address): void {
  let before: CompiledTransactionMessage & CompiledTransactionMessageWithLifetime
  let after: CompiledTransactionMessage & CompiledTransactionMessageWithLifetime
  try {
    const decoder = getCompiledTransactionMessageDecoder()
    before = decoder.decode(built.messageBytes)
    after = decoder.decode(signed.messageBytes)
  } catch (error) {
    throw new PayfetchError('PAYMENT_FAILED', 'The signer returned a transaction that does not decode.', {
      details: { payer },
      cause: error,
    })
  }
  const signers = after.staticAccounts.slice(0, after.header.numSignerAccounts)
  const lookups = 'addressTableLookups' in after ? (after.addressTableLookups?.length ?? 0) : 0
  const ours = describeInstructions(before)
  const theirs = describeInstructions(after)
  const unchanged =
    after.version === before.version &&
    lookups === 0 &&
    after.lifetimeToken === before.lifetimeToken &&
    signers.length === 2 &&
    signers[0] === feePayer &&
    signers[1] === payer &&
    ours.every((instruction, index) => theirs[index] === instruction) &&
    theirs.slice(ours.length).every((instruction) => instruction.startsWith(`${lighthouseProgram}|`))
  if (!unchanged)
    throw fail('The signer changed the payment transaction beyond Lighthouse assertions; nothing was sent.', payer)
}

/** Each instruction as `program|account:role,…|data`, independent of account indexes. */
function describeInstructions(message: CompiledTransactionMessage): string[] {
  const { staticAccounts, header } = message
  const signerCount = header.numSignerAccounts
  const role = (index: number) => {
    const signer = index < signerCount
    const writable = signer
      ? index < signerCount - header.numReadonlySignerAccounts
      : index < staticAccounts.length - header.numReadonlyNonSignerAccounts
    return `${signer ? 's' : ''}${writable ? 'w' : 'r'}`
  }
  return message.instructions.map((instruction) => {
    const accounts = (instruction.accountIndices ?? []).map((index) => `${staticAccounts[index] ?? '?'}:${role(index)}`)
    return `${staticAccounts[instruction.programAddressIndex] ?? '?'}|${accounts.join(',')}|${Array.from(instruction.data ?? [], (byte) => byte.toString(16).padStart(2, '0')).join('')}`
  })
}

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

function fail(message: string, payer: Address): PayfetchError {
  return new PayfetchError('PAYMENT_FAILED', message, { details: { payer } })
}
