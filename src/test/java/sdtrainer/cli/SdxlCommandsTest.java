package sdtrainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.DType;
import sdtrainer.network.LoraNetwork;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusionXL;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** inspect and sample on the tiny SDXL fixture. */
class SdxlCommandsTest {

    @Test
    void inspectReportsTheSdxlFamilyAndBothEncoders() {
        Path model = Fixtures.require("tiny-sdxl");
        CommandRun r = CommandRun.of("inspect", "--model", model.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("SDXL, epsilon prediction"), r.out());
        assertTrue(r.out().contains("text_encoder_2") && r.out().contains("2,427,192"), r.out());
        assertTrue(r.out().contains("5,611,460"), r.out());
    }

    @Test
    void sampleIsRepeatableAndALoraChangesIt(@TempDir Path tmp) throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path lora = tmp.resolve("lora.safetensors");
        try (NDManager m = NDManager.newBaseManager(); StableDiffusionXL sd = StableDiffusionXL.load(model, m.getDevice())) {
            LoraNetwork net = SdxlNetworks.createLora(sd, 4, 4, false, false, m, 1);
            Noise noise = new Noise(2);
            try (NoGrad ignored = new NoGrad()) {
                for (Map.Entry<String, NDArray> e : net.unetParameters().entrySet()) {
                    NDArray v = e.getValue();
                    if (e.getKey().endsWith("lora_up.weight")) v.set(noise.gaussian(m, v.getShape(), v.getDevice()).toFloatArray());
                }
            }
            net.save(lora, Map.of(), DType.F32);
        }
        String[] common = {"sample", "--model", model.toString(), "--prompt", "a red square", "--steps", "2",
            "--width", "32", "--height", "24", "--device", "cpu"};
        byte[] a = sample(tmp.resolve("a"), common);
        byte[] b = sample(tmp.resolve("b"), common);
        assertArrayEquals(a, b, "the same seed gives the same image");
        byte[] withLora = sample(tmp.resolve("c"), concat(common, "--lora", lora.toString()));
        assertFalse(Arrays.equals(a, withLora), "--lora changes the image");
    }

    private static byte[] sample(Path out, String... args) throws Exception {
        CommandRun r = CommandRun.of(concat(args, "--output", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("sample_4545_0.png");
        assertTrue(r.out().contains(png.toString()), r.out());
        return Files.readAllBytes(png);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
