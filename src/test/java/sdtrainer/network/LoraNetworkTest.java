package sdtrainer.network;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.TensorFileException;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static sdtrainer.network.NetworkTestSupport.*;

/** LoRA on the tiny SD1.5-shaped fixture: identity at init, train, save, load, apply, merge, resume. */
class LoraNetworkTest {

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(TINY), "tiny-sd15 fixture absent");
    }

    @Test
    void atInitialisationOutputsEqualTheBaseModelExactly() throws Exception {
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            float[] base = probe(sd);
            Network net = NetworkFactory.create(sd, "lora", 4, 1.0, 0, false, true, pm, 1);
            net.attach();
            assertArrayEquals(base, probe(sd));
            net.detach();
            assertArrayEquals(base, probe(sd));
        }
    }

    @Test
    void targetsAndInitialisationFollowKohya() throws Exception {
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            LoraNetwork all = LoraNetwork.create(sd.unet(), sd.textEncoder(), 4, 0, false, pm, 1);
            LoraNetwork up = LoraNetwork.create(sd.unet(), null, 4, 0, true, pm, 1);
            // tiny: 5 TE layers x 6, and 3 Transformer2DModels (down 0: 2, mid: 1, up 1: 3) x 12 (proj_in, proj_out, attn1 and attn2 q/k/v/out, ff x2)
            assertEquals(30, all.teParameters().size() / 2);
            assertEquals(72, all.unetParameters().size() / 2);
            assertTrue(up.teParameters().isEmpty());
            assertEquals(36, up.unetParameters().size() / 2);
            assertTrue(up.moduleNames().stream().allMatch(n -> n.startsWith("lora_unet_up_blocks_")), up.moduleNames().toString());
            NDArray down = all.unetParameters().get("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight");
            assertEquals(new Shape(4, 32, 1, 1), down.getShape());
            double bound = 1 / Math.sqrt(32);
            float[] d = down.toFloatArray();
            for (float v : d) assertTrue(Math.abs(v) <= bound, "Kaiming-uniform bound");
            assertTrue(down.abs().max().getFloat() > bound * 0.5, "spread over the range");
            for (NDArray u : all.unetParameters().values()) {
                if (u.getShape().get(0) != 4) assertEquals(0f, u.abs().sum().getFloat(), "up starts at zero");
            }
            // the same seed gives the same weights
            LoraNetwork again = LoraNetwork.create(sd.unet(), sd.textEncoder(), 4, 0, false, pm, 1);
            assertArrayEquals(d, again.unetParameters().get("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight").toFloatArray());
        }
    }

    @Test
    void trainedLoraSavesLoadsMergesAndResumes(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("out.safetensors");
        float[] base, trained;
        Map<String, float[]> trainedParams = new LinkedHashMap<>();
        Map<String, Double> means;
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            base = probe(sd);
            Network net = NetworkFactory.create(sd, "lora", 4, 2.0, 0, false, true, pm, 3);
            net.attach();
            train(sd, net, 3, 1e-2, 11);
            trained = probe(sd);
            net.unetParameters().forEach((k, v) -> trainedParams.put(k, v.toFloatArray()));
            net.teParameters().forEach((k, v) -> trainedParams.put(k, v.toFloatArray()));
            means = net.weightMeans();
            Map<String, String> meta = new KohyaMetadata().network(LoraNetwork.KOHYA_MODULE, 4, 2.0).model(false, false, false)
                    .resolution(32, 32).learningRates(1e-2, 1e-2, 1e-2).progress(1, 1, 3).batchSizePerDevice(2)
                    .seed(11).mixedPrecision("no").outputName("out").trainingTimes(Instant.ofEpochSecond(1700000000), Instant.now())
                    .tagFrequency(Map.of("data", List.of(PROMPT))).enableBucket(false).build();
            net.save(file, meta, DType.F32);
        }
        assertTrue(maxAbsDiff(base, trained) > 1e-3, "training changed the output");

        // monitoring: every group present, lora_up is the average of the up tensors' mean |w|
        assertEquals(AdapterNetwork.MONITOR_GROUPS, List.copyOf(means.keySet()));
        double upSum = 0;
        int upCount = 0;
        for (Map.Entry<String, float[]> e : trainedParams.entrySet()) {
            if (!e.getKey().contains("lora_up")) continue;
            double s = 0;
            for (float v : e.getValue()) s += Math.abs(v);
            upSum += s / e.getValue().length;
            upCount++;
        }
        assertEquals(upSum / upCount, means.get("lora_up"), 1e-6);
        assertTrue(means.get("lora_up") > 0);

        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network loaded = Network.load(file, sd, 1.0, pm);
            assertInstanceOf(LoraNetwork.class, loaded);
            loaded.attach();
            assertClose(trained, probe(sd), 1e-6, "loaded and applied");
            loaded.detach();
            assertArrayEquals(base, probe(sd), "detached");
        }
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu())) {
            LoraMerge.merge(sd, file, 1.0);
            assertClose(trained, probe(sd), 1e-5, "merged");
        }
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            // resume: a fresh network (other seed) takes the file's weights and continues from them
            Network resumed = NetworkFactory.create(sd, "lora", 4, 2.0, 0, false, true, pm, 99);
            Map<String, NDArray> params = new LinkedHashMap<>(resumed.teParameters());
            params.putAll(resumed.unetParameters());
            NDArray held = params.get("lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_ff_net_2.lora_up.weight");
            resumed.loadWeights(file);
            assertSame(held, resumed.unetParameters().get("lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_ff_net_2.lora_up.weight"),
                    "values are copied into the arrays the optimizer holds");
            params.forEach((k, v) -> assertArrayEquals(trainedParams.get(k), v.toFloatArray(), k));
            resumed.attach();
            assertClose(trained, probe(sd), 1e-6, "resumed");
            train(sd, resumed, 1, 1e-2, 12);
            assertTrue(maxAbsDiff(trained, probe(sd)) > 0, "training continues");

            Network otherRank = NetworkFactory.create(sd, "lora", 2, 2.0, 0, false, true, pm, 1);
            TensorFileException e = assertThrows(TensorFileException.class, () -> otherRank.loadWeights(file));
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("shape mismatches (204)"), e.getMessage());
            assertTrue(e.getMessage().contains("lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight (file (4, 32), network (2, 32))"),
                    e.getMessage());
            Network unetOnly = NetworkFactory.create(sd, "lora", 4, 2.0, 0, false, false, pm, 1);
            e = assertThrows(TensorFileException.class, () -> unetOnly.loadWeights(file));
            assertTrue(e.getMessage().contains("unexpected keys (90)"), e.getMessage());
        }
    }

    @Test
    void savedFileCarriesKohyaMetadataAndHashes(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("meta.safetensors");
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network net = NetworkFactory.create(sd, "lora", 4, 0, 0, false, false, pm, 1);
            Map<String, String> meta = new LinkedHashMap<>(new KohyaMetadata().network(LoraNetwork.KOHYA_MODULE, 4, 4)
                    .model(false, false, false).resolution(512, 512).learningRates(1e-4, 1e-4, 5e-5).progress(10, 2, 40)
                    .batchSizePerDevice(1).seed(42).mixedPrecision("fp16").outputName("meta")
                    .trainingTimes(Instant.ofEpochSecond(1700000000, 500_000_000), Instant.ofEpochSecond(1700000100))
                    .tagFrequency(Map.of("img", List.of("1girl, solo", "1girl"))).enableBucket(true).build());
            net.save(file, meta, DType.F16);
        }
        byte[] bytes = Files.readAllBytes(file);
        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8));
        JsonNode md = header.get("__metadata__");
        for (String key : List.of("ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_v2", "ss_base_model_version",
                "ss_resolution", "ss_learning_rate", "ss_unet_lr", "ss_text_encoder_lr", "ss_num_epochs", "ss_epoch",
                "ss_steps", "ss_batch_size_per_device", "ss_seed", "ss_mixed_precision", "ss_output_name",
                "ss_training_started_at", "ss_training_finished_at", "ss_tag_frequency", "ss_enable_bucket",
                "sshs_model_hash", "sshs_legacy_hash")) {
            assertTrue(md.has(key), "metadata has " + key);
        }
        md.fields().forEachRemaining(e -> assertTrue(e.getValue().isTextual(), e.getKey() + " is a string"));
        assertEquals("networks.lora", md.get("ss_network_module").asText());
        assertEquals("4.0", md.get("ss_network_alpha").asText());
        assertEquals("(512, 512)", md.get("ss_resolution").asText());
        assertEquals("5e-05", md.get("ss_text_encoder_lr").asText());
        assertEquals("1700000000.5", md.get("ss_training_started_at").asText());
        assertEquals("{\"img\": {\"1girl\": 2, \"solo\": 1}}", md.get("ss_tag_frequency").asText());
        assertEquals("True", md.get("ss_enable_bucket").asText());
        // the model hash covers the tensor bytes after the header; a file under 1 MiB has an empty legacy window
        byte[] data = java.util.Arrays.copyOfRange(bytes, (int) (8 + headerLen), bytes.length);
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)), md.get("sshs_model_hash").asText());
        assertEquals("e3b0c442", md.get("sshs_legacy_hash").asText());
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals("F16", st.info("lora_unet_mid_block_attentions_0_proj_out.lora_up.weight").dtype());
            assertEquals(0, st.info("lora_unet_mid_block_attentions_0_proj_out.alpha").shape().length, "alpha is a scalar");
            assertEquals(4f, st.readFloats("lora_unet_mid_block_attentions_0_proj_out.alpha")[0], "alpha 0 means rank");
        }
    }
}
