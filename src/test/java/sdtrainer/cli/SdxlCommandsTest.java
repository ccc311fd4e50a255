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
import sdtrainer.pipeline.StableDiffusionXL.SizeIds;
import sdtrainer.pipeline.StableDiffusionXL.TextConditioning;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** inspect, sample and merge-lora on the tiny SDXL fixture. */
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
        Path lora = randomLora(model, tmp.resolve("lora.safetensors"), false);
        String[] common = {"sample", "--model", model.toString(), "--prompt", "a red square", "--steps", "2",
            "--width", "32", "--height", "24", "--device", "cpu"};
        byte[] a = sample(tmp.resolve("a"), common);
        byte[] b = sample(tmp.resolve("b"), common);
        assertArrayEquals(a, b, "the same seed gives the same image");
        byte[] withLora = sample(tmp.resolve("c"), concat(common, "--lora", lora.toString()));
        assertFalse(Arrays.equals(a, withLora), "--lora changes the image");
    }

    /** A LoRA of the UNet (and with {@code encoders} both text encoders) whose up weights are random, not zero. */
    private static Path randomLora(Path model, Path file, boolean encoders) throws Exception {
        try (NDManager m = NDManager.newBaseManager(); StableDiffusionXL sd = StableDiffusionXL.load(model, m.getDevice())) {
            LoraNetwork net = SdxlNetworks.createLora(sd, 4, 4, 0, 0, false, encoders, m, 1);
            Noise noise = new Noise(2);
            Map<String, NDArray> params = new java.util.LinkedHashMap<>(net.unetParameters());
            params.putAll(net.teParameters());
            try (NoGrad ignored = new NoGrad()) {
                for (Map.Entry<String, NDArray> e : params.entrySet()) {
                    NDArray v = e.getValue();
                    if (e.getKey().endsWith("lora_up.weight")) v.set(noise.gaussian(m, v.getShape(), v.getDevice()).toFloatArray());
                }
            }
            net.save(file, Map.of(), DType.F32);
        }
        return file;
    }

    @Test
    void mergeLoraBakesAnSdxlLoraInAsApplyingItAtRuntimeDoes(@TempDir Path tmp) throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path lora = randomLora(model, tmp.resolve("lora.safetensors"), true);
        Path merged = tmp.resolve("merged");
        CommandRun r = CommandRun.of("merge-lora", "--model", model.toString(), "--lora", lora.toString(), "--scale", "0.5",
                "--output", merged.toString(), "--device", "cpu");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(Files.isDirectory(merged.resolve("text_encoder_2")) && Files.isDirectory(merged.resolve("tokenizer_2")));
        try (NDManager m = NDManager.newBaseManager();
             StableDiffusionXL base = StableDiffusionXL.load(model, m.getDevice());
             StableDiffusionXL runtime = StableDiffusionXL.load(model, m.getDevice());
             StableDiffusionXL baked = StableDiffusionXL.load(merged, m.getDevice());
             NoGrad ignored = new NoGrad()) {
            SdxlNetworks.load(lora, runtime, 0.5, runtime.manager()).attach();
            List<String> prompts = List.of("a red square", "1girl, solo");
            List<float[]> outputs = new java.util.ArrayList<>();
            for (StableDiffusionXL sd : List.of(base, runtime, baked)) {
                TextConditioning text = sd.encodePrompts(prompts, m);
                NDArray x = new Noise(3).gaussian(m, new Shape(2, 4, 8, 8), m.getDevice());
                NDArray t = m.create(new long[] {500, 20});
                NDArray ids = SizeIds.batch(List.of(SizeIds.uncropped(16, 16), new SizeIds(20, 12, 1, 2, 16, 16)), m);
                NDArray out = sd.unet().forward(x, t, text.context(), text.with(ids), null, null);
                outputs.add(concat(text.context().toFloatArray(), text.pooled().toFloatArray(), out.toFloatArray()));
            }
            assertTrue(maxDiff(outputs.get(0), outputs.get(1)) > 1e-2, "the LoRA changes encoders and UNet");
            float diff = maxDiff(outputs.get(1), outputs.get(2));
            assertTrue(diff < 1e-4, "merged = applied at runtime: max abs difference " + diff);
        }
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static float maxDiff(float[] a, float[] b) {
        float max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
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
