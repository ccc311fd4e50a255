package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Learning-rate schedule after the warm-up: the original tool's three and diffusers' get_scheduler names. */
public enum LrScheduler {
    CONSTANT, LINEAR, COSINE, CONSTANT_WITH_WARMUP, COSINE_WITH_RESTARTS, POLYNOMIAL;

    /** The spelling used on the command line and in config files; picocli lists candidates with it. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
