/// Fields of an upstream error that are fit to quote in a ``ProviderError`` message.
enum UpstreamField {
    /// A short identifier such as `rate_limit_error` or `RESOURCE_EXHAUSTED`: letters and `_`, at most 48
    /// characters. Anything else (which could echo a key or a prompt) is `nil`.
    static func identifier(_ text: String?) -> String? {
        guard let text, !text.isEmpty, text.count <= 48,
            text.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" })
        else { return nil }
        return text
    }
}
