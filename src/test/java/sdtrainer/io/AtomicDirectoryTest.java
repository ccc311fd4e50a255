package sdtrainer.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** A directory replaced as a whole: after a crash at any point, the old or the new complete copy is found. */
class AtomicDirectoryTest {

    private static void fill(Path dir, String content) throws IOException {
        Files.writeString(dir.resolve("a.txt"), content);
        Files.writeString(dir.resolve("b.txt"), content);
    }

    @Test
    void theNewDirectoryFollowsTheUmaskAsAPlainMkdirDoes(@TempDir Path tmp) throws IOException {
        var plain = Files.getPosixFilePermissions(Files.createDirectory(tmp.resolve("plain")));
        Path target = tmp.resolve("state");
        AtomicDirectory.replace(target, d -> fill(d, "one"));
        assertEquals(plain, Files.getPosixFilePermissions(target));
    }

    @Test
    void replacesTheWholeDirectory(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("state");
        AtomicDirectory.replace(target, d -> fill(d, "one"));
        AtomicDirectory.replace(target, d -> fill(d, "two"));
        assertEquals("two", Files.readString(target.resolve("a.txt")));
        try (var left = Files.list(tmp)) {
            assertEquals(1, left.count(), "nothing but the directory is left");
        }
    }

    @Test
    void aFailedFillLeavesTheOldCopyAndNoTemporary(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("state");
        AtomicDirectory.replace(target, d -> fill(d, "one"));
        assertThrows(IOException.class, () -> AtomicDirectory.replace(target, d -> {
            Files.writeString(d.resolve("a.txt"), "half");
            throw new IOException("disk full");
        }));
        assertEquals("one", Files.readString(target.resolve("b.txt")));
        try (var left = Files.list(tmp)) {
            assertEquals(1, left.count());
        }
    }

    @Test
    void aKillAfterTheOldCopyWasMovedAsideStillFindsIt(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("state");
        AtomicDirectory.replace(target, d -> fill(d, "one"));
        // as a kill between the two renames leaves it: the old copy aside, the new one still temporary
        Files.move(target, tmp.resolve("state.old"));
        Path half = Files.createDirectory(tmp.resolve("state.tmp-123"));
        Files.writeString(half.resolve("a.txt"), "two");
        assertEquals(tmp.resolve("state.old"), AtomicDirectory.current(target));
        assertEquals("one", Files.readString(AtomicDirectory.current(target).resolve("b.txt")));
        // the next replace takes the old copy back first and removes the stale temporary
        AtomicDirectory.replace(target, d -> fill(d, "three"));
        assertEquals("three", Files.readString(target.resolve("a.txt")));
        assertFalse(Files.exists(half));
        assertFalse(Files.exists(tmp.resolve("state.old")));
        assertNull(AtomicDirectory.current(tmp.resolve("none")));
    }
}
