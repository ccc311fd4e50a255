package sdtrainer.train;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every optimizer trains the tiny fixture: with the same seed every run draws the same noise and timesteps, so
 * the losses of a run at lr 0 are the baseline the same steps are compared with.
 */
class OptimizerTrainingTest {

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(TrainerTest.FIXTURE), "fixture absent");
    }

    private static List<Double> losses(Path tmp, String name, Map<String, Object> options) throws Exception {
        Path ds = tmp.resolve("ds");
        if (!Files.isDirectory(ds)) TrainerTest.simpleDataset(ds, 4);
        Map<String, Object> o = new HashMap<>(Map.of("epochs", 3));
        o.putAll(options);
        try (StableDiffusion sd = StableDiffusion.load(TrainerTest.FIXTURE, ai.djl.Device.cpu())) {
            TrainerTest.train(TrainerTest.config(ds, tmp.resolve(name), o), sd);
        }
        return TrainerTest.losses(tmp.resolve(name).resolve("model").resolve("metrics.jsonl"));
    }

    /** Mean of the second half of the run. */
    private static double late(List<Double> losses) {
        return losses.subList(losses.size() / 2, losses.size()).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    @Test
    void everyOptimizerLowersTheLossBelowTheUntrainedRun(@TempDir Path tmp) throws Exception {
        List<Double> untrained = losses(tmp, "lr0", Map.of("lr", "0"));
        String[][] runs = {{"adamw", "1e-3", ""}, {"adamw8bit", "1e-3", "min_8bit_size=0"}, {"lion", "1e-4", ""},
                {"lion8bit", "1e-4", "min_8bit_size=0"}, {"prodigy", "1", "d0=1e-4"}, {"adafactor", "1", ""},
                {"sgd", "0.5", "momentum=0.9"}};
        for (String[] r : runs) {
            List<Double> trained = losses(tmp, r[0], Map.of("optimizer", r[0], "lr", r[1], "optimizer_args", r[2]));
            assertEquals(untrained.size(), trained.size());
            assertEquals(untrained.get(0), trained.get(0), r[0] + ": the first step sees the same draws before any update");
            assertTrue(late(trained) < 0.97 * late(untrained), r[0] + ": " + trained + " vs " + untrained);
        }
    }

    /** 8-bit moments: the loss curve stays within a few per cent of float32 AdamW's, step by step. */
    @Test
    void adamW8bitFollowsAdamW(@TempDir Path tmp) throws Exception {
        List<Double> fp32 = losses(tmp, "adamw", Map.of("lr", "1e-3"));
        List<Double> q8 = losses(tmp, "adamw8bit", Map.of("lr", "1e-3", "optimizer", "adamw8bit",
                "optimizer_args", "min_8bit_size=0"));
        for (int i = 0; i < fp32.size(); i++) {
            assertEquals(fp32.get(i), q8.get(i), 0.03 * fp32.get(i), "step " + (i + 1) + ": " + q8 + " vs " + fp32);
        }
        assertTrue(!fp32.equals(q8), "the 8-bit run is a different run");
    }
}
