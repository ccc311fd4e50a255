package sdtrainer.preprocess;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/** Runs one job per item on a fixed thread pool, reporting each outcome to a {@link Progress}. */
public final class ParallelJobs {
    private ParallelJobs() {}

    /** Work on one item; an exception marks the item failed and is reported with the item's name. */
    @FunctionalInterface
    public interface Job<T, R> {
        Outcome<R> run(T item) throws Exception;
    }

    /** What a job did with its item, and the value it contributes to the run's result (may be null). */
    public record Outcome<R>(boolean skipped, R value) {
        public static <R> Outcome<R> processed(R value) {
            return new Outcome<>(false, value);
        }

        public static <R> Outcome<R> skipped(R value) {
            return new Outcome<>(true, value);
        }
    }

    /**
     * Runs {@code job} on every item with {@code threads} workers.
     *
     * @return the non-null values of the items that did not fail, in the order of {@code items}
     */
    public static <T, R> List<R> run(List<T> items, int threads, Progress progress, Function<T, String> nameOf,
            Job<T, R> job) throws InterruptedException {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        progress.start(items.size());
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, Math.max(1, items.size())));
        try {
            List<Future<R>> futures = new ArrayList<>(items.size());
            for (T item : items) {
                futures.add(pool.submit(() -> runOne(item, progress, nameOf, job)));
            }
            List<R> values = new ArrayList<>();
            for (Future<R> future : futures) {
                R value = future.get();
                if (value != null) {
                    values.add(value);
                }
            }
            return values;
        } catch (ExecutionException e) {
            // Only Errors get here (runOne handles exceptions): out of memory and the like end the run.
            throw new IllegalStateException("preprocessing worker died: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }

    private static <T, R> R runOne(T item, Progress progress, Function<T, String> nameOf, Job<T, R> job) {
        Outcome<R> outcome;
        try {
            outcome = job.run(item);
        } catch (Exception e) {
            progress.failed(message(nameOf.apply(item), e));
            return null;
        }
        if (outcome.skipped()) {
            progress.skipped();
        } else {
            progress.processed();
        }
        return outcome.value();
    }

    private static String message(String name, Exception e) {
        String text = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return text.contains(name) ? text : name + ": " + text;
    }
}
