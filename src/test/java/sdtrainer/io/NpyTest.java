package sdtrainer.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

import static org.junit.jupiter.api.Assertions.*;

class NpyTest {

    // Written by NumPy 2.4.6 with numpy.lib.format.write_array (base64 of the whole file).
    /** [[1.5, -2, 0.25], [3, inf, -0.0]] as <f4, format 1.0. */
    static final String F4 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAgD4AAEBAAACAfwAAAIA=";
    /** [1, 0.1, -65504, nan, 6e-8] as <f2. */
    static final String F2 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPGYu//sAfgEA";
    /** [[0, -1], [2**62, -2**63]] as <i8. */
    static final String I8 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAP//////////AAAAAAAAAEAAAAAAAAAAgA==";
    /** arange(6).reshape(3, 2) as <f8, format 2.0. */
    static final String F8_V2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAAAIQAAAAAAAABBAAAAAAAAAFEA=";
    /** 0-d array 7 as <i4. */
    static final String SCALAR_I4 = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAA";
    /** [True, False, True]. */
    static final String B1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=";
    /** [0, 128, 255] as |u1. */
    static final String U1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAgP8=";
    /** asfortranarray(arange(6).reshape(2, 3)) as <f4. */
    static final String FORTRAN = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=";
    /** arange(3) as >f4. */
    static final String BIG_ENDIAN = "k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=";

    @TempDir
    Path tmp;

