package sdtrainer.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A full fine-tune that starts from a single file and saves one, which loads back and trains on. */
class SingleFileTrainingTest {
    @TempDir
    Path dir;

    private CommandRun train(Path model, Path out, String precision) throws IOException {
        Path data = sdtrainer.train.TrainerTest.simpleDataset(dir.resolve("images"), 2);
        return CommandRun.of("--model", model.toString(), "--model_config", Fixtures.TINY_SD15.toString(),
                "--save_format", "single_file", "--save_precision", precision, "--dataset", data.toString(),
                "--output", out.toString(), "--image_log", dir.resolve("log").toString(), "--resolution", "32",
                "--batch_size", "2", "--epochs", "1", "--lr", "1e-3", "--seed", "1", "--device", "cpu");
    }

    @Test
    void aFullFineTuneFromASingleFileWritesTheSameLayoutWhichTrainsOn() throws IOException {
        Path input = Fixtures.require("single-file", "tiny-sd15.safetensors");
        CommandRun first = train(input, dir.resolve("run1"), "fp32");
        assertEquals(0, first.exitCode(), first.err());
        Path saved = dir.resolve("run1.safetensors");
        try (SafeTensors in = SafeTensors.open(input); SafeTensors out = SafeTensors.open(saved)) {
            Set<String> weights = new TreeSet<>(in.names());
            weights.removeIf(n -> !n.contains(".") || n.startsWith("model_ema.") || n.endsWith("position_ids"));
            assertEquals(weights, out.names());
            for (String n : weights) {
                assertArrayEquals(in.info(n).shape(), out.info(n).shape(), n);
                assertEquals("F32", out.info(n).dtype(), n);
            }
            String w = "model.diffusion_model.input_blocks.0.0.weight";
            assertFalse(Arrays.equals(in.readFloats(w), out.readFloats(w)), "the UNet was trained");
            String te = "cond_stage_model.transformer.text_model.final_layer_norm.weight";
            assertArrayEquals(in.readFloats(te), out.readFloats(te), "the text encoder was not trained");
        }

        CommandRun second = train(saved, dir.resolve("run2"), "fp16");
        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("sd-trainer: done: 1 steps, 1 epochs"), second.err());
        try (SafeTensors out = SafeTensors.open(dir.resolve("run2.safetensors"))) {
            assertEquals("F16", out.info("model.diffusion_model.out.2.weight").dtype());
        }
    }
}
