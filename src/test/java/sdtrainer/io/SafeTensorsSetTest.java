package sdtrainer.io;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SafeTensorsSetTest {

    @TempDir
    Path dir;

    private static Map<String, TensorData> model() {
        Map<String, TensorData> m = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) {
            float[] v = new float[16];
            for (int j = 0; j < v.length; j++) v[j] = i * 100 + j;
            m.put("block." + i + ".weight", TensorData.ofFloats(new long[]{4, 4}, v));
        }
        m.put("position_ids", TensorData.ofLongs(new long[]{1, 3}, new long[]{0, 1, 2}));
        return m;
    }

    private static List<String> listing(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void shardedModelRoundTrips() throws IOException {
        Map<String, TensorData> in = model();
        Path index = SafeTensorsWriter.writeModel(dir, "diffusion_pytorch_model", in, Map.of("format", "pt"), null, 150);
        assertEquals(dir.resolve("diffusion_pytorch_model.safetensors.index.json"), index);
        List<String> files = listing(dir);
        assertTrue(files.contains("diffusion_pytorch_model-00001-of-00003.safetensors"), files.toString());
        assertEquals(4, files.size(), "24+64 | 64+64 | 64+64 bytes = 3 shards + index: " + files);

        JsonNode json = new ObjectMapper().readTree(index.toFile());
        assertEquals(5 * 64 + 24, json.get("metadata").get("total_size").asLong());
        assertEquals(in.size(), json.get("weight_map").size());

        try (SafeTensorsSet set = SafeTensorsSet.openModelWeights(dir, "diffusion_pytorch_model");
             NDManager m = NDManager.newBaseManager()) {
            assertEquals(in.keySet(), set.names());
            assertEquals(3, set.files().size());
            assertEquals("344", set.metadata().get("total_size"));
            for (Map.Entry<String, TensorData> e : in.entrySet()) assertEquals(e.getValue(), set.read(e.getKey()), e.getKey());
            assertArrayEquals(in.get("block.3.weight").toFloats(), set.load("block.3.weight", m).toFloatArray());
            assertArrayEquals(new long[]{0, 1, 2}, set.readLongs("position_ids"));
            assertArrayEquals(new long[]{4, 4}, set.info("block.0.weight").shape());
            assertNull(set.info("nope"));
            assertEquals("pt", set.fileOf("block.0.weight").metadata().get("format"));
        }

        // Rewriting as one file removes the shards and the index.
        Path single = SafeTensorsWriter.writeModel(dir, "diffusion_pytorch_model", in, Map.of("format", "pt"), null, 1L << 30);
        assertEquals(List.of("diffusion_pytorch_model.safetensors"), listing(dir));
        try (SafeTensorsSet set = SafeTensorsSet.open(single)) {
            assertEquals(in.keySet(), set.names());
            assertEquals(Map.of("format", "pt"), set.metadata());
        }
    }

    @Test
    void nameMissingFromItsShardNamesBothFiles() throws IOException {
        SafeTensorsWriter.write(dir.resolve("model-00001-of-00001.safetensors"), model(), Map.of());
        Path index = dir.resolve("model.safetensors.index.json");
        AtomicFiles.writeString(index, "{\"metadata\":{},\"weight_map\":{\"block.0.weight\":\"model-00001-of-00001.safetensors\","
                + "\"ghost\":\"model-00001-of-00001.safetensors\"}}");
        TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensorsSet.open(index));
        assertTrue(e.getMessage().startsWith(index.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("'ghost'") && e.getMessage().contains("model-00001-of-00001.safetensors")
                && e.getMessage().contains("has no tensor of that name"), e.getMessage());
    }

    @Test
    void rejectsMissingShardAndEscapingPaths() throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        AtomicFiles.writeString(index, "{\"weight_map\":{\"a\":\"absent.safetensors\"}}");
        TensorFileException missing = assertThrows(TensorFileException.class, () -> SafeTensorsSet.open(index));
        assertTrue(missing.getMessage().contains("absent.safetensors") && missing.getMessage().contains("does not exist"), missing.getMessage());

        AtomicFiles.writeString(index, "{\"weight_map\":{\"a\":\"../elsewhere.safetensors\"}}");
        TensorFileException escape = assertThrows(TensorFileException.class, () -> SafeTensorsSet.open(index));
        assertTrue(escape.getMessage().contains("not a file name in the index's folder"), escape.getMessage());

        AtomicFiles.writeString(index, "{\"metadata\":{}}");
        TensorFileException noMap = assertThrows(TensorFileException.class, () -> SafeTensorsSet.open(index));
        assertTrue(noMap.getMessage().contains("has no non-empty weight_map"), noMap.getMessage());

        AtomicFiles.writeString(index, "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}");
        TensorFileException dup = assertThrows(TensorFileException.class, () -> SafeTensorsSet.open(index));
        assertTrue(dup.getMessage().contains("Duplicate field 'a'"), dup.getMessage());
    }

    @Test
    void refusesPickleCheckpoints() throws IOException {
        Files.write(dir.resolve("pytorch_model.bin"), new byte[]{0x50, 0x4b});
        Files.write(dir.resolve("old.ckpt"), new byte[]{1});
        TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensorsSet.openModelWeights(dir, "model"));
        assertTrue(e.getMessage().contains("[old.ckpt, pytorch_model.bin]"), e.getMessage());
        assertTrue(e.getMessage().contains("can execute arbitrary code") && e.getMessage().contains("model.safetensors"), e.getMessage());
    }

    @Test
    void reportsEmptyComponentFolder() {
        TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensorsSet.openModelWeights(dir, "model"));
        assertTrue(e.getMessage().contains("has no model.safetensors or model.safetensors.index.json"), e.getMessage());
        TensorFileException notDir = assertThrows(TensorFileException.class,
                () -> SafeTensorsSet.openModelWeights(dir.resolve("unet"), "diffusion_pytorch_model"));
        assertTrue(notDir.getMessage().contains("is not a directory"), notDir.getMessage());
    }

    @Test
    void opensTheTinyTextEncoderFolder() throws IOException {
        Path te = Fixtures.path("tiny-sd15", "text_encoder");
        assumeTrue(Files.isDirectory(te));
        try (SafeTensorsSet set = SafeTensorsSet.openModelWeights(te, "model")) {
            assertEquals(te.resolve("model.safetensors"), set.source());
            assertArrayEquals(new long[]{49408, 32}, set.info("text_model.embeddings.token_embedding.weight").shape());
            assertFalse(set.names().contains("text_model.embeddings.position_ids"), "fixture README: not stored");
        }
    }
}
