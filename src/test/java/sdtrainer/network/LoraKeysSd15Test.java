package sdtrainer.network;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The LoRA file of the real SD1.5 architecture has exactly kohya's keys and shapes. */
class LoraKeysSd15Test {
    static final Path KEYS = Fixtures.path("lora-keys-sd15.json");

    /** runwayml/stable-diffusion-v1-5 unet/config.json. */
    static final String UNET = """
            {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8,
             "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false, "cross_attention_dim": 768,
             "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
             "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}""";

    /** runwayml/stable-diffusion-v1-5 text_encoder/config.json (CLIP ViT-L/14 text tower). */
    static final String TEXT_ENCODER = """
            {"architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
             "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768, "initializer_factor": 1.0,
             "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
             "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12,
             "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768, "vocab_size": 49408}""";

    @Test
    void keysAndShapesEqualKohyas(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isRegularFile(KEYS), "lora-keys-sd15.json absent");
        ObjectMapper json = new ObjectMapper();
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(json.readTree(UNET)));
        ClipTextModel te = new ClipTextModel(ClipTextConfig.from(json.readTree(TEXT_ENCODER)));
        int rank = 4;
        Map<String, String> expected = kohyaKeys("in_default", m -> rank);
        assertEquals(264 * 3, expected.size());

        Path file = tmp.resolve("sd15.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            LoraNetwork net = LoraNetwork.create(unet, te, rank, 1, false, m, 0);
            assertEquals(72, net.moduleNames().stream().filter(n -> n.startsWith("lora_te_")).count());
            net.save(file, Map.of(), DType.F16);
            Map<String, String> actual = new TreeMap<>();
            try (SafeTensors st = SafeTensors.open(file)) {
                for (String k : st.names()) actual.put(k, Arrays.toString(st.info(k).shape()));
            }
            assertEquals(expected, actual);

            LoraNetwork upOnly = LoraNetwork.create(unet, null, rank, 1, true, m, 0);
            long expectedUp = expected.keySet().stream().filter(k -> k.startsWith("lora_unet_up_blocks_")).count() / 3;
            assertEquals(expectedUp, upOnly.moduleNames().size());
            assertTrue(upOnly.moduleNames().stream().allMatch(n -> n.startsWith("lora_unet_up_blocks_")));

            // EH: n = 8 divides every SD1.5 target; 7 does not, and the error names the layers
            EhNetwork eh = EhNetwork.create(unet, null, 8, false, m);
            assertEquals(160, eh.unetParameters().size(), "every UNet Linear target (no 1x1 convs)");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EhNetwork.create(unet, null, 7, false, m));
            assertTrue(e.getMessage().contains("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q (in 320, out 320)"),
                    e.getMessage());
        }
    }

    /** File key -> shape of kohya's modules with {@code flag} set, each "r" replaced by {@code rank} of its entry. */
    static Map<String, String> kohyaKeys(String flag, java.util.function.ToIntFunction<JsonNode> rank) throws java.io.IOException {
        Map<String, String> expected = new TreeMap<>();
        for (JsonNode m : new ObjectMapper().readTree(KEYS.toFile()).get("modules")) {
            if (!m.get(flag).asBoolean()) continue;
            String name = m.get("name").asText();
            int r = rank.applyAsInt(m);
            expected.put(name + ".lora_down.weight", shape(m.get("lora_down_shape"), r));
            expected.put(name + ".lora_up.weight", shape(m.get("lora_up_shape"), r));
            expected.put(name + ".alpha", "[]");
        }
        return expected;
    }

    private static String shape(JsonNode dims, int rank) {
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) s[i] = dims.get(i).isTextual() ? rank : dims.get(i).asLong();
        return Arrays.toString(s);
    }
}
