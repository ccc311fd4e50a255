package sdtrainer.train;

import java.util.Random;

/**
 * Every random draw of a run, derived from the run's seed and from where the draw is made (a counter-based
 * scheme): the data order of pass p, and each sample's noise, timestep, latent sample and caption randomness from
 * its place in the pass. Resuming therefore needs no generator state beyond the seed and the position, and a
 * sample draws the same numbers whether it is trained in one batch or in accumulated micro-batches.
 */
public record RunRandom(long seed) {

    /** Independent streams of one sample; each gets its own generator. */
    public enum Stream { NOISE, TIMESTEP, LATENT, CAPTION, RECIPE }

    /** Where a sample stands in its pass: the optimizer step's index in the pass and the offset in its batch. */
    public record SampleKey(int pass, int batch, int offset) {}

    /** The generator that orders the data of {@code pass}. */
    public Random order(int pass) {
        return new Random(mix(seed, -1, pass, 0, 0, 0));
    }

    /** The generator of one stream of one sample; {@code copy} tells --minibatch_repeat's copies apart. */
    public Random of(Stream stream, SampleKey key, int copy) {
        return new Random(mix(seed, stream.ordinal(), key.pass(), key.batch(), key.offset(), copy));
    }

    /** SplitMix64 folded over the values: well-spread seeds for java.util.Random from small counters. */
    static long mix(long seed, long... values) {
        long h = seed;
        for (long v : values) h = splitmix(h ^ splitmix(v + 0x9E3779B97F4A7C15L));
        return h;
    }

    private static long splitmix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
