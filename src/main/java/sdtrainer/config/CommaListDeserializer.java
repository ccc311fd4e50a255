package sdtrainer.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a config value that the command line spells "A,B" also from a number ({@code 512}) or a
 * list ({@code [512, 768]}), keeping the number's text as written so "5e-6" stays "5e-6".
 */
final class CommaListDeserializer extends StdDeserializer<String> {

    CommaListDeserializer() {
        super(String.class);
    }

    @Override
    public String deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        if (p.currentToken() == JsonToken.START_ARRAY) {
            List<String> items = new ArrayList<>();
            for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                if (!t.isScalarValue() || t == JsonToken.VALUE_NULL) {
                    return (String) ctxt.handleUnexpectedToken(String.class, p);
                }
                items.add(p.getText());
            }
            return String.join(",", items);
        }
        if (p.currentToken().isScalarValue()) {
            return p.getText();
        }
        return (String) ctxt.handleUnexpectedToken(String.class, p);
    }
}
