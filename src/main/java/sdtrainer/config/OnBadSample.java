package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What training does with a dataset entry that cannot be read. */
public enum OnBadSample {
    FAIL, SKIP;

    /** The spelling used on the command line and in config files. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
