package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;

/**
 * diffusers' {@code added_cond_kwargs} for {@code addition_embed_type: text_time} (SDXL): the pooled, projected
 * text embedding [B, P] and the size ids [B, 6] = [orig_h, orig_w, crop_top, crop_left, target_h, target_w].
 */
public record AddedConditions(NDArray textEmbeds, NDArray timeIds) {}
