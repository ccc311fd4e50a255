package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every optimizer here shares: named parameter groups with their learning rates, per-parameter state
 * tensors plus an update count, created on a parameter's first update, and their state dict. A parameter's
 * state is saved as {@code <param>.<state name>} and {@code <param>.step} (INT64); optimizer-wide numbers as
 * {@code optimizer.<name>}, the bits of the double in an INT64 (readers turn float tensors into float32, which
 * would round it; integers pass unchanged, so they resume bit for bit). Updates run in place with grad mode off,
 * a group in one native call where the optimizer has a kernel for it, else parameter by parameter, each one's
 * temporaries in a scope of their own. Parameters whose gradient was never computed are
 * skipped, as torch skips a parameter whose {@code grad} is None.
 */
abstract class ParamStateOptimizer implements Optimizer {

    public static final String STEP = ".step";
    static final String SCALAR_PREFIX = "optimizer.";

    /** The state tensors of one parameter and the number of updates applied to it. */
    static final class ParamState {
        final Map<String, NDArray> tensors;
        long step;

        ParamState(Map<String, NDArray> tensors, long step) {
            this.tensors = tensors;
            this.step = step;
        }

        NDArray get(String name) { return tensors.get(name); }

        void close() { tensors.values().forEach(NDArray::close); }
    }

    private final List<ParamGroup> groups;
    private final Map<String, Double> lrs = new HashMap<>();
    private final Map<String, ParamState> state = new HashMap<>();
    private boolean oneCallPerGroup = true;

