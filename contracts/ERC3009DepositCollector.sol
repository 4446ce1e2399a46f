// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC3009Receive {
    function receiveWithAuthorization(
        address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce,
        uint8 v, bytes32 r, bytes32 s
    ) external;
    function transfer(address to, uint256 value) external returns (bool);
}

/// TEST ONLY. A stand-in for the x402 batch-settlement ERC-3009 deposit collector, written for payfetch's local
/// stack from the collector data the x402 2.27 facilitator sends: `abi.encode(validAfter, validBefore, salt,
/// signature)`. The payer signs `ReceiveWithAuthorization` to this contract with the nonce
/// `keccak256(abi.encode(channelId, salt))`, so the authorization is bound to one channel; this contract receives
/// the tokens (ERC-3009 wants `to == msg.sender`) and passes them on to the settlement contract, its only caller.
/// No constructor state: the local stack places the runtime code at the canonical address.
contract ERC3009DepositCollector {
    address public constant SETTLEMENT = 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003;

    error BadSignatureLength();
    error NotSettlement();
    error TransferFailed();

    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata data) external {
        // Anyone else could spend a payer's authorization into the escrow without crediting its channel.
        if (msg.sender != SETTLEMENT) revert NotSettlement();
        (uint256 validAfter, uint256 validBefore, uint256 salt, bytes memory signature) =
            abi.decode(data, (uint256, uint256, uint256, bytes));
        if (signature.length != 65) revert BadSignatureLength();
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 32))
            s := mload(add(signature, 64))
            v := byte(0, mload(add(signature, 96)))
        }
        bytes32 nonce = keccak256(abi.encode(channelId, salt));
        IERC3009Receive(token).receiveWithAuthorization(payer, address(this), amount, validAfter, validBefore, nonce, v, r, s);
        if (!IERC3009Receive(token).transfer(SETTLEMENT, amount)) revert TransferFailed();
    }
}
