package sdtrainer.diffusion;

import sdtrainer.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SchedulerConfigTest {

    static final Path FIXTURE = Fixtures.TINY_SD15;

    @Test
    void readsTheSd15ConfigAndFillsDiffusersDefaults() throws IOException {
        Path file = FIXTURE.resolve("scheduler").resolve("scheduler_config.json");
        assumeTrue(Files.isRegularFile(file), "fixture absent");
        SchedulerConfig c = SchedulerConfig.read(file);
        assertEquals(1000, c.numTrainTimesteps());
        assertEquals(0.00085, c.betaStart());
        assertEquals(0.012, c.betaEnd());
        assertEquals("scaled_linear", c.betaSchedule());
        assertNull(c.trainedBetas());
        assertEquals("epsilon", c.predictionType());
        assertEquals(1, c.stepsOffset());
        assertFalse(c.setAlphaToOne());
        assertFalse(c.clipSample());
        // absent from the file: diffusers' defaults
        assertNull(c.timestepSpacing());
        assertEquals("leading", c.timestepSpacing("leading"));
        assertEquals("linspace", c.timestepSpacing("linspace"));
        assertEquals(1.0, c.clipSampleRange());
        assertFalse(c.thresholding());
        assertFalse(c.rescaleBetasZeroSnr());
    }

    @Test
    void emptyObjectMeansDefaultsAndUnknownKeysAreIgnored(@TempDir Path dir) throws IOException {
        Path file = write(dir, "{\"_class_name\": \"EulerDiscreteScheduler\", \"interpolation_type\": \"linear\","
                + " \"timestep_spacing\": null}");
        assertEquals(SchedulerConfig.defaults(), SchedulerConfig.read(file));
        SchedulerConfig d = SchedulerConfig.defaults();
        assertEquals(1000, d.numTrainTimesteps());
        assertEquals(0.0001, d.betaStart());
        assertEquals(0.02, d.betaEnd());
        assertEquals("linear", d.betaSchedule());
        assertEquals(0, d.stepsOffset());
        assertTrue(d.setAlphaToOne());
        assertTrue(d.clipSample());
    }

    @Test
    void readsTrainedBetasAndZeroSnrFlag(@TempDir Path dir) throws IOException {
        Path file = write(dir, "{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2, 0.3],"
                + " \"rescale_betas_zero_snr\": true, \"prediction_type\": \"v_prediction\"}");
        SchedulerConfig c = SchedulerConfig.read(file);
        assertEquals(List.of(0.1, 0.2, 0.3), c.trainedBetas());
        assertTrue(c.rescaleBetasZeroSnr());
        assertEquals("v_prediction", c.predictionType());
    }

    @Test
    void badValuesNameTheFileAndTheKey(@TempDir Path dir) throws IOException {
        Path wrongType = write(dir, "{\"beta_start\": \"small\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.read(wrongType));
        assertTrue(e.getMessage().contains(wrongType.toString()) && e.getMessage().contains("beta_start"), e.getMessage());

        Path unknownSchedule = write(dir, "{\"beta_schedule\": \"sigmoid\"}");
        e = assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.read(unknownSchedule));
        assertTrue(e.getMessage().contains(unknownSchedule.toString()) && e.getMessage().contains("sigmoid"), e.getMessage());

        Path wrongLength = write(dir, "{\"num_train_timesteps\": 4, \"trained_betas\": [0.1, 0.2]}");
        e = assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.read(wrongLength));
        assertTrue(e.getMessage().contains("trained_betas"), e.getMessage());

        Path notJson = write(dir, "{\"beta_start\": ");
        IOException io = assertThrows(IOException.class, () -> SchedulerConfig.read(notJson));
        assertTrue(io.getMessage().contains(notJson.toString()), io.getMessage());
    }

    private static Path write(Path dir, String json) throws IOException {
        Path f = Files.createTempFile(dir, "scheduler_config", ".json");
        Files.writeString(f, json);
        return f;
    }
}
