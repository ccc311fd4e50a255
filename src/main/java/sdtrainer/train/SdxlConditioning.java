package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import sdtrainer.data.Sample;
import sdtrainer.data.SourceSize;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.pipeline.StableDiffusionXL.SizeIds;
import sdtrainer.pipeline.StableDiffusionXL.TextConditioning;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SDXL's Conditioning piece: captions to both encoders' states and the pooled embedding (float32), plus each
 * sample's size ids as kohya builds them, in the graph only when the encoders learn. With
 * {@code --cache_text_encoder_outputs} each distinct caption is encoded once and kept on the CPU (Java heap).
 */
final class SdxlConditioning implements Conditioning {

    private final StableDiffusionXL sd;
    private final boolean learns;
    private final Map<String, float[][]> cache;

    /** @param cacheOutputs encode each caption once (only for frozen encoders: cached states carry no gradient) */
    SdxlConditioning(StableDiffusionXL sd, boolean learns, boolean cacheOutputs) {
        if (learns && cacheOutputs) {
            throw new IllegalArgumentException("--cache_text_encoder_outputs needs frozen text encoders (no --train_encoder, no text-encoder LoRA)");
        }
        this.sd = sd;
        this.learns = learns;
        this.cache = cacheOutputs ? new HashMap<>() : null;
    }

    /** The samples' size ids: their source size and crop (or their own size, uncropped), their own size as target. */
    @Override
    public Encoded encode(List<String> captions, List<Sample> samples, NDManager m) {
        List<SizeIds> sizes = new ArrayList<>();
        for (Sample s : samples) sizes.add(sizeIds(s, sd.vae().config.downsamplingFactor()));
        return encodeWithSizes(captions, sizes, m);
    }

    /** kohya's [orig_h, orig_w, crop_top, crop_left, target_h, target_w] of one sample; latents count in pixels. */
    static SizeIds sizeIds(Sample s, int vaeFactor) {
        int scale = s.isLatent() ? vaeFactor : 1;
        int h = (int) s.shape()[1] * scale, w = (int) s.shape()[2] * scale;
        SourceSize src = s.source();
        return src == null ? SizeIds.uncropped(h, w) : new SizeIds(src.height(), src.width(), src.cropTop(), src.cropLeft(), h, w);
    }

    /** As {@link #encode}, with the size ids given. */
    Encoded encodeWithSizes(List<String> captions, List<SizeIds> sizes, NDManager m) {
        if (captions.size() != sizes.size()) {
            throw new IllegalArgumentException(captions.size() + " captions but " + sizes.size() + " size ids");
        }
        NDArray timeIds = SizeIds.batch(sizes, m).toDevice(m.getDevice(), false);
        TextConditioning text;
        if (learns) {
            TextConditioning t = sd.encodePrompts(captions, m);
            text = new TextConditioning(Ops.castKeepingGrad(t.context(), DataType.FLOAT32),
                    Ops.castKeepingGrad(t.pooled(), DataType.FLOAT32));
        } else if (cache != null) {
            text = cached(captions, m);
        } else {
            try (NoGrad ignored = new NoGrad()) {
                text = fp32(sd.encodePrompts(captions, m));
            }
        }
        return new Encoded(text.context(), text.with(timeIds));
    }

    /** How many distinct captions the cache holds (0 without a cache). */
    int cachedCaptions() {
        return cache == null ? 0 : cache.size();
    }

    private TextConditioning cached(List<String> captions, NDManager m) {
        List<String> missing = new ArrayList<>();
        for (String c : captions) if (!cache.containsKey(c) && !missing.contains(c)) missing.add(c);
        if (!missing.isEmpty()) {
            try (NoGrad ignored = new NoGrad(); NDManager scratch = m.newSubManager()) {
                TextConditioning t = fp32(sd.encodePrompts(missing, scratch));
                for (int i = 0; i < missing.size(); i++) {
                    cache.put(missing.get(i), new float[][] {t.context().get(i).toFloatArray(), t.pooled().get(i).toFloatArray()});
                }
            }
        }
        float[][] first = cache.get(captions.get(0));
        int b = captions.size(), ctx = first[0].length, pooled = first[1].length;
        float[] c = new float[b * ctx], p = new float[b * pooled];
        for (int i = 0; i < b; i++) {
            float[][] e = cache.get(captions.get(i));
            System.arraycopy(e[0], 0, c, i * ctx, ctx);
            System.arraycopy(e[1], 0, p, i * pooled, pooled);
        }
        long width = sd.unet().config.crossAttentionDim();
        return new TextConditioning(m.create(c, new Shape(b, ctx / width, width)).toDevice(m.getDevice(), false),
                m.create(p, new Shape(b, pooled)).toDevice(m.getDevice(), false));
    }

    private static TextConditioning fp32(TextConditioning t) {
        return new TextConditioning(t.context().toType(DataType.FLOAT32, false), t.pooled().toType(DataType.FLOAT32, false));
    }
}
