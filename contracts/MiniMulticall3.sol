// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The one Multicall3 function x402 facilitators use (`tryAggregate`) to diagnose a failed simulation.
/// Placed at the canonical Multicall3 address on the local chain so facilitator errors name the real cause.
contract MiniMulticall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function tryAggregate(bool requireSuccess, Call[] calldata calls) public payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            if (requireSuccess) require(ok, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }
}
