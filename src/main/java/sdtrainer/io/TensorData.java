package sdtrainer.io;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor held in plain Java: dtype, shape and its little-endian, row-major bytes. It lets file code
 * work without the engine; {@link #toNDArray} and {@link #fromNDArray} bridge to DJL.
 * Tensors are limited to 2 GiB of data each (one ByteBuffer).
 */
public record TensorData(DType dtype, long[] shape, ByteBuffer data) {

    public TensorData {
        shape = shape.clone();
        long numel = numel(shape);
        long bytes = Math.multiplyExact(numel, (long) dtype.size());
        if (data.remaining() != bytes) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                    + bytes + " bytes, got " + data.remaining());
        }
        data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public long[] shape() { return shape.clone(); }

    /** The bytes as a fresh little-endian view positioned at 0 (views share content, not position). */
    @Override
    public ByteBuffer data() { return data.duplicate().order(ByteOrder.LITTLE_ENDIAN); }

    public long numel() { return numel(shape); }

    /** Element count; throws on a negative dimension or a product that overflows a long. */
    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static TensorData ofFloats(long[] shape, float[] values) {
        ByteBuffer b = allocate(values.length * 4L);
        b.asFloatBuffer().put(values);
        return new TensorData(DType.F32, shape, b);
    }

    public static TensorData ofLongs(long[] shape, long[] values) {
        ByteBuffer b = allocate(values.length * 8L);
        b.asLongBuffer().put(values);
        return new TensorData(DType.I64, shape, b);
    }

    /** Any dtype's values as float32 (floats widened or narrowed, integers and booleans converted). */
    public float[] toFloats() {
        int n = checkedLength();
        float[] out = new float[n];
        ByteBuffer b = data();
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> { for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = HalfFloats.halfToFloat(b.getShort(i * 2)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = HalfFloats.bf16ToFloat(b.getShort(i * 2)); }
            default -> { long[] l = toLongs(); for (int i = 0; i < n; i++) out[i] = l[i]; }
        }
        return out;
    }

    /** Integer or boolean values as long (U8 unsigned, BOOL as 0/1); floating dtypes are refused. */
    public long[] toLongs() {
        if (dtype.isFloating()) throw new IllegalStateException("toLongs() on a " + dtype + " tensor");
        int n = checkedLength();
        long[] out = new long[n];
        ByteBuffer b = data();
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case I64 -> b.getLong(i * 8);
                case I32 -> b.getInt(i * 4);
                case I16 -> b.getShort(i * 2);
                case I8 -> b.get(i);
                case U8 -> b.get(i) & 0xff;
                case BOOL -> b.get(i) != 0 ? 1 : 0;
                default -> throw new AssertionError(dtype);
            };
        }
        return out;
    }

    /** This tensor converted to another floating dtype (F64, F32, F16 or BF16), rounding to nearest even. */
    public TensorData toFloatType(DType target) {
        if (!dtype.isFloating() || !target.isFloating()) {
            throw new IllegalArgumentException("cannot convert " + dtype + " to " + target + ": both must be floating");
        }
        if (target == dtype) return this;
        int n = checkedLength();
        ByteBuffer out = allocate((long) n * target.size());
        if (dtype == DType.F64 && target == DType.F32) {
            // Straight from double avoids a double rounding through an intermediate type.
            ByteBuffer b = data();
            for (int i = 0; i < n; i++) out.putFloat(i * 4, (float) b.getDouble(i * 8));
        } else if (target == DType.F64) {
            float[] f = toFloats();
            for (int i = 0; i < n; i++) out.putDouble(i * 8, f[i]);
        } else {
            // F64 → F16/BF16 goes through float32; the double rounding is accepted for 16-bit targets.
            float[] f = toFloats();
            for (int i = 0; i < n; i++) {
                switch (target) {
                    case F32 -> out.putFloat(i * 4, f[i]);
                    case F16 -> out.putShort(i * 2, HalfFloats.floatToHalf(f[i]));
                    case BF16 -> out.putShort(i * 2, HalfFloats.floatToBf16(f[i]));
                    default -> throw new AssertionError(target);
                }
            }
        }
        return new TensorData(target, shape, out);
    }

    /**
     * Copies this tensor into a new engine array that owns its memory. Floating dtypes become FLOAT32
     * (BF16 is converted in Java, never handed to the engine); integer and boolean dtypes keep their type,
     * except I16, which becomes INT32 because creating a DJL INT16 array aborts the JVM like BFLOAT16.
     */
    public NDArray toNDArray(NDManager manager) {
        Shape s = new Shape(shape);
        if (dtype == DType.I16) {
            long[] l = toLongs();
            ByteBuffer direct = ByteBuffer.allocateDirect(l.length * 4).order(ByteOrder.nativeOrder());
            for (long v : l) direct.putInt((int) v);
            direct.flip();
            return manager.create(direct, s, DataType.INT32);
        }
        if (dtype.isFloating() && dtype != DType.F32) {
            float[] f = toFloats();
            ByteBuffer direct = ByteBuffer.allocateDirect(f.length * 4).order(ByteOrder.nativeOrder());
            direct.asFloatBuffer().put(f);
            return manager.create(direct, s, DataType.FLOAT32);
        }
        ByteBuffer direct = ByteBuffer.allocateDirect(data.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        direct.put(data()).flip();
        return wrap(dtype, shape, direct, manager);
    }

    /** Whether the engine takes this dtype's bytes as stored (F32 and the integer types but I16). */
    static boolean engineTakesAsStored(DType d) {
        return d != DType.I16 && !(d.isFloating() && d != DType.F32);
    }

    /** An engine array over {@code direct} itself (libtorch keeps the buffer as its storage, no copy). */
    static NDArray wrap(DType d, long[] shape, ByteBuffer direct, NDManager manager) {
        return manager.create(direct, new Shape(shape), engineType(d));
    }

    /** Copies an engine array (any device, any layout) into Java memory; BFLOAT16 and INT16 arrays are refused. */
    public static TensorData fromNDArray(NDArray array) {
        DType dtype = DType.of(array.getDataType());
        NDArray cpu = array.getDevice().equals(Device.cpu()) ? array : array.toDevice(Device.cpu(), true);
        try {
            ByteBuffer src = cpu.toByteBuffer();
            ByteBuffer copy = allocate(src.remaining());
            copy.put(src.order(ByteOrder.LITTLE_ENDIAN)).flip();
            return new TensorData(dtype, array.getShape().getShape(), copy);
        } finally {
            if (cpu != array) cpu.close();
        }
    }

    private static DataType engineType(DType d) {
        return switch (d) {
            case BOOL -> DataType.BOOLEAN;
            case U8 -> DataType.UINT8;
            case I8 -> DataType.INT8;
            case I32 -> DataType.INT32;
            case I64 -> DataType.INT64;
            case F32 -> DataType.FLOAT32;
            default -> throw new AssertionError(d);
        };
    }

    private int checkedLength() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException("tensor of " + n + " elements is too large for a Java array");
        return (int) n;
    }

    static ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor of " + bytes + " bytes exceeds 2 GiB");
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Equal when dtype, shape and bytes are equal (records would compare the arrays by identity). */
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && t.dtype == dtype && Arrays.equals(t.shape, shape) && t.data.equals(data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + data.hashCode();
    }

    @Override
    public String toString() {
        return "TensorData[" + dtype + " " + Arrays.toString(shape) + "]";
    }
}
