package sdtrainer.train;

import sdtrainer.config.TrainConfig;
import sdtrainer.data.CaptionRecipe;
import sdtrainer.data.Sample;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validation loss: the training objective on the held-out samples at kohya's fixed timesteps (10, 350, 500,
 * 650 and 990 of 1000, spread over --step_range), each sample with its own noise drawn once from the validation
 * seed, so that two evaluations differ only by what the weights learnt. Captions get the recipe's prefix and
 * suffix but no shuffling or dropout; the noise recipe (offset, pyramid, perturbation) is left out.
 */
final class Validation {
    static final long[] KOHYA_TIMESTEPS = {10, 350, 500, 650, 990};
    /** Validation draws live in their own pass number, apart from every training pass. */
    private static final int PASS = -2;

    private final HeldOut heldOut;
    private final RunRandom random;
    private final CaptionRecipe captions;
    private final long[] timesteps;
    private final int batchSize, maxBatches, everyEpochs, everySteps;
    private List<List<Integer>> batches;

    private Validation(HeldOut heldOut, RunRandom random, CaptionRecipe captions, long[] timesteps, int batchSize,
                       int maxBatches, int everyEpochs, int everySteps) {
        this.heldOut = heldOut;
        this.random = random;
        this.captions = captions;
        this.timesteps = timesteps;
        this.batchSize = batchSize;
        this.maxBatches = maxBatches;
        this.everyEpochs = everyEpochs;
        this.everySteps = everySteps;
    }

    /** The run's validation, or null without held-out samples. */
    static Validation of(TrainConfig cfg, HeldOut heldOut, long seed, CaptionRecipe recipe, TimestepRange range) {
        if (heldOut == null) return null;
        return new Validation(heldOut, new RunRandom(cfg.validationSeed().orElse(seed)), recipe.framingOnly(),
                timesteps(range), cfg.batchSize(), cfg.maxValidationSteps().orElse(Integer.MAX_VALUE),
                cfg.validateEveryNEpochs(), cfg.validateEveryNSteps().orElse(0));
    }

    /** kohya's timesteps of a 1000-step schedule, placed at the same fractions of [lo, hi). */
    static long[] timesteps(TimestepRange range) {
        return Arrays.stream(KOHYA_TIMESTEPS).map(t -> Math.min(range.hi() - 1,
                range.lo() + Math.round(t * (double) (range.hi() - range.lo()) / 1000.0))).toArray();
    }

    String describe() {
        return String.format(java.util.Locale.ROOT, "validation loss on %d held-out sample(s) at timesteps %s, %s",
                heldOut.keys().size(), Arrays.toString(timesteps), (everySteps > 0 ? "every " + everySteps + " steps and " : "")
                        + "every " + everyEpochs + " epoch(s)");
    }

    /** Whether the step just done is a validation point: every N steps, or the end of every Nth epoch. */
    boolean due(TrainingState state, TrainingPlan plan) {
        if (everySteps > 0 && state.step() % everySteps == 0) return true;
        return state.atPassStart() && plan.epochsAfter(state.next().pass()) % everyEpochs == 0;
    }

    /** Computes the loss, logs it and returns the state that holds it. */
    TrainingState run(TrainingState state, TrainStep step, StepLog log, TrainingPlan plan) throws IOException {
        double loss = evaluate(step);
        log.validation(state.step(), plan.epochsAfter(state.next().pass()), loss, heldOut.keys().size());
        return state.withValLoss(loss);
    }

    /** The mean loss over the held-out samples (up to --max_validation_steps batches) and the fixed timesteps. */
    double evaluate(TrainStep step) throws IOException {
        double sum = 0;
        int count = 0;
        if (batches == null) batches = batches();
        for (List<Integer> batch : batches) {
            List<Sample> samples = new ArrayList<>();
            List<RunRandom.SampleKey> keys = new ArrayList<>();
            for (int i : batch) {
                samples.add(heldOut.source().load(heldOut.keys().get(i)));
                keys.add(new RunRandom.SampleKey(PASS, i, 0));
            }
            BatchDraws draws = new BatchDraws(random, keys, 1);
            List<String> text = samples.stream().map(s -> captions.apply(s.caption(), null)).toList();
            for (long t : timesteps) {
                sum += step.evaluate(samples, draws, text, t) * samples.size();
                count += samples.size();
            }
        }
        return sum / count;
    }

    /** Held-out indices in batches of equal sample shape (buckets), in key order, capped at --max_validation_steps. */
    private List<List<Integer>> batches() {
        Map<String, List<Integer>> byShape = new LinkedHashMap<>();
        for (int i = 0; i < heldOut.keys().size(); i++) {
            long[] shape = heldOut.source().shape(heldOut.keys().get(i));
            byShape.computeIfAbsent(Arrays.toString(shape), k -> new ArrayList<>()).add(i);
        }
        List<List<Integer>> out = new ArrayList<>();
        for (List<Integer> same : byShape.values()) {
            for (int from = 0; from < same.size() && out.size() < maxBatches; from += batchSize) {
                out.add(same.subList(from, Math.min(same.size(), from + batchSize)));
            }
        }
        return out;
    }
}
