package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Linear;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusionXL;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SDXL LoRA files carry kohya's SDXL module names, for the real SDXL (shapes only) and the tiny fixture. */
class SdxlLoraKeysTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int RANK = 4;

    /** The real SDXL base built from the shipped configs (resources), without weights, and kohya's json for it. */
    record Real(UNet2DConditionModel unet, ClipTextModel te1, ClipTextModelWithProjection te2, JsonNode keys) {
        static Real build() throws Exception {
            JsonNode keys = JSON.readTree(Fixtures.require("lora-keys-sdxl.json").toFile());
            return new Real(new UNet2DConditionModel(UNetConfig.from(shipped("unet/config.json"))),
                    new ClipTextModel(ClipTextConfig.from(shipped("text_encoder/config.json"))),
                    new ClipTextModelWithProjection(ClipTextConfig.from(shipped("text_encoder_2/config.json"))), keys);
        }

        JsonNode modules() {
            return keys.get("modules");
        }
    }

    static JsonNode shipped(String file) throws Exception {
        try (InputStream in = SdxlLoraKeysTest.class.getResourceAsStream("/sdtrainer/models/sdxl/" + file)) {
            assertTrue(in != null, "shipped SDXL config " + file + " missing");
            return JSON.readTree(in);
        }
    }

    /** The shipped configs say what kohya's real SDXL is: every field it records, and the UNet's parameter count. */
    @Test
    void shippedConfigsAreTheRealSdxl() throws Exception {
        Real real = Real.build();
        JsonNode unet = shipped("unet/config.json");
        real.keys().get("diffusers_unet_config").fields().forEachRemaining(e ->
                assertEquals(e.getValue(), unet.get(e.getKey()), "unet/config.json " + e.getKey()));
        for (String te : new String[] {"text_encoder", "text_encoder_2"}) {
            JsonNode config = shipped(te + "/config.json");
            real.keys().get("te_configs_used").get(te).fields().forEachRemaining(e ->
                    assertEquals(e.getValue(), config.get(e.getKey()), te + "/config.json " + e.getKey()));
        }
        assertEquals(real.keys().get("n_unet_params").asLong(), real.unet().parameterCount());
        assertTrue(shipped("model_index.json").get("force_zeros_for_empty_prompt").asBoolean());
        assertEquals(0.13025, shipped("vae/config.json").get("scaling_factor").asDouble());
    }

    @Test
    void realSdxlFileHasKohyasDefaultKeysAndShapes(@TempDir Path tmp) throws Exception {
        assertKohyasKeys(tmp, false, 986);
    }

    /** With conv_dim (LoCon) also the ResNet blocks' and resamplers' layers, 3x3 convs at the conv rank. */
    @Test
    void realSdxlLoconFileHasKohyasConvDimKeysAndShapes(@TempDir Path tmp) throws Exception {
        assertKohyasKeys(tmp, true, 1052);
    }

    private static void assertKohyasKeys(Path tmp, boolean locon, int modules) throws Exception {
        Real real = Real.build();
        Map<String, String> expected = new TreeMap<>();
        for (JsonNode m : real.modules()) {
            if (!m.get(locon ? "in_conv" : "in_default").asBoolean()) continue;
            String name = m.get("name").asText();
            expected.put(name + ".lora_down.weight", shape(m.get("lora_down_shape")));
            expected.put(name + ".lora_up.weight", shape(m.get("lora_up_shape")));
            expected.put(name + ".alpha", "[]");
        }
        assertEquals(modules * 3, expected.size());
        Path file = tmp.resolve("sdxl.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            LoraNetwork net = LoraNetwork.create(SdxlNetworks.trainingTargets(real.unet(), real.te1(), real.te2(), false, locon),
                    RANK, 1, RANK, 1, m, 0);
            net.save(file, Map.of(), DType.F16);
        }
        Map<String, String> actual = new TreeMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : st.names()) actual.put(k, Arrays.toString(st.info(k).shape()));
        }
        assertEquals(expected, actual);
    }

    /** Every module kohya names (LoCon's ResNet, sampler and time-embedding layers too) maps to our layer of the same geometry. */
    @Test
    void everyKohyaModuleMapsToItsDiffusersLayer() throws Exception {
        Real real = Real.build();
        Map<String, Target> ours = SdxlNetworks.allTargets(real.unet(), real.te1(), real.te2());
        SdxlLoraNames names = new SdxlLoraNames(real.unet().config);
        for (JsonNode m : real.modules()) {
            String name = m.get("name").asText();
            Target t = ours.get(name);
            assertTrue(t != null, name + " is no layer of ours");
            String component = m.get("component").asText();
            String expectedPath = m.get("diffusers_module_path").asText().substring(component.equals("unet") ? 0 : component.length() + 1);
            assertEquals(expectedPath, t.path(), name);
            if (component.equals("unet")) assertEquals(m.get("module_path").asText(), names.originalPath(t.path()), name);
            if (m.get("type").asText().equals("Linear")) {
                Linear l = (Linear) t.layer();
                assertEquals(List.of(m.get("in_features").asInt(), m.get("out_features").asInt()), List.of(l.inFeatures, l.outFeatures), name);
            } else {
                Conv2d c = (Conv2d) t.layer();
                assertEquals(List.of(m.get("in_channels").asInt(), m.get("out_channels").asInt(), m.get("kernel_size").get(0).asInt()),
                        List.of(c.inChannels, c.outChannels, c.kernel), name);
            }
        }
    }

    /**
     * The tiny SDXL has the real one's block structure with fewer transformer layers, so its LoRA names are kohya's
     * real-SDXL names minus the transformer blocks it lacks; saved and loaded back, the LoRA changes the UNet's output.
     */
    @Test
    void tinySdxlLoraHasKohyasNamesAndLoadsBack(@TempDir Path tmp) throws Exception {
        Real real = Real.build();
        Path file = tmp.resolve("tiny.safetensors");
        try (NDManager m = NDManager.newBaseManager();
             StableDiffusionXL sd = StableDiffusionXL.load(Fixtures.require("tiny-sdxl"), m.getDevice())) {
            TreeSet<String> expected = new TreeSet<>();
            for (JsonNode mod : real.modules()) {
                if (mod.get("in_default").asBoolean() && present(mod, sd)) {
                    expected.add(mod.get("name").asText());
                }
            }
            LoraNetwork net = SdxlNetworks.createLora(sd, RANK, 1, 0, 0, false, true, m, 7);
            assertEquals(expected, new TreeSet<>(net.moduleNames()));
            assertEquals(expected.size(), net.moduleNames().size());
            // a trained-looking network: non-zero up weights, so the loaded file must change the output
            Noise noise = new Noise(3);
            try (NoGrad ignored = new NoGrad()) {
                for (Map.Entry<String, NDArray> e : net.unetParameters().entrySet()) {
                    if (!e.getKey().endsWith("lora_up.weight")) continue;
                    NDArray v = e.getValue();
                    v.set(noise.gaussian(m, v.getShape(), v.getDevice()).mul(0.1f).toFloatArray());
                }
            }
            net.save(file, Map.of(), DType.F32);

            LoraNetwork back = SdxlNetworks.load(file, sd, 1.0, m);
            assertEquals(new TreeSet<>(net.moduleNames()), new TreeSet<>(back.moduleNames()));
            float[] base = probe(sd, m);
            back.attach();
            float[] adapted = probe(sd, m);
            back.detach();
            assertTrue(maxDiff(base, adapted) > 1e-4, "the loaded LoRA changes the UNet output");
            assertEquals(0, maxDiff(base, probe(sd, m)), "detached: the base model again");
        }
    }

    private static final Pattern BLOCK = Pattern.compile(
            "(down_blocks|up_blocks)\\.(\\d+)\\.attentions\\.\\d+\\.transformer_blocks\\.(\\d+)\\..*"
                    + "|mid_block\\.attentions\\.\\d+\\.transformer_blocks\\.(\\d+)\\..*");
    private static final Pattern TE_LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\..*");

    /** Whether a real-SDXL module exists in the tiny model (same blocks, fewer transformer and encoder layers). */
    private static boolean present(JsonNode module, StableDiffusionXL sd) {
        String component = module.get("component").asText();
        String path = module.get("module_path").asText();
        if (!component.equals("unet")) {
            Matcher m = TE_LAYER.matcher(path);
            ClipTextModel te = component.equals("text_encoder") ? sd.textEncoder() : sd.textEncoder2();
            return m.matches() && Integer.parseInt(m.group(1)) < te.config.numHiddenLayers();
        }
        Matcher m = BLOCK.matcher(module.get("diffusers_module_path").asText());
        if (!m.matches()) return true;
        List<Integer> depths = sd.unet().config.transformerLayersPerBlock();
        if (m.group(4) != null) return Integer.parseInt(m.group(4)) < depths.get(depths.size() - 1);
        int block = Integer.parseInt(m.group(2));
        int depth = m.group(1).equals("down_blocks") ? depths.get(block) : depths.get(depths.size() - 1 - block);
        return Integer.parseInt(m.group(3)) < depth;
    }

    private static float[] probe(StableDiffusionXL sd, NDManager m) {
        try (NoGrad ignored = new NoGrad(); NDManager s = m.newSubManager()) {
            UNetConfig c = sd.unet().config;
            NDArray x = new Noise(5).gaussian(s, new Shape(1, c.inChannels(), 8, 8), s.getDevice());
            StableDiffusionXL.TextConditioning text = sd.encodePrompts(List.of("a photo of a cat"), s);
            NDArray ids = StableDiffusionXL.SizeIds.batch(List.of(StableDiffusionXL.SizeIds.uncropped(16, 16)), s);
            return sd.unet().forward(x, s.create(new long[] {321}), text.context(), text.with(ids), null, null).toFloatArray();
        }
    }

    private static float maxDiff(float[] a, float[] b) {
        float d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    private static String shape(JsonNode dims) {
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) s[i] = dims.get(i).isTextual() ? RANK : dims.get(i).asLong();
        return Arrays.toString(s);
    }
}
