package sdtrainer.log;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class MetricsLogTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Map<String, Object> row(long step, double loss) {
        Map<String, Object> lr = new LinkedHashMap<>();
        lr.put("unet", 1e-4);
        lr.put("text_encoder", 5e-5);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", step);
        row.put("epoch", 1);
        row.put("loss", loss);
        row.put("loss_ema", 0.25);
        row.put("lr", lr);
        row.put("samples_per_second", 3.5);
        return row;
    }

    @Test
    void writesOneObjectPerLineVisibleBeforeClose(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("out").resolve(MetricsLog.FILE_NAME);
        try (MetricsLog log = new MetricsLog(file)) {
            log.append(row(1, 0.5));
            log.append(row(2, 0.125));
            List<String> lines = Files.readAllLines(file);
            assertEquals(2, lines.size());
            assertEquals("{\"step\":1,\"epoch\":1,\"loss\":0.5,\"loss_ema\":0.25,"
                    + "\"lr\":{\"unet\":1.0E-4,\"text_encoder\":5.0E-5},\"samples_per_second\":3.5}", lines.get(0));
            JsonNode second = JSON.readTree(lines.get(1));
            assertEquals(2, second.get("step").asLong());
            assertEquals(0.125, second.get("loss").asDouble());
            assertEquals(5e-5, second.get("lr").get("text_encoder").asDouble());
        }
    }

    @Test
    void resumedRunAppends(@TempDir Path dir) throws IOException {
        Path file = dir.resolve(MetricsLog.FILE_NAME);
        try (MetricsLog log = new MetricsLog(file)) {
            log.append(row(1, 0.5));
        }
        try (MetricsLog log = new MetricsLog(file)) {
            log.append(row(2, 0.25));
        }
        List<Long> steps = new ArrayList<>();
        for (String line : Files.readAllLines(file)) steps.add(JSON.readTree(line).get("step").asLong());
        assertEquals(List.of(1L, 2L), steps);
    }

    @Test
    void nonFiniteLossStaysValidJson(@TempDir Path dir) throws IOException {
        Path file = dir.resolve(MetricsLog.FILE_NAME);
        try (MetricsLog log = new MetricsLog(file)) {
            log.append(row(3, Double.NaN));
        }
        JsonNode node = JSON.readTree(Files.readAllLines(file).get(0));
        assertFalse(node.get("loss").isNumber());
        assertEquals("NaN", node.get("loss").asText());
    }
}
