package sdtrainer.cli;

import sdtrainer.Fixtures;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.network.LoraMerge;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** merge-lora and sample --lora end to end on the tiny fixture. */
class MergeLoraCommandTest {
    private static final Path FIXTURE = Fixtures.TINY_SD15;

    @Test
    void mergeLoraWritesTheMergedModelAndSampleAppliesTheFile(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        Path lora = tmp.resolve("net.safetensors");
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network net = NetworkFactory.create(sd, "lora", 2, 1, 0, false, true, pm, 1);
            Noise n = new Noise(4);
            try (NoGrad ignored = new NoGrad()) {
                for (Map.Entry<String, NDArray> e : net.unetParameters().entrySet()) {
                    if (e.getKey().contains("lora_up")) e.getValue().set(new NDIndex("..."), n.gaussian(pm, e.getValue().getShape(), pm.getDevice()));
                }
            }
            net.save(lora, Map.of(), DType.F32);
        }
        CommandRun r = CommandRun.of("merge-lora", "--model", FIXTURE.toString(), "--lora", lora.toString(), "--scale", "0.5",
                "--output", tmp.resolve("merged").toString(), "--device", "cpu");
        assertEquals(0, r.exitCode(), r.err());
        try (StableDiffusion merged = StableDiffusion.load(tmp.resolve("merged"), Device.cpu());
             StableDiffusion expected = StableDiffusion.load(FIXTURE, Device.cpu())) {
            LoraMerge.merge(expected, lora, 0.5);
            String key = "up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v.weight";
            float[] want = expected.unet().namedParameters().get(key).get().toFloatArray();
            assertArrayEquals(want, merged.unet().namedParameters().get(key).get().toFloatArray());
            try (StableDiffusion base = StableDiffusion.load(FIXTURE, Device.cpu())) {
                assertFalse(java.util.Arrays.equals(want, base.unet().namedParameters().get(key).get().toFloatArray()));
            }
        }

        String[] sample = {"sample", "--model", FIXTURE.toString(), "--prompt", "a cat", "--steps", "2", "--width", "32",
            "--height", "32", "--device", "cpu"};
        CommandRun plain = CommandRun.of(concat(sample, "--output", tmp.resolve("plain").toString()));
        CommandRun withLora = CommandRun.of(concat(sample, "--output", tmp.resolve("lora").toString(), "--lora", lora.toString()));
        assertEquals(0, plain.exitCode(), plain.err());
        assertEquals(0, withLora.exitCode(), withLora.err());
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("plain").resolve("sample_4545_0.png")),
                Files.readAllBytes(tmp.resolve("lora").resolve("sample_4545_0.png"))), "the LoRA changes the image");

        CommandRun missing = CommandRun.of("merge-lora", "--model", FIXTURE.toString(), "--lora", tmp.resolve("nope").toString(),
                "--output", tmp.resolve("x").toString());
        assertEquals(2, missing.exitCode());
        assertEquals("sd-trainer merge-lora: --lora " + tmp.resolve("nope") + ": no such file; give the LoRA or EH file "
                + "(.safetensors)\n", missing.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
