package sdtrainer.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Loads the minibatches of an epoch on background threads, a few ahead of the training step. Loading produces
 * plain Java arrays only, so the loader threads never touch the engine (or its per-thread grad mode).
 * The thread pool is the caller's and lives for the whole run: new threads every epoch would each bring
 * their own native allocator arena and make the process grow.
 */
public final class Prefetcher implements AutoCloseable {
    private final ExecutorService pool;
    private final BlockingQueue<Future<List<Sample>>> ahead;
    private final TrainingData data;
    private final List<List<String>> batches;
    private int next;

    /** A pool of daemon loader threads for {@link Prefetcher}s. */
    public static ExecutorService loaderPool(int threads) {
        return Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "data-loader");
            t.setDaemon(true);
            return t;
        });
    }

    public Prefetcher(TrainingData data, List<List<String>> batches, int depth, ExecutorService pool) {
        this.data = data;
        this.batches = batches;
        this.pool = pool;
        this.ahead = new ArrayBlockingQueue<>(Math.max(1, depth));
        while (next < batches.size() && ahead.remainingCapacity() > 0) submit();
    }

    private void submit() {
        List<String> keys = batches.get(next++);
        ahead.add(pool.submit(() -> {
            List<Sample> out = new ArrayList<>(keys.size());
            for (String k : keys) out.add(data.load(k));
            return out;
        }));
    }

    public boolean hasNext() {
        return !ahead.isEmpty();
    }

    /** The next minibatch, waiting for it if needed; a load failure surfaces here with its file name. */
    public List<Sample> next() throws IOException, InterruptedException {
        Future<List<Sample>> f = ahead.remove();
        if (next < batches.size()) submit();
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException(e.getCause());
        }
    }

    /** Drops the minibatches still queued (on a stop request); the pool stays with its owner. */
    @Override
    public void close() {
        ahead.forEach(f -> f.cancel(true));
        ahead.clear();
    }
}
