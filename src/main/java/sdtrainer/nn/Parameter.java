package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** A named tensor slot of a module: its expected shape and, once loaded or initialised, its value. */
public final class Parameter {
    private final Shape shape;
    private NDArray value;
    private boolean trainable;

    Parameter(Shape shape) {
        this.shape = shape;
    }

    public Shape shape() { return shape; }

    public NDArray get() {
        if (value == null) throw new IllegalStateException("parameter of shape " + shape + " was never loaded or initialised");
        return value;
    }

    public boolean isSet() { return value != null; }

    /** Replaces the value (closing the old one); the new array must have this parameter's shape. */
    public void set(NDArray v) {
        if (!v.getShape().equals(shape)) {
            throw new IllegalArgumentException("shape " + v.getShape() + " does not match parameter shape " + shape);
        }
        if (value != null && value != v) value.close();
        value = v;
        if (trainable) v.setRequiresGradient(true);
    }

    public boolean isTrainable() { return trainable; }

    void setTrainable(boolean t) {
        if (t == trainable) return;
        trainable = t;
        if (value != null) {
            if (t) value.setRequiresGradient(true);
            else {
                // detach: a frozen parameter must leave the autograd graph entirely
                NDArray detached = value.stopGradient();
                value.close();
                value = detached;
            }
        }
    }
}
