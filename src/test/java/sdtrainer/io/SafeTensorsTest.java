package sdtrainer.io;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SafeTensorsTest {

    private static final Path SAMPLES = Fixtures.path("safetensors-samples");
    private static final Path TINY = Fixtures.TINY_SD15;

    @TempDir
    Path tmp;

    /** Python repr of a float64 → double ('nan', 'inf', '-inf', '-0.0', '1e-07' ...). */
    private static double pyFloat(String s) {
        return switch (s) {
            case "nan" -> Double.NaN;
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(s);
        };
    }

    private static void assertSameFloat(double expected, double actual, String what) {
        if (Double.isNaN(expected)) assertTrue(Double.isNaN(actual), what + ": expected NaN, got " + actual);
        else assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual),
                what + ": expected " + expected + ", got " + actual);
    }

    @Test
    void readsEveryDtypeOfTheReferenceSample() throws IOException {
        assumeTrue(Files.isDirectory(SAMPLES));
        JsonNode expected = new ObjectMapper().readTree(SAMPLES.resolve("expected.json").toFile());
        long dataStart = expected.get("data_start").asLong();
        assertEquals(expected.get("header_length").asLong() + 8, dataStart);
        try (SafeTensors st = SafeTensors.open(SAMPLES.resolve("dtypes.safetensors"))) {
            Map<String, String> meta = new LinkedHashMap<>();
            expected.get("metadata").fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue().asText()));
            assertEquals(meta, st.metadata());
            assertEquals("ユニコード ✓", st.metadata().get("unicode"));
            Set<String> names = new HashSet<>();
            expected.get("tensors").fieldNames().forEachRemaining(names::add);
            assertEquals(names, st.names());
            for (Iterator<Map.Entry<String, JsonNode>> it = expected.get("tensors").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                JsonNode x = e.getValue();
                SafeTensors.TensorInfo info = st.info(name);
                assertEquals(x.get("dtype").asText(), info.dtype(), name);
                long[] shape = new long[x.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = x.get("shape").get(i).asLong();
                assertArrayEquals(shape, info.shape(), name);
                assertEquals(dataStart + x.get("data_offsets").get(0).asLong(), info.begin(), name);
                assertEquals(dataStart + x.get("data_offsets").get(1).asLong(), info.end(), name);
                JsonNode values = x.get("values_row_major");
                assertEquals(values.size(), info.numel(), name);
                DType dtype = DType.valueOf(info.dtype());
                TensorData t = st.read(name);
                if (dtype.isFloating()) {
                    float[] f = st.readFloats(name);
                    for (int i = 0; i < f.length; i++) {
                        double want = pyFloat(values.get(i).asText());
                        // Every stored value is exact in its dtype; F64 is checked at full precision.
                        double got = dtype == DType.F64 ? t.data().getDouble(i * 8) : f[i];
                        assertSameFloat(dtype == DType.F64 ? want : (float) want, got, name + "[" + i + "]");
                    }
                } else {
                    long[] l = t.toLongs();
                    for (int i = 0; i < l.length; i++) {
                        JsonNode v = values.get(i);
                        assertEquals(v.isBoolean() ? (v.booleanValue() ? 1 : 0) : v.longValue(), l[i], name + "[" + i + "]");
                    }
                }
            }
            assertArrayEquals(new long[]{0, 1, -1, 4611686018427387904L, Long.MIN_VALUE, Long.MAX_VALUE}, st.readLongs("i64"));
            assertArrayEquals(new long[]{0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, st.readLongs("i32"));
            TensorFileException notInt = assertThrows(TensorFileException.class, () -> st.readLongs("f32"));
            assertTrue(notInt.getMessage().contains("not I64 or I32"), notInt.getMessage());
        }
    }

    @Test
    void loadsEveryDtypeIntoTheEngine() throws IOException {
        assumeTrue(Files.isDirectory(SAMPLES));
        try (SafeTensors st = SafeTensors.open(SAMPLES.resolve("dtypes.safetensors"));
             NDManager m = NDManager.newBaseManager()) {
            Map<String, DataType> want = Map.of("f64", DataType.FLOAT32, "f32", DataType.FLOAT32, "f16", DataType.FLOAT32,
                    "bf16", DataType.FLOAT32, "i64", DataType.INT64, "i32", DataType.INT32, "i16", DataType.INT32,
                    "i8", DataType.INT8, "u8", DataType.UINT8, "bool", DataType.BOOLEAN);
            for (Map.Entry<String, DataType> e : want.entrySet()) {
                NDArray a = st.load(e.getKey(), m);
                assertEquals(e.getValue(), a.getDataType(), e.getKey());
                assertEquals(new Shape(st.info(e.getKey()).shape()), a.getShape(), e.getKey());
            }
            assertArrayEquals(st.readFloats("bf16"), st.load("bf16", m).toFloatArray());
            assertArrayEquals(st.readFloats("f16"), st.load("f16", m).toFloatArray());
            assertArrayEquals(new long[]{0, 1, -1, 4611686018427387904L, Long.MIN_VALUE, Long.MAX_VALUE},
                    st.load("i64", m).toLongArray());
            assertArrayEquals(new int[]{0, 1, -1, 32767, -32768}, st.load("i16", m).toIntArray());
            assertArrayEquals(new int[]{0, 1, 128, 255}, st.load("u8", m).toUint8Array());
            assertArrayEquals(new boolean[]{true, false, true}, st.load("bool", m).toBooleanArray());
            assertEquals(42.5f, st.load("scalar_f32", m).getFloat());
            assertEquals(new Shape(0, 3), st.load("empty_f32", m).getShape());
        }
    }

    @Test
    void loadedArraysOwnTheirMemory() throws IOException {
        assumeTrue(Files.isDirectory(SAMPLES));
        try (SafeTensors st = SafeTensors.open(SAMPLES.resolve("dtypes.safetensors"));
             NDManager m = NDManager.newBaseManager()) {
            float[] before = st.readFloats("matrix_f32");
            NDArray a = st.load("matrix_f32", m);
            a.addi(100f); // would fault on a read-only mapping
            assertArrayEquals(before, st.readFloats("matrix_f32"));
            assertEquals(100f, a.getFloat(0, 0));
        }
    }

    @Test
    void readsTheTinyUnet() throws IOException {
        Path file = TINY.resolve("unet").resolve("diffusion_pytorch_model.safetensors");
        assumeTrue(Files.isRegularFile(file));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(304, st.names().size(), "305 header keys minus __metadata__");
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertArrayEquals(new long[]{32, 4, 3, 3}, st.info("conv_in.weight").shape());
            assertArrayEquals(new long[]{32}, st.info("conv_in.bias").shape());
            assertArrayEquals(new long[]{4, 32, 3, 3}, st.info("conv_out.weight").shape());
            long params = 0;
            for (String n : st.names()) {
                assertEquals("F32", st.info(n).dtype(), n);
                params += st.info(n).numel();
            }
            assertEquals(1_106_212, params, "parameter count stated in the fixture README");
        }
    }

    /** One tensor of each dtype with awkward values, written and read back bit for bit. */
    @Test
    void roundTripsEveryDtype() throws IOException {
        Map<String, TensorData> in = new LinkedHashMap<>();
        for (DType d : DType.values()) {
            ByteBuffer b = ByteBuffer.allocate(6 * d.size()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) (d == DType.BOOL ? i & 1 : i * 37 + d.ordinal()));
            in.put("t_" + d.name().toLowerCase(Locale.ROOT), new TensorData(d, new long[]{2, 3}, b));
        }
        in.put("scalar", TensorData.ofFloats(new long[0], new float[]{3.5f}));
        in.put("empty", TensorData.ofFloats(new long[]{0, 4}, new float[0]));
        Path file = tmp.resolve("all.safetensors");
        SafeTensorsWriter.write(file, in, Map.of("format", "pt", "note", "ü"));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(in.keySet(), st.names());
            assertEquals(Map.of("format", "pt", "note", "ü"), st.metadata());
            for (Map.Entry<String, TensorData> e : in.entrySet()) assertEquals(e.getValue(), st.read(e.getKey()), e.getKey());
        }
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left behind");
        }
    }

    /** Our writer follows the reference conventions exactly, so rewriting the reference sample reproduces it. */
    @Test
    void rewritingTheReferenceSampleIsByteIdentical() throws IOException {
        Path src = SAMPLES.resolve("dtypes.safetensors");
        assumeTrue(Files.isRegularFile(src));
        Path out = tmp.resolve("copy.safetensors");
        try (SafeTensors st = SafeTensors.open(src)) {
            Map<String, TensorData> all = new HashMap<>();
            for (String n : st.names()) all.put(n, st.read(n));
            SafeTensorsWriter.write(out, all, st.metadata());
        }
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(out));
    }

    @Test
    void convertsFloatTensorsToTheTargetType() throws IOException {
        float[] values = {1f, -2.5f, 0.1f, 65504f, 1e-7f, Float.POSITIVE_INFINITY, Float.NaN, 1f + 0x1p-11f};
        Map<String, TensorData> in = Map.of("w", TensorData.ofFloats(new long[]{8}, values),
                "ids", TensorData.ofLongs(new long[]{2}, new long[]{7, -7}));
        Path f16 = tmp.resolve("h.safetensors"), bf16 = tmp.resolve("b.safetensors");
        SafeTensorsWriter.write(f16, in, Map.of(), DType.F16);
        SafeTensorsWriter.write(bf16, in, Map.of(), DType.BF16);
        try (SafeTensors h = SafeTensors.open(f16); SafeTensors b = SafeTensors.open(bf16)) {
            assertEquals("F16", h.info("w").dtype());
            assertEquals("BF16", b.info("w").dtype());
            assertEquals("I64", h.info("ids").dtype(), "integers are not converted");
            assertArrayEquals(new long[]{7, -7}, h.readLongs("ids"));
            ByteBuffer hb = h.bytes("w"), bb = b.bytes("w");
            for (int i = 0; i < values.length; i++) {
                assertEquals(HalfFloats.floatToHalf(values[i]), hb.getShort(i * 2), "f16 " + values[i]);
                assertEquals(HalfFloats.floatToBf16(values[i]), bb.getShort(i * 2), "bf16 " + values[i]);
            }
            assertEquals(0x3C00, hb.getShort(0) & 0xffff);
            assertEquals(0x3F80, bb.getShort(0) & 0xffff);
            assertEquals(0x3C00, hb.getShort(14) & 0xffff, "1+2^-11 ties to even");
            assertArrayEquals(new float[]{1f, -2.5f, 0.0999755859375f}, Arrays.copyOf(h.readFloats("w"), 3));
        }
    }

    @Test
    void writesEngineArrays() throws IOException {
        Path file = tmp.resolve("nd.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.arange(6f).reshape(2, 3);
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            arrays.put("w_t", w.transpose()); // non-contiguous view must be written in logical order
            arrays.put("half", w.toType(DataType.FLOAT16, false));
            arrays.put("idx", m.create(new long[]{4, 5}));
            SafeTensorsWriter.writeArrays(file, arrays, Map.of("format", "pt"), null);
            try (SafeTensors st = SafeTensors.open(file)) {
                assertArrayEquals(new long[]{3, 2}, st.info("w_t").shape());
                assertArrayEquals(new float[]{0, 3, 1, 4, 2, 5}, st.readFloats("w_t"));
                assertEquals("F16", st.info("half").dtype());
                assertArrayEquals(new float[]{0, 1, 2, 3, 4, 5}, st.readFloats("half"));
                assertArrayEquals(new long[]{4, 5}, st.readLongs("idx"));
                assertTrue(st.load("w_t", m).contentEquals(w.transpose()));
            }
        }
    }

    // ---- malformed files: each names the file and the defect ----

    private Path file(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** A file with this header text (padded like the reference) followed by {@code dataBytes} zero bytes. */
    private Path withHeader(String name, String header, int dataBytes) throws IOException {
        return withHeader(name, header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private Path withHeader(String name, byte[] header, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return file(name, b.array());
    }

    private static void assertDefect(Path file, String defect) {
        TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensors.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(defect), "names the defect '" + defect + "': " + e.getMessage());
        assertEquals(file, e.file());
    }

    @Test
    void rejectsFileShorterThanTheLengthField() throws IOException {
        assertDefect(file("short.safetensors", new byte[]{1, 0, 0}), "shorter than the 8-byte header length");
    }

    @Test
    void rejectsTruncatedHeader() throws IOException {
        Path ok = withHeader("x.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        byte[] all = Files.readAllBytes(ok);
        assertDefect(file("truncated.safetensors", Arrays.copyOf(all, 30)), "runs past the end of the file");
    }

    @Test
    void rejectsHeaderLengthPastEof() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 13);
        assertDefect(file("eof.safetensors", b.array()), "declared header length 13 runs past the end of the file (20 bytes)");
    }

    @Test
    void rejectsAbsurdHeaderLengthWithoutAllocating() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertDefect(file("huge.safetensors", b.array()), "declared header length 18446744073709551615 runs past the end");
        // A length under the file size but over the cap: a sparse file makes this cheap.
        Path sparse = tmp.resolve("sparse.safetensors");
        try (var ch = java.nio.channels.FileChannel.open(sparse, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 200L << 20));
            ch.write(ByteBuffer.wrap(new byte[1]), (300L << 20));
        }
        assertDefect(sparse, "exceeds the limit of 104857600 bytes");
    }

    @Test
    void rejectsNonUtf8Header() throws IOException {
        byte[] h = "{\"__metadata__\":{\"a\":\"\u00ff\"}}".getBytes(StandardCharsets.ISO_8859_1);
        assertDefect(withHeader("latin1.safetensors", h, 0), "header is not valid UTF-8");
    }

    @Test
    void rejectsHeaderThatIsNotAJsonObject() throws IOException {
        assertDefect(withHeader("array.safetensors", "[1,2]   ", 0), "header is not a JSON object");
        assertDefect(withHeader("broken.safetensors", "{\"a\":{\"dtype\":", 0), "header is not valid JSON");
        assertDefect(withHeader("trailing.safetensors", "{} {}", 0), "content after its JSON object");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        assertDefect(withHeader("dtype.safetensors", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4),
                "tensor 'a' has unknown dtype 'F8_E4M3'");
    }

    @Test
    void rejectsMissingOrInvalidFields() throws IOException {
        assertDefect(withHeader("nodtype.safetensors", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                "tensor 'a' has no dtype string");
        assertDefect(withHeader("noshape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
                "tensor 'a' has no valid shape");
        assertDefect(withHeader("negshape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                "tensor 'a' has invalid shape [-1]");
        assertDefect(withHeader("offs.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                "tensor 'a' has no valid data_offsets");
        assertDefect(withHeader("backwards.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4),
                "end before they begin");
        assertDefect(withHeader("overflow.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4), "size overflows");
    }

    @Test
    void rejectsShapeThatDoesNotMatchTheByteLength() throws IOException {
        assertDefect(withHeader("mismatch.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12),
                "tensor 'a' of F32[2, 2] needs 16 bytes but its data_offsets [0, 12] span 12");
    }

    @Test
    void rejectsOffsetsOutOfTheDataRegion() throws IOException {
        assertDefect(withHeader("range.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8),
                "tensor 'a' has data_offsets [4, 12] outside the data region of 8 bytes");
    }

    @Test
    void rejectsOverlappingTensors() throws IOException {
        assertDefect(withHeader("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "tensors 'a' and 'b' overlap");
    }

    @Test
    void rejectsDuplicateNames() throws IOException {
        assertDefect(withHeader("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "duplicate key: 'a'");
    }

    @Test
    void rejectsNonStringMetadata() throws IOException {
        assertDefect(withHeader("meta.safetensors", "{\"__metadata__\":{\"steps\":100}}", 0),
                "__metadata__ value of 'steps' is number, not a string");
        assertDefect(withHeader("meta2.safetensors", "{\"__metadata__\":[]}", 0), "__metadata__ is not a JSON object");
    }

    @Test
    void missingTensorNamesTheFile() throws IOException {
        Path p = withHeader("one.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        try (SafeTensors st = SafeTensors.open(p)) {
            TensorFileException e = assertThrows(TensorFileException.class, () -> st.bytes("b"));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("no tensor named 'b'"), e.getMessage());
            assertNull(st.info("b"));
        }
    }
}
