/// The kinds of file the appliance reads, by file name.
public enum DocumentFormat: String, Sendable, Codable, CaseIterable {
    case markdown, plainText = "text", restructuredText = "rst", html, json, csv, sourceCode = "code"
    /// Read through `pdftotext` (poppler-utils), one section per page.
    case pdf

    /// The format of a file called `fileName`, or `nil` when the appliance does not read such files.
    public static func detect(fileName: String) -> DocumentFormat? {
        let lowered = fileName.lowercased()
        guard let dot = lowered.lastIndex(of: "."), dot != lowered.startIndex else {
            return extensionlessTextFiles.contains(lowered) ? .plainText : nil
        }
        let fileExtension = String(lowered[lowered.index(after: dot)...])
        switch fileExtension {
        case "md", "markdown", "mdown", "mkd": return .markdown
        case "txt", "text", "log": return .plainText
        case "rst", "rest": return .restructuredText
        case "html", "htm", "xhtml": return .html
        case "json": return .json
        case "csv": return .csv
        case "pdf": return .pdf
        default: return sourceCodeExtensions.contains(fileExtension) ? .sourceCode : nil
        }
    }

    static let extensionlessTextFiles: Set<String> = [
        "readme", "license", "changelog", "makefile", "dockerfile", "notice", "authors", "contributing",
    ]

    static let sourceCodeExtensions: Set<String> = [
        "swift", "py", "js", "mjs", "ts", "tsx", "jsx", "go", "rs", "c", "h", "cc", "cpp", "hpp", "m", "java", "kt",
        "kts", "scala", "rb", "php", "cs", "sh", "bash", "zsh", "sql", "yaml", "yml", "toml", "ini", "cfg", "conf",
        "xml", "css", "scss", "lua", "pl", "r", "jl", "ex", "exs", "erl", "hs", "ml", "clj", "dart", "proto",
        "gradle", "cmake", "tf", "vue", "svelte",
    ]
}
