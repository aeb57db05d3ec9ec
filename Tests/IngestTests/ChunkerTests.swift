import Foundation
import Providers
import Testing

@testable import Ingest

@Suite struct ChunkerTests {
    func extract(_ text: String, fileName: String = "doc.md") throws -> ExtractedText {
        try TextExtractor().extract(Data(text.utf8), format: DocumentFormat.detect(fileName: fileName)!, fileName: fileName)
    }

    @Test func chunksCarryTheirMarkdownHeadingPath() throws {
        let document = try extract(
            """
            # Handbook
            Intro.

            ## Backups
            Backups run nightly.

            ### Retention
            Kept for 35 days.

            ## On-call
            Pages are answered in 5 minutes.
            """)
        let chunks = Chunker().chunks(of: document)
        #expect(chunks.map(\.headingPath) == [
            ["Handbook"], ["Handbook", "Backups"], ["Handbook", "Backups", "Retention"], ["Handbook", "On-call"],
        ])
        #expect(chunks[2].text == "### Retention\nKept for 35 days.")
        #expect(document.title == "Handbook")
    }

    @Test func headingsInsideCodeFencesAreNotHeadings() throws {
        let document = try extract("# Real\n```\n# not a heading\n```\ntext")
        #expect(Chunker().chunks(of: document).map(\.headingPath) == [["Real"]])
    }

    @Test func chunksEndAtSentenceBoundariesAndStayWithinTheTarget() throws {
        let sentences = (1...200).map { "Sentence number \($0) talks about warehouse safety rules." }
        let document = try extract(sentences.joined(separator: " "), fileName: "doc.txt")
        let chunker = Chunker(configuration: .init(targetTokens: 100, overlapTokens: 15))
        let chunks = chunker.chunks(of: document)
        #expect(chunks.count > 10)
        for chunk in chunks {
            #expect(chunk.tokenCount <= 100)
            #expect(chunk.text.hasPrefix("Sentence number"))
            #expect(chunk.text.hasSuffix("rules."))
        }
    }

    @Test func consecutiveChunksOverlapBySentences() throws {
        let sentences = (1...60).map { "Fact \($0) is here." }
        let document = try extract(sentences.joined(separator: " "), fileName: "doc.txt")
        let chunks = Chunker(configuration: .init(targetTokens: 50, overlapTokens: 12)).chunks(of: document)
        for (previous, next) in zip(chunks, chunks.dropFirst()) {
            #expect(next.characterRange.lowerBound < previous.characterRange.upperBound, "chunks should overlap")
            // The next chunk starts with sentences the previous one ended with, including its last.
            let firstOfNext = next.text.components(separatedBy: ". ").first! + "."
            let lastOfPrevious = previous.text.components(separatedBy: ". ").last!
            #expect(previous.text.contains(firstOfNext))
            #expect(next.text.contains(lastOfPrevious))
            #expect(next.tokenCount <= 50)
        }
        // Every sentence is in some chunk.
        let joined = chunks.map(\.text).joined(separator: " ")
        for sentence in sentences { #expect(joined.contains(sentence)) }
    }

    @Test func offsetsAreCodePointsIntoTheText() throws {
        let text = "# Zoë 🚚\n東京の倉庫は大きい。Forklifts stop at 8 km/h. Ünïcödé line here.\n"
        let document = try extract(text)
        let scalars = Array(text.unicodeScalars)
        for chunk in Chunker(configuration: .init(targetTokens: 8, overlapTokens: 2)).chunks(of: document) {
            #expect(String(String.UnicodeScalarView(scalars[chunk.characterRange])) == chunk.text)
        }
    }

    @Test func emptyAndBlankDocumentsHaveNoChunks() throws {
        #expect(Chunker().chunks(of: try extract("")).isEmpty)
        #expect(Chunker().chunks(of: try extract("   \n\n  ")).isEmpty)
    }

    @Test func aHugeRunWithoutBreaksIsCutIntoChunksThatFit() throws {
        let text = String(repeating: "x", count: 600_000)  // one "word" of 600k letters
        let chunks = Chunker().chunks(of: try extract(text, fileName: "doc.txt"))
        #expect(chunks.allSatisfy { $0.tokenCount <= 400 })
        #expect(chunks.map(\.text.count).reduce(0, +) == 600_000)
    }

    @Test func aLongDocumentChunksQuickly() throws {
        let paragraph = "The appliance ingests documents, chunks them and embeds every chunk. "
        let text = String(repeating: paragraph, count: 20_000)  // about 1.4 MB
        let chunks = Chunker().chunks(of: try extract(text, fileName: "doc.txt"))
        #expect(chunks.count > 500)
        #expect(chunks.allSatisfy { $0.tokenCount <= 400 })
    }

    @Test func fingerprintChangesWithTheSettings() {
        #expect(Chunker.Configuration().fingerprint != Chunker.Configuration(targetTokens: 300).fingerprint)
        // The estimator's chunks keep the fingerprint the previous release (BM25's) stored: nothing is chunked
        // again for it.
        #expect(Chunker.Configuration().fingerprint == "v1/target=400/overlap=60/fts=english")
        let sized = Chunker.Configuration.sized(for: ScalarCounter(), maximumTokens: 400)
        #expect(sized.fingerprint != Chunker.Configuration().fingerprint)
        // The tokenizer part, then the text search configuration: both re-chunk a document when they change.
        #expect(sized.fingerprint == "v1/target=400/overlap=60/tokens=scalars/with-context/fts=english")
        let simple = Chunker.Configuration.sized(
            for: ScalarCounter(), maximumTokens: 400, textSearchConfiguration: "simple")
        #expect(simple.fingerprint == "v1/target=400/overlap=60/tokens=scalars/with-context/fts=simple")
    }

    /// With a model's counter and its heading line counted, every chunk fits the window with its line and the
    /// special tokens; a word longer than the window is cut; overlap is kept.
    @Test func chunksSizedForAnEmbedderLeaveRoomForTheirHeadingLine() throws {
        let counter = ScalarCounter()
        let sentences = (0..<60).map { "Sentence \($0) is short." }.joined(separator: " ")
        let document = try extract("# Title\n\n## Part\n\n\(sentences)\n\n\(String(repeating: "x", count: 300))\n")
        let chunker = Chunker(configuration: .sized(for: counter, maximumTokens: 200))
        func context(_ path: [String]) -> String { "Title > " + path.joined(separator: " > ") }
        let chunks = chunker.chunks(of: document, context: context)
        #expect(chunks.count > 5)
        for chunk in chunks {
            let read = counter.count(context(chunk.headingPath) + "\n\n" + chunk.text) + counter.specialTokens
            #expect(read <= 200, "\(read): \(chunk.text)")
        }
        let prose = chunks.filter { $0.text.contains("Sentence") }
        #expect(zip(prose, prose.dropFirst()).contains { $0.characterRange.upperBound > $1.characterRange.lowerBound })
    }
}

/// One token per non-space scalar: a counter whose counts are easy to check by hand.
struct ScalarCounter: TokenCounter {
    var name: String { "scalars" }
    var specialTokens: Int { 2 }
    func count(_ scalars: ArraySlice<Unicode.Scalar>) -> Int { scalars.count { !$0.properties.isWhitespace } }
}

@Suite struct TokenEstimatorTests {
    @Test func countsWordsPunctuationAndIdeographs() {
        let estimator = TokenEstimator()
        #expect(estimator.count("") == 0)
        #expect(estimator.count("one two three") == 3)
        #expect(estimator.count("Hello, world!") == 4)
        #expect(estimator.count("internationalization") == 4)  // 20 letters
        #expect(estimator.count("東京") == 2)
    }
}
