package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import sdtrainer.io.DType;

/** Floating-point type of the weights written at save points. */
public enum SavePrecision {
    FP32, FP16, BF16;

    /** The file dtype of floating tensors written at this precision. */
    public DType dtype() {
        return switch (this) {
            case FP16 -> DType.F16;
            case BF16 -> DType.BF16;
            case FP32 -> DType.F32;
        };
    }

    /** The spelling used on the command line and in config files. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
