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
 */
public final class Prefetcher implements AutoCloseable {
    private final ExecutorService pool;
    private final BlockingQueue<Future<List<Sample>>> ahead;
    private final TrainingData data;
    private final List<List<String>> batches;
    private int next;

    public Prefetcher(TrainingData data, List<List<String>> batches, int depth, int threads) {
        this.data = data;
        this.batches = batches;
        this.pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "data-loader");
            t.setDaemon(true);
            return t;
        });
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

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