    ParamStateOptimizer(List<ParamGroup> groups) {
        this.groups = List.copyOf(groups);
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

    /** Zero state tensors for a parameter's first update, by state name (in the parameter's manager). */
    abstract Map<String, NDArray> newState(NDArray param);

    /** Updates {@code param} in place from {@code grad}; {@code s.step} already counts this update. */
    abstract void update(NDArray param, NDArray grad, ParamState s, double lr);

    /** Optimizer-wide numbers that are part of the state (none unless overridden). */
    Map<String, Double> scalars() { return Map.of(); }

    /** Restores what {@link #scalars} returned; called with every one of its keys. */
    void loadScalars(Map<String, Double> values) {}

    @Override
    public List<ParamGroup> groups() { return groups; }

    @Override
    public double lr(String group) {
        Double lr = lrs.get(group);
        if (lr == null) throw new IllegalArgumentException("no parameter group named '" + group + "'");
        return lr;
    }

    @Override
    public void setLr(String group, double lr) {
        lr(group);
        ParamGroup.checkLr(group, lr);
        lrs.put(group, lr);
    }

    /** The group's learning rate as set, whatever {@link #lr} reports. */
    final double groupLr(String group) {
        return lrs.get(group);
    }

    @Override
    public final void step() {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            stepWithGradModeOff();
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /**
     * One update of every parameter that has a gradient: each group in one native call where the optimizer has a
     * kernel for it ({@link #updateGroup}), else one parameter at a time, each in a scope of its own.
     */
    void stepWithGradModeOff() {
        for (ParamGroup g : groups) {
            double lr = lrs.get(g.name());
            List<NDArray> params = new ArrayList<>(), grads = new ArrayList<>();
            List<ParamState> states = new ArrayList<>();
            try {
                for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
                    PtNDArray grad = JniUtils.getGradient((PtNDArray) e.getValue());
                    if (grad == null) continue;
                    grads.add(grad);
                    params.add(e.getValue());
                    ParamState s = state(e.getKey(), e.getValue());
                    s.step++;
                    states.add(s);
                }
                if (params.isEmpty()) continue;
                boolean done;
                try (NDScope scope = new NDScope()) {
                    done = oneCallPerGroup && OptimizerKernels.available() && updateGroup(params, grads, states, lr);
                }
                for (int i = 0; !done && i < params.size(); i++) {
                    try (NDScope scope = new NDScope()) {
                        update(params.get(i), grads.get(i), states.get(i), lr);
                    }
                }
            } finally {
                grads.forEach(NDArray::close);
            }
        }
    }

    /**
     * Updates all of a group's parameters that have gradients in one native call (each state's step already counts
     * this update) and returns true; false where this optimizer has no such kernel, so each goes through
     * {@link #update}. Runs in a scope that frees its temporaries.
     */
    boolean updateGroup(List<NDArray> params, List<NDArray> grads, List<ParamState> states, double lr) {
        return false;
    }

    /** Steps tensor by tensor even where {@link #updateGroup} has a kernel (tests compare the two). */
    final ParamStateOptimizer tensorByTensor() {
        oneCallPerGroup = false;
        return this;
    }

    /** The parameter's state, created (outside any scope the caller has open) on first use. */
    final ParamState state(String name, NDArray param) {
        return state.computeIfAbsent(name, k -> {
            Map<String, NDArray> tensors = newState(param);
            tensors.values().forEach(NDScope::unregister);
            return new ParamState(tensors, 0);
        });
    }

    /** The parameter's state, or null before its first update. */
    final ParamState existingState(String name) {
        return state.get(name);
    }

    @Override
    public long stateBytes() {
        long bytes = 0;
        for (ParamGroup g : groups) {
            for (Map.Entry<String, NDArray> e : g.params().entrySet()) {
                ParamState s = state.get(e.getKey());
                if (s != null) {
                    bytes += bytes(s.tensors);
                } else {
                    Map<String, NDArray> fresh = newState(e.getValue());
                    bytes += bytes(fresh);
                    fresh.values().forEach(NDArray::close);
                }
            }
        }
        return bytes;
    }

    private static long bytes(Map<String, NDArray> tensors) {
        return tensors.values().stream().mapToLong(t -> t.size() * t.getDataType().getNumOfBytes()).sum();
    }

    /** Zeros in the parameter's manager, shape and dtype. */
    static NDArray zeros(NDArray param) {
        return param.getManager().zeros(param.getShape(), param.getDataType());
    }

    /** Clears the gradients of all parameters (to zero, as torch 1.13's zero_grad does). */
    @Override
    public void zeroGrad() {
        for (ParamGroup g : groups) {
            for (NDArray p : g.params().values()) {
                JniUtils.zeroGrad((PtNDArray) p);
            }
        }
    }

    /**
     * The state of every parameter that has been updated (the optimizer's own arrays: save them, do not modify or
     * close them); the steps and optimizer-wide numbers are new scalars in {@code stepManager}, which the caller owns.
     */
    @Override
    public Map<String, NDArray> stateDict(NDManager stepManager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (ParamGroup g : groups) {
            for (String name : g.params().keySet()) {
                ParamState s = state.get(name);
                if (s == null) continue;
                s.tensors.forEach((k, v) -> out.put(name + "." + k, v));
                out.put(name + STEP, stepManager.create(s.step));
            }
        }
        scalars().forEach((k, v) -> out.put(SCALAR_PREFIX + k, stepManager.create(Double.doubleToRawLongBits(v))));
        return out;
    }

    /**
     * Replaces the state with copies of the given arrays (as written by {@link #stateDict}), moved to each
     * parameter's manager and device. Parameters absent from the map start fresh; a key that names no parameter,
     * an incomplete entry or a shape or dtype that does not match a fresh state is an error.
     */
    @Override
    public void loadStateDict(Map<String, NDArray> dict) {
        Map<String, NDArray> params = new HashMap<>();
        for (ParamGroup g : groups) params.putAll(g.params());
        Map<String, Map<String, NDArray>> byParam = new HashMap<>();
        Map<String, Double> scalarValues = new HashMap<>();
        for (Map.Entry<String, NDArray> e : dict.entrySet()) {
            String key = e.getKey();
            String name = paramOf(key, params);
            if (name != null) {
                byParam.computeIfAbsent(name, k -> new HashMap<>()).put(key.substring(name.length()), e.getValue());
            } else if (key.startsWith(SCALAR_PREFIX) && scalars().containsKey(key.substring(SCALAR_PREFIX.length()))) {
                scalarValues.put(key.substring(SCALAR_PREFIX.length()), scalar(key, e.getValue()));
            } else {
                throw new IllegalArgumentException("optimizer state '" + key + "' belongs to no parameter of this optimizer");
            }
        }
        if (!scalarValues.isEmpty() || !byParam.isEmpty()) {
            for (String k : scalars().keySet()) {
                if (!scalarValues.containsKey(k)) {
                    throw new IllegalArgumentException("optimizer state needs '" + SCALAR_PREFIX + k + "'");
                }
            }
        }
        Map<String, ParamState> loaded = new HashMap<>();
        try {
            for (Map.Entry<String, Map<String, NDArray>> e : byParam.entrySet()) {
                loaded.put(e.getKey(), loadParam(e.getKey(), params.get(e.getKey()), e.getValue()));
            }
        } catch (RuntimeException ex) {
            loaded.values().forEach(ParamState::close);
            throw ex;
        }
        state.values().forEach(ParamState::close);
        state.clear();
        state.putAll(loaded);
        if (!scalarValues.isEmpty()) loadScalars(scalarValues);
    }

    private ParamState loadParam(String name, NDArray param, Map<String, NDArray> saved) {
        Map<String, NDArray> fresh = newState(param);
        try {
            NDArray step = saved.get(STEP);
            if (step == null || saved.size() != fresh.size() + 1
                    || !fresh.keySet().stream().allMatch(k -> saved.containsKey("." + k))) {
                throw new IllegalArgumentException("optimizer state of '" + name + "' needs " + String.join(", ",
                        fresh.keySet().stream().map(k -> name + "." + k).toList()) + " and " + name + STEP
                        + ", got " + saved.keySet().stream().map(k -> name + k).sorted().toList());
            }
            if (step.size() != 1 || !step.getDataType().isInteger()) {
                throw new IllegalArgumentException("'" + name + STEP + "' must be one integer, got "
                        + step.getDataType() + " " + step.getShape());
            }
            long count;
            try (NDArray asLong = step.toType(DataType.INT64, true)) {
                count = asLong.toLongArray()[0];
            }
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            try {
                for (Map.Entry<String, NDArray> f : fresh.entrySet()) {
                    tensors.put(f.getKey(), copyLike(name + "." + f.getKey(), saved.get("." + f.getKey()), f.getValue()));
                }
            } catch (RuntimeException ex) {
                tensors.values().forEach(NDArray::close);
                throw ex;
            }
            return new ParamState(tensors, count);
        } finally {
            fresh.values().forEach(NDArray::close);
        }
    }

    /** The longest parameter name that {@code key} extends by {@code .<state name>}; null if none. */
    private static String paramOf(String key, Map<String, NDArray> params) {
        String best = null;
        for (int dot = key.indexOf('.'); dot > 0; dot = key.indexOf('.', dot + 1)) {
            if (params.containsKey(key.substring(0, dot))) best = key.substring(0, dot);
        }
        return best;
    }

    private static double scalar(String key, NDArray value) {
        if (value.size() != 1 || value.getDataType() != DataType.INT64) {
            throw new IllegalArgumentException("optimizer state '" + key + "' must be one INT64 (the bits of a double), got "
                    + value.getDataType() + " " + value.getShape());
        }
        return Double.longBitsToDouble(value.toLongArray()[0]);
    }

    private static NDArray copyLike(String key, NDArray src, NDArray like) {
        if (!src.getShape().equals(like.getShape()) || src.getDataType() != like.getDataType()) {
            throw new IllegalArgumentException("optimizer state '" + key + "' is " + src.getDataType() + " "
                    + src.getShape() + " but should be " + like.getDataType() + " " + like.getShape());
        }
        // duplicate: the source may be a read-only memory-mapped tensor and must never be updated in place
        NDArray moved = src.toDevice(like.getDevice(), false);
        NDArray copy = moved.duplicate();
        if (moved != src) moved.close();
        copy.attach(like.getManager());
        NDScope.unregister(copy);
        return copy;
    }
}