    private Path file(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private Path numpy(String name, String base64) throws IOException {
        return file(name, Base64.getDecoder().decode(base64));
    }

    @Test
    void readsArraysNumpyWrote() throws IOException {
        TensorData f4 = Npy.read(numpy("f4.npy", F4));
        assertEquals(DType.F32, f4.dtype());
        assertArrayEquals(new long[]{2, 3}, f4.shape());
        assertArrayEquals(new float[]{1.5f, -2f, 0.25f, 3f, Float.POSITIVE_INFINITY, -0.0f}, f4.toFloats());

        TensorData f2 = Npy.read(numpy("f2.npy", F2));
        assertEquals(DType.F16, f2.dtype());
        float[] h = f2.toFloats();
        assertEquals(1f, h[0]);
        assertEquals(0.0999755859375f, h[1]);
        assertEquals(-65504f, h[2]);
        assertTrue(Float.isNaN(h[3]));
        assertEquals(0x1p-24f, h[4], "6e-8 is the smallest f16 subnormal");

        TensorData i8 = Npy.read(numpy("i8.npy", I8));
        assertArrayEquals(new long[]{0, -1, 1L << 62, Long.MIN_VALUE}, i8.toLongs());

        TensorData v2 = Npy.read(numpy("v2.npy", F8_V2));
        assertEquals(DType.F64, v2.dtype());
        assertArrayEquals(new long[]{3, 2}, v2.shape());
        assertArrayEquals(new float[]{0, 1, 2, 3, 4, 5}, v2.toFloats());

        TensorData scalar = Npy.read(numpy("s.npy", SCALAR_I4));
        assertArrayEquals(new long[0], scalar.shape());
        assertArrayEquals(new long[]{7}, scalar.toLongs());

        assertArrayEquals(new long[]{1, 0, 1}, Npy.read(numpy("b.npy", B1)).toLongs());
        assertArrayEquals(new long[]{0, 128, 255}, Npy.read(numpy("u.npy", U1)).toLongs());
    }

    /** Our header layout is NumPy's, so writing the same array gives the same file. */
    @Test
    void writesTheBytesNumpyWrites() throws IOException {
        for (String sample : List.of(F4, F2, I8, SCALAR_I4, B1, U1)) {
            byte[] numpy = Base64.getDecoder().decode(sample);
            TensorData t = Npy.read(file("in.npy", numpy));
            assertArrayEquals(numpy, Npy.toBytes(t));
            Path out = tmp.resolve("out.npy");
            Npy.write(out, t);
            assertArrayEquals(numpy, Files.readAllBytes(out));
        }
    }

    @Test
    void roundTripsEveryNumpyDtypeAndLargeHeaders() throws IOException {
        for (DType d : DType.values()) {
            if (d == DType.BF16) continue;
            byte[] raw = new byte[12 * d.size()];
            for (int i = 0; i < raw.length; i++) raw[i] = (byte) (d == DType.BOOL ? i % 2 : i * 29 + 3);
            TensorData t = new TensorData(d, new long[]{3, 1, 4}, java.nio.ByteBuffer.wrap(raw));
            Path p = tmp.resolve(d + ".npy");
            Npy.write(p, t);
            assertEquals(t, Npy.read(p), d.toString());
            assertEquals(0, (Files.size(p) - raw.length) % 64, "header aligned to 64 bytes");
        }
        // Enough dimensions that the header outgrows format 1.0's 16-bit length field.
        long[] shape = new long[25_000];
        Arrays.fill(shape, 1);
        TensorData many = TensorData.ofFloats(shape, new float[]{2.5f});
        Path p = tmp.resolve("many.npy");
        Npy.write(p, many);
        assertEquals(2, Files.readAllBytes(p)[6], "format 2.0");
        assertEquals(many, Npy.read(p));
    }

    @Test
    void refusesBf16() {
        TensorData bf = TensorData.ofFloats(new long[]{1}, new float[]{1}).toFloatType(DType.BF16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.write(tmp.resolve("b.npy"), bf));
        assertTrue(e.getMessage().contains("NumPy has no BF16"), e.getMessage());
    }

    @Test
    void bridgesToTheEngine() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray half = Npy.read(numpy("f2.npy", F2)).toNDArray(m);
            assertEquals(DataType.FLOAT32, half.getDataType());
            assertEquals(new Shape(5), half.getShape());
            NDArray ids = Npy.read(numpy("i8.npy", I8)).toNDArray(m);
            assertEquals(DataType.INT64, ids.getDataType());
            assertArrayEquals(new long[]{0, -1, 1L << 62, Long.MIN_VALUE}, ids.toLongArray());

            NDArray x = m.arange(12f).reshape(3, 4).div(7f);
            Path p = tmp.resolve("x.npy");
            Npy.write(p, TensorData.fromNDArray(x));
            NDArray back = Npy.read(p).toNDArray(m);
            assertEquals(x.getShape(), back.getShape());
            assertArrayEquals(x.toFloatArray(), back.toFloatArray());
        }
    }

    // ---- malformed files: each names the file and the defect ----

    private static void assertDefect(Path file, String defect) {
        TensorFileException e = assertThrows(TensorFileException.class, () -> Npy.read(file));
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(defect), "names the defect '" + defect + "': " + e.getMessage());
    }

    /** A v1.0 file with this header dict (padded) and {@code dataBytes} zero bytes. */
    private Path withHeader(String name, String dict, int dataBytes) throws IOException {
        String h = dict + " ".repeat(63 - (10 + dict.length()) % 64) + "\n";
        byte[] header = h.getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[10 + header.length + dataBytes];
        byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) header.length, (byte) (header.length >> 8)};
        System.arraycopy(magic, 0, all, 0, 10);
        System.arraycopy(header, 0, all, 10, header.length);
        return file(name, all);
    }

    @Test
    void rejectsMissingMagic() throws IOException {
        assertDefect(file("text.npy", "hello world".getBytes(StandardCharsets.US_ASCII)), "missing \\x93NUMPY magic");
    }

    @Test
    void rejectsTruncatedHeader() throws IOException {
        byte[] ok = Base64.getDecoder().decode(F4);
        assertDefect(file("cut.npy", Arrays.copyOf(ok, 9)), "truncated .npy header");
        assertDefect(file("cut2.npy", Arrays.copyOf(ok, 60)), "declared header length 118 runs past the end of the data (60 bytes)");
    }

    @Test
    void rejectsMalformedHeader() throws IOException {
        assertDefect(withHeader("garbage.npy", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8), "malformed .npy header");
        assertDefect(withHeader("keys.npy", "{'descr': '<f4', 'shape': (2,), }", 8), "header keys are [descr, shape]");
        assertDefect(withHeader("structured.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8),
                "malformed .npy header");
        assertDefect(withHeader("dtype.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16), "unsupported dtype '<c8'");
    }

    @Test
    void rejectsFortranOrderAndBigEndian() throws IOException {
        assertDefect(numpy("fortran.npy", FORTRAN), "Fortran order; only C order is supported");
        assertDefect(numpy("big.npy", BIG_ENDIAN), "dtype '>f4' is big-endian");
    }

    @Test
    void rejectsDataThatDoesNotMatchTheShape() throws IOException {
        assertDefect(withHeader("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20),
                "data is 20 bytes but <f4 shape [2, 3] needs 24");
        assertDefect(withHeader("long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12),
                "data is 12 bytes but <f4 shape [2] needs 8");
    }

    @Test
    void rejectsLyingShapeWithoutAllocating() throws IOException {
        assertDefect(withHeader("lie.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", 8),
                "data is 8 bytes but <f8 shape [100000, 100000] needs 80000000000");
        assertDefect(withHeader("overflow.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8),
                "is invalid or too large");
    }
}
