package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Layout of a full model written at save points: a diffusers folder or one original-layout .safetensors file. */
public enum SaveFormat {
    DIFFUSERS, SINGLE_FILE;

    /** The spelling used on the command line and in config files. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
