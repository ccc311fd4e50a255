package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent as torch.optim.SGD (torch 1.13): weight decay added to the gradient, an optional
 * momentum buffer (started as the first gradient, then {@code m = momentum * m + (1 - dampening) * g}) and
 * Nesterov's variant.
 */
public final class Sgd extends ParamStateOptimizer {

    public static final String MOMENTUM_BUFFER = "momentum_buffer";

    private final double momentum;
    private final double dampening;
    private final double weightDecay;
    private final boolean nesterov;

    public Sgd(List<ParamGroup> groups, double momentum, double dampening, double weightDecay, boolean nesterov) {
        super(groups);
        if (!(momentum >= 0) || !(dampening >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("momentum, dampening and weight decay must not be negative, got "
                    + momentum + ", " + dampening + ", " + weightDecay);
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("nesterov needs a momentum > 0 and no dampening");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> s = new LinkedHashMap<>();
        if (momentum != 0) s.put(MOMENTUM_BUFFER, zeros(param));
        return s;
    }

    @Override
    boolean updateGroup(List<NDArray> params, List<NDArray> grads, List<ParamState> states, double lr) {
        List<NDArray> bufs = momentum != 0 ? states.stream().map(s -> s.get(MOMENTUM_BUFFER)).toList() : List.of();
        OptimizerKernels.sgd(params, grads, bufs, states.stream().mapToLong(s -> s.step).toArray(), (float) -lr,
                (float) momentum, (float) (1 - dampening), (float) weightDecay, nesterov);
        return true;
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double lr) {
        NDArray d = weightDecay != 0 ? grad.add(param.mul((float) weightDecay)) : grad;
        if (momentum != 0) {
            NDArray buf = s.get(MOMENTUM_BUFFER);
            if (s.step == 1) {
                buf.addi(d); // the buffer starts as a copy of the first gradient; it is zeros until now
            } else {
                buf.muli((float) momentum).addi(d.mul((float) (1 - dampening)));
            }
            d = nesterov ? d.add(buf.mul((float) momentum)) : buf;
        }
        param.addi(d.mul((float) -lr));
    }
}
