package sdtrainer.pipeline;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.nn.StateDict;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Save / load round trips, inspect, and reproducible sampling on the tiny fixture. */
class StableDiffusionIoTest {
    private static final Path FIXTURE = Fixtures.TINY_SD15;
    private static NDManager manager;
    private static StableDiffusion model;

    @BeforeAll
    static void load() throws IOException {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
        manager = NDManager.newBaseManager();
        model = StableDiffusion.load(FIXTURE, manager.getDevice());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (manager != null) manager.close();
    }

    private static NDArray unetOut(StableDiffusion sd, NDManager m) {
        Noise noise = new Noise(7);
        NDArray x = noise.gaussian(m, new Shape(1, 4, 16, 24), m.getDevice());
        NDArray ctx = noise.gaussian(m, new Shape(1, 77, 32), m.getDevice());
        try (NoGrad ignored = new NoGrad()) {
            return sd.unet().forward(x, m.create(new long[] {321}), ctx);
        }
    }

    @Test
    void fp32SaveLoadGivesIdenticalOutputs(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("saved");
        model.save(out, DType.F32);
        try (NDManager m = manager.newSubManager(); StableDiffusion again = StableDiffusion.load(out, m.getDevice())) {
            assertArrayEquals(unetOut(model, m).toFloatArray(), unetOut(again, m).toFloatArray());
            // directories follow the umask as a plain mkdir does (temp folders would be owner-only)
            var umaskDir = Files.getPosixFilePermissions(Files.createDirectory(tmp.resolve("plain")));
            Files.delete(tmp.resolve("plain"));
            assertEquals(umaskDir, Files.getPosixFilePermissions(out));
            for (String c : List.of("unet", "vae", "text_encoder", "tokenizer", "scheduler")) {
                assertTrue(Files.isDirectory(out.resolve(c)), c);
                assertEquals(umaskDir, Files.getPosixFilePermissions(out.resolve(c)), c);
            }
            // saving again over the same directory replaces it whole and leaves no temp folders
            again.save(out, DType.F32);
            try (Stream<Path> s = Files.list(tmp)) {
                assertEquals(List.of(out), s.toList());
            }
        }
    }

    @Test
    void fp16SaveStoresHalfAndStaysClose(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("half");
        model.save(out, DType.F16);
        try (SafeTensors st = SafeTensors.open(out.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            assertEquals("F16", st.info("conv_in.weight").dtype());
        }
        // from_pretrained(torch_dtype="auto") reads the saved dtype; diffusers' configs carry none and stay as they were
        assertEquals("float16", new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(out.resolve("text_encoder/config.json").toFile()).path("torch_dtype").asText());
        assertEquals(Files.readString(FIXTURE.resolve("unet/config.json")), Files.readString(out.resolve("unet/config.json")));
        try (NDManager m = manager.newSubManager(); StableDiffusion again = StableDiffusion.load(out, m.getDevice())) {
            float err = unetOut(model, m).sub(unetOut(again, m)).abs().max().getFloat();
            assertTrue(err > 0 && err < 5e-2, "fp16 rounding error " + err);
        }
    }

    @Test
    void inspectReportsTheFixture() throws IOException {
        ModelInfo info = ModelInfo.read(FIXTURE);
        assertEquals("SD1.x", info.family());
        assertEquals("epsilon", info.predictionType());
        assertEquals(2, info.vaeFactor());
        assertEquals(1_617_529, info.components().get(0).parameters());
        assertEquals(1_106_212, info.components().get(1).parameters());
        assertEquals(843_847, info.components().get(2).parameters());
        assertTrue(info.render().contains("SD1.x, epsilon prediction"), info.render());
    }

    @Test
    void inspectNamesTheFileOfAMismatchedComponent(@TempDir Path tmp) throws IOException {
        Path copy = tmp.resolve("broken");
        copyTree(FIXTURE, copy);
        Path cfg = copy.resolve("unet/config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"cross_attention_dim\": 32", "\"cross_attention_dim\": 48"));
        StateDict.MismatchException e = assertThrows(StateDict.MismatchException.class, () -> ModelInfo.read(copy));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("attn2.to_k.weight"), e.getMessage());
        Files.delete(copy.resolve("vae/config.json"));
        IOException missing = assertThrows(IOException.class, () -> ModelInfo.read(copy));
        assertTrue(missing.getMessage().contains("vae"), missing.getMessage());
    }

    @Test
    void samplingIsReproducibleForASeed() {
        try (NDManager m = manager.newSubManager()) {
            TextToImage.Request r = new TextToImage.Request(List.of("a red square"), "blurry", 64, 48, 4, 7.5f, 11);
            float[] a = TextToImage.generate(model, r, m).toFloatArray();
            float[] b = TextToImage.generate(model, r, m).toFloatArray();
            assertArrayEquals(a, b);
            TextToImage.Request other = new TextToImage.Request(List.of("a red square"), "blurry", 64, 48, 4, 7.5f, 12);
            assertFalse(java.util.Arrays.equals(a, TextToImage.generate(model, other, m).toFloatArray()));
            NDArray img = TextToImage.generate(model, r, m);
            assertEquals(new Shape(1, 3, 48, 64), img.getShape());
            assertTrue(img.min().getFloat() >= 0 && img.max().getFloat() <= 1);
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.naturalOrder())::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        }
    }
}
