import ArgumentParser

/// The `unity-ai` command: the appliance's server and its command-line tools.
@main
struct UnityAI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unity-ai",
        abstract: "Storage-orchestration and RAG appliance: ingest knowledge, answer grounded questions.",
        subcommands: [Serve.self, Ingest.self, Reindex.self, Ask.self, Embed.self, Evaluate.self, Migrate.self, Config.self, Jobs.self, Models.self, BackupCommand.self, Tenants.self, Keys.self, Conversations.self])
}
