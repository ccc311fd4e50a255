package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Linear;

/**
 * transformers CLIPTextModelWithProjection (SDXL's second text encoder, OpenCLIP bigG): a CLIPTextModel whose
 * pooled output also goes through {@code text_projection} (Linear, no bias) to give {@code text_embeds}.
 */
public final class ClipTextModelWithProjection extends ClipTextModel {
    public static final String ARCHITECTURE = "CLIPTextModelWithProjection";
    final Linear text_projection;

    public ClipTextModelWithProjection(ClipTextConfig config) {
        super(config);
        text_projection = child("text_projection", new Linear(config.hiddenSize(), config.projectionDim(), false));
    }

    /** text_embeds: the projected pooled output of a forward pass. */
    public NDArray textEmbeds(Output o) {
        return text_projection.forward(o.pooled());
    }
}
