import Providers
import Testing

@testable import Retrieval

/// Citation markers come from answers — any model may write any number in brackets.
@Suite struct CitationTests {
    static func passage(_ number: Int) -> RetrievedPassage {
        RetrievedPassage(
            chunkID: Int64(number), documentID: 1, source: "doc-\(number).md", sourceURI: "file:///doc-\(number).md",
            headingPath: ["Heading"], characterRange: 0..<10, text: "Passage \(number).", score: 1)
    }

    @Test(arguments: [
        "[1]", "[0]", "[-1]", "[99]", "[9223372036854775807]", "[-9223372036854775808]", "[9223372036854775808]",
        "[1, 2, 3]", "[", "]", "[]", "[[1]]", "[ 1 ]",
    ])
    func markersWithNoPassagesCiteNothingAndNeverTrap(_ answer: String) {
        #expect(AskService.citations(in: answer, passages: []).isEmpty)
    }

    @Test func onlyMarkersThatNameAPassageAreCitedInTheOrderOfFirstUse() {
        let passages = (1...3).map(Self.passage)
        let answer = "Second [2]. Bogus [0][4][-9223372036854775808]. First [1, 2]. Again [2]."
        #expect(AskService.citations(in: answer, passages: passages).map(\.n) == [2, 1])
    }

    @Test func anAnswerWithoutMarkersIsCreditedToItsPassagesButTheNotCoveredAnswerIsNot() {
        let passages = (1...2).map(Self.passage)
        #expect(AskService.citations(in: "Plain text.", passages: passages).map(\.n) == [1, 2])
        #expect(AskService.citations(in: ExtractiveAnswerer.notCoveredAnswer, passages: passages).isEmpty)
    }
}
