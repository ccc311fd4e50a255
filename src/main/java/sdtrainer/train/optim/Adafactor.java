package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.Shape;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adafactor (Shazeer and Stern 2018) with transformers' semantics (transformers.optimization.Adafactor, 4.33):
 * the second moment factored into row and column means for tensors of two or more dimensions (over the last
 * two), the update clipped to RMS {@code clipThreshold}, optional first moment ({@code beta1}). With
 * {@code relativeStep} the step size is min(1e-2, 1/sqrt(step)) (min(1e-6 step, ...) with {@code warmupInit})
 * and the groups' learning rates are not used; with {@code scaleParameter} it is multiplied by max(eps2, RMS of
 * the parameter). {@link #lr} then reports the one computed for the group's first updated parameter.
 */
public final class Adafactor extends ParamStateOptimizer {

    public static final String EXP_AVG = "exp_avg";
    public static final String EXP_AVG_SQ = "exp_avg_sq";
    public static final String EXP_AVG_SQ_ROW = "exp_avg_sq_row";
    public static final String EXP_AVG_SQ_COL = "exp_avg_sq_col";

    /** transformers' options; {@code beta1} NaN means no first moment (its None). */
    public record Options(double eps1, double eps2, double clipThreshold, double decayRate, double beta1,
                          double weightDecay, boolean scaleParameter, boolean relativeStep, boolean warmupInit) {
        /** transformers' defaults: eps (1e-30, 1e-3), clip 1, decay -0.8, no beta1, scale and relative step on. */
        public static Options defaults() {
            return new Options(1e-30, 1e-3, 1.0, -0.8, Double.NaN, 0.0, true, true, false);
        }

        public Options {
            if (warmupInit && !relativeStep) throw new IllegalArgumentException("warmup_init needs relative_step");
            if (!(clipThreshold > 0)) throw new IllegalArgumentException("clip_threshold must be > 0, got " + clipThreshold);
            if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight_decay must not be negative, got " + weightDecay);
            if (!Double.isNaN(beta1) && !(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("beta1 must lie in [0, 1), got " + beta1);
            }
        }
    }

    private final Options o;
    /** The step size each parameter got in its last update. */
    private final Map<ParamState, Double> lastLr = new IdentityHashMap<>();

    public Adafactor(List<ParamGroup> groups, Options options) {
        super(groups);
        this.o = options;
    }

    private static boolean factored(NDArray param) {
        return param.getShape().dimension() >= 2;
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> s = new LinkedHashMap<>();
        if (!Double.isNaN(o.beta1())) s.put(EXP_AVG, zeros(param));
        Shape shape = param.getShape();
        if (factored(param)) {
            int d = shape.dimension();
            s.put(EXP_AVG_SQ_ROW, param.getManager().zeros(shape.slice(0, d - 1), param.getDataType()));
            s.put(EXP_AVG_SQ_COL, param.getManager().zeros(shape.slice(0, d - 2).add(shape.get(d - 1)), param.getDataType()));
        } else {
            s.put(EXP_AVG_SQ, zeros(param));
        }
        return s;
    }

    @Override
    public double lr(String group) {
        if (!o.relativeStep()) return super.lr(group);
        ParamGroup g = groups().stream().filter(x -> x.name().equals(group)).findFirst().orElseThrow();
        for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
            ParamState s = existingState(e.getKey());
            if (s == null) continue;
            Double last = lastLr.get(s);
            // a state loaded from a file has no recorded step size yet: recompute it from the parameter now
            return last != null ? last : stepSize(e.getValue(), s.step, 0);
        }
        // before the first step: the one its first parameter would get at step 1
        return g.params().isEmpty() ? relativeStepSize(1) : stepSize(g.params().values().iterator().next(), 1, 0);
    }

    private double relativeStepSize(long step) {
        double min = o.warmupInit() ? 1e-6 * step : 1e-2;
        return Math.min(min, 1.0 / Math.sqrt(step));
    }

    /**
     * transformers' _get_lr. The parameter's RMS is a float32 tensor there, and multiplying by it keeps float32;
     * eps2 is a Python float, so that product is a double.
     */
    private double stepSize(NDArray param, long step, double groupLr) {
        double rel = o.relativeStep() ? relativeStepSize(step) : groupLr;
        if (!o.scaleParameter()) return rel;
        float rms = rms(param).getFloat();
        return rms > o.eps2() ? rms * (float) rel : o.eps2() * rel;
    }

    private static NDArray rms(NDArray t) {
        return t.norm().divi((float) Math.sqrt(t.size()));
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double groupLr) {
        double lr = stepSize(param, s.step, groupLr);
        lastLr.put(s, lr);
        double beta2t = 1.0 - Math.pow(s.step, o.decayRate());
        NDArray squared = grad.square().addi((float) o.eps1());
        NDArray update;
        if (factored(param)) {
            int d = param.getShape().dimension();
            NDArray row = s.get(EXP_AVG_SQ_ROW), col = s.get(EXP_AVG_SQ_COL);
            row.muli((float) beta2t).addi(squared.mean(new int[] {d - 1}).muli((float) (1 - beta2t)));
            col.muli((float) beta2t).addi(squared.mean(new int[] {d - 2}).muli((float) (1 - beta2t)));
            NDArray rFactor = rsqrt(row.div(row.mean(new int[] {d - 2}, true))).expandDims(d - 1);
            NDArray cFactor = rsqrt(col.expandDims(d - 2));
            update = rFactor.mul(cFactor).muli(grad);
        } else {
            NDArray v = s.get(EXP_AVG_SQ);
            v.muli((float) beta2t).addi(squared.muli((float) (1 - beta2t)));
            update = rsqrt(v).muli(grad);
        }
        update.divi(rms(update).divi((float) o.clipThreshold()).maximum(1f));
        update.muli((float) lr);
        if (!Double.isNaN(o.beta1())) {
            NDArray m = s.get(EXP_AVG);
            m.muli((float) o.beta1()).addi(update.muli((float) (1 - o.beta1())));
            update = m;
        }
        if (o.weightDecay() != 0) param.addi(param.mul((float) (-o.weightDecay() * lr)));
        param.subi(update);
    }

    /** torch's rsqrt on the CPU is 1 / sqrt. */
    private static NDArray rsqrt(NDArray x) {
        return NDArrays.div(1f, x.sqrt());
    }
}
