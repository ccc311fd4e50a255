package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.pipeline.StableDiffusion;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * An adapter network (LoRA or EH) over a frozen Stable Diffusion model. It wraps base layers through their
 * adapter seam, so the model's own parameters and state-dict keys never change; its parameters live in the
 * manager it was created with. Typical training use: {@link NetworkFactory#create}, {@link #attach()}, an
 * optimizer over {@link #unetParameters()} and {@link #teParameters()}, then {@link #save} at save points.
 */
public interface Network {

    /** Installs the adapters on their base layers; a layer that already carries another adapter is an error. */
    void attach();

    /** Removes the adapters from their base layers; the model computes as the base model again. */
    void detach();

    /** Trainable UNet tensors keyed as in the saved file (for the optimizer's UNet group). */
    Map<String, NDArray> unetParameters();

    /** Trainable text-encoder tensors keyed as in the saved file; empty when the text encoder is not adapted. */
    Map<String, NDArray> teParameters();

    /**
     * Writes the network as safetensors: tensors converted to {@code precision} (F32, F16 or BF16), the given
     * metadata (see {@link KohyaMetadata}) plus {@code sshs_model_hash} / {@code sshs_legacy_hash} computed as
     * kohya computes them. The file is replaced atomically.
     */
    void save(Path file, Map<String, String> metadata, DType precision) throws IOException;

    /**
     * Mean |w| of the trainable tensors, grouped by name: {@code lora_up}, {@code lora_down}, {@code to_q},
     * {@code to_k}, {@code to_v}, {@code to_out}, {@code ff_net_0}, {@code ff_net_2}, {@code attn1},
     * {@code attn2}; each group is the average of its tensors' means, and groups without tensors are absent.
     */
    Map<String, Double> weightMeans();

    /**
     * Replaces the parameter values in place (optimizer references stay valid) with those of a file written by
     * us or by kohya for the same layers: for resuming. Missing or unexpected keys and shape (rank) mismatches
     * are reported together in one error naming the file.
     */
    void loadWeights(Path file) throws IOException;

    /** Adds the adapters' weight change into the base weights (detaching first); the network stays detached. */
    void merge();

    /**
     * Reads a LoRA file (ours or kohya-format from elsewhere, any Linear or Conv2d of the model) or an EH file,
     * creating its parameters in {@code manager} with the given multiplier. Not attached yet.
     */
    static Network load(Path file, StableDiffusion sd, double multiplier, NDManager manager) throws IOException {
        return load(file, sd.unet(), sd.textEncoder(), multiplier, manager);
    }

    static Network load(Path file, UNet2DConditionModel unet, ClipTextModel te, double multiplier, NDManager manager)
            throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            boolean eh = st.names().stream().anyMatch(k -> k.startsWith(EhNetwork.UNET_PREFIX + "_")
                    || k.startsWith(EhNetwork.TE_PREFIX + "_"));
            return eh ? EhNetwork.fromFile(st, unet, te, multiplier, manager)
                    : LoraNetwork.fromFile(st, unet, te, multiplier, manager);
        }
    }
}
