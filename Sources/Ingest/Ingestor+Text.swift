import Crypto
import Foundation
import Storage

/// Documents whose text the appliance has at hand rather than in a file: a `knowledge_items` row, a summary of
/// plugin metrics. Their source URI is also the path citations show (`knowledge_items/42`).
extension Ingestor {
    /// A document made of a title, Markdown text and keywords.
    public struct TextDocument: Sendable, Equatable {
        /// Identifies the document within its tenant and is shown in citations, e.g. `knowledge_items/42`.
        public var sourceURI: String
        /// The document's title: the first heading of every chunk.
        public var title: String
        /// The body, read as Markdown.
        public var text: String
        /// Words that belong to every chunk (a row's tags), searchable with each.
        public var keywords: [String]
        /// Stored with the document (its `metadata`), beside the display path, title and chunker.
        public var metadata: [String: String]

        /// A document ready to ingest.
        public init(
            sourceURI: String, title: String, text: String, keywords: [String] = [], metadata: [String: String] = [:]
        ) {
            self.sourceURI = sourceURI
            self.title = title
            self.text = text
            self.keywords = keywords
            self.metadata = metadata
        }

        /// SHA-256 of what the chunks are made from (title, keywords, text), each field ended by a NUL, which none
        /// of them can hold (PostgreSQL's text refuses it): two documents differ exactly when their fields do.
        var contentSHA256: String {
            var hasher = SHA256()
            for field in [title, keywords.joined(separator: "\u{1F}"), text] {
                hasher.update(data: Data(field.utf8))
                hasher.update(data: Data([0]))
            }
            return Ingestor.hex(hasher.finalize())
        }
    }

    /// Chunks, embeds and stores `document` for the tenant unless `state` (what the tenant holds under its URI)
    /// is unchanged. `existed` says the document was stored before in some tenant, so that a row moved to another
    /// tenant counts as updated.
    func ingestText(
        _ document: TextDocument, state: KnowledgeStore.DocumentState?, existed: Bool, tenantID: Int64, modelID: Int
    ) async -> Outcome {
        let sha = document.contentSHA256
        if isStoredUnchanged(state, sha: sha) { return .unchanged }
        let limit = configuration.maximumFileBytes
        guard document.text.utf8.count <= limit else {
            return .failed("The text is over the \(limit)-byte limit; shorten it or raise the limit.")
        }
        return await reportingFailures(displayPath: document.sourceURI) {
            // Text a user wrote is Markdown as often as not; plain text reads the same through the Markdown parser.
            var extracted = try TextExtractor().extract(
                Data(document.text.utf8), format: .markdown, fileName: document.sourceURI)
            extracted.title = document.title
            return try await storeExtracted(
                extracted, contentSHA256: sha, format: .markdown, sourceURI: document.sourceURI,
                displayPath: document.sourceURI, metadata: document.metadata, keywords: document.keywords,
                titleInHeadings: true, existed: existed, tenantID: tenantID, modelID: modelID)
        }
    }
}
