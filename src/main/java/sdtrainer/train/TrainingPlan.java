package sdtrainer.train;

import sdtrainer.config.TrainConfig;
import sdtrainer.data.TrainingData;

import java.util.Locale;
import java.util.Random;

/**
 * How a run is laid out, fixed before step 1: samples per micro-batch (batch_size / minibatch_repeat), micro-batches
 * per optimizer step (gradient accumulation), optimizer steps per pass over the data, passes (epochs / repeat:
 * each pass shows every sample {@code repeat} times), the lr warm-up, and which passes end at a save point.
 */
public record TrainingPlan(int microBatch, int accumulation, int repeat, int stepsPerPass, int passes,
                           int warmupSteps, int saveNEpochs) {

    public static TrainingPlan of(TrainConfig cfg, TrainingData data) {
        int repeat = cfg.minibatchRepeat();
        int micro = cfg.batchSize() / repeat;
        int accumulation = cfg.gradientAccumulationSteps();
        // the number of batches a pass yields depends on bucket sizes only, not on the order
        int stepsPerPass = data.epoch(new Random(0), micro * accumulation).size();
        int passes = Math.max(1, cfg.epochs() / repeat);
        long total = (long) passes * stepsPerPass;
        int warmup = (int) Math.round(0.05 * total);
        return new TrainingPlan(micro, accumulation, repeat, stepsPerPass, passes, warmup, cfg.saveNEpochs());
    }

    /** Distinct samples per optimizer step (before --minibatch_repeat copies them). */
    public int samplesPerStep() {
        return microBatch * accumulation;
    }

    public long totalSteps() {
        return (long) passes * stepsPerPass;
    }

    public int totalEpochs() {
        return passes * repeat;
    }

    /** Epochs completed after {@code passesDone} whole passes. */
    public int epochsAfter(int passesDone) {
        return passesDone * repeat;
    }

    /** Whether the end of pass {@code pass} (0-based) is a save point before the last pass: an epoch it completes is a multiple of save_n_epochs. */
    public boolean savesAfter(int pass) {
        if (pass >= passes - 1) return false;
        for (int e = pass * repeat + 1; e <= (pass + 1) * repeat; e++) if (e % saveNEpochs == 0) return true;
        return false;
    }

    public LrSchedule schedule(String kind) {
        return LrSchedule.of(kind, warmupSteps, (int) totalSteps());
    }

    public String describe(int samples) {
        return String.format(Locale.ROOT, "%d samples, %d steps per pass of %d x %d micro-batch samples (x%d repeat), "
                        + "%d passes = %d epochs, %d steps, %d warm-up", samples, stepsPerPass, accumulation, microBatch,
                repeat, passes, totalEpochs(), totalSteps(), warmupSteps);
    }
}
