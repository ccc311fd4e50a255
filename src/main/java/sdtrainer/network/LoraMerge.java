package sdtrainer.network;

import ai.djl.ndarray.NDManager;
import sdtrainer.pipeline.StableDiffusion;

import java.io.IOException;
import java.nio.file.Path;

/** Bakes a LoRA (or EH) file into a loaded model's weights. */
public final class LoraMerge {
    private LoraMerge() {}

    /** Adds {@code scale} times the file's weight change to the base weights of {@code sd}, in place. */
    public static void merge(StableDiffusion sd, Path file, double scale) throws IOException {
        try (NDManager scratch = sd.manager().newSubManager()) {
            Network.load(file, sd, scale, scratch).merge();
        }
    }
}
