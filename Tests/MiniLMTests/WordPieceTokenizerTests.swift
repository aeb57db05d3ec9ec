import Testing

@testable import MiniLM

/// Token ids must equal the Hugging Face `tokenizers` library's exactly (no padding, truncation at 256).
@Suite struct WordPieceTokenizerTests {
    @Test func matchesTheReferenceTokenIDs() throws {
        let tokenizer = try MiniLMFixtures.embedder().tokenizer
        let reference = try MiniLMFixtures.reference()
        #expect(reference.cases.count == 16)
        for item in reference.cases {
            #expect(tokenizer.encode(item.text) == item.tokenIDs, "token ids of \(item.text.debugDescription.prefix(80))")
        }
    }

    // Expected ids from `tokenizers` 0.23 with tokenizer.json, `no_padding()`, `enable_truncation(256)`.
    @Test(arguments: [
        // More than max_input_chars_per_word (100) characters: the whole word is [UNK].
        (String(repeating: "a", count: 101), [101, 100, 102]),
        // Exactly 100 characters is still split into word pieces ("xx", then "##xx" 49 times).
        (String(repeating: "x", count: 100), [101, 22038] + Array(repeating: 20348, count: 49) + [102]),
        // Only punctuation: each character is its own word.
        ("!!!...???", [101, 999, 999, 999, 1012, 1012, 1012, 1029, 1029, 1029, 102]),
        // Runs of spaces, tabs and newlines separate words and vanish.
        ("   hello \t\n  world   ", [101, 7592, 2088, 102]),
        ("\u{00A0}non\u{2003}breaking", [101, 2512, 4911, 102]),
        ("", [101, 102]),
        ("  ", [101, 102]),
        // Accents are stripped (NFD, nonspacing marks dropped) and text lower-cased.
        ("Crème Brûlée À LA CARTE", [101, 13675, 21382, 7987, 9307, 2063, 1037, 2474, 11122, 2063, 102]),
        ("ﬁ Ǆ İstanbul ΣΟΦΙΑ", [101, 1984, 100, 9960, 1173, 29730, 29736, 27432, 102]),
        // CJK ideographs become words of their own; kana are not ideographs and stay joined.
        ("東京タワーと北京", [101, 1879, 1755, 1709, 30262, 30265, 30192, 1781, 1755, 102]),
        // Ideographs outside the basic block (extension B) are words too, unknown to the vocabulary.
        ("\u{20000}\u{2A700}", [101, 100, 100, 102]),
        // Special tokens in the text are recognised verbatim, before normalisation.
        ("[CLS] hi [SEP]x[MASK]", [101, 101, 7632, 102, 1060, 103, 102]),
        // NUL, U+FFFD, format (zero-width space) and control (vertical tab) characters are removed.
        ("a\u{0000}b\u{FFFD}c\u{200B}d\u{000B}e", [101, 5925, 3207, 102]),
        // A word with no vocabulary cover is one [UNK].
        ("emoji 🥰🫠 ok", [101, 7861, 29147, 2072, 100, 7929, 102]),
        ("don't stop-believing", [101, 2123, 1005, 1056, 2644, 1011, 8929, 102]),
        ("unaffable", [101, 14477, 20961, 3468, 102]),
    ])
    func matchesHuggingFaceOnEdgeCases(text: String, expected: [Int]) throws {
        let tokenizer = try MiniLMFixtures.embedder().tokenizer
        #expect(tokenizer.encode(text) == expected)
    }

    @Test func truncatesToTheMaximumIncludingClassifierAndSeparator() throws {
        let tokenizer = try MiniLMFixtures.embedder().tokenizer
        let ids = tokenizer.encode(String(repeating: "word ", count: 1000))
        #expect(ids.count == 256)
        #expect(ids.first == 101)
        #expect(ids.last == 102)
        #expect(ids[1..<255].allSatisfy { $0 == 2773 })
        // A long word is cut between its pieces, as truncation of the full encoding does.
        let pieces = tokenizer.encode(String(repeating: "a ", count: 253) + String(repeating: "x", count: 20))
        #expect(pieces.count == 256)
        #expect(pieces[254] == 22038)
        // A punctuation mark unknown to the vocabulary right after the encoding filled up is cut too.
        let full = tokenizer.encode(String(repeating: "a ", count: 253) + "b\u{2017}")
        #expect(full.count == 256)
        #expect(full.suffix(3) == [1037, 1038, 102])
    }

    @Test func classifiesCharactersAsBERTDoes() {
        #expect(WordPieceTokenizer.isPunctuation("$"))  // ASCII symbol, counted as punctuation
        #expect(WordPieceTokenizer.isPunctuation("—"))  // Pd
        #expect(WordPieceTokenizer.isPunctuation("。"))  // Po
        #expect(!WordPieceTokenizer.isPunctuation("©"))  // So
        #expect(WordPieceTokenizer.isWhitespace("\u{3000}"))
        #expect(!WordPieceTokenizer.isWhitespace("\u{200B}"))
        #expect(WordPieceTokenizer.isControl("\u{200B}"))
        #expect(!WordPieceTokenizer.isControl("\n"))
        #expect(WordPieceTokenizer.isChineseCharacter("中"))
        #expect(!WordPieceTokenizer.isChineseCharacter("タ"))
    }
}
