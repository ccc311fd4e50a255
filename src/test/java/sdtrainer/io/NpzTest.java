package sdtrainer.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class NpzTest {

    /** numpy.savez(f, arange(3, dtype='<f4'), w=ones((2, 2), dtype='<f2')): stored entries with zip64 extras. */
    static final String SAVEZ = "UEsDBC0AAAAAAAAAIQA2etR0//////////8FABQAdy5ucHkBABAAiAAAAAAAAACIAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmMicsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCAyKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKADwAPAA8ADxQSwMELQAAAAAAAAAhALaMhlP//////////wkAFABhcnJfMC5ucHkBABAAjAAAAAAAAACMAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgzLCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAAgD8AAABAUEsBAi0DLQAAAAAAAAAhADZ61HSIAAAAiAAAAAUAAAAAAAAAAAAAAIABAAAAAHcubnB5UEsBAi0DLQAAAAAAAAAhALaMhlOMAAAAjAAAAAkAAAAAAAAAAAAAAIABvwAAAGFycl8wLm5weVBLBQYAAAAAAgACAGoAAACGAQAAAAA=";
    /** numpy.savez_compressed(f, x=arange(4, dtype='<i8')): one deflated entry. */
    static final String SAVEZ_COMPRESSED = "UEsDBC0AAAAIAAAAIQDDw9rR//////////8FABQAeC5ucHkBABAAoAAAAAAAAABPAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TaaGuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GiY6mjoKtQoUAC4GKGCE0kxQmhlKAwBQSwECLQMtAAAACAAAACEAw8Pa0U8AAACgAAAABQAAAAAAAAAAAAAAgAEAAAAAeC5ucHlQSwUGAAAAAAEAAQAzAAAAhgAAAAAA";

    @TempDir
    Path tmp;

    private Path numpy(String name, String base64) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, Base64.getDecoder().decode(base64));
        return p;
    }

    @Test
    void readsStoredAndDeflatedArchivesNumpyWrote() throws IOException {
        Map<String, TensorData> a = Npz.read(numpy("a.npz", SAVEZ));
        assertEquals(Set.of("arr_0", "w"), a.keySet());
        assertArrayEquals(new float[]{0, 1, 2}, a.get("arr_0").toFloats());
        assertEquals(DType.F16, a.get("w").dtype());
        assertArrayEquals(new long[]{2, 2}, a.get("w").shape());
        assertArrayEquals(new float[]{1, 1, 1, 1}, a.get("w").toFloats());

        Map<String, TensorData> c = Npz.read(numpy("c.npz", SAVEZ_COMPRESSED));
        assertArrayEquals(new long[]{0, 1, 2, 3}, c.get("x").toLongs());
    }

    @Test
    void roundTripsNamedAndUnnamedArrays() throws IOException {
        Map<String, TensorData> named = new LinkedHashMap<>();
        named.put("latents", TensorData.ofFloats(new long[]{1, 4, 2, 2}, new float[16]).toFloatType(DType.F16));
        named.put("size", TensorData.ofLongs(new long[]{2}, new long[]{512, 768}));
        for (boolean compress : new boolean[]{false, true}) {
            Path p = tmp.resolve("named" + compress + ".npz");
            Npz.write(p, named, compress);
            assertEquals(named, Npz.read(p));
            try (ZipFile z = new ZipFile(p.toFile())) {
                assertEquals(compress ? ZipEntry.DEFLATED : ZipEntry.STORED, z.getEntry("latents.npy").getMethod());
            }
        }
        Path u = tmp.resolve("unnamed.npz");
        List<TensorData> list = List.of(TensorData.ofFloats(new long[]{1}, new float[]{1}), TensorData.ofLongs(new long[]{1}, new long[]{2}));
        Npz.write(u, list, false);
        Map<String, TensorData> back = Npz.read(u);
        assertEquals(List.of("arr_0", "arr_1"), new ArrayList<>(back.keySet()));
        assertEquals(list, new ArrayList<>(back.values()));
        // Fixed entry times: the same arrays give the same bytes.
        Path u2 = tmp.resolve("unnamed2.npz");
        Npz.write(u2, list, false);
        assertArrayEquals(Files.readAllBytes(u), Files.readAllBytes(u2));
    }

    private Path zipWith(String name, String entry, byte[] content) throws IOException {
        Path p = tmp.resolve(name);
        try (OutputStream out = Files.newOutputStream(p); ZipOutputStream z = new ZipOutputStream(out)) {
            z.putNextEntry(new ZipEntry(entry));
            z.write(content);
            z.closeEntry();
        }
        return p;
    }

    private static void assertDefect(Path file, String defect) {
        TensorFileException e = assertThrows(TensorFileException.class, () -> Npz.read(file));
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(defect), "names the defect '" + defect + "': " + e.getMessage());
    }

    @Test
    void rejectsMalformedArchives() throws IOException {
        Path notZip = tmp.resolve("plain.npz");
        Files.writeString(notZip, "not a zip at all");
        assertDefect(notZip, "is not a valid zip archive");
        assertDefect(zipWith("txt.npz", "readme.txt", "hi".getBytes(StandardCharsets.US_ASCII)), "entry 'readme.txt' is not a .npy array");

        // An entry whose header claims far more data than the entry holds.
        byte[] good = Base64.getDecoder().decode(NpyTest.F4);
        String lie = new String(good, 10, 118, StandardCharsets.ISO_8859_1)
                .replace("(2, 3), }    ", "(99999, 3), }");
        byte[] bad = good.clone();
        System.arraycopy(lie.getBytes(StandardCharsets.ISO_8859_1), 0, bad, 10, 118);
        assertDefect(zipWith("lie.npz", "x.npy", bad), "entry 'x.npy': data is 24 bytes but <f4 shape [99999, 3] needs 1199988");
    }
}
