/// A document's readable text, split into sections by its headings.
public struct ExtractedText: Sendable, Equatable {
    /// A run of the text under one heading path.
    public struct Section: Sendable, Equatable {
        /// The headings above this section, outermost first; empty before the first heading.
        public var headingPath: [String]
        /// Offsets in ``ExtractedText/scalars``.
        public var range: Range<Int>

        public init(headingPath: [String], range: Range<Int>) {
            self.headingPath = headingPath
            self.range = range
        }
    }

    /// The text as Unicode scalars: offsets everywhere are indices into this array (code points).
    public var scalars: [Unicode.Scalar]
    public var sections: [Section]
    /// The document's title: its first top-level heading, else derived from the file name.
    public var title: String?
    /// Split section bodies into lines rather than sentences (source code, data rows).
    public var isLineOriented: Bool

    public init(scalars: [Unicode.Scalar], sections: [Section], title: String?, isLineOriented: Bool = false) {
        self.scalars = scalars
        self.sections = sections
        self.title = title
        self.isLineOriented = isLineOriented
    }

    /// The text of a range.
    public func string(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(scalars[range]))
    }
}
