package sdtrainer.train.optim;

import sdtrainer.config.OptimizerArgs;
import sdtrainer.config.OptimizerType;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Locale;

/**
 * Makes the optimizer {@code --optimizer} names from its {@code --optimizer_args}; an argument not given takes
 * the default of the implementation kohya uses (torch's AdamW, bitsandbytes' 8-bit ones, lion-pytorch,
 * prodigyopt, transformers' Adafactor with kohya's relative_step=True, torch's SGD). The arguments are checked
 * by {@link sdtrainer.config.ConfigValidator} first.
 */
public final class Optimizers {
    private static final Logger LOG = LoggerFactory.getLogger(Optimizers.class);

    private Optimizers() {}

    /** The optimizer, after logging the bytes its state will take (the figure the 8-bit ones shrink). */
    public static Optimizer create(OptimizerType type, OptimizerArgs a, List<ParamGroup> groups) {
        Optimizer optimizer = make(type, a, groups);
        long params = groups.stream().flatMap(g -> g.params().values().stream()).mapToLong(p -> p.size()).sum();
        long bytes = optimizer.stateBytes();
        LOG.info(String.format(Locale.ROOT, "optimizer %s%s: state %.1f MiB for %,d trained values (%.2f bytes each)",
                type, a.values().isEmpty() ? "" : " (" + a + ")", bytes / 1048576.0, params,
                params == 0 ? 0.0 : (double) bytes / params));
        return optimizer;
    }

    /** The optimizer, without the log line. */
    public static Optimizer make(OptimizerType type, OptimizerArgs a, List<ParamGroup> groups) {
        double[] betas;
        return switch (type) {
            case ADAMW, ADAMW8BIT -> {
                betas = a.pair("betas", new double[] {0.9, 0.999});
                double eps = a.number("eps", 1e-8), wd = a.number("weight_decay", 1e-2);
                yield type == OptimizerType.ADAMW ? new AdamW(groups, betas[0], betas[1], eps, wd)
                        : BlockQuantized8bit.adamW(groups, betas[0], betas[1], eps, wd, minSize(a),
                        BlockQuantized8bit.DEFAULT_BLOCK_SIZE);
            }
            case LION, LION8BIT -> {
                betas = a.pair("betas", new double[] {0.9, 0.99});
                double wd = a.number("weight_decay", 0);
                yield type == OptimizerType.LION ? new Lion(groups, betas[0], betas[1], wd)
                        : BlockQuantized8bit.lion(groups, betas[0], betas[1], wd, minSize(a),
                        BlockQuantized8bit.DEFAULT_BLOCK_SIZE);
            }
            case PRODIGY -> {
                Prodigy.Options d = Prodigy.Options.defaults();
                betas = a.pair("betas", new double[] {d.beta1(), d.beta2()});
                yield new Prodigy(groups, new Prodigy.Options(betas[0], betas[1], a.number("beta3", d.beta3()),
                        a.number("eps", d.eps()), a.number("weight_decay", d.weightDecay()),
                        a.flag("decouple", d.decouple()), a.flag("use_bias_correction", d.useBiasCorrection()),
                        a.flag("safeguard_warmup", d.safeguardWarmup()), a.number("d0", d.d0()),
                        a.number("d_coef", d.dCoef()), a.number("growth_rate", d.growthRate()),
                        a.integer("slice_p", d.sliceP())));
            }
            case ADAFACTOR -> {
                Adafactor.Options d = Adafactor.Options.defaults();
                double[] eps = a.pair("eps", new double[] {d.eps1(), d.eps2()});
                double beta1 = a.has("beta1") && !a.isNone("beta1") ? a.number("beta1", 0) : Double.NaN;
                yield new Adafactor(groups, new Adafactor.Options(eps[0], eps[1],
                        a.number("clip_threshold", d.clipThreshold()), a.number("decay_rate", d.decayRate()), beta1,
                        a.number("weight_decay", d.weightDecay()), a.flag("scale_parameter", d.scaleParameter()),
                        a.flag("relative_step", d.relativeStep()), a.flag("warmup_init", d.warmupInit())));
            }
            case SGD -> new Sgd(groups, a.number("momentum", 0), a.number("dampening", 0), a.number("weight_decay", 0),
                    a.flag("nesterov", false));
        };
    }

    private static int minSize(OptimizerArgs a) {
        return a.integer("min_8bit_size", BlockQuantized8bit.DEFAULT_MIN_SIZE);
    }
}
