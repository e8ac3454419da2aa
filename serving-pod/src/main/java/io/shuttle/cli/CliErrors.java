package io.shuttle.cli;

import picocli.CommandLine;

/**
 * Turns exceptions escaping a sub-command into one clear line on stderr and exit code 1.
 * Set {@code SHUTTLE_DEBUG=1} to also print the stack trace.
 */
final class CliErrors implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
        cmd.getErr().println("error: " + msg);
        if ("1".equals(System.getenv("SHUTTLE_DEBUG"))) {
            ex.printStackTrace(cmd.getErr());
        }
        return 1;
    }
}
