package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** {@code --huber_schedule}: how the huber / smooth-l1 threshold follows the timestep (kohya's names). */
public enum HuberSchedule {
    CONSTANT, EXPONENTIAL, SNR;

    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
