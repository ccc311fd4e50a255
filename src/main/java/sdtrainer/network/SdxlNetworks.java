package sdtrainer.network;

import ai.djl.ndarray.NDManager;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.TensorFileException;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.pipeline.StableDiffusionXL;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** LoRA networks over an SDXL model, named as kohya's SDXL LoRA files ({@link SdxlLoraNames}). */
public final class SdxlNetworks {
    private SdxlNetworks() {}

    /**
     * A fresh LoRA for training (see {@link LoraNetwork#create}) over the UNet's transformer layers and, with
     * {@code trainEncoder}, both text encoders' attention and MLP layers; with {@code convRank} > 0 (kohya's
     * conv_dim) also LoCon over the ResNet blocks and resamplers, their 3x3 convs at {@code convRank}.
     */
    public static LoraNetwork createLora(StableDiffusionXL sd, int rank, double alpha, int convRank, double convAlpha,
                                         boolean upOnly, boolean trainEncoder, NDManager manager, long seed) {
        return LoraNetwork.create(trainingTargets(sd.unet(), trainEncoder ? sd.textEncoder() : null,
                trainEncoder ? sd.textEncoder2() : null, upOnly, convRank > 0), rank, alpha, convRank, convAlpha, manager, seed);
    }

    /** A fresh EH network (the original tool's adapter, see {@link EhNetwork#create}) over the SDXL UNet only. */
    public static EhNetwork createEh(StableDiffusionXL sd, int groups, boolean upOnly, NDManager manager) {
        return EhNetwork.create(sd.unet(), null, groups, upOnly, manager);
    }

    /** An adapter file for SDXL: an EH file of the UNet, or a kohya-format LoRA ({@link #load}); not attached yet. */
    public static Network loadAdapter(Path file, StableDiffusionXL sd, double multiplier, NDManager manager) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            if (st.names().stream().anyMatch(k -> k.startsWith(EhNetwork.TE_PREFIX + "_"))) {
                throw new TensorFileException(file, "is an EH file with text-encoder modules; EH adapts only the UNet of an SDXL model");
            }
            if (st.names().stream().anyMatch(k -> k.startsWith(EhNetwork.UNET_PREFIX + "_"))) {
                return EhNetwork.fromFile(st, sd.unet(), null, multiplier, manager);
            }
        }
        return load(file, sd, multiplier, manager);
    }

    /** Reads a kohya-format SDXL LoRA file (any Linear or Conv2d of the three models), not attached yet. */
    public static LoraNetwork load(Path file, StableDiffusionXL sd, double multiplier, NDManager manager) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            if (st.names().stream().anyMatch(k -> k.startsWith(LoraNetwork.TE_PREFIX + "_"))) {
                throw new TensorFileException(file, "names SD 1.x/2.x text-encoder modules (" + LoraNetwork.TE_PREFIX
                        + "_*), not SDXL's " + SdxlLoraNames.TE1_PREFIX + "_* / " + SdxlLoraNames.TE2_PREFIX + "_*");
            }
            return LoraNetwork.fromFile(st, allTargets(sd.unet(), sd.textEncoder(), sd.textEncoder2()), multiplier, manager);
        }
    }

    /** Adds {@code scale} times the file's weight change to the base weights of {@code sd}, in place. */
    public static void merge(StableDiffusionXL sd, Path file, double scale) throws IOException {
        try (NDManager scratch = sd.manager().newSubManager()) {
            load(file, sd, scale, scratch).merge();
        }
    }

    /** kohya's creation order: text encoder 1, text encoder 2, UNet; null encoders are left out. */
    static List<Target> trainingTargets(UNet2DConditionModel unet, ClipTextModel te1, ClipTextModel te2, boolean upOnly,
                                        boolean locon) {
        List<Target> out = new ArrayList<>();
        if (te1 != null) encoderTargets(Targets.training(unet, te1, upOnly, false, LoraNetwork.UNET_PREFIX, SdxlLoraNames.TE1_PREFIX), out);
        if (te2 != null) encoderTargets(Targets.training(unet, te2, upOnly, false, LoraNetwork.UNET_PREFIX, SdxlLoraNames.TE2_PREFIX), out);
        out.addAll(renamed(unet, Targets.training(unet, null, upOnly, false, locon, LoraNetwork.UNET_PREFIX, null)));
        return out;
    }

    /** Every Linear and Conv2d of the three models by kohya SDXL name. */
    static Map<String, Target> allTargets(UNet2DConditionModel unet, ClipTextModel te1, ClipTextModel te2) {
        Map<String, Target> out = new LinkedHashMap<>();
        List<Target> unetTargets = new ArrayList<>();
        for (Target t : Targets.all(unet, te1, LoraNetwork.UNET_PREFIX, SdxlLoraNames.TE1_PREFIX).values()) {
            if (t.textEncoder()) out.put(t.name(), t);
            else unetTargets.add(t);
        }
        for (Target t : Targets.all(unet, te2, LoraNetwork.UNET_PREFIX, SdxlLoraNames.TE2_PREFIX).values()) {
            if (t.textEncoder()) out.put(t.name(), t);
        }
        renamed(unet, unetTargets).forEach(t -> out.put(t.name(), t));
        return out;
    }

    private static void encoderTargets(List<Target> targets, List<Target> out) {
        for (Target t : targets) if (t.textEncoder()) out.add(t);
    }

    private static List<Target> renamed(UNet2DConditionModel unet, List<Target> unetTargets) {
        SdxlLoraNames names = new SdxlLoraNames(unet.config);
        List<Target> out = new ArrayList<>();
        for (Target t : unetTargets) out.add(new Target(names.unet(t.path()), t.path(), t.layer(), false));
        return out;
    }
}
