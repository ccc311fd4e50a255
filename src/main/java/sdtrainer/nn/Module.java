package sdtrainer.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A tiny module system: parameters and children registered by name, so that the dotted paths of
 * {@link #namedParameters()} are exactly the diffusers / transformers state-dict keys.
 */
public abstract class Module {
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training;

    protected final <M extends Module> M child(String name, M module) {
        if (children.put(name, module) != null || parameters.containsKey(name)) {
            throw new IllegalStateException("duplicate member '" + name + "' in " + getClass().getSimpleName());
        }
        return module;
    }

    protected final Parameter parameter(String name, long... shape) {
        Parameter p = new Parameter(new Shape(shape));
        if (parameters.put(name, p) != null || children.containsKey(name)) {
            throw new IllegalStateException("duplicate member '" + name + "' in " + getClass().getSimpleName());
        }
        return p;
    }

    public Map<String, Module> children() { return Collections.unmodifiableMap(children); }

    /** Every parameter below this module keyed by its dotted path, in registration order. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collectParameters("", out);
        return out;
    }

    private void collectParameters(String prefix, Map<String, Parameter> out) {
        parameters.forEach((n, p) -> out.put(prefix + n, p));
        children.forEach((n, c) -> c.collectParameters(prefix + n + ".", out));
    }

    /** Every module below (and including, under the key "") this one keyed by its dotted path. */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String path, Map<String, Module> out) {
        out.put(path, this);
        children.forEach((n, c) -> c.collectModules(path.isEmpty() ? n : path + "." + n, out));
    }

    public boolean isTraining() { return training; }

    public void setTraining(boolean t) {
        training = t;
        children.values().forEach(c -> c.setTraining(t));
    }

    /** Marks every parameter of this subtree trainable (collecting gradients) or frozen. */
    public void setRequiresGrad(boolean t) {
        namedParameters().values().forEach(p -> p.setTrainable(t));
    }

    /** Casts every floating parameter to the given type (e.g. FLOAT16 for a frozen base model on CUDA). */
    public void toType(DataType type) {
        for (Parameter p : namedParameters().values()) {
            NDArray v = p.get();
            if (v.getDataType().isFloating() && v.getDataType() != type) p.set(v.toType(type, false));
        }
    }

    public void toDevice(Device device) {
        for (Parameter p : namedParameters().values()) {
            NDArray v = p.get();
            if (!v.getDevice().equals(device)) p.set(v.toDevice(device, false));
        }
    }

    /** The floating type this module computes in: that of its first parameter. */
    public DataType dataType() {
        return namedParameters().values().iterator().next().get().getDataType();
    }

    public long parameterCount() {
        return namedParameters().values().stream().mapToLong(p -> p.shape().size()).sum();
    }
}
