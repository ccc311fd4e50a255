package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.List;
import java.util.Map;

/**
 * An optimizer over named parameter groups, with its whole state in the open so a run can be saved and resumed
 * bit for bit. Updates are in place on the parameters' device with grad mode off.
 */
public interface Optimizer {

    List<ParamGroup> groups();

    /** The learning rate the next step of {@code group} uses (for a self-scheduling optimizer, the one it computes). */
    double lr(String group);

    /** Sets a group's learning rate for the following steps (an LR schedule calls this each step). */
    void setLr(String group, double lr);

    /** Applies one update to every parameter that has a gradient. */
    void step();

    /** Clears the gradients of all parameters. */
    void zeroGrad();

    /**
     * Every state tensor under a name derived from its parameter's (the optimizer's own arrays: save them, do not
     * modify or close them); scalars it creates go to {@code stepManager}, which the caller owns.
     */
    Map<String, NDArray> stateDict(NDManager stepManager);

    /** Bytes of optimizer state over all parameters, counting the state each will have after its first update. */
    long stateBytes();

    /** Replaces the state with copies of the given arrays, as written by {@link #stateDict}. */
    void loadStateDict(Map<String, NDArray> dict);
}
