package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.TrainConfig;
import sdtrainer.network.Network;
import sdtrainer.nn.Parameter;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.optim.ParamGroup;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run trains: the adapter network over a frozen model, or the UNet (whole or, with --up_only, its up
 * blocks) and with --train_encoder the text encoder. Freezes the rest and groups the trained tensors by learning
 * rate ("text_encoder", "unet").
 */
public final class Trainables {
    private static final Logger LOG = LoggerFactory.getLogger(Trainables.class);

    private final StableDiffusion sd;
    private final Network network;
    private final List<ParamGroup> groups;
    private final boolean textEncoderLearns;

    private Trainables(StableDiffusion sd, Network network, List<ParamGroup> groups, boolean textEncoderLearns) {
        this.sd = sd;
        this.network = network;
        this.groups = List.copyOf(groups);
        this.textEncoderLearns = textEncoderLearns;
    }

    /** @param network the attached adapter to train, or null to train the model itself */
    public static Trainables of(TrainConfig cfg, StableDiffusion sd, Network network) {
        sd.vae().setRequiresGrad(false);
        sd.unet().setTraining(true);
        List<ParamGroup> groups = new ArrayList<>();
        double teLr = cfg.learningRates().teLr(), unetLr = cfg.learningRates().unetLr();
        if (network != null) {
            sd.textEncoder().setRequiresGrad(false);
            sd.unet().setRequiresGrad(false);
            if (!network.teParameters().isEmpty()) groups.add(new ParamGroup("text_encoder", network.teParameters(), teLr));
            groups.add(new ParamGroup("unet", network.unetParameters(), unetLr));
            return new Trainables(sd, network, groups, !network.teParameters().isEmpty());
        }
        sd.textEncoder().setRequiresGrad(cfg.trainEncoder());
        sd.unet().setRequiresGrad(!cfg.upOnly());
        if (cfg.upOnly()) sd.unet().children().get("up_blocks").setRequiresGrad(true);
        if (cfg.trainEncoder()) {
            sd.textEncoder().setTraining(true);
            groups.add(new ParamGroup("text_encoder", trainable(sd.textEncoder().namedParameters()), teLr));
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
        sd.vae().toType(DataType.FLOAT16);
        if (!textEncoderLearns) sd.textEncoder().toType(DataType.FLOAT16);
        if (network != null) sd.unet().toType(DataType.FLOAT16);
        LOG.info("--amp: frozen parts in float16 (vae{}{}), trained parameters in float32",
                textEncoderLearns ? "" : ", text encoder", network != null ? ", unet base" : "");
    }
}
