/// A chunk found for a question, with where it comes from.
public struct RetrievedPassage: Sendable, Equatable {
    public var chunkID: Int64
    public var documentID: Int64
    /// The document's path as shown to readers (relative to the ingested root).
    public var source: String
    public var sourceURI: String
    public var headingPath: [String]
    /// Code-point offsets of the chunk in the document's text.
    public var characterRange: Range<Int>
    public var text: String
    /// The fused relevance score; higher is better.
    public var score: Double
    /// The document is marked private (metadata `private`): only a local provider may see this text.
    public var isPrivate = false
}

/// Finds the passages of one tenant that best answer a question.
public protocol Retriever: Sendable {
    /// The `limit` best passages of the tenant, best first.
    func retrieve(question: String, tenantID: Int64, limit: Int) async throws -> [RetrievedPassage]
}
