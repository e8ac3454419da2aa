package io.shuttle.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code shuttle} command line. Each sub-command is its own class; exit codes are decided
 * here and in the sub-commands, nowhere below.
 */
@Command(name = "shuttle",
        mixinStandardHelpOptions = true,
        versionProvider = ShuttleCli.Version.class,
        description = "Serve Mixture-of-Experts models with attention/FFN disaggregation.",
        subcommands = {CommandLine.HelpCommand.class, ModelCommand.class, GenerateCommand.class, LocalCommand.class, ServeCommand.class, BenchCommand.class, TraceCommand.class})
public final class ShuttleCli {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line (tests call {@code execute} on it without exiting the JVM). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new ShuttleCli());
        cl.setExecutionExceptionHandler(new CliErrors());
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = ShuttleCli.class.getPackage().getImplementationVersion();
            return new String[] {"shuttle " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
