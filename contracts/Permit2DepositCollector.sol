// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IERC20Permit, ISignatureTransfer} from "./ISignatureTransfer.sol";

/// TEST ONLY. A stand-in for the x402 batch-settlement Permit2 deposit collector, written for payfetch's local
/// stack from the collector data the x402 2.27 facilitator sends: `abi.encode(nonce, deadline, permit2Signature,
/// eip2612PermitData)`. The payer signs a Permit2 `PermitWitnessTransferFrom` with this contract as spender and
/// the witness `DepositWitness(bytes32 channelId)`; the tokens go straight to the settlement contract, its only
/// caller. A non-empty `eip2612PermitData` (`abi.encode(value, deadline, v, r, s)`) is tried first as the
/// payer's EIP-2612 approval of Permit2; if it fails, an approval already in place may still carry the transfer.
/// No constructor state: the local stack places the runtime code at the canonical address.
contract Permit2DepositCollector {
    address public constant SETTLEMENT = 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003;
    ISignatureTransfer public constant PERMIT2 = ISignatureTransfer(0x000000000022D473030F116dDEE9F6B43aC78BA3);
    // Referenced types sorted by name, as EIP-712 encodeType wants: DepositWitness before TokenPermissions.
    string public constant WITNESS_TYPE_STRING =
        "DepositWitness witness)DepositWitness(bytes32 channelId)TokenPermissions(address token,uint256 amount)";
    bytes32 public constant WITNESS_TYPEHASH = keccak256("DepositWitness(bytes32 channelId)");

    error NotSettlement();
    error Permit2612AmountMismatch();

    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata data) external {
        if (msg.sender != SETTLEMENT) revert NotSettlement();
        (uint256 nonce, uint256 deadline, bytes memory signature, bytes memory permit2612) =
            abi.decode(data, (uint256, uint256, bytes, bytes));
        if (permit2612.length > 0) _tryPermit(payer, token, amount, permit2612);
        PERMIT2.permitWitnessTransferFrom(
            ISignatureTransfer.PermitTransferFrom({
                permitted: ISignatureTransfer.TokenPermissions({token: token, amount: amount}),
                nonce: nonce,
                deadline: deadline
            }),
            ISignatureTransfer.SignatureTransferDetails({to: SETTLEMENT, requestedAmount: amount}),
            payer,
            keccak256(abi.encode(WITNESS_TYPEHASH, channelId)),
            WITNESS_TYPE_STRING,
            signature
        );
    }

    function _tryPermit(address payer, address token, uint256 amount, bytes memory permit2612) private {
        (uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) =
            abi.decode(permit2612, (uint256, uint256, uint8, bytes32, bytes32));
        if (value != amount) revert Permit2612AmountMismatch();
        try IERC20Permit(token).permit(payer, address(PERMIT2), value, deadline, v, r, s) {} catch {}
    }
}
