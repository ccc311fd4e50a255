package sdtrainer.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.nn.Module;
import sdtrainer.nn.StateDict;
import sdtrainer.pipeline.format.ModelFamily;
import sdtrainer.pipeline.format.SingleFile;
import sdtrainer.pipeline.format.SingleFileLayout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a model directory holds, read from configs and safetensors headers only (no weights are loaded),
 * with every component's keys and shapes checked against the architecture its config describes.
 */
public record ModelInfo(Path dir, String family, String predictionType, int vaeFactor, List<Component> components) {

    /** One component: parameter count, tensors per dtype, bytes on disk, number of weight files. */
    public record Component(String name, long parameters, Map<String, Integer> dtypes, long bytes, int files) {}

    /**
     * As {@link #read(Path)} for a diffusers folder; for a single file, from its header and the configs it is
     * loaded with, the components being its UNet, VAE and text-encoder tensors.
     */
    public static ModelInfo read(ModelSource source) throws IOException {
        if (!source.singleFile()) return read(source.model());
        try (SafeTensorsSet file = SafeTensorsSet.open(source.model())) {
            ModelFamily family = ModelFamily.detect(source.model(), file.names());
            Path configDir = source.configDir(family);
            ClipTextModel te = new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(configDir, ModelDirectory.TEXT_ENCODER)));
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(configDir, ModelDirectory.UNET)));
            VaeConfig vaeConfig = VaeConfig.from(ModelDirectory.config(configDir, ModelDirectory.VAE));
            boolean sdxl = family == ModelFamily.SDXL;
            SingleFileLayout layout = sdxl
                    ? SingleFileLayout.ofSdxl(unet, new AutoencoderKL(vaeConfig), te, new ClipTextModelWithProjection(
                            ClipTextConfig.from(ModelDirectory.config(configDir, ModelDirectory.TEXT_ENCODER_2))))
                    : SingleFileLayout.of(family, unet, new AutoencoderKL(vaeConfig), te, SingleFileLayout.hasTextModelLevel(file.names()));
            SingleFile.check(file, layout);
            List<Component> comps = new ArrayList<>();
            List<String[]> parts = new ArrayList<>();
            parts.add(new String[] {ModelDirectory.TEXT_ENCODER, SingleFileLayout.TEXT_ENCODER});
            if (sdxl) parts.add(new String[] {ModelDirectory.TEXT_ENCODER_2, SingleFileLayout.TEXT_ENCODER_2});
            parts.add(new String[] {ModelDirectory.UNET, SingleFileLayout.UNET});
            parts.add(new String[] {ModelDirectory.VAE, SingleFileLayout.VAE});
            for (String[] part : parts) {
                long params = 0, bytes = 0;
                Map<String, Integer> dtypes = new TreeMap<>();
                for (SingleFileLayout.Entry e : layout.entries()) {
                    if (e.saveOnly() || !e.modelKeys().get(0).startsWith(part[1])) continue;
                    SafeTensors.TensorInfo t = file.info(e.fileKey());
                    params += t.numel();
                    bytes += t.end() - t.begin();
                    dtypes.merge(t.dtype(), 1, Integer::sum);
                }
                comps.add(new Component(part[0], params, dtypes, bytes, 1));
            }
            String prediction = family == ModelFamily.SD2 && source.modelConfig().isEmpty() && source.vPrediction().isEmpty()
                    ? "v or epsilon (not recorded in the file: --v_prediction or --no-v_prediction)"
                    : ModelDirectory.config(configDir, ModelDirectory.SCHEDULER).path("prediction_type").asText("epsilon");
            return new ModelInfo(source.model(), family.label() + " single file", prediction, vaeConfig.downsamplingFactor(), comps);
        }
    }

    public static ModelInfo read(Path dir) throws IOException {
        ModelDirectory.check(dir);
        JsonNode unetJson = ModelDirectory.config(dir, ModelDirectory.UNET);
        UNetConfig unetConfig = UNetConfig.from(unetJson);
        ClipTextConfig teConfig = ClipTextConfig.from(ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER));
        VaeConfig vaeConfig = VaeConfig.from(ModelDirectory.config(dir, ModelDirectory.VAE));
        JsonNode sched = ModelDirectory.config(dir, ModelDirectory.SCHEDULER);
        List<Component> comps = new ArrayList<>();
        comps.add(component(dir, ModelDirectory.TEXT_ENCODER, new ClipTextModel(teConfig)));
        if (ModelDirectory.isSdxl(dir)) {
            comps.add(component(dir, ModelDirectory.TEXT_ENCODER_2, new ClipTextModelWithProjection(
                    ClipTextConfig.from(ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER_2)))));
        }
        comps.add(component(dir, ModelDirectory.UNET, new UNet2DConditionModel(unetConfig)));
        comps.add(component(dir, ModelDirectory.VAE, new AutoencoderKL(vaeConfig)));
        return new ModelInfo(dir, family(unetJson, teConfig), sched.path("prediction_type").asText("epsilon"),
                vaeConfig.downsamplingFactor(), comps);
    }

    /** SDXL's UNet takes added (text_time) conditioning; the other families are told apart by ModelFamily. */
    static String family(JsonNode unet, ClipTextConfig te) {
        if (unet.hasNonNull("addition_embed_type")) return "SDXL";
        ModelFamily f = ModelFamily.fromConfigs(unet, te);
        return f == null ? "unsupported" : f.label();
    }

    private static Component component(Path dir, String name, Module module) throws IOException {
        try (SafeTensorsSet w = SafeTensorsSet.openModelWeights(dir.resolve(name), ModelDirectory.weightsBaseName(name))) {
            StateDict.check(module, w, k -> k.endsWith("embeddings.position_ids"));
            Map<String, Integer> dtypes = new TreeMap<>();
            long params = 0;
            for (String n : w.names()) {
                SafeTensors.TensorInfo t = w.info(n);
                dtypes.merge(t.dtype(), 1, Integer::sum);
                if (module.namedParameters().containsKey(n)) params += t.numel();
            }
            long bytes = 0;
            for (SafeTensors f : w.files()) bytes += Files.size(f.file());
            return new Component(name, params, dtypes, bytes, w.files().size());
        }
    }

    public String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("model      ").append(dir).append('\n');
        sb.append("family     ").append(family).append(", ").append(predictionType).append(" prediction\n");
        sb.append("vae        downsampling factor ").append(vaeFactor).append('\n');
        long total = 0;
        for (Component c : components) {
            total += c.parameters();
            sb.append(String.format("%-12s %,15d params  %-24s %10s  %d file%s%n", c.name(), c.parameters(), c.dtypes(),
                    humanBytes(c.bytes()), c.files(), c.files() == 1 ? "" : "s"));
        }
        sb.append(String.format("%-12s %,15d params%n", "total", total));
        return sb.toString();
    }

    static String humanBytes(long b) {
        if (b < 1024) return b + " B";
        if (b < 1024L * 1024) return String.format("%.1f KiB", b / 1024.0);
        if (b < 1024L * 1024 * 1024) return String.format("%.1f MiB", b / (1024.0 * 1024));
        return String.format("%.2f GiB", b / (1024.0 * 1024 * 1024));
    }
}
