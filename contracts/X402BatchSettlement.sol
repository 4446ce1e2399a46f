// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// What a deposit collector does: pull `amount` of `token` from `payer` into the settlement contract.
interface IBatchDepositCollector {
    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata data) external;
}

interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

interface IERC1271 {
    function isValidSignature(bytes32 digest, bytes calldata signature) external view returns (bytes4);
}

/// TEST ONLY. A stand-in for the x402 `batch-settlement` channel contract, written for payfetch's local
/// stack from the ABI the x402 2.27 facilitator and client call and the behaviour the batch-settlement EVM
/// spec gives it:
/// - a channel is named by the EIP-712 hash of its immutable `ChannelConfig` under the domain
///   `x402 Batch Settlement`/`1`, so the same config gives another id on another chain or contract;
/// - deposits (through a collector that pulls the tokens) raise `balance`; nothing else does;
/// - the receiver side claims with payer-signed cumulative vouchers `Voucher(channelId, maxClaimableAmount)`;
///   a claim names the new cumulative `totalClaimed`, never above the voucher's ceiling nor the balance, and a
///   replayed or older voucher changes nothing (the total only rises);
/// - `settle` pays the receiver what was claimed and not yet paid; claims move no tokens;
/// - the payer leaves on its own through `initiateWithdraw` + `finalizeWithdraw` after `withdrawDelay`,
///   or the receiver side returns unclaimed escrow at once (`refund`, `refundWithSignature`).
/// `balance` counts every deposit minus what was withdrawn or refunded; claimed funds stay in it, so the
/// payer's unclaimed escrow is `balance - totalClaimed`.
/// No constructor state: the local stack places the runtime code at the canonical address.
contract X402BatchSettlement {
    struct ChannelConfig {
        address payer;
        address payerAuthorizer;
        address receiver;
        address receiverAuthorizer;
        address token;
        uint40 withdrawDelay;
        bytes32 salt;
    }

    struct Voucher {
        ChannelConfig channel;
        uint128 maxClaimableAmount;
    }

    /// `totalClaimed` is cumulative, not a delta: that is what makes a replay harmless.
    struct VoucherClaim {
        Voucher voucher;
        bytes signature;
        uint128 totalClaimed;
    }

    struct Channel {
        uint128 balance;
        uint128 totalClaimed;
    }

    struct Withdrawal {
        uint128 amount;
        uint40 initiatedAt;
    }

    struct Receiver {
        uint128 totalClaimed;
        uint128 totalSettled;
    }

    uint40 public constant MIN_WITHDRAW_DELAY = 900;
    uint40 public constant MAX_WITHDRAW_DELAY = 2_592_000;

    bytes32 public constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
    );
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)");
    bytes32 public constant REFUND_TYPEHASH = keccak256("Refund(bytes32 channelId,uint256 nonce,uint128 amount)");
    bytes32 public constant CLAIM_ENTRY_TYPEHASH =
        keccak256("ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)");
    bytes32 public constant CLAIM_BATCH_TYPEHASH = keccak256(
        "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
    );

    mapping(bytes32 => Channel) public channels;
    mapping(bytes32 => Withdrawal) public pendingWithdrawals;
    /// Replay guard of `refundWithSignature`; every cooperative refund advances it.
    mapping(bytes32 => uint256) public refundNonce;
    mapping(address => mapping(address => Receiver)) public receivers;
    uint256 private locked;

    event Deposited(bytes32 indexed channelId, address indexed sender, uint128 amount, uint128 newBalance);
    event Claimed(bytes32 indexed channelId, address indexed sender, uint128 claimAmount, uint128 newTotalClaimed);
    event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
    event Refunded(bytes32 indexed channelId, address indexed sender, uint128 amount);
    event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 finalizeAfter);
    event WithdrawFinalized(bytes32 indexed channelId, address indexed sender, uint128 amount);

    error BadConfig();
    error BadSignature();
    error ClaimAboveVoucher();
    error ClaimAboveBalance();
    error CollectorShortfall();
    error EmptyBatch();
    error MixedAuthorizers();
    error NothingToWithdraw();
    error NotPayerSide();
    error NotReceiverSide();
    error Reentered();
    error StaleRefundNonce();
    error TransferFailed();
    error WithdrawalPending();
    error WithdrawalNotPending();
    error WithdrawalTooEarly();
    error WithdrawalAboveAvailable();
    error ZeroAmount();

    modifier nonReentrant() {
        if (locked == 1) revert Reentered();
        locked = 1;
        _;
        locked = 0;
    }

    // ---- deposits -------------------------------------------------------------------------------------------

    /// Credits `amount` to the channel once `collector` has moved exactly that much into this contract.
    function deposit(ChannelConfig calldata config, uint128 amount, address collector, bytes calldata collectorData)
        external
        nonReentrant
    {
        if (
            config.payer == address(0) || config.receiver == address(0) || config.receiverAuthorizer == address(0)
                || config.token == address(0) || collector == address(0)
        ) revert BadConfig();
        if (config.withdrawDelay < MIN_WITHDRAW_DELAY || config.withdrawDelay > MAX_WITHDRAW_DELAY) revert BadConfig();
        if (amount == 0) revert ZeroAmount();

        bytes32 channelId = getChannelId(config);
        uint256 before = IERC20Minimal(config.token).balanceOf(address(this));
        IBatchDepositCollector(collector).collect(config.payer, config.token, amount, channelId, collectorData);
        // Trust the token's books, not the collector: a short or fee-charging pull is refused.
        if (IERC20Minimal(config.token).balanceOf(address(this)) != before + amount) revert CollectorShortfall();

        Channel storage channel = channels[channelId];
        channel.balance += amount;
        emit Deposited(channelId, msg.sender, amount, channel.balance);
    }

    // ---- claims and settlement --------------------------------------------------------------------------------

    /// Claims called by the receiver or its authorizer directly.
    function claim(VoucherClaim[] calldata voucherClaims) external nonReentrant {
        if (voucherClaims.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < voucherClaims.length; i++) {
            if (!_isReceiverSide(msg.sender, voucherClaims[i].voucher.channel)) revert NotReceiverSide();
            _applyClaim(voucherClaims[i]);
        }
    }

    /// Claims relayed by anyone, authorized by one `ClaimBatch` signature of the rows' common receiver authorizer.
    function claimWithSignature(VoucherClaim[] calldata voucherClaims, bytes calldata authorizerSignature)
        external
        nonReentrant
    {
        if (voucherClaims.length == 0) revert EmptyBatch();
        address authorizer = voucherClaims[0].voucher.channel.receiverAuthorizer;
        for (uint256 i = 1; i < voucherClaims.length; i++) {
            if (voucherClaims[i].voucher.channel.receiverAuthorizer != authorizer) revert MixedAuthorizers();
        }
        if (!_validSignature(authorizer, getClaimBatchDigest(voucherClaims), authorizerSignature)) {
            revert BadSignature();
        }
        for (uint256 i = 0; i < voucherClaims.length; i++) {
            _applyClaim(voucherClaims[i]);
        }
    }

    /// Pays `receiver` everything claimed for it in `token` and not yet paid. Anyone may call it.
    function settle(address receiver, address token) external nonReentrant {
        Receiver storage books = receivers[receiver][token];
        uint128 amount = books.totalClaimed - books.totalSettled;
        if (amount == 0) return;
        books.totalSettled = books.totalClaimed;
        _pay(token, receiver, amount);
        emit Settled(receiver, token, msg.sender, amount);
    }

    // ---- leaving the channel ----------------------------------------------------------------------------------

    /// The payer's escape hatch: announce a withdrawal of unclaimed escrow, final after `withdrawDelay`.
    function initiateWithdraw(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        if (msg.sender != config.payer && msg.sender != config.payerAuthorizer) revert NotPayerSide();
        if (amount == 0) revert NothingToWithdraw();
        bytes32 channelId = getChannelId(config);
        Withdrawal storage pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt != 0) revert WithdrawalPending();
        Channel storage channel = channels[channelId];
        if (amount > channel.balance - channel.totalClaimed) revert WithdrawalAboveAvailable();
        pending.amount = amount;
        pending.initiatedAt = uint40(block.timestamp);
        emit WithdrawInitiated(channelId, amount, uint40(block.timestamp) + config.withdrawDelay);
    }

    /// Pays out an announced withdrawal once its delay has passed, capped by what is still unclaimed then:
    /// claims that landed during the delay win.
    function finalizeWithdraw(ChannelConfig calldata config) external nonReentrant {
        if (msg.sender != config.payer && msg.sender != config.payerAuthorizer) revert NotPayerSide();
        bytes32 channelId = getChannelId(config);
        Withdrawal storage pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt == 0) revert WithdrawalNotPending();
        if (block.timestamp < uint256(pending.initiatedAt) + config.withdrawDelay) revert WithdrawalTooEarly();
        Channel storage channel = channels[channelId];
        uint128 available = channel.balance - channel.totalClaimed;
        uint128 amount = pending.amount < available ? pending.amount : available;
        delete pendingWithdrawals[channelId];
        channel.balance -= amount;
        emit WithdrawFinalized(channelId, msg.sender, amount);
        if (amount > 0) _pay(config.token, config.payer, amount);
    }

    /// Cooperative refund by the receiver or its authorizer.
    function refund(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        if (!_isReceiverSide(msg.sender, config)) revert NotReceiverSide();
        _refund(config, amount);
    }

    /// Cooperative refund relayed by anyone with the receiver authorizer's `Refund` signature for the current nonce.
    function refundWithSignature(
        ChannelConfig calldata config,
        uint128 amount,
        uint256 nonce,
        bytes calldata receiverAuthorizerSignature
    ) external nonReentrant {
        bytes32 channelId = getChannelId(config);
        if (nonce != refundNonce[channelId]) revert StaleRefundNonce();
        if (!_validSignature(config.receiverAuthorizer, getRefundDigest(channelId, nonce, amount), receiverAuthorizerSignature)) {
            revert BadSignature();
        }
        _refund(config, amount);
    }

    /// Runs several calls of this contract in one transaction (the facilitator sends claim + refund together).
    function multicall(bytes[] calldata data) external returns (bytes[] memory results) {
        results = new bytes[](data.length);
        for (uint256 i = 0; i < data.length; i++) {
            (bool ok, bytes memory result) = address(this).delegatecall(data[i]);
            if (!ok) {
                assembly {
                    revert(add(result, 32), mload(result))
                }
            }
            results[i] = result;
        }
    }

    // ---- views ------------------------------------------------------------------------------------------------

    function getChannelId(ChannelConfig calldata config) public view returns (bytes32) {
        return _typedDataHash(keccak256(abi.encode(CHANNEL_CONFIG_TYPEHASH, config)));
    }

    function getVoucherDigest(bytes32 channelId, uint128 maxClaimableAmount) public view returns (bytes32) {
        return _typedDataHash(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, maxClaimableAmount)));
    }

    function getRefundDigest(bytes32 channelId, uint256 nonce, uint128 amount) public view returns (bytes32) {
        return _typedDataHash(keccak256(abi.encode(REFUND_TYPEHASH, channelId, nonce, amount)));
    }

    function getClaimBatchDigest(VoucherClaim[] calldata voucherClaims) public view returns (bytes32) {
        bytes32[] memory rows = new bytes32[](voucherClaims.length);
        for (uint256 i = 0; i < voucherClaims.length; i++) {
            VoucherClaim calldata row = voucherClaims[i];
            rows[i] = keccak256(
                abi.encode(
                    CLAIM_ENTRY_TYPEHASH, getChannelId(row.voucher.channel), row.voucher.maxClaimableAmount, row.totalClaimed
                )
            );
        }
        return _typedDataHash(keccak256(abi.encode(CLAIM_BATCH_TYPEHASH, keccak256(abi.encodePacked(rows)))));
    }

    // ---- internals --------------------------------------------------------------------------------------------

    function _applyClaim(VoucherClaim calldata row) private {
        bytes32 channelId = getChannelId(row.voucher.channel);
        Channel storage channel = channels[channelId];
        // Cumulative totals: a row at or below what is already claimed (a replay, an older voucher) is a no-op.
        if (row.totalClaimed <= channel.totalClaimed) return;
        if (row.totalClaimed > row.voucher.maxClaimableAmount) revert ClaimAboveVoucher();
        if (row.totalClaimed > channel.balance) revert ClaimAboveBalance();

        ChannelConfig calldata config = row.voucher.channel;
        bytes32 digest = getVoucherDigest(channelId, row.voucher.maxClaimableAmount);
        // A committed payer authorizer is an EOA key (plain ECDSA); without one the payer itself signs (EOA or ERC-1271).
        bool signed = config.payerAuthorizer != address(0)
            ? _recover(digest, row.signature) == config.payerAuthorizer
            : _validSignature(config.payer, digest, row.signature);
        if (!signed) revert BadSignature();

        uint128 delta = row.totalClaimed - channel.totalClaimed;
        channel.totalClaimed = row.totalClaimed;
        receivers[config.receiver][config.token].totalClaimed += delta;
        emit Claimed(channelId, msg.sender, delta, row.totalClaimed);
    }

    /// The nonce advances first, even when nothing is left to return, so a used `Refund` signature is spent.
    function _refund(ChannelConfig calldata config, uint128 amount) private {
        if (amount == 0) revert ZeroAmount();
        bytes32 channelId = getChannelId(config);
        refundNonce[channelId] += 1;
        Channel storage channel = channels[channelId];
        uint128 available = channel.balance - channel.totalClaimed;
        uint128 returned = amount < available ? amount : available;
        if (returned == 0) return;
        channel.balance -= returned;
        Withdrawal storage pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt != 0) {
            if (returned >= pending.amount) delete pendingWithdrawals[channelId];
            else pending.amount -= returned;
        }
        emit Refunded(channelId, msg.sender, returned);
        _pay(config.token, config.payer, returned);
    }

    function _isReceiverSide(address sender, ChannelConfig calldata config) private pure returns (bool) {
        return sender == config.receiver || sender == config.receiverAuthorizer;
    }

    function _typedDataHash(bytes32 structHash) private view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("x402 Batch Settlement"),
                keccak256("1"),
                block.chainid,
                address(this)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _validSignature(address signer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        if (signer.code.length == 0) return _recover(digest, signature) == signer;
        (bool ok, bytes memory answer) =
            signer.staticcall(abi.encodeWithSelector(IERC1271.isValidSignature.selector, digest, signature));
        return ok && answer.length >= 32 && abi.decode(answer, (bytes4)) == IERC1271.isValidSignature.selector;
    }

    /// 65-byte ECDSA, low-s only; anything else recovers nobody.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) return address(0);
        return ecrecover(digest, v, r, s);
    }

    function _pay(address token, address to, uint128 amount) private {
        (bool ok, bytes memory answer) = token.call(abi.encodeWithSelector(IERC20Minimal.transfer.selector, to, amount));
        if (!ok || (answer.length > 0 && !abi.decode(answer, (bool)))) revert TransferFailed();
    }
}
