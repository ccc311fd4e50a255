package sdtrainer.train;

import org.junit.jupiter.api.Test;
import sdtrainer.data.Sample;
import sdtrainer.data.TrainingData;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The layout of a run: steps per pass with accumulation and repeat, epochs, save points; micro-batch splits. */
class TrainingPlanTest {

    /** Ten keys in one bucket. */
    private static TrainingData keys(int n) {
        List<String> all = new ArrayList<>();
        for (int i = 0; i < n; i++) all.add("k" + i);
        return new TrainingData() {
            public List<List<String>> epoch(Random random, int size) { return TrainingData.chunk(all, size); }
            public Sample load(String key) { throw new UnsupportedOperationException(); }
            public List<String> problems() { return List.of(); }
            public int dropBad() { return 0; }
            public int size() { return n; }
            public List<String> keys() { return all; }
            public long[] shape(String key) { return new long[] {4, 8, 8}; }
            public void exclude(java.util.Collection<String> keys) { throw new UnsupportedOperationException(); }
            public List<String> captions() { return List.of(); }
            public List<String> warnings() { return List.of(); }
        };
    }

    @Test
    void accumulationAndRepeatShapeThePlan() {
        var cfg = TrainerTest.config(java.nio.file.Path.of("ds"), java.nio.file.Path.of("out"), Map.of("batch_size", 4,
                "minibatch_repeat", 2, "gradient_accumulation_steps", 3, "epochs", 6, "save_n_epochs", 4));
        TrainingPlan plan = TrainingPlan.of(cfg, keys(10));
        assertEquals(2, plan.microBatch());
        assertEquals(6, plan.samplesPerStep());
        assertEquals(2, plan.stepsPerPass(), "10 samples in steps of 6: 6 + 4");
        assertEquals(3, plan.passes(), "6 epochs at repeat 2");
        assertEquals(6, plan.totalSteps());
        assertEquals(6, plan.totalEpochs());
        assertEquals(4, plan.epochsAfter(2));
        assertFalse(plan.savesAfter(0), "epochs 1-2");
        assertTrue(plan.savesAfter(1), "epochs 3-4 hold 4");
        assertFalse(plan.savesAfter(2), "the last pass saves at the end of the run");
    }

    @Test
    void warmupIsFivePercentUnlessLrWarmupStepsSaysOtherwise() {
        java.nio.file.Path ds = java.nio.file.Path.of("ds"), out = java.nio.file.Path.of("out");
        // 40 samples at batch 1, 5 epochs: 200 steps
        Map<String, Object> base = Map.of("batch_size", 1, "epochs", 5);
        assertEquals(10, TrainingPlan.of(TrainerTest.config(ds, out, base), keys(40)).warmupSteps());
        Map<String, Object> steps = new java.util.HashMap<>(base);
        steps.put("lr_warmup_steps", "7");
        assertEquals(7, TrainingPlan.of(TrainerTest.config(ds, out, steps), keys(40)).warmupSteps());
        steps.put("lr_warmup_steps", "0.125");
        assertEquals(25, TrainingPlan.of(TrainerTest.config(ds, out, steps), keys(40)).warmupSteps());
        steps.put("lr_warmup_steps", "3%");
        assertEquals(6, TrainingPlan.of(TrainerTest.config(ds, out, steps), keys(40)).warmupSteps(), "int(0.03 * 200)");
        steps.put("lr_scheduler", "polynomial");
        steps.put("lr_scheduler_power", 2.0);
        steps.put("lr", "1e-5,2e-4");
        LrSchedule s = TrainingPlan.of(TrainerTest.config(ds, out, steps), keys(40)).schedule(TrainerTest.config(ds, out, steps));
        assertEquals(LrSchedule.Kind.POLYNOMIAL, s.kind());
        assertEquals(2.0, s.power());
        assertEquals(2e-4, s.lrInit(), "decays from the UNet's lr, kohya's learning_rate");
        assertEquals(200, s.totalSteps());
    }

    @Test
    void aStepSplitsIntoMicroBatchesWeightedBySize() {
        List<Sample> five = new ArrayList<>();
        for (int i = 0; i < 5; i++) five.add(new Sample("s" + i, "c", new float[1], null, null, new long[] {1, 1, 1}));
        StepBatch b = StepBatch.split(3, 7, five, 2);
        assertEquals(3, b.micro().size());
        assertEquals(List.of(0.4, 0.4, 0.2), b.micro().stream().map(StepBatch.Micro::weight).toList());
        assertEquals(new RunRandom.SampleKey(3, 7, 4), b.micro().get(2).keys().get(0));
        assertEquals(five, b.samples());
    }

    @Test
    void aSampleDrawsTheSameNumbersInAnyMicroBatch() {
        RunRandom r = new RunRandom(11);
        List<RunRandom.SampleKey> keys = List.of(new RunRandom.SampleKey(0, 0, 0), new RunRandom.SampleKey(0, 0, 1));
        TimestepRange range = new TimestepRange(0, 1000);
        long[] together = new BatchDraws(r, keys, 2).timesteps(range);
        long[] first = new BatchDraws(r, keys.subList(0, 1), 2).timesteps(range);
        long[] second = new BatchDraws(r, keys.subList(1, 2), 2).timesteps(range);
        // rows of a repeated batch: [s0 copy0, s1 copy0, s0 copy1, s1 copy1]
        assertArrayEquals(new long[] {first[0], second[0], first[1], second[1]}, together);
        assertNotEquals(first[0], first[1], "repeat copies draw their own timesteps");
        assertNotEquals(new BatchDraws(new RunRandom(12), keys, 1).timesteps(range)[0], together[0]);
    }
}
