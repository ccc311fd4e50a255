package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with decoupled weight decay, step for step as torch.optim.AdamW's single-tensor path (torch 1.13), with
 * its state in the open so a run can be checkpointed and resumed bit for bit. Updates are in-place engine ops on
 * the parameters' device with grad mode off. Parameters whose gradient was never computed are skipped, as torch
 * skips a parameter whose {@code grad} is None.
 */
public final class AdamW implements Optimizer {

    /** First and second moment and the number of updates applied, for one parameter. */
    private static final class State {
        final NDArray expAvg;
        final NDArray expAvgSq;
        long step;

        State(NDArray expAvg, NDArray expAvgSq, long step) {
            this.expAvg = expAvg;
            this.expAvgSq = expAvgSq;
            this.step = step;
        }
    }

    public static final String EXP_AVG = ".exp_avg";
    public static final String EXP_AVG_SQ = ".exp_avg_sq";
    public static final String STEP = ".step";

    private final List<ParamGroup> groups;
    private final Map<String, Double> lrs = new HashMap<>();
    private final Map<String, State> state = new HashMap<>();
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;

    /** torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
    public AdamW(List<ParamGroup> groups) {
        this(groups, 0.9, 0.999, 1e-8, 1e-2);
    }

    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps, double weightDecay) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas must lie in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
        if (!(eps >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("eps and weight decay must not be negative, got " + eps + ", " + weightDecay);
        }
        this.groups = List.copyOf(groups);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        Map<String, String> owner = new HashMap<>();
        for (ParamGroup g : this.groups) {
            if (lrs.put(g.name(), g.lr()) != null) {
                throw new IllegalArgumentException("two parameter groups are named '" + g.name() + "'");
            }
            for (String p : g.params().keySet()) {
                String other = owner.put(p, g.name());
                if (other != null) {
                    throw new IllegalArgumentException("parameter '" + p + "' is in groups '" + other + "' and '"
                            + g.name() + "'");
                }
            }
        }
    }

    @Override
    public List<ParamGroup> groups() { return groups; }

    @Override
    public double lr(String group) {
        Double lr = lrs.get(group);
        if (lr == null) throw new IllegalArgumentException("no parameter group named '" + group + "'");
        return lr;
    }

    /** Sets a group's learning rate for the following steps (an LR schedule calls this each step). */
    @Override
    public void setLr(String group, double lr) {
        lr(group);
        ParamGroup.checkLr(group, lr);
        lrs.put(group, lr);
    }

