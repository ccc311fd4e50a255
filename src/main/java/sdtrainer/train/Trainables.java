package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.TrainConfig;
import sdtrainer.network.Network;
import sdtrainer.nn.Parameter;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.train.optim.ParamGroup;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run trains: the adapter network over a frozen model, or the UNet (whole or, with --up_only, its up
 * blocks) and with --train_encoder the text encoders (SDXL: both). Freezes the rest and groups the trained tensors
 * by learning rate ("text_encoder", "unet"); a second encoder's names carry its folder ("text_encoder_2.") so
 * that names stay unique.
 */
public final class Trainables {
    private static final Logger LOG = LoggerFactory.getLogger(Trainables.class);

    private final DiffusionModel sd;
    private final Network network;
    private final List<ParamGroup> groups;
    private final boolean textEncoderLearns;

    private Trainables(DiffusionModel sd, Network network, List<ParamGroup> groups, boolean textEncoderLearns) {
        this.sd = sd;
        this.network = network;
        this.groups = List.copyOf(groups);
        this.textEncoderLearns = textEncoderLearns;
    }

    /** @param network the attached adapter to train, or null to train the model itself */
    public static Trainables of(TrainConfig cfg, DiffusionModel sd, Network network) {
        sd.vae().setRequiresGrad(false);
        sd.unet().setTraining(true);
        List<ParamGroup> groups = new ArrayList<>();
        double teLr = cfg.learningRates().teLr(), unetLr = cfg.learningRates().unetLr();
        if (network != null) {
            sd.textEncoders().values().forEach(te -> te.setRequiresGrad(false));
            sd.unet().setRequiresGrad(false);
            if (!network.teParameters().isEmpty()) groups.add(new ParamGroup("text_encoder", network.teParameters(), teLr));
            groups.add(new ParamGroup("unet", network.unetParameters(), unetLr));
            return new Trainables(sd, network, groups, !network.teParameters().isEmpty());
        }
        sd.textEncoders().values().forEach(te -> te.setRequiresGrad(cfg.trainEncoder()));
        sd.unet().setRequiresGrad(!cfg.upOnly());
        if (cfg.upOnly()) sd.unet().children().get("up_blocks").setRequiresGrad(true);
        if (cfg.trainEncoder()) {
            Map<String, NDArray> te = new LinkedHashMap<>();
            String first = sd.textEncoders().keySet().iterator().next();
            sd.textEncoders().forEach((folder, encoder) -> {
                encoder.setTraining(true);
                trainable(encoder.namedParameters()).forEach((k, v) -> te.put(folder.equals(first) ? k : folder + "." + k, v));
            });
            groups.add(new ParamGroup("text_encoder", te, teLr));
        }
        groups.add(new ParamGroup("unet", trainable(sd.unet().namedParameters()), unetLr));
        return new Trainables(sd, null, groups, cfg.trainEncoder());
    }

    private static Map<String, NDArray> trainable(Map<String, Parameter> params) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        params.forEach((k, p) -> {
            if (p.isTrainable()) out.put(k, p.get());
        });
        return out;
    }

    public List<ParamGroup> groups() {
        return groups;
    }

    /** Every trained tensor by name, in group order (names are unique across groups). */
    public Map<String, NDArray> tensors() {
        Map<String, NDArray> all = new LinkedHashMap<>();
        groups.forEach(g -> all.putAll(g.params()));
        return all;
    }

    public Network network() {
        return network;
    }

    /** Whether gradients must flow through the text encoder (trained itself, or adapted by the network). */
    public boolean textEncoderLearns() {
        return textEncoderLearns;
    }

    /**
     * --amp: the frozen parts compute in float16 (the VAE, the text encoder unless it learns, and the base UNet
     * under an adapter); trained parameters, the loss and the optimizer stay in float32.
     */
    public void halfPrecisionForFrozenParts() {
        if (!sd.vaeNeedsFloat32()) sd.vae().toType(DataType.FLOAT16);
        if (!textEncoderLearns) sd.textEncoders().values().forEach(te -> te.toType(DataType.FLOAT16));
        if (network != null) sd.unet().toType(DataType.FLOAT16);
        LOG.info("--amp: frozen parts in float16 ({}{}{}), trained parameters in float32",
                sd.vaeNeedsFloat32() ? "not the vae: its config asks for float32" : "vae",
                textEncoderLearns ? "" : ", text encoder", network != null ? ", unet base" : "");
    }
}
