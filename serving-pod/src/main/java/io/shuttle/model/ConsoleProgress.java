package io.shuttle.model;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Shows progress on a console: on a terminal one line rewritten in place at each whole percent,
 * otherwise (logs, pipes) a new line every 10 %, so log files stay short. Not thread-safe; one
 * instance per operation.
 */
public final class ConsoleProgress implements ProgressListener {

    private final PrintWriter out;
    private final String label;
    private final boolean terminal;
    private int lastShown = -1;

    /**
     * @param out      where to print (usually stderr)
     * @param label    what is progressing, e.g. "writing weights"
     * @param terminal true to redraw one line with '\r', false to print a line every 10 %
     */
    public ConsoleProgress(PrintWriter out, String label, boolean terminal) {
        this.out = out;
        this.label = label;
        this.terminal = terminal;
    }

    /** Progress on stderr, redrawn in place when stderr is an interactive terminal. */
    public static ConsoleProgress stderr(String label) {
        java.io.Console console = System.console();
        return new ConsoleProgress(new PrintWriter(System.err, true), label, console != null && console.isTerminal());
    }

    @Override
    public void progress(long done, long total) {
        int percent = total <= 0 ? 100 : (int) Math.min(100, done * 100 / total);
        int step = terminal ? percent : percent / 10 * 10;
        if (step == lastShown) {
            return;
        }
        lastShown = step;
        String line = String.format(Locale.ROOT, "%s: %3d%% (%s of %s)", label, percent, bytes(done), bytes(total));
        if (terminal) {
            out.print("\r" + line + (percent == 100 ? System.lineSeparator() : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    /** Human-readable byte count with binary units, e.g. "1.5 GiB". */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
