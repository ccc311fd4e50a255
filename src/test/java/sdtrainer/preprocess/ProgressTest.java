package sdtrainer.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test
    void logOutputHasATenPercentLineFailuresAndASummary() {
        StringWriter log = new StringWriter();
        Progress progress = new Progress("job", new PrintWriter(log), false);
        progress.start(20);
        for (int i = 0; i < 17; i++) {
            progress.processed();
        }
        progress.skipped();
        progress.skipped();
        progress.failed("c.png: corrupt image");
        Progress.Summary summary = progress.finish();

        assertEquals(new Progress.Summary("job", 17, 2, 1, summary.seconds(), "images"), summary);
        assertTrue(summary.anyFailed());
        List<String> lines = log.toString().lines().toList();
        assertEquals(10, lines.stream().filter(l -> l.matches("job: \\d+% \\(\\d+/20\\)")).count(), log.toString());
        assertTrue(lines.contains("job: failed: c.png: corrupt image"), log.toString());
        assertTrue(lines.get(lines.size() - 1).matches("job: 17 processed, 2 skipped, 1 failed in \\d+\\.\\d s \\(\\d+\\.\\d\\d images/s\\)"));
    }

    @Test
    void terminalBarIsRedrawnInPlaceAndClearedBeforeMessages() {
        StringWriter log = new StringWriter();
        Progress progress = new Progress("job", new PrintWriter(log), true);
        progress.start(2);
        progress.processed();
        progress.failed("b.png: truncated");
        progress.finish();
        String text = log.toString();
        assertTrue(text.startsWith("\rjob [" + ".".repeat(30) + "]   0% 0/2"), text);
        assertTrue(text.contains("\r\033[Kjob: failed: b.png: truncated"), text);
        assertTrue(text.contains("] 100% 2/2 (1 failed)"), text);
        assertTrue(text.matches("(?s).*\r\033\\[Kjob: 1 processed, 0 skipped, 1 failed in \\d+\\.\\d s \\(\\d+\\.\\d\\d images/s\\)\\R"), text);
    }

    @Test
    void parallelJobsKeepInputOrderAndCountOutcomes() throws InterruptedException {
        StringWriter log = new StringWriter();
        Progress progress = new Progress("job", new PrintWriter(log), false);
        List<Integer> values = ParallelJobs.run(IntStream.range(0, 50).boxed().toList(), 4, progress,
                i -> "item" + i, i -> {
                    if (i % 10 == 3) {
                        throw new IllegalStateException("bad value");
                    }
                    return i % 10 == 5 ? ParallelJobs.Outcome.skipped(i) : ParallelJobs.Outcome.processed(i);
                });
        Progress.Summary summary = progress.finish();
        assertEquals(IntStream.range(0, 50).filter(i -> i % 10 != 3).boxed().toList(), values);
        assertEquals(40, summary.processed());
        assertEquals(5, summary.skipped());
        assertEquals(5, summary.failed());
        assertTrue(log.toString().contains("job: failed: item13: bad value"), log.toString());
    }
}
