package sdtrainer.network;

import ai.djl.ndarray.NDManager;
import sdtrainer.pipeline.StableDiffusion;

import java.util.Locale;

/** Builds the adapter network the training options ask for. */
public final class NetworkFactory {
    private NetworkFactory() {}

    /**
     * A fresh, unattached network over {@code sd}.
     *
     * @param type         "lora" or "eh"
     * @param rank         LoRA rank (ignored for EH)
     * @param alpha        LoRA alpha; 0 means alpha = rank (ignored for EH)
     * @param ehGroups     EH block count (ignored for LoRA)
     * @param upOnly       adapt only the UNet's up_blocks
     * @param trainEncoder adapt the text encoder too
     * @param paramManager owns the parameters; its device is theirs
     * @param seed         LoRA down-weight initialisation
     */
    public static Network create(StableDiffusion sd, String type, int rank, double alpha, int ehGroups, boolean upOnly,
                                 boolean trainEncoder, NDManager paramManager, long seed) {
        return create(sd, type, rank, alpha, 0, 0, ehGroups, upOnly, trainEncoder, paramManager, seed);
    }

    /** As above, with LoCon's {@code convRank} (kohya's conv_dim; 0 = none) and {@code convAlpha} for LoRA. */
    public static Network create(StableDiffusion sd, String type, int rank, double alpha, int convRank, double convAlpha,
                                 int ehGroups, boolean upOnly, boolean trainEncoder, NDManager paramManager, long seed) {
        return switch (type.toLowerCase(Locale.ROOT)) {
            case "lora" -> LoraNetwork.create(sd.unet(), trainEncoder ? sd.textEncoder() : null, rank, alpha, convRank,
                    convAlpha, upOnly, paramManager, seed);
            case "eh" -> EhNetwork.create(sd.unet(), trainEncoder ? sd.textEncoder() : null, ehGroups, upOnly, paramManager);
            default -> throw new IllegalArgumentException("unknown network type '" + type + "' (lora, eh)");
        };
    }
}
