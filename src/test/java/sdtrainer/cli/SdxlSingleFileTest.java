package sdtrainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ShippedConfigs;
import sdtrainer.pipeline.format.ModelFamily;
import sdtrainer.pipeline.format.SingleFileLayout;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SDXL single files in the original (SGM) layout: converted both ways, loaded like a folder, named as the real SDXL's. */
class SdxlSingleFileTest {
    private static final String[] COMPONENTS = {ModelDirectory.UNET, ModelDirectory.VAE, ModelDirectory.TEXT_ENCODER,
        ModelDirectory.TEXT_ENCODER_2};

    @TempDir
    Path dir;

    @Test
    void tinySdxlGoesToASingleFileAndBackBitForBit() throws Exception {
        Path model = Fixtures.require("tiny-sdxl");
        Path file = dir.resolve("tiny-sdxl.safetensors");
        CommandRun toFile = CommandRun.of("convert", "--model", model.toString(), "--output", file.toString());
        assertEquals(0, toFile.exitCode(), toFile.err());
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(ModelFamily.SDXL, ModelFamily.detect(file, st.names()));
            for (String name : new String[] {"model.diffusion_model.input_blocks.0.0.weight",
                    "model.diffusion_model.label_emb.0.0.weight", "model.diffusion_model.label_emb.0.2.bias",
                    "model.diffusion_model.out.2.weight", "first_stage_model.encoder.conv_in.weight",
                    "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight",
                    "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight",
                    "conditioner.embedders.1.model.ln_final.weight"}) {
                assertTrue(st.names().contains(name), name + " in " + st.names().stream().limit(30).toList());
            }
            ClipTextConfig te2 = ClipTextConfig.from(ModelDirectory.config(model, ModelDirectory.TEXT_ENCODER_2));
            long[] projection = st.info("conditioner.embedders.1.model.text_projection").shape();
            assertEquals(te2.hiddenSize(), projection[0], "OpenCLIP's projection is stored [width, projection]");
            assertEquals(3L * te2.hiddenSize(),
                    st.info("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight").shape()[0]);
        }
        CommandRun info = CommandRun.of("inspect", "--model", file.toString(), "--model_config", model.toString());
        assertEquals(0, info.exitCode(), info.err());
        assertTrue(info.out().contains("SDXL single file"), info.out());

        Path back = dir.resolve("back");
        CommandRun toFolder = CommandRun.of("convert", "--model", file.toString(), "--model_config", model.toString(),
                "--output", back.toString());
        assertEquals(0, toFolder.exitCode(), toFolder.err());
        for (String c : COMPONENTS) {
            String base = ModelDirectory.weightsBaseName(c);
            try (SafeTensorsSet a = SafeTensorsSet.openModelWeights(model.resolve(c), base);
                 SafeTensorsSet b = SafeTensorsSet.openModelWeights(back.resolve(c), base)) {
                for (String n : a.names()) {
                    if (n.endsWith("position_ids")) continue;
                    assertEquals(a.read(n), b.read(n), c + "/" + n);
                }
            }
        }
        assertTrue(ModelDirectory.isSdxl(back), "the folder has text_encoder_2/ and tokenizer_2/");

        // a full fine-tune from the single file, saved as a single file, which loads again
        Path data = sdtrainer.train.TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Path tuned = dir.resolve("tuned.safetensors");
        CommandRun train = CommandRun.of("--model", file.toString(), "--model_config", model.toString(), "--dataset",
                data.toString(), "--output", dir.resolve("tuned").toString(), "--image_log", dir.resolve("log").toString(),
                "--resolution", "32", "--batch_size", "2", "--lr", "1e-3", "--seed", "1", "--device", "cpu",
                "--save_format", "single_file");
        assertEquals(0, train.exitCode(), train.err());
        try (SafeTensors st = SafeTensors.open(tuned); SafeTensors before = SafeTensors.open(file)) {
            assertEquals(before.names(), st.names(), "the input's layout");
            String conv = "model.diffusion_model.input_blocks.0.0.weight";
            assertTrue(!before.read(conv).equals(st.read(conv)), "the UNet trained");
        }
        CommandRun again = CommandRun.of("convert", "--model", tuned.toString(), "--model_config", model.toString(),
                "--output", dir.resolve("tuned-folder").toString());
        assertEquals(0, again.exitCode(), again.err());
    }

    /** For the real SDXL base (shipped configs), every UNet module kohya names maps to the original name kohya reads. */
    @Test
    void theRealSdxlUnetNamesAreKohyasOriginalModulePaths() throws Exception {
        JsonNode keys = new ObjectMapper().readTree(Fixtures.require("lora-keys-sdxl.json").toFile());
        Path shipped = ShippedConfigs.folder(ShippedConfigs.Variant.SDXL);
        SingleFileLayout layout = SingleFileLayout.ofSdxl(
                new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(shipped, ModelDirectory.UNET))),
                new AutoencoderKL(VaeConfig.from(ModelDirectory.config(shipped, ModelDirectory.VAE))),
                new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(shipped, ModelDirectory.TEXT_ENCODER))),
                new ClipTextModelWithProjection(ClipTextConfig.from(ModelDirectory.config(shipped, ModelDirectory.TEXT_ENCODER_2))));
        Map<String, String> fileKeyOf = new HashMap<>();
        for (SingleFileLayout.Entry e : layout.entries()) fileKeyOf.put(e.modelKeys().get(0), e.fileKey());
        int checked = 0;
        for (JsonNode m : keys.get("modules")) {
            if (!m.get("component").asText().equals("unet")) continue;
            String ours = fileKeyOf.get(SingleFileLayout.UNET + m.get("diffusers_module_path").asText() + ".weight");
            assertEquals(ModelFamily.UNET_PREFIX + m.get("module_path").asText() + ".weight", ours, m.get("name").asText());
            checked++;
        }
        assertTrue(checked > 700, checked + " UNet modules");
    }
}
