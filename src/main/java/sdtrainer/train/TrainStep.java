package sdtrainer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import sdtrainer.data.CaptionRecipe;
import sdtrainer.data.Sample;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.nn.Scopes;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.train.optim.Optimizer;

import java.util.ArrayList;
import java.util.List;

/**
 * One optimizer step, shared by training and {@code bench}: each micro-batch's forward and backward (its loss
 * scaled by its share of the step, so accumulated gradients equal one big batch's), then clipping, the
 * optimizer, and the EMA. Everything a step creates lives in its own scope.
 */
public final class TrainStep {

    /** The step's loss (over all its samples) and the pre-clip gradient norm (NaN when clipping is off). */
    public record Result(float loss, double gradNorm) {}

    /** The pieces a step is made of, chosen once from the config. */
    record Parts(DiffusionModel sd, Trainables trainables, CaptionRecipe captions, Conditioning conditioning, Noising noising,
                 Objective objective, Optimizer optimizer, GradClip clip, Ema ema, RunRandom random, int repeat,
                 boolean checkpointing) {}

    private final Parts p;
    private long updates;

    TrainStep(Parts parts, long updatesDone) {
        this.p = parts;
        this.updates = updatesDone;
    }

    public Result run(StepBatch batch, StepTimer timer) {
        NDManager m = p.sd().manager();
        try (NDScope scope = new NDScope()) {
            NDArray loss = null;
            for (StepBatch.Micro micro : batch.micro()) {
                NDArray l = micro(micro, m, timer);
                loss = loss == null ? l : loss.add(l);
            }
            double norm = p.clip().apply(p.trainables().tensors().values());
            p.optimizer().step();
            p.optimizer().zeroGrad();
            updates++;
            if (p.ema() != null) p.ema().update(updates);
            float value = loss.getFloat();
            timer.mark("optimizer", null);
            return new Result(value, norm);
        }
    }

    /**
     * The loss on held-out samples at one fixed timestep, without gradients or updates: their latents (a VAE
     * posterior sample with the draws' latent noise), the draws' plain noise (no noise recipe) and the captions
     * as given.
     */
    float evaluate(List<Sample> samples, BatchDraws draws, List<String> captions, long timestep) {
        NDManager m = p.sd().manager();
        try (NDScope scope = new NDScope(); NoGrad ignored = new NoGrad()) {
            NDArray latents = latents(samples, draws, m);
            long[] t = new long[samples.size()];
            java.util.Arrays.fill(t, timestep);
            Noising.Noised noised = Noising.Noised.of(p.sd().schedule(), latents, draws.noise(m, latents.getShape()),
                    m.create(t).toDevice(m.getDevice(), false));
            Conditioning.Encoded cond = p.conditioning().encode(captions, samples, m);
            return p.objective().compute(p.sd().unet(), latents, noised, cond.context(), cond.added(), masks(samples, m), null)
                    .loss().getFloat();
        }
    }

    /** Forward and backward of one micro-batch; returns its weighted loss, detached. */
    private NDArray micro(StepBatch.Micro micro, NDManager m, StepTimer timer) {
        timer.start();
        BatchDraws draws = new BatchDraws(p.random(), micro.keys(), p.repeat());
        NDArray latents = latents(micro.samples(), draws, m);
        NDArray mask = masks(micro.samples(), m);
        timer.mark("data", latents);
        List<String> captions = captions(micro.samples(), draws);
        // the micro-batch's activations are freed as soon as its backward is done
        return Scopes.compute(() -> {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                Checkpointing ck = p.checkpointing() ? new Checkpointing(p.trainables().textEncoderLearns()) : null;
                // the forward's own handles go before the backward: the graph holds what it needs and frees it as
                // the backward consumes it, as torch does
                NDArray weighted = Scopes.compute(() -> forward(micro, draws, captions, latents, mask, m, ck, timer),
                        () -> ck == null ? List.of() : ck.held());
                gc.backward(weighted);
                if (ck != null) ck.backward();
                timer.mark("backward", weighted);
                return weighted.stopGradient();
            }
        });
    }

    /** The micro-batch's loss, weighted by its share of the step. */
    private NDArray forward(StepBatch.Micro micro, BatchDraws draws, List<String> captions, NDArray latents,
                            NDArray mask, NDManager m, Checkpointing ck, StepTimer timer) {
        Conditioning.Encoded cond = p.conditioning().encode(captions, micro.samples(), m);
        timer.mark("text_encoder", cond.context());
        NDArray lat = latents, msk = mask;
        int r = p.repeat();
        if (r > 1) {
            lat = lat.tile(new long[] {r, 1, 1, 1});
            cond = cond.tile(r);
            if (msk != null) msk = msk.tile(new long[] {r, 1, 1});
        }
        Noising.Noised noised = p.noising().apply(lat, draws, m);
        NDArray loss = p.objective().compute(p.sd().unet(), lat, noised, cond.context(), cond.added(), msk, ck).loss();
        NDArray weighted = Ops.scale(loss, (float) micro.weight());
        timer.mark("unet_forward", weighted);
        return weighted;
    }

    /** The captions this micro-batch trains on: shuffled, dropped, framed by the caption recipe, per sample. */
    private List<String> captions(List<Sample> samples, BatchDraws draws) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) out.add(p.captions().apply(samples.get(i).caption(), draws.caption(i)));
        return out;
    }

    /** Cached latents (scaled), or images encoded by the VAE: a posterior sample times the scaling factor. */
    private NDArray latents(List<Sample> batch, BatchDraws draws, NDManager m) {
        float scale = p.sd().vae().config.scalingFactor();
        long[] shape = batch.get(0).shape();
        float[] flat = new float[batch.size() * (int) (shape[0] * shape[1] * shape[2])];
        int per = flat.length / batch.size();
        for (int i = 0; i < batch.size(); i++) {
            Sample s = batch.get(i);
            System.arraycopy(s.isLatent() ? s.latent() : s.image(), 0, flat, i * per, per);
        }
        NDArray x = m.create(flat, new Shape(batch.size(), shape[0], shape[1], shape[2]));
        if (batch.get(0).isLatent()) return x.mul(scale);
        try (NoGrad ignored = new NoGrad()) {
            var vae = p.sd().vae();
            var posterior = vae.encode(x.toType(vae.dataType(), false));
            NDArray eps = draws.latentNoise(m, posterior.mean().getShape()).toType(vae.dataType(), false);
            return posterior.sample(eps).toType(DataType.FLOAT32, false).mul(scale);
        }
    }

    private static NDArray masks(List<Sample> batch, NDManager m) {
        if (batch.get(0).mask() == null) return null;
        long h = batch.get(0).shape()[1], w = batch.get(0).shape()[2];
        float[] flat = new float[(int) (batch.size() * h * w)];
        for (int i = 0; i < batch.size(); i++) System.arraycopy(batch.get(i).mask(), 0, flat, (int) (i * h * w), (int) (h * w));
        return m.create(flat, new Shape(batch.size(), h, w));
    }
}
