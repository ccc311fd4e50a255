package sdtrainer.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.data.Images;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.train.TrainerTest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SDXL training from the command line on the tiny SDXL fixture: LoRA and full fine-tune, both dataset modes. */
class SdxlTrainingTest {
    @TempDir
    Path dir;

    private String[] train(Path data, Path out, String... extra) {
        return trainFrom(Fixtures.require("tiny-sdxl"), data, out, extra);
    }

    private String[] trainFrom(Path model, Path data, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("--model", model.toString(),
                "--dataset", data.toString(), "--output", out.toString(), "--image_log", dir.resolve("log").toString(),
                "--resolution", "32", "--batch_size", "2", "--lr", "1e-3", "--seed", "1", "--device", "cpu"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static CommandRun ok(String... args) {
        CommandRun r = CommandRun.of(args);
        assertEquals(0, r.exitCode(), r.err());
        return r;
    }

    /** The per-step losses of a run's metrics.jsonl. */
    private static List<Double> losses(Path out) throws IOException {
        List<Double> out_ = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonNode row = json.readTree(line);
            if (row.has("loss")) out_.add(row.get("loss").asDouble());
        }
        return out_;
    }

    @Test
    void aLoraOfBothEncodersAndTheUnetTrainsWithKohyasSdxlNamesAndSamplesBack() throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Path out = dir.resolve("lora");
        ok(train(data, out, "--lora", "4", "--train_encoder", "--epochs", "3"));
        List<Double> losses = losses(out);
        assertEquals(3, losses.size());
        losses.forEach(l -> assertTrue(Double.isFinite(l), "finite loss " + losses));

        Path file = dir.resolve("lora.safetensors");
        Path expected = dir.resolve("expected.safetensors");
        try (NDManager m = NDManager.newBaseManager(); StableDiffusionXL sd = StableDiffusionXL.load(model, m.getDevice())) {
            SdxlNetworks.createLora(sd, 4, 4, 0, 0, false, true, m, 1).save(expected, Map.of(), DType.F32);
        }
        try (SafeTensors st = SafeTensors.open(file); SafeTensors want = SafeTensors.open(expected)) {
            assertEquals(new TreeSet<>(want.names()), new TreeSet<>(st.names()), "kohya's SDXL names of the tiny model");
            assertTrue(st.names().stream().anyMatch(n -> n.startsWith("lora_te1_")), "text encoder 1 trained");
            assertTrue(st.names().stream().anyMatch(n -> n.startsWith("lora_te2_")), "text encoder 2 trained");
            assertTrue(st.names().stream().anyMatch(n -> n.startsWith("lora_unet_input_blocks_")), "original block names");
            String up = st.names().stream().filter(n -> n.startsWith("lora_unet_") && n.endsWith("lora_up.weight")).findFirst().orElseThrow();
            assertFalse(Arrays.equals(new float[st.readFloats(up).length], st.readFloats(up)), "the zero-initialised up weights moved");
            Map<String, String> meta = st.metadata();
            assertEquals("sdxl_base_v1-0", meta.get("ss_base_model_version"));
            assertEquals("stable-diffusion-xl-v1-base/lora", meta.get("modelspec.architecture"));
            assertEquals("False", meta.get("ss_v2"));
        }
        assertTrue(Files.list(dir.resolve("log")).anyMatch(p -> p.toString().endsWith(".png")), "save-point samples drawn");

        CommandRun sample = ok("sample", "--model", model.toString(), "--prompt", "a red circle", "--steps", "2",
                "--width", "32", "--height", "32", "--device", "cpu", "--lora", file.toString(),
                "--output", dir.resolve("samples").toString());
        assertTrue(Files.isRegularFile(dir.resolve("samples").resolve("sample_4545_0.png")), sample.out());
    }

