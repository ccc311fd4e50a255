package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Learning-rate schedule after the warm-up, as in the original tool. */
public enum LrScheduler {
    CONSTANT, LINEAR, COSINE;

    /** The spelling used on the command line and in config files; picocli lists candidates with it. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
