package sdtrainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.demo.TinyModel;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import ai.djl.Device;
import ai.djl.ndarray.NDManager;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code sd-trainer convert} both ways on the tiny fixture and on a tiny SD 2.x model, and the loading rules it shares. */
class ConvertCommandTest {
    private static final String[] COMPONENTS = {ModelDirectory.UNET, ModelDirectory.VAE, ModelDirectory.TEXT_ENCODER};

    @TempDir
    Path dir;

    /** The names of the reference file that are not the ldm extras (schedule buffers, EMA counters, position_ids). */
    private static Set<String> weightsOf(SafeTensors st) throws IOException {
        Set<String> names = new TreeSet<>();
        Set<String> extras = new TreeSet<>();
        for (var x : ModelDirectory.readJson(Fixtures.require("single-file", "sd15-shapes.json")).get("extras")) extras.add(x.asText());
        for (String n : st.names()) if (!extras.contains(n)) names.add(n);
        return names;
    }

    private static void assertSameTensors(SafeTensors expected, SafeTensors actual, Set<String> names) throws IOException {
        assertEquals(names, actual.names(), "tensor names");
        for (String n : names) assertEquals(expected.read(n), actual.read(n), n);
    }

    @Test
    void aDiffusersFolderConvertsToTheReferenceSingleFileTensorForTensor() throws IOException {
        for (String[] c : new String[][] {{"fp32", "tiny-sd15.safetensors"}, {"fp16", "tiny-sd15-fp16.safetensors"}}) {
            Path out = dir.resolve("tiny-" + c[0] + ".safetensors");
            CommandRun run = CommandRun.of("convert", "--model", Fixtures.TINY_SD15.toString(), "--output", out.toString(),
                    "--save_precision", c[0]);
            assertEquals(0, run.exitCode(), run.err());
            try (SafeTensors ref = SafeTensors.open(Fixtures.require("single-file", c[1])); SafeTensors got = SafeTensors.open(out)) {
                assertSameTensors(ref, got, weightsOf(ref));
            }
        }
    }

