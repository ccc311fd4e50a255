package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** {@code --loss_type}: the elementwise loss between prediction and target, as kohya's conditional_loss. */
public enum LossType {
    L2, L1, HUBER, SMOOTH_L1;

    /** Whether the loss takes a threshold from {@code --huber_c} / {@code --huber_schedule}. */
    public boolean usesHuberC() {
        return this == HUBER || this == SMOOTH_L1;
    }

    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
