package io.shuttle.cli;

import picocli.CommandLine.Command;

/** {@code shuttle trace ...}: tools for pipeline traces. */
@Command(name = "trace", mixinStandardHelpOptions = true, description = "Pipeline trace tools.",
        subcommands = {TracePlotCommand.class, TraceStatsCommand.class})
final class TraceCommand {
}
