package sdtrainer.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import org.opencv.core.Core;

/**
 * Loads OpenCV's natives once per JVM. {@code nu.pattern.OpenCV.loadLocally()} unpacks the 65 MB library into
 * a new temporary directory on every start (about a second); here it is unpacked once into
 * {@code ~/.cache/sd-trainer/} and loaded from there, falling back to {@code loadLocally} when that fails.
 */
public final class OpenCvNatives {
    private OpenCvNatives() {}

    private static final class Holder {
        static {
            if (!loadCached()) {
                nu.pattern.OpenCV.loadLocally();
            }
        }

        static void touch() {}
    }

    /** Makes sure the natives are loaded; cheap after the first call. */
    public static void load() {
        Holder.touch();
    }

    private static boolean loadCached() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return false;
        }
        String name = System.mapLibraryName(Core.NATIVE_LIBRARY_NAME);
        String resource = "/nu/pattern/opencv/linux/x86_64/" + name;
        try (InputStream in = OpenCvNatives.class.getResourceAsStream(resource)) {
            if (in == null) {
                return false;
            }
            Path dir = Path.of(System.getProperty("user.home"), ".cache", "sd-trainer");
            long size = OpenCvNatives.class.getResource(resource).openConnection().getContentLengthLong();
            Path library = dir.resolve(size + "-" + name); // the size tells versions apart
            if (!Files.isRegularFile(library) || Files.size(library) != size) {
                Files.createDirectories(dir);
                Path temp = Files.createTempFile(dir, name, ".part");
                try {
                    Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(temp, library, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } finally {
                    Files.deleteIfExists(temp);
                }
            }
            System.load(library.toAbsolutePath().toString());
            return true;
        } catch (IOException | UnsatisfiedLinkError | SecurityException e) {
            return false; // e.g. a read-only home: unpack to a temporary directory instead
        }
    }
}
