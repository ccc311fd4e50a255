package sdtrainer.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputLockTest {
    @TempDir
    Path dir;

    @Test
    void aSecondLockOnTheSameOutputIsRefusedNamingTheOwner() throws IOException {
        Path output = dir.resolve("lora");
        try (OutputLock first = OutputLock.acquire(output)) {
            assertEquals(dir.resolve("lora.lock"), first.file());
            assertEquals(Optional.empty(), first.staleOwner());
            OutputLock.HeldException e = assertThrows(OutputLock.HeldException.class, () -> OutputLock.acquire(output));
            assertTrue(e.getMessage().startsWith(output + ": another run is writing this output (pid "
                    + ProcessHandle.current().pid() + " on "), e.getMessage());
            // another output beside it is free
            OutputLock.acquire(dir.resolve("other")).close();
        }
        assertFalse(Files.exists(dir.resolve("lora.lock")), "released locks leave no file");
        OutputLock.acquire(output).close();
    }

    @Test
    void theLockFileOfAKilledRunIsTakenOverAndReported() throws IOException {
        Files.writeString(dir.resolve("model.lock"), "pid 999999 on elsewhere, started 2026-01-01T00:00:00Z\nx\n");
        try (OutputLock lock = OutputLock.acquire(dir.resolve("model"))) {
            assertEquals(Optional.of("pid 999999 on elsewhere, started 2026-01-01T00:00:00Z"), lock.staleOwner());
            assertTrue(Files.readString(lock.file()).startsWith("pid " + ProcessHandle.current().pid() + " on "));
        }
    }

    @Test
    void leftoversOfInterruptedSavesAreRemovedAndAMovedAsideModelIsRestored() throws IOException {
        Path output = dir.resolve("ft");
        Files.createDirectories(dir.resolve("ft.saving-123/unet"));
        Files.write(dir.resolve("ft.saving-123/unet/w.safetensors"), new byte[2048]);
        Files.createDirectories(dir.resolve("ft.old-77/unet"));
        Files.writeString(dir.resolve("ft.old-77/unet/config.json"), "{}");
        Files.writeString(dir.resolve(".ft.safetensors.555.tmp"), "half");
        Files.createDirectories(dir.resolve("ftx.saving-1"));
        List<String> done = SaveLeftovers.clean(output);
        assertEquals(3, done.size(), done.toString());
        assertTrue(done.get(0).startsWith("restored " + output + " from " + dir.resolve("ft.old-77")), done.toString());
        assertTrue(Files.isRegularFile(output.resolve("unet/config.json")), "the previous model is back");
        assertFalse(Files.exists(dir.resolve("ft.saving-123")));
        assertFalse(Files.exists(dir.resolve(".ft.safetensors.555.tmp")));
        assertTrue(Files.exists(dir.resolve("ftx.saving-1")), "another output's folders stay");
        assertTrue(done.contains("removed " + dir.resolve("ft.saving-123") + " (0.0 MiB) left by an interrupted save"),
                done.toString());
        assertEquals(List.of(), SaveLeftovers.clean(output));
    }
}
