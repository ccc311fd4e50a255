package sdtrainer.nn;

import ai.djl.pytorch.jni.JniUtils;

/** Turns autograd recording off on this thread for a block (inference, optimizer updates), then restores it. */
public final class NoGrad implements AutoCloseable {
    private final boolean previous;

    public NoGrad() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
