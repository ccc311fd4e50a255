package sdtrainer.preprocess;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Console progress of one preprocessing run: counts processed, skipped and failed items, draws a bar
 * (redrawn in place on a terminal, a line every 10% otherwise), reports failures by name as they
 * happen and ends with a summary line. Safe to call from worker threads.
 */
public final class Progress {
    private static final int BAR_WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int LOG_STEP_PERCENT = 10;

    private final String name;
    private final String unit;
    private final PrintWriter out;
    private final boolean interactive;
    private final long startNanos = System.nanoTime();
    private int total;
    private int processed;
    private int skipped;
    private int failed;
    private long lastDrawNanos;
    private int lastLoggedStep;
    private boolean barOnScreen;

    /** Totals of a finished run; {@code unit} names the items in the rate. */
    public record Summary(String name, int processed, int skipped, int failed, double seconds, String unit) {
        public boolean anyFailed() {
            return failed > 0;
        }

        /** Items processed (not skipped) per second of the whole run. */
        public double rate() {
            return seconds > 0 ? processed / seconds : 0;
        }

        /** e.g. {@code bucketing: 120 processed, 3 skipped, 1 failed in 12.3 s (9.76 images/s)}. */
        public String line() {
            return String.format(Locale.ROOT, "%s: %d processed, %d skipped, %d failed in %.1f s (%.2f %s/s)",
                    name, processed, skipped, failed, seconds, rate(), unit);
        }
    }

    /**
     * @param name the command name that prefixes every line
     * @param out where the bar, failures and the summary go (standard error in the CLI)
     * @param interactive whether {@code out} is a terminal, so the bar can be redrawn in place
     */
    public Progress(String name, PrintWriter out, boolean interactive) {
        this(name, "images", out, interactive);
    }

    /** @param unit what the items are, for the rate in the summary line ({@code images}, {@code files}) */
    public Progress(String name, String unit, PrintWriter out, boolean interactive) {
        this.name = name;
        this.unit = unit;
        this.out = out;
        this.interactive = interactive;
    }

    /** Whether the console is a terminal; Java 17 can only tell this for the process as a whole. */
    public static boolean consoleIsTerminal() {
        return System.console() != null;
    }

    /** Sets the number of items the run will report and draws the empty bar. */
    public synchronized void start(int itemCount) {
        this.total = itemCount;
        draw(true);
    }

    public synchronized void processed() {
        processed++;
        draw(false);
    }

    public synchronized void skipped() {
        skipped++;
        draw(false);
    }

    /** Counts a failure and prints its message, which should name the item and the defect. */
    public synchronized void failed(String message) {
        failed++;
        clearBar();
        out.println(name + ": failed: " + message);
        draw(true);
    }

    /** Prints a line about an item that is not a failure (e.g. why it was skipped). */
    public synchronized void note(String message) {
        clearBar();
        out.println(name + ": " + message);
        draw(true);
    }

    /** Prints the summary line and returns the totals. */
    public synchronized Summary finish() {
        draw(true);
        clearBar();
        Summary summary = new Summary(name, processed, skipped, failed, (System.nanoTime() - startNanos) / 1e9, unit);
        out.println(summary.line());
        out.flush();
        return summary;
    }

    private void draw(boolean force) {
        int done = processed + skipped + failed;
        int percent = total == 0 ? 100 : (int) (100L * done / total);
        if (!interactive) {
            int step = percent / LOG_STEP_PERCENT;
            if (done > 0 && step > lastLoggedStep) {
                lastLoggedStep = step;
                out.println(String.format(Locale.ROOT, "%s: %d%% (%d/%d)", name, percent, done, total));
                out.flush();
            }
            return;
        }
        long now = System.nanoTime();
        if (!force && done != total && now - lastDrawNanos < REDRAW_NANOS) {
            return;
        }
        lastDrawNanos = now;
        int filled = total == 0 ? BAR_WIDTH : (int) ((long) BAR_WIDTH * done / total);
        String bar = "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled);
        out.print(String.format(Locale.ROOT, "\r%s [%s] %3d%% %d/%d", name, bar, percent, done, total)
                + (failed > 0 ? " (" + failed + " failed)" : ""));
        out.flush();
        barOnScreen = true;
    }

    private void clearBar() {
        if (barOnScreen) {
            out.print("\r\033[K"); // carriage return + erase to end of line
            barOnScreen = false;
        }
    }

    /** The result of a background job, or null after counting it as failed with its message (the file's name). */
    public <T> T awaitOrReport(java.util.concurrent.Future<T> job) throws InterruptedException {
        try {
            return job.get();
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Error error) throw error;
            failed(cause.getMessage() == null ? cause.toString() : cause.getMessage());
            return null;
        }
    }
}
