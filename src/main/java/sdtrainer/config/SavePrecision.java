package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Floating-point type of the weights written at save points. */
public enum SavePrecision {
    FP32, FP16, BF16;

    /** The spelling used on the command line and in config files. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
