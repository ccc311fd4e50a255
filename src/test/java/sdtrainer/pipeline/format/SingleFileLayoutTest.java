package sdtrainer.pipeline.format;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import sdtrainer.Fixtures;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ShippedConfigs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped configs, built without weights, give exactly the tensor names and shapes of real single files. */
class SingleFileLayoutTest {

    static SingleFileLayout shipped(ShippedConfigs.Variant v, ModelFamily family) throws IOException {
        Path dir = ShippedConfigs.folder(v);
        return SingleFileLayout.of(family,
                new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(dir, ModelDirectory.UNET))),
                new AutoencoderKL(VaeConfig.from(ModelDirectory.config(dir, ModelDirectory.VAE))),
                new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER))), true);
    }

    /** File name -> shape of every tensor the layout writes. */
    static Map<String, Shape> written(SingleFileLayout layout) {
        Map<String, Shape> out = new TreeMap<>();
        for (SingleFileLayout.Entry e : layout.entries()) out.put(e.fileKey(), e.fileShape());
        return out;
    }

    static Map<String, Shape> realSd15() throws IOException {
        JsonNode json = ModelDirectory.readJson(Fixtures.require("single-file", "sd15-shapes.json"));
        Map<String, Shape> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json.get("tensors").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            long[] s = new long[e.getValue().size()];
            for (int i = 0; i < s.length; i++) s[i] = e.getValue().get(i).asLong();
            out.put(e.getKey(), new Shape(s));
        }
        for (JsonNode x : json.get("extras")) out.remove(x.asText());
        return out;
    }

    @Test
    void shippedSd1ConfigGivesTheNamesAndShapesOfARealSd15File() throws IOException {
        SingleFileLayout layout = shipped(ShippedConfigs.Variant.SD1, ModelFamily.SD1);
        Map<String, Shape> real = realSd15();
        assertEquals(1145 - 15, real.size());
        assertEquals(real, written(layout));
        long params = 0;
        for (Shape s : real.values()) params += s.size();
        assertEquals(1_066_235_307L, params, "the parameter count sd15-shapes.json states");
    }

    @Test
    void theExtrasOfARealSd15FileAreKnownAndNothingElseIs() throws IOException {
        SingleFileLayout layout = shipped(ShippedConfigs.Variant.SD1, ModelFamily.SD1);
        JsonNode json = ModelDirectory.readJson(Fixtures.require("single-file", "sd15-shapes.json"));
        for (JsonNode x : json.get("extras")) assertTrue(layout.isKnownExtra(x.asText()), x.asText());
        for (String k : realSd15().keySet()) assertFalse(layout.isKnownExtra(k), k);
        assertFalse(layout.isKnownExtra("model.diffusion_model.lora_extra.weight"));
    }

    /**
     * SD 2.x derived from SD 1.5's real names by the architecture's differences, not from our tables: the UNet's
     * proj_in/proj_out are Linear ([C, C] instead of [C, C, 1, 1]), cross-attention keys/values read 1024-wide
     * context; the VAE is the same; the text encoder is OpenCLIP ViT-H (width 1024, MLP 4096, 24 resblocks, q/k/v
     * in one in_proj).
     */
    static Map<String, Shape> derivedSd2() throws IOException {
        Map<String, Shape> out = new TreeMap<>();
        for (Map.Entry<String, Shape> e : realSd15().entrySet()) {
            String k = e.getKey();
            Shape s = e.getValue();
            if (k.startsWith(ModelFamily.SD1_TEXT_PREFIX)) continue;
            if (k.startsWith(ModelFamily.UNET_PREFIX) && k.matches(".*\\.proj_(in|out)\\.weight")) s = new Shape(s.get(0), s.get(1));
            if (k.matches(".*\\.attn2\\.to_[kv]\\.weight")) s = new Shape(s.get(0), 1024);
            out.put(k, s);
        }
        String p = ModelFamily.SD2_TEXT_PREFIX;
        out.put(p + "token_embedding.weight", new Shape(49408, 1024));
        out.put(p + "positional_embedding", new Shape(77, 1024));
        out.put(p + "ln_final.weight", new Shape(1024));
        out.put(p + "ln_final.bias", new Shape(1024));
        for (int i = 0; i < 24; i++) {
            String b = p + "transformer.resblocks." + i + ".";
            for (String ln : new String[] {"ln_1.", "ln_2."}) {
                out.put(b + ln + "weight", new Shape(1024));
                out.put(b + ln + "bias", new Shape(1024));
            }
            out.put(b + "attn.in_proj_weight", new Shape(3072, 1024));
            out.put(b + "attn.in_proj_bias", new Shape(3072));
            out.put(b + "attn.out_proj.weight", new Shape(1024, 1024));
            out.put(b + "attn.out_proj.bias", new Shape(1024));
            out.put(b + "mlp.c_fc.weight", new Shape(4096, 1024));
            out.put(b + "mlp.c_fc.bias", new Shape(4096));
            out.put(b + "mlp.c_proj.weight", new Shape(1024, 4096));
            out.put(b + "mlp.c_proj.bias", new Shape(1024));
        }
        return out;
    }

    @Test
    void shippedSd2ConfigsGiveTheNamesAndShapesOfAnSd2File() throws IOException {
        Map<String, Shape> expected = derivedSd2();
        for (ShippedConfigs.Variant v : new ShippedConfigs.Variant[] {ShippedConfigs.Variant.SD2_512, ShippedConfigs.Variant.SD2_768_V}) {
            SingleFileLayout layout = shipped(v, ModelFamily.SD2);
            assertEquals(expected, written(layout), v.toString());
            long readBack = layout.entries().stream().filter(e -> !e.saveOnly()).count();
            assertEquals(expected.size() - 12, readBack, "the 24th resblock (12 tensors) is written but not read");
            for (String extra : Set.of("cond_stage_model.model.text_projection", "cond_stage_model.model.logit_scale",
                    "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight", "model_ema.decay", "betas")) {
                assertTrue(layout.isKnownExtra(extra), extra);
            }
            assertFalse(layout.isKnownExtra("cond_stage_model.model.transformer.resblocks.22.ln_1.weight"));
        }
    }

    @Test
    void familiesAreRecognisedFromKeysAndTheOnesWeCannotLoadAreRefusedByName() {
        Path f = Path.of("m.safetensors");
        assertEquals(ModelFamily.SD1, assertDoesNotThrow(f, Set.of("model.diffusion_model.x", "cond_stage_model.transformer.text_model.y")));
        assertEquals(ModelFamily.SD2, assertDoesNotThrow(f, Set.of("model.diffusion_model.x", "cond_stage_model.model.transformer.resblocks.0.ln_1.weight")));
        assertEquals(ModelFamily.SDXL, assertDoesNotThrow(f, Set.of("model.diffusion_model.x",
                "conditioner.embedders.0.transformer.text_model.y", "conditioner.embedders.1.model.transformer.resblocks.0.ln_1.weight")));
        assertRefused(f, Set.of("model.diffusion_model.x", "conditioner.embedders.0.transformer.text_model.y"), "SDXL");
        assertRefused(f, Set.of("model.diffusion_model.joint_blocks.0.x"), "Stable Diffusion 3");
        assertRefused(f, Set.of("double_blocks.0.img_attn.qkv.weight"), "Flux");
        assertRefused(f, Set.of("lora_unet_down_blocks_0.lora_down.weight"), "not a Stable Diffusion single file");
        assertRefused(f, Set.of("model.diffusion_model.x"), "no SD 1.x");
    }

    private static ModelFamily assertDoesNotThrow(Path f, Set<String> keys) {
        return org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> ModelFamily.detect(f, keys));
    }

    private static void assertRefused(Path f, Set<String> keys, String says) {
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> ModelFamily.detect(f, keys));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(says), e.getMessage());
    }
}