    @Test
    void theReferenceSingleFileConvertsBackToTheDiffusersFolderExactly() throws IOException {
        Path out = dir.resolve("back");
        CommandRun run = CommandRun.of("convert", "--model", Fixtures.require("single-file", "tiny-sd15.safetensors").toString(),
                "--model_config", Fixtures.TINY_SD15.toString(), "--output", out.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertSameFolders(Fixtures.TINY_SD15, out);
        assertEquals(Files.readString(Fixtures.TINY_SD15.resolve("tokenizer/vocab.json")), Files.readString(out.resolve("tokenizer/vocab.json")));
    }

    private static void assertSameFolders(Path expected, Path actual) throws IOException {
        for (String c : COMPONENTS) {
            String base = ModelDirectory.weightsBaseName(c);
            try (SafeTensorsSet a = SafeTensorsSet.openModelWeights(expected.resolve(c), base);
                 SafeTensorsSet b = SafeTensorsSet.openModelWeights(actual.resolve(c), base)) {
                assertEquals(a.names(), b.names(), c);
                for (String n : a.names()) assertEquals(a.read(n), b.read(n), c + " " + n);
            }
            assertEquals(new ObjectMapper().readTree(expected.resolve(c).resolve("config.json").toFile()),
                    new ObjectMapper().readTree(actual.resolve(c).resolve("config.json").toFile()), c + " config");
        }
    }

    /**
     * A tiny SD 2.x-shaped diffusers folder: the fixture's VAE, tokenizer and schedule, a UNet with linear
     * projections and a gelu text encoder, randomly initialised.
     */
    static Path tinySd2(Path root) throws IOException {
        Path sd2 = Files.createDirectories(root.resolve("tiny-sd2"));
        for (String c : new String[] {ModelDirectory.VAE, ModelDirectory.TOKENIZER, ModelDirectory.SCHEDULER}) {
            Files.createDirectories(sd2.resolve(c));
            try (Stream<Path> files = Files.list(Fixtures.TINY_SD15.resolve(c))) {
                for (Path f : (Iterable<Path>) files::iterator) Files.copy(f, sd2.resolve(c).resolve(f.getFileName()));
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode unet = (ObjectNode) ModelDirectory.config(Fixtures.TINY_SD15, ModelDirectory.UNET);
        unet.put("use_linear_projection", true);
        ObjectNode te = (ObjectNode) ModelDirectory.config(Fixtures.TINY_SD15, ModelDirectory.TEXT_ENCODER);
        te.put("hidden_act", "gelu");
        Files.createDirectories(sd2.resolve(ModelDirectory.UNET));
        Files.createDirectories(sd2.resolve(ModelDirectory.TEXT_ENCODER));
        json.writeValue(sd2.resolve("unet/config.json").toFile(), unet);
        json.writeValue(sd2.resolve("text_encoder/config.json").toFile(), te);
        TinyModel.writeWeights(sd2, ModelDirectory.UNET, new UNet2DConditionModel(UNetConfig.from(unet)), 21);
        TinyModel.writeWeights(sd2, ModelDirectory.TEXT_ENCODER, new ClipTextModel(ClipTextConfig.from(te)), 22);
        return sd2;
    }

    @Test
    void anSd2ModelIsWrittenWithOpenClipNamesAndTheExtraResblockAndReadBackExactly() throws IOException {
        Fixtures.require("tiny-sd15");
        Path sd2 = tinySd2(dir);
        Path file = dir.resolve("sd2.safetensors");
        CommandRun run = CommandRun.of("convert", "--model", sd2.toString(), "--output", file.toString());
        assertEquals(0, run.exitCode(), run.err());
        int layers = ModelDirectory.config(sd2, ModelDirectory.TEXT_ENCODER).get("num_hidden_layers").asInt();
        try (SafeTensors st = SafeTensors.open(file); SafeTensors te = SafeTensors.open(sd2.resolve("text_encoder/model.safetensors"))) {
            String p = "cond_stage_model.model.";
            assertFalse(st.names().stream().anyMatch(n -> n.startsWith("cond_stage_model.transformer.")));
            for (int i = 0; i < layers; i++) {
                String q = "text_model.encoder.layers." + i + ".self_attn.";
                for (String w : new String[] {"weight", "bias"}) {
                    ByteBuffer cat = ByteBuffer.allocate((int) st.info(p + "transformer.resblocks." + i + ".attn.in_proj_" + w).end()
                            - (int) st.info(p + "transformer.resblocks." + i + ".attn.in_proj_" + w).begin());
                    for (String x : new String[] {"q_proj.", "k_proj.", "v_proj."}) cat.put(te.read(q + x + w).data());
                    cat.flip();
                    assertEquals(cat, st.read(p + "transformer.resblocks." + i + ".attn.in_proj_" + w).data(), "in_proj = q, k, v of layer " + i);
                }
            }
            assertEquals(te.read("text_model.embeddings.position_embedding.weight"), st.read(p + "positional_embedding"));
            String last = p + "transformer.resblocks." + (layers - 1) + ".", extra = p + "transformer.resblocks." + layers + ".";
            int copied = 0;
            for (String n : st.names()) {
                if (n.startsWith(extra)) {
                    assertEquals(st.read(last + n.substring(extra.length())), st.read(n), n);
                    copied++;
                }
            }
            assertEquals(12, copied, "the unused final resblock is a copy of the last one");
            assertFalse(st.names().contains(p + "transformer.resblocks." + (layers + 1) + ".ln_1.weight"));
        }

        Path back = dir.resolve("sd2-back");
        run = CommandRun.of("convert", "--model", file.toString(), "--model_config", sd2.toString(), "--output", back.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertSameFolders(sd2, back);

        run = CommandRun.of("inspect", "--model", file.toString(), "--model_config", sd2.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("SD2.x single file, epsilon prediction"), run.out());
    }

    @Test
    void anSd2FileWithoutConfigsNeedsThePredictionTypeAndIsCheckedAgainstTheShippedConfig() throws IOException {
        Fixtures.require("tiny-sd15");
        Path sd2 = tinySd2(dir);
        Path file = dir.resolve("sd2.safetensors");
        assertEquals(0, CommandRun.of("convert", "--model", sd2.toString(), "--output", file.toString()).exitCode());
        CommandRun run = CommandRun.of("sample", "--model", file.toString(), "--prompt", "x", "--output", dir.resolve("s").toString());
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().contains("is an SD 2.x file, which does not record what the model predicts: give --v_prediction for the 768"
                + " models (SD 2.0/2.1 768-v) or --no-v_prediction for the 512 base models (epsilon)"), run.err());
        run = CommandRun.of("convert", "--model", file.toString(), "--no-v_prediction", "--output", dir.resolve("x").toString());
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().contains(file + ": tensor 'model.diffusion_model.input_blocks.0.0.weight' has shape (32, 4, 3, 3) but the"
                + " config expects (320, 4, 3, 3) (SD2.x config, parameter unet.conv_in.weight)"), run.err());
    }

    @Test
    void pickleAndUnsupportedFamiliesAreRefusedWithOneLine() throws IOException {
        Path ckpt = Files.writeString(dir.resolve("model.ckpt"), "not read");
        CommandRun run = CommandRun.of("inspect", "--model", ckpt.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains(ckpt + ": a pickle checkpoint, which can run arbitrary code when loaded and is not read;"
                + " convert it to .safetensors first"), run.err());

        Path sdxl = dir.resolve("sdxl.safetensors");
        TensorData one = new TensorData(DType.F32, new long[] {1}, ByteBuffer.allocate(4));
        SafeTensorsWriter.write(sdxl, Map.of("model.diffusion_model.input_blocks.0.0.weight", one,
                "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", one), Map.of());
        run = CommandRun.of("sample", "--model", sdxl.toString(), "--prompt", "x", "--output", dir.resolve("s").toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains(sdxl + ": has conditioner.embedders.* keys but not SDXL base's UNet and two text encoders"),
                run.err());
    }

    @Test
    void knownExtrasAreIgnoredAndUnknownTensorsAreReportedButDoNotStopLoading() throws IOException {
        Path ref = Fixtures.require("single-file", "tiny-sd15.safetensors");
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(ref)) {
            for (String n : st.names()) tensors.put(n, st.read(n));
        }
        // position_ids as F32, as some tools write it, and two tensors nobody knows
        tensors.put("cond_stage_model.transformer.text_model.embeddings.position_ids", new TensorData(DType.F32, new long[] {1, 77},
                ByteBuffer.allocate(77 * 4)));
        TensorData one = new TensorData(DType.F32, new long[] {1}, ByteBuffer.allocate(4));
        tensors.put("control_model.zero_convs.0.0.weight", one);
        tensors.put("model.diffusion_model.extra.weight", one);
        Path file = dir.resolve("extras.safetensors");
        SafeTensorsWriter.write(file, tensors, Map.of());
        try (SafeTensorsSet st = SafeTensorsSet.open(file)) {
            var layout = sdtrainer.pipeline.format.SingleFileLayout.of(sdtrainer.pipeline.format.ModelFamily.SD1,
                    new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(Fixtures.TINY_SD15, ModelDirectory.UNET))),
                    new sdtrainer.model.vae.AutoencoderKL(sdtrainer.model.vae.VaeConfig.from(ModelDirectory.config(Fixtures.TINY_SD15, ModelDirectory.VAE))),
                    new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(Fixtures.TINY_SD15, ModelDirectory.TEXT_ENCODER))), true);
            assertEquals(Set.of("control_model.zero_convs.0.0.weight", "model.diffusion_model.extra.weight"),
                    sdtrainer.pipeline.format.SingleFile.check(st, layout));
        }
        Path out = dir.resolve("folder");
        CommandRun run = CommandRun.of("convert", "--model", file.toString(), "--model_config", Fixtures.TINY_SD15.toString(),
                "--output", out.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertSameFolders(Fixtures.TINY_SD15, out);
    }

    @Test
    void inspectOfTheSingleFileCountsWhatTheFolderHolds() throws IOException {
        Path ref = Fixtures.require("single-file", "tiny-sd15.safetensors");
        CommandRun file = CommandRun.of("inspect", "--model", ref.toString(), "--model_config", Fixtures.TINY_SD15.toString());
        CommandRun folder = CommandRun.of("inspect", "--model", Fixtures.TINY_SD15.toString());
        assertEquals(0, file.exitCode(), file.err());
        assertTrue(file.out().contains("SD1.x single file, epsilon prediction"), file.out());
        String total = folder.out().lines().filter(l -> l.startsWith("total")).findFirst().orElseThrow();
        assertTrue(file.out().contains(total), file.out() + "\n" + folder.out());
    }

    @Test
    void aBf16SingleFileLoadsAsTheBf16RoundingAndItsVaeLoadsAlone() throws Exception {
        Path file = dir.resolve("tiny-bf16.safetensors");
        CommandRun run = CommandRun.of("convert", "--model", Fixtures.TINY_SD15.toString(), "--output", file.toString(),
                "--save_precision", "bf16");
        assertEquals(0, run.exitCode(), run.err());
        ModelSource source = new ModelSource(file, Optional.of(Fixtures.TINY_SD15), Optional.empty());
        try (NDManager m = NDManager.newBaseManager(Device.cpu());
             SafeTensorsSet vaeFile = SafeTensorsSet.openModelWeights(Fixtures.TINY_SD15.resolve(ModelDirectory.VAE),
                     ModelDirectory.weightsBaseName(ModelDirectory.VAE))) {
            var vae = StableDiffusion.loadSingleFileVae(source, m);
            assertEquals(vaeFile.names(), vae.namedParameters().keySet());
            for (var e : vae.namedParameters().entrySet()) {
                TensorData rounded = vaeFile.read(e.getKey()).toFloatType(DType.BF16).toFloatType(DType.F32);
                assertEquals(rounded, TensorData.fromNDArray(e.getValue().get()), e.getKey());
            }
        }
    }
}
