import Crypto

/// The SHA-256 of a whole object and of its current part, fed the same bytes once.
///
/// A multipart upload needs both: each part's hash signs the part and is the checksum the server verifies, and the
/// whole object's hash is checked against what the caller expects (a content address). With the x86 SHA extensions
/// the two hashes share one message schedule and interleave their rounds (``SHA256Words``), which costs about 1.1×
/// one hash instead of 2×; without them, two swift-crypto hashers run one after the other.
struct ObjectAndPartSHA256 {
    private var object = BlockSHA256()
    private var part = BlockSHA256()
    private var softwareObject = SHA256()
    private var softwarePart = SHA256()
    private let hardware: Bool

    init(hardware: Bool = SHA256Words.hardwareAvailable) {
        self.hardware = hardware
    }

    /// Hashes `bytes` into both the object's and the part's hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard hardware else {
            softwareObject.update(bufferPointer: bytes)
            softwarePart.update(bufferPointer: bytes)
            return
        }
        BlockSHA256.update(&object, &part, with: bytes)
    }

    /// The current part's SHA-256; the next bytes start a new part.
    mutating func finishPart() -> [UInt8] {
        guard hardware else {
            defer { softwarePart = SHA256() }
            return Array(softwarePart.finalize())
        }
        defer { part = BlockSHA256() }
        return part.finalize()
    }

    /// The SHA-256 of every byte given.
    func finishObject() -> [UInt8] {
        hardware ? object.finalize() : Array(softwareObject.finalize())
    }
}

/// A streaming SHA-256 on ``SHA256Words``: the state, the partial block and the length.
struct BlockSHA256 {
    private var state = SHA256Words()
    /// Bytes of a block not yet full, fewer than 64.
    private var pending: [UInt8] = []
    /// Bytes hashed into `state`: a multiple of 64.
    private var compressed = 0

    /// Hashes `bytes` into one state.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        if !pending.isEmpty {
            let taken = min(64 - pending.count, rest.count)
            pending.append(contentsOf: rest[..<taken])
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
            if pending.count == 64 {
                pending.withUnsafeBytes { if let base = $0.baseAddress { state.compress(base, count: 1) } }
                pending.removeAll(keepingCapacity: true)
                compressed += 64
            }
        }
        let blocks = rest.count / 64
        if blocks > 0, let base = rest.baseAddress { state.compress(base, count: blocks) }
        compressed += blocks * 64
        pending.append(contentsOf: rest[(blocks * 64)...])
    }

    /// Hashes the same `bytes` into two states: in one pass when their partial blocks line up (both empty at a part
    /// boundary that is a multiple of 64 bytes, as parts of whole MiB are), else one after the other.
    static func update(_ first: inout BlockSHA256, _ second: inout BlockSHA256, with bytes: UnsafeRawBufferPointer) {
        guard first.pending == second.pending else {
            first.update(bytes)
            second.update(bytes)
            return
        }
        // Top up the shared partial block and hash it into both, then the whole blocks of `bytes` into both at once.
        var rest = bytes
        if !first.pending.isEmpty {
            let taken = min(64 - first.pending.count, rest.count)
            first.pending.append(contentsOf: rest[..<taken])
            second.pending.append(contentsOf: rest[..<taken])
            rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
            if first.pending.count == 64 {
                first.pending.withUnsafeBytes {
                    if let base = $0.baseAddress { SHA256Words.compress(&first.state, &second.state, base, count: 1) }
                }
                first.pending.removeAll(keepingCapacity: true)
                second.pending.removeAll(keepingCapacity: true)
                first.compressed += 64
                second.compressed += 64
            }
        }
        let blocks = rest.count / 64
        if blocks > 0, let base = rest.baseAddress {
            SHA256Words.compress(&first.state, &second.state, base, count: blocks)
        }
        first.compressed += blocks * 64
        second.compressed += blocks * 64
        let tail = UnsafeRawBufferPointer(rebasing: rest[(blocks * 64)...])
        first.pending.append(contentsOf: tail)
        second.pending.append(contentsOf: tail)
    }

    /// The digest of the bytes so far.
    func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            pending.withUnsafeBytes { tail in
                if let base = buffer.baseAddress { state.finish(tail, prefixLength: compressed, into: base) }
            }
            count = 32
        }
    }
}
