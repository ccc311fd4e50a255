package sdtrainer.io;

import ai.djl.ndarray.types.DataType;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of the tensor files we read and write, named as safetensors names them.
 * Declaration order is the reference writer's dtype order; files lay tensors out widest-ranked first.
 */
public enum DType {
    BOOL(1, "|b1"),
    U8(1, "|u1"),
    I8(1, "|i1"),
    I16(2, "<i2"),
    F16(2, "<f2"),
    BF16(2, null),
    I32(4, "<i4"),
    F32(4, "<f4"),
    F64(8, "<f8"),
    I64(8, "<i8");

    private final int size;
    private final String npyDescr;

    DType(int size, String npyDescr) {
        this.size = size;
        this.npyDescr = npyDescr;
    }

    /** Bytes per element. */
    public int size() { return size; }

    public boolean isFloating() {
        return this == F16 || this == BF16 || this == F32 || this == F64;
    }

    /** The NumPy little-endian type string, e.g. {@code <f4}; empty for BF16, which NumPy lacks. */
    public Optional<String> npyDescr() { return Optional.ofNullable(npyDescr); }

    /** The safetensors dtype of that name, empty when unknown. */
    public static Optional<DType> parse(String name) {
        for (DType d : values()) if (d.name().equals(name)) return Optional.of(d);
        return Optional.empty();
    }

    /** The dtype for a NumPy type string such as {@code <f4} or {@code |u1}; empty when unsupported. */
    public static Optional<DType> fromNpy(String descr) {
        for (DType d : values()) if (descr.equals(d.npyDescr)) return Optional.of(d);
        return Optional.empty();
    }

    /** torch's name of a floating dtype, as configs write it ({@code "torch_dtype": "float16"}). */
    public String torchName() {
        return switch (this) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F32 -> "float32";
            case F64 -> "float64";
            default -> throw new IllegalArgumentException(name() + " is not a floating dtype");
        };
    }

    /** The dtype of an engine array; BFLOAT16 and INT16 are refused because DJL aborts the JVM on them. */
    public static DType of(DataType type) {
        return switch (type) {
            case BOOLEAN -> BOOL;
            case UINT8 -> U8;
            case INT8 -> I8;
            case INT32 -> I32;
            case INT64 -> I64;
            case FLOAT16 -> F16;
            case FLOAT32 -> F32;
            case FLOAT64 -> F64;
            default -> throw new IllegalArgumentException(
                    "no tensor-file dtype for engine type " + type.toString().toLowerCase(Locale.ROOT));
        };
    }
}
