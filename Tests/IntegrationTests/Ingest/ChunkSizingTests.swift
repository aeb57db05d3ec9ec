import Foundation
import Ingest
import MiniLM
import PostgresNIO
import Providers
import Storage
import Testing

/// Chunks sized by `minilm`'s own WordPiece tokenizer: what the model reads of a chunk (its heading line, the
/// chunk, `[CLS]` and `[SEP]`) fits its 256 positions, so no chunk loses its tail from the vector.
@Suite struct ChunkSizingTests {
    static let logger = TestDatabase.logger

    static func tokenizer() throws -> WordPieceTokenizer {
        let path = MiniLMEmbedder.defaultModelDirectory() + "/tokenizer.json"
        do {
            return try WordPieceTokenizer(contentsOf: path, maximumTokens: MiniLMEmbedder.maximumTokens)
        } catch {
            throw TestSetupError("\(error) (./deploy/install-model.sh installs the model)")
        }
    }

    /// A long document: prose under a long heading, one sentence of 400 words, a 3,000-character run without
    /// spaces, and a short section with tags-like text.
    static let document: String = {
        let words = ["photosynthesis", "mitochondrial", "antidisestablishment", "cell", "Zürich", "42.5%", "co-operation", "naïve", "e-mail"]
        var prose: [String] = []
        for index in 0..<80 {
            let sentenceWords = (0..<(8 + index % 13)).map { words[($0 * 7 + index) % words.count] }
            prose.append(sentenceWords.joined(separator: " ").capitalized + ".")
        }
        let runOn = (0..<400).map { words[$0 % words.count] }.joined(separator: " ")
        let noSpaces = String(repeating: "abcdefghij", count: 300)
        return """
            # Field guide to rather long headings in technical handbooks

            ## Section two, whose heading alone takes a fair share of the model's window

            \(prose.joined(separator: " "))

            \(runOn)

            \(noSpaces)

            ## Short

            A short closing section.
            """
    }()

    /// Ingests ``document`` with `chunker` into a fresh database (once per call of `ingest`).
    static func withGuide(
        _ body: @Sendable (Database, _ ingest: @Sendable (Chunker.Configuration) async throws -> IngestSummary)
            async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write(document, to: "guide.md")
        try await TestDatabase.withFreshDatabase { client, _ in
            try await body(client) { chunker in
                var configuration = Ingestor.Configuration()
                configuration.chunker = chunker
                return try await Ingestor(
                    configuration: configuration, store: KnowledgeStore(client: client), embedder: HashingEmbedder(),
                    logger: logger
                ).ingest(paths: [directory.path], tenant: "default")
            }
        }
    }

    @Test func everyChunkFitsMiniLMsWindowWithItsHeadingLine() async throws {
        let tokenizer = try Self.tokenizer()
        try await Self.withGuide { client, ingest in
            let summary = try await ingest(.sized(for: tokenizer, maximumTokens: tokenizer.maximumTokens))
            #expect(summary.added == 1 && summary.failed == 0)
            let rows = try await client.query(
                """
                SELECT ordinal, coalesce(embedding_context, ''), text, heading_path, char_start, char_end, token_count
                FROM chunks ORDER BY ordinal
                """, logger: Self.logger)
            let chunks = try rows.decode((Int, String, String, [String], Int, Int, Int).self)
            #expect(chunks.count >= 8)
            for (ordinal, context, text, headings, _, _, tokenCount) in chunks {
                // Exactly the text ingest embeds, counted as the model counts it, untruncated.
                let read = tokenizer.wordPieceCount(Array((context + "\n\n" + text).unicodeScalars)[...]) + 2
                #expect(read <= 256, "chunk \(ordinal) is \(read) word pieces with its heading line")
                // Stored as the chunker counts: the model's word pieces, and a token per four scalars of a word the
                // model reads as one `[UNK]` (the 3,000-letter run).
                #expect(tokenCount == tokenizer.count(text))
                #expect(!context.isEmpty)
                #expect(context.hasPrefix("Field guide to rather long headings"), "headings carried: \(context)")
                #expect(headings.isEmpty || context.contains(headings.last ?? ""))
            }
            // Prose chunks of one section overlap (sentences repeated), and chunks are not tiny: the window is used.
            let prose = chunks.filter { $0.3.last?.hasPrefix("Section two") == true }
            #expect(zip(prose, prose.dropFirst()).contains { $0.5 > $1.4 })
            let fullest = chunks.map { tokenizer.wordPieceCount(Array(($0.1 + "\n\n" + $0.2).unicodeScalars)[...]) + 2 }.max()
            #expect((fullest ?? 0) > 200)
        }
    }

