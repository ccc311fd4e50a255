package sdtrainer.train;

import sdtrainer.data.Prefetcher;
import sdtrainer.data.TrainingData;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * The optimizer steps' data, pass after pass from a given position: each pass in the order its seeded generator
 * draws, loaded ahead on the loader threads, split into micro-batches.
 */
final class BatchSource implements AutoCloseable {
    private final TrainingData data;
    private final TrainingPlan plan;
    private final RunRandom random;
    private final ExecutorService loaders;
    private int pass;
    private int index;
    private List<List<String>> order;
    private Prefetcher loader;

    BatchSource(TrainingData data, TrainingPlan plan, RunRandom random, TrainingState.Position from, ExecutorService loaders) {
        this.data = data;
        this.plan = plan;
        this.random = random;
        this.loaders = loaders;
        this.pass = from.pass();
        this.index = from.batch();
    }

    boolean hasNext() {
        return pass < plan.passes();
    }

    /** Where the next step starts. */
    TrainingState.Position position() {
        return new TrainingState.Position(pass, index);
    }

    /** The batches of the current pass, as keys. */
    List<List<String>> order() {
        if (order == null) order = data.epoch(random.order(pass), plan.samplesPerStep());
        return order;
    }

    StepBatch next() throws IOException, InterruptedException {
        if (loader == null) {
            List<List<String>> batches = order();
            loader = new Prefetcher(data, batches.subList(index, batches.size()), 4, loaders);
        }
        StepBatch batch = StepBatch.split(pass, index, loader.next(), plan.microBatch());
        if (++index == order.size()) {
            loader.close();
            loader = null;
            order = null;
            index = 0;
            pass++;
        }
        return batch;
    }

    @Override
    public void close() {
        if (loader != null) loader.close();
    }
}
