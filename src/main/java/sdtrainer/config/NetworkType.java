package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Adapter network trained when {@code --lora} is above 0. */
public enum NetworkType {
    LORA, EH;

    /** The spelling used on the command line and in config files. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