    /** Applies one update to every parameter that has a gradient. */
    @Override
    public void step() {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (ParamGroup g : groups) {
                double lr = lrs.get(g.name());
                for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
                    update(e.getKey(), e.getValue(), lr);
                }
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    private void update(String name, NDArray param, double lr) {
        PtNDArray grad = JniUtils.getGradient((PtNDArray) param);
        if (grad == null) return;
        try (grad) {
            State s = state.computeIfAbsent(name, k -> newState(param));
            s.step++;
            // Scalars are rounded to float32 as torch does when it multiplies a float tensor by a Python number.
            double bias1 = 1 - Math.pow(beta1, s.step);
            double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, s.step));
            try (NDScope scope = new NDScope()) {
                param.muli((float) (1 - lr * weightDecay));
                s.expAvg.muli((float) beta1).addi(grad.mul((float) (1 - beta1)));
                s.expAvgSq.muli((float) beta2).addi(grad.mul((float) (1 - beta2)).muli(grad));
                NDArray denom = s.expAvgSq.sqrt().divi((float) bias2Sqrt).addi((float) eps);
                param.addi(s.expAvg.mul((float) (-lr / bias1)).divi(denom));
            }
        }
    }

    private static State newState(NDArray param) {
        NDArray m = param.getManager().zeros(param.getShape(), param.getDataType());
        NDArray v = param.getManager().zeros(param.getShape(), param.getDataType());
        // The state outlives any scope the caller may have open around the training step.
        NDScope.unregister(m, v);
        return new State(m, v, 0);
    }

    /** Clears the gradients of all parameters (to zero, as torch 1.13's zero_grad does). */
    @Override
    public void zeroGrad() {
        for (ParamGroup g : groups) {
            for (NDArray p : g.params().values()) {
                PtNDArray grad = JniUtils.getGradient((PtNDArray) p);
                if (grad == null) continue;
                grad.close();
                JniUtils.zeroGrad((PtNDArray) p);
            }
        }
    }

    /**
     * The state of every parameter that has been updated: {@code <name>.exp_avg}, {@code <name>.exp_avg_sq} (the
     * optimizer's own arrays: save them, do not modify or close them) and {@code <name>.step}, a new INT64 scalar
     * in {@code stepManager}, which the caller owns.
     */
    @Override
    public Map<String, NDArray> stateDict(NDManager stepManager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (ParamGroup g : groups) {
            for (String name : g.params().keySet()) {
                State s = state.get(name);
                if (s == null) continue;
                out.put(name + EXP_AVG, s.expAvg);
                out.put(name + EXP_AVG_SQ, s.expAvgSq);
                out.put(name + STEP, stepManager.create(s.step));
            }
        }
        return out;
    }

    /**
     * Replaces the state with copies of the given arrays (as written by {@link #stateDict}), moved to each
     * parameter's manager and device. Parameters absent from the map start fresh; a key that names no parameter,
     * an incomplete entry or a shape or dtype that does not match its parameter is an error.
     */
    @Override
    public void loadStateDict(Map<String, NDArray> dict) {
        Map<String, NDArray> params = new HashMap<>();
        for (ParamGroup g : groups) params.putAll(g.params());
        for (String key : dict.keySet()) {
            String name = paramOf(key);
            if (name == null || !params.containsKey(name)) {
                throw new IllegalArgumentException("optimizer state '" + key + "' belongs to no parameter of this optimizer");
            }
        }
        Map<String, State> loaded = new HashMap<>();
        try {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                String name = e.getKey();
                NDArray m = dict.get(name + EXP_AVG), v = dict.get(name + EXP_AVG_SQ), step = dict.get(name + STEP);
                if (m == null && v == null && step == null) continue;
                if (m == null || v == null || step == null) {
                    throw new IllegalArgumentException("optimizer state of '" + name + "' needs " + EXP_AVG + ", "
                            + EXP_AVG_SQ + " and " + STEP);
                }
                if (step.size() != 1 || !step.getDataType().isInteger()) {
                    throw new IllegalArgumentException("'" + name + STEP + "' must be one integer, got "
                            + step.getDataType() + " " + step.getShape());
                }
                long count;
                try (NDArray asLong = step.toType(DataType.INT64, true)) {
                    count = asLong.toLongArray()[0];
                }
                loaded.put(name, new State(copyLike(name + EXP_AVG, m, e.getValue()),
                        copyLike(name + EXP_AVG_SQ, v, e.getValue()), count));
            }
        } catch (RuntimeException ex) {
            loaded.values().forEach(AdamW::close);
            throw ex;
        }
        state.values().forEach(AdamW::close);
        state.clear();
        state.putAll(loaded);
    }

    private static String paramOf(String key) {
        for (String suffix : new String[] {EXP_AVG_SQ, EXP_AVG, STEP}) {
            if (key.endsWith(suffix)) return key.substring(0, key.length() - suffix.length());
        }
        return null;
    }

    private static NDArray copyLike(String key, NDArray src, NDArray param) {
        if (!src.getShape().equals(param.getShape()) || src.getDataType() != param.getDataType()) {
            throw new IllegalArgumentException("optimizer state '" + key + "' is " + src.getDataType() + " "
                    + src.getShape() + " but its parameter is " + param.getDataType() + " " + param.getShape());
        }
        // duplicate: the source may be a read-only memory-mapped tensor and must never be updated in place
        NDArray moved = src.toDevice(param.getDevice(), false);
        NDArray copy = moved.duplicate();
        if (moved != src) moved.close();
        copy.attach(param.getManager());
        NDScope.unregister(copy);
        return copy;
    }

    private static void close(State s) {
        s.expAvg.close();
        s.expAvgSq.close();
    }
}
