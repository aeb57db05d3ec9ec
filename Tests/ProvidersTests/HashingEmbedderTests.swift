import Testing

@testable import Providers

@Suite struct HashingEmbedderTests {
    let embedder = HashingEmbedder(dimensions: 512)

    @Test func usesPublishedFNV1aSoVectorsMatchAcrossMachines() {
        // FNV-1a 64 test vectors from the algorithm's authors.
        #expect(HashingEmbedder.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(HashingEmbedder.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(HashingEmbedder.fnv1a("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func sameTextGivesTheSameVector() async throws {
        let text = "Backups run nightly at 02:00 UTC and are kept for 35 days."
        let first = try await embedder.embed([text])
        let second = try await HashingEmbedder(dimensions: 512).embed([text])
        #expect(first == second)
        #expect(first[0].count == 512)
    }

    @Test func vectorsAreUnitLength() {
        for text in ["one", "The quick brown fox jumps over the lazy dog", "Zoë Martínez — 5 € — 東京"] {
            let vector = embedder.vector(for: text)
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-5, "norm of \(text) is \(norm)")
        }
    }

    @Test func textWithoutTermsGivesTheZeroVector() {
        #expect(embedder.vector(for: "").allSatisfy { $0 == 0 })
        #expect(embedder.vector(for: "the of and ...").allSatisfy { $0 == 0 })
    }

    @Test func sharedWordsMakeTextsCloser() {
        func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        let query = embedder.vector(for: "How long are backups retained?")
        let related = embedder.vector(for: "Backups are retained for 35 days in the archive.")
        let unrelated = embedder.vector(for: "Forklift drivers must wear a seat belt at all times.")
        #expect(cosine(query, related) > cosine(query, unrelated) + 0.2)
    }

    @Test func caseAccentsAndInflectionsDoNotMatter() {
        #expect(embedder.vector(for: "Café incidents") == embedder.vector(for: "cafe INCIDENT"))
    }

    @Test func batchesEmbedLikeSingleTexts() async throws {
        let texts = (0..<600).map { "document number \($0) about topic \($0 % 7)" }
        let batched = try await embedder.embedAll(texts)
        #expect(batched.count == 600)
        #expect(batched[599] == embedder.vector(for: texts[599]))
    }
}

@Suite struct TextAnalyzerTests {
    let analyzer = TextAnalyzer()

    @Test func foldsCaseAndAccentsAndDropsStopWords() {
        #expect(analyzer.terms("The Café of Zoë") == ["cafe", "zoe"])
    }

    @Test func keepsNumbersAndSplitsIdeographs() {
        #expect(analyzer.words("SEV1 within 5 minutes") == ["sev1", "within", "5", "minutes"])
        #expect(analyzer.words("東京は大きい") == ["東", "京", "は", "大", "き", "い"])
    }

    @Test(arguments: [("incidents", "incident"), ("policies", "policy"), ("running", "runn"), ("bus", "bus"), ("is", "is")])
    func stemsCommonSuffixes(word: String, stem: String) {
        #expect(TextAnalyzer.stem(word) == stem)
    }
}
