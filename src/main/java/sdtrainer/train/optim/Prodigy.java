package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prodigy (Mishchenko and Defazio 2023) as its authors' prodigyopt computes it: Adam whose step size d is
 * estimated from how far the parameters have moved from where they started ({@code p0}) against the
 * accumulated gradients ({@code s}). The effective learning rate is d times the groups' lr (all groups share
 * one lr, or have 0); {@link #lr} reports it. d, d_max, d_numerator and the step count k are part of the state.
 * One difference in storage only: prodigyopt keeps p0 of an all-zero parameter as one scalar zero; here it is
 * always the full (sliced) copy, which gives the same numbers.
 */
public final class Prodigy extends ParamStateOptimizer {

    public static final String EXP_AVG = "exp_avg";
    public static final String EXP_AVG_SQ = "exp_avg_sq";
    public static final String S = "s";
    public static final String P0 = "p0";

    /** prodigyopt's options; {@code beta3} NaN means sqrt(beta2), its None. */
    public record Options(double beta1, double beta2, double beta3, double eps, double weightDecay, boolean decouple,
                          boolean useBiasCorrection, boolean safeguardWarmup, double d0, double dCoef,
                          double growthRate, int sliceP) {
        /** prodigyopt's defaults. */
        public static Options defaults() {
            return new Options(0.9, 0.999, Double.NaN, 1e-8, 0.0, true, false, false, 1e-6, 1.0,
                    Double.POSITIVE_INFINITY, 1);
        }

        public Options {
            AdamW.checkBetas(beta1, beta2);
            if (!Double.isNaN(beta3) && !(beta3 >= 0 && beta3 < 1)) {
                throw new IllegalArgumentException("beta3 must lie in [0, 1), got " + beta3);
            }
            if (!(eps >= 0) || !(weightDecay >= 0)) {
                throw new IllegalArgumentException("eps and weight_decay must not be negative, got " + eps + ", " + weightDecay);
            }
            if (!(d0 > 0) || !(dCoef > 0) || !(growthRate > 0) || sliceP < 1) {
                throw new IllegalArgumentException("d0, d_coef and growth_rate must be > 0 and slice_p >= 1, got "
                        + d0 + ", " + dCoef + ", " + growthRate + ", " + sliceP);
            }
        }
    }

    private final Options o;
    private double d;
    private double dMax;
    private double dNumerator;
    private long k;

    public Prodigy(List<ParamGroup> groups, Options options) {
        super(groups);
        this.o = options;
        this.d = options.d0();
        this.dMax = options.d0();
        commonLr();
    }

    /** prodigyopt's lr: the largest group lr; every other group must have it too, or 0. */
    private double commonLr() {
        double lr = groups().stream().mapToDouble(g -> groupLr(g.name())).max().orElse(0);
        for (ParamGroup g : groups()) {
            double own = groupLr(g.name());
            if (own != lr && own != 0) {
                throw new IllegalArgumentException("prodigy needs one learning rate for all parameter groups (or 0), got "
                        + own + " for '" + g.name() + "' and " + lr);
            }
        }
        return lr;
    }

    @Override
    public double lr(String group) {
        return d * super.lr(group);
    }

    /** The current estimate d. */
    public double d() {
        return d;
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> s = new LinkedHashMap<>();
        NDArray sliced = sliced(param);
        s.put(S, sliced.zerosLike());
        s.put(P0, sliced.duplicate());
        sliced.close();
        if (o.beta1() > 0) s.put(EXP_AVG, zeros(param));
        s.put(EXP_AVG_SQ, zeros(param));
        return s;
    }

    private NDArray sliced(NDArray t) {
        NDArray flat = t.flatten();
        if (o.sliceP() == 1) return flat;
        try (flat) {
            return flat.get(new NDIndex("::" + o.sliceP()));
        }
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double lr) {
        throw new AssertionError("Prodigy steps all parameters together");
    }

    @Override
    void stepWithGradModeOff() {
        double beta3 = Double.isNaN(o.beta3()) ? Math.sqrt(o.beta2()) : o.beta3();
        double lr = commonLr();
        double biasCorrection = o.useBiasCorrection()
                ? Math.sqrt(1 - Math.pow(o.beta2(), k + 1)) / (1 - Math.pow(o.beta1(), k + 1)) : 1;
        double dlr = d * lr * biasCorrection;
        double numerator = dNumerator * beta3;
        double deltaNumerator = 0, dDenom = 0;
        try (NDScope scope = new NDScope()) {
            // the gradients (with coupled weight decay added, as prodigyopt adds it to p.grad) for the second pass
            Map<String, NDArray> grads = new HashMap<>();
            for (ParamGroup g : groups()) {
                boolean learns = groupLr(g.name()) > 0;
                for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
                    NDArray p = e.getValue();
                    NDArray grad = gradient(p);
                    if (grad == null) continue;
                    if (o.weightDecay() != 0 && !o.decouple()) grad = grad.add(p.mul((float) o.weightDecay()));
                    grads.put(e.getKey(), grad);
                    ParamState s = state(e.getKey(), p);
                    if (!learns) continue;
                    NDArray slicedGrad = sliced(grad);
                    // d / d0 instead of d keeps the numbers away from float underflow (as prodigyopt does)
                    deltaNumerator += (d / o.d0()) * dlr * slicedGrad.dot(s.get(P0).sub(sliced(p))).getFloat();
                    if (o.beta1() > 0) s.get(EXP_AVG).muli((float) o.beta1()).addi(grad.mul((float) (d * (1 - o.beta1()))));
                    s.get(EXP_AVG_SQ).muli((float) o.beta2()).addi(grad.mul((float) (d * d * (1 - o.beta2()))).muli(grad));
                    double alpha = o.safeguardWarmup() ? (d / o.d0()) * d : (d / o.d0()) * dlr;
                    s.get(S).muli((float) beta3).addi(slicedGrad.mul((float) alpha));
                    dDenom += s.get(S).abs().sum().getFloat();
                }
            }
            if (dDenom == 0) return; // no progress to estimate from: prodigyopt skips the step
            if (lr > 0) {
                double dHat = o.dCoef() * (numerator + deltaNumerator) / dDenom;
                if (d == o.d0()) d = Math.max(d, dHat);
                dMax = Math.max(dMax, dHat);
                d = Math.min(dMax, d * o.growthRate());
            }
            dNumerator = numerator + deltaNumerator;
            for (ParamGroup g : groups()) {
                for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
                    NDArray grad = grads.get(e.getKey());
                    if (grad == null) continue;
                    NDArray p = e.getValue();
                    ParamState s = state(e.getKey(), p);
                    s.step++;
                    NDArray denom = s.get(EXP_AVG_SQ).sqrt().addi((float) (d * o.eps()));
                    if (o.weightDecay() != 0 && o.decouple()) p.addi(p.mul((float) (-o.weightDecay() * dlr)));
                    NDArray direction = o.beta1() > 0 ? s.get(EXP_AVG).div(denom).muli((float) -dlr)
                            : grad.div(denom).muli((float) (-dlr * d));
                    p.addi(direction);
                }
            }
            k++;
        }
    }

    /** The parameter's gradient, attached to the open scope; null if it has none. */
    private static NDArray gradient(NDArray p) {
        PtNDArray grad = JniUtils.getGradient((PtNDArray) p);
        if (grad != null) NDScope.register(grad);
        return grad;
    }

    @Override
    Map<String, Double> scalars() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("d", d);
        m.put("d_max", dMax);
        m.put("d_numerator", dNumerator);
        m.put("k", (double) k);
        return m;
    }

    @Override
    void loadScalars(Map<String, Double> values) {
        d = values.get("d");
        dMax = values.get("d_max");
        dNumerator = values.get("d_numerator");
        k = values.get("k").longValue();
    }
}
