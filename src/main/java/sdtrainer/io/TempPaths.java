package sdtrainer.io;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;

/**
 * Temporary files and directories beside their target that get the permissions the umask gives any new file or
 * directory ({@code Files.createTemp*} makes them owner-only, and a model renamed into place from one would stay
 * unreadable to a web UI or container running as another user).
 */
public final class TempPaths {
    private static final SecureRandom RANDOM = new SecureRandom();

    private TempPaths() {}

    public static Path file(Path dir, String prefix, String suffix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return Files.createFile(dir.resolve(name(prefix, suffix)));
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    public static Path directory(Path parent, String prefix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return Files.createDirectory(parent.resolve(name(prefix, "")));
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    private static String name(String prefix, String suffix) {
        return prefix + Long.toUnsignedString(RANDOM.nextLong()) + suffix;
    }
}
