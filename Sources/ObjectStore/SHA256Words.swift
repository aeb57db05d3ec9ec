import CSHA256

/// A SHA-256 state after whole 64-byte blocks: the eight words H0…H7, a value on the stack. Hashing with it
/// allocates nothing, which matters for SigV4's short messages, and it can feed two states from one read
/// (``ObjectAndPartSHA256``). Runs on the x86 SHA extensions; callers check ``hardwareAvailable`` and use
/// swift-crypto without them, since the portable C fallback is slower than swift-crypto's.
struct SHA256Words: Sendable {
    /// Whether the CPU has the SHA extensions.
    static let hardwareAvailable = unity_sha256_hardware_available() != 0

    private var words: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )

    /// The initial state.
    init() {}

    /// Hashes `count` whole blocks starting at `blocks`.
    mutating func compress(_ blocks: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        withWords { unity_sha256_blocks($0, blocks.assumingMemoryBound(to: UInt8.self), count) }
    }

    /// Hashes `count` whole blocks into two states at once (one message schedule, interleaved rounds).
    static func compress(_ first: inout SHA256Words, _ second: inout SHA256Words, _ blocks: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        first.withWords { first in
            second.withWords { second in
                unity_sha256_blocks_x2(first, second, blocks.assumingMemoryBound(to: UInt8.self), count)
            }
        }
    }

    /// Finishes a message whose first `prefixLength` bytes (whole blocks) are already in this state and whose rest
    /// is `message`: pads, and writes the 32-byte digest to `digest`. `digest` may overlap `message`.
    func finish(_ message: UnsafeRawBufferPointer, prefixLength: Int, into digest: UnsafeMutableRawPointer) {
        var state = self
        let whole = message.count / 64
        if whole > 0, let base = message.baseAddress { state.compress(base, count: whole) }
        let tail = message.count - whole * 64
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 16) { block in
            block.initializeMemory(as: UInt8.self, repeating: 0)
            if tail > 0, let base = message.baseAddress {
                block.baseAddress?.copyMemory(from: base + whole * 64, byteCount: tail)
            }
            block[tail] = 0x80
            let blocks = tail < 56 ? 1 : 2
            let bits = UInt64(prefixLength + message.count) &* 8
            for index in 0..<8 {
                block[blocks * 64 - 1 - index] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index)))
            }
            if let base = block.baseAddress { state.compress(base, count: blocks) }
        }
        state.withWords { words in
            for index in 0..<8 {
                let word = words[index]
                digest.storeBytes(of: word.bigEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
        }
    }

    /// The SHA-256 of `message`, as 32 bytes.
    static func digest(of message: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            if let base = buffer.baseAddress { SHA256Words().finish(message, prefixLength: 0, into: base) }
            count = 32
        }
    }

    private mutating func withWords<Result>(_ body: (UnsafeMutablePointer<UInt32>) -> Result) -> Result {
        withUnsafeMutablePointer(to: &words) { tuple in
            tuple.withMemoryRebound(to: UInt32.self, capacity: 8, body)
        }
    }
}
