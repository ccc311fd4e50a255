package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An optimizer whose state tensors are kept block-wise quantised to 8 bits ({@link BlockQuantizer}), as
 * bitsandbytes' 8-bit optimizers keep them: for each update the state is dequantised to float32, the wrapped
 * optimizer's own update runs on it, and the result is quantised back. State tensors named in
 * {@code nonNegative} (second moments) use the unsigned code, the others the signed one. Parameters with fewer
 * than {@code minSize} elements keep float32 state, as bitsandbytes' min_8bit_size does. A state tensor
 * {@code <name>} is saved as {@code <name>.codes} (UINT8, the parameter's shape) and {@code <name>.absmax}
 * (FLOAT32, one per block).
 */
public final class BlockQuantized8bit extends ParamStateOptimizer {

    public static final String CODES = ".codes";
    public static final String ABSMAX = ".absmax";
    /** bitsandbytes' min_8bit_size. */
    public static final int DEFAULT_MIN_SIZE = 4096;
    /** Values per absmax scale. */
    public static final int DEFAULT_BLOCK_SIZE = 2048;
    /** Parameter elements whose states one group call updates in float32 (16 Mi: 64 MiB per state tensor). */
    static final long RUN_ELEMENTS = 1L << 24;

    private final ParamStateOptimizer rule;
    private final Set<String> nonNegative;
    private final int minSize;
    private final int blockSize;
    private long runElements = RUN_ELEMENTS;
    private BlockQuantizer signed;
    private BlockQuantizer unsigned;

    /** {@code rule} supplies the state and the update; its own groups and learning rates are not used. */
    BlockQuantized8bit(List<ParamGroup> groups, ParamStateOptimizer rule, Set<String> nonNegative, int minSize,
                       int blockSize) {
        super(groups);
        if (minSize < 0 || blockSize < 1) {
            throw new IllegalArgumentException("min_8bit_size must be >= 0 and the block size >= 1, got " + minSize
                    + ", " + blockSize);
        }
        this.rule = rule;
        this.nonNegative = Set.copyOf(nonNegative);
        this.minSize = minSize;
        this.blockSize = blockSize;
    }

    /** AdamW with 8-bit moments (bitsandbytes' AdamW8bit). */
    public static BlockQuantized8bit adamW(List<ParamGroup> groups, double beta1, double beta2, double eps,
                                           double weightDecay, int minSize, int blockSize) {
        return new BlockQuantized8bit(groups, new AdamW(List.of(), beta1, beta2, eps, weightDecay),
                Set.of(AdamW.EXP_AVG_SQ), minSize, blockSize);
    }

    /** Lion with an 8-bit momentum (bitsandbytes' Lion8bit). */
    public static BlockQuantized8bit lion(List<ParamGroup> groups, double beta1, double beta2, double weightDecay,
                                          int minSize, int blockSize) {
        return new BlockQuantized8bit(groups, new Lion(List.of(), beta1, beta2, weightDecay), Set.of(), minSize,
                blockSize);
    }

    private boolean quantised(NDArray param) {
        return param.size() >= minSize;
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> full = rule.newState(param);
        if (!quantised(param)) return full;
        Map<String, NDArray> s = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : full.entrySet()) {
            Shape shape = e.getValue().getShape();
            e.getValue().close();
            // codes 0 with absmax 0 dequantise to zeros, like bitsandbytes' fresh state
            s.put(e.getKey() + CODES, param.getManager().zeros(shape, DataType.UINT8));
            s.put(e.getKey() + ABSMAX, param.getManager().zeros(new Shape(BlockQuantizer.blocks(shape.size(), blockSize))));
        }
        return s;
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double lr) {
        ParamState values = dequantised(param, s);
        rule.update(param, grad, values, lr);
        if (values != s) quantise(param, values, s);
    }

    /**
     * The wrapped optimizer's one-call update, where it has one, on the dequantised states of a run of parameters
     * at a time: at most {@link #RUN_ELEMENTS} parameter elements (or one parameter) have float32 states at once,
     * so the step's temporaries stay a small fraction of the float32 state the 8 bits save.
     */
    @Override
    boolean updateGroup(List<NDArray> params, List<NDArray> grads, List<ParamState> states, double lr) {
        for (int from = 0, to; from < params.size(); from = to) {
            long elements = params.get(from).size();
            for (to = from + 1; to < params.size() && elements + params.get(to).size() <= runElements; to++) {
                elements += params.get(to).size();
            }
            try (NDScope scope = new NDScope()) {
                List<ParamState> values = new ArrayList<>();
                for (int i = from; i < to; i++) values.add(dequantised(params.get(i), states.get(i)));
                // the rule answers the same for every run: false on the first leaves every state as it was
                if (!rule.updateGroup(params.subList(from, to), grads.subList(from, to), values, lr)) return false;
                for (int i = from; i < to; i++) {
                    if (values.get(i - from) != states.get(i)) quantise(params.get(i), values.get(i - from), states.get(i));
                }
            }
        }
        return true;
    }

    /** Runs of at most {@code elements} parameter elements per call (tests compare run lengths). */
    BlockQuantized8bit inRunsOf(long elements) {
        runElements = elements;
        return this;
    }

    /** The state in float32 (new arrays in the open scope), or {@code s} itself when it is kept in float32. */
    private ParamState dequantised(NDArray param, ParamState s) {
        if (!quantised(param)) return s;
        Map<String, NDArray> values = new LinkedHashMap<>();
        for (String name : names(s)) {
            values.put(name, quantizer(name, param).dequantize(s.get(name + CODES), s.get(name + ABSMAX)));
        }
        return new ParamState(values, s.step);
    }

    private void quantise(NDArray param, ParamState values, ParamState s) {
        for (Map.Entry<String, NDArray> e : values.tensors.entrySet()) {
            quantizer(e.getKey(), param).quantize(e.getValue(), s.get(e.getKey() + CODES), s.get(e.getKey() + ABSMAX));
        }
    }

    private static List<String> names(ParamState s) {
        return s.tensors.keySet().stream().filter(k -> k.endsWith(CODES))
                .map(k -> k.substring(0, k.length() - CODES.length())).toList();
    }

    private BlockQuantizer quantizer(String state, NDArray like) {
        if (nonNegative.contains(state)) {
            if (unsigned == null) unsigned = new BlockQuantizer(like.getManager(), false, blockSize);
            return unsigned;
        }
        if (signed == null) signed = new BlockQuantizer(like.getManager(), true, blockSize);
        return signed;
    }
}