    @Test
    void aFullFineTuneSavesTheSdxlLayoutWhichLoadsTrainsAndSamplesAgain() throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Path out = dir.resolve("full");
        ok(train(data, out, "--epochs", "1"));
        for (String c : List.of("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")) {
            assertTrue(Files.isDirectory(out.resolve(c)), c);
        }
        assertTrue(Files.isRegularFile(out.resolve("model_index.json")));
        try (NDManager m = NDManager.newBaseManager();
             StableDiffusionXL base = StableDiffusionXL.load(model, m.getDevice());
             StableDiffusionXL trained = StableDiffusionXL.load(out, m.getDevice())) {
            String w = "conv_in.weight";
            assertFalse(Arrays.equals(base.unet().namedParameters().get(w).get().toFloatArray(),
                    trained.unet().namedParameters().get(w).get().toFloatArray()), "the UNet was trained");
            String te = "text_model.final_layer_norm.weight";
            assertArrayEquals(base.textEncoder2().namedParameters().get(te).get().toFloatArray(),
                    trained.textEncoder2().namedParameters().get(te).get().toFloatArray(), "the encoders were not trained");
        }
        Path again = dir.resolve("again");
        ok(trainFrom(out, data, again, "--epochs", "1", "--lora", "2"));
        assertTrue(Files.isRegularFile(dir.resolve("again.safetensors")));
        ok("sample", "--model", out.toString(), "--prompt", "a red circle", "--steps", "2", "--width", "32", "--height", "32",
                "--device", "cpu", "--output", dir.resolve("samples").toString());
        assertTrue(Files.isRegularFile(dir.resolve("samples").resolve("sample_4545_0.png")));
    }

    /** Coloured ovals of several aspect ratios with captions: buckets (64, 16), (32, 32) x2 and (16, 64). */
    private Path rawImages() throws IOException {
        int[][] sizes = {{60, 20}, {40, 40}, {20, 70}, {36, 36}};
        Path raw = TrainerTest.ovals(Files.createDirectories(dir.resolve("raw")), sizes);
        for (int i = 0; i < sizes.length; i++) Files.writeString(raw.resolve("img" + i + ".txt"), "an oval, colour " + i);
        return raw;
    }

    @Test
    void aLoraTrainsOnBucketedSdxlLatentsAndResumesFromItsState() throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path data = dir.resolve("data");
        ok("preprocess", "bucketing", "-i", rawImages().toString(), "-o", data.toString(), "--resolution", "32",
                "--min_length", "16", "--max_length", "64", "--max_ratio", "4");
        ok("preprocess", "latent", "-d", data.toString(), "-o", data.toString(), "-m", model.toString(), "-b", "2",
                "--device", "cpu");
        JsonNode sizes = new ObjectMapper().readTree(data.resolve("sizes.json").toFile());
        assertEquals("{\"original_size\":[20,60],\"crop\":[0,8]}", sizes.get("img0").toString(),
                "the wide image fitted into (64, 16) as kohya computes it");
        assertArrayEquals(new long[] {4, 8, 32}, sdtrainer.io.Npy.read(data.resolve("img0.npy")).shape(), "SDXL VAE latents");

        Path out = dir.resolve("bucketed");
        CommandRun first = ok(train(data, out, "--use_bucket", "--lora", "4", "--epochs", "1", "--save_state"));
        assertTrue(first.err().contains("done: 3 steps, 1 epochs"), first.err());
        Path state = dir.resolve("bucketed-state");
        assertTrue(Files.isDirectory(state), "--save_state wrote the state");
        CommandRun resumed = ok(train(data, out, "--use_bucket", "--lora", "4", "--epochs", "2", "--save_state",
                "--resume", state.toString()));
        assertTrue(resumed.err().contains("done: 6 steps, 2 epochs"), resumed.err());
        List<Double> losses = losses(out);
        assertEquals(6, losses.size(), "the resumed run appends steps 4 to 6");
        losses.forEach(l -> assertTrue(Double.isFinite(l), "finite loss " + losses));
    }

    @Test
    void cachedEncoderOutputsTrainAsEncodingEveryStepDoes() throws Exception {
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        ok(train(data, dir.resolve("plain"), "--lora", "4", "--epochs", "2"));
        ok(train(data, dir.resolve("cached"), "--lora", "4", "--epochs", "2", "--cache_text_encoder_outputs"));
        assertEquals(losses(dir.resolve("plain")), losses(dir.resolve("cached")));
    }

    @Test
    void anEhNetworkTrainsOnTheUnetAndSamplesBack() throws Exception {
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        ok(train(data, dir.resolve("eh"), "--network", "eh", "--eh_groups", "2", "--epochs", "2"));
        losses(dir.resolve("eh")).forEach(l -> assertTrue(Double.isFinite(l), "finite loss"));
        Path file = dir.resolve("eh.safetensors");
        try (SafeTensors st = SafeTensors.open(file)) {
            assertTrue(st.names().stream().allMatch(k -> k.startsWith("EH_unet_")), st.names().toString());
            assertFalse(st.names().isEmpty());
        }
        ok("sample", "--model", Fixtures.require("tiny-sdxl").toString(), "--lora", file.toString(), "--prompt", "x",
                "--steps", "2", "--width", "32", "--height", "32", "--output", dir.resolve("eh-samples").toString(),
                "--device", "cpu");
        assertTrue(Files.list(dir.resolve("eh-samples")).findAny().isPresent(), "a sample with the EH file");
    }

    @Test
    void aLoconWithLongCaptionsTrainsWithKohyasConvNames() throws Exception {
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        StringBuilder caption = new StringBuilder("1girl");
        for (int i = 0; i < 40; i++) caption.append(", tag").append(i);
        for (int i = 0; i < 2; i++) Files.writeString(data.resolve("img" + i + ".txt"), caption.toString());
        Path out = dir.resolve("locon");
        ok(train(data, out, "--lora", "4", "--conv_dim", "2", "--conv_alpha", "1", "--max_token_length", "150",
                "--epochs", "2"));
        losses(out).forEach(l -> assertTrue(Double.isFinite(l), "finite loss"));
        try (SafeTensors st = SafeTensors.open(dir.resolve("locon.safetensors"))) {
            // a ResNet 3x3 conv in kohya's original block naming, at the conv rank
            String conv = "lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight";
            assertTrue(st.names().contains(conv), st.names().toString());
            assertEquals(2, st.info(conv).shape()[0]);
            assertEquals(4, st.info("lora_unet_middle_block_1_proj_in.lora_down.weight").shape()[0]);
        }
    }

    @Test
    void optionsSdxlTrainingLacksAreRefusedWithOneLine() throws Exception {
        Path data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Map<String, List<String>> refused = Map.of(
                "--network eh adapts only the UNet of an SDXL model", List.of("--network", "eh", "--train_encoder"),
                "--clip_skip is not supported for SDXL", List.of("--lora", "4", "--clip_skip", "2"),
                "--cache_text_encoder_outputs needs frozen text encoders", List.of("--lora", "4", "--train_encoder",
                        "--cache_text_encoder_outputs"));
        for (var e : refused.entrySet()) {
            List<String> args = new ArrayList<>(List.of(train(data, dir.resolve("out"), "--dry_run")));
            args.addAll(e.getValue());
            CommandRun r = CommandRun.of(args.toArray(String[]::new));
            assertEquals(2, r.exitCode(), r.err());
            assertTrue(r.err().contains(e.getKey()), r.err());
        }
        CommandRun sd = CommandRun.of(trainFrom(Fixtures.require("tiny-sd15"), data, dir.resolve("sd"), "--dry_run",
                "--cache_text_encoder_outputs"));
        assertEquals(2, sd.exitCode(), sd.err());
        assertTrue(sd.err().contains("--cache_text_encoder_outputs is for SDXL models"), sd.err());
    }
}
