import { bytesToHex, type Hex, keccak256, stringToBytes } from 'viem'

/**
 * The 32-byte memo mppx servers require on the primary transfer when they name no memo of their
 * own: it marks the transfer as an MPP payment and binds it to one challenge of one server.
 *
 * | bytes | holds |
 * | --- | --- |
 * | 0–3 | keccak256("mpp"), first 4 bytes |
 * | 4 | version `0x01` |
 * | 5–14 | keccak256(realm), first 10 bytes |
 * | 15–24 | zero: an anonymous client |
 * | 25–31 | keccak256(challenge id), first 7 bytes |
 */
export function attributionMemo({ challengeId, realm }: { challengeId: string; realm: string }): Hex {
  const memo = new Uint8Array(32)
  memo.set(leading(keccakOf('mpp'), 4), 0)
  memo[4] = 1
  memo.set(leading(keccakOf(realm), 10), 5)
  // Bytes 15–24 name the client; payfetch stays anonymous, so they stay zero.
  memo.set(leading(keccakOf(challengeId), 7), 25)
  return bytesToHex(memo)
}

const keccakOf = (text: string) => keccak256(stringToBytes(text), 'bytes')
const leading = (bytes: Uint8Array, count: number) => bytes.subarray(0, count)
