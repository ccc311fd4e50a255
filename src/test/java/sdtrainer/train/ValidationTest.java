package sdtrainer.train;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.log.Report;
import sdtrainer.pipeline.StableDiffusion;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** --validation_split / --validation_dataset: which samples are held out, and a loss comparable between evaluations. */
class ValidationTest {

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(TrainerTest.FIXTURE), "fixture absent");
    }

    private static TrainingData open(TrainConfig cfg, Path dir) throws IOException {
        return new SimpleDataset(dir, cfg.resolution().width(), cfg.resolution().height());
    }

    /** Trains with the config's validation; returns the val_loss rows of metrics.jsonl. */
    private static List<JsonNode> train(TrainConfig cfg) throws Exception {
        try (StableDiffusion sd = StableDiffusion.load(TrainerTest.FIXTURE, Device.cpu())) {
            TrainerTest.train(cfg, sd);
        }
        List<JsonNode> rows = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(cfg.output().orElseThrow().resolve("metrics.jsonl"))) {
            JsonNode row = json.readTree(line);
            if (row.has("val_loss")) rows.add(row);
        }
        return rows;
    }

    private static List<Double> losses(List<JsonNode> rows) {
        return rows.stream().map(r -> r.get("val_loss").asDouble()).toList();
    }

    @Test
    void aSplitHoldsOutKohyasShareSeededAndOutOfTraining(@TempDir Path tmp) throws IOException {
        List<String> keys = IntStream.range(0, 10).mapToObj(i -> "k" + i).toList();
        List<String> held = HeldOut.split(keys, 0.2, 7);
        assertEquals(2, held.size(), "10 - ceil(10 * 0.8)");
        assertEquals(held, HeldOut.split(keys, 0.2, 7), "the same seed holds out the same samples");
        assertEquals(1, HeldOut.split(keys, 0.15, 7).size(), "10 - ceil(8.5)");
        assertEquals(0, HeldOut.split(keys, 0.05, 7).size(), "10 - ceil(9.5)");

        Path dataset = TrainerTest.simpleDataset(tmp.resolve("ds"), 4);
        TrainConfig cfg = TrainerTest.config(dataset, tmp, Map.of("validation_split", 0.5));
        TrainingData data = open(cfg, dataset);
        HeldOut heldOut = HeldOut.of(cfg, data, 42, dir -> open(cfg, dir)).orElseThrow();
        assertEquals(2, heldOut.keys().size());
        assertEquals(2, data.size());
        Set<String> trained = new HashSet<>();
        data.epoch(new java.util.Random(0), 1).forEach(trained::addAll);
        heldOut.keys().forEach(k -> assertFalse(trained.contains(k), k + " is held out, yet in the training order"));
        assertEquals(heldOut.keys().get(0), data.load(heldOut.keys().get(0)).stem(), "held-out samples stay loadable");

        TrainConfig tiny = TrainerTest.config(dataset, tmp, Map.of("validation_split", 0.1));
        IOException e = assertThrows(IOException.class, () -> HeldOut.of(tiny, open(tiny, dataset), 42, dir -> null));
        assertTrue(e.getMessage().startsWith("--validation_split 0.1 of 4 sample(s) in " + dataset + " holds out 0"), e.getMessage());
    }

    @Test
    void timestepsAreKohyasSpreadOverTheStepRange() {
        assertArrayEquals(new long[] {10, 350, 500, 650, 990}, Validation.timesteps(new TimestepRange(0, 1000)));
        assertArrayEquals(new long[] {505, 675, 750, 825, 995}, Validation.timesteps(new TimestepRange(500, 1000)));
        assertArrayEquals(new long[] {0, 4, 5, 7, 9}, Validation.timesteps(new TimestepRange(0, 10)));
    }

    @Test
    void theLossIsFixedWhileTheWeightsAreAndMovesWhenTheyLearn(@TempDir Path tmp) throws Exception {
        Path dataset = TrainerTest.simpleDataset(tmp.resolve("ds"), 4);
        Map<String, Object> base = Map.of("validation_split", 0.5, "epochs", 2, "save_n_epochs", 2);
        List<Double> frozen = losses(train(TrainerTest.config(dataset, tmp.resolve("frozen"), with(base, "lr", "0"))));
        assertEquals(2, frozen.size(), "one evaluation per epoch");
        assertTrue(Double.isFinite(frozen.get(0)) && frozen.get(0) > 0, frozen.toString());
        assertEquals(frozen.get(0), frozen.get(1), "same weights, same noise and timesteps: the same loss");

        List<JsonNode> rows = train(TrainerTest.config(dataset, tmp.resolve("learning"), with(base, "lr", "3e-3")));
        List<Double> learning = losses(rows);
        assertEquals(List.of(1L, 2L), rows.stream().map(r -> r.get("step").asLong()).toList(), "after each epoch's step");
        assertEquals(List.of(2, 2), rows.stream().map(r -> r.get("val_samples").asInt()).toList());
        assertNotEquals(frozen.get(0), learning.get(0), "one update changes the loss on the held-out samples");
        assertNotEquals(learning.get(0), learning.get(1));
        assertEquals(learning, losses(train(TrainerTest.config(dataset, tmp.resolve("again"), with(base, "lr", "3e-3")))),
                "the same seed gives the same validation losses");
        String html = Files.readString(tmp.resolve("learning/model").resolve(Report.FILE_NAME));
        assertTrue(html.contains("<h2>Validation loss</h2>"), "report.html draws the curve");
    }

    @Test
    void everyNStepsAddsPointsAndAValidationFolderIsUsedWhole(@TempDir Path tmp) throws Exception {
        Path dataset = TrainerTest.simpleDataset(tmp.resolve("ds"), 4);
        Path other = TrainerTest.simpleDataset(tmp.resolve("val"), 3);
        TrainConfig cfg = TrainerTest.config(dataset, tmp.resolve("out"), Map.of("validation_dataset", other.toString(),
                "batch_size", 1, "validate_every_n_steps", 3, "max_validation_steps", 2));
        List<JsonNode> rows = train(cfg);
        // 4 steps in the one epoch: step 3 by the step interval, step 4 at the epoch's end
        assertEquals(List.of(3L, 4L), rows.stream().map(r -> r.get("step").asLong()).toList());
        assertEquals(3, rows.get(0).get("val_samples").asInt(), "every sample of the folder is held out");
    }

    @Test
    void aResumeMustHoldOutTheSameSamples(@TempDir Path tmp) throws Exception {
        Path dataset = TrainerTest.simpleDataset(tmp.resolve("ds"), 2);
        Path valA = TrainerTest.simpleDataset(tmp.resolve("a"), 2), valB = TrainerTest.simpleDataset(tmp.resolve("b"), 3);
        Map<String, Object> opts = Map.of("validation_dataset", valA.toString(), "save_state", true);
        train(TrainerTest.config(dataset, tmp.resolve("out"), opts));
        Path state = SavePoints.stateDir(tmp.resolve("out/model"));
        TrainingState.Loaded saved = TrainingState.read(state);
        assertTrue(Double.isFinite(saved.state().valLoss()), "the state keeps the last validation loss");
        assertEquals(2, saved.state().fingerprint().validation().size());

        Map<String, Object> resume = with(with(opts, "resume", state.toString()), "epochs", 2);
        TrainingState.StateMismatchException e = assertThrows(TrainingState.StateMismatchException.class,
                () -> train(TrainerTest.config(dataset, tmp.resolve("out"), with(resume, "validation_dataset", valB.toString()))));
        assertTrue(e.getMessage().contains("the held-out validation samples differ from the state's (2 there, 3 here)"),
                e.getMessage());
        assertEquals(2, train(TrainerTest.config(dataset, tmp.resolve("out"), resume)).size(), "the same held-out samples resume");
    }

    private static Map<String, Object> with(Map<String, Object> base, String key, Object value) {
        Map<String, Object> m = new java.util.HashMap<>(base);
        m.put(key, value);
        return m;
    }
}
