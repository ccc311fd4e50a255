package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Ops;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/** diffusers UNet2DConditionModel for SD 1.x / 2.x configs and SDXL's (text_time added conditioning). */
public final class UNet2DConditionModel extends Module {
    public final UNetConfig config;
    final TimestepEmbedding time_embedding;
    /** SDXL only: projects [pooled text | sinusoidal time ids] into the time embedding; null otherwise. */
    final TimestepEmbedding add_embedding;
    final Conv2d conv_in, conv_out;
    final ModuleList<DownBlock2D> down_blocks;
    final UNetMidBlock2DCrossAttn mid_block;
    final ModuleList<UpBlock2D> up_blocks;
    final GroupNorm conv_norm_out;

    public UNet2DConditionModel(UNetConfig c) {
        this.config = c;
        List<Integer> boc = c.blockOutChannels();
        if (!c.midBlockType().equals("UNetMidBlock2DCrossAttn")) {
            throw new IllegalArgumentException("unet mid_block_type '" + c.midBlockType() + "' is not supported");
        }
        int temb = c.timeEmbeddingDim();
        conv_in = child("conv_in", new Conv2d(c.inChannels(), boc.get(0), c.convInKernel(), 1, (c.convInKernel() - 1) / 2));
        time_embedding = child("time_embedding", new TimestepEmbedding(boc.get(0), temb));
        add_embedding = c.textTimeConditioning()
                ? child("add_embedding", new TimestepEmbedding(c.projectionClassEmbeddingsInputDim(), temb)) : null;

        down_blocks = child("down_blocks", new ModuleList<>());
        int out = boc.get(0);
        for (int i = 0; i < c.downBlockTypes().size(); i++) {
            int in = out;
            out = boc.get(i);
            boolean last = i == boc.size() - 1;
            String type = c.downBlockTypes().get(i);
            switch (type) {
                case "CrossAttnDownBlock2D" -> down_blocks.add(new CrossAttnDownBlock2D(c, in, out, temb, c.heads().get(i),
                        c.transformerLayersPerBlock().get(i), !last));
                case "DownBlock2D" -> down_blocks.add(new DownBlock2D(in, out, temb, c.layersPerBlock(), c.normNumGroups(),
                        c.normEps(), !last, c.downsamplePadding()));
                default -> throw new IllegalArgumentException("unet down block type '" + type + "' is not supported");
            }
        }
        int lastBlock = boc.size() - 1;
        mid_block = child("mid_block", new UNetMidBlock2DCrossAttn(c, boc.get(lastBlock), temb, c.heads().get(lastBlock),
                c.transformerLayersPerBlock().get(lastBlock)));

        up_blocks = child("up_blocks", new ModuleList<>());
        List<Integer> rev = new ArrayList<>(boc);
        java.util.Collections.reverse(rev);
        List<Integer> revHeads = new ArrayList<>(c.heads());
        java.util.Collections.reverse(revHeads);
        List<Integer> revDepths = new ArrayList<>(c.transformerLayersPerBlock());
        java.util.Collections.reverse(revDepths);
        out = rev.get(0);
        for (int i = 0; i < c.upBlockTypes().size(); i++) {
            int prevOut = out;
            out = rev.get(i);
            int in = rev.get(Math.min(i + 1, rev.size() - 1));
            boolean last = i == rev.size() - 1;
            String type = c.upBlockTypes().get(i);
            switch (type) {
                case "CrossAttnUpBlock2D" -> up_blocks.add(new CrossAttnUpBlock2D(c, in, prevOut, out, temb, revHeads.get(i),
                        revDepths.get(i), !last));
                case "UpBlock2D" -> up_blocks.add(new UpBlock2D(in, prevOut, out, temb, c.layersPerBlock() + 1,
                        c.normNumGroups(), c.normEps(), !last));
                default -> throw new IllegalArgumentException("unet up block type '" + type + "' is not supported");
            }
        }
        conv_norm_out = child("conv_norm_out", new GroupNorm(c.normNumGroups(), boc.get(0), c.normEps()));
        conv_out = child("conv_out", new Conv2d(boc.get(0), c.outChannels(), c.convOutKernel(), 1, (c.convOutKernel() - 1) / 2));
    }

    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context) {
        return forward(sample, timesteps, context, null, null, null);
    }

    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context, BiConsumer<String, NDArray> probe) {
        return forward(sample, timesteps, context, null, probe, null);
    }

    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context, BiConsumer<String, NDArray> probe,
                           Checkpointing checkpointing) {
        return forward(sample, timesteps, context, null, probe, checkpointing);
    }

    /**
     * Predicts noise (or v) for {@code sample} [B, C, H, W] at integer {@code timesteps} [B] given text states
     * {@code context} [B, L, D] and, for a text_time UNet (SDXL), the {@code added} conditions (null otherwise).
     * {@code probe}, when not null, receives each stage's output by its module name.
     * With {@code checkpointing}, every down, mid and up block is a checkpointed segment whose activations are
     * recomputed in {@link Checkpointing#backward()} instead of being kept.
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context, AddedConditions added,
                           BiConsumer<String, NDArray> probe, Checkpointing checkpointing) {
        BiConsumer<String, NDArray> p = probe == null ? (n, a) -> { } : probe;
        int f = config.downsamplingFactor();
        long h = sample.getShape().get(2), w = sample.getShape().get(3);
        if (h % f != 0 || w % f != 0) {
            throw new IllegalArgumentException("latent size " + h + "x" + w + " is not divisible by the UNet's downsampling factor " + f);
        }
        NDArray tProj = TimestepEmbedding.sinusoidal(timesteps, config.blockOutChannels().get(0), config.flipSinToCos(), config.freqShift())
                .toType(sample.getDataType(), false);
        p.accept("time_proj", tProj);
        NDArray temb = time_embedding.forward(tProj);
        p.accept("time_embedding", temb);
        if (add_embedding != null) temb = temb.add(addEmbedding(added, sample.getDataType(), p));
        else if (added != null) throw new IllegalArgumentException("this UNet takes no added conditions (no addition_embed_type)");

        NDArray x = conv_in.forward(sample);
        p.accept("conv_in", x);
        Checkpointing ck = checkpointing;
        if (ck != null) {
            temb = ck.enter(temb, trainable(time_embedding) || add_embedding != null && trainable(add_embedding)
                    || added != null && ck.conditioningInGraph());
            context = ck.enter(context, ck.conditioningInGraph());
            x = ck.enter(x, trainable(conv_in));
        }
        NDArray tembF = temb, contextF = context;
        List<NDArray> skips = new ArrayList<>();
        skips.add(x);
        for (int i = 0; i < down_blocks.size(); i++) {
            DownBlock2D block = down_blocks.get(i);
            if (ck == null) {
                x = block.forward(x, temb, context, skips);
            } else {
                List<NDArray> produced = ck.run(in -> {
                    List<NDArray> out = new ArrayList<>();
                    block.forward(in.get(0), tembF, contextF, out);
                    return out;
                }, List.of(x));
                skips.addAll(produced);
                x = produced.get(produced.size() - 1);
            }
            p.accept("down_blocks." + i, x);
        }
        x = ck == null ? mid_block.forward(x, temb, context)
                : ck.run(in -> List.of(mid_block.forward(in.get(0), tembF, contextF)), List.of(x)).get(0);
        p.accept("mid_block", x);
        for (int i = 0; i < up_blocks.size(); i++) {
            UpBlock2D block = up_blocks.get(i);
            if (ck == null) {
                x = block.forward(x, temb, context, skips);
            } else {
                int n = block.resnets.size();
                List<NDArray> inputs = new ArrayList<>();
                inputs.add(x);
                inputs.addAll(skips.subList(skips.size() - n, skips.size()));
                skips.subList(skips.size() - n, skips.size()).clear();
                x = ck.run(in -> {
                    List<NDArray> own = new ArrayList<>(in.subList(1, in.size()));
                    return List.of(block.forward(in.get(0), tembF, contextF, own));
                }, inputs).get(0);
            }
            p.accept("up_blocks." + i, x);
        }
        x = conv_norm_out.forward(x);
        p.accept("conv_norm_out", x);
        x = conv_out.forward(Ops.silu(x));
        p.accept("conv_out", x);
        return x;
    }

    /** diffusers' text_time branch: add_embedding(cat(text_embeds, Timesteps(time_ids.flatten()).reshape(B, -1))). */
    private NDArray addEmbedding(AddedConditions added, ai.djl.ndarray.types.DataType dt, BiConsumer<String, NDArray> p) {
        if (added == null || added.textEmbeds() == null || added.timeIds() == null) {
            throw new IllegalArgumentException("this UNet (addition_embed_type text_time) needs text_embeds and time_ids");
        }
        long b = added.textEmbeds().getShape().get(0);
        NDArray timeProj = TimestepEmbedding.sinusoidal(added.timeIds().flatten(), config.additionTimeEmbedDim(),
                config.flipSinToCos(), config.freqShift());
        p.accept("add_time_proj", timeProj);
        NDArray embeds = added.textEmbeds().concat(timeProj.reshape(b, -1).toType(added.textEmbeds().getDataType(), false), 1);
        NDArray aug = add_embedding.forward(embeds.toType(dt, false));
        p.accept("add_embedding", aug);
        return aug;
    }

    private static boolean trainable(Module m) {
        return m.namedParameters().values().stream().anyMatch(sdtrainer.nn.Parameter::isTrainable);
    }
}
