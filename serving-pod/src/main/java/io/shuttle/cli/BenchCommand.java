package io.shuttle.cli;

import picocli.CommandLine.Command;

/** {@code shuttle bench ...}: benchmarks that print their figures (not timed tests). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks. 'bench m2n' (the communication library) is routed by bin/shuttle to the m2n jar.",
        subcommands = {BenchEngineCommand.class, BenchExpertsCommand.class, BenchPipelineCommand.class, BenchServeCommand.class})
final class BenchCommand {
}
