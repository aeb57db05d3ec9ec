/// A read-only, row-major tensor of `Float`s: either a view into a memory-mapped file (kept alive by this
/// object) or a buffer it owns (values converted from F16/BF16, or copied to fix alignment).
///
/// Immutable after creation, so it can be shared across threads.
final class FloatTensor: @unchecked Sendable {
    /// The dimensions, outermost first.
    let shape: [Int]
    /// The first value; valid for ``count`` values as long as this object lives.
    let pointer: UnsafePointer<Float>
    /// Keeps the mapping `pointer` points into alive.
    private let owner: AnyObject?
    /// The buffer `pointer` points to, when this object owns it.
    private let owned: UnsafeMutablePointer<Float>?

    /// A view of `pointer` inside memory kept alive by `owner`.
    init(shape: [Int], viewing pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.pointer = pointer
        self.owner = owner
        self.owned = nil
    }

    /// A tensor owning a fresh buffer that `fill` initialises completely.
    init(shape: [Int], filling fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        buffer.initialize(repeating: 0, count: max(count, 1))
        fill(UnsafeMutableBufferPointer(start: buffer, count: count))
        self.shape = shape
        self.pointer = UnsafePointer(buffer)
        self.owner = nil
        self.owned = buffer
    }

    deinit { owned?.deallocate() }

    /// The number of values.
    var count: Int { shape.reduce(1, *) }

    /// A copy of the values.
    var values: [Float] { withExtendedLifetime(self) { Array(UnsafeBufferPointer(start: pointer, count: count)) } }
}
