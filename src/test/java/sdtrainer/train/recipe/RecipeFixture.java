package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One case of ../shared/fixtures/recipes (kohya sd-scripts 48d368fa, diffusers 0.21.4, torch 1.13 CPU float32):
 * its tensors and the params of cases.json. Tests skip when the fixture is absent.
 */
final class RecipeFixture implements AutoCloseable {
    private final SafeTensors tensors;
    private final JsonNode params;

    private RecipeFixture(SafeTensors tensors, JsonNode params) {
        this.tensors = tensors;
        this.params = params;
    }

    static RecipeFixture open(String name) throws IOException {
        Path cases = Fixtures.require("recipes", "cases.json");
        for (JsonNode c : new ObjectMapper().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS.mappedFeature())
                .readTree(cases.toFile()).get("cases")) {
            if (c.get("name").asText().equals(name) && c.get("file") != null) {
                Path file = Fixtures.require("recipes", c.get("file").asText());
                return new RecipeFixture(SafeTensors.open(file), c.get("params"));
            }
        }
        throw new IllegalArgumentException("no case named " + name + " in " + cases);
    }

    NDArray get(String name, NDManager m) throws IOException {
        return tensors.load(name, m);
    }

    float[] floats(String name, NDManager m) throws IOException {
        return get(name, m).toFloatArray();
    }

    JsonNode params() {
        return params;
    }

    @Override
    public void close() throws IOException {
        tensors.close();
    }
}
