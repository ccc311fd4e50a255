package sdtrainer.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.*;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * NumPy {@code .npz} archives: a zip of {@code <name>.npy} entries, stored or deflated.
 * Unnamed arrays are named {@code arr_0, arr_1, …} as {@code numpy.savez} names positional arguments.
 */
public final class Npz {
    private Npz() {}

    /** Fixed entry time so the same arrays always give the same bytes. */
    private static final long ENTRY_TIME = new GregorianCalendar(1980, Calendar.JANUARY, 1).getTimeInMillis();

    /** All arrays in archive order, keyed by entry name without {@code .npy}. */
    public static Map<String, TensorData> read(Path file) throws IOException {
        Map<String, TensorData> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                if (e.isDirectory()) continue;
                String entry = e.getName();
                if (!entry.endsWith(".npy")) throw new TensorFileException(file, "entry '" + entry + "' is not a .npy array");
                String name = entry.substring(0, entry.length() - 4);
                if (out.containsKey(name)) throw new TensorFileException(file, "duplicate entry '" + entry + "'");
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(name, Npy.read(in, e.getSize(), file, entry));
                } catch (ZipException ze) {
                    throw new TensorFileException(file, "entry '" + entry + "' is corrupt: " + ze.getMessage());
                }
            }
        } catch (ZipException e) {
            throw new TensorFileException(file, "is not a valid zip archive: " + e.getMessage());
        }
        return out;
    }

    /** Writes named arrays atomically; {@code compress} deflates like {@code numpy.savez_compressed}. */
    public static void write(Path file, Map<String, TensorData> arrays, boolean compress) throws IOException {
        for (String name : arrays.keySet()) {
            if (name.isEmpty()) throw new IllegalArgumentException("array names must not be empty");
        }
        AtomicFiles.write(file, raw -> {
            ZipOutputStream zip = new ZipOutputStream(raw);
            for (Map.Entry<String, TensorData> a : arrays.entrySet()) {
                byte[] npy = Npy.toBytes(a.getValue());
                ZipEntry e = new ZipEntry(a.getKey() + ".npy");
                e.setTime(ENTRY_TIME);
                if (compress) {
                    e.setMethod(ZipEntry.DEFLATED);
                } else {
                    // Stored entries need size and CRC before their data.
                    CRC32 crc = new CRC32();
                    crc.update(npy);
                    e.setMethod(ZipEntry.STORED);
                    e.setSize(npy.length);
                    e.setCompressedSize(npy.length);
                    e.setCrc(crc.getValue());
                }
                zip.putNextEntry(e);
                zip.write(npy);
                zip.closeEntry();
            }
            zip.close(); // ends the deflater; the atomic stream only flushes on close
        });
    }

    /** Writes unnamed arrays as {@code arr_0, arr_1, …}. */
    public static void write(Path file, List<TensorData> arrays, boolean compress) throws IOException {
        Map<String, TensorData> named = new LinkedHashMap<>();
        for (int i = 0; i < arrays.size(); i++) named.put("arr_" + i, arrays.get(i));
        write(file, named, compress);
    }
}
