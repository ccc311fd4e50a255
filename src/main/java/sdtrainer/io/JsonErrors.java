package sdtrainer.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;

/** A JSON file's parse error as one line: Jackson's own message spans two, the second a source excerpt. */
public final class JsonErrors {
    private JsonErrors() {}

    /** The problem and where it is ("Unexpected end-of-input ... at line 1, column 20"). */
    public static String describe(IOException e) {
        if (!(e instanceof JsonProcessingException j)) return String.valueOf(e.getMessage());
        String problem = String.valueOf(j.getOriginalMessage()).lines().findFirst().orElse("");
        JsonLocation at = j.getLocation();
        return at == null || at.getLineNr() < 1 ? problem : problem + " at line " + at.getLineNr() + ", column " + at.getColumnNr();
    }
}
