package sdtrainer.train;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.pipeline.StableDiffusion;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static sdtrainer.train.TrainerTest.*;

/**
 * --amp's half-precision path, forced on CPU. Its own class (so its own JVM): the half-precision kernels run
 * here and nowhere near the float32 training tests.
 */
class AmpTrainingTest {
    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
    }

    @Test
    void ampRunsFrozenPartsInHalfAndStillTrainsTheFloat32Network(@TempDir Path tmp) throws Exception {
        Path ds = simpleDataset(tmp.resolve("ds"), 4);
        TrainConfig cfg = config(ds, tmp, Map.of("lora", 4, "lr", "1e-3", "amp", true));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            var net = sdtrainer.network.NetworkFactory.create(sd, "lora", 4, 1.0, 4, false, false, sd.manager(), 42);
            net.attach();
            Map<String, float[]> before = new LinkedHashMap<>();
            net.unetParameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
            TrainingData data = new SimpleDataset(ds, 32, 32);
            Trainer t = new Trainer(cfg, sd, data, net, new PrintStream(new ByteArrayOutputStream()), false);
            t.setSampleSteps(2);
            t.forceHalfPrecisionFrozenParts();
            t.run();
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, sd.unet().dataType());
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, sd.vae().dataType());
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, sd.textEncoder().dataType());
            var weights = net.unetParameters().entrySet().stream().filter(e -> !e.getKey().endsWith(".alpha")).toList();
            assertTrue(weights.stream().allMatch(e -> e.getValue().getDataType() == ai.djl.ndarray.types.DataType.FLOAT32));
            long changed = weights.stream()
                    .filter(e -> !java.util.Arrays.equals(before.get(e.getKey()), e.getValue().toFloatArray())).count();
            assertEquals(weights.size(), changed, "every LoRA up/down tensor received gradients");
        }
        for (double loss : losses(tmp.resolve("model/metrics.jsonl"))) assertTrue(Double.isFinite(loss) && loss > 0, "loss " + loss);
        assertTrue(Files.isRegularFile(tmp.resolve("images/image_log_epoch_001_0.png")));
    }

    @Test
    void ampFullFineTuneKeepsTheTrainedUnetInFloat32(@TempDir Path tmp) throws Exception {
        Path ds = simpleDataset(tmp.resolve("ds"), 2);
        TrainConfig cfg = config(ds, tmp, Map.of("amp", true));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Map<String, float[]> before = snapshot(sd.unet());
            Trainer t = new Trainer(cfg, sd, new SimpleDataset(ds, 32, 32), null, new PrintStream(new ByteArrayOutputStream()), false);
            t.setSampleSteps(2);
            t.forceHalfPrecisionFrozenParts();
            t.run();
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, sd.unet().dataType());
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, sd.vae().dataType());
            assertFalse(java.util.Arrays.equals(before.get("conv_in.weight"), snapshot(sd.unet()).get("conv_in.weight")));
        }
    }
}
