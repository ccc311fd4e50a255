package sdtrainer.network;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sdtrainer.network.NetworkTestSupport.TINY;
import static sdtrainer.network.NetworkTestSupport.assertClose;
import static sdtrainer.network.NetworkTestSupport.maxAbsDiff;
import static sdtrainer.network.NetworkTestSupport.probe;
import static sdtrainer.network.NetworkTestSupport.train;

/** LoCon (kohya's conv_dim): exactly kohya's module set, and its files act as their merged weights do. */
class LoconTest {

    @Test
    void keysAndShapesEqualKohyasWithConvDim(@TempDir Path tmp) throws Exception {
        Fixtures.require("lora-keys-sd15.json");
        ObjectMapper json = new ObjectMapper();
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(json.readTree(LoraKeysSd15Test.UNET)));
        ClipTextModel te = new ClipTextModel(ClipTextConfig.from(json.readTree(LoraKeysSd15Test.TEXT_ENCODER)));
        int rank = 4, convRank = 8;
        Map<String, String> expected = LoraKeysSd15Test.kohyaKeys("in_conv",
                m -> m.get("rank_from").asText().equals("conv_dim") ? convRank : rank);
        assertEquals(350 * 3, expected.size());
        Path file = tmp.resolve("locon.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            LoraNetwork.create(unet, te, rank, 1, convRank, 1.5, false, m, 0).save(file, Map.of(), DType.F16);
        }
        Map<String, String> actual = new TreeMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : st.names()) actual.put(k, Arrays.toString(st.info(k).shape()));
            assertArrayEquals(new float[] {1.5f}, st.readFloats("lora_unet_up_blocks_0_upsamplers_0_conv.alpha"), "conv_alpha on 3x3 convs");
            assertArrayEquals(new float[] {1f}, st.readFloats("lora_unet_down_blocks_0_resnets_0_time_emb_proj.alpha"), "LoRA alpha elsewhere");
        }
        assertEquals(expected, actual);
    }

    @Test
    void aLoconFileAppliedAtSampleTimeEqualsItsMergedWeights(@TempDir Path tmp) throws Exception {
        Fixtures.require("tiny-sd15");
        Path file = tmp.resolve("locon.safetensors");
        float[] base;
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            base = probe(sd);
            LoraNetwork net = LoraNetwork.create(sd.unet(), null, 4, 2, 3, 1.5, false, pm, 11);
            net.attach();
            train(sd, net, 3, 1e-2, 5);
            net.save(file, Map.of(), DType.F32);
        }
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new long[] {3, 32, 3, 3}, st.info("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight").shape());
            long[] shortcut = st.info("lora_unet_up_blocks_1_resnets_0_conv_shortcut.lora_down.weight").shape();
            assertEquals(4, shortcut[0], "1x1 conv_shortcut at the LoRA rank");
            assertEquals(1, shortcut[3]);
        }
        float[] applied, merged;
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network.load(file, sd, 1.0, pm).attach();
            applied = probe(sd);
        }
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu())) {
            LoraMerge.merge(sd, file, 1.0);
            merged = probe(sd);
        }
        assertTrue(maxAbsDiff(base, applied) > 1e-3, "the trained LoCon changes the output");
        assertClose(merged, applied, 2e-5, "LoCon applied vs merged");
    }
}
