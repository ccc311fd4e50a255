package sdtrainer.log;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The training progress line: step/total, loss EMA, samples/s, lr and ETA. Redrawn in place on a terminal;
 * otherwise (logs, CI) printed as a plain line about every 2 % of the run or every 30 seconds.
 */
public final class ConsoleProgress {
    private final PrintStream out;
    private final boolean terminal;
    private final long total;
    private final long start = System.nanoTime();
    private long lastPrint;
    private long lastPrintedStep = -1;

    public ConsoleProgress(PrintStream out, boolean terminal, long total) {
        this.out = out;
        this.terminal = terminal;
        this.total = total;
    }

    public void update(long step, double lossEma, double samplesPerSecond, double lr) {
        long now = System.nanoTime();
        boolean due = terminal ? now - lastPrint > 100_000_000L
                : step == total || step - lastPrintedStep >= Math.max(1, total / 50) || now - lastPrint > 30_000_000_000L;
        if (!due) return;
        lastPrint = now;
        lastPrintedStep = step;
        double elapsed = (now - start) / 1e9;
        long eta = step == 0 ? 0 : Math.round(elapsed / step * (total - step));
        String line = String.format(Locale.ROOT, "step %d/%d | loss (EMA) %.4f | %.2f samples/s | lr %.2e | ETA %s",
                step, total, lossEma, samplesPerSecond, lr, clock(eta));
        if (terminal) {
            out.print("\r" + line + "\u001b[K");
            out.flush();
        } else {
            out.println(line);
        }
    }

    /** A line of its own (epoch summaries, saves), keeping the redrawn line intact on a terminal. */
    public void println(String message) {
        if (terminal) out.print("\r\u001b[K");
        out.println(message);
        lastPrint = 0;
    }

    static String clock(long seconds) {
        return String.format(Locale.ROOT, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }
}