    /// Text minilm reads as `[UNK]` words — a hex dump with no spaces, a script written without them — makes chunks
    /// about as long as prose does, not one chunk of the whole run: such a word counts a token per four scalars.
    @Test func wordsMiniLMCannotReadStillMakeBoundedChunks() throws {
        let tokenizer = try Self.tokenizer()
        let hex = String((0..<40_000).map { _ in "0123456789abcdef".randomElement() ?? "0" })
        let thai = String(repeating: "ภาษาไทยเขียนติดกันโดยไม่มีช่องว่าง", count: 400)
        let text = "# Dump\n\nThe dump follows.\n\n\(hex)\n\n## Thai\n\n\(thai)\n"
        let document = try TextExtractor().extract(Data(text.utf8), format: .markdown, fileName: "dump.md")
        let chunker = Chunker(configuration: .sized(for: tokenizer, maximumTokens: tokenizer.maximumTokens))
        let chunks = chunker.chunks(of: document)
        #expect(chunks.count > 40)
        for chunk in chunks {
            // Four scalars a token, counted after normalisation (which drops Thai's combining marks), and the
            // overlap: far from the 13,000-scalar run that made one chunk before.
            #expect(chunk.text.unicodeScalars.count <= 8 * tokenizer.maximumTokens, "\(chunk.text.prefix(80))")
            #expect(tokenizer.count(chunk.text) <= tokenizer.maximumTokens)
        }
        // Text the vocabulary covers is counted exactly as the model reads it.
        let prose = "The cafeteria closes at 15:00 on weekdays."
        #expect(tokenizer.count(prose) == tokenizer.wordPieceCount(Array(prose.unicodeScalars)[...]))
    }

    @Test func changingTheChunkSizingChunksDocumentsAgain() async throws {
        let tokenizer = try Self.tokenizer()
        try await Self.withGuide { client, ingest in
            let sized = Chunker.Configuration.sized(for: tokenizer, maximumTokens: tokenizer.maximumTokens)
            #expect(try await ingest(Chunker.Configuration()).added == 1)
            let before = try await client.query("SELECT count(*)::bigint FROM chunks", logger: Self.logger).decode(Int64.self)
            let again = try await ingest(sized)
            #expect(again.updated == 1 && again.chunksEmbedded > 0)
            let fingerprint = try await client.query(
                "SELECT metadata->>'chunker' FROM documents", logger: Self.logger
            ).decode(String.self)
            #expect(fingerprint == [sized.fingerprint])
            #expect(sized.fingerprint.contains("minilm-wordpiece"))
            let after = try await client.query("SELECT count(*)::bigint FROM chunks", logger: Self.logger).decode(Int64.self)
            #expect(after != before)
            #expect(try await ingest(sized).unchanged == 1)
        }
    }
}

/// The two chunk sizings, for tests that compare them on the same questions: the token estimate (400 a chunk, as
/// before) and `minilm`'s tokenizer (256 word pieces with the heading line, what the CLI uses when installed).
enum ChunkSizing: String, CaseIterable, Sendable, CustomStringConvertible {
    case estimate, minilm

    var description: String { rawValue }

    /// An ingest configuration with this sizing.
    func ingestConfiguration() throws -> Ingestor.Configuration {
        var configuration = Ingestor.Configuration()
        if self == .minilm {
            let tokenizer = try ChunkSizingTests.tokenizer()
            configuration.chunker = .sized(for: tokenizer, maximumTokens: tokenizer.maximumTokens)
        }
        return configuration
    }
}
