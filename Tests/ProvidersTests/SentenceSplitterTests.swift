import Testing

@testable import Providers

@Suite struct SentenceSplitterTests {
    func sentences(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return SentenceSplitter().sentenceRanges(in: scalars[...]).map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    @Test func splitsAtTerminatorsFollowedBySpace() {
        #expect(sentences("Backups run nightly. Restores are tested monthly! Are they? Yes.")
            == ["Backups run nightly.", "Restores are tested monthly!", "Are they?", "Yes."])
    }

    @Test func keepsAbbreviationsDecimalsAndInitialsInOneSentence() {
        #expect(sentences("Call Dr. Smith at 3.5 p.m. on weekdays, e.g. Monday. Then leave.")
            == ["Call Dr. Smith at 3.5 p.m. on weekdays, e.g. Monday.", "Then leave."])
        #expect(sentences("Ask J. R. Tolkien. He knows.") == ["Ask J. R. Tolkien.", "He knows."])
    }

    @Test func listItemsHeadingsAndBlankLinesEndSentences() {
        #expect(sentences("# Title\nIntro text\n\n- first item\n- second item\n| a | b |")
            == ["# Title", "Intro text", "- first item", "- second item", "| a | b |"])
    }

    @Test func wrappedLinesStayOneSentence() {
        #expect(sentences("This sentence is wrapped\nacross two lines. Next one.")
            == ["This sentence is wrapped\nacross two lines.", "Next one."])
    }

    @Test func ideographicFullStopsEndSentences() {
        #expect(sentences("東京は大きい。大阪も大きい。") == ["東京は大きい。", "大阪も大きい。"])
    }

    @Test func emptyAndBlankTextHaveNoSentences() {
        #expect(sentences("").isEmpty)
        #expect(sentences("  \n\n \t").isEmpty)
    }
}
